"""Surface normals the way graspnetAPI's Dex-Net estimates them, for the evaluator's force-closure check.

Dex-Net's ``Sdf3D.surface_normal`` does not differentiate the grid: it samples the SDF at the contact and at 26
points on a sphere of 1.5 voxels around it, keeps those within its surface band (|d| < voxel·√2/2), fits a plane
to them (smallest singular vector) and points the normal to increasing distance. Near edges, apexes and thin
walls this differs from the grid's gradient by several degrees — enough to move μ across a 0.2 step of the
benchmark's list — so the evaluator uses the same estimate on the same grid.
"""
from __future__ import annotations

import itertools

import numpy as np

RADIUS_VOXELS = 1.5
# Offsets of Dex-Net's sampling loop (dx, dy, dz in {−1.5, 0, 1.5}, scaled onto the 1.5-voxel sphere).
_OFFSETS = np.array([d for d in itertools.product((-1.0, 0.0, 1.0), repeat=3)], dtype=np.float64)
_OFFSETS[np.any(_OFFSETS != 0, axis=1)] /= np.linalg.norm(_OFFSETS[np.any(_OFFSETS != 0, axis=1)], axis=1,
                                                           keepdims=True)
_OFFSETS *= RADIUS_VOXELS


class PlaneFitNormals:
    """A SurfaceObject (``distance``, ``normal``) over a grid SDF with Dex-Net's plane-fit normals.

    ``sdf`` needs ``distance(points)`` and ``voxel_size`` (the data engine's ObjectSDF)."""

    def __init__(self, sdf) -> None:
        self.sdf = sdf
        self.voxel_size = float(sdf.voxel_size)

    def distance(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(self.sdf.distance(points), dtype=np.float64)

    def normal(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        n = len(points)
        if n == 0:
            return np.zeros((0, 3))
        samples = points[:, None, :] + self.voxel_size * _OFFSETS[None]               # (n, 27, 3)
        d = self.distance(samples.reshape(-1, 3)).reshape(n, len(_OFFSETS))
        keep = (np.abs(d) < self.voxel_size * np.sqrt(2) / 2).astype(np.float64)      # Dex-Net's surface band
        count = np.maximum(keep.sum(axis=1, keepdims=True), 1.0)
        mean = (keep[..., None] * samples).sum(axis=1) / count
        centred = (samples - mean[:, None, :]) * keep[..., None]
        _, vectors = np.linalg.eigh(np.einsum("nki,nkj->nij", centred, centred))
        normal = vectors[:, :, 0]                                                    # smallest variance
        # Outward: Dex-Net flips the plane normal when a step along it lowers the distance.
        step = 0.01 * self.voxel_size
        lower = self.distance(points + step * normal) < self.distance(points)
        return np.where(lower[:, None], -normal, normal)
