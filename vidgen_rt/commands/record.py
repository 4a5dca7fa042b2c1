"""Record episodes of a built-in world or a Gymnasium environment into an episode store.

A built-in world (maze) plays the world generated from seed SEED+e for episode e with the chosen
policy and stores its frames (uint8 RGB) and actions; --guides also stores depth and wall-id guide
maps. A SOURCE of the form gym:ENV_ID records a Gymnasium environment instead (Atari through ale-py,
MiniGrid, classic control, or gym:crafter): episode e starts from reset(seed=SEED+e) and ends early
when the game does; actions are named by the environment; --flow-guide stores optical flow as the
guide. The last --held-out episodes (default: a tenth, at least one of two or more) are held out:
never trained on, measured by `vidgen eval` of a model without a built-in world. Gym sources need the envs extra (pip install -e '.[envs]'); see docs/recording.md.

examples:
  vidgen record maze --policy explore,explore,random --episodes 240 --frames 500 --size 64 -o data/maze
  vidgen record maze --policy random --episodes 4 --frames 64 --size 32 -o /tmp/tiny --guides
  vidgen record gym:ALE/Pong-v5 --policy sticky --episodes 50 --frames 500 --size 64 -o data/pong
  vidgen record gym:MiniGrid-Empty-8x8-v0 --policy explore --episodes 20 --frames 100 -o data/grid
  vidgen record gym:CartPole-v1 --policy random --episodes 10 --frames 200 --flow-guide -o data/cartpole
"""

from pathlib import Path

HELP = "record episodes of a built-in world or a Gymnasium environment into an episode store"


def configure(parser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="built-in world (maze, maze360, with options maze:level=7,cells=6), or gym:ENV_ID "
                             "for a Gymnasium environment (e.g. gym:ALE/Breakout-v5, gym:CartPole-v1, gym:crafter)")
    parser.add_argument("-o", "--out", required=True, type=Path, help="episode store directory to create")
    parser.add_argument("--policy",
                        help="world policy: explore (wall follower) or random (default: explore); "
                             "gym policy: random, sticky (repeat the last action with p=0.75) or explore "
                             "(p=0.9) (default: sticky); a comma-separated list alternates by episode, "
                             "e.g. explore,random")
    parser.add_argument("--episodes", type=int, default=10, help="number of episodes (default: 10)")
    parser.add_argument("--frames", type=int, default=256, help="frames per episode (default: 256)")
    parser.add_argument("--size", default="64", help="frame size: N for NxN or WxH (default: 64)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the first episode's world or environment reset (default: 0)")
    parser.add_argument("--level", type=int,
                        help="built-in worlds: play every episode in the one maze of this seed, a fixed "
                             "level the model learns by heart; --seed then only picks start poses "
                             "(default: a new maze per episode)")
    parser.add_argument("--cells", type=int,
                        help="built-in worlds: rooms per maze side (default: 12)")
    parser.add_argument("--guides", action="store_true",
                        help="also store depth and wall-id guide maps (worlds only)")
    parser.add_argument("--flow-guide", action="store_true",
                        help="store optical flow (flow_x, flow_y in [-1, 1]) as the guide (gym sources only)")
    parser.add_argument("--held-out", type=int, metavar="N",
                        help="hold out the last N episodes for evaluation (default: a tenth, at least 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing store")


def parse_size(text: str) -> tuple[int, int]:
    """'64' -> (64, 64); '128x64' (width x height) -> (64, 128) as (height, width)."""
    from vidgen_rt.errors import ConfigError
    try:
        if "x" in text.lower():
            width, height = (int(v) for v in text.lower().split("x"))
        else:
            width = height = int(text)
    except ValueError:
        raise ConfigError(f"--size {text!r}: expected N or WxH, e.g. 64 or 128x64") from None
    return height, width


def run(args) -> int:
    from vidgen_rt.preflight import output_dir

    output_dir(args.out, "-o")
    height, width = parse_size(args.size)
    if args.source.startswith("gym:"):
        store = _record_gym(args, height, width)
    else:
        store = _record_world(args, height, width)
    print(f"recorded {len(store)} episodes, {store.num_frames} frames of {width}x{height} into {args.out}")
    return 0


def _record_world(args, height: int, width: int):
    from vidgen_rt.data.record import record_world
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.worlds import parse_world, world_spec
    if args.flow_guide:
        raise ConfigError("--flow-guide works with gym:ENV_ID sources; built-in worlds store "
                          "depth and wall-id maps with --guides")
    name, options = parse_world(args.source)
    for key in ("level", "cells"):   # flags override the same options given in SOURCE
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    return record_world(world_spec(name, **options), args.out, policy=args.policy or "explore", episodes=args.episodes,
                        frames=args.frames, height=height, width=width, seed=args.seed,
                        guides=args.guides, overwrite=args.overwrite, held_out=_held_out(args))


def _record_gym(args, height: int, width: int):
    from vidgen_rt.data.gym_source import PREFIX, record_gym
    from vidgen_rt.errors import ConfigError
    if args.guides:
        raise ConfigError("--guides (depth, wall id) needs a built-in world; "
                          "use --flow-guide for gym:ENV_ID sources")
    if args.level is not None or args.cells is not None:
        raise ConfigError("--level and --cells shape the built-in maze worlds, not gym:ENV_ID sources")
    env_id = args.source[len(PREFIX):]
    if not env_id:
        raise ConfigError("SOURCE 'gym:' names no environment; expected e.g. gym:ALE/Pong-v5")
    return record_gym(env_id, args.out, policy=args.policy or "sticky", episodes=args.episodes,
                      frames=args.frames, height=height, width=width, seed=args.seed,
                      flow=args.flow_guide, overwrite=args.overwrite, held_out=_held_out(args))


def _held_out(args):
    from vidgen_rt.data.store import HELD_OUT_AUTO

    return HELD_OUT_AUTO if args.held_out is None else args.held_out
