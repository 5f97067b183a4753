"""executor_node over real rclpy/DDS, and the MoveIt request logic without MoveIt.

The arm here is a recording backend (no robot, no MoveIt on this machine): what is under test is the node —
grasp selection from ~/grasps, frames, planning, ranked fallback, error answers — not the arm.
"""
import sys

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from scipy.spatial.transform import Rotation

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.hand import load_hand
from grasp6d_core.rotations import grasp_rotation
from grasp6d_ros.conversions import grasp_group_to_msg
from grasp6d_ros.executor_node import ExecutorNode
from grasp6d_ros.moveit_adapter import (MissingPackagesError, MoveItSettings, gripper_goal_spec,
                                        import_moveit_packages, pose_goal_spec)
from backend_helpers import PoseRecorder
from ros_helpers import call_service, spinning, wait_for


class RecordingArm:
    """Fails the approach of the first ``fail_first`` grasps, like a planner finding no path."""

    def __init__(self, fail_first=0):
        self.calls, self.fail_first, self.approaches = [], fail_first, 0

    def move(self, stage, pose):
        self.calls.append((stage, pose.copy()))
        if stage == "approach":
            self.approaches += 1
            if self.approaches <= self.fail_first:
                return False, "no motion plan found"
        return True, "ok"

    def grip(self, stage, width):
        self.calls.append((f"grip:{stage}", width))
        return True, "ok"


def _grasps():
    approaches = np.array([[0, 0, -1.0], [0.2, 0, -1.0], [0, 0.2, -1.0]])
    return GraspGroup.from_components(scores=[0.9, 0.7, 0.5], widths=[0.04, 0.05, 0.06], depths=[0.02] * 3,
                                      rotations=grasp_rotation(approaches, [0.0, 0.3, 2.0]),
                                      translations=[[0.5, 0.0, 0.05], [0.45, 0.1, 0.05], [0.55, -0.1, 0.05]])


def _run(arm, requests, publish=None, backend="sim", params=()):
    from grasp6d_ros.msg import Grasp6DArray
    from grasp6d_ros.srv import ExecuteGrasp
    answers = []
    executor_factory = lambda ctx: ExecutorNode(backend=arm, context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("backend", value=backend), Parameter("max_attempts", value=3), *params])
    with spinning(executor_factory, lambda ctx: Node("exec_client", context=ctx)) as (executor, client_node):
        client = client_node.create_client(ExecuteGrasp, "/executor_node/execute")
        if publish is not None:
            from grasp6d_ros.executor_node import LATCHED
            pub = client_node.create_publisher(Grasp6DArray, "/grasps", LATCHED)
            pub.publish(publish)
            assert wait_for(lambda: executor._latest is not None, 10)
        for request in requests:
            answers.append(call_service(client, request, timeout=15))
    return answers


def test_execute_latest_grasps_with_fallback_and_errors():
    from grasp6d_ros.srv import ExecuteGrasp
    arm = RecordingArm(fail_first=1)
    array = grasp_group_to_msg(_grasps(), "panda_link0")
    copy = lambda i: grasp_group_to_msg(_grasps(), "panda_link0").grasps[i]  # noqa: E731 (requests own their grasp)
    single = ExecuteGrasp.Request(grasp=copy(2))
    single.header.frame_id = "panda_link0"
    unknown = ExecuteGrasp.Request(grasp=copy(0))
    unknown.header.frame_id = "camera_color_optical_frame"
    bad = ExecuteGrasp.Request(grasp=copy(0))
    bad.header.frame_id = "panda_link0"
    bad.grasp.pose.position.x = float("nan")
    answers = _run(arm, [ExecuteGrasp.Request(), single, unknown, bad], publish=array)

    best_effort = answers[0]   # latest ~/grasps: #1 fails at approach, #2 is executed
    assert best_effort.success and best_effort.stage == "retreat" and best_effort.message.startswith("grasp #2")
    stages = [c[0] for c in arm.calls]
    assert stages[:3] == ["grip:pregrasp", "pregrasp", "approach"]
    assert stages[3:] == ["grip:pregrasp", "pregrasp", "approach", "grip:close", "lift", "retreat",
                          "grip:pregrasp", "pregrasp", "approach", "grip:close", "lift", "retreat"]
    # the executed approach pose: hand z along the grasp approach, flange tcp_offset behind the fingertips
    grasp = _grasps()[1]
    approach_pose = arm.calls[5][1]
    a = grasp.approaches[0]
    np.testing.assert_allclose(approach_pose[:3, 2], a, atol=1e-6)
    np.testing.assert_allclose(approach_pose[:3, 3], grasp.translations[0] + (0.02 - 0.1034) * a, atol=1e-5)

    assert answers[1].success                                   # an explicit grasp
    assert not answers[2].success and answers[2].message.startswith("unknown frame")
    assert "camera_color_optical_frame" in answers[2].message
    assert not answers[3].success and "non-finite" in answers[3].message


