"""executor_node's MoveIt backend against move_group / gripper stand-ins in the real wire format, over Fast DDS.

The stand-ins (test/moveit_standins.py) speak the real moveit_msgs / control_msgs types, built by `make setup`
from ../shared/ros_interfaces; they run in their own rclpy context (their own DDS participant), so every goal,
result, cancel and planning-scene change goes through Fast DDS exactly as with a real move_group.
"""
import threading

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

pytest.importorskip("moveit_msgs.action", reason="moveit_msgs is not built: `make setup` builds it from "
                    "../shared/ros_interfaces, which a plain clone does not have")
pytest.importorskip("control_msgs.action", reason="control_msgs is not built (see moveit_msgs above)")

from moveit_msgs.msg import MoveItErrorCodes  # noqa: E402

from grasp6d_core.grasp import GraspGroup  # noqa: E402
from grasp6d_core.rotations import grasp_rotation  # noqa: E402
from grasp6d_ros.conversions import grasp_group_to_msg, numpy_to_pointcloud2  # noqa: E402
from grasp6d_ros.executor_node import LATCHED, ExecutorNode  # noqa: E402
from grasp6d_ros.moveit_adapter import TABLE_ID, TARGET_ID  # noqa: E402
from moveit_standins import PANDA_LINKS, GripperStandIn, MoveGroupStandIn  # noqa: E402
from ros_helpers import call_service, spinning, wait_for  # noqa: E402
from test_planning_scene_geometry import _box_surface  # noqa: E402

CUBE = ([0.5, 0.0, 0.025], [0.05, 0.05, 0.05])          # the target
NEIGHBOUR = ([0.5, 0.15, 0.04], [0.04, 0.04, 0.08])     # another object on the table


def _scene_cloud():
    xs, ys = np.arange(0.2, 0.8, 0.005), np.arange(-0.3, 0.3, 0.005)
    table = np.array([[x, y, 0.0] for x in xs for y in ys])
    points = np.concatenate([table, _box_surface(*CUBE), _box_surface(*NEIGHBOUR)]).astype(np.float32)
    return numpy_to_pointcloud2(points, frame_id="panda_link0")


def _grasps():
    """Two top-down grasps on the cube, best first."""
    return GraspGroup.from_components(scores=[0.9, 0.8], widths=[0.06, 0.06], depths=[0.02, 0.02],
                                      rotations=grasp_rotation(np.array([[0, 0, -1.0]] * 2), [0.0, np.pi / 2]),
                                      translations=[[0.5, 0.0, 0.035], [0.5, 0.0, 0.035]])


def _pick(move_group_setup=None, object_width=0.05, params=(), cloud=True, during=None):
    """Run one ~/execute of the ranked grasps against the stand-ins; returns (answer, move_group, gripper, executor)."""
    from grasp6d_ros.srv import ExecuteGrasp
    overrides = [Parameter("backend", value="moveit"), Parameter("max_attempts", value=3), *params]
    with spinning(lambda ctx: MoveGroupStandIn(ctx),
                  lambda ctx: GripperStandIn(ctx, object_width=object_width)) as (move_group, gripper):
        if move_group_setup:
            move_group_setup(move_group)
        with spinning(lambda ctx: ExecutorNode(context=ctx, parameter_overrides=overrides),
                      lambda ctx: Node("pick_client", context=ctx)) as (executor, client_node):
            from grasp6d_ros.msg import Grasp6DArray
            if cloud:
                from sensor_msgs.msg import PointCloud2
                client_node.create_publisher(PointCloud2, "/surface", LATCHED).publish(_scene_cloud())
            client_node.create_publisher(Grasp6DArray, "/grasps", LATCHED).publish(
                grasp_group_to_msg(_grasps(), "panda_link0"))
            assert wait_for(lambda: executor._latest is not None, 10)
            client = client_node.create_client(ExecuteGrasp, "/executor_node/execute")
            if during is not None:
                threading.Thread(target=during, args=(executor, move_group), daemon=True).start()
            answer = call_service(client, ExecuteGrasp.Request(), timeout=60, attempt_timeout=60)
            if cloud and executor._backend is not None:
                assert executor._backend._cloud is not None
    return answer, move_group, gripper, executor


def _assert_scene_cleaned(move_group):
    assert move_group.world == {} and move_group.attached == {}
    assert list(move_group.acm.entry_names) == PANDA_LINKS          # the robot's own matrix, as before
    assert ("full_scene_replaced", "") not in move_group.scene_log  # only diffs: the robot's scene is kept


