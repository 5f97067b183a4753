"""PyBullet judge: the simulated Franka hand, the antipodal baseline and the `grasp6d sim-bench` CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

from grasp6d_core.rotations import grasp_rotation
from grasp6d_core.sim.hand import SimHand, hand_pose_for_grasp
from grasp6d_core.sim.world import DEFAULT_CAMERA, ClutterWorld


@pytest.fixture()
def cube_world():
    world = ClutterWorld(seed=0)
    cube = world.add_object("cube_small.urdf", [0.0, 0.0, 0.025])  # 5 cm cube on the table
    world.settle(60)
    hand = SimHand(world)
    yield world, hand, cube
    hand.close()
    world.close()


def _top_down(point, angle=0.0):
    T = np.eye(4)
    T[:3, :3] = grasp_rotation(np.array([0.0, 0.0, -1.0]), angle)
    T[:3, 3] = point
    return T


def test_scripted_grasp_lifts_the_cube(cube_world):
    world, hand, cube = cube_world
    outcome = hand.execute(_top_down([0.0, 0.0, 0.045]), width=0.08, depth=0.02)
    assert outcome.success and outcome.stage == "done" and outcome.object_id == cube
    assert world.height_of(cube) < 0.2  # released at the end: the hand parks and the cube falls back


def test_closing_on_air_fails_and_table_collision_is_caught(cube_world):
    world, hand, cube = cube_world
    air = hand.execute(_top_down([0.15, 0.1, 0.05]), width=0.08, depth=0.02)
    assert not air.success and air.stage == "close"
    into_table = hand.execute(_top_down([0.0, 0.0, 0.005]), width=0.08, depth=0.03)
    assert not into_table.success and into_table.stage in ("pregrasp", "approach")
    with pytest.raises(ValueError, match="4x4"):
        hand.execute(np.eye(3))


def test_hand_pose_puts_fingertips_depth_past_grasp_point():
    T = _top_down([0.1, 0.0, 0.2])
    hand_T = hand_pose_for_grasp(T, depth=0.03)
    np.testing.assert_allclose(hand_T[:3, 2], [0.0, 0.0, -1.0], atol=1e-9)  # hand z = approach
    np.testing.assert_allclose(hand_T[:3, 1], T[:3, 1], atol=1e-9)          # same closing axis
    np.testing.assert_allclose(hand_T[:3, 3], [0.1, 0.0, 0.2 - 0.03 + 0.1034], atol=1e-9)


def test_rendered_cloud_is_metric():
    world = ClutterWorld(seed=0)
    try:
        world.add_object("cube_small.urdf", [0.0, 0.0, 0.025])
        pts = world.point_cloud()
        top = pts[(np.abs(pts[:, 0]) < 0.02) & (np.abs(pts[:, 1]) < 0.02)]
        assert abs(np.median(top[:, 2]) - 0.05) < 0.004  # cube top face at 5 cm
        table = pts[np.abs(pts[:, 0]) > 0.1]
        assert abs(np.median(table[:, 2])) < 0.003
    finally:
        world.close()


def test_sim_bench_cli_antipodal_round():
    cmd = [sys.executable, "-m", "grasp6d_core.cli", "sim-bench", "--detector", "antipodal", "--rounds", "1",
           "--count", "2", "--seed", "3", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)   # --json: stdout is one JSON object and nothing else (no bullet chatter)
    assert 0.0 <= result["success_rate"] <= 1.0 and 0.0 <= result["declutter_rate"] <= 1.0
    log = result["per_round"][0]
    assert 1 <= len(log["attempts"]) <= 15 and log["removed"] == sum(a["success"] for a in log["attempts"])
    bad = subprocess.run(cmd[:5] + ["/nonexistent.ckpt", "--rounds", "1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "cannot load detector" in bad.stderr


def test_checkpoint_detector_grasps_pass_the_panda_filter():
    """A learned detector in sim-bench gets the antipodal baseline's hand filter: every grasp it hands to the
    simulated Franka hand is one the hand's fingers and body can reach in the fused cloud."""
    from grasp6d_core.physics.hands import panda_feasible
    from grasp6d_core.sim.antipodal import cloud_with_normals
    from grasp6d_core.sim.bench import checkpoint_detector
    from grasp6d_core.sim.hand import MAX_OPENING
    from grasp6d_core.sim.world import RING_CAMERAS
    detect = checkpoint_detector(None)      # the shipped weights
    world = ClutterWorld(seed=2)
    try:
        world.reset("packed", "seen", 3)
        views = [(world.point_cloud(T_world_camera=T), T) for T in [DEFAULT_CAMERA] + RING_CAMERAS]
        grasps = detect(views)
    finally:
        world.close()
    fused, _ = cloud_with_normals([(p, T[:3, 3]) for p, T in views])
    assert 0 < len(grasps) <= 50 and np.all(np.diff(grasps.scores) <= 0)
    assert panda_feasible(fused, grasps, fused[:, 2] > 0.004, MAX_OPENING).all()