def test_hand_description_sets_tcp_offset_and_opening():
    from grasp6d_ros.srv import ExecuteGrasp
    request = ExecuteGrasp.Request(grasp=grasp_group_to_msg(_grasps(), "panda_link0").grasps[0])
    request.header.frame_id = "panda_link0"
    arm = RecordingArm()
    answers = _run(arm, [request], params=[Parameter("hand", value="robotiq_2f_85")])
    assert answers[0].success
    grasp = _grasps()[0]
    a = grasp.approaches[0]
    assert arm.calls[0] == ("grip:pregrasp", pytest.approx(0.085))          # the Robotiq opens to 85 mm
    approach_pose = dict((stage, pose) for stage, pose in arm.calls if stage == "approach")["approach"]
    np.testing.assert_allclose(approach_pose[:3, 3], grasp.translations[0] + (0.02 - 0.150) * a, atol=1e-5)
    answers = _run(RecordingArm(), [request], params=[Parameter("hand", value="/no/such/hand.yaml")])
    assert not answers[0].success and "hand file /no/such/hand.yaml: no such file" in answers[0].message


def _hide_moveit_packages(monkeypatch):
    """As on a machine without the ROS packages (here they may be built from ../shared for other tests)."""
    for package in ("moveit_msgs", "control_msgs", "shape_msgs"):
        for module in ("", ".msg", ".action", ".srv"):
            monkeypatch.setitem(sys.modules, package + module, None)


def test_execute_without_grasps_and_missing_moveit(monkeypatch):
    from grasp6d_ros.srv import ExecuteGrasp
    _hide_moveit_packages(monkeypatch)
    answers = _run(None, [ExecuteGrasp.Request()], backend="moveit")
    assert not answers[0].success and "no grasps received yet" in answers[0].message
    request = ExecuteGrasp.Request(grasp=grasp_group_to_msg(_grasps(), "panda_link0").grasps[0])
    request.header.frame_id = "panda_link0"
    answers = _run(None, [request, request], backend="moveit")
    for answer in answers:   # a clear error naming the missing ROS packages, and the node still answers
        assert not answer.success and "moveit_msgs" in answer.message and "control_msgs" in answer.message
        assert "backend:=sim" in answer.message


def test_moveit_request_building_as_plain_data(monkeypatch):
    settings = MoveItSettings(base_frame="world", planning_group="arm", end_effector_link="tool0")
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_euler("xyz", [np.pi, 0, 0.4]).as_matrix()
    pose[:3, 3] = [0.4, -0.1, 0.3]
    spec = pose_goal_spec(pose, settings)
    assert (spec["group_name"], spec["frame_id"], spec["link_name"]) == ("arm", "world", "tool0")
    assert spec["position"] == pytest.approx([0.4, -0.1, 0.3])
    q = spec["orientation"]
    np.testing.assert_allclose(Rotation.from_quat(q).as_matrix(), pose[:3, :3], atol=1e-9)
    assert gripper_goal_spec(0.08, settings) == {"position": pytest.approx(0.04), "max_effort": 20.0}
    # capped to the hand's widest opening, from its description (the Panda's 8 cm by default), not a fixed 10 cm
    assert gripper_goal_spec(0.5, settings)["position"] == pytest.approx(0.04)
    robotiq = MoveItSettings(max_opening=load_hand("robotiq_2f_85").max_opening)
    assert gripper_goal_spec(0.5, robotiq)["position"] == pytest.approx(0.0425)
    assert gripper_goal_spec(-1.0, robotiq)["position"] == 0.0
    with pytest.raises(ValueError, match="finite 4x4"):
        pose_goal_spec(np.full((4, 4), np.nan), settings)
    _hide_moveit_packages(monkeypatch)
    with pytest.raises(MissingPackagesError, match="moveit_msgs, control_msgs, shape_msgs"):
        import_moveit_packages()


def test_execute_in_sim_picks_a_graspable_object():
    from grasp6d_core.sim.world import ClutterWorld
    from grasp6d_ros.sim_backend import SimBackend
    from grasp6d_ros.srv import ExecuteGrasp
    world = ClutterWorld(seed=0)
    world.add_object("cube_small.urdf", [0.0, 0.0, 0.025])   # a 5 cm cube on the table
    world.settle(120)
    backend = SimBackend(world=world)
    # two top-down grasps, best first: one on the cube (angle pi: the planner flips it to the comfortable twin),
    # one on the empty table
    grasps = GraspGroup.from_components(scores=[0.9, 0.3], widths=[0.07, 0.07], depths=[0.02, 0.02],
                                        rotations=grasp_rotation(np.array([[0, 0, -1.0]] * 2), [np.pi, 0.0]),
                                        translations=[[0.0, 0.0, 0.035], [0.12, 0.12, 0.035]])
    array = grasp_group_to_msg(grasps, "panda_link0")
    on_table = ExecuteGrasp.Request(grasp=grasp_group_to_msg(grasps, "panda_link0").grasps[1])
    on_table.header.frame_id = "panda_link0"
    try:
        answers = _run(backend, [ExecuteGrasp.Request(), on_table], publish=array)
    finally:
        backend.close()
    assert answers[0].success and answers[0].stage == "retreat", answers[0].message
    assert not answers[1].success and answers[1].stage == "close" and "closed on nothing" in answers[1].message


