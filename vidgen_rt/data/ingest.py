"""Ingest ordinary videos and folders of frames into an episode store without actions.

Sources are video files (anything FFmpeg decodes through PyAV: mp4, webm, mkv, avi, gif, ...) and
clip folders (one sub-folder of images per clip, frames in natural name order, so `frame2` comes
before `frame10`). The images of one clip folder must share one size: frames of mixed sizes are
usually images from different sources put together, so they are refused (naming two that differ)
unless `resize_mixed` (--resize-mixed) asks to resize each one to the target size anyway. Every
frame goes through a `Preprocess` as soon as it is decoded, so memory holds
frames at the target size only; with `clip_frames` a source is cut into clips of that many frames
(a last shorter clip is kept if it has at least 2 frames) and memory holds one clip at a time.

Damaged input: by default any unreadable, corrupt or truncated source is a `DataError` naming the
file, and the store is discarded, never half written. Truncation is caught two ways: FFmpeg's own
decode errors, and a decoded span shorter than the duration the container declares (WebM, MKV and
AVI files cut short decode silently). With `skip_bad`, a source that yields no usable frames is
skipped with a warning, and a damaged one keeps the frames decoded before the damage (they are
valid frames), also with a warning.

With `actions` (an `InputLogs`: one input log per source, vidgen_rt.data.action_log), the store is
action-conditioned: each clip takes its frames' actions from its source's log, and a log whose
length disagrees with its video's stops the ingest, nothing written. `held_out` episodes (the last
ones; by default a tenth, at least one of two or more) are named in the store as held out
(store.py): never trained on, measured by `vidgen eval`. `load_clip` reads one clip the way ingest
does, for `vidgen generate --context` and `vidgen export --context`.

With `flow`, each episode also stores its optical flow as the guide (`vidgen_rt.data.flow`:
channels flow_x, flow_y in [-1, 1], zero at an episode's first frame), computed per clip at the
target size.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vidgen_rt.data.action_log import ActionLog, ActionTrack, action_names, read_action_log
from vidgen_rt.data.flow import FLOW_GUIDE_NAMES, FLOW_SCALE_PIXELS, flow_guide
from vidgen_rt.data.preprocess import Preprocess
from vidgen_rt.data.store import HELD_OUT_AUTO, EpisodeStore
from vidgen_rt.errors import DataError

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .gif .mpg .mpeg .ts .flv .wmv .ogv .3gp".split())
IMAGE_EXTENSIONS = frozenset(".png .jpg .jpeg .bmp .webp .tif .tiff .ppm .pgm".split())


def natural_key(path: Path) -> list:
    """Sort key that orders embedded numbers by value: frame2 < frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def decode_video(path: Path, preprocess: Preprocess) -> Iterator[np.ndarray]:
    """Yield the preprocessed RGB frames of the first video stream; DataError if damaged."""
    import av  # PyAV pulls in FFmpeg; only ingest needs it

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable video ({error})") from None
    with container:
        if not container.streams.video:
            raise DataError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count, first, last = 0, None, None
        try:
            for frame in container.decode(stream):
                first = frame.time if first is None else first
                last = frame.time
                count += 1
                yield preprocess.frame(frame.to_ndarray(format="rgb24"))
        except av.FFmpegError as error:
            raise DataError(f"{path}: corrupt or truncated video, decoding failed after "
                            f"{count} frames ({error})") from None
        _check_complete(path, container, stream, count, first, last)


def _check_complete(path: Path, container, stream, count: int, first, last) -> None:
    """DataError if the decoded frames cover clearly less time than the container declares."""
    expected = _declared_seconds(container, stream)
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    if expected is None or rate <= 0 or count and (first is None or last is None):
        return  # no declared length, or frames without timestamps: nothing to compare
    decoded = last - first + 1 / rate if count else 0.0
    if decoded + max(3 / rate, 0.02 * expected) < expected:
        raise DataError(f"{path}: truncated video, decoded {count} frames ({decoded:.2f} s) "
                        f"of a declared {expected:.2f} s")


def _declared_seconds(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION", "")  # Matroska/WebM write each track's length as a tag
    match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", tag)
    if match:
        hours, minutes, seconds = match.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    # The container's duration covers every stream, so it says nothing when audio is longer.
    if container.duration and len(container.streams) == 1:
        return container.duration / 1e6
    return None


def image_files(folder: Path) -> list[Path]:
    """The image files of a clip folder, in natural order; hidden files are ignored."""
    return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_EXTENSIONS), key=natural_key)


