"""Optical flow guides: Farnebäck flow recovers known synthetic translations, the guide is the flow
scaled and clipped to [-1, 1], `vidgen ingest --flow-guide` stores it under its names, and named
motion fields steer a flow-guided world in the same units."""

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import vidgen
from vidgen_rt.data.flow import (FLOW_GUIDE_NAMES, FLOW_SCALE_PIXELS, dense_flow, flow_guide, motion_field,
                                 parse_motion_script)
from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.errors import DataError

SIZE, PAD, MARGIN = 64, 24, 12  # frames are SIZE-pixel windows into a larger texture


def texture(seed: int = 0) -> np.ndarray:
    """A smooth random grey texture with detail at every position, as flow needs."""
    noise = np.random.default_rng(seed).random((SIZE + 2 * PAD, SIZE + 2 * PAD)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 1.5)
    return np.rint(255 * (smooth - smooth.min()) / (smooth.max() - smooth.min())).astype(np.uint8)


def windows(image: np.ndarray, offsets) -> np.ndarray:
    """RGB frames whose content sits at `offsets` (x, y): content moves by the offset differences."""
    frames = [image[PAD - y:PAD - y + SIZE, PAD - x:PAD - x + SIZE] for x, y in offsets]
    return np.repeat(np.stack(frames)[..., None], 3, axis=-1)  # (T, H, W) -> (T, H, W, 3)


def interior(field: np.ndarray) -> np.ndarray:
    return field[..., MARGIN:-MARGIN, MARGIN:-MARGIN]


def test_flow_recovers_a_known_translation():
    offsets = [(0, 0), (3, -2), (-1, 2), (1, 2)]  # steps of (3, -2), (-4, 4), (2, 0) pixels
    flow = dense_flow(windows(texture(), offsets))
    assert flow.shape == (4, 2, SIZE, SIZE) and flow.dtype == np.float32
    assert not flow[0].any()  # the first frame has no predecessor
    for t in range(1, len(offsets)):
        step_x = offsets[t][0] - offsets[t - 1][0]
        step_y = offsets[t][1] - offsets[t - 1][1]
        assert np.abs(interior(flow[t, 0]) - step_x).max() < 0.5, t
        assert np.abs(interior(flow[t, 1]) - step_y).max() < 0.5, t


def test_still_frames_have_no_flow():
    flow = dense_flow(windows(texture(1), [(2, 2)] * 3))
    assert np.abs(interior(flow)).max() < 1e-3
    assert np.abs(flow).max() < 0.25  # the polynomial fit runs past the border there, still small


def test_the_guide_is_flow_over_the_scale_clipped_to_one():
    frames = windows(texture(2), [(0, 0), (3, 0), (3, 1)])
    guide = flow_guide(frames)
    np.testing.assert_allclose(guide, np.clip(dense_flow(frames) / FLOW_SCALE_PIXELS, -1, 1))
    assert abs(float(np.median(interior(guide[1, 0]))) - 3 / FLOW_SCALE_PIXELS) < 0.02
    clipped = flow_guide(frames, scale_pixels=2.0)
    assert np.allclose(interior(clipped[1, 0]), 1.0) and np.abs(clipped).max() <= 1.0


def test_bad_flow_input_is_a_data_error():
    with pytest.raises(DataError, match="uint8 RGB"):
        dense_flow(np.zeros((3, 8, 8, 3), np.float32))
    with pytest.raises(DataError, match="scale_pixels"):
        flow_guide(np.zeros((3, 8, 8, 3), np.uint8), scale_pixels=0)


def test_ingest_stores_the_flow_guide(tmp_path):
    clip = tmp_path / "clips" / "pan"
    clip.mkdir(parents=True)
    frames = windows(texture(3), [(2 * t, 0) for t in range(6)])  # a camera pan, 2 pixels a frame
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(clip / f"frame{t}.png")
    vidgen("ingest", tmp_path / "clips", "-o", tmp_path / "store", "--size", SIZE, "--flow-guide")
    store = EpisodeStore.open(tmp_path / "store")
    guide = store.episode(0).guide
    assert store.guide_names == FLOW_GUIDE_NAMES == ["flow_x", "flow_y"]
    assert guide.shape == (6, 2, SIZE, SIZE) and guide.dtype == np.float32
    assert not guide[0].any()
    np.testing.assert_allclose(interior(guide[1:, 0]), 2 / FLOW_SCALE_PIXELS, atol=0.5 / FLOW_SCALE_PIXELS)
    np.testing.assert_allclose(interior(guide[1:, 1]), 0, atol=0.5 / FLOW_SCALE_PIXELS)


def test_motion_fields_are_flow_guides_of_named_motions():
    left = motion_field("left", 8, 12, pixels=2.0)
    assert left.shape == (2, 8, 12) and np.all(left[0] == -2.0 / FLOW_SCALE_PIXELS) and np.all(left[1] == 0)
    assert not motion_field("still", 8, 8).any()
    zoom = motion_field("zoom_in", 9, 9, pixels=4.0)
    assert zoom[:, 4, 4].tolist() == [0, 0]                          # the centre stays
    assert zoom[0, 4, 8] == pytest.approx(4.0 / FLOW_SCALE_PIXELS) and zoom[1, 0, 4] < 0  # edges move outwards
    assert np.array_equal(motion_field("zoom_out", 9, 9, pixels=4.0), -zoom)
    assert motion_field("down", 4, 4, pixels=100.0).max() == 1.0   # clipped like the recorded guide
    assert parse_motion_script("right*2,still,zoom_in*1") == ["right", "right", "still", "zoom_in"]
    for bad in ("sideways", "left*0", "left*x"):
        with pytest.raises(DataError, match="expected NAME"):
            parse_motion_script(bad)
    with pytest.raises(DataError, match="unknown motion"):
        motion_field("spin", 4, 4)
