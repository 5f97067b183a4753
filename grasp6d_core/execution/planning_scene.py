"""Collision geometry around a grasp, from a scene cloud: a box for the table and one box per object.

A motion planner (MoveIt) must know the table and the neighbouring objects, or it plans the arm straight through
them. Open3D fits the table plane (``segment_plane``, RANSAC) and clusters what stands on it
(``cluster_dbscan``); each cluster becomes a box whose z axis is the table normal and whose footprint is the
cluster's principal axes, extended down to the table (the camera never sees an object's underside). The cluster
the grasp acts on is the *target*: the planner must let the fingers touch it and carry it after the close.

Plain numpy in, plain boxes out (base-frame metres); the ROS side only turns them into messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Box:
    """A box of ``size`` (x, y, z extents) centred at ``centre`` with axes ``rotation`` (columns)."""

    centre: np.ndarray
    rotation: np.ndarray
    size: np.ndarray

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        local = (np.asarray(points, dtype=np.float64).reshape(-1, 3) - self.centre) @ self.rotation
        return np.all(np.abs(local) <= self.size / 2 + margin, axis=1)


@dataclass(frozen=True)
class SceneParams:
    voxel_size: float = 0.005          # m, the fit runs on this voxel copy of the cloud
    plane_distance: float = 0.008      # m, RANSAC inlier distance of the table plane
    min_table_fraction: float = 0.2    # a plane holding fewer of the points is not taken as the table
    table_thickness: float = 0.02      # m, the table box reaches this far below the fitted surface
    cluster_distance: float = 0.015    # m, DBSCAN eps: points closer than this belong to one object
    min_cluster_points: int = 10       # smaller clusters (voxel points) are noise
    padding: float = 0.005             # m added on every side of an object box
    target_distance: float = 0.03      # m, a grasp whose point is farther from every cluster has no target

    def validate(self) -> "SceneParams":
        for name in ("voxel_size", "plane_distance", "table_thickness", "cluster_distance", "target_distance"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"planning scene {name} must be > 0, got {value}")
        if not 0.0 <= self.min_table_fraction <= 1.0 or self.padding < 0 or self.min_cluster_points < 1:
            raise ValueError(f"planning scene parameters out of range: min_table_fraction="
                             f"{self.min_table_fraction} (0..1), padding={self.padding} (>= 0), "
                             f"min_cluster_points={self.min_cluster_points} (>= 1)")
        return self


@dataclass
class SceneGeometry:
    table: Box | None                              # None: no plane big enough to be a table
    objects: list[Box] = field(default_factory=list)
    object_points: list[np.ndarray] = field(default_factory=list)   # the voxel points of each object box

    def target_index(self, grasp_point: np.ndarray, max_distance: float) -> int | None:
        """The object the grasp at ``grasp_point`` acts on: the one with a point nearest to it, if close enough."""
        best, best_distance = None, max_distance
        for index, points in enumerate(self.object_points):
            distance = float(np.min(np.linalg.norm(points - np.asarray(grasp_point, dtype=np.float64), axis=1)))
            if distance <= best_distance:
                best, best_distance = index, distance
        return best


def _table_frame(normal: np.ndarray) -> np.ndarray:
    """A rotation whose z axis is ``normal``."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, normal)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(normal, x), normal], axis=1)


def _footprint_box(points: np.ndarray, frame: np.ndarray, bottom: float, top: float | None = None,
                   padding: float = 0.0) -> Box:
    """Box of ``points`` with z along ``frame``'s z, in-plane axes along the points' principal directions,
    from height ``bottom`` (in ``frame`` z) to the highest point (or ``top``)."""
    local = points @ frame
    planar = local[:, :2] - local[:, :2].mean(axis=0)
    if len(points) >= 3 and np.linalg.matrix_rank(planar, tol=1e-9) == 2:
        _, vectors = np.linalg.eigh(planar.T @ planar)
        in_plane = vectors[:, ::-1]
        if np.linalg.det(in_plane) < 0:
            in_plane[:, 1] *= -1
    else:
        in_plane = np.eye(2)
    rotation = frame.copy()
    rotation[:, :2] = frame[:, :2] @ in_plane
    aligned = points @ rotation
    low, high = aligned.min(axis=0), aligned.max(axis=0)
    low[2], high[2] = bottom, high[2] if top is None else top
    low, high = low - padding, high + padding
    low[2] = bottom                       # never below the table surface: it would collide with the table box
    centre_local = (low + high) / 2
    return Box(centre=rotation @ centre_local, rotation=rotation, size=high - low)


def fit_scene(points: np.ndarray, params: SceneParams = SceneParams(), up: np.ndarray = (0.0, 0.0, 1.0)) -> SceneGeometry:
    """Table box and object boxes of a cloud (N, 3) in a frame whose ``up`` points away from the table."""
    import open3d as o3d
    params.validate()
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) < 3:
        return SceneGeometry(table=None)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points)).voxel_down_sample(params.voxel_size)
    voxel = np.asarray(cloud.points)
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    table, frame, surface = None, _table_frame(up), None
    rest = np.ones(len(voxel), dtype=bool)
    if len(voxel) >= 3:
        o3d.utility.random.seed(0)   # the same cloud gives the same boxes
        model, inliers = cloud.segment_plane(params.plane_distance, ransac_n=3, num_iterations=200)
        if len(inliers) >= params.min_table_fraction * len(voxel):
            normal = np.asarray(model[:3], dtype=np.float64)
            normal /= np.linalg.norm(normal)
            normal = normal if normal @ up >= 0 else -normal      # objects stand on the upper side
            frame = _table_frame(normal)
            rest[inliers] = False
            surface = float(np.median(voxel[inliers] @ normal))
            table = _footprint_box(voxel[inliers], frame, bottom=surface - params.table_thickness, top=surface)
            rest &= voxel @ normal > surface + params.plane_distance   # drop what lies below the table top
    geometry = SceneGeometry(table=table)
    if rest.sum() < params.min_cluster_points:
        return geometry
    others = voxel[rest]
    labels = np.asarray(o3d.geometry.PointCloud(o3d.utility.Vector3dVector(others))
                        .cluster_dbscan(params.cluster_distance, min_points=3, print_progress=False))
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    for label in ids[np.argsort(-counts, kind="stable")]:
        members = others[labels == label]
        if len(members) < params.min_cluster_points:
            continue
        bottom = surface if surface is not None else float((members @ frame[:, 2]).min())
        geometry.objects.append(_footprint_box(members, frame, bottom=bottom, padding=params.padding))
        geometry.object_points.append(members)
    return geometry
