"""Writing rollouts to video files (.mp4, .gif) and reading videos back into arrays.

`write_video` takes a (T, H, W, 3) uint8 array or any iterable of (H, W, 3) frames, so a
10,000-frame rollout can be streamed to an .mp4 without holding it in memory (RGBA frames, as the
runtime's decoder emits them, are accepted and their alpha dropped). The extension picks the
format: .mp4 is H.264 (libx264, CRF 18, near-transparent) when PyAV's FFmpeg has it, else MPEG-4
part 2 at fixed quantiser 2 (whose encoder pads odd sizes itself); .gif goes through Pillow and
loops forever. The file appears under its name only once complete: it is written to a staging file
in the same directory and moved into place (vidgen_rt.atomic), so a failing frame source leaves
nothing at the target and the staging file of a killed writer is removed by the next one.

H.264 in the universally playable yuv420p needs even sizes, and its bitstream can only crop by
two pixels, so frames with an odd side are encoded as yuv444p (H.264 High 4:4:4) instead: the
decoded size then equals the written size, which evaluation needs, at the price of players
without 4:4:4 support (browsers, QuickTime). `upscale` (an integer factor, nearest neighbour)
makes tiny frames viewable; an even factor also makes any size even, hence widely playable. It is
at most MAX_UPSCALE: 16 already turns a 256-pixel frame into 4096 pixels, about the largest picture
common H.264 players decode, and enlarging further only makes a bigger file of the same pixels.

GIF stores at most 256 colours per frame and hundredths of a second per frame, and Pillow merges
a frame identical to the one before it into a longer frame, so a .gif is for looking at, not for
measuring.
"""

import itertools
import math
import numbers
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vidgen_rt.atomic import atomic_file
from vidgen_rt.errors import DataError, VidgenError

SUPPORTED_EXTENSIONS = (".mp4", ".gif")
MP4_CODECS = ("libx264", "mpeg4")
X264_OPTIONS = {"crf": "18", "preset": "medium"}
MPEG4_QSCALE = 2  # MPEG-4 part 2 quantiser: 2 is near-transparent
FF_QP2LAMBDA = 118  # FFmpeg's scale from quantiser to its global_quality units
MAX_UPSCALE = 16


def write_video(frames, path, fps: float = 30, upscale: int = 1, *,
                codec: str | None = None) -> Path:
    """Write frames to `path` (.mp4 or .gif, by extension) atomically; returns the path.

    `codec` overrides the .mp4 encoder ("libx264" or "mpeg4"); by default libx264 if available.
    """
    path = Path(path)
    extension = path.suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        raise VidgenError(
            f"{path}: cannot write video with extension {extension or '(none)'!r}; "
            f"supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    if not (isinstance(fps, numbers.Real) and math.isfinite(fps) and fps > 0):
        raise VidgenError(f"{path}: fps must be a positive number, got {fps!r}")
    if not (isinstance(upscale, int) and 1 <= upscale <= MAX_UPSCALE):
        raise VidgenError(f"{path}: upscale must be an integer from 1 to {MAX_UPSCALE}, got {upscale!r}")
    if codec is not None and codec not in MP4_CODECS:
        raise VidgenError(f"{path}: unsupported mp4 codec {codec!r}; use one of {MP4_CODECS}")
    checked = _checked_frames(frames, upscale, path)
    with atomic_file(path) as temp_path:
        if extension == ".mp4":
            _write_mp4(checked, temp_path, fps, codec or _default_codec())
        else:
            _write_gif(checked, temp_path, fps)
    return path


def read_video(path) -> np.ndarray:
    """Decode every frame of a video file into a (T, H, W, 3) uint8 RGB array."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such video file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: has no video stream")
            frames = [frame.to_ndarray(format="rgb24")
                      for frame in container.decode(container.streams.video[0])]
    except (av.FFmpegError, OSError) as error:
        raise DataError(f"{path}: not a readable video ({error})") from error
    if not frames:
        raise DataError(f"{path}: contains no decodable video frames")
    if len({frame.shape for frame in frames}) != 1:
        raise DataError(f"{path}: frames change size mid-stream, cannot stack them")
    return np.stack(frames)  # (T, H, W, 3)


def _default_codec() -> str:
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _checked_frames(frames, upscale: int, path: Path):
    """Yield contiguous (H, W, 3) uint8 frames, enlarged by `upscale`; all must share one shape."""
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        raise DataError(
            f"{path}: expected frames as a (T, H, W, 3) array, got shape {frames.shape}")
    shape = None
    for index, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8:
            raise DataError(f"{path}: frame {index} has dtype {frame.dtype}, expected uint8")
        if frame.ndim != 3 or frame.shape[2] not in (3, 4):
            raise DataError(
                f"{path}: frame {index} has shape {frame.shape}, expected (H, W, 3) or (H, W, 4)")
        if shape is None:
            shape = frame.shape
        elif frame.shape != shape:
            raise DataError(
                f"{path}: frame {index} has shape {frame.shape}, but frame 0 had {shape}")
        frame = frame[..., :3]
        if upscale > 1:
            frame = frame.repeat(upscale, axis=0).repeat(upscale, axis=1)  # (H*k, W*k, 3)
        yield np.ascontiguousarray(frame)
    if shape is None:
        raise DataError(f"{path}: no frames to write")


def _write_mp4(frames, temp_path: Path, fps: float, codec: str) -> None:
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    with av.open(str(temp_path), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=Fraction(float(fps)).limit_denominator(1001))
        stream.width, stream.height = width, height
        _configure_quality(stream, codec, odd=width % 2 == 1 or height % 2 == 1)
        for frame in itertools.chain([first], frames):
            packets = stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24"))
            container.mux(packets)
        container.mux(stream.encode())  # flush the encoder's delayed frames


def _configure_quality(stream, codec: str, odd: bool) -> None:
    if codec == "libx264":
        stream.pix_fmt = "yuv444p" if odd else "yuv420p"
        stream.options = dict(X264_OPTIONS)
    else:
        stream.pix_fmt = "yuv420p"
        stream.codec_context.qscale = True
        stream.codec_context.global_quality = MPEG4_QSCALE * FF_QP2LAMBDA


def _write_gif(frames, temp_path: Path, fps: float) -> None:
    images = [Image.fromarray(frame) for frame in frames]
    duration_ms = max(10, round(1000.0 / fps))
    images[0].save(temp_path, format="GIF", save_all=True, append_images=images[1:],
                   duration=duration_ms, loop=0)