def test_pick_succeeds_inside_a_planning_scene():
    answer, move_group, gripper, _ = _pick()
    assert answer.success and answer.stage == "retreat", answer.message
    assert move_group.results == [MoveItErrorCodes.SUCCESS] * 4 and not move_group.warnings
    for goal in move_group.goals:      # what move_group was asked: the configured group, frame, link and speed
        request = goal["request"]
        assert request.group_name == "panda_arm" and request.max_velocity_scaling_factor == pytest.approx(0.2)
        position = request.goal_constraints[0].position_constraints[0]
        assert position.header.frame_id == "panda_link0" and position.link_name == "panda_hand"
        assert not goal["plan_only"]
    # pregrasp, approach, lift, retreat: the approach puts the flange tcp_offset - depth above the grasp point
    heights = [goal["pose"][2, 3] for goal in move_group.goals]
    assert heights == pytest.approx([0.035 + 0.1034 - 0.02 + d for d in (0.08, 0.0, 0.10, 0.15)], abs=1e-6)
    np.testing.assert_allclose(move_group.goals[1]["pose"][:3, 2], [0, 0, -1], atol=1e-6)   # hand z down
    # the scene during the motions: table, the other object, the target; attached to the hand for lift/retreat
    objects = {TABLE_ID, TARGET_ID, "grasp6d_object_0"}
    assert [set(g["world"]) for g in move_group.goals] == [objects, objects, objects - {TARGET_ID},
                                                           objects - {TARGET_ID}]
    assert [g["attached"] for g in move_group.goals] == [[], [], [TARGET_ID], [TARGET_ID]]
    # the fingers may touch the target from the approach on (its fingertips end inside the target box), not before
    assert [g["touchable"] for g in move_group.goals] == [[], [TARGET_ID], [], []]
    kinds = [entry[0] for entry in move_group.scene_log]
    assert kinds == ["add", "add", "add", "acm", "attach", "detach", "remove", "remove", "remove"]
    assert move_group.scene_log[4] == ("attach", TARGET_ID, "panda_hand",
                                       ("panda_hand", "panda_leftfinger", "panda_rightfinger"))
    assert TARGET_ID in move_group.scene_log[3][1] and set(PANDA_LINKS) <= set(move_group.scene_log[3][1])
    # gripper: open to the grasp's 6 cm (3 cm per finger), then close on the 5 cm cube
    assert gripper.commands == [(pytest.approx(0.04), 20.0), (0.0, 20.0)]
    _assert_scene_cleaned(move_group)


def test_planning_failure_at_approach_tries_the_next_grasp():
    def fail_first_approach(move_group):
        move_group.fail_goals = {1: MoveItErrorCodes.PLANNING_FAILED}
    answer, move_group, _, _ = _pick(fail_first_approach)
    assert answer.success and answer.message.startswith("grasp #2"), answer.message
    assert move_group.results == [1, MoveItErrorCodes.PLANNING_FAILED, 1, 1, 1, 1]
    assert [entry[0] for entry in move_group.scene_log].count("add") == 6   # the scene was rebuilt per attempt
    _assert_scene_cleaned(move_group)


def test_gripper_closing_on_nothing_fails_at_close_and_stops():
    answer, move_group, gripper, _ = _pick(object_width=None)
    assert not answer.success and answer.stage == "close"
    assert "nothing between the fingers" in answer.message and "tried #1 at close" in answer.message
    assert len(move_group.goals) == 2 and len(gripper.commands) == 2       # no lift, no second grasp
    _assert_scene_cleaned(move_group)


def test_cancel_during_approach_preempts_move_group_and_tries_nothing_else():
    outcome = {}

    def cancel_when_approaching(executor, move_group):
        outcome["approaching"] = wait_for(lambda: len(move_group.goals) == 2 and move_group.moving == 1, 30)
        outcome["cancelled"] = executor._backend.cancel()

    def slow_approach(move_group):   # long enough that only a cancel ends it within the test
        move_group.slow_goals = {1: 30.0}

    answer, move_group, _, executor = _pick(slow_approach, during=cancel_when_approaching)
    assert outcome == {"approaching": True, "cancelled": True}
    assert not answer.success and answer.stage == "approach" and "cancelled" in answer.message, answer.message
    assert move_group.results == [MoveItErrorCodes.SUCCESS, MoveItErrorCodes.PREEMPTED]
    _assert_scene_cleaned(move_group)
    assert executor._backend.cancel() is False      # nothing runs any more


def test_move_group_refusals_are_reported_with_their_code():
    answer, move_group, _, _ = _pick(params=[Parameter("planning_group", value="arm")])
    assert not answer.success and answer.stage == "pregrasp"
    assert f"MoveIt error code {MoveItErrorCodes.INVALID_GROUP_NAME}" in answer.message
    assert move_group.results == [MoveItErrorCodes.INVALID_GROUP_NAME] * 2      # both ranked grasps, same refusal
    _assert_scene_cleaned(move_group)


def test_without_a_scene_cloud_nothing_moves_unless_the_scene_is_turned_off():
    answer, move_group, _, _ = _pick(cloud=False)
    assert not answer.success and "no scene cloud received on /surface" in answer.message
    assert move_group.goals == [] and move_group.scene_log == []
    answer, move_group, _, _ = _pick(cloud=False, params=[Parameter("planning_scene", value=False)])
    assert answer.success and len(move_group.goals) == 4 and move_group.scene_log == []


def test_a_missing_gripper_server_is_named_with_the_server_timeout_waited():
    answer, move_group, gripper, _ = _pick(params=[Parameter("gripper_action", value="/no_such_gripper"),
                                                   Parameter("server_timeout", value=0.5)])
    assert not answer.success and answer.stage == "pregrasp", answer.message
    assert ("action server '/no_such_gripper' for GripperCommand (pregrasp) is not available "
            "(waited server_timeout 0.5 s)") in answer.message
    assert gripper.commands == []                     # the real gripper stand-in was never addressed
    _assert_scene_cleaned(move_group)
