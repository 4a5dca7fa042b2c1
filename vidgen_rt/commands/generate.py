"""Generate a video with a trained world model (PyTorch, cached step).

CKPT is a shipped world name (maze), a run directory or a checkpoint directory. The first
`window` frames are real frames of the world (seed --seed), or of --context CLIP (a video file, a
frame folder or STORE:EPISODE, resized as the model's store was at ingest); a model trained on a
store without a built-in world starts from the store's first held-out episode when no --context is
given. After them every frame is generated; with --compare beside the clip's real continuation.
Actions come from --actions (a file, or inline "forward*20,turn_left*9", names or ids) or from
--policy playing the real world alongside; with --compare the video shows real | generated.
A guide-conditioned world paints the real world's depth and wall-id maps as the policy plays it;
--guides-from-seed takes them from another seed's maze than the context.

A world with a flow head samples every frame from seeded noise: --noise-seed picks it, --temperature
scales it (0: the head's deterministic output), --sampling-steps sets its Euler steps K; an mse head
ignores the three.

The output path and the upscale factor (1..16) are checked before the model loads, the memory the
rollout will hold (refused above half of the memory available now) before it starts.

examples:
  vidgen generate maze --policy explore --frames 300 -o demo/maze.mp4
  vidgen generate maze --actions "forward*30,turn_left*9,forward*30" --frames 69 -o walk.gif --upscale 4
  vidgen generate runs/maze-small --policy random --frames 200 --compare -o cmp.mp4
  vidgen generate maze --frames 300 --noise-seed 7 --temperature 0.8 -o sampled.mp4
  vidgen generate runs/maze-guided --frames 200 --seed 2000000 --compare -o guided.mp4
  vidgen generate runs/mine --context holiday.mp4 --frames 64 --compare -o continued.mp4
  vidgen generate runs/cartpole --context data/cartpole:20 --actions "left*8,right*8" --frames 64 -o steer.mp4
"""

from pathlib import Path

from vidgen_rt.worlds import HELD_OUT_SEED

HELP = "generate a video with a trained world model"


def configure(parser) -> None:
    parser.add_argument("checkpoint", metavar="CKPT", help="shipped world name, run directory or checkpoint directory")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--actions", metavar="SCRIPT", help="action script file or inline list (repeats when shorter)")
    source.add_argument("--policy", default="explore", help="policy driving the real world: explore or random (default)")
    parser.add_argument("--context", metavar="CLIP",
                        help="continue this clip: a video file, a frame folder or STORE:EPISODE (default: the "
                             "world's seed, or the first held-out episode of the model's store)")
    parser.add_argument("--frames", type=int, default=300, help="frames to generate (default: 300)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output video: .mp4 or .gif")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED,
                        help=f"world seed for the context (default: held-out {HELD_OUT_SEED})")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the written video (default: 30)")
    parser.add_argument("--upscale", type=int, default=4,
                        help="integer nearest-neighbour upscale for viewing, 1..16 (default: 4)")
    parser.add_argument("--compare", action="store_true",
                        help="show the real world (policy mode) or the clip's real continuation beside the generated one")
    parser.add_argument("--guides-from-seed", type=int, default=None, metavar="SEED",
                        help="guided worlds: guide maps of the generated frames from the maze of SEED (default: --seed)")
    parser.add_argument("--noise-seed", type=int, default=0,
                        help="a flow head's noise seed, 0..2^64-1 (default 0; the same seed gives the same frames)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="a flow head's noise scale, 0..4 (default 1; 0: its deterministic output)")
    parser.add_argument("--sampling-steps", type=int, default=None, metavar="K",
                        help="a flow head's Euler steps per frame, 1..8 (default: the model's)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")


def run(args) -> int:
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.generate import (context_clip, generate, generate_from_clip, parse_action_script, side_by_side,
                                    torch_threads)
    from vidgen_rt.media import write_video
    from vidgen_rt.preflight import require_memory
    from vidgen_rt.train.checkpoint import load_checkpoint

    _check_video_options(args)
    torch_threads(args.threads)
    model, config, state = load_checkpoint(args.checkpoint)
    from_clip = args.context is not None or not state.get("world")
    if args.compare and args.actions is not None and not from_clip:
        raise ConfigError("--compare needs --policy: a script has no real frames to compare with")
    m = config.model
    require_memory(_rollout_bytes(config, args.frames, args.compare, args.upscale),
                   f"--frames {args.frames} of {m.frame_width}x{m.frame_height}")
    sampling = {"seed": args.noise_seed, "temperature": args.temperature, "sampling_steps": args.sampling_steps}
    names = state.get("action_names") or [str(i) for i in range(config.model.n_actions)]
    actions = parse_action_script(args.actions, names) if args.actions is not None else None
    if from_clip:
        clip = context_clip(config, state, args.context, args.frames)
        result = generate_from_clip(model, config, state, clip, args.frames, actions=actions, sampling=sampling)
        if args.compare and result["truth"] is None:
            print(f"--compare: {clip['name']} ends before the {args.frames} generated frames do; "
                  f"writing the generated frames alone")
    else:
        result = generate(model, config, state, args.frames, actions=actions, policy=args.policy, seed=args.seed,
                          guide_seed=args.guides_from_seed, sampling=sampling)
    video = side_by_side(result["frames"], result["truth"] if args.compare else None)
    write_video(video, args.out, fps=args.fps, upscale=args.upscale)
    print(f"generated {args.frames} frames at {result['fps']:.1f} frames/s "
          f"(PyTorch cached step + decode, {result['seconds']:.1f} s) -> {args.out}")
    return 0


def _check_video_options(args) -> None:
    """What write_video would refuse only after the whole rollout: refuse it first."""
    import math

    from vidgen_rt.errors import ConfigError
    from vidgen_rt.media import MAX_UPSCALE, SUPPORTED_EXTENSIONS
    from vidgen_rt.preflight import output_file

    if args.frames < 1:
        raise ConfigError(f"--frames {args.frames}: expected 1 or more")
    output_file(args.out, "-o")
    if args.out.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise ConfigError(f"-o {args.out}: expected a {' or '.join(SUPPORTED_EXTENSIONS)} file")
    if not 1 <= args.upscale <= MAX_UPSCALE:
        raise ConfigError(f"--upscale {args.upscale}: expected 1..{MAX_UPSCALE} (nearest-neighbour enlargement "
                          f"for viewing; {MAX_UPSCALE} makes a 256-pixel frame 4096 pixels)")
    if not (math.isfinite(args.fps) and args.fps > 0):
        raise ConfigError(f"--fps {args.fps}: expected a positive number")


def _rollout_bytes(config, frames: int, compare: bool, upscale: int) -> int:
    """Memory a rollout of `frames` holds at its peak: the real episode played beside it, the
    generated latents (a list, then stacked), the decoded frames (chunks, then concatenated), the
    comparison copy, the guide maps (float32, played and as a tensor) and one upscaled frame."""
    m = config.model
    frame = m.frame_height * m.frame_width * 3
    latent = m.latent_channels * m.latent_height * m.latent_width * 4
    guide = m.guide_channels * m.frame_height * m.frame_width * 4 * 2
    per_frame = frame * (1 + 2 + (2 if compare else 0)) + 2 * latent + guide
    return frames * per_frame + 2 * frame * upscale ** 2
