"""Point normals of a camera-frame cloud (shared by the training data, the detector and the benchmarks)."""
from __future__ import annotations

import numpy as np


def estimate_normals(points: np.ndarray, knn: int = 20) -> np.ndarray:
    """Unit normals (N, 3) of a camera-frame cloud, flipped to face the camera (origin)."""
    import open3d as o3d
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn))
    n = np.asarray(pcd.normals, dtype=np.float32)
    flip = (n * points).sum(1) > 0  # a camera-facing normal points back toward the origin
    n[flip] *= -1
    return n
