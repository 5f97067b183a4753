"""MoveIt 2 backend of the executor: MoveGroup action pose goals, control_msgs GripperCommand, and the planning
scene (table, neighbouring objects, the target) through move_group's ApplyPlanningScene / GetPlanningScene.

moveit_msgs and control_msgs are not on PyPI; they are imported only when this backend is created, and a
missing package gives a clear error naming it. The goal contents are built as plain data first
(:func:`pose_goal_spec`, :func:`gripper_goal_spec`) so they can be checked without MoveIt. Action names,
planning group and link are parameters: they differ between robot set-ups (pymoveit2 does the same). The
collision geometry comes from grasp6d_core.execution.planning_scene; this module only builds the messages.
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from grasp6d_core.errors import Grasp6dError
from grasp6d_core.execution import NO_CONTROL, GraspPlan, StageControl, StageResult, run_plan
from grasp6d_core.execution.planning_scene import Box, SceneGeometry, SceneParams, fit_scene
from grasp6d_core.hand import PANDA
from grasp6d_core.rotations import rotation_to_quaternion

REQUIRED_PACKAGES = ("moveit_msgs", "control_msgs", "shape_msgs")


class MissingPackagesError(Grasp6dError, ImportError):
    pass


def import_moveit_packages() -> dict[str, Any]:
    """Import the action/message modules the backend needs, or say which ROS packages are missing."""
    modules, missing = {}, []
    for package in REQUIRED_PACKAGES:
        try:
            importlib.import_module(f"{package}.msg")
            if package != "shape_msgs":
                modules[package] = importlib.import_module(f"{package}.action")
            if package == "moveit_msgs":
                modules["moveit_srv"] = importlib.import_module("moveit_msgs.srv")
        except ImportError:
            missing.append(package)
    if missing:
        debs = " ".join(f"ros-$ROS_DISTRO-{p.replace('_', '-')}" for p in missing)
        raise MissingPackagesError(f"the moveit backend needs the ROS 2 packages {', '.join(missing)} "
                                   f"(not importable here). Install them with: sudo apt install {debs} "
                                   f"(and run MoveIt's move_group), or use backend:=sim")
    return modules


@dataclass
class MoveItSettings:
    base_frame: str = "panda_link0"
    planning_group: str = "panda_arm"
    end_effector_link: str = "panda_hand"
    move_group_action: str = "move_action"
    gripper_action: str = "/panda_hand_controller/gripper_cmd"
    velocity_scaling: float = 0.2
    position_tolerance: float = 0.002      # m, radius of the goal region
    orientation_tolerance: float = 0.02    # rad per axis
    gripper_max_effort: float = 20.0
    min_hold_width: float = 0.004          # closed tighter than this = nothing grasped
    fingers: int = 2                       # GripperCommand position is per finger on the Panda hand
    planning_scene: bool = True            # add table/objects as collision objects before moving
    scene_topic: str = "surface"           # PointCloud2 the collision boxes are fitted to (the TSDF surface)
    apply_planning_scene_service: str = "/apply_planning_scene"
    get_planning_scene_service: str = "/get_planning_scene"
    touch_links: tuple = ("panda_hand", "panda_leftfinger", "panda_rightfinger")  # may touch the target
    open_width: float = PANDA.max_opening      # opening before the approach [m]
    max_opening: float = PANDA.max_opening     # the hand's widest opening (its description): commands are capped


def pose_goal_spec(pose: np.ndarray, settings: MoveItSettings) -> dict:
    """A MoveGroup request for one hand pose, as plain data (what :meth:`MoveItBackend.move` sends)."""
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise ValueError("pose must be a finite 4x4 matrix")
    q = rotation_to_quaternion(pose[:3, :3])[0]
    return {
        "group_name": settings.planning_group, "frame_id": settings.base_frame, "link_name": settings.end_effector_link,
        "position": pose[:3, 3].tolist(), "position_tolerance": settings.position_tolerance,
        "orientation": q.tolist(), "orientation_tolerance": [settings.orientation_tolerance] * 3,
        "max_velocity_scaling_factor": settings.velocity_scaling,
        "max_acceleration_scaling_factor": settings.velocity_scaling,
        "plan_only": False,
    }


def gripper_goal_spec(width: float, settings: MoveItSettings) -> dict:
    """A GripperCommand for an opening of ``width`` metres, capped to the hand's ``max_opening``."""
    width = float(np.clip(width, 0.0, settings.max_opening))
    return {"position": width / settings.fingers, "max_effort": settings.gripper_max_effort}


