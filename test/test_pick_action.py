"""executor_node's ~/pick action over real rclpy + Fast DDS: an outside ActionClient sends goals, hears the stages as
feedback and cancels; detector_node (antipodal, on the cloud of a PyBullet scene) answers the detection, the sim
hand or the MoveIt stand-ins (test/moveit_standins.py) move."""
from __future__ import annotations

import importlib.util
import subprocess
import threading
from dataclasses import dataclass, field

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.parameter import Parameter

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation
from grasp6d_ros.conversions import grasp_group_to_msg, numpy_to_pointcloud2
from grasp6d_ros.executor_node import LATCHED, ExecutorNode
from ros_helpers import spinning, wait_for

STAGES = ["pregrasp", "approach", "close", "lift", "retreat"]
CUBE_TOP = 0.05


@dataclass
class Run:
    """One goal as the client saw it: the feedback in order, the final status and the result."""
    feedback: list = field(default_factory=list)
    status: int | None = None
    result: object = None

    @property
    def stages(self) -> list[str]:
        return [f.stage for f in self.feedback]


def send(client: ActionClient, goal, cancel_at: str | None = None, timeout: float = 60.0) -> Run:
    """Send ``goal``; with ``cancel_at``, ask to cancel as soon as that stage's feedback arrives."""
    run, done = Run(), threading.Event()
    handles = []

    def on_feedback(message) -> None:
        run.feedback.append(message.feedback)
        if cancel_at is not None and message.feedback.stage == cancel_at and len(handles) == 1:
            handles.append(handles[0].cancel_goal_async())

    def on_result(future) -> None:
        response = future.result()
        run.status, run.result = response.status, response.result
        done.set()

    def on_goal(future) -> None:
        handle = future.result()
        assert handle.accepted
        handles.append(handle)
        handle.get_result_async().add_done_callback(on_result)
    assert client.wait_for_server(timeout_sec=20)
    client.send_goal_async(goal, feedback_callback=on_feedback).add_done_callback(on_goal)
    assert done.wait(timeout), f"no result in {timeout} s; feedback so far: {run.stages}"
    return run


def _top_down_grasp(frame: str = "world"):
    """A top-down grasp on the 5 cm cube at the origin (Grasp6D, header)."""
    grasps = GraspGroup.from_components(scores=[0.9], widths=[0.07], depths=[0.02],
                                        rotations=grasp_rotation(np.array([[0, 0, -1.0]]), [0.0]),
                                        translations=[[0.0, 0.0, 0.035]])
    array = grasp_group_to_msg(grasps, frame)
    return array.grasps[0], array.header


def _cube_world():
    """A 5 cm cube on the table, and its fused cloud with normals from three views (world frame, z up)."""
    from grasp6d_core.sensing.synthetic import look_at
    from grasp6d_core.sim.antipodal import cloud_with_normals
    from grasp6d_core.sim.world import DEFAULT_CAMERA, ClutterWorld
    world = ClutterWorld(seed=0)
    cube = world.add_object("cube_small.urdf", [0.0, 0.0, 0.025])
    world.settle(120)
    cameras = (DEFAULT_CAMERA, look_at([0.35, 0.2, 0.5], [0, 0, 0]), look_at([-0.35, 0.2, 0.5], [0, 0, 0]))
    points, normals = cloud_with_normals([(world.point_cloud(T_world_camera=T), T[:3, 3]) for T in cameras])
    return world, cube, numpy_to_pointcloud2(points, normals, frame_id="world")


def _detector(context):
    from grasp6d_ros.detector_node import DetectorNode
    return DetectorNode(context=context, parameter_overrides=[Parameter("detector", value="antipodal")])


def _executor(backend, namespace: str = "", **params):
    overrides = [Parameter("backend", value="sim"), Parameter("base_frame", value="world"),
                 *(Parameter(k, value=v) for k, v in params.items())]
    return lambda ctx: ExecutorNode(backend=backend, context=ctx, namespace=namespace, parameter_overrides=overrides)


def _client(topic_cloud=None):
    def make(context):
        node = Node("pick_client", context=context)
        from grasp6d_ros.action import Pick
        # made before the node spins (rclpy adds an ActionClient to the waitables before it is fully built)
        node.pick = ActionClient(node, Pick, "/executor_node/pick")
        node.other_pick = ActionClient(node, Pick, "/lonely/executor_node/pick")
        if topic_cloud is not None:
            node.create_publisher(type(topic_cloud), "/surface", LATCHED).publish(topic_cloud)
        return node
    return make


