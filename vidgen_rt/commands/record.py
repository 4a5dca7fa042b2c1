"""Record episodes of a built-in world into an episode store.

Each episode plays the world generated from seed SEED+e with the chosen policy and stores its
frames (uint8 RGB) and actions; --guides also stores depth and wall-id guide maps.

examples:
  vidgen record maze --policy explore,explore,random --episodes 240 --frames 500 --size 64 -o data/maze
  vidgen record maze --policy random --episodes 4 --frames 64 --size 32 -o /tmp/tiny --guides
"""

from pathlib import Path

HELP = "record episodes of a built-in world into an episode store"


def configure(parser) -> None:
    parser.add_argument("world", help="built-in world name (maze)")
    parser.add_argument("-o", "--out", required=True, type=Path, help="episode store directory to create")
    parser.add_argument("--policy", default="explore", help="policy: explore (wall follower) or random; a comma-separated list alternates "
                             "by episode, e.g. explore,random (default: explore)")
    parser.add_argument("--episodes", type=int, default=10, help="number of episodes (default: 10)")
    parser.add_argument("--frames", type=int, default=256, help="frames per episode (default: 256)")
    parser.add_argument("--size", default="64", help="frame size: N for NxN or WxH (default: 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode's world (default: 0)")
    parser.add_argument("--guides", action="store_true", help="also store depth and wall-id guide maps")
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
    from vidgen_rt.data.record import record_world
    height, width = parse_size(args.size)
    store = record_world(args.world, args.out, policy=args.policy, episodes=args.episodes, frames=args.frames,
                         height=height, width=width, seed=args.seed, guides=args.guides,
                         overwrite=args.overwrite)
    print(f"recorded {len(store)} episodes, {store.num_frames} frames of {width}x{height} into {args.out}")
    return 0
