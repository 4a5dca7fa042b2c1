"""The built-in maze world: determinism, what each action does, collisions, guides, panorama, the
batched renderer, bad input, and the policies that record datasets from it."""

import numpy as np
import pytest

from vidgen_rt.errors import ConfigError
from vidgen_rt.worlds import ACTIONS, WORLDS, MazeBatch, MazeWorld, make_world, parse_world, world_spec
from vidgen_rt.worlds.motion import MOVE_STEP, PLAYER_RADIUS
from vidgen_rt.worlds.raycast import cast_rays
from vidgen_rt.worlds.policies import POLICIES, ExplorerPolicy, RandomPersistentPolicy, make_policy

A = {name: i for i, name in enumerate(ACTIONS)}


def play(world, actions):
    return np.stack([world.reset()] + [world.step(a) for a in actions])


def heading(world):
    return np.array([np.cos(world.angle), np.sin(world.angle)])


def best_shift(before, after, max_shift=20):
    """Column shift s that best explains after[:, x] ≈ before[:, x + s]."""
    b, a = before.astype(np.float64), after.astype(np.float64)
    width = b.shape[1]
    errors = {s: np.mean((a[:, max(0, -s):width - max(0, s)] - b[:, max(0, s):width + min(0, s)]) ** 2)
              for s in range(-max_shift, max_shift + 1)}
    return min(errors, key=errors.get)


def test_action_names_and_registry():
    assert ACTIONS == ("noop", "forward", "backward", "turn_left", "turn_right", "strafe_left", "strafe_right")
    world = make_world("maze", seed=0, height=32, width=48)
    assert isinstance(world, WORLDS["maze"]) and world.action_names == ACTIONS
    assert world.reset().shape == (32, 48, 3)
    with pytest.raises(ConfigError, match="valid worlds are maze"):
        make_world("doom", seed=0)


def test_same_seed_and_actions_give_identical_frames():
    actions = np.random.default_rng(0).integers(0, len(ACTIONS), 200).tolist()
    first, second = play(MazeWorld(5), actions), play(MazeWorld(5), actions)
    assert first.dtype == np.uint8 and first.shape == (201, 64, 64, 3)
    np.testing.assert_array_equal(first, second)
    assert len(np.unique(first.reshape(len(first), -1), axis=0)) > 100  # the walk really moves


def test_different_seeds_give_different_layouts():
    layouts = [MazeWorld(seed).layout for seed in range(4)]
    assert all(layout.shape == (25, 25) and layout.dtype == np.uint8 for layout in layouts)
    assert all(not np.array_equal(layouts[0], other) for other in layouts[1:])
    layout = layouts[0]
    assert (layout[0] > 0).all() and (layout[-1] > 0).all() and (layout[:, 0] > 0).all() and (layout[:, -1] > 0).all()
    assert set(np.unique(layout[layout > 0])) == {1, 2, 3, 4, 5}
    assert (layout[1::2, 1::2] == 0).all()  # every room is open


def test_a_fixed_level_keeps_its_maze_and_the_seed_picks_the_start():
    worlds = [make_world("maze:level=1,cells=6", seed=seed) for seed in range(8)]
    assert all(np.array_equal(w.layout, worlds[0].layout) for w in worlds) and worlds[0].layout.shape == (13, 13)
    assert np.array_equal(worlds[0].layout, MazeWorld(1, cells=6).layout)  # level N is the maze of seed N
    starts = {(w.position, w.angle) for w in worlds}
    assert len(starts) > 4                                                   # seeds really move the start
    for w in worlds:
        x, y = w.position
        assert w.layout[int(y), int(x)] == 0 and int(x) % 2 == 1 and int(y) % 2 == 1  # a room centre
    again = make_world("maze:level=1,cells=6", seed=3)
    np.testing.assert_array_equal(again.reset(), worlds[3].reset())
    assert not np.array_equal(make_world("maze:level=2,cells=6", seed=3).layout, worlds[3].layout)


def test_world_specs_round_trip_and_reject_nonsense():
    assert parse_world("maze") == ("maze", {})
    assert parse_world("maze:level=7,cells=6") == ("maze", {"level": 7, "cells": 6})
    assert world_spec("maze", level=7, cells=6) == "maze:level=7,cells=6"
    assert world_spec("maze360", level=None) == "maze360"
    assert make_world("maze360:level=1,cells=6", seed=0, height=16, width=32).layout.shape == (13, 13)
    for bad, message in (("maze:level=x", "bad option 'level=x'"), ("maze:colour=3", "bad option 'colour=3'"),
                         ("maze:level=-1", "bad option 'level=-1'"), ("doom:level=1", "unknown world 'doom'"),
                         ("maze:cells=1", "cells must be 2..256")):
        with pytest.raises(ConfigError, match=message):
            make_world(bad)
    with pytest.raises(ConfigError, match="level must be a non-negative"):
        MazeWorld(0, level=-1)