def test_pick_detects_then_executes_with_feedback_cancel_and_bad_goals():
    from grasp6d_ros.action import Pick
    from grasp6d_ros.sim_backend import SimBackend
    world, cube, cloud = _cube_world()
    backend = SimBackend(world=world)
    try:
        with spinning(_detector, _executor(backend),
                      _executor(backend, namespace="lonely", detect_service="/no_detector", detect_timeout=1.0),
                      _client(cloud)) as (_, executor, lonely, client):
            # bad goals: aborted with one message each, nothing moved, and the node serves the next goal
            grasp, header = _top_down_grasp()
            both = Pick.Goal(grasp=grasp, header=header, max_grasps=5, target_object_id=2)
            nan = Pick.Goal(max_approach_angle=0.5)
            nan.roi_min.x = float("nan")
            nowhere = Pick.Goal(grasp=grasp)
            nowhere.header.frame_id = "camera_nowhere"
            negative = Pick.Goal(max_attempts=-1)
            for goal, expected in ((both, "goal has both a grasp and a detection request (max_grasps, "
                                          "target_object_id set)"),
                                   (nan, "goal.roi_min must be finite, got [nan, 0.0, 0.0]"),
                                   (nowhere, "unknown frame"),
                                   (negative, "max_attempts must be >= 0")):
                run = send(client.pick, goal)
                assert run.status == GoalStatus.STATUS_ABORTED and not run.result.success, (expected, run.result)
                assert run.result.message.startswith(expected) and run.result.stage == "none", run.result
            assert "camera_nowhere" in send(client.pick, nowhere).result.message
            run = send(client.other_pick, Pick.Goal())
            assert run.status == GoalStatus.STATUS_ABORTED and run.stages == ["detect"], run
            assert run.result.stage == "detect" and run.result.message == (
                "detection failed: service /no_detector not available (detect_timeout 1 s; is detector_node running?)")
            assert abs(world.height_of(cube) - 0.025) < 0.002          # nothing touched the cube

            # a grasp goal cancelled during the approach: stopped at the safe point after it, the hand parked
            run = send(client.pick, Pick.Goal(grasp=grasp, header=header), cancel_at="approach")
            assert run.status == GoalStatus.STATUS_CANCELED, run
            assert run.stages == ["pregrasp", "approach"] and run.result.stage == "approach", run
            assert not run.result.success and run.result.message.startswith("grasp #1: cancelled after approach")
            assert run.result.grasp.score == pytest.approx(0.9) and run.result.grasp.pose.position.z == pytest.approx(0.035)
            assert run.feedback[-1].attempt == 1 and run.feedback[-1].grasp == run.result.grasp
            assert backend.pose()[2, 3] > 1.0 and backend.opening() > 0.07   # out of the scene, fingers open
            assert abs(world.height_of(cube) - 0.025) < 0.002

            # a detection goal (approach cone straight down): detect, then every stage of the executed attempt
            run = send(client.pick, Pick.Goal(max_grasps=5, approach_axis=_vector(0, 0, -1), max_approach_angle=0.4))
            assert run.status == GoalStatus.STATUS_SUCCEEDED and run.result.success, run.result
            assert run.stages[0] == "detect" and run.feedback[0].attempt == 0
            last = run.feedback[-1].attempt
            assert run.stages[-5:] == STAGES and [f.attempt for f in run.feedback[-5:]] == [last] * 5
            assert run.result.stage == "retreat" and run.result.message.startswith(f"grasp #")
            assert run.result.grasp == run.feedback[-1].grasp and run.result.header.frame_id == "world"
            tried = {f.attempt: f.grasp for f in run.feedback[1:]}
            for attempt, tried_grasp in tried.items():    # the detector's grasps, inside the goal's approach cone
                q = tried_grasp.pose.orientation
                approach = _approach([q.x, q.y, q.z, q.w])
                assert np.degrees(np.arccos(-approach[2])) < np.degrees(0.4) + 0.5, (attempt, approach)
            assert world.height_of(cube) > 0.025 + 0.10      # lifted and held
    finally:
        backend.close()


def _vector(x, y, z):
    from geometry_msgs.msg import Vector3
    return Vector3(x=float(x), y=float(y), z=float(z))


def _approach(quaternion) -> np.ndarray:
    from scipy.spatial.transform import Rotation
    return Rotation.from_quat(quaternion).as_matrix()[:, 0]
