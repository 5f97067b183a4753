"""A floating Franka hand (pybullet_data's panda hand + finger meshes) moved kinematically by a constraint.

It is an executor backend (:class:`grasp6d_core.execution.ExecutorBackend`): ``move(stage, pose)`` puts the hand
base — the Panda hand frame, i.e. the flange pose MoveIt is given — at the plan's pose and ``grip(stage, width)``
opens or closes the fingers, so a plan made with some ``tcp_offset`` lands the fingertips where it would on the
robot. The stage order is the executor's (:func:`grasp6d_core.execution.run_plan`); :func:`execute_grasp` plans one
grasp and runs it here (sim-bench). Checks (VGN's): the pre-grasp pose and the approach must not penetrate the
scene, the fingers must not close to < 4 mm, and while the fingers are closed every move must carry an object
touching both fingers up with the hand.

Hand poses come from the planner (grasp6d_core.execution.planning: GraspNet grasp frame -> Panda hand frame);
the hand's opening is the ``panda`` hand preset's (grasp6d_core.hand).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grasp6d_core.execution import PlannerConfig, plan_grasp, run_plan
from grasp6d_core.hand import PANDA

MIN_HOLD_WIDTH = 0.004   # fingers closer than this hold nothing (VGN's test)
# The floating hand has no arm whose path to the pre-grasp pose could be simulated: it is put there directly.
FREE_SPACE_STAGES = ("pregrasp",)
# sim-bench's pick (VGN's protocol: pre-grasp 5 cm back, lift 10 cm); the executor node uses its parameters.
BENCH_PLANNER = PlannerConfig(pregrasp_distance=0.05, lift_height=0.10)

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
    <origin xyz="0 0 0.0584"/><axis xyz="0 {axis} 0"/><limit effort="20" lower="0.0" upper="{travel}" velocity="0.2"/></joint>"""


@dataclass
class GraspOutcome:
    success: bool
    stage: str          # last stage reached: pregrasp, approach, close, lift, retreat
    message: str
    object_id: int | None = None  # the body held at the end


