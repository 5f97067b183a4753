"""Analytic shapes with the SurfaceObject protocol (distance negative inside, outward normals) for tests."""
from __future__ import annotations

import numpy as np


class Box:
    def __init__(self, half_extents, center=(0.0, 0.0, 0.0)):
        self.half = np.asarray(half_extents, dtype=np.float64)
        self.center = np.asarray(center, dtype=np.float64)

    def distance(self, points):
        q = np.abs(np.asarray(points, dtype=np.float64) - self.center) - self.half
        outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
        return outside + np.minimum(q.max(axis=1), 0.0)

    def normal(self, points, eps=1e-5):
        points = np.asarray(points, dtype=np.float64)
        grad = np.stack([self.distance(points + eps * e) - self.distance(points - eps * e) for e in np.eye(3)], axis=1)
        return grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)

    def surface_points(self, spacing=0.004):
        axes = [np.arange(-h, h + 1e-9, spacing) for h in self.half]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        on_face = np.any(np.isclose(np.abs(grid), self.half, atol=spacing / 2), axis=1)
        return grid[on_face] + self.center


class Sphere:
    def __init__(self, radius, center=(0.0, 0.0, 0.0)):
        self.radius = float(radius)
        self.center = np.asarray(center, dtype=np.float64)

    def distance(self, points):
        return np.linalg.norm(np.asarray(points, dtype=np.float64) - self.center, axis=1) - self.radius

    def normal(self, points):
        v = np.asarray(points, dtype=np.float64) - self.center
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


class Cylinder:
    """Axis along z, like trimesh.creation.cylinder."""

    def __init__(self, radius, height, center=(0.0, 0.0, 0.0)):
        self.radius, self.half = float(radius), float(height) / 2
        self.center = np.asarray(center, dtype=np.float64)

    def distance(self, points):
        p = np.asarray(points, dtype=np.float64) - self.center
        q = np.stack([np.linalg.norm(p[:, :2], axis=1) - self.radius, np.abs(p[:, 2]) - self.half], axis=1)
        return np.linalg.norm(np.maximum(q, 0.0), axis=1) + np.minimum(q.max(axis=1), 0.0)

    normal = Box.normal
