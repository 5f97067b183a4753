"""grasp6d_core: 6-DoF grasp detection without ROS (sensing, fusion, data, model, evaluation, execution)."""
from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["CameraIntrinsics", "GraspGroup", "grasp_rotation", "approach_of", "__version__"]

# The package's short names, imported on first use: `grasp6d --help` and every submodule import the package, and
# the names below pull in scipy (~0.5 s) that most of them never need.
_LAZY = {"CameraIntrinsics": "grasp6d_core.camera", "GraspGroup": "grasp6d_core.grasp",
         "grasp_rotation": "grasp6d_core.rotations", "approach_of": "grasp6d_core.rotations"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'grasp6d_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