def test_forward_moves_along_heading_and_changes_the_frame():
    world = MazeWorld(1)
    before, start = world.reset(), np.array(world.position)
    after = world.step(A["forward"])
    np.testing.assert_allclose(np.array(world.position) - start, MOVE_STEP * heading(world), atol=1e-9)
    assert np.abs(after.astype(int) - before).mean() > 1.0
    world.step(A["backward"])
    np.testing.assert_allclose(world.position, start, atol=1e-9)


def test_turns_rotate_and_shift_the_image_in_opposite_directions():
    world = MazeWorld(2)
    before, angle = world.reset(), world.angle
    right = world.step(A["turn_right"])
    assert world.angle > angle
    world.reset()
    left = world.step(A["turn_left"])
    assert world.angle < angle
    assert world.position == MazeWorld(2).position  # turning does not move
    # turning right brings the scene to the left: after[:, x] ≈ before[:, x + s] with s > 0
    assert best_shift(before, right) > 2 and best_shift(before, left) < -2


def test_strafe_moves_sideways_without_turning():
    world = MazeWorld(3)
    before, start, angle = world.reset(), np.array(world.position), world.angle
    after = world.step(A["strafe_right"])
    side = np.array([-np.sin(angle), np.cos(angle)])  # the right of the heading (rows grow downward)
    np.testing.assert_allclose(np.array(world.position) - start, MOVE_STEP * side, atol=1e-9)
    assert world.angle == angle and not np.array_equal(before, after)
    world.step(A["strafe_left"])
    np.testing.assert_allclose(world.position, start, atol=1e-9)


def test_noop_leaves_everything_unchanged():
    world = MazeWorld(4)
    world.reset()
    frame = world.step(A["forward"])
    pose = (world.position, world.angle)
    np.testing.assert_array_equal(world.step(A["noop"]), frame)
    assert (world.position, world.angle) == pose


def test_walking_into_a_wall_stops_at_the_wall():
    world = MazeWorld(6)
    world.reset()
    frames = [world.step(A["forward"]) for _ in range(200)]  # longer than any corridor
    np.testing.assert_array_equal(frames[-1], frames[-2])
    x, y = np.array(world.position)
    ahead = np.array([x, y]) + heading(world) * (PLAYER_RADIUS + 0.01)
    short = np.array([x, y]) + heading(world) * (PLAYER_RADIUS - 0.01)
    assert world.layout[int(ahead[1]), int(ahead[0])] > 0
    assert world.layout[int(short[1]), int(short[0])] == 0


def test_collisions_keep_the_player_out_of_walls_over_a_long_run():
    world = MazeWorld(7, height=16, width=16)
    policy = RandomPersistentPolicy(len(ACTIONS), seed=7, mean_hold=6)
    world.reset()
    r = PLAYER_RADIUS
    for _ in range(3000):
        world.step(policy.act(world))
        x, y = world.position
        corners = [(int(y + dy), int(x + dx)) for dx in (-r, r) for dy in (-r, r)]
        assert all(world.layout[c] == 0 for c in corners), (x, y)


def test_guides_shapes_and_depth():
    world = MazeWorld(8, height=48, width=64)
    world.reset()
    guides = world.render_guides()
    depth, wall_id = guides["depth"], guides["wall_id"]
    assert depth.shape == wall_id.shape == (48, 64)
    assert depth.dtype == np.float32 and wall_id.dtype == np.uint8
    # the start faces down a corridor: ceiling on top, floor below, the far wall at the horizon
    assert wall_id[0, 32] == 0 and wall_id[-1, 32] == 0 and (wall_id[24] > 0).all()
    assert set(np.unique(wall_id)) <= set(range(6))
    assert np.all(np.diff(depth[-8:, 32]) < 0)                          # floor gets nearer toward the bottom
    assert depth[-1, 32] < depth[24, 32]
    centre = depth[24, 32]
    world.step(A["forward"])
    assert world.render_guides()["depth"][24, 32] == pytest.approx(centre - MOVE_STEP, abs=1e-4)