class SimHand:
    """The simulated hand: an executor backend (``move``/``grip``) in a :class:`ClutterWorld`."""

    def __init__(self, world, finger_force: float = 20.0):
        from scipy.spatial.transform import Rotation
        self._Rotation = Rotation
        self.world, self.p = world, world.p
        self.finger_force = finger_force
        self._commanded_opening = PANDA.max_opening
        self._at_close: tuple[dict[int, float], float] | None = None  # object heights, hand height when closed
        panda = world.data_path / "franka_panda"
        fingers = "\n  ".join(_FINGER.format(name=n, yaw=y, axis=a, d=panda, travel=PANDA.max_opening / 2)
                              for n, y, a in (("left", 0, 1), ("right", np.pi, -1)))
        self._urdf = Path(tempfile.mkstemp(suffix=".urdf", prefix="panda_hand_")[1])
        self._urdf.write_text(_URDF.format(d=panda, fingers=fingers))
        self.body = self.p.loadURDF(str(self._urdf), [0, 0, 1.0])
        self.joints = [0, 1]
        self.constraint = self.p.createConstraint(self.body, -1, -1, -1, self.p.JOINT_FIXED, [0, 0, 0],
                                                  [0, 0, 0], [0, 0, 1.0])
        self.park()

    # ------------------------------------------------------------------------------------------ executor backend
    def move(self, stage: str, pose: np.ndarray) -> tuple[bool, str]:
        """Put the hand base (flange) at ``pose``: directly for a free-space stage, else along a straight line."""
        pose = np.asarray(pose, dtype=np.float64)
        if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
            raise ValueError(f"hand pose must be a finite 4x4 matrix, got shape {pose.shape}")
        if stage in FREE_SPACE_STAGES:
            self.teleport(pose)
            if self.contacts():
                return self._withdraw(f"hand collides at the {stage} pose")
            return True, f"hand at the {stage} pose"
        self.move_linear(pose)
        if self._at_close is None:   # fingers open: moving in
            reached = np.linalg.norm(self.pose()[:3, 3] - pose[:3, 3])
            if reached > 0.005 or self.contacts():  # blocked (the hand is dynamic) or pushing into something
                return self._withdraw("hand touched the scene while moving in")
            return True, f"hand at the {stage} pose"
        self.world.settle(60)
        held = self.held_object()
        if held is None:
            return self._withdraw("object slipped or was not lifted")
        return True, f"object body {held} lifted and held"

    def grip(self, stage: str, width: float) -> tuple[bool, str]:
        """Close on the object (``width`` < 4 mm: force-limited, until blocked) or open to ``width``."""
        width = float(width)
        if not np.isfinite(width):
            raise ValueError(f"gripper width must be finite, got {width}")
        if width < MIN_HOLD_WIDTH:
            self.close_fingers()
            if self.opening() < MIN_HOLD_WIDTH:
                return self._withdraw("fingers closed on nothing")
            self._at_close = ({b: self.world.height_of(b) for b in self.world.objects}, self.pose()[2, 3])
            return True, f"fingers closed at {self.opening() * 1000:.1f} mm"
        self._at_close = None
        self._commanded_opening = min(width, PANDA.max_opening)
        for j in self.joints:
            self.p.setJointMotorControl2(self.body, j, self.p.POSITION_CONTROL, self._commanded_opening / 2,
                                         force=self.finger_force)
        self.world.settle(60)
        return True, f"fingers open to {self.opening() * 1000:.1f} mm"

    def _withdraw(self, why: str) -> tuple[bool, str]:
        """A failed step: the floating hand has no arm to stop clear of the scene, so it is taken out of it (as an
        arm whose motion was refused would not be in it) before the next attempt opens the fingers."""
        self.park()
        return False, why

    def held_object(self) -> int | None:
        """The object touching both fingers that rose at least half as much as the hand since the fingers
        closed (VGN's success test); None when nothing is held."""
        if self._at_close is None or self.opening() < MIN_HOLD_WIDTH:
            return None
        heights, hand_height = self._at_close
        rise = self.pose()[2, 3] - hand_height
        touching = self._finger_contacts(0) & self._finger_contacts(1) & set(self.world.objects)
        risen = [b for b in sorted(touching) if self.world.height_of(b) - heights.get(b, 0.0) > 0.5 * rise - 1e-3]
        return risen[0] if risen else None

    # ------------------------------------------------------------------------------------------ motion
    def _pose_args(self, T: np.ndarray):
        return list(T[:3, 3]), list(self._Rotation.from_matrix(T[:3, :3]).as_quat())

    def pose(self) -> np.ndarray:
        """The hand base's (flange's) current 4x4 world pose."""
        pos, quat = self.p.getBasePositionAndOrientation(self.body)
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = self._Rotation.from_quat(quat).as_matrix(), pos
        return T

    def teleport(self, T: np.ndarray) -> None:
        """Put the hand at ``T`` at once, fingers at the commanded opening."""
        pos, quat = self._pose_args(T)
        self.p.resetBasePositionAndOrientation(self.body, pos, quat)
        self.p.changeConstraint(self.constraint, pos, quat, maxForce=300)
        for j in self.joints:
            self.p.resetJointState(self.body, j, self._commanded_opening / 2)
            self.p.setJointMotorControl2(self.body, j, self.p.POSITION_CONTROL, self._commanded_opening / 2,
                                         force=self.finger_force)

    def move_linear(self, T_target: np.ndarray, step: float = 0.0025, settle_steps: int = 4) -> None:
        """Straight line at ``step`` per ``settle_steps`` physics steps: 0.15 m/s, a cautious arm's speed (at 0.3 m/s,
        starting from rest, the lift and retreat shook loose holds that the slower motion keeps)."""
        start = self.pose()[:3, 3]
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

    def park(self) -> None:
        """Open the fingers (letting go of anything held) and move the hand out of the scene."""
        T = np.eye(4)
        T[:3, 3] = [0.0, 0.0, 1.5]
        self._at_close, self._commanded_opening = None, PANDA.max_opening
        self.teleport(T)
        self.world.settle(1)

    def close(self) -> None:
        self._urdf.unlink(missing_ok=True)


def execute_grasp(hand: SimHand, T_world_grasp: np.ndarray, width: float = PANDA.max_opening, depth: float = 0.02,
                  config: PlannerConfig = BENCH_PLANNER) -> GraspOutcome:
    """Plan one GraspNet-frame world grasp and run it through the executor's stage sequence on the simulated hand;
    the hand then lets go and parks. ``object_id`` is the body that was held at the end of a success."""
    plan = plan_grasp(T_world_grasp, width, depth, config)
    try:
        result = run_plan(plan, hand.move, hand.grip, open_width=PANDA.max_opening)
        held = hand.held_object() if result.success else None
    finally:
        hand.park()
    return GraspOutcome(result.success, result.stage, result.message, held)