def read_image_clip(folder: Path, preprocess: Preprocess, resize_mixed: bool = False) -> Iterator[np.ndarray]:
    """Yield the preprocessed frames of one clip folder; DataError naming an unreadable image, or
    two images of different sizes unless `resize_mixed`."""
    from PIL import Image, ImageOps

    first = None
    for path in image_files(folder):
        try:
            with Image.open(path) as image:
                rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise DataError(f"{path}: unreadable image ({error})") from None
        first = first or (path, rgb.shape)
        if rgb.shape != first[1] and not resize_mixed:
            raise DataError(f"{folder}: images of different sizes, {first[0].name} is {_size(first[1])} and "
                            f"{path.name} is {_size(rgb.shape)}; pass --resize-mixed to resize each to the target")
        yield preprocess.frame(rgb)


def _size(shape: tuple) -> str:
    return f"{shape[1]}x{shape[0]}"


def find_sources(sources: Iterable) -> list[tuple[str, Path]]:
    """Resolve command-line sources into ("video", file) and ("images", clip folder) items.

    A file is a video. A folder contributes the videos directly inside it and its sub-folders as
    clip folders; a sub-folder with fewer than 2 images is skipped with a warning.
    """
    items = []
    for source in sources:
        path = Path(source)
        if path.is_file():
            items.append(("video", path))
        elif path.is_dir():
            items += _folder_sources(path)
        else:
            raise DataError(f"{path}: no such video file or folder")
    return items


def _folder_sources(folder: Path) -> list[tuple[str, Path]]:
    entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=natural_key)
    videos = [("video", p) for p in entries if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS]
    clips = []
    for sub in (p for p in entries if p.is_dir()):
        if len(image_files(sub)) >= 2:
            clips.append(("images", sub))
        else:
            log.warning("skipping %s: a clip folder needs at least 2 images", sub)
    if videos or clips:
        return videos + clips
    if image_files(folder):
        raise DataError(f"{folder}: holds images but no clip folders; put each clip's frames "
                        "in its own sub-folder (one sub-folder per clip)")
    raise DataError(f"{folder}: no video files and no clip folders (sub-folders of >= 2 images)")


def ingest_videos(paths, out_dir, height: int, width: int, clip_frames: int | None = None,
                  denoise: float = 0, overwrite: bool = False, crop: bool = False,
                  skip_bad: bool = False) -> EpisodeStore:
    """Decode video files into a new unconditional store at `out_dir` and return it opened."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    for path in map(Path, paths):
        if not path.is_file():
            raise DataError(f"{path}: no such video file")
    items = [("video", Path(p)) for p in paths]
    return ingest(items, out_dir, Preprocess(height, width, crop, denoise), clip_frames,
                  overwrite, skip_bad)


def ingest_image_folders(root, out_dir, height: int, width: int, clip_frames: int | None = None,
                         denoise: float = 0, overwrite: bool = False,
                         crop: bool = False, resize_mixed: bool = False) -> EpisodeStore:
    """Read `root`'s clip folders (one sub-folder of images per clip) into a new store."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of clip folders")
    items = [item for item in _folder_sources(root) if item[0] == "images"]
    if not items:
        raise DataError(f"{root}: no clip folders (sub-folders of >= 2 images)")
    return ingest(items, out_dir, Preprocess(height, width, crop, denoise), clip_frames, overwrite,
                  resize_mixed=resize_mixed)


@dataclass
class InputLogs:
    """One input log per source, in the sources' order, and the action names they resolve to."""

    logs: list[ActionLog]
    names: list[str]
    bindings: dict[str, str]

    @classmethod
    def read(cls, paths, sources: list, names: list[str] | None = None, bindings: dict | None = None) -> InputLogs:
        if len(paths) != len(sources):
            raise DataError(f"--actions: {len(paths)} input log(s) for {len(sources)} source(s); give one "
                            f"--actions LOG per video, in the sources' order")
        logs = [read_action_log(path) for path in paths]
        return cls(logs, action_names(logs, names), bindings or {})


def ingest(items: list[tuple[str, Path]], out_dir, preprocess: Preprocess,
           clip_frames: int | None = None, overwrite: bool = False,
           skip_bad: bool = False, flow: bool = False, resize_mixed: bool = False,
           held_out: int | str = HELD_OUT_AUTO, actions: InputLogs | None = None) -> EpisodeStore:
    """Write the frames of `find_sources` items into a new store; all or nothing."""
    if clip_frames is not None and (not isinstance(clip_frames, int) or clip_frames < 2):
        raise DataError(f"clip_frames should be an integer >= 2, got {clip_frames!r}")
    meta = {"source": "ingest", "preprocess": preprocess.as_dict(), "clip_frames": clip_frames,
            "inputs": len(items), "flow_scale_pixels": FLOW_SCALE_PIXELS if flow else None}
    if actions is not None:
        meta["action_logs"] = [str(log.path) for log in actions.logs]
    with EpisodeStore.create(out_dir, preprocess.height, preprocess.width, meta=meta,
                             action_names=None if actions is None else actions.names,
                             guide_names=FLOW_GUIDE_NAMES if flow else None,
                             overwrite=overwrite, held_out=held_out) as writer:
        bar = tqdm(items, unit="source", desc="ingest", disable=None)
        for k, (kind, path) in enumerate(bar):
            frames = (decode_video(path, preprocess) if kind == "video"
                      else read_image_clip(path, preprocess, resize_mixed))
            track = None if actions is None else actions.logs[k].track(
                actions.names, actions.bindings, video_rate(path) if kind == "video" else None)
            _add_clips(writer, path, frames, clip_frames, skip_bad, flow, track)
            bar.set_postfix(episodes=len(writer))
        if len(writer) == 0:
            raise DataError(f"no usable frames in {len(items)} source(s); nothing written")
    return EpisodeStore.open(out_dir)


