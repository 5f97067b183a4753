"""Model-free object segmentation of a scene cloud: remove the table plane, cluster what is left.

Open3D does the work (``segment_plane`` RANSAC, ``cluster_dbscan`` Euclidean/DBSCAN clustering) on a voxel copy
of the cloud; non-table points left out of every cluster join a cluster within twice the clustering distance
(sparse rows of a wall seen at a grazing angle); every input point then takes the label of its nearest voxel point. Labels: 1, 2, … per object
cluster, largest first; 0 = table / noise / too small. Object ids start at 1 so that a default (0) request field
means "no object chosen" — see docs/ros_app.md "Target objects".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grasp6d_core.grasp import OBJECT_ID, GraspGroup

NO_OBJECT = 0


@dataclass(frozen=True)
class SegmentationParams:
    voxel_size: float = 0.004          # m, the clustering runs on this voxel copy of the cloud
    plane_distance: float = 0.006      # m, RANSAC inlier distance of the table plane
    plane_min_fraction: float = 0.15   # a plane with fewer of the points is not a table (nothing removed)
    cluster_distance: float = 0.012    # m, DBSCAN eps: points closer than this belong to one object
    min_cluster_points: int = 30       # smaller clusters (in voxel points) are noise
    contact_distance: float = 0.02     # m, a grasp whose centre is farther from every point gets object_id -1

    def validate(self) -> "SegmentationParams":
        for name in ("voxel_size", "plane_distance", "cluster_distance", "contact_distance"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"segmentation_{name} must be > 0, got {value}")
        if not 0 <= self.plane_min_fraction <= 1:
            raise ValueError(f"segmentation_plane_min_fraction must be in [0, 1], got {self.plane_min_fraction}")
        if self.min_cluster_points < 1:
            raise ValueError(f"segmentation_min_cluster_points must be >= 1, got {self.min_cluster_points}")
        return self


def segment_objects(points: np.ndarray, params: SegmentationParams = SegmentationParams()) -> np.ndarray:
    """(N,) int32 labels of ``points`` (N, 3): 1..K per object (largest first), 0 = table plane or noise."""
    import open3d as o3d
    from scipy.spatial import cKDTree
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    labels = np.zeros(len(points), dtype=np.int32)
    finite = np.isfinite(points).all(axis=1)
    if finite.sum() < 3:
        return labels
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[finite]))
    cloud = cloud.voxel_down_sample(params.voxel_size)
    voxel = np.asarray(cloud.points)
    voxel_labels = np.full(len(voxel), -1, dtype=np.int64)
    objects = np.ones(len(voxel), dtype=bool)
    if len(voxel) >= 3:
        o3d.utility.random.seed(0)   # RANSAC: the same cloud must give the same ids on every request
        _, inliers = cloud.segment_plane(params.plane_distance, ransac_n=3, num_iterations=200,
                                         probability=0.9999)
        if len(inliers) >= params.plane_min_fraction * len(voxel):
            objects[inliers] = False
    if objects.sum() >= params.min_cluster_points:
        rest = cloud.select_by_index(np.flatnonzero(objects).tolist())
        clusters = np.asarray(rest.cluster_dbscan(params.cluster_distance, min_points=4, print_progress=False))
        voxel_labels[objects] = clusters
    # Renumber: clusters big enough, largest first, from 1.
    ids, counts = np.unique(voxel_labels[voxel_labels >= 0], return_counts=True)
    keep = ids[counts >= params.min_cluster_points][np.argsort(-counts[counts >= params.min_cluster_points],
                                                               kind="stable")]
    renumber = np.zeros(int(voxel_labels.max()) + 2, dtype=np.int32)
    renumber[keep + 1] = np.arange(1, len(keep) + 1, dtype=np.int32)
    voxel_labels = renumber[voxel_labels + 1]
    _attach_sparse_points(voxel, voxel_labels, objects, 2 * params.cluster_distance)
    nearest = cKDTree(voxel).query(points[finite])[1]
    labels[finite] = voxel_labels[nearest]
    return labels


def _attach_sparse_points(points: np.ndarray, labels: np.ndarray, candidates: np.ndarray, reach: float,
                          rounds: int = 5) -> None:
    """Give unlabelled non-table points the label of a labelled neighbour within ``reach``, spreading a few
    rounds (in place). Walls seen at a grazing angle are sampled in rows farther apart than the clustering
    distance; without this they fall out as small noise clusters and grasps on them get no object."""
    from scipy.spatial import cKDTree
    for _ in range(rounds):
        loose, labelled = np.flatnonzero(candidates & (labels == NO_OBJECT)), np.flatnonzero(labels != NO_OBJECT)
        if len(loose) == 0 or len(labelled) == 0:
            return
        distance, nearest = cKDTree(points[labelled]).query(points[loose], distance_upper_bound=reach)
        near = np.isfinite(distance)
        if not near.any():
            return
        labels[loose[near]] = labels[labelled[nearest[near]]]


def grasp_contacts(points: np.ndarray, grasps: GraspGroup, max_distance: float) -> np.ndarray:
    """(G,) index of the cloud point a grasp acts on — the one nearest its centre (the network places the
    centre on the surface it grasps) — or -1 when no point lies within ``max_distance``."""
    from scipy.spatial import cKDTree
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    finite = np.flatnonzero(np.isfinite(points).all(axis=1))
    if len(grasps) == 0 or len(finite) == 0:
        return np.full(len(grasps), -1, dtype=np.int64)
    distance, nearest = cKDTree(points[finite]).query(grasps.translations)
    return np.where(distance <= max_distance, finite[np.minimum(nearest, len(finite) - 1)], -1)


def label_grasps(points: np.ndarray, labels: np.ndarray, grasps: GraspGroup,
                 max_distance: float = SegmentationParams.contact_distance) -> GraspGroup:
    """A copy of ``grasps`` whose object_id is the segment its contact point lies on (-1: none / table)."""
    contact = grasp_contacts(points, grasps, max_distance)
    ids = np.where(contact >= 0, np.asarray(labels)[np.maximum(contact, 0)], NO_OBJECT)
    out = grasps.copy()
    out.array[:, OBJECT_ID] = np.where(ids == NO_OBJECT, -1, ids)
    return out
