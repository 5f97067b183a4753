"""PyBullet judge: the simulated Franka hand, the antipodal baseline and the `grasp6d sim-bench` CLI."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grasp6d_core.execution import PlannerConfig, plan_grasp, run_plan
from grasp6d_core.execution.planning import STAGE_POSES
from grasp6d_core.hand import PANDA
from grasp6d_core.rotations import grasp_rotation
from grasp6d_core.sim.hand import SimHand, execute_grasp
from grasp6d_core.sim.world import DEFAULT_CAMERA, ClutterWorld
from backend_helpers import PoseRecorder


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
    outcome = execute_grasp(hand, _top_down([0.0, 0.0, 0.045]), width=0.08, depth=0.02)
    assert outcome.success and outcome.stage == "retreat" and outcome.object_id == cube
    assert world.height_of(cube) < 0.2  # released at the end: the hand parks and the cube falls back


def test_closing_on_air_fails_and_table_collision_is_caught(cube_world):
    world, hand, cube = cube_world
    air = execute_grasp(hand, _top_down([0.15, 0.1, 0.05]), width=0.08, depth=0.02)
    assert not air.success and air.stage == "close" and "closed on nothing" in air.message
    into_table = execute_grasp(hand, _top_down([0.0, 0.0, 0.005]), width=0.08, depth=0.03)
    assert not into_table.success and into_table.stage in ("pregrasp", "approach")
    with pytest.raises(ValueError, match="4x4"):
        execute_grasp(hand, np.eye(3))


def test_sim_hand_moves_to_the_plan_poses_and_tcp_offset_moves_it(cube_world):
    """The simulated hand is put where the plan says, pre-grasp to retreat, so ``tcp_offset`` means in sim what it
    means to MoveIt: the flange pose, with the fingertips tcp_offset ahead of it."""
    world, hand, cube = cube_world
    grasp = _top_down([0.0, 0.0, 0.045])
    plan = plan_grasp(grasp, 0.05, 0.02, PlannerConfig())
    recorder = PoseRecorder(hand)
    result = run_plan(plan, recorder.move, recorder.grip)
    assert result.success and result.stage == "retreat", result.message
    for stage in STAGE_POSES:
        np.testing.assert_allclose(recorder.reached[stage][:3, 3], plan.poses[stage][:3, 3], atol=0.005)
        np.testing.assert_allclose(recorder.reached[stage][:3, :3], plan.poses[stage][:3, :3], atol=0.01)
    # approach: flange tcp_offset above the fingertips, which are depth (2 cm) below the grasp point
    assert recorder.reached["approach"][2, 3] == pytest.approx(0.045 - 0.02 + PANDA.tcp_offset, abs=0.005)
    assert hand.held_object() == cube and world.height_of(cube) > 0.025 + 0.10 + 0.05 - 0.01  # lifted, retreated
    hand.park()
    world.settle(240)

    short = plan_grasp(grasp, 0.05, 0.02, PlannerConfig(tcp_offset=PANDA.tcp_offset - 0.04))
    recorder = PoseRecorder(hand)
    result = run_plan(short, recorder.move, recorder.grip)
    # 4 cm less tcp_offset: the hand goes 4 cm lower, its fingertips into the table
    assert recorder.reached["pregrasp"][2, 3] == pytest.approx(plan.poses["pregrasp"][2, 3] - 0.04, abs=1e-6)
    assert not result.success and result.stage == "approach", result.message


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


def test_the_whole_hand_check_is_the_panda_preset_and_the_sim_hand():
    """One description of the Franka hand: the whole-hand check's fingers and body are the panda preset's, and
    the preset matches the simulated hand's meshes (pybullet_data: finger 21 mm wide, body 0.20 x 0.063 m)."""
    import pybullet_data
    import trimesh
    from grasp6d_core.grasp import GraspGroup
    from grasp6d_core.hand import full_hand_feasible
    meshes = Path(pybullet_data.getDataPath()) / "franka_panda" / "meshes" / "collision"
    finger = trimesh.load(meshes / "finger.obj", force="mesh").extents     # x across the closing axis, z length
    body = trimesh.load(meshes / "hand.obj", force="mesh").extents         # y across the closing axis, x thick
    assert abs(finger[0] - PANDA.finger_width) < 0.002
    assert body[1] <= PANDA.body_span < body[1] + 0.03 and body[0] <= PANDA.body_thickness < body[0] + 0.01

    # a grasp at the origin (x approach, y closing, z finger height), 2 cm deep, something to hold between the jaws
    grasp = GraspGroup.from_components([1.0], [0.05], [0.02], np.eye(3)[None], np.zeros((1, 3)))
    held = np.stack([np.zeros(20), np.linspace(-0.01, 0.01, 20), np.zeros(20)], axis=1)
    half_open = PANDA.max_opening / 2

    def takes(probe):
        return bool(full_hand_feasible(np.vstack([held, probe]), grasp, PANDA)[0])
    assert takes([0.0, 0.0, 0.0])
    # beside a finger of the fully opened hand: inside its 2 cm height it collides, 1.2 cm off its axis it does not
    assert not takes([0.0, half_open + 0.01, 0.008]) and takes([0.0, half_open + 0.01, 0.012])
    # behind the fingertips, beyond the fingers' reach across: the body box (0.22 m) hits, past its edge nothing
    behind = 0.02 - PANDA.body_offset - 0.01
    assert not takes([behind, 0.10, 0.0]) and takes([behind, PANDA.body_span / 2 + 0.005, 0.0])


def test_checkpoint_detector_grasps_pass_the_panda_filter():
    """A learned detector in sim-bench gets the antipodal baseline's hand filter: every grasp it hands to the
    simulated Franka hand is one the hand's fingers and body can reach in the fused cloud."""
    from grasp6d_core.hand import full_hand_feasible
    from grasp6d_core.model.detector import GraspDetector
    from grasp6d_core.sim.antipodal import cloud_with_normals
    from grasp6d_core.sim.bench import pipeline_detector
    from grasp6d_core.sim.world import RING_CAMERAS
    detect = pipeline_detector(GraspDetector.from_checkpoint(None))      # the shipped weights
    world = ClutterWorld(seed=2)
    try:
        world.reset("packed", "seen", 3)
        views = [(world.point_cloud(T_world_camera=T), T) for T in [DEFAULT_CAMERA] + RING_CAMERAS]
        grasps = detect(views)
    finally:
        world.close()
    fused, _ = cloud_with_normals([(p, T[:3, 3]) for p, T in views])
    assert 0 < len(grasps) <= 50 and np.all(np.diff(grasps.scores) <= 0)
    assert full_hand_feasible(fused, grasps, PANDA, fused[:, 2] > 0.004).all()