def _move_group_goal(spec: dict, moveit_msgs) -> Any:
    """Plain spec -> moveit_msgs/action/MoveGroup.Goal with position + orientation constraints."""
    from geometry_msgs.msg import Pose, Quaternion
    from shape_msgs.msg import SolidPrimitive
    msg = importlib.import_module("moveit_msgs.msg")
    header_frame = spec["frame_id"]
    region = SolidPrimitive(type=SolidPrimitive.SPHERE, dimensions=[spec["position_tolerance"]])
    centre = Pose()
    centre.position.x, centre.position.y, centre.position.z = spec["position"]
    position = msg.PositionConstraint(link_name=spec["link_name"], weight=1.0)
    position.header.frame_id = header_frame
    position.constraint_region.primitives.append(region)
    position.constraint_region.primitive_poses.append(centre)
    qx, qy, qz, qw = spec["orientation"]
    orientation = msg.OrientationConstraint(link_name=spec["link_name"], weight=1.0,
                                            orientation=Quaternion(x=qx, y=qy, z=qz, w=qw),
                                            absolute_x_axis_tolerance=spec["orientation_tolerance"][0],
                                            absolute_y_axis_tolerance=spec["orientation_tolerance"][1],
                                            absolute_z_axis_tolerance=spec["orientation_tolerance"][2])
    orientation.header.frame_id = header_frame
    goal = moveit_msgs.MoveGroup.Goal()
    goal.request.group_name = spec["group_name"]
    goal.request.num_planning_attempts = 5
    goal.request.allowed_planning_time = 5.0
    goal.request.max_velocity_scaling_factor = spec["max_velocity_scaling_factor"]
    goal.request.max_acceleration_scaling_factor = spec["max_acceleration_scaling_factor"]
    goal.request.goal_constraints.append(msg.Constraints(position_constraints=[position],
                                                          orientation_constraints=[orientation]))
    goal.planning_options.plan_only = spec["plan_only"]
    return goal


# Collision object ids this backend adds (and removes again after each attempt).
TABLE_ID, TARGET_ID, OBSTACLE_PREFIX = "grasp6d_table", "grasp6d_target", "grasp6d_object_"
MOVEIT_SUCCESS, MOVEIT_PREEMPTED = 1, -7
CLOUD_WAIT = 2.0   # s to wait for the first scene cloud


def _box_object(object_id: str, box: Box, frame: str, msg) -> Any:
    """moveit_msgs/CollisionObject ADD: one BOX primitive at the box pose."""
    from geometry_msgs.msg import Pose
    from shape_msgs.msg import SolidPrimitive
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in box.centre)
    q = rotation_to_quaternion(box.rotation)[0]
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = (float(v) for v in q)
    obj = msg.CollisionObject(id=object_id, operation=msg.CollisionObject.ADD, pose=pose)
    obj.header.frame_id = frame
    obj.primitives.append(SolidPrimitive(type=SolidPrimitive.BOX, dimensions=[float(v) for v in box.size]))
    obj.primitive_poses.append(Pose())   # identity: the box sits at the object pose
    return obj


def scene_objects(geometry: SceneGeometry, target: int | None, frame: str, msg) -> dict[str, Any]:
    """Collision objects by id: the table, the target (when the grasp is on an object), the other objects."""
    objects = {}
    if geometry.table is not None:
        objects[TABLE_ID] = _box_object(TABLE_ID, geometry.table, frame, msg)
    for index, box in enumerate(geometry.objects):
        object_id = TARGET_ID if index == target else f"{OBSTACLE_PREFIX}{index}"
        objects[object_id] = _box_object(object_id, box, frame, msg)
    return objects


