"""Grasp physics shared by the judges and the data engine.

- :mod:`.gripper`: the GraspNet evaluator's parallel-jaw geometry and vectorised collision / "empty" checks.
- :mod:`.contacts`: where the closing line meets an object's surface (any object with ``.distance``/``.normal``).
- :mod:`.force_closure`: the smallest friction coefficient in a grid for which two soft-finger contacts hold.
"""
from grasp6d_core.physics.contacts import MeshSDF, SurfaceObject, closing_line_contacts
from grasp6d_core.physics.force_closure import FRICTION_GRID, grasp_friction, min_friction
from grasp6d_core.physics.gripper import GripperGeometry, collision_and_empty

__all__ = ["GripperGeometry", "collision_and_empty", "SurfaceObject", "MeshSDF", "closing_line_contacts",
           "FRICTION_GRID", "min_friction", "grasp_friction"]
