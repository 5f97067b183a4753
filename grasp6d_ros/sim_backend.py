"""The executor's ``sim`` backend: the PyBullet Franka hand (grasp6d_core.sim) in a clutter world.

It is the simulated hand itself — ``move(stage, pose)`` / ``grip(stage, width)`` like the MoveIt backend — so the
executor runs the same plan, pose by pose (pre-grasp, approach, close, lift, retreat), on either; this class only
builds the world from the node's ``sim_*`` parameters and closes it. The world frame is the base frame.
"""
from __future__ import annotations

from grasp6d_core.sim.hand import SimHand
from grasp6d_core.sim.world import ClutterWorld


class SimBackend(SimHand):
    def __init__(self, world: ClutterWorld | None = None, scene: str = "pile", objects: str = "seen", count: int = 3,
                 seed: int = 0):
        if world is None:
            world = ClutterWorld(seed=seed)
            world.reset(scene=scene, objects=objects, count=count)
        super().__init__(world)

    def close(self) -> None:
        super().close()
        self.world.close()
