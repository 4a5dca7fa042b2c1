"""Turn ordinary videos or folders of frames into an episode store to train on.

SOURCE is a video file (mp4, webm, mkv, avi, gif, ... anything FFmpeg decodes) or a folder that
holds videos and/or clip folders: one sub-folder of images (png, jpg, ...) per clip, frames in
natural name order (frame2 before frame10), all of one size: a clip folder whose images differ in
size is refused unless --resize-mixed. Frames are resized (area averaging when shrinking),
optionally center-cropped and denoised. Without --actions the store has no actions, so a model
trained on it is an unconditional world (one action, `none`); with --actions LOG (one per video, a
CSV or JSON-lines input log, docs/own-video.md) it is action-conditioned. The last --held-out
episodes (default: a tenth, at least one of two or more) are held out: never trained on, measured by
`vidgen eval`. A corrupt or truncated video stops the ingest with an error and writes
nothing, unless --skip-bad is given. --flow-guide stores each episode's optical flow (flow_x,
flow_y in [-1, 1]; see docs/recording.md) as a guide, so a model can be steered by motion.

examples:
  vidgen ingest gameplay.mp4 -o data/gameplay
  vidgen ingest recordings/ -o data/rec --size-wh 128x64 --clip-frames 256
  vidgen ingest frames_root/ -o data/frames --height 48 --width 64 --crop --denoise 5
  vidgen ingest a.mp4 b.webm -o data/ab --resize-mode nearest --overwrite --skip-bad
  vidgen ingest gameplay.mp4 -o data/gameplay_flow --clip-frames 128 --flow-guide
  vidgen ingest gameplay.mp4 --actions gameplay.csv -o data/play --clip-frames 128 --held-out 2
  vidgen ingest run.mp4 --actions keys.jsonl --action-names noop,left,right --bindings a=left,d=right -o data/k
"""

import argparse

HELP = "turn video files or frame folders into an episode store"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="video file, or folder of videos and/or clip folders")
    parser.add_argument("-o", "--out", required=True, metavar="DIR",
                        help="episode store to create")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--size", type=int, default=64, metavar="N",
                      help="square N x N frames (default: %(default)s)")
    size.add_argument("--size-wh", type=_width_x_height, metavar="WxH",
                      help="frame width and height, e.g. 128x64")
    parser.add_argument("--height", type=int, help="frame height, overriding --size/--size-wh")
    parser.add_argument("--width", type=int, help="frame width, overriding --size/--size-wh")
    parser.add_argument("--crop", action="store_true",
                        help="center-crop to the target aspect instead of stretching")
    parser.add_argument("--resize-mode", default="area", metavar="MODE",
                        help="area (default; averages when shrinking), linear, or nearest "
                             "(keeps pixel-art edges)")
    parser.add_argument("--clip-frames", type=int, metavar="N",
                        help="cut sources into episodes of N frames (default: one per source)")
    parser.add_argument("--denoise", type=float, default=0.0, metavar="S",
                        help="non-local-means strength, 3 light to 10 strong (default: off)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace DIR if it is an existing episode store")
    parser.add_argument("--skip-bad", action="store_true",
                        help="warn about unreadable or damaged sources instead of failing; "
                             "a damaged video keeps the frames decoded before the damage")
    parser.add_argument("--resize-mixed", action="store_true",
                        help="accept a clip folder whose images differ in size, resizing each to the "
                             "target (default: refuse it, naming two images that differ)")
    parser.add_argument("--flow-guide", action="store_true",
                        help="store optical flow (flow_x, flow_y in [-1, 1]) as each episode's guide")
    parser.add_argument("--held-out", type=int, metavar="N",
                        help="hold out the last N episodes for evaluation (default: a tenth, at least 1)")
    parser.add_argument("--actions", action="append", metavar="LOG",
                        help="input log of a video (CSV or JSON lines, one row per frame or per timestamp); "
                             "repeat once per source, in order")
    parser.add_argument("--action-names", metavar="A,B,...",
                        help="the action names in id order (default: the log's own, or those it uses)")
    parser.add_argument("--bindings", metavar="KEY=ACTION,...",
                        help="key-binding table for logs that name keys, e.g. a=left,d=right")


def run(args: argparse.Namespace) -> int:
    from vidgen_rt.data.action_log import parse_bindings
    from vidgen_rt.data.ingest import InputLogs, find_sources, ingest
    from vidgen_rt.data.preprocess import Preprocess
    from vidgen_rt.data.store import HELD_OUT_AUTO
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.preflight import output_dir

    output_dir(args.out, "-o")
    if args.actions is None and (args.action_names or args.bindings):
        raise ConfigError("--action-names and --bindings describe input logs: give them with --actions LOG")
    width, height = args.size_wh or (args.size, args.size)
    height = args.height if args.height is not None else height
    width = args.width if args.width is not None else width
    preprocess = Preprocess(height, width, args.crop, args.denoise, args.resize_mode)
    sources = find_sources(args.sources)
    logs = None if args.actions is None else InputLogs.read(
        args.actions, sources, args.action_names.split(",") if args.action_names else None,
        parse_bindings(args.bindings))
    store = ingest(sources, args.out, preprocess, args.clip_frames, args.overwrite, args.skip_bad,
                   args.flow_guide, args.resize_mixed, HELD_OUT_AUTO if args.held_out is None else args.held_out,
                   logs)
    actions = f", actions {store.action_names}" if store.action_names else ""
    print(f"wrote {len(store)} episode(s), {store.num_frames} frames of {width}x{height} "
          f"to {store.path}; held out for evaluation: {len(store.held_out)} episode(s){actions}")
    return 0


def _width_x_height(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 128x64, got {text!r}")
    return int(width), int(height)
