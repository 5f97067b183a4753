"""MoveIt 2 backend of the executor: MoveGroup action pose goals + control_msgs GripperCommand.

moveit_msgs and control_msgs are not on PyPI; they are imported only when this backend is created, and a
missing package gives a clear error naming it. The goal contents are built as plain data first
(:func:`pose_goal_spec`, :func:`gripper_goal_spec`) so they can be checked without MoveIt. Action names,
planning group and link are parameters: they differ between robot set-ups (pymoveit2 does the same).
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from grasp6d_core.errors import Grasp6dError
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
    width = float(np.clip(width, 0.0, 0.1))
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


class MoveItBackend:
    """move(stage, pose) / grip(stage, width) over the MoveGroup and GripperCommand actions."""

    def __init__(self, node, settings: MoveItSettings, timeout: float = 30.0):
        modules = import_moveit_packages()
        from rclpy.action import ActionClient
        from rclpy.callback_groups import ReentrantCallbackGroup
        self._moveit, self._control = modules["moveit_msgs"], modules["control_msgs"]
        self.settings, self.timeout = settings, timeout
        group = ReentrantCallbackGroup()  # results arrive while the service callback waits (pymoveit2's advice)
        self._arm = ActionClient(node, self._moveit.MoveGroup, settings.move_group_action, callback_group=group)
        self._hand = ActionClient(node, self._control.GripperCommand, settings.gripper_action, callback_group=group)

    def _run(self, client, goal, what: str):
        if not client.wait_for_server(timeout_sec=5.0):
            return None, f"action server '{client._action_name}' for {what} is not available"
        done, holder = threading.Event(), {}

        def on_goal(future):
            handle = future.result()
            if not handle.accepted:
                holder["error"] = f"{what} goal rejected"
                done.set()
                return
            handle.get_result_async().add_done_callback(lambda f: (holder.setdefault("result", f.result()),
                                                                   done.set()))
        client.send_goal_async(goal).add_done_callback(on_goal)
        if not done.wait(self.timeout):
            return None, f"{what} timed out after {self.timeout:.0f} s"
        return holder.get("result"), holder.get("error", "")

    def move(self, stage: str, pose: np.ndarray) -> tuple[bool, str]:
        goal = _move_group_goal(pose_goal_spec(pose, self.settings), self._moveit)
        result, error = self._run(self._arm, goal, f"MoveGroup ({stage})")
        if result is None:
            return False, error
        code = result.result.error_code.val
        return (code == 1, "ok" if code == 1 else f"MoveIt error code {code} (see moveit_msgs/MoveItErrorCodes)")

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
