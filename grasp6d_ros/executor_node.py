"""executor_node: serves the ~/pick action (grasp6d_ros/action/Pick) and the ~/execute service
(grasp6d_ros/srv/ExecuteGrasp), and picks with MoveIt or the simulated hand.

Both run one code path, :meth:`ExecutorNode.run_pick`: the grasps (given, the latest ~/grasps, or detected by
/detect_grasps for a Pick goal) are checked against the hand and arm, planned in ``base_frame`` by
grasp6d_core.execution (TCP offset, π symmetry) and tried best first, falling back to the next ranked grasp when a
motion fails before the fingers touch anything. This node only wires ROS to it; the action's goal handling is
grasp6d_ros/pick_action.py. The stage reached and the reason for a failure are returned and logged.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from grasp6d_core.errors import Grasp6dError
from grasp6d_core.execution import (NO_STAGE, PANDA_MAX_REACH, Cancellable, ExecutorBackend, GraspLimits,
                                    PlannerConfig, StageControl, attempt_runner, execute_ranked,
                                    grasp_limit_violations, plan_grasps)
from grasp6d_core.execution.sequencer import cancelled_at
from grasp6d_core.hand import PANDA, load_hand
from grasp6d_ros.conversions import ConversionError, grasp_msgs_to_group
from grasp6d_ros.frames import FrameError, TransformLookup
from grasp6d_ros.spin import spin_until_shutdown

DEFAULTS: dict[str, Any] = {
    "backend": "sim", "base_frame": "panda_link0", "tcp_offset": PANDA.tcp_offset, "pregrasp_distance": 0.08,
    "lift_height": 0.10, "retreat_distance": 0.05, "max_approach_tilt_deg": 90.0, "max_attempts": 3,
    "open_width": PANDA.max_opening, "max_grasp_depth": PANDA.finger_depth_max, "max_reach": PANDA_MAX_REACH,
    "move_group_action": "move_action", "gripper_action": "/panda_hand_controller/gripper_cmd",
    "planning_group": "panda_arm", "end_effector_link": "panda_hand", "velocity_scaling": 0.2,
    "gripper_max_effort": 20.0, "min_hold_width": 0.004, "tf_timeout": 0.2, "static_transforms": [""],
    "hand": "",
    "planning_scene": True, "scene_topic": "surface", "apply_planning_scene_service": "/apply_planning_scene",
    "get_planning_scene_service": "/get_planning_scene",
    "touch_links": ["panda_hand", "panda_leftfinger", "panda_rightfinger"],
    "sim_scene": "pile", "sim_objects": "seen", "sim_count": 3, "sim_seed": 0,
    "detect_service": "/detect_grasps", "detect_timeout": 30.0, "server_timeout": 10.0,
}
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# A request's quaternion must be a rotation: farther than this from norm 1 it is refused, not normalised.
QUATERNION_UNIT_TOLERANCE = 1e-3


class BackendError(Grasp6dError, RuntimeError):
    pass


class GraspRefused(Grasp6dError, ValueError):
    """The requested grasp is outside what the hand or arm can do; nothing moved."""


class StoppedBeforeMotion(Grasp6dError, RuntimeError):
    """A pick stopped on request before its first motion (e.g. during the detection); ``stage`` is where."""

    def __init__(self, stage: str):
        super().__init__(cancelled_at(stage).message)
        self.stage = stage


@dataclass
class PickOutcome:
    """How a pick ended: as ExecuteGrasp / Pick answer it, plus the grasp executed last (a Grasp6D) and its header."""
    success: bool
    stage: str
    message: str
    cancelled: bool = False
    grasp: Any = None
    header: Any = None


# stage, attempt (0 before the first), the Grasp6D being tried (None before the first) and its header
ProgressFn = Callable[[str, int, Any, Any], None]


def create_backend(name: str, node: "ExecutorNode") -> ExecutorBackend:
    """The backend ``name`` (move(stage, pose) / grip(stage, width)), set up from the node's parameters."""
    if name == "moveit":
        from grasp6d_ros.moveit_adapter import MissingPackagesError, MoveItBackend, MoveItSettings
        settings = MoveItSettings(**{k: node.param(k) for k in (
            "base_frame", "planning_group", "end_effector_link", "move_group_action", "gripper_action",
            "velocity_scaling", "gripper_max_effort", "min_hold_width", "planning_scene", "scene_topic",
            "apply_planning_scene_service", "get_planning_scene_service")},
            open_width=node.hand_settings()[1], max_opening=node.grasp_limits().max_width,
            touch_links=tuple(node.param("touch_links")))
        timeout = float(node.param("tf_timeout"))
        try:
            return MoveItBackend(node, settings, transform_lookup=lambda target, source: node._frames.lookup(
                target, source, timeout=timeout), server_timeout=float(node.param("server_timeout")))
        except MissingPackagesError as error:
            raise BackendError(str(error)) from error
    if name == "sim":
        try:
            from grasp6d_core.sim import hand  # noqa: F401 (the simulated hand)
        except ImportError as error:
            raise BackendError(f"the sim backend needs grasp6d_core.sim (the simulated hand): {error}") from error
        from grasp6d_ros.sim_backend import SimBackend
        return SimBackend(scene=node.param("sim_scene"), objects=node.param("sim_objects"),
                          count=int(node.param("sim_count")), seed=int(node.param("sim_seed")))
    raise BackendError(f"backend '{name}' is not one of moveit|sim")


