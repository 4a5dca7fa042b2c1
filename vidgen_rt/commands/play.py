"""Play a world in a window: the native runtime generates frames on its own thread while the window
draws the newest one every display refresh (`--backend native` runs it on ONNX Runtime,
`native-openvino` on OpenVINO, `native-openvino-bf16` on OpenVINO computing in bf16; `ort-python`, the
Python reference driver, steps synchronously once per display frame instead). WORLD is a shipped world name, a run or checkpoint
directory (exported once to a cached bundle under ~/.cache/vidgen_rt/bundles/), or a bundle
directory (NAME.vgrt). Needs a display; without one, render a video with `vidgen generate`.

keys: the bundle's bindings (maze: W/S or UP/DOWN move, Q/E or LEFT/RIGHT turn, A/D strafe) and a
gamepad; P or F5 pause, N or F6 single step (paused), BACKSPACE or F7 rewind, R or F8 reset, H or F1
HUD, F2 screenshot, F3 record mp4, F4 post-processing, F9 nearest/linear filter, [ or F10 colder and
] or F11 warmer (a flow head's noise temperature, shown in the HUD with K), Esc quit. A key the world
binds to an action stays an action key; the F-key still works.

A world with a flow head samples every frame from seeded noise (docs/architecture.md §4): --seed
picks the noise, --temperature scales it (0: the head's deterministic output), --sampling-steps sets
K, the head's Euler steps (default: the bundle's). A world with an mse head ignores all three.

A flow-guided world (`vidgen ingest --flow-guide`, docs/own-video.md) is steered by motion: the
arrows pan the picture left/right/up/down and Z / X zoom in / out (keys it binds to actions stay
actions), at --motion-speed pixels per frame; --motion scripts it ('right*30,zoom_in*20', lockstep).
Other guided worlds (the maze's depth and wall-id maps) take their maps from a host: see
docs/conditioning.md.

--frames, --actions or --motion play in lockstep: each display frame steps the stream synchronously, and
generated frame i uses scripted action i (the script repeats when shorter), so runs are exact.
--vr shows an equirectangular (2:1) world through the current head direction (mouse-look, or --pose
with one "yaw pitch" line in degrees per display frame), reprojected every display frame.

examples:
  vidgen play maze
  vidgen play maze.vgrt --backend ort-python --no-vsync
  vidgen play maze --backend native-openvino-bf16
  vidgen play maze --seed 7 --temperature 0.8 --sampling-steps 2
  xvfb-run -a vidgen play maze --frames 120 --actions "forward*40,turn_left*20" --screenshot shot.png
  vidgen play maze360 --vr --stereo --size 1280x640
  vidgen play mine.vgrt --motion "right*30,still*10,zoom_in*30"
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

from vidgen_rt.data.flow import DEFAULT_MOTION_PIXELS, MOTIONS

HELP = "play a world in a window (keyboard, gamepad, HUD, VR panoramas)"
BACKENDS = ("native", "native-openvino", "native-openvino-bf16", "ort-python")


def configure(parser) -> None:
    parser.add_argument("world", metavar="WORLD",
                        help="shipped world name, run or checkpoint directory, or bundle (.vgrt)")
    parser.add_argument("--frames", type=int, default=None, help="quit after this many generated frames (lockstep)")
    parser.add_argument("--actions", metavar="SCRIPT",
                        help="scripted actions: a file or inline 'forward*10,turn_left*3' (lockstep)")
    parser.add_argument("--motion", metavar="SCRIPT",
                        help="a flow-guided world's scripted motions: 'right*30,still*10,zoom_in*20' (lockstep); "
                             "names: " + ", ".join(MOTIONS))
    parser.add_argument("--motion-speed", type=float, default=DEFAULT_MOTION_PIXELS, metavar="PIXELS",
                        help=f"a flow-guided world's motion, pixels per frame (default: {DEFAULT_MOTION_PIXELS:g})")
    parser.add_argument("--screenshot", type=Path,
                        help="save the last displayed frame (PNG, read back from the window) on exit")
    parser.add_argument("--size", metavar="WxH", help="window size in pixels (default: the frame times --scale)")
    parser.add_argument("--scale", type=int, default=8,
                        help="window pixels per frame pixel when --size is not given (default: 8)")
    parser.add_argument("--vsync", action=argparse.BooleanOptionalAction, default=True,
                        help="wait for the display refresh (default: on)")
    parser.add_argument("--max-fps", type=float, default=120.0,
                        help="display refresh cap without vsync; 0: none (default: 120)")
    parser.add_argument("--backend", choices=BACKENDS, default="native",
                        help="native runtime (C++, asynchronous; on ONNX Runtime, OpenVINO, or OpenVINO in "
                             "bf16) or the Python ONNX Runtime driver (synchronous: one step per display frame)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per graph (default: native*, half the cores, since live play decodes one "
                             "frame while the next steps; ort-python, one per core)")
    parser.add_argument("--fps", type=float, default=None,
                        help="generation rate when playing live (default: as fast as it goes)")
    parser.add_argument("--seed", type=int, default=0, help="a flow head's noise seed, 0..2^64-1 (default 0)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="a flow head's noise scale, 0..4 (default 1; 0: deterministic; [ and ] change it live)")
    parser.add_argument("--sampling-steps", type=int, default=None, metavar="K",
                        help="a flow head's Euler steps per frame, 1..8 (default: the bundle's)")
    parser.add_argument("--hud", action=argparse.BooleanOptionalAction, default=None,
                        help="show the HUD (default: on, off in lockstep)")
    parser.add_argument("--filter", choices=("nearest", "linear"), default=None,
                        help="texture filtering (default: nearest; linear with --vr)")
    parser.add_argument("--record", type=Path, help="record the generated frames to this .mp4 from the start")
    parser.add_argument("--key-script", type=Path,
                        help="key events 'FRAME press|release KEY', one a line, fed to the key handler (automation)")
    parser.add_argument("--trace", type=Path,
                        help="write one JSON line per generated frame: index, action, sha1 of the RGBA frame")
    parser.add_argument("--vr", action="store_true",
                        help="panorama world: reproject to the head direction every display frame")
    parser.add_argument("--stereo", action="store_true", help="with --vr: side-by-side eyes")
    parser.add_argument("--fov", type=float, default=90.0,
                        help="with --vr: horizontal field of view per eye, degrees (default: 90)")
    parser.add_argument("--pose", type=Path,
                        help="with --vr: 'yaw pitch' degrees per display frame instead of mouse-look")


def run(args) -> int:
    from vidgen_rt.errors import ConfigError, VidgenError
    from vidgen_rt.viewer.controls import parse_bindings

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise VidgenError("no display (DISPLAY is unset); run under xvfb-run, or render a video with "
                          f"`vidgen generate {args.world} -o out.mp4`")
    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"--frames {args.frames}: expected 1 or more")
    if args.fps is not None and not args.fps > 0:
        raise ConfigError(f"--fps {args.fps}: expected a positive rate")
    if args.stereo and not args.vr:
        raise ConfigError("--stereo needs --vr")
    bundle = resolve_bundle(args.world)
    manifest = bundle.manifest
    bindings = parse_bindings(manifest["actions"])
    height, width = manifest["frame"]["height"], manifest["frame"]["width"]
    if args.vr and width != 2 * height:
        raise ConfigError(f"--vr needs an equirectangular world (width = 2 x height); {bundle.path} is {width}x{height}")
    check_playable_conditions(manifest, args, bundle.path)
    options = view_options(args, manifest, bindings)
    from vidgen_rt.runtime.factory import NATIVE_CPU_BACKENDS, open_stepper
    from vidgen_rt.viewer.controller import StreamController
    from vidgen_rt.viewer.window import Viewer

    threads = args.threads
    native = args.backend in NATIVE_CPU_BACKENDS
    if threads is None and native:  # the async stream runs its step and decode at once
        threads = max(1, (os.cpu_count() or 2) // 2)
    native_backend, compute_precision = NATIVE_CPU_BACKENDS.get(args.backend, ("ort", ""))
    stepper = open_stepper(bundle, "native" if native else args.backend, intra_op_threads=threads,
                           native_backend=native_backend, compute_precision=compute_precision, seed=args.seed,
                           temperature=args.temperature, sampling_steps=args.sampling_steps)
    # Only the native runtime plays asynchronously; the Python driver steps once per display frame.
    lockstep = (options.frames is not None or options.script is not None or options.motion_script is not None
                or not native)
    controller = StreamController(stepper, default_action=stepper.info.default_action, lockstep=lockstep,
                                  fps=args.fps, postprocess=manifest.get("postprocess"),
                                  temperature=args.temperature,
                                  sampling_steps=args.sampling_steps or manifest["head"]["sampling_steps"])
    try:
        result = Viewer(controller, manifest, bindings, options).run()
    finally:
        recorded = controller.close()
    if recorded:
        print(f"recorded {recorded}")
    print(f"played {result['frames']} frames in {result['seconds']:.1f} s: generated {result['generated']} at "
          f"{result['generation_fps']:.1f} frames/s, displayed {result['display_frames']} at "
          f"{result['display_fps']:.1f} frames/s")
    return 0


def check_playable_conditions(manifest: dict, args, path) -> None:
    """The viewer drives actions, and the motion of a flow-guided world; a world that needs other
    per-frame conditions (a cond vector, depth or wall-id maps) is played by a host that has them."""
    from vidgen_rt.data.flow import is_flow_guided
    from vidgen_rt.errors import ConfigError

    conditions = manifest.get("conditions") or {}
    guide, cond = conditions.get("guide") or {}, conditions.get("cond") or {}
    flow_guided = is_flow_guided(guide.get("names"))
    if cond.get("dim") or (guide and not flow_guided):
        needs = (guide.get("names") or []) + (["cond"] if cond.get("dim") else [])
        raise ConfigError(f"{path} needs its {', '.join(needs)} every frame, which `vidgen play` cannot make; "
                          f"feed them through the API (docs/conditioning.md) or render with `vidgen generate`")
    if args.motion and not flow_guided:
        raise ConfigError(f"--motion steers a flow-guided world; {path} has no flow guide")
    if not args.motion_speed >= 0 or args.motion_speed == float("inf"):
        raise ConfigError(f"--motion-speed {args.motion_speed}: expected pixels per frame >= 0")


def view_options(args, manifest: dict, bindings: dict):
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.data.flow import parse_motion_script
    from vidgen_rt.generate import parse_action_script
    from vidgen_rt.viewer.controls import parse_key_script
    from vidgen_rt.viewer.window import ViewOptions

    if not 10.0 <= args.fov <= 170.0:
        raise ConfigError(f"--fov {args.fov}: expected 10..170 degrees")
    height, width = manifest["frame"]["height"], manifest["frame"]["width"]
    script = parse_action_script(args.actions, manifest["actions"]["names"]) if args.actions else None
    motions = parse_motion_script(args.motion) if args.motion else None
    frames = args.frames if args.frames is not None else (len(script or motions or []) or None)
    lockstep = frames is not None
    if args.size:
        size = parse_window_size(args.size)
    elif args.vr:
        size = (1024, 512) if args.stereo else (768, 512)
    else:
        size = (width * args.scale, height * args.scale)
    return ViewOptions(
        title=f"vidgen play {manifest['name']}", size=size, vsync=args.vsync, max_fps=args.max_fps,
        frames=frames, script=script, motion_script=motions, motion_pixels=args.motion_speed, screenshot=args.screenshot, trace=args.trace, record=args.record,
        record_fps=args.fps or 30.0, hud=(not lockstep) if args.hud is None else args.hud,
        filter=args.filter or ("linear" if args.vr else "nearest"), vr=args.vr, stereo=args.stereo, fov=args.fov,
        key_script=parse_key_script(read_text(args.key_script, "--key-script")) if args.key_script else {},
        pose=parse_pose(read_text(args.pose, "--pose")) if args.pose else None,
    )


def read_text(path: Path, flag: str) -> str:
    from vidgen_rt.errors import ConfigError

    try:
        return Path(path).read_text()
    except OSError as error:
        raise ConfigError(f"{flag} {path}: {error.strerror}") from None


def parse_window_size(text: str) -> tuple[int, int]:
    from vidgen_rt.errors import ConfigError

    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text!r}: expected WxH, e.g. 640x480") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ConfigError(f"--size {text!r}: expected 16..8192 pixels a side")
    return width, height


def parse_pose(text: str) -> list[tuple[float, float]]:
    """One 'yaw pitch' (degrees) per line; '#' starts a comment."""
    import math

    from vidgen_rt.errors import ConfigError

    poses = []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            yaw, pitch = (float(v) for v in fields)
        except ValueError:
            raise ConfigError(f"--pose line {number}: expected 'yaw pitch' in degrees, got {raw.strip()!r}") from None
        if not (math.isfinite(yaw) and math.isfinite(pitch) and -90 <= pitch <= 90):
            raise ConfigError(f"--pose line {number}: yaw must be finite and pitch within -90..90, got {raw.strip()!r}")
        poses.append((yaw, pitch))
    if not poses:
        raise ConfigError("--pose file holds no poses")
    return poses


def bundle_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vidgen_rt" / "bundles"


def resolve_bundle(spec: str):
    """A bundle directory as is; a shipped world or checkpoint exported once into the cache, named by
    the checkpoint's name and a hash of its weights and state."""
    from vidgen_rt.errors import BundleError, ConfigError
    from vidgen_rt.export import export_bundle, load_bundle
    from vidgen_rt.export.bundle import bundle_is_current
    from vidgen_rt.train.checkpoint import resolve_checkpoint

    path = Path(spec)
    if path.suffix == ".vgrt" or (path / "manifest.json").exists():
        if not path.is_dir():
            raise BundleError(f"{path}: no such bundle directory")
        return load_bundle(path)
    checkpoint = resolve_checkpoint(spec)
    digest = hashlib.sha256()
    for name in ("model.safetensors", "state.json"):
        digest.update((checkpoint / name).read_bytes())
    label = spec if not path.exists() else checkpoint.name
    cached = bundle_cache_dir() / f"{label}-{digest.hexdigest()[:16]}.vgrt"
    if not bundle_is_current(cached):  # never exported, or by a runtime whose bundle format was older
        print(f"exporting {spec} to {cached} (once)", flush=True)
        try:
            export_bundle(checkpoint, cached, overwrite=True, quiet=True)
        except ConfigError:
            if not bundle_is_current(cached):  # unless another process exported it first
                raise
    return load_bundle(cached)
