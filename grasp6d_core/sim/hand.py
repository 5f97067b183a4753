"""A floating Franka hand (pybullet_data's panda hand + finger meshes) moved kinematically by a constraint.

Executes the VGN sequence for a grasp in the world frame: pre-grasp (``pregrasp_distance`` back along the
approach) → approach → close → lift (``lift`` m straight up). Success (VGN): after the lift the fingers are
still open more than 4 mm and an object touching both fingers has risen with the hand.

Frames: grasps use the GraspNet convention (x approach, y closing, z height); the Panda hand has z = approach,
y = closing, so R_hand = R_grasp · HAND_FROM_GRASP_AXES. The fingertip centre sits ``TCP_OFFSET`` along the
hand's z from its base (REFERENCES: flange to fingertip centre ≈ 0.1034 m), placed ``depth`` past the grasp point.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TCP_OFFSET = 0.1034
MAX_OPENING = 0.08
HAND_FROM_GRASP_AXES = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # columns: hand x, y, z

_URDF = """<robot name="panda_hand">
  <link name="hand">
    <inertial><origin xyz="0 0 0"/><mass value="0.81"/><inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial>
    <visual><geometry><mesh filename="{d}/meshes/collision/hand.obj"/></geometry></visual>
    <collision><geometry><mesh filename="{d}/meshes/collision/hand.obj"/></geometry></collision>
  </link>
  {fingers}
