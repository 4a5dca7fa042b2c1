"""Your own video, end to end (docs/own-video.md): a clip made here (a square moving over a
gradient, written to mp4 with PyAV) is ingested with a held-out split, trained (`tiny`), continued
with `generate --context`, evaluated on its held-out episodes, exported, stepped by the native
runtime and played under Xvfb; a video with an input log trains an action-conditioned world whose
frames follow the actions; bad input is a one-line error that writes nothing."""

import json
import shutil
import subprocess

import av
import numpy as np
import pytest

from conftest import CLI, vidgen
from vidgen_rt.data.store import EpisodeStore

XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1024x768x24"]
TRAIN = ["--preset", "tiny", "--quiet", "--set", "train.tokenizer_steps=15", "--set", "train.dynamics_steps=15",
         "--set", "train.batch_size=4"]


def square_video(path, moves, size=48, fps=10):
    """An mp4 of a bright square over a gradient; `moves[t]` (-1, 0, +1) shifts it after frame t."""
    y, x = np.mgrid[0:size, 0:size]
    background = np.stack([x * 4, y * 4, np.full_like(x, 60)], axis=-1).astype(np.uint8)
    position = size // 2
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for move in moves:
            frame = background.copy()
            frame[18:30, position - 6:position + 6] = 255
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            position = int(np.clip(position + 3 * move, 6, size - 6))
        container.mux(stream.encode())
    return path


def one_line_error(result, *words):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    for k in range(2):
        square_video(root / f"walk{k}.mp4", np.sign(np.sin(np.arange(40) / (4 + k))) * (rng.random(40) > 0.2))
    return root


