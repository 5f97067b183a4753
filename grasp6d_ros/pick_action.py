"""executor_node's ``~/pick`` action (grasp6d_ros/action/Pick): goal forms, the detection call, feedback, cancel.

A goal is either a grasp (``grasp`` + ``header``, as ExecuteGrasp) or a detection request (``grasp`` left at its
default; the DetectGrasps fields of the goal are sent to the ``detect_service`` parameter's service). Either way
the node's one pick path (:meth:`ExecutorNode.run_pick`) runs it, this module only turns its progress into
feedback and its outcome into the goal's end state: SUCCEEDED, CANCELED (stopped at a safe point on request) or
ABORTED (failed or refused, with the reason in ``message``).
"""
from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup

from grasp6d_core.errors import Grasp6dError
from grasp6d_ros.services import call_with_retry

DETECT_STAGE = "detect"
# The goal's detection request: DetectGrasps' request fields of the same names (the cloud is the TSDF surface).
DETECTION_FIELDS = ("max_grasps", "min_score", "target_frame", "mask", "target_label", "camera_info", "roi_min",
                    "roi_max", "target_object_id", "approach_axis", "max_approach_angle")
# Numbers a detection request must carry as finite values (the detector checks mask and camera_info itself).
FINITE_FIELDS = ("min_score", "roi_min", "roi_max", "approach_axis", "max_approach_angle")
# A detection that answers slower than this is asked again (an idempotent call; Fast DDS may lose a first answer).
DETECT_ATTEMPT_TIMEOUT = 15.0
# How long a cancelled pick waits for rclpy to move its goal to CANCELING before ending it (the cancel callback
# returns first; ending a goal as CANCELED is only allowed from there).
CANCELING_WAIT = 2.0


class GoalError(Grasp6dError, ValueError):
    """A goal that cannot be run as sent; the text names the field."""


class DetectionFailed(Grasp6dError, RuntimeError):
    """/detect_grasps was not there, did not answer, or answered without grasps."""

    stage = DETECT_STAGE


def _numbers(value) -> list[float]:
    if hasattr(value, "x"):
        return [value.x, value.y, value.z]
    return [float(value)]


def detection_fields_set(goal) -> list[str]:
    """The detection fields of ``goal`` that differ from their defaults ("no constraint")."""
    from grasp6d_ros.action import Pick
    default = Pick.Goal()
    return [name for name in DETECTION_FIELDS if getattr(goal, name) != getattr(default, name)]


def is_grasp_goal(goal) -> bool:
    """True for the grasp form, False for the detection form; GoalError for a goal that carries both."""
    from grasp6d_ros.msg import Grasp6D
    if goal.grasp == Grasp6D():
        return False
    detection = detection_fields_set(goal)
    if detection:
        raise GoalError(f"goal has both a grasp and a detection request ({', '.join(detection)} set): send a grasp "
                        "or detection fields, not both")
    return True


def detection_request(goal):
    """The DetectGrasps request of a detection goal; GoalError for a non-finite number."""
    from grasp6d_ros.srv import DetectGrasps
    for name in FINITE_FIELDS:
        values = _numbers(getattr(goal, name))
        if not np.all(np.isfinite(values)):
            raise GoalError(f"goal.{name} must be finite, got {values if len(values) > 1 else values[0]}")
    request = DetectGrasps.Request()
    for name in DETECTION_FIELDS:
        setattr(request, name, getattr(goal, name))
    return request


class PickServer:
    """The ``~/pick`` action server of ``node`` (an ExecutorNode)."""

    def __init__(self, node):
        from grasp6d_ros.action import Pick
        from grasp6d_ros.srv import DetectGrasps
        self._node, self._Pick = node, Pick
        group = ReentrantCallbackGroup()   # the detection answer and cancels arrive while a goal runs
        self._detect = node.create_client(DetectGrasps, node.param("detect_service"), callback_group=group)
        self._server = ActionServer(node, Pick, "~/pick", execute_callback=self._execute,
                                    goal_callback=lambda goal: GoalResponse.ACCEPT,
                                    cancel_callback=self._on_cancel, callback_group=group)
        self.name = node.resolve_topic_name("~/pick")
        self._lock = threading.Lock()
        self._running: tuple[bytes, threading.Event] | None = None   # the goal that holds the arm

    def destroy(self) -> None:
        """Node.destroy_node leaves action servers alone, and one left keeps the node in the ROS graph."""
        self._server.destroy()

    def _on_cancel(self, goal_handle) -> CancelResponse:
        """Accept; the goal that runs stops at its next safe point and the backend's motion is stopped now where
        it can be (MoveIt). A goal not yet started ends before it moves."""
        with self._lock:
            running = self._running
        if running is not None and running[0] == bytes(goal_handle.goal_id.uuid):
            running[1].set()
            self._node.cancel_motion()
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle):
        goal, stop = goal_handle.request, threading.Event()
        stop_requested = lambda: stop.is_set() or goal_handle.is_cancel_requested  # noqa: E731

        def progress(stage: str, attempt: int, grasp, header) -> None:
            feedback = self._Pick.Feedback(stage=stage, attempt=attempt)
            if grasp is not None:
                feedback.grasp, feedback.header = grasp, header
            goal_handle.publish_feedback(feedback)

        def requested():
            with self._lock:   # run_pick holds the arm now: a cancel of this goal may stop its motion
                self._running = (bytes(goal_handle.goal_id.uuid), stop)
            return self._grasps(goal, progress, stop_requested)
        try:
            outcome = self._node.run_pick(requested, goal.max_attempts, progress, stop_requested)
        finally:
            with self._lock:
                self._running = None
        result = self._Pick.Result(success=outcome.success, stage=outcome.stage, message=outcome.message)
        if outcome.grasp is not None:
            result.grasp, result.header = outcome.grasp, outcome.header
        if outcome.success:
            goal_handle.succeed()
        elif outcome.cancelled and self._canceling(goal_handle):
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return result

    @staticmethod
    def _canceling(goal_handle) -> bool:
        deadline = time.monotonic() + CANCELING_WAIT
        while not goal_handle.is_cancel_requested and time.monotonic() < deadline:
            time.sleep(0.01)
        return goal_handle.is_cancel_requested

    def _grasps(self, goal, progress, stop_requested) -> tuple[list, Any]:
        """The goal's grasp, or the ranked grasps /detect_grasps answers its detection request with."""
        if is_grasp_goal(goal):
            return [goal.grasp], goal.header
        request = detection_request(goal)
        from grasp6d_ros.executor_node import StoppedBeforeMotion
        progress(DETECT_STAGE, 0, None, None)
        timeout = float(self._node.param("detect_timeout"))
        try:
            answer = call_with_retry(self._detect, request, timeout=timeout, stop_requested=stop_requested,
                                     attempt_timeout=min(timeout, DETECT_ATTEMPT_TIMEOUT))
        except TimeoutError as error:
            raise DetectionFailed(f"detection failed: {error} (detect_timeout {timeout:g} s; is detector_node "
                                  "running?)") from error
        if answer is None or stop_requested():
            raise StoppedBeforeMotion(DETECT_STAGE)
        if not answer.success:
            raise DetectionFailed(f"detection failed: {answer.message}")
        if not answer.grasps.grasps:
            raise DetectionFailed(f"detection found no grasp: {answer.message}")
        return list(answer.grasps.grasps), answer.grasps.header
