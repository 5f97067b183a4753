"""Stand-ins for move_group and a gripper controller that speak the real moveit_msgs / control_msgs protocol.

They check what a real move_group checks (moveit_ros/move_group's MoveGroupMoveAction, the planning pipeline,
kinematic_constraints and PlanningScene::setPlanningSceneDiffMsg), answer with real MoveItErrorCodes, and record
every goal and scene change so tests can assert on them:

- MoveGroup (``move_action``): every goal is accepted, then checked: known group; at least one goal constraint;
  position/orientation constraints on a known link with a non-empty, known frame; a constraint region with one
  sphere per pose; a unit quaternion (MoveIt silently uses identity otherwise: recorded as a warning);
  velocity/acceleration scaling in (0, 1] (MoveIt falls back to 1.0 otherwise: recorded as a warning). The
  fingertips of the goal pose must not lie inside a world object unless the allowed collision matrix lets the
  hand touch it (GOAL_IN_COLLISION). ``fail_goals`` makes chosen goals fail with a given code. A goal runs for
  ``motion_time`` s and can be cancelled (PREEMPTED, status CANCELED), as move_group's preempt does.
- ApplyPlanningScene / GetPlanningScene (``apply_planning_scene`` / ``get_planning_scene``): diffs are applied
  the way move_group applies them (ADD replaces, REMOVE of an unknown id fails, an ACM in a diff replaces the
  whole matrix, attaching moves a world object onto a link, detaching puts it back); a non-diff scene wipes the
  world and is recorded.
- GripperCommand: closes until it meets ``object_width`` (stalled, not reached), or to the commanded position.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from scipy.spatial.transform import Rotation

from control_msgs.action import GripperCommand
from moveit_msgs.action import MoveGroup
from moveit_msgs.msg import AllowedCollisionEntry, AllowedCollisionMatrix, CollisionObject, MoveItErrorCodes
from moveit_msgs.srv import ApplyPlanningScene, GetPlanningScene
from shape_msgs.msg import SolidPrimitive

PANDA_LINKS = [f"panda_link{i}" for i in range(9)] + ["panda_hand", "panda_leftfinger", "panda_rightfinger"]
PANDA_GROUPS = ("panda_arm", "hand", "panda_arm_hand")
TCP_OFFSET = 0.1034   # panda_hand -> fingertip centre along the hand's z


def _pose_matrix(pose) -> np.ndarray:
    matrix = np.eye(4)
    q = [pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w]
    matrix[:3, :3] = Rotation.from_quat(q).as_matrix() if np.linalg.norm(q) > 0 else np.eye(3)
    matrix[:3, 3] = [pose.position.x, pose.position.y, pose.position.z]
    return matrix


class MoveGroupStandIn(Node):
    def __init__(self, context, planning_frame: str = "panda_link0", motion_time: float = 0.05):
        super().__init__("move_group", context=context)
        self.planning_frame, self.motion_time = planning_frame, motion_time
        self.goals, self.results, self.warnings, self.scene_log = [], [], [], []
        self.fail_goals: dict[int, int] = {}          # goal index -> MoveItErrorCodes value
        self.slow_goals: dict[int, float] = {}        # goal index -> motion time [s] instead of motion_time
        self.world: dict[str, dict] = {}              # id -> {"pose": 4x4, "boxes": [(4x4, size)]}
        self.attached: dict[str, dict] = {}           # id -> {"link": name, "entry": its world entry}
        self.acm = AllowedCollisionMatrix(entry_names=list(PANDA_LINKS),
                                          entry_values=[AllowedCollisionEntry(enabled=[abs(i - j) <= 1 for j in
                                                                                       range(len(PANDA_LINKS))])
                                                        for i in range(len(PANDA_LINKS))])
        self.moving: int | None = None                # index of the goal being executed
        group = ReentrantCallbackGroup()
        self._lock = threading.Lock()
        ActionServer(self, MoveGroup, "move_action", self._execute, callback_group=group,
                     goal_callback=lambda goal: GoalResponse.ACCEPT, cancel_callback=lambda handle: CancelResponse.ACCEPT)
        self.create_service(ApplyPlanningScene, "apply_planning_scene", self._apply, callback_group=group)
        self.create_service(GetPlanningScene, "get_planning_scene", self._get, callback_group=group)

    # -- MoveGroup ----------------------------------------------------------------------------------------
    def _known_frame(self, frame: str) -> bool:
        return frame == self.planning_frame or frame in PANDA_LINKS or frame in self.world

    def _check(self, request) -> tuple[int, str, np.ndarray | None]:
        if request.group_name not in PANDA_GROUPS:
            return MoveItErrorCodes.INVALID_GROUP_NAME, f"unknown group '{request.group_name}'", None
        for name in ("velocity", "acceleration"):
            factor = getattr(request, f"max_{name}_scaling_factor")
            if not 0.0 < factor <= 1.0:
                self.warnings.append(f"invalid max_{name}_scaling_factor {factor}, defaulting to 1.0")
        if not request.goal_constraints:
            return MoveItErrorCodes.INVALID_GOAL_CONSTRAINTS, "no goal constraints", None
        constraints = request.goal_constraints[0]
        if len(constraints.position_constraints) != 1 or len(constraints.orientation_constraints) != 1:
            return MoveItErrorCodes.INVALID_GOAL_CONSTRAINTS, "expected one position + one orientation constraint", None
        position, orientation = constraints.position_constraints[0], constraints.orientation_constraints[0]
        for constraint in (position, orientation):
            if constraint.link_name not in PANDA_LINKS:
                return MoveItErrorCodes.INVALID_GOAL_CONSTRAINTS, f"unknown link '{constraint.link_name}'", None
            if not self._known_frame(constraint.header.frame_id):
                return MoveItErrorCodes.FRAME_TRANSFORM_FAILURE, f"unknown frame '{constraint.header.frame_id}'", None
        region = position.constraint_region
        if (len(region.primitives) != 1 or len(region.primitive_poses) != 1
                or region.primitives[0].type != SolidPrimitive.SPHERE or not region.primitives[0].dimensions
                or region.primitives[0].dimensions[0] <= 0):
            return MoveItErrorCodes.INVALID_GOAL_CONSTRAINTS, "constraint region must be one sphere with its pose", None
        q = orientation.orientation
        q = [q.x, q.y, q.z, q.w]
        if abs(np.linalg.norm(q) - 1.0) > 1e-3:
            self.warnings.append("orientation constraint quaternion is not unit: MoveIt assumes identity")
            q = [0.0, 0.0, 0.0, 1.0]
        pose = _pose_matrix(region.primitive_poses[0])
        pose[:3, :3] = Rotation.from_quat(q).as_matrix()
        fingertips = pose[:3, 3] + TCP_OFFSET * pose[:3, 2]
        for object_id in self.world:
            if self._inside(object_id, fingertips) and not self._hand_may_touch(object_id):
                return MoveItErrorCodes.GOAL_IN_COLLISION, f"fingertips inside '{object_id}'", pose
        return MoveItErrorCodes.SUCCESS, "", pose

    def _inside(self, object_id: str, point: np.ndarray) -> bool:
        entry = self.world[object_id]
        for shape_pose, size in entry["boxes"]:
            local = np.linalg.inv(entry["pose"] @ shape_pose) @ np.append(point, 1.0)
            if np.all(np.abs(local[:3]) <= np.asarray(size) / 2):
                return True
        return False

    def _hand_may_touch(self, object_id: str) -> bool:
        names = list(self.acm.entry_names)
        if object_id not in names:
            return False
        row = self.acm.entry_values[names.index(object_id)].enabled
        return all(link in names and row[names.index(link)] for link in ("panda_leftfinger", "panda_rightfinger"))

    def _execute(self, goal_handle):
        request = goal_handle.request.request
        result = MoveGroup.Result()
        with self._lock:
            index = len(self.goals)
            code, message, pose = self._check(request)
            self.goals.append({"request": request, "pose": pose, "plan_only": goal_handle.request.planning_options.plan_only,
                               "world": sorted(self.world), "attached": sorted(self.attached),
                               "touchable": sorted(o for o in self.world if self._hand_may_touch(o))})
        goal_handle.publish_feedback(MoveGroup.Feedback(state="PLANNING"))
        if code == MoveItErrorCodes.SUCCESS and index in self.fail_goals:
            code, message = self.fail_goals[index], "told to fail"
        if code == MoveItErrorCodes.SUCCESS:
            goal_handle.publish_feedback(MoveGroup.Feedback(state="MONITOR"))
            self.moving = index
            deadline = time.monotonic() + self.slow_goals.get(index, self.motion_time)
            while time.monotonic() < deadline and not goal_handle.is_cancel_requested:
                time.sleep(0.01)
            self.moving = None
            if goal_handle.is_cancel_requested:
                code, message = MoveItErrorCodes.PREEMPTED, "preempted"
        result.error_code = MoveItErrorCodes(val=code, message=message, source="move_group stand-in")
        self.results.append(code)
        if code == MoveItErrorCodes.SUCCESS:
            goal_handle.succeed()
        elif code == MoveItErrorCodes.PREEMPTED:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return result

    # -- planning scene -----------------------------------------------------------------------------------
    def _add(self, obj) -> bool:
        if not self._known_frame(obj.header.frame_id) or not obj.primitives or len(obj.primitive_poses) > len(obj.primitives):
            return False
        boxes = []
        for i, primitive in enumerate(obj.primitives):
            if primitive.type != SolidPrimitive.BOX or len(primitive.dimensions) != 3 or min(primitive.dimensions) <= 0:
                return False
            shape_pose = _pose_matrix(obj.primitive_poses[i]) if i < len(obj.primitive_poses) else np.eye(4)
            boxes.append((shape_pose, list(primitive.dimensions)))
        self.world[obj.id] = {"pose": _pose_matrix(obj.pose), "boxes": boxes, "frame": obj.header.frame_id}
        return True

    def _apply(self, request, response):
        scene = request.scene
        ok = True
        with self._lock:
            if not scene.is_diff:
                self.scene_log.append(("full_scene_replaced", ""))
                self.world.clear()
                self.attached.clear()
            for attached in scene.robot_state.attached_collision_objects:
                object_id = attached.object.id
                if attached.object.operation == CollisionObject.ADD:
                    if attached.link_name not in PANDA_LINKS or (not attached.object.primitives
                                                                 and object_id not in self.world):
                        ok = False
                        continue
                    entry = self.world.pop(object_id, None)
                    if attached.object.primitives:      # MoveIt takes the message's geometry when it has one
                        if not self._add(attached.object):
                            ok = False
                            continue
                        entry = self.world.pop(object_id)
                    self.attached[object_id] = {"link": attached.link_name, "entry": entry}
                    self.scene_log.append(("attach", object_id, attached.link_name, tuple(attached.touch_links)))
                elif attached.object.operation == CollisionObject.REMOVE:
                    if object_id in self.attached:
                        self.world[object_id] = self.attached.pop(object_id)["entry"]
                        self.scene_log.append(("detach", object_id))
                    else:
                        ok = False
            if scene.allowed_collision_matrix.entry_names:
                acm = scene.allowed_collision_matrix
                if len(acm.entry_values) != len(acm.entry_names) or any(
                        len(row.enabled) != len(acm.entry_names) for row in acm.entry_values):
                    ok = False
                else:
                    self.acm = acm
                    self.scene_log.append(("acm", tuple(acm.entry_names)))
            for obj in scene.world.collision_objects:
                if obj.operation == CollisionObject.ADD:
                    added = self._add(obj)
                    ok &= added
                    if added:
                        self.scene_log.append(("add", obj.id))
                elif obj.operation == CollisionObject.REMOVE:
                    if obj.id in self.world:
                        del self.world[obj.id]
                        names = list(self.acm.entry_names)
                        if obj.id in names:      # PlanningScene removes the object's ACM entry with it
                            keep = [i for i, name in enumerate(names) if name != obj.id]
                            self.acm = AllowedCollisionMatrix(
                                entry_names=[names[i] for i in keep],
                                entry_values=[AllowedCollisionEntry(enabled=[self.acm.entry_values[i].enabled[j]
                                                                             for j in keep]) for i in keep])
                        self.scene_log.append(("remove", obj.id))
                    else:
                        ok = False
                else:
                    ok = False
        response.success = bool(ok)
        return response

    def _get(self, request, response):
        with self._lock:
            if request.components.components & request.components.ALLOWED_COLLISION_MATRIX:
                response.scene.allowed_collision_matrix = self.acm
            response.scene.is_diff = False
        return response


class GripperStandIn(Node):
    """control_msgs/action/GripperCommand: per-finger position; stops (stalled) on an object of ``object_width``."""

    def __init__(self, context, action: str = "/panda_hand_controller/gripper_cmd", object_width: float | None = 0.04):
        super().__init__("gripper_controller", context=context)
        self.object_width, self.commands = object_width, []
        ActionServer(self, GripperCommand, action, self._execute, callback_group=ReentrantCallbackGroup(),
                     cancel_callback=lambda handle: CancelResponse.ACCEPT)

    def _execute(self, goal_handle):
        command = goal_handle.request.command
        self.commands.append((command.position, command.max_effort))
        result = GripperCommand.Result()
        blocked = self.object_width is not None and command.position < self.object_width / 2
        result.position = self.object_width / 2 if blocked else command.position
        result.stalled, result.reached_goal = blocked, not blocked
        result.effort = command.max_effort if blocked else 0.0
        goal_handle.succeed()
        return result