@pytest.fixture(scope="module")
def video_run(clips, tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    vidgen("ingest", clips, "-o", root / "store", "--size", "32", "--clip-frames", "20", "--held-out", "1")
    vidgen("train", "--data", root / "store", "--out", root / "run", *TRAIN)
    return root


@pytest.mark.timeout(900)  # the module's one training run happens here, on a shared CI machine
def test_ingest_records_a_held_out_split_that_training_skips(video_run):
    from vidgen_rt.train.batches import EpisodeSplit

    store = EpisodeStore.open(video_run / "store")
    assert len(store) == 4 and store.held_out == [3] and store.action_names is None
    split = EpisodeSplit(store, 10)
    assert 3 not in split.train and split.validation == [3]


def test_generate_continues_a_clip_beside_its_real_continuation(video_run, clips):
    out = video_run / "continued.mp4"
    result = vidgen("generate", video_run / "run", "--context", clips / "walk1.mp4", "--frames", "12",
                    "--compare", "--upscale", "1", "-o", out)
    assert "generated 12 frames" in result.stdout
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 12 and frames[0].shape[:2] == (32, 66)  # real | 2-pixel gap | generated
    held = vidgen("generate", video_run / "run", "--frames", "4", "-o", video_run / "held.mp4")
    assert "generated 4 frames" in held.stdout  # no --context: the store's held-out episode


def test_eval_measures_on_the_held_out_episodes(video_run):
    out = video_run / "eval.json"
    vidgen("eval", video_run / "run", "--episodes", "2", "--json", out)
    result = json.loads(out.read_text())
    assert result["held_out_episodes"] == [3] and result["data"].endswith("store")
    assert {"tf_psnr", "tf_ssim", "ar_psnr", "flicker", "tokenizer_psnr"} <= set(result)
    assert "action_faithfulness" not in result  # video without an input log has no actions to follow
    assert 0 <= result["realism"]["precision"] <= 1 and 0 <= result["realism"]["recall"] <= 1
    assert result["realism"]["real_frames"] == 20


def test_export_steps_natively_and_plays_under_xvfb(video_run):
    from vidgen_rt.export import load_bundle
    from vidgen_rt.runtime.factory import open_stepper

    bundle = video_run / "own.vgrt"
    vidgen("export", video_run / "run", "-o", bundle)
    loaded = load_bundle(bundle)
    assert loaded.manifest["actions"]["names"] == ["none"]
    held = EpisodeStore.open(video_run / "store").episode(3)
    context = np.fromfile(bundle / "context" / "frames.u8", np.uint8).reshape(-1, 32, 32, 3)
    assert np.array_equal(context, held.frames[:len(context)])  # the held-out episode's first frames
    stepper = open_stepper(bundle, "native")
    stepper.reset()
    frames = [np.array(stepper.step(0)) for _ in range(3)]
    stepper.close()
    assert frames[0].shape[-3:-1] == (32, 32) and all(np.isfinite(f).all() for f in frames)
    from vidgen_rt.env import WorldModelEnv

    for source in (bundle, video_run / "run"):  # the native runtime, and PyTorch from the held-out episode
        env = WorldModelEnv(source)
        assert env.action_names == ["none"] and env.reset()[0].shape == (32, 32, 3)
        assert env.step(0)[0].shape == (32, 32, 3)
        env.close()
    assert shutil.which("xvfb-run"), "xvfb-run is missing (apt-get install xvfb)"
    played = subprocess.run([*XVFB, *CLI, "play", str(bundle), "--frames", "30", "--no-vsync", "--threads", "1"],
                            capture_output=True, text=True, timeout=300)
    assert played.returncode == 0, played.stderr[-2000:]
    assert "played 30 frames" in played.stdout


@pytest.mark.timeout(900)
def test_an_input_log_trains_a_world_that_follows_its_actions(tmp_path):
    from vidgen_rt.data.ingest import load_clip
    from vidgen_rt.data.preprocess import Preprocess
    from vidgen_rt.generate import generate_from_clip
    from vidgen_rt.train.checkpoint import load_checkpoint

    rng = np.random.default_rng(1)
    moves = rng.choice([-1, 1], size=60).repeat(2)[:60]
    square_video(tmp_path / "game.mp4", moves)
    names = {-1: "left", 1: "right"}
    rows = "".join(f"{t / 10:.2f},{names[m]}\n" for t, m in enumerate(moves))
    (tmp_path / "game.csv").write_text("# actions: left, right\ntime,action\n" + rows)
    vidgen("ingest", tmp_path / "game.mp4", "--actions", tmp_path / "game.csv", "-o", tmp_path / "store",
           "--size", "32", "--clip-frames", "20")
    store = EpisodeStore.open(tmp_path / "store")
    assert store.action_names == ["left", "right"]
    assert store.episode(0).actions.tolist() == [0 if m < 0 else 1 for m in moves[:20]]
    vidgen("train", "--data", tmp_path / "store", "--out", tmp_path / "run", *TRAIN)
    model, config, state = load_checkpoint(str(tmp_path / "run"))
    assert config.model.n_actions == 2 and state["action_names"] == ["left", "right"]
    clip = load_clip(f"{tmp_path / 'store'}:0", Preprocess(32, 32))
    left = generate_from_clip(model, config, state, clip, 6, actions=[0])["frames"]
    right = generate_from_clip(model, config, state, clip, 6, actions=[1])["frames"]
    assert np.abs(left.astype(int) - right.astype(int)).mean() > 0


def _play(bundle, *args):
    return subprocess.run([*XVFB, *CLI, "play", str(bundle), "--no-vsync", "--threads", "1", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.timeout(900)
def test_a_flow_guided_world_is_steered_by_motion(clips, tmp_path):
    """`ingest --flow-guide` trains a world on the clips' own optical flow; at play time a motion
    field stands in for it: through the runtime, `vidgen play --motion` and the arrow keys."""
    from vidgen_rt.data.flow import motion_field
    from vidgen_rt.runtime.factory import open_stepper

    vidgen("ingest", clips, "-o", tmp_path / "store", "--size", "32", "--clip-frames", "20", "--held-out", "1",
           "--flow-guide")
    vidgen("train", "--data", tmp_path / "store", "--out", tmp_path / "run", *TRAIN)
    bundle = tmp_path / "flow.vgrt"
    vidgen("export", tmp_path / "run", "-o", bundle)

    stepper = open_stepper(bundle, "native")

    def rollout(motion):
        stepper.reset()
        guide = motion_field(motion, 32, 32)[None]
        return np.stack([np.array(stepper.step(0, guide=guide)) for _ in range(4)])

    left, right, left_again = rollout("left"), rollout("right"), rollout("left")
    stepper.close()
    assert np.array_equal(left, left_again) and not np.array_equal(left, right)

    played = _play(bundle, "--motion", "right*3,zoom_in*3", "--trace", tmp_path / "scripted.jsonl")
    assert played.returncode == 0 and "played 6 frames" in played.stdout, played.stderr[-2000:]
    trace = [json.loads(line) for line in (tmp_path / "scripted.jsonl").read_text().splitlines()]
    assert [entry["motion"] for entry in trace] == ["right"] * 3 + ["zoom_in"] * 3
    (tmp_path / "keys.txt").write_text("0 press LEFT\n")
    played = _play(bundle, "--frames", "4", "--key-script", tmp_path / "keys.txt", "--trace", tmp_path / "keys.jsonl")
    assert played.returncode == 0, played.stderr[-2000:]
    trace = [json.loads(line) for line in (tmp_path / "keys.jsonl").read_text().splitlines()]
    assert [entry["motion"] for entry in trace] == ["left"] * 4
    bad = _play(bundle, "--motion", "sideways*3")
    assert bad.returncode == 2 and "'sideways*3'" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_bad_input_is_one_line_and_writes_nothing(video_run, clips, tmp_path):
    short = square_video(tmp_path / "short.mp4", [1, 1, 1])
    one_line_error(vidgen("generate", video_run / "run", "--context", short, "--frames", "4", "-o",
                          tmp_path / "out.mp4", check=False), "short.mp4", "has 3 frames", "model.window")
    assert not (tmp_path / "out.mp4").exists()

    (tmp_path / "long.csv").write_text("frame,action\n" + "".join(f"{t},none\n" for t in range(41)))
    one_line_error(vidgen("ingest", clips / "walk0.mp4", "--actions", tmp_path / "long.csv", "-o",
                          tmp_path / "a", "--size", "32", check=False), "long.csv", "longer than its video")
    (tmp_path / "jump.csv").write_text("# actions: left, right\nframe,action\n0,left\n1,jump\n")
    one_line_error(vidgen("ingest", clips / "walk0.mp4", "--actions", tmp_path / "jump.csv", "-o",
                          tmp_path / "b", "--size", "32", check=False), "jump.csv:4", "unknown action 'jump'")
    one_line_error(vidgen("ingest", clips, "-o", tmp_path / "c", "--size", "32", "--held-out", "0", check=False),
                   "--held-out 0")
    one_line_error(vidgen("ingest", clips / "walk0.mp4", "-o", tmp_path / "d", "--size", "32", "--held-out", "1",
                          check=False), "leaves none to train on")
    assert not any((tmp_path / name).exists() for name in "abcd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jump.csv", "long.csv", "short.mp4"]