def allow_contact(acm, object_id: str, links, msg) -> Any:
    """A copy of the AllowedCollisionMatrix ``acm`` where ``object_id`` may touch ``links``.

    move_group replaces its whole matrix with the one in a diff, so the robot's own entries are kept."""
    names = list(acm.entry_names)
    rows = [list(entry.enabled) for entry in acm.entry_values]
    for name in [object_id, *links]:
        if name not in names:
            names.append(name)
            for row in rows:
                row.append(False)
            rows.append([False] * len(names))
    target = names.index(object_id)
    for link in links:
        index = names.index(link)
        rows[target][index] = rows[index][target] = True
    out = msg.AllowedCollisionMatrix(entry_names=names,
                                     entry_values=[msg.AllowedCollisionEntry(enabled=row) for row in rows])
    out.default_entry_names, out.default_entry_values = list(acm.default_entry_names), list(acm.default_entry_values)
    return out


class Cancelled(Exception):
    """A goal was not sent because the attempt was cancelled."""


class MoveItBackend:
    """execute_plan(plan): scene set-up, then move(stage, pose) / grip(stage, width) over the MoveGroup and
    GripperCommand actions, then scene clean-up. cancel() stops the running motion (move_group preempts it)."""

    def __init__(self, node, settings: MoveItSettings, timeout: float = 30.0, transform_lookup=None,
                 scene_params: SceneParams = SceneParams(), server_timeout: float = 10.0):
        modules = import_moveit_packages()
        from rclpy.action import ActionClient
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import PointCloud2
        self._moveit, self._control, srv = modules["moveit_msgs"], modules["control_msgs"], modules["moveit_srv"]
        self._msg = importlib.import_module("moveit_msgs.msg")
        self._srv = srv
        self.settings, self.timeout, self.scene_params = settings, timeout, scene_params.validate()
        # How long a server may take to show up: move_group and the controllers often start after this node,
        # and DDS discovery on a busy machine takes seconds.
        self.server_timeout = server_timeout
        self._node, self._lookup = node, transform_lookup
        group = ReentrantCallbackGroup()  # results arrive while the service callback waits (pymoveit2's advice)
        self._arm = ActionClient(node, self._moveit.MoveGroup, settings.move_group_action, callback_group=group)
        self._hand = ActionClient(node, self._control.GripperCommand, settings.gripper_action, callback_group=group)
        self._apply = node.create_client(srv.ApplyPlanningScene, settings.apply_planning_scene_service,
                                         callback_group=group)
        self._get = node.create_client(srv.GetPlanningScene, settings.get_planning_scene_service, callback_group=group)
        self._cloud, self._cloud_received = None, threading.Event()
        if settings.planning_scene:
            latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.TRANSIENT_LOCAL)   # the TSDF surface is latched
            node.create_subscription(PointCloud2, settings.scene_topic, self._on_cloud, latched, callback_group=group)
        self._lock = threading.Lock()
        self._active = False           # an attempt is running (cancel() has something to stop)
        self._handle = None            # the goal being executed, for cancel()
        self._cancel = threading.Event()

    def destroy_action_clients(self) -> None:
        """Before the node is destroyed (it leaves action clients alone, and they keep it in the ROS graph)."""
        self._arm.destroy()
        self._hand.destroy()

    def _on_cloud(self, msg) -> None:
        self._cloud = msg
        self._cloud_received.set()

    # -- actions ------------------------------------------------------------------------------------------
    def _run(self, client, goal, what: str):
        if self._cancel.is_set():
            raise Cancelled(f"{what} not sent: cancelled")
        if not client.wait_for_server(timeout_sec=self.server_timeout):
            return None, (f"action server '{client._action_name}' for {what} is not available "
                          f"(waited server_timeout {self.server_timeout:g} s)")
        done, holder = threading.Event(), {}

        def on_goal(future):
            handle = future.result()
            if not handle.accepted:
                holder["error"] = f"{what} goal rejected"
                done.set()
                return
            with self._lock:
                self._handle = handle
            if self._cancel.is_set():       # cancel() came between sending and acceptance
                handle.cancel_goal_async()
            handle.get_result_async().add_done_callback(lambda f: (holder.setdefault("result", f.result()),
                                                                   done.set()))
        client.send_goal_async(goal).add_done_callback(on_goal)
        finished = done.wait(self.timeout)
        with self._lock:
            self._handle = None
        if not finished:
            return None, f"{what} timed out after {self.timeout:.0f} s"
        return holder.get("result"), holder.get("error", "")

    def cancel(self) -> bool:
        """Stop the attempt that is running: the active goal is cancelled, no further goal is sent. False when
        nothing runs."""
        with self._lock:
            if not self._active:
                return False
            self._cancel.set()
            handle = self._handle
        if handle is not None:
            handle.cancel_goal_async()
        return True

    def move(self, stage: str, pose: np.ndarray) -> tuple[bool, str]:
        goal = _move_group_goal(pose_goal_spec(pose, self.settings), self._moveit)
        result, error = self._run(self._arm, goal, f"MoveGroup ({stage})")
        if result is None:
            return False, error
        code = result.result.error_code.val
        if code == MOVEIT_PREEMPTED:
            return False, f"MoveGroup ({stage}) preempted (MoveIt error code {code})"
        return (code == MOVEIT_SUCCESS, "ok" if code == MOVEIT_SUCCESS
                else f"MoveIt error code {code} (see moveit_msgs/MoveItErrorCodes)")

    def grip(self, stage: str, width: float) -> tuple[bool, str]:
        spec = gripper_goal_spec(width, self.settings)
        goal = self._control.GripperCommand.Goal()
        goal.command.position, goal.command.max_effort = spec["position"], spec["max_effort"]
        result, error = self._run(self._hand, goal, f"GripperCommand ({stage})")
        if result is None:
            return False, error
        opening = result.result.position * self.settings.fingers
        if stage == "close" and opening < self.settings.min_hold_width:
            return False, f"gripper closed to {opening * 1000:.1f} mm: nothing between the fingers"
        return True, f"gripper at {opening * 1000:.1f} mm"

    # -- planning scene -----------------------------------------------------------------------------------
    def _call(self, client, request, what: str):
        if not client.wait_for_service(timeout_sec=self.server_timeout):
            raise RuntimeError(f"service '{client.srv_name}' for {what} is not available "
                               f"(waited server_timeout {self.server_timeout:g} s)")
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(self.timeout):
            client.remove_pending_request(future)
            raise RuntimeError(f"{what} timed out after {self.timeout:.0f} s")
        return future.result()

    def _apply_diff(self, scene, what: str) -> None:
        scene.is_diff = True                    # a full scene would wipe what move_group already knows
        scene.robot_state.is_diff = True
        if not self._call(self._apply, self._srv.ApplyPlanningScene.Request(scene=scene), what).success:
            raise RuntimeError(f"move_group refused the planning scene change ({what})")

    def _scene_geometry(self) -> SceneGeometry:
        from grasp6d_ros.conversions import pointcloud2_to_numpy
        # The backend is created at the first request: give the latched cloud the time discovery takes to arrive.
        self._cloud_received.wait(CLOUD_WAIT)
        cloud = self._cloud
        if cloud is None:
            raise RuntimeError(f"no scene cloud received on {self._node.resolve_topic_name(self.settings.scene_topic)} "
                               f"for the collision objects (planning_scene:=false moves without them)")
        points, _ = pointcloud2_to_numpy(cloud)
        base = self.settings.base_frame
        if self._lookup is not None and cloud.header.frame_id and cloud.header.frame_id != base:
            transform = self._lookup(base, cloud.header.frame_id)
            if transform is not None:
                points = points @ transform[:3, :3].T + transform[:3, 3]
        return fit_scene(points, self.scene_params)

    def _add_scene(self, plan: GraspPlan) -> dict[str, Any]:
        geometry = self._scene_geometry()
        target = geometry.target_index(plan.grasp_pose[:3, 3], self.scene_params.target_distance)
        objects = scene_objects(geometry, target, self.settings.base_frame, self._msg)
        scene = self._msg.PlanningScene()
        scene.world.collision_objects = list(objects.values())
        self._apply_diff(scene, "add the table and the objects")
        return objects

    def _allow_target_contact(self) -> None:
        components = self._msg.PlanningSceneComponents(
            components=self._msg.PlanningSceneComponents.ALLOWED_COLLISION_MATRIX)
        current = self._call(self._get, self._srv.GetPlanningScene.Request(components=components),
                             "read the allowed collision matrix").scene.allowed_collision_matrix
        scene = self._msg.PlanningScene()
        scene.allowed_collision_matrix = allow_contact(current, TARGET_ID, self.settings.touch_links, self._msg)
        self._apply_diff(scene, "allow the fingers to touch the target")

    def _attach_target(self, target) -> None:
        attached = self._msg.AttachedCollisionObject(link_name=self.settings.end_effector_link, object=target,
                                                     touch_links=list(self.settings.touch_links))
        scene = self._msg.PlanningScene()
        scene.robot_state.attached_collision_objects.append(attached)
        self._apply_diff(scene, "attach the target to the hand")

    def _remove_scene(self, objects: dict[str, Any], attached: bool) -> None:
        scene = self._msg.PlanningScene()
        if attached:   # detached first (back into the world), then removed with the others
            detach = self._msg.AttachedCollisionObject(link_name=self.settings.end_effector_link)
            detach.object.id, detach.object.operation = TARGET_ID, self._msg.CollisionObject.REMOVE
            scene.robot_state.attached_collision_objects.append(detach)
        for object_id in objects:
            removal = self._msg.CollisionObject(id=object_id, operation=self._msg.CollisionObject.REMOVE)
            removal.header.frame_id = self.settings.base_frame
            scene.world.collision_objects.append(removal)
        self._apply_diff(scene, "remove the objects added for this grasp")

    # -- one attempt --------------------------------------------------------------------------------------
    def execute_plan(self, plan: GraspPlan, control: StageControl = NO_CONTROL) -> StageResult:
        """pregrasp -> approach (fingers may touch the target) -> close -> target attached -> lift -> retreat,
        inside a planning scene holding the table and the objects; the scene is cleaned up whatever happens.
        ``control`` hears the stages and stops the run between two of them; :meth:`cancel` stops it mid-motion."""
        with self._lock:
            self._active = True
            self._cancel.clear()
        objects, state = {}, {"attached": False, "stage": "pregrasp"}
        try:
            if self.settings.planning_scene:
                try:
                    objects = self._add_scene(plan)
                except (RuntimeError, ValueError) as error:
                    return StageResult(False, "pregrasp", f"pregrasp failed: planning scene: {error}")
            target = objects.get(TARGET_ID)

            def move(stage: str, pose: np.ndarray) -> tuple[bool, str]:
                state["stage"] = stage
                if target is not None and stage == "approach":
                    self._allow_target_contact()
                if target is not None and stage == "lift":
                    self._attach_target(target)
                    state["attached"] = True
                return self.move(stage, pose)

            def grip(stage: str, width: float) -> tuple[bool, str]:
                state["stage"] = stage
                return self.grip(stage, width)

            # a Cancelled ends it as a failed stage
            result = run_plan(plan, move, grip, self.settings.open_width, control)
            if self._cancel.is_set() and not (result.success or result.cancelled):
                return StageResult(False, result.stage, f"{result.stage} cancelled: {result.message}", cancelled=True)
            return result
        finally:
            with self._lock:
                self._active = False
            if objects:
                try:
                    self._remove_scene(objects, state["attached"])
                except RuntimeError as error:
                    self._node.get_logger().warning(f"planning scene clean-up failed: {error}")