@pytest.mark.parametrize("size", [(32, 32), (64, 64), (128, 64), (96, 160)])
def test_renders_at_any_size(size):
    world = MazeWorld(9, height=size[0], width=size[1])
    frame = world.reset()
    assert frame.shape == (*size, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 8  # walls, floor and ceiling, not one colour


def test_panorama_is_centred_on_the_heading():
    world = MazeWorld(10)
    world.reset()
    panorama = world.render_panorama(64, 128)
    assert panorama.shape == (64, 128, 3) and panorama.dtype == np.uint8
    pano = world.render_panorama_guides(64, 128)
    view = world.render_guides()
    assert pano["depth"].shape == (64, 128)
    assert pano["depth"][32, 64] == pytest.approx(view["depth"][32, 32], rel=0.02)
    assert pano["wall_id"][32, 64] == view["wall_id"][32, 32]
    # nine right turns (90°) face what the panorama shows three quarters across
    right = MazeWorld(10)
    right.reset()
    for _ in range(9):
        right.step(A["turn_right"])
    assert pano["depth"][32, 96] == pytest.approx(right.render_guides()["depth"][32, 32], rel=0.05)


def test_ray_caster_matches_a_brute_force_march():
    grid = MazeWorld(13).layout
    rng = np.random.default_rng(3)
    open_tiles = np.argwhere(grid == 0)
    row_col = open_tiles[rng.integers(len(open_tiles), size=200)]
    ox, oy = row_col[:, 1] + rng.random(200), row_col[:, 0] + rng.random(200)
    angle = rng.uniform(-np.pi, np.pi, 200)
    dx, dy = np.cos(angle), np.sin(angle)
    hits = cast_rays(grid.reshape(-1), grid.shape[0], np.zeros(200, dtype=np.intp), ox, oy, dx, dy)
    t = np.arange(0, 40, 1e-3)
    for i in range(200):
        xs, ys = ox[i] + t * dx[i], oy[i] + t * dy[i]
        rows, cols = np.clip(ys, 0, 24).astype(int), np.clip(xs, 0, 24).astype(int)  # past the hit: irrelevant
        first = np.argmax(grid[rows, cols] > 0)
        assert hits.distance[i] == pytest.approx(t[first], abs=2e-3)
        assert hits.material[i] == grid[int(ys[first]), int(xs[first])]


def test_batched_render_equals_single_render():
    world = MazeWorld(11)
    frames, positions, angles = [world.reset()], [world.position], [world.angle]
    for a in np.random.default_rng(1).integers(0, len(ACTIONS), 40):
        frames.append(world.step(int(a)))
        positions.append(world.position)
        angles.append(world.angle)
    np.testing.assert_array_equal(world.render_batch(np.array(positions), np.array(angles)), np.stack(frames))


def test_maze_batch_matches_independent_worlds():
    seeds = [3, 4, 3]
    batch = MazeBatch(seeds, height=32, width=40)
    worlds = [MazeWorld(s, height=32, width=40) for s in seeds]
    np.testing.assert_array_equal(batch.reset(), np.stack([w.reset() for w in worlds]))
    rng = np.random.default_rng(2)
    for _ in range(30):
        actions = rng.integers(0, len(ACTIONS), len(seeds))
        frames = batch.step(actions)
        np.testing.assert_array_equal(frames, np.stack([w.step(int(a)) for w, a in zip(worlds, actions)]))
    np.testing.assert_array_equal(batch.positions, [w.position for w in worlds])


def test_bad_input_raises_config_errors():
    world = MazeWorld(0)
    world.reset()
    for action in (7, -1):
        with pytest.raises(ConfigError, match=r"valid actions are 0\.\.6"):
            world.step(action)
    with pytest.raises(ConfigError, match="integer"):
        world.step(1.5)
    with pytest.raises(ConfigError, match="frame size"):
        MazeWorld(0, height=0)
    with pytest.raises(ConfigError, match="inside the maze"):
        world.render_batch([[-3.0, 2.0]], [0.0])
    with pytest.raises(ConfigError, match="valid policies are explore, random"):
        make_policy("greedy", world, seed=0)


def test_random_policy_holds_actions_and_is_deterministic():
    policy, again = RandomPersistentPolicy(7, seed=3, mean_hold=5), RandomPersistentPolicy(7, seed=3, mean_hold=5)
    actions = [policy.act(None) for _ in range(2000)]
    assert actions == [again.act(None) for _ in range(2000)]
    changes = np.count_nonzero(np.diff(actions))
    assert 2000 / changes > 3  # held for several frames on average
    assert set(actions) == set(range(7))
    policy.reset()
    assert [policy.act(None) for _ in range(50)] == actions[:50]


def test_explorer_uses_every_action_and_covers_the_maze():
    world = MazeWorld(12, height=16, width=16)
    world.reset()
    policy = make_policy("explore", world, seed=12)
    assert isinstance(policy, ExplorerPolicy) and set(POLICIES) == {"random", "explore"}
    actions, rooms = [], set()
    for _ in range(2000):
        actions.append(policy.act(world))
        world.step(actions[-1])
        x, y = world.position
        rooms.add((int(y) // 2, int(x) // 2))
    counts = np.bincount(actions, minlength=len(ACTIONS))
    assert (counts > 0).all(), counts
    assert counts.argmax() == A["forward"]
    assert counts[A["strafe_left"]] + counts[A["strafe_right"]] > 40 and counts[A["backward"]] > 20
    assert len(rooms) >= 20