def _execute_on_the_cube(params):
    """One top-down grasp on the cube through executor_node (its service callback, no DDS needed)."""
    import rclpy
    from rclpy.context import Context

    from grasp6d_core.sim.world import ClutterWorld
    from grasp6d_ros.sim_backend import SimBackend
    from grasp6d_ros.srv import ExecuteGrasp
    grasps = GraspGroup.from_components(scores=[0.9], widths=[0.07], depths=[0.02],
                                        rotations=grasp_rotation(np.array([[0, 0, -1.0]]), [0.0]),
                                        translations=[[0.0, 0.0, 0.035]])
    request = ExecuteGrasp.Request(grasp=grasp_group_to_msg(grasps, "panda_link0").grasps[0])
    request.header.frame_id = "panda_link0"
    world = ClutterWorld(seed=0)
    cube = world.add_object("cube_small.urdf", [0.0, 0.0, 0.025])   # a 5 cm cube on the table
    world.settle(120)
    backend, context = PoseRecorder(SimBackend(world=world)), Context()
    rclpy.init(context=context)
    node = ExecutorNode(backend=backend, context=context, parameter_overrides=[
        Parameter("backend", value="sim"), Parameter("max_attempts", value=1), *params])
    try:
        answer = node._on_execute(request, ExecuteGrasp.Response())
        lifted = world.height_of(cube) - 0.025
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
        backend.hand.close()
    return answer, backend.reached, lifted


def test_tcp_offset_parameter_moves_the_simulated_hand():
    """The sim backend executes the plan's poses: tcp_offset means in sim what it means to MoveIt."""
    answer, reached, lifted = _execute_on_the_cube([])
    assert answer.success and answer.stage == "retreat", answer.message
    # fingertips 2 cm below the grasp point (3.5 cm), the flange the Panda's 0.1034 m above them
    np.testing.assert_allclose(reached["approach"][:3, 3], [0.0, 0.0, 0.035 - 0.02 + 0.1034], atol=0.005)
    assert lifted > 0.10 + 0.05 - 0.01          # held through the lift (10 cm) and the retreat (5 cm up)
    answer, reached_short, lifted = _execute_on_the_cube([Parameter("tcp_offset", value=0.1034 - 0.04)])
    np.testing.assert_allclose(reached_short["pregrasp"][:3, 3], reached["pregrasp"][:3, 3] - [0, 0, 0.04], atol=1e-6)
    # 4 cm less tcp_offset puts the fingertips 2.5 cm into the table: the approach is blocked, nothing is lifted
    assert not answer.success and answer.stage == "approach", answer.message
    assert abs(lifted) < 0.01


def test_both_backends_implement_the_one_backend_protocol():
    import inspect

    from grasp6d_core.execution import ExecutorBackend
    from grasp6d_ros.moveit_adapter import MoveItBackend
    from grasp6d_ros.sim_backend import SimBackend
    for backend in (MoveItBackend, SimBackend):
        assert issubclass(backend, ExecutorBackend), backend
        for method in ("move", "grip"):
            assert list(inspect.signature(getattr(backend, method)).parameters) == \
                list(inspect.signature(getattr(ExecutorBackend, method)).parameters), (backend, method)
    with pytest.raises(TypeError, match="lacks move"):
        ExecutorNode(backend=object())


def test_executor_defaults_are_the_panda_preset():
    """One definition of the Panda hand: executor_node's defaults, the planner's and config/executor.yaml (which
    repeats them for the reader) all equal the ``panda`` preset."""
    from pathlib import Path

    import yaml

    from grasp6d_core.execution import PANDA_MAX_REACH, PlannerConfig
    from grasp6d_core.hand import PANDA
    from grasp6d_ros.executor_node import DEFAULTS
    config = Path(__file__).resolve().parents[1] / "config" / "executor.yaml"
    shipped = yaml.safe_load(config.read_text())["executor_node"]["ros__parameters"]
    for name, value in {"tcp_offset": PANDA.tcp_offset, "open_width": PANDA.max_opening,
                        "max_grasp_depth": PANDA.finger_depth_max, "max_reach": PANDA_MAX_REACH}.items():
        assert shipped[name] == DEFAULTS[name] == value, name
    assert PlannerConfig().tcp_offset == PANDA.tcp_offset
