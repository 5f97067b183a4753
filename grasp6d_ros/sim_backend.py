"""The executor's ``sim`` backend: the PyBullet Franka hand (grasp6d_core.sim) in a clutter world.

The simulated hand runs pre-grasp -> approach -> close -> lift itself from the grasp pose (its own TCP
offset, VGN's success test), so this backend executes whole plans (``execute_plan``) instead of single
moves; the executor chose the π-symmetric variant and the ranking already. The world frame is the base frame.
"""
from __future__ import annotations

from grasp6d_core.execution import GraspPlan, StageResult


class SimBackend:
    def __init__(self, world=None, scene: str = "pile", objects: str = "seen", count: int = 3, seed: int = 0,
                 pregrasp_distance: float = 0.08, lift: float = 0.10):
        from grasp6d_core.sim.hand import SimHand
        from grasp6d_core.sim.world import ClutterWorld
        if world is None:
            world = ClutterWorld(seed=seed)
            world.reset(scene=scene, objects=objects, count=count)
        self.world = world
        self.hand = SimHand(world, pregrasp_distance=pregrasp_distance, lift=lift)

    def execute_plan(self, plan: GraspPlan) -> StageResult:
        outcome = self.hand.execute(plan.grasp_pose, width=plan.width, depth=plan.depth)
        # the simulated hand stops after the lift ("done"); report the last stage it really reached
        stage = "lift" if outcome.stage == "done" else outcome.stage
        message = (f"sim: {outcome.message} (object body {outcome.object_id})" if outcome.success
                   else f"{stage} failed: sim: {outcome.message}")
        return StageResult(outcome.success, stage, message)

    def close(self) -> None:
        self.hand.close()
        self.world.close()