def _add_clips(writer, path: Path, frames: Iterator[np.ndarray], clip_frames: int | None,
               skip_bad: bool, flow: bool = False, track: ActionTrack | None = None) -> None:
    """Cut one source's frames into episodes as they arrive; apply the damaged-source policy."""
    clip, start, count, damaged = [], 0, 0, False
    try:
        for frame in frames:
            clip.append(frame)
            count += 1
            if clip_frames is not None and len(clip) == clip_frames:
                _add_episode(writer, path, clip, start, flow, track)
                clip, start = [], count
    except DataError as error:
        if not skip_bad:
            raise
        damaged = True
        log.warning("%s; %s", error, "keeping the frames decoded before it" if count >= 2
                    else "skipping this source")
    if len(clip) >= 2:
        _add_episode(writer, path, clip, start, flow, track)
    elif count < 2 and not damaged:
        message = f"{path}: has {count} frame(s); an episode needs at least 2"
        if not skip_bad:
            raise DataError(message)
        log.warning("skipping %s", message)
    if track is not None:
        track.check(count)


def _add_episode(writer, path: Path, clip: list[np.ndarray], start: int, flow: bool,
                 track: ActionTrack | None = None) -> None:
    frames = np.stack(clip)  # (T, H, W, 3)
    actions = None if track is None else track.slice(start, start + len(clip))
    if actions is not None and len(actions) < len(clip):
        track.check(start + len(clip))  # a frame log shorter than the frames decoded so far
    writer.add_episode(frames, actions, guide=flow_guide(frames) if flow else None,
                       info={"source": str(path), "start": start})


def video_rate(path: Path) -> float:
    """Frames per second of a video's first stream, for time-stamped input logs."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 0)
    if rate <= 0:
        raise DataError(f"{path}: the video declares no frame rate, so a time-stamped input log cannot "
                        f"be matched to its frames; give one row per frame (a `frame` column)")
    return rate


def load_clip(spec, preprocess: Preprocess, max_frames: int | None = None) -> dict:
    """The frames of a clip to continue, read as ingest reads them: a video file, a frame folder, or
    an episode of a store as `STORE:EPISODE`. Returns {"frames": (T, H, W, 3) uint8, "actions": (T,)
    int64 or None, "name"}; at most `max_frames` frames are decoded."""
    spec = str(spec)
    store_path, _, number = spec.rpartition(":")
    if store_path and number.lstrip("-").isdigit() and (Path(store_path) / "index.json").is_file():
        store = EpisodeStore.open(store_path)
        if (store.height, store.width) != (preprocess.height, preprocess.width):
            raise DataError(f"{spec}: the store's frames are {store.width}x{store.height}, the model's "
                            f"{preprocess.width}x{preprocess.height}")
        try:
            episode = store.episode(int(number))
        except IndexError as error:
            raise DataError(f"{spec}: {error}") from None
        return {"frames": np.array(episode.frames[:max_frames]), "name": spec,
                "actions": None if episode.actions is None else np.array(episode.actions[:max_frames])}
    path = Path(spec)
    if path.is_file():
        frames = decode_video(path, preprocess)
    elif path.is_dir() and image_files(path):
        frames = read_image_clip(path, preprocess, resize_mixed=True)
    else:
        raise DataError(f"{spec}: not a video file, a folder of frames or STORE:EPISODE")
    clip = list(islice(frames, max_frames))
    if not clip:
        raise DataError(f"{spec}: holds no frames")
    return {"frames": np.stack(clip), "actions": None, "name": spec}


def preprocess_of(store_path, height: int, width: int) -> Preprocess:
    """How a store's frames were made (its meta.preprocess), so a clip continued by a model trained
    on it is cropped, resized and denoised the same way; plain resizing for a recorded store."""
    if store_path and (Path(store_path) / "index.json").is_file():
        settings = EpisodeStore.open(store_path).meta.get("preprocess")
        if isinstance(settings, dict) and (settings.get("height"), settings.get("width")) == (height, width):
            return Preprocess(**settings)
    return Preprocess(height, width)
