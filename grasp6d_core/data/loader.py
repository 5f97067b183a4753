"""``GraspNetDataset``: samples of a GraspNet-1Billion-format root (real or synthetic) — the one dataset that
training, the prior stage, the benchmarks and the tests read.

- ``mode='single'``: one image = one sample: depth -> camera-frame cloud, cropped to the objects' box +
  ``WORKSPACE_MARGIN`` (as GSNet crops), ``num_points`` sampled (a fixed draw per image and ``seed``, so the
  preprocessing can be cached), normals estimated (oriented to the camera), per-point object index and
  objectness from the label image, graspness from the labels (share of a point's good grasps, min-max
  normalised per image), and the objects' labels + SDFs + poses (camera <- object) for the losses.
- ``mode='fused'``: one scene = one sample: every view's depth fused in a TSDF by
  :func:`grasp6d_core.data.fusion.fuse_views` (the robot's TSDFVolume, table frame), its surface sampled to
  ``num_points`` points with TSDF normals, expressed in camera 0's frame (the evaluator's fused protocol dumps
  ann 0); points take the object whose model points (``nontextured.ply``) lie within ``FUSED_SEG_RADIUS``.
- ``fused_repeats=N`` (single mode): every scene adds N fused samples to its images, each with its own point
  draw, so training sees the TSDF cloud the robot feeds beside the single views (the paper's network input
  is a cloud sampled from the reconstructed TSDF). They are items like the images (ids ``FUSED_ANN + r``),
  cached and augmented the same way.
- ``augment=True`` (see :func:`augment_sample`): a rotation about the table normal through the objects' centre
  (±``AUGMENT_ROTATION_DEG``), applied to points, normals and poses, and point dropout (up to
  ``AUGMENT_DROPOUT`` of the points, refilled by repeats so every cloud keeps ``num_points``). Labels stay in
  the object frame and follow the poses, so they still match the points. No mirror flip (a mirrored object
  needs an improper pose and mirrored labels the label files do not hold) and no scale jitter (grasp widths,
  depths and SDFs are metric: a rescaled object would need rescaled labels).
- ``cache=DIR``: single-mode preprocessing (the deterministic part above) is read from / written to a
  :class:`grasp6d_core.data.cache.SampleCache`; augmentation runs after it.

Randomness is a function of (``seed``, epoch, image) — :meth:`GraspNetDataset.set_epoch` — never of the
process that loads it, so DataLoader workers and DDP ranks give reproducible runs.

Works on a real GraspNet-1Billion root: it needs only depth, label, meta, camK, object_id_list, grasp_label
(and, for fused mode or augmentation, camera_poses / cam0_wrt_table; models for fused); collision labels and
SDFs are used when present. Any unreadable file raises :class:`DataFileError` naming it.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.data.fusion import fuse_views
from grasp6d_core.data.scene_io import load_meta, model_points
from grasp6d_core.data.sdf import ObjectSDF
from grasp6d_core.data.training_labels import SEED_LABEL_RADIUS, ObjectLabels
from grasp6d_core.errors import Grasp6dError
from grasp6d_core.normals import estimate_normals
from grasp6d_core.splits import SCENE_SPLITS, TEST_SCENES

SPLITS = {**SCENE_SPLITS, "test": TEST_SCENES}
FUSED_SEG_RADIUS = 0.008
FUSED_ANN = 10000           # item ids from here on are fused samples (no camera has 10000 images)
WORKSPACE_MARGIN = 0.05
AUGMENT_ROTATION_DEG = 30.0
AUGMENT_DROPOUT = 0.2
PER_POINT = ("points", "normals", "point_obj", "objectness", "graspness")


class DataFileError(Grasp6dError, ValueError):
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


def axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """3×3 rotation by ``angle`` about the unit ``axis`` (Rodrigues)."""
    k = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def augment_sample(sample: dict, rng: np.random.Generator) -> dict:
    """Table-normal rotation + point dropout (module doc) of a sample with ``table_normal``; returns a copy
    with ``augmentation`` = the 4×4 transform applied to the camera-frame geometry."""
    normal = np.asarray(sample["table_normal"], np.float64)
    if not np.all(np.isfinite(normal)):
        raise ValueError(f"scene {sample['scene']}: augmentation needs the table normal "
                         "(camera_poses.npy and cam0_wrt_table.npy)")
    on = sample["objectness"] == 1
    centre = sample["points"][on].mean(0) if on.any() else sample["points"].mean(0)
    R = axis_rotation(normal, np.radians(rng.uniform(-AUGMENT_ROTATION_DEG, AUGMENT_ROTATION_DEG)))
    A = np.eye(4)
    A[:3, :3], A[:3, 3] = R, centre - R @ centre
    out = dict(sample)
    out["points"] = (sample["points"] @ R.T + A[:3, 3]).astype(np.float32)
    out["normals"] = (sample["normals"] @ R.T).astype(np.float32)
    out["poses"] = np.einsum("ij,kjl->kil", A, np.asarray(sample["poses"], np.float64))
    out["table_normal"] = (R @ normal).astype(np.float32)
    n = len(out["points"])
    kept = np.flatnonzero(rng.random(n) >= rng.uniform(0.0, AUGMENT_DROPOUT))
    if 0 < len(kept) < n:
        pick = np.concatenate([kept, rng.choice(kept, n - len(kept))])
        for key in PER_POINT:
            out[key] = out[key][pick]
    out["augmentation"] = A
    return out


class GraspNetDataset:
    """See the module doc. ``scenes`` overrides the split's scene ids; missing scenes are skipped."""

    def __init__(self, root: str | Path, camera: str = "realsense", split: str = "train", mode: str = "single",
                 augment: bool = False, num_points: int = 20000, scenes=None, anns=None, seed: int = 0,
                 voxel_size: float = 0.005, cache: str | Path | None = None, fused_repeats: int = 0):
        if mode not in ("single", "fused"):
            raise ValueError(f"mode must be 'single' or 'fused', got {mode!r}")
        if int(fused_repeats) < 0 or (fused_repeats and mode != "single"):
            raise ValueError(f"fused_repeats must be >= 0 and needs mode 'single', got {fused_repeats} ({mode})")
        if scenes is None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: choose from {sorted(SPLITS)}")
        self.root, self.camera, self.mode, self.augment = Path(root), camera, mode, augment
        self.num_points, self.voxel_size, self.seed, self.epoch = int(num_points), float(voxel_size), int(seed), 0
        if not (self.root / "scenes").is_dir():
            raise FileNotFoundError(f"{self.root / 'scenes'}: missing (expected a GraspNet-format root)")
        wanted = list(SPLITS[split] if scenes is None else scenes)
        present = [s for s in wanted if (self.root / "scenes" / f"scene_{s:04d}" / camera / "depth").is_dir()]
        if not present:
            raise FileNotFoundError(f"no scenes of {wanted[0]}–{wanted[-1]} with {camera} depth under {self.root}")
        self.scenes = present
        self.items = []
        for s in present:
            depth_dir = self.root / "scenes" / f"scene_{s:04d}" / camera / "depth"
            self.items += [(s, a) for a in sorted(int(p.stem) for p in depth_dir.glob("*.png"))
                           if anns is None or a in anns]
        if not self.items:
            raise ValueError(f"no images for scenes {present} / camera {camera} under {self.root}")
        self.items += [(s, FUSED_ANN + r) for s in present for r in range(int(fused_repeats))]
        self.cache = None
        if cache is not None and mode == "single":
            from grasp6d_core.data.cache import SampleCache
            self.cache = SampleCache(cache, self.root, camera, self.num_points, self.seed)

    def __len__(self) -> int:
        return len(self.items) if self.mode == "single" else len(self.scenes)

    def set_epoch(self, epoch: int) -> None:
        """Augmentation draws depend on the epoch (the point sample of an image does not)."""
        self.epoch = int(epoch)

    def _rng(self, purpose: int, scene: int, ann: int, epoch: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, purpose, scene, ann, epoch])

    # ------------------------------------------------------------------------------------------ labels
    @functools.lru_cache(maxsize=256)
    def _object(self, oid: int) -> tuple:
        path = self.root / "grasp_label" / f"{oid:03d}_labels.npz"
        if not path.is_file():
            raise DataFileError(path, "missing (grasp labels of object %d)" % oid)
        with np.load(path) as z:
            mu, widths, points = z["scores"].astype(np.float16), z["offsets"][..., 2].astype(np.float16), z["points"]
        sdf_path = self.root / "models" / f"{oid:03d}" / "sdf.npz"
        sdf = ObjectSDF.load(sdf_path) if sdf_path.is_file() else None
        return points.astype(np.float32), mu, widths, sdf

    @functools.lru_cache(maxsize=512)
    def _collisions(self, scene: int) -> list:
        # Collision labels stay in RAM as packed bits (8× smaller), unpacked per object when asked.
        path = self.root / "collision_label" / f"scene_{scene:04d}" / "collision_labels.npz"
        if not path.is_file():
            return []
        with np.load(path) as z:
            return [(np.packbits(z[f"arr_{i}"]), z[f"arr_{i}"].shape) for i in range(len(z.files))]

    @functools.lru_cache(maxsize=512)
    def _object_order(self, scene: int) -> tuple:
        path = self.root / "scenes" / f"scene_{scene:04d}" / "object_id_list.txt"
        return tuple(int(v) for v in path.read_text().split())

    def object_labels(self, scene: int, oid: int, order=None) -> ObjectLabels:
        points, mu, widths, sdf = self._object(int(oid))
        order = list(order if order is not None else self._object_order(scene))
        coll = self._collisions(scene)
        collision = None
        if coll:
            bits, shape = coll[order.index(int(oid))]
            collision = np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).astype(bool)
        return ObjectLabels(points, mu, widths, collision, sdf)

    def attach_objects(self, sample: dict) -> dict:
        """Add ``objects`` (ObjectLabels per ``object_ids`` entry) and ``label_points_cam`` to a light sample.
        Training workers ship light samples and the main process attaches the (large, cached) labels."""
        sample = dict(sample)
        sample["objects"] = [self.object_labels(int(sample["scene"]), int(o)) for o in sample["object_ids"]]
        # labels in the camera frame: label points moved by the poses; a label grasp (v, a) of object k has
        # rotation poses[k][:3, :3] @ labels.label_rotations(views)[v, a] (approach −view)
        sample["label_points_cam"] = [(o.points @ T[:3, :3].T + T[:3, 3]).astype(np.float32)
                                      for o, T in zip(sample["objects"], sample["poses"])]
        return sample

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
        if self.mode == "fused":
            scene = self.scenes[i]
            sample = self._guarded(lambda: self._fused(scene, 0), lambda: self._fused_files(scene))
            if self.augment:
                sample = augment_sample(sample, self._rng(1, scene, 0, self.epoch))
            return self.attach_objects(sample)
        sample = self.attach_objects(self.light_item(i))
        sample["mode"] = "fused" if self.items[i][1] >= FUSED_ANN else "single"
        return sample

    def light_item(self, i: int) -> dict:
        """Sample ``i`` (single mode) without the object labels: the per-image arrays, ``object_ids`` and
        ``poses`` — cached when a cache is set, augmented when ``augment``. Items from ``FUSED_ANN`` on are the
        scene's fused samples."""
        scene, ann = self.items[i]
        sample = self.cache.load(scene, ann) if self.cache is not None else None
        if sample is None:
            if ann >= FUSED_ANN:
                sample = self._guarded(lambda: self._fused(scene, ann - FUSED_ANN), lambda: self._fused_files(scene))
                sample["ann"] = ann   # the item's id (the cache file's name), not the reference camera
            else:
                sample = self._guarded(lambda: self.preprocess(scene, ann), lambda: self.image_files(scene, ann))
            if self.cache is not None:
                self.cache.save(scene, ann, sample)
        if self.augment:
            sample = augment_sample(sample, self._rng(1, scene, ann, self.epoch))
        return sample

    def table_normal(self, scene: int, ann: int) -> np.ndarray:
        """The table's up direction in camera ``ann``'s frame (NaN when the root has no camera poses)."""
        cdir = self.root / "scenes" / f"scene_{scene:04d}" / self.camera
        if not ((cdir / "camera_poses.npy").is_file() and (cdir / "cam0_wrt_table.npy").is_file()):
            return np.full(3, np.nan, np.float32)
        table_from_cam = np.load(cdir / "cam0_wrt_table.npy") @ np.load(cdir / "camera_poses.npy")[ann]
        return (table_from_cam[:3, :3].T @ np.array([0.0, 0.0, 1.0])).astype(np.float32)

    def preprocess(self, scene: int, ann: int) -> dict:
        """The deterministic, expensive part of a single-view sample (what the cache stores)."""
        import scipy.io
        from PIL import Image
        from scipy.spatial import cKDTree
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
        rng = self._rng(0, scene, ann)
        pick = rng.choice(len(points), self.num_points, replace=len(points) < self.num_points)
        points, seg = points[pick].astype(np.float32), seg[pick]
        ids = np.ravel(meta["cls_indexes"]).astype(np.int64) - 1
        poses = np.tile(np.eye(4), (len(ids), 1, 1))
        poses[:, :3, :] = np.moveaxis(np.asarray(meta["poses"]).reshape(3, 4, -1), 2, 0)
        point_obj = np.full(len(points), -1, np.int64)
        for k, oid in enumerate(ids):
            point_obj[seg == oid + 1] = k
        graspness = np.zeros(len(points), np.float32)
        for k, (oid, pose) in enumerate(zip(ids, poses)):
            sel = np.flatnonzero(point_obj == k)
            if len(sel) == 0:
                continue
            obj = self.object_labels(scene, int(oid))
            dist, near = cKDTree(obj.points @ pose[:3, :3].T + pose[:3, 3]).query(points[sel])
            graspness[sel] = np.where(dist <= 2 * SEED_LABEL_RADIUS, obj.graspness()[near], 0.0)
        on = point_obj >= 0
        if on.any():
            lo, hi = graspness[on].min(), graspness[on].max()
            graspness[on] = (graspness[on] - lo) / max(hi - lo, 1e-9)
        return {"points": points, "normals": estimate_normals(points), "point_obj": point_obj,
                "objectness": on.astype(np.int64), "graspness": graspness, "poses": poses, "object_ids": ids,
                "table_normal": self.table_normal(scene, ann), "scene": scene, "ann": ann}

    def _fused_files(self, scene: int) -> list[Path]:
        cdir = self.root / "scenes" / f"scene_{scene:04d}" / self.camera
        files = [cdir / "camera_poses.npy", cdir / "cam0_wrt_table.npy"]
        files += sorted((cdir / "depth").glob("*.png"))
        import scipy.io
        ids = np.ravel(scipy.io.loadmat(str(cdir / "meta" / "0000.mat"))["cls_indexes"]) - 1
        files += [self.root / "models" / f"{int(o):03d}" / "nontextured.ply" for o in ids]
        return files + self.image_files(scene, 0)

    def _fused(self, scene: int, draw: int) -> dict:
        """Every view of ``scene`` fused, ``num_points`` surface points (the ``draw``-th sample of them) labelled
        like a single view's; without the object labels (``attach_objects`` adds them)."""
        from scipy.spatial import cKDTree
        cdir = self.root / "scenes" / f"scene_{scene:04d}" / self.camera
        anns = sorted(int(p.stem) for p in (cdir / "depth").glob("*.png"))
        rng = self._rng(0, scene, draw)
        fused = fuse_views(cdir, anns, self.num_points, seed=int(rng.integers(1 << 31)), voxel_size=self.voxel_size,
                           reference=anns[0])
        points, normals = fused.points, fused.normals
        if len(points) < self.num_points:   # a small surface: repeats fill it up, so every sample has num_points
            pick = np.concatenate([np.arange(len(points)), rng.choice(len(points), self.num_points - len(points))])
            points, normals = points[pick], normals[pick]
        ids, poses = load_meta(self.root, scene, self.camera, anns[0])
        order = [int(v) for v in (self.root / "scenes" / f"scene_{scene:04d}" / "object_id_list.txt").read_text().split()]
        objects = [self.object_labels(scene, int(o), order) for o in ids]
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
                "graspness": graspness, "poses": poses, "scene": scene, "ann": anns[0],
                "mode": "fused", "views_fused": len(anns), "object_ids": np.asarray(ids, np.int64),
                "table_normal": self.table_normal(scene, anns[0])}
