"""Stage `decoder` (train/decoder_stage.py): the decoder tuned on the dynamics' own samples changes the
decoder alone, renders those samples closer to the real next frames, and refuses to run without a
trained world or without steps."""

import json
from pathlib import Path

import pytest
import torch

from conftest import vidgen
from vidgen_rt.train.checkpoint import load_checkpoint, read_state, resolve_checkpoint


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tuned(tiny_store, tiny_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("decoder") / "tuned"
    vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet", "--stage", "decoder",
           "--init-from", tiny_run, "--set", "train.decoder_steps=40", "--set", "train.decoder_lr=2e-3",
           # the detail term off: on a decoder this untrained it trades PSNR for sharpness, and the test
           # is about the stage fitting the samples' frames
           "--set", "train.decoder_detail_weight=0", "--set", "train.log_every=1")
    return run


def test_only_the_decoder_changes(tiny_run, tuned):
    source, _, _ = load_checkpoint(tiny_run)
    model, _, state = load_checkpoint(tuned)
    assert state["completed"] == ["tokenizer", "dynamics", "decoder"]
    before, after = source.state_dict(), model.state_dict()
    changed = {name for name in after if not torch.equal(before[name], after[name])}
    assert changed and all(name.startswith("tokenizer.decoder.") for name in changed), sorted(changed)[:5]
    assert len(changed) == len(list(model.tokenizer.decoder.state_dict()))


def test_decoded_samples_come_closer_to_the_real_frames(tuned):
    entries = _log(tuned)
    before = next(e for e in entries if e["stage"] == "decoder" and e.get("before"))
    losses = [e for e in entries if e["stage"] == "decoder" and "sample_loss" in e]
    assert len(losses) == 40 and all("truth_loss" in e for e in losses)
    metrics = read_state(resolve_checkpoint(tuned))["metrics"]
    assert metrics["decoded_sample_psnr"] > before["decoded_sample_psnr"] + 0.5, (before, metrics)
    assert {"tokenizer_psnr", "tokenizer_sharpness", "decoded_sample_sharpness"} <= set(metrics)


def test_the_decoder_stage_needs_a_world_and_steps(tiny_store, tiny_run, tmp_path):
    no_world = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "a", "--stage",
                      "decoder", "--set", "train.decoder_steps=5", check=False)
    assert no_world.returncode != 0 and "needs a trained world" in no_world.stderr
    no_steps = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "b", "--stage",
                      "decoder", "--init-from", tiny_run, check=False)
    assert no_steps.returncode != 0 and "train.decoder_steps=0" in no_steps.stderr