</robot>"""
_FINGER = """<link name="{name}">
    <contact><lateral_friction value="1.0"/><spinning_friction value="0.1"/><stiffness value="30000.0"/><damping value="1000.0"/></contact>
    <inertial><origin xyz="0 0 0"/><mass value="0.1"/><inertia ixx="0.001" ixy="0" ixz="0" iyy="0.001" iyz="0" izz="0.001"/></inertial>
    <visual><origin rpy="0 0 {yaw}"/><geometry><mesh filename="{d}/meshes/collision/finger.obj"/></geometry></visual>
    <collision><origin rpy="0 0 {yaw}"/><geometry><mesh filename="{d}/meshes/collision/finger.obj"/></geometry></collision>
  </link>
  <joint name="{name}_joint" type="prismatic"><parent link="hand"/><child link="{name}"/>
    <origin xyz="0 0 0.0584"/><axis xyz="0 {axis} 0"/><limit effort="20" lower="0.0" upper="0.04" velocity="0.2"/></joint>"""


@dataclass
class GraspOutcome:
    success: bool
    stage: str          # last stage reached: pregrasp, approach, close, lift, done
    message: str
    object_id: int | None = None  # the body held after the lift


def hand_pose_for_grasp(T_world_grasp: np.ndarray, depth: float) -> np.ndarray:
    """World pose of the hand base that puts the fingertip centre ``depth`` past the grasp point."""
    T = np.eye(4)
    R = T_world_grasp[:3, :3]
    T[:3, :3] = R @ HAND_FROM_GRASP_AXES
    approach = R[:, 0]
    T[:3, 3] = T_world_grasp[:3, 3] + (depth - TCP_OFFSET) * approach
    return T


class SimHand:
    """The reusable simulated hand (also the ROS executor's ``sim`` backend)."""

    def __init__(self, world, pregrasp_distance: float = 0.05, lift: float = 0.10, finger_force: float = 20.0):
        from scipy.spatial.transform import Rotation
        self._Rotation = Rotation
        self.world, self.p = world, world.p
        self.pregrasp_distance, self.lift, self.finger_force = pregrasp_distance, lift, finger_force
        panda = world.data_path / "franka_panda"
        fingers = "\n  ".join(_FINGER.format(name=n, yaw=y, axis=a, d=panda)
                              for n, y, a in (("left", 0, 1), ("right", np.pi, -1)))
        self._urdf = Path(tempfile.mkstemp(suffix=".urdf", prefix="panda_hand_")[1])
        self._urdf.write_text(_URDF.format(d=panda, fingers=fingers))
        self.body = self.p.loadURDF(str(self._urdf), [0, 0, 1.0])
        self.joints = [0, 1]
        self.constraint = self.p.createConstraint(self.body, -1, -1, -1, self.p.JOINT_FIXED, [0, 0, 0],
                                                  [0, 0, 0], [0, 0, 1.0])
        self._park()

    # ------------------------------------------------------------------------------------------ motion
    def _pose_args(self, T: np.ndarray):
        return list(T[:3, 3]), list(self._Rotation.from_matrix(T[:3, :3]).as_quat())

    def teleport(self, T: np.ndarray, opening: float = MAX_OPENING) -> None:
        pos, quat = self._pose_args(T)
        self.p.resetBasePositionAndOrientation(self.body, pos, quat)
        self.p.changeConstraint(self.constraint, pos, quat, maxForce=300)
        for j in self.joints:
            self.p.resetJointState(self.body, j, opening / 2)
            self.p.setJointMotorControl2(self.body, j, self.p.POSITION_CONTROL, opening / 2, force=self.finger_force)

    def move_linear(self, T_target: np.ndarray, step: float = 0.005, settle_steps: int = 4) -> None:
        pos, quat = self.p.getBasePositionAndOrientation(self.body)
        start = np.asarray(pos)
        goal, goal_quat = self._pose_args(T_target)
        n = max(1, int(np.ceil(np.linalg.norm(np.asarray(goal) - start) / step)))
        for i in range(1, n + 1):
            waypoint = start + (np.asarray(goal) - start) * i / n
            self.p.changeConstraint(self.constraint, list(waypoint), goal_quat, maxForce=300)
            self.world.settle(settle_steps)

    def opening(self) -> float:
        return float(sum(self.p.getJointState(self.body, j)[0] for j in self.joints))

    def close_fingers(self, steps: int = 240) -> None:
        for j in self.joints:
            self.p.setJointMotorControl2(self.body, j, self.p.VELOCITY_CONTROL, targetVelocity=-0.05,
                                         force=self.finger_force)
        self.world.settle(steps)

    def contacts(self) -> set[int]:
        """Bodies the hand penetrates by > 1 mm (plane included); PyBullet also reports near misses and grazes."""
        self.p.performCollisionDetection()
        return {c[2] for c in self.p.getContactPoints(bodyA=self.body) if c[2] != self.body and c[8] < -0.001}

    def _finger_contacts(self, link: int) -> set[int]:
        return {c[2] for c in self.p.getContactPoints(bodyA=self.body, linkIndexA=link)}

    def _park(self) -> None:
        T = np.eye(4)
        T[:3, 3] = [0.0, 0.0, 1.5]
        self.teleport(T)

    # ------------------------------------------------------------------------------------------ execution
    def execute(self, T_world_grasp: np.ndarray, width: float = MAX_OPENING, depth: float = 0.02) -> GraspOutcome:
        """Pre-grasp → approach → close → lift for a GraspNet-frame grasp; returns the outcome."""
        T_world_grasp = np.asarray(T_world_grasp, dtype=float)
        if T_world_grasp.shape != (4, 4):
            raise ValueError(f"grasp pose must be 4x4, got {T_world_grasp.shape}")
        T_grasp = hand_pose_for_grasp(T_world_grasp, depth)
        approach = T_world_grasp[:3, 0]
        T_pre = T_grasp.copy()
        T_pre[:3, 3] -= self.pregrasp_distance * approach
        try:
            self.teleport(T_pre)
            if self.contacts():
                return GraspOutcome(False, "pregrasp", "hand collides at the pre-grasp pose")
            self.move_linear(T_grasp)
            reached = np.linalg.norm(np.asarray(self.p.getBasePositionAndOrientation(self.body)[0]) - T_grasp[:3, 3])
            if reached > 0.005 or self.contacts():  # blocked (the hand is dynamic) or pushing into something
                return GraspOutcome(False, "approach", "hand touched the scene while approaching")
            self.close_fingers()
            if self.opening() < 0.004:
                return GraspOutcome(False, "close", "fingers closed on nothing")
            heights = {b: self.world.height_of(b) for b in self.world.objects}
            T_lift = T_grasp.copy()
            T_lift[:3, 3] += [0.0, 0.0, self.lift]
            self.move_linear(T_lift)
            self.world.settle(60)
            held = self._finger_contacts(0) & self._finger_contacts(1) & set(self.world.objects)
            risen = [b for b in held if self.world.height_of(b) > heights.get(b, 0.0) + 0.5 * self.lift]
            if self.opening() < 0.004 or not risen:
                return GraspOutcome(False, "lift", "object slipped or was not lifted")
            return GraspOutcome(True, "done", "object lifted and held", risen[0])
        finally:
            self._park()
            self.world.settle(1)

    def close(self) -> None:
        self._urdf.unlink(missing_ok=True)
