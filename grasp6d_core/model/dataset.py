"""Training samples from a GraspNet-1Billion-format root (DESIGN §5): real or synthetic, same code.

One sample = one image: depth -> camera-frame cloud, ``num_points`` sampled, normals estimated (oriented to
the camera), per-point object index and objectness from the label image, graspness from the labels (share of
a point's good grasps, min-max normalised per image), and the objects' labels + SDFs + poses for the losses.
Object labels stay in RAM (float16), collision labels per scene as packed bits.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.model.labels import SEED_LABEL_RADIUS, ObjectLabels

WORKSPACE_MARGIN = 0.05


def estimate_normals(points: np.ndarray, knn: int = 20) -> np.ndarray:
    """Unit normals (N, 3) of a camera-frame cloud, flipped to face the camera (origin)."""
    import open3d as o3d
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn))
    n = np.asarray(pcd.normals, dtype=np.float32)
    flip = (n * points).sum(1) > 0  # a camera-facing normal points back toward the origin
    n[flip] *= -1
    return n


class GraspSceneDataset:
    """Images of the given scenes/anns of ``root`` as training samples (see module doc)."""

    def __init__(self, root: str | Path, scenes: list[int], camera: str = "realsense", anns: list[int] | None = None,
                 num_points: int = 20000, seed: int = 0):
        self.root, self.camera, self.num_points = Path(root), camera, int(num_points)
        if not (self.root / "scenes").is_dir():
            raise FileNotFoundError(f"--data {self.root}: no scenes/ folder (expected a GraspNet-format root)")
        self.items = []
        for s in scenes:
            depth_dir = self.root / "scenes" / f"scene_{s:04d}" / camera / "depth"
            if not depth_dir.is_dir():
                raise FileNotFoundError(f"scene {s}: no {depth_dir}")
            present = sorted(int(p.stem) for p in depth_dir.glob("*.png"))
            self.items += [(s, a) for a in present if anns is None or a in anns]
        if not self.items:
            raise ValueError(f"no images for scenes {scenes} / camera {camera} under {self.root}")
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    @functools.lru_cache(maxsize=256)
    def _object(self, oid: int) -> tuple:
        from grasp6d_core.data.sdf import ObjectSDF
        path = self.root / "grasp_label" / f"{oid:03d}_labels.npz"
        if not path.is_file():
            raise FileNotFoundError(f"object {oid}: no grasp labels at {path}")
        with np.load(path) as z:
            mu, widths, points = z["scores"].astype(np.float16), z["offsets"][..., 2].astype(np.float16), z["points"]
        sdf_path = self.root / "models" / f"{oid:03d}" / "sdf.npz"
        sdf = ObjectSDF.load(sdf_path) if sdf_path.is_file() else None
        return points.astype(np.float32), mu, widths, sdf

    @functools.lru_cache(maxsize=512)
    def _collisions(self, scene: int) -> list:
        path = self.root / "collision_label" / f"scene_{scene:04d}" / "collision_labels.npz"
        if not path.is_file():
            return []
        with np.load(path) as z:
            return [(np.packbits(z[f"arr_{i}"]), z[f"arr_{i}"].shape) for i in range(len(z.files))]

    def object_labels(self, scene: int, oid: int, order: list[int]) -> ObjectLabels:
        points, mu, widths, sdf = self._object(oid)
        coll = self._collisions(scene)
        collision = None
        if coll:
            bits, shape = coll[order.index(oid)]
            collision = np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).astype(bool)
        return ObjectLabels(points, mu, widths, collision, sdf)

    def __getitem__(self, i: int) -> dict:
        import scipy.io
        from PIL import Image
        scene, ann = self.items[i]
        sdir = self.root / "scenes" / f"scene_{scene:04d}"
        cdir = sdir / self.camera
        meta = scipy.io.loadmat(cdir / "meta" / f"{ann:04d}.mat")
        depth = np.asarray(Image.open(cdir / "depth" / f"{ann:04d}.png"), np.float32) / float(np.ravel(meta.get("factor_depth", [[1000.0]]))[0])
        label = np.asarray(Image.open(cdir / "label" / f"{ann:04d}.png")).astype(np.int64)
        intr = CameraIntrinsics.from_matrix(np.load(cdir / "camK.npy"), depth.shape[1], depth.shape[0])
        cloud = intr.depth_to_points(depth, organized=True)
        valid = np.isfinite(cloud[..., 2])
        points, seg = cloud[valid], label[valid]
        if (seg > 0).any():  # workspace: the objects' box + WORKSPACE_MARGIN (as GSNet crops), not the whole table
            lo, hi = points[seg > 0].min(0) - WORKSPACE_MARGIN, points[seg > 0].max(0) + WORKSPACE_MARGIN
            keep = np.all((points >= lo) & (points <= hi), axis=1)
            points, seg = points[keep], seg[keep]
        pick = self.rng.choice(len(points), self.num_points, replace=len(points) < self.num_points)
        points, seg = points[pick].astype(np.float32), seg[pick]
        ids = np.ravel(meta["cls_indexes"]).astype(int) - 1
        poses = np.tile(np.eye(4), (len(ids), 1, 1))
        poses[:, :3, :] = np.moveaxis(np.asarray(meta["poses"]).reshape(3, 4, -1), 2, 0)
        order = [int(v) for v in (sdir / "object_id_list.txt").read_text().split()]
        objects = [self.object_labels(scene, int(o), order) for o in ids]
        point_obj = np.full(len(points), -1, np.int64)
        for k, oid in enumerate(ids):
            point_obj[seg == oid + 1] = k
        graspness = np.zeros(len(points), np.float32)
        from scipy.spatial import cKDTree
        for k, (obj, pose) in enumerate(zip(objects, poses)):
            sel = np.flatnonzero(point_obj == k)
            if len(sel) == 0:
                continue
            cam = obj.points @ pose[:3, :3].T + pose[:3, 3]
            dist, near = cKDTree(cam).query(points[sel])
            graspness[sel] = np.where(dist <= 2 * SEED_LABEL_RADIUS, obj.graspness()[near], 0.0)
        on = point_obj >= 0
        if on.any():
            lo, hi = graspness[on].min(), graspness[on].max()
            graspness[on] = (graspness[on] - lo) / max(hi - lo, 1e-9)
        return {"points": points, "normals": estimate_normals(points), "point_obj": point_obj,
                "objectness": on.astype(np.int64), "graspness": graspness, "objects": objects, "poses": poses,
                "scene": scene, "ann": ann}
