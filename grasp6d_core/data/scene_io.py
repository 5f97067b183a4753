"""Read a GraspNet-1Billion-format root (docs/data.md), real or synthetic: what the AP evaluator and the training
loader need (scene metadata, object models, SDFs, table alignment)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grasp6d_core.data.sdf import ObjectSDF
from grasp6d_core.physics import MeshSDF

MODEL_VOXEL = 0.008  # graspnetAPI voxel-downsamples model points at 8 mm before collision checks
SDF_CANDIDATES = ("models/{oid:03d}/sdf.npz", "sdf/{oid:03d}.npz", "models/{oid:03d}/textured_sdf.npz")


@dataclass
class ImageGroundTruth:
    object_ids: np.ndarray     # (K,) 0-based model ids
    poses: np.ndarray          # (K, 4, 4) camera <- model
    table_points: np.ndarray   # (T, 3) camera frame; empty when the root has no table alignment


def scene_dir(root: Path, scene: int) -> Path:
    return Path(root) / "scenes" / f"scene_{scene:04d}"


def load_meta(root: Path, scene: int, camera: str, ann: int) -> tuple[np.ndarray, np.ndarray]:
    """(object ids 0-based (K,), poses (K, 4, 4)) from ``meta/NNNN.mat`` ('cls_indexes' are 1-based ids)."""
    import scipy.io
    path = scene_dir(root, scene) / camera / "meta" / f"{ann:04d}.mat"
    if not path.is_file():
        raise FileNotFoundError(f"no meta file {path} (is --root a GraspNet-format root and --camera right?)")
    meta = scipy.io.loadmat(str(path))
    try:
        cls = np.asarray(meta["cls_indexes"]).reshape(-1).astype(int)
        poses34 = np.asarray(meta["poses"], dtype=np.float64).reshape(3, 4, -1)
    except KeyError as exc:
        raise ValueError(f"{path} lacks {exc} (needs 'poses' 3x4xK and 'cls_indexes')") from None
    poses = np.tile(np.eye(4), (len(cls), 1, 1))
    poses[:, :3, :] = np.moveaxis(poses34, 2, 0)
    return cls - 1, poses


def table_box_points(grid: float = MODEL_VOXEL) -> np.ndarray:
    """Points filling the benchmark's 1 × 1 × 0.05 m table box, top face at z = 0 of the table frame.

    Built as graspnetAPI's ``create_table_points`` does: ``int(extent / grid)`` evenly spaced values spanning each
    extent end to end (125 × 125 × 6 points for 8 mm), so the top layer lies exactly at z = 0."""
    xs = np.linspace(0.0, 1.0, int(1.0 / grid)) - 0.5
    zs = np.linspace(0.0, 0.05, int(0.05 / grid)) - 0.05
    return np.stack(np.meshgrid(xs, xs, zs, indexing="ij"), axis=-1).reshape(-1, 3)


def table_from_camera(cam_dir: Path, ann: int) -> np.ndarray | None:
    """4×4 table <- camera of image ``ann`` (cam0_wrt_table @ camera_poses[ann]); None without those files."""
    cam_dir = Path(cam_dir)
    if not ((cam_dir / "camera_poses.npy").is_file() and (cam_dir / "cam0_wrt_table.npy").is_file()):
        return None
    return np.load(cam_dir / "cam0_wrt_table.npy") @ np.load(cam_dir / "camera_poses.npy")[ann]


def load_image_truth(root: Path, scene: int, camera: str, ann: int) -> ImageGroundTruth:
    ids, poses = load_meta(root, scene, camera, ann)
    cam_dir = scene_dir(root, scene) / camera
    table = np.zeros((0, 3))
    T_table_camera = table_from_camera(cam_dir, ann)
    if T_table_camera is not None:
        table_wrt_camera = np.linalg.inv(T_table_camera)
        pts = table_box_points()
        table = pts @ table_wrt_camera[:3, :3].T + table_wrt_camera[:3, 3]
    return ImageGroundTruth(ids, poses, table)


@functools.lru_cache(maxsize=128)
def model_points(root: str, oid: int) -> np.ndarray:
    """Dense model points (``nontextured.ply``) voxel-downsampled to 8 mm, model frame."""
    import open3d as o3d
    path = Path(root) / "models" / f"{oid:03d}" / "nontextured.ply"
    if not path.is_file():
        raise FileNotFoundError(f"object {oid}: no model points at {path}")
    cloud = o3d.io.read_point_cloud(str(path))
    if len(cloud.points) == 0:
        raise ValueError(f"object {oid}: {path} has no points")
    return np.asarray(cloud.voxel_down_sample(MODEL_VOXEL).points, dtype=np.float64)


@functools.lru_cache(maxsize=128)
def surface_object(root: str, oid: int):
    """The object's signed distance: the data engine's ObjectSDF grid if saved, else exact from its mesh."""
    for pattern in SDF_CANDIDATES:
        path = Path(root) / pattern.format(oid=oid)
        if path.is_file():
            return ObjectSDF.load(path)
    import trimesh
    for name in ("textured.obj", "nontextured.ply"):
        path = Path(root) / "models" / f"{oid:03d}" / name
        if path.is_file():
            mesh = trimesh.load(path, force="mesh", process=False)
            if isinstance(mesh, trimesh.Trimesh) and len(mesh.faces):
                return MeshSDF(mesh)
    raise FileNotFoundError(f"object {oid}: no SDF ({', '.join(SDF_CANDIDATES)}) and no mesh under "
                            f"{Path(root) / 'models' / f'{oid:03d}'}")
