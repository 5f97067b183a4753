"""Refuse a dump file that holds garbage before it is scored.

The AP of garbage is a number, not an error: NaN scores sort anywhere (AP 84.98 instead of 90.43 on one
test scene), "rotations" that are not rotations still hit objects by chance (a block of 7.0 gave AP 6.24).
So each file's grasps are checked first, and the first fault is raised as one ValueError naming the file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from grasp6d_core.grasp import DEPTH, HEIGHT, OBJECT_ID, ROTATION, SCORE, TRANSLATION, WIDTH, GraspGroup

# Dumps are float32: a true rotation is orthonormal to ~1e-6 there; 1e-3 still refuses anything that is not one.
ROTATION_TOLERANCE = 1e-3
COLUMNS = {"score": SCORE, "width": WIDTH, "height": HEIGHT, "depth": DEPTH, "rotation": ROTATION,
           "translation": TRANSLATION, "object_id": OBJECT_ID}


def check_dump_grasps(grasps: GraspGroup, path: str | Path) -> None:
    """ValueError '<path>: <fault>' when a grasp has a non-finite value, a negative width or depth, or a
    rotation block that is not a proper rotation (R Rᵀ = I, det R = +1)."""
    array = grasps.array
    if len(array) == 0:
        return
    for name, columns in COLUMNS.items():
        bad = ~np.isfinite(array[:, columns].reshape(len(array), -1)).all(axis=1)
        if bad.any():
            raise ValueError(f"dump file {path}: {name} is not finite (NaN/inf) in {bad.sum()} of {len(array)} "
                             f"grasps, first at row {np.flatnonzero(bad)[0]}")
    for name, column in (("width", WIDTH), ("depth", DEPTH)):
        bad = array[:, column] < 0
        if bad.any():
            raise ValueError(f"dump file {path}: {name} is negative in {bad.sum()} of {len(array)} grasps, "
                             f"first at row {np.flatnonzero(bad)[0]} ({array[np.flatnonzero(bad)[0], column]:g})")
    R = grasps.rotations
    orthonormal_error = np.abs(R @ R.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2))
    bad = (orthonormal_error > ROTATION_TOLERANCE) | (np.abs(np.linalg.det(R) - 1) > ROTATION_TOLERANCE)
    if bad.any():
        first = np.flatnonzero(bad)[0]
        raise ValueError(f"dump file {path}: the rotation block (columns 4-12) is not a rotation matrix in "
                         f"{bad.sum()} of {len(array)} grasps, first at row {first} "
                         f"(|R Rᵀ − I| = {orthonormal_error[first]:.3g}, det = {np.linalg.det(R[first]):.3g})")