class ExecutorNode(Node):
    def __init__(self, backend: ExecutorBackend | None = None, **node_kwargs):
        if backend is not None and not isinstance(backend, ExecutorBackend):
            raise TypeError(f"executor backend {type(backend).__name__} lacks move(stage, pose) / grip(stage, width)")
        super().__init__("executor_node", **node_kwargs)
        for name, value in DEFAULTS.items():
            self.declare_parameter(name, value)
        self._backend = backend
        self._busy = threading.Lock()   # one arm: one execution at a time
        self._latest = None
        self._frames = TransformLookup(self)
        from grasp6d_ros.msg import Grasp6DArray
        from grasp6d_ros.srv import ExecuteGrasp
        self.create_subscription(Grasp6DArray, "grasps", self._on_grasps, LATCHED,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        self.create_service(ExecuteGrasp, "~/execute", self._on_execute, callback_group=ReentrantCallbackGroup())
        from grasp6d_ros.pick_action import PickServer
        self._pick_server = PickServer(self)
        if self._backend is None and self.param("backend") == "moveit":
            # Made before any executor spins this node: rclpy adds an ActionClient to the node's waitables before
            # it has finished constructing it, so one made inside a callback can crash the spinning thread; the
            # scene subscription also hears the surface from the start. A failure is said now and again per request.
            try:
                self._backend = create_backend("moveit", self)
            except Grasp6dError as error:
                self.get_logger().warning(f"moveit backend not ready: {error}")
        self.get_logger().info(f"serving the action {self._pick_server.name} and the service "
                               f"{self.resolve_service_name('~/execute')} (backend {self.param('backend')})")

    def destroy_node(self) -> None:
        # rclpy destroys a node's publishers, services, clients..., not its action servers and clients, and a
        # node handle they still use stays in the ROS graph after it was destroyed
        self._pick_server.destroy()
        if hasattr(self._backend, "destroy_action_clients"):
            self._backend.destroy_action_clients()
        super().destroy_node()

    def param(self, name: str):
        return self.get_parameter(name).value

    def hand_settings(self) -> tuple[float, float]:
        """(tcp_offset, open_width): from the ``hand`` description (preset or YAML, the detector's hand) when
        set, else the tcp_offset / open_width parameters. A bad hand raises HandError (a ValueError)."""
        if self.param("hand"):
            hand = load_hand(self.param("hand"))
            return hand.tcp_offset, hand.max_opening
        return float(self.param("tcp_offset")), float(self.param("open_width"))

    def planner_config(self) -> PlannerConfig:
        return PlannerConfig(tcp_offset=self.hand_settings()[0], pregrasp_distance=self.param("pregrasp_distance"),
                             lift_height=self.param("lift_height"), retreat_distance=self.param("retreat_distance"),
                             max_approach_tilt_deg=self.param("max_approach_tilt_deg")).validate()

    def grasp_limits(self) -> GraspLimits:
        """Widest and deepest grasp the hand takes (from the ``hand`` description when set) and the arm's reach."""
        max_reach = float(self.param("max_reach"))
        if self.param("hand"):
            return GraspLimits.for_hand(load_hand(self.param("hand")), max_reach)
        return GraspLimits(max_width=float(self.param("open_width")), max_depth=float(self.param("max_grasp_depth")),
                           max_reach=max_reach)

    def _within_limits(self, grasps, msgs, base: str):
        """The grasps the hand and arm can take, and their messages; the others are logged (a ranked list) or
        refused (one grasp).

        Widths and depths are checked as requested (``msgs``); GraspGroup clamps widths to GraspNet's range."""
        reasons = grasp_limit_violations([g.width for g in msgs], [g.depth for g in msgs], grasps.translations,
                                         self.grasp_limits())
        if len(grasps) == 1 and reasons[0] is not None:
            raise GraspRefused(f"grasp refused, nothing moved: {reasons[0]} (in '{base}')")
        for index, reason in enumerate(reasons):
            if reason is not None:
                self.get_logger().info(f"grasp {index + 1} of {len(grasps)} skipped: {reason}")
        keep = np.array([reason is None for reason in reasons], dtype=bool)
        if not keep.any():
            raise GraspRefused(f"all {len(grasps)} grasps refused, nothing moved; the first: {reasons[0]} "
                               f"(in '{base}')")
        return grasps[keep], [msg for msg, kept in zip(msgs, keep) if kept]

    def _on_grasps(self, msg) -> None:
        self._latest = msg

    def _requested_grasps(self, request):
        from grasp6d_ros.msg import Grasp6D
        if request.grasp == Grasp6D():  # an empty request: take the latest detection result
            latest = self._latest
            if latest is None or not latest.grasps:
                raise BackendError("no grasp in the request and no grasps received yet on "
                                   f"{self.resolve_topic_name('grasps')} (call /detect_grasps first)")
            return list(latest.grasps), latest.header
        return [request.grasp], request.header

    def _on_execute(self, request, response):
        outcome = self.run_pick(lambda: self._requested_grasps(request), what="execute")
        response.success, response.stage, response.message = outcome.success, outcome.stage, outcome.message
        return response

    def cancel_motion(self) -> bool:
        """Stop the backend's motion under way, where it can be interrupted (MoveIt); the pick itself stops at
        its next safe point. False when nothing was stopped."""
        backend = self._backend
        return isinstance(backend, Cancellable) and backend.cancel()

    def run_pick(self, requested: Callable[[], tuple[list, Any]], max_attempts: int = 0,
                 progress: ProgressFn | None = None, stop_requested: Callable[[], bool] | None = None,
                 what: str = "pick") -> PickOutcome:
        """The one path of ~/execute and ~/pick: one pick at a time; ``requested()`` gives the grasp messages and
        their header (it may detect them); then limits, frames, planning and the ranked attempts
        (``max_attempts`` 0 = the parameter). ``progress`` hears each stage, ``stop_requested`` is asked at each
        safe point. Every failure is an outcome with its message, never an exception."""
        if not self._busy.acquire(blocking=False):
            outcome = PickOutcome(False, NO_STAGE, "busy: another grasp is being executed")
        else:
            try:
                outcome = self._pick(requested, max_attempts, progress, stop_requested or (lambda: False))
            except StoppedBeforeMotion as stopped:
                outcome = PickOutcome(False, stopped.stage, str(stopped), cancelled=True)
            except (Grasp6dError, FrameError, ConversionError, ValueError) as error:
                outcome = PickOutcome(False, getattr(error, "stage", NO_STAGE), str(error))
            except Exception as error:  # never across the service or the action
                outcome = PickOutcome(False, NO_STAGE, f"internal error: {type(error).__name__}: {error}")
            finally:
                self._busy.release()
        summary = f"{what}: success={outcome.success} stage={outcome.stage}: {outcome.message}"
        if outcome.success:  # separate call sites: rclpy forbids one site logging at two severities
            self.get_logger().info(summary)
        else:
            self.get_logger().warning(summary)
        return outcome

    def _pick(self, requested, max_attempts: int, progress: ProgressFn | None,
              stop_requested: Callable[[], bool]) -> PickOutcome:
        if int(max_attempts) < 0:
            raise ValueError(f"max_attempts must be >= 0 (0 = the node's max_attempts parameter), got {max_attempts}")
        grasps_msgs, header = requested()
        grasps = grasp_msgs_to_group(grasps_msgs, unit_tolerance=QUATERNION_UNIT_TOLERANCE)
        base = self.param("base_frame")
        transform = self._frames.lookup(base, header.frame_id, header.stamp, timeout=float(self.param("tf_timeout")))
        if transform is not None:
            grasps = grasps.transform(transform)
        grasps, grasps_msgs = self._within_limits(grasps, grasps_msgs, base)
        plans, rejected = plan_grasps(grasps, self.planner_config())
        for rank, reason in rejected:
            self.get_logger().info(f"grasp #{rank + 1} skipped: {reason}")
        if not plans:
            raise BackendError(f"none of the {len(grasps)} grasps is reachable: {rejected[0][1] if rejected else ''}")
        if self._backend is None:
            self._backend = create_backend(self.param("backend"), self)
        by_rank = np.argsort(-grasps.scores, kind="stable")   # plan.rank counts in score order (plan_grasps)
        trying: dict[str, Any] = {"attempt": 0, "grasp": None}

        def on_attempt(number: int, plan) -> None:
            trying.update(attempt=number, grasp=grasps_msgs[by_rank[plan.rank]])

        def on_stage(stage: str) -> None:
            if progress is not None:
                progress(stage, trying["attempt"], trying["grasp"], header)
        control = StageControl(on_attempt, on_stage, stop_requested)
        outcome = execute_ranked(plans, attempt_runner(self._backend, self.hand_settings()[1], control),
                                 max_attempts=int(max_attempts) or int(self.param("max_attempts")), control=control)
        executed = None if outcome.executed_rank is None else grasps_msgs[by_rank[outcome.executed_rank]]
        return PickOutcome(outcome.success, outcome.stage, outcome.message, outcome.cancelled, executed, header)


def main(args=None) -> None:
    rclpy.init(args=args)
    node = ExecutorNode()
    spin_until_shutdown(node, threads=4)


if __name__ == "__main__":
    main()
