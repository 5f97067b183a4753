"""``GraspNetDataset``: samples of a GraspNet-1Billion-format root (real or synthetic) for training and tests.

- ``mode='single'``: one image = one sample, built by the model's :class:`GraspSceneDataset` (camera-frame
  cloud with normals, per-point object index / objectness, graspness from the labels, object labels with the
  scene's collision labels, poses camera <- object).
- ``mode='fused'``: one scene = one sample: every view's depth fused in a TSDF
  (:class:`grasp6d_core.sensing.tsdf.TSDFVolume`, table frame), its surface sampled to ``num_points`` points with
  TSDF normals, expressed in camera 0's frame (the evaluator's fused protocol dumps ann 0); points take the
  object whose model points (``nontextured.ply``) lie within ``FUSED_SEG_RADIUS``.
- ``augment=True``: a random rotation about the camera x axis (±30°, as GSNet) and z (±15°), applied to
  points, normals and object poses (no mirror flip: it would make the poses improper).

Works on a real GraspNet-1Billion root: it needs only depth, label, meta, camK, object_id_list, grasp_label
(and, for fused mode, camera_poses / cam0_wrt_table and models); collision labels and SDFs are used when present.
Any unreadable file raises :class:`DataFileError` naming it. Batch with ``DataLoader(ds, collate_fn=list)`` or
the trainer's ``collate``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SPLITS = {"train": range(0, 100), "seen": range(100, 130), "similar": range(130, 160), "novel": range(160, 190),
          "test": range(100, 190)}
FUSED_SEG_RADIUS = 0.008


class DataFileError(ValueError):
    """A missing or unreadable dataset file; ``path`` names it."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)


def check_file(path: Path) -> None:
    """Read ``path`` fully by its type; raise DataFileError naming it when it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "missing")
    try:
        if path.suffix == ".png":
            from PIL import Image
            with Image.open(path) as im:
                im.load()
        elif path.suffix == ".mat":
            import scipy.io
            meta = scipy.io.loadmat(str(path))
            for key in ("cls_indexes", "poses"):
                if key not in meta:
                    raise KeyError(f"no '{key}'")
        elif path.suffix == ".npz":
            with np.load(path) as z:
                for k in z.files:
                    z[k]
        elif path.suffix == ".npy":
            np.load(path)
        elif path.suffix == ".ply":
            import open3d as o3d
            if len(o3d.io.read_point_cloud(str(path)).points) == 0:
                raise ValueError("no points")
        else:
            path.read_bytes()
    except DataFileError:
        raise
    except Exception as e:  # noqa: BLE001 - any reader error means a corrupt file
        raise DataFileError(path, f"unreadable ({type(e).__name__}: {e})") from e


def _rotation(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    R = np.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


class GraspNetDataset:
    """See the module doc. ``scenes`` overrides the split's scene ids; missing scenes are skipped."""

    def __init__(self, root: str | Path, camera: str = "realsense", split: str = "train", mode: str = "single",
                 augment: bool = False, num_points: int = 20000, scenes=None, anns=None, seed: int = 0,
                 voxel_size: float = 0.005):
        from grasp6d_core.model.dataset import GraspSceneDataset
        if mode not in ("single", "fused"):
            raise ValueError(f"mode must be 'single' or 'fused', got {mode!r}")
        if scenes is None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: choose from {sorted(SPLITS)}")
        self.root, self.camera, self.mode, self.augment = Path(root), camera, mode, augment
        self.num_points, self.voxel_size = int(num_points), float(voxel_size)
        if not (self.root / "scenes").is_dir():
            raise FileNotFoundError(f"{self.root / 'scenes'}: missing (expected a GraspNet-format root)")
        wanted = list(SPLITS[split] if scenes is None else scenes)
        present = [s for s in wanted if (self.root / "scenes" / f"scene_{s:04d}" / camera / "depth").is_dir()]
        if not present:
            raise FileNotFoundError(f"no scenes of {wanted[0]}–{wanted[-1]} with {camera} depth under {self.root}")
        self.base = GraspSceneDataset(self.root, present, camera, anns=anns, num_points=num_points, seed=seed)
        self.scenes = present
        self.rng = np.random.default_rng(seed + 7)

    def __len__(self) -> int:
        return len(self.base) if self.mode == "single" else len(self.scenes)

    # ------------------------------------------------------------------------------------------ files
    def image_files(self, scene: int, ann: int) -> list[Path]:
        sdir = self.root / "scenes" / f"scene_{scene:04d}"
        cdir = sdir / self.camera
        files = [sdir / "object_id_list.txt", cdir / "camK.npy", cdir / "depth" / f"{ann:04d}.png",
                 cdir / "label" / f"{ann:04d}.png", cdir / "meta" / f"{ann:04d}.mat"]
        coll = self.root / "collision_label" / f"scene_{scene:04d}" / "collision_labels.npz"
        files += [coll] if coll.exists() else []
        try:
            import scipy.io
            ids = np.ravel(scipy.io.loadmat(str(cdir / "meta" / f"{ann:04d}.mat"))["cls_indexes"]).astype(int) - 1
        except Exception:  # noqa: BLE001 - the meta check above names it
            ids = []
        for oid in ids:
            files.append(self.root / "grasp_label" / f"{oid:03d}_labels.npz")
            sdf = self.root / "models" / f"{oid:03d}" / "sdf.npz"
            files += [sdf] if sdf.exists() else []
        return files

    def _guarded(self, fn, files_of):
        try:
            return fn()
        except DataFileError:
            raise
        except Exception as e:  # noqa: BLE001 - find and name the bad file
            for path in files_of():
                check_file(path)
            raise DataFileError(self.root, f"could not build the sample ({type(e).__name__}: {e})") from e

    # ------------------------------------------------------------------------------------------ samples
    def __getitem__(self, i: int) -> dict:
        if self.mode == "single":
            scene, ann = self.base.items[i]
            sample = self._guarded(lambda: self.base[i], lambda: self.image_files(scene, ann))
            sample["mode"] = "single"
        else:
            scene = self.scenes[i]
            sample = self._guarded(lambda: self._fused(scene), lambda: self._fused_files(scene))
        sample = self._augment(sample) if self.augment else sample
        # labels in the camera frame: label points moved by the poses; a label grasp (v, a) of object k has
        # rotation poses[k][:3, :3] @ labels.label_rotations(views)[v, a] (approach −view, DESIGN §4)
        sample["label_points_cam"] = [(o.points @ T[:3, :3].T + T[:3, 3]).astype(np.float32)
                                      for o, T in zip(sample["objects"], sample["poses"])]
        return sample

    def _fused_files(self, scene: int) -> list[Path]:
        cdir = self.root / "scenes" / f"scene_{scene:04d}" / self.camera
        files = [cdir / "camera_poses.npy", cdir / "cam0_wrt_table.npy"]
        files += sorted((cdir / "depth").glob("*.png"))
        import scipy.io
        ids = np.ravel(scipy.io.loadmat(str(cdir / "meta" / "0000.mat"))["cls_indexes"]) - 1
        files += [self.root / "models" / f"{int(o):03d}" / "nontextured.ply" for o in ids]
        return files + self.image_files(scene, 0)

    def _fused(self, scene: int) -> dict:
        from PIL import Image
        from scipy.spatial import cKDTree
        from grasp6d_core.camera import CameraIntrinsics
        from grasp6d_core.evaluation.scene_io import load_meta, model_points
        from grasp6d_core.sensing.tsdf import TSDFVolume
        cdir = self.root / "scenes" / f"scene_{scene:04d}" / self.camera
        cam_poses = np.load(cdir / "camera_poses.npy")
        align = np.load(cdir / "cam0_wrt_table.npy")
        K = np.load(cdir / "camK.npy")
        volume = TSDFVolume(voxel_size=self.voxel_size, workspace=(-0.3, 0.3, -0.3, 0.3, -0.02, 0.3))
        intr = None
        anns = sorted(int(p.stem) for p in (cdir / "depth").glob("*.png"))
        for ann in anns:
            depth = np.asarray(Image.open(cdir / "depth" / f"{ann:04d}.png"), np.float32) / 1000.0  # GraspNet: mm
            intr = intr or CameraIntrinsics.from_matrix(K, depth.shape[1], depth.shape[0])
            volume.integrate_depth(depth, intr, align @ cam_poses[ann])
        pts, nrm = volume.surface(self.num_points, seed=int(self.rng.integers(1 << 31)))
        cam0 = np.linalg.inv(align @ cam_poses[anns[0]])
        points = (pts @ cam0[:3, :3].T + cam0[:3, 3]).astype(np.float32)
        normals = (nrm @ cam0[:3, :3].T).astype(np.float32)
        ids, poses = load_meta(self.root, scene, self.camera, anns[0])
        order = [int(v) for v in (self.root / "scenes" / f"scene_{scene:04d}" / "object_id_list.txt").read_text().split()]
        objects = [self.base.object_labels(scene, int(o), order) for o in ids]
        point_obj = np.full(len(points), -1, np.int64)
        best = np.full(len(points), np.inf)
        graspness = np.zeros(len(points), np.float32)
        for k, (oid, T) in enumerate(zip(ids, poses)):
            model = model_points(str(self.root), int(oid)) @ T[:3, :3].T + T[:3, 3]
            dist, _ = cKDTree(model).query(points, distance_upper_bound=FUSED_SEG_RADIUS)
            take = dist < best
            point_obj[take], best[take] = k, dist[take]
        for k, (obj, T) in enumerate(zip(objects, poses)):
            sel = np.flatnonzero(point_obj == k)
            if len(sel):
                _, near = cKDTree(obj.points @ T[:3, :3].T + T[:3, 3]).query(points[sel])
                graspness[sel] = obj.graspness()[near]
        on = point_obj >= 0
        if on.any():
            lo, hi = graspness[on].min(), graspness[on].max()
            graspness[on] = (graspness[on] - lo) / max(hi - lo, 1e-9)
        return {"points": points, "normals": normals, "point_obj": point_obj, "objectness": on.astype(np.int64),
                "graspness": graspness, "objects": objects, "poses": poses, "scene": scene, "ann": anns[0],
                "mode": "fused", "views_fused": len(anns)}

    def _augment(self, sample: dict) -> dict:
        A = _rotation(0, self.rng.uniform(-np.pi / 6, np.pi / 6)) @ _rotation(2, self.rng.uniform(-np.pi / 12, np.pi / 12))
        sample = dict(sample)
        sample["points"] = (sample["points"] @ A.T).astype(np.float32)
        sample["normals"] = (sample["normals"] @ A.T).astype(np.float32)
        poses = np.array(sample["poses"], dtype=np.float64, copy=True)
        poses[:, :3, :] = np.einsum("ij,kjl->kil", A, poses[:, :3, :])
        sample["poses"] = poses
        sample["augmentation"] = A
        return sample
