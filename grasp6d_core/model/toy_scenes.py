"""Stand-in training/validation scenes in GraspNet-1Billion's layout (DESIGN §5), for the model's own training.

Why here: the data engine's ``grasp6d synth`` had not landed when the shipped weights had to be trained; this
builds scenes from the pieces that had (DepthRenderer, ObjectSDF, physics force closure) and writes the same
layout, so the loader, ``grasp6d eval`` and ``grasp6d detect`` work on it unchanged.
Objects: "seen" = random primitives (boxes, cylinders, capsules, ellipsoids), ids 0..; "novel" = pybullet_data
random_urdfs meshes scaled to 6–9 cm, ids 100... Collision labels: gripper vs the object itself and vs the
table (other objects are not checked — a documented simplification; the evaluator checks everything).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from grasp6d_core.camera import CameraIntrinsics

REALSENSE_K = np.array([[927.17, 0.0, 651.32], [0.0, 927.37, 349.62], [0.0, 0.0, 1.0]])
IMAGE_SIZE = (1280, 720)
TABLE_ID = 1000
NOVEL_OFFSET = 100


def primitive_mesh(rng: np.random.Generator):
    import trimesh
    kind = rng.integers(0, 4)
    if kind == 0:
        ext = rng.uniform(0.03, 0.09, 3)
        ext[rng.integers(0, 3)] = rng.uniform(0.025, 0.06)  # at least one graspable side
        return trimesh.creation.box(extents=ext)
    if kind == 1:
        return trimesh.creation.cylinder(radius=rng.uniform(0.015, 0.035), height=rng.uniform(0.04, 0.12), sections=32)
    if kind == 2:
        return trimesh.creation.capsule(radius=rng.uniform(0.015, 0.03), height=rng.uniform(0.03, 0.08), count=[16, 16])
    mesh = trimesh.creation.icosphere(subdivisions=3)
    mesh.apply_scale(rng.uniform(0.015, 0.04, 3))
    return mesh


def novel_mesh(index: int, rng: np.random.Generator):
    import pybullet_data
    import trimesh
    path = Path(pybullet_data.getDataPath()) / "random_urdfs" / f"{index:03d}" / f"{index:03d}.obj"
    mesh = trimesh.load(path, force="mesh")
    mesh.apply_translation(-mesh.bounds.mean(0))
    mesh.apply_scale(rng.uniform(0.06, 0.09) / mesh.extents.max())
    return mesh


def write_object(root: Path, oid: int, mesh, views: np.ndarray) -> None:
    """models/XXX/{textured.obj, nontextured.ply, sdf.npz} and grasp_label/XXX_labels.npz."""
    import open3d as o3d
    import trimesh
    from grasp6d_core.data.sdf import ObjectSDF
    from grasp6d_core.model.toy_labels import object_labels
    folder = root / "models" / f"{oid:03d}"
    folder.mkdir(parents=True, exist_ok=True)
    mesh.export(folder / "textured.obj")
    dense = trimesh.sample.sample_surface_even(mesh, 20000, seed=oid)[0]
    o3d.io.write_point_cloud(str(folder / "nontextured.ply"), o3d.geometry.PointCloud(o3d.utility.Vector3dVector(dense)))
    sdf = ObjectSDF.from_mesh(mesh)
    sdf.save(folder / "sdf.npz")
    labels = object_labels(mesh, sdf, views)
    (root / "grasp_label").mkdir(exist_ok=True)
    np.savez_compressed(root / "grasp_label" / f"{oid:03d}_labels.npz", points=labels["points"],
                        offsets=labels["offsets"].astype(np.float16), scores=labels["scores"].astype(np.float16),
                        collision=labels["collision"])


def resting_pose(mesh, rng: np.random.Generator, xy: np.ndarray) -> np.ndarray:
    """World <- object: a random axis-aligned face down, random yaw, resting on z = 0 at ``xy``."""
    from scipy.spatial.transform import Rotation
    faces = [Rotation.identity(), Rotation.from_euler("x", 90, degrees=True), Rotation.from_euler("y", 90, degrees=True),
             Rotation.from_euler("x", 180, degrees=True), Rotation.from_euler("x", -90, degrees=True),
             Rotation.from_euler("y", -90, degrees=True)]
    rot = Rotation.from_euler("z", rng.uniform(0, 2 * np.pi)) * faces[rng.integers(0, 6)]
    pose = np.eye(4)
    pose[:3, :3] = rot.as_matrix()
    lowest = (np.asarray(mesh.vertices) @ pose[:3, :3].T)[:, 2].min()
    pose[:3, 3] = [xy[0], xy[1], -lowest + 0.0005]
    return pose


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World <- camera (OpenCV axes: z forward, y down) looking from ``eye`` at ``target``, world z up."""
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], 1)
    pose[:3, 3] = eye
    return pose


def write_scene(root: Path, scene: int, object_ids: list[int], meshes: dict, views: np.ndarray, num_views: int,
                rng: np.random.Generator, camera: str = "realsense", noise: float = 0.001) -> None:
    """Place the objects on the table, render ``num_views`` depth/label images, write meta and collision labels."""
    import scipy.io
    import trimesh
    from PIL import Image
    from grasp6d_core.model.toy_labels import table_collision
    from grasp6d_core.render import DepthRenderer
    poses, placed = [], []
    for oid in object_ids:
        radius = float(np.linalg.norm(meshes[oid].extents[:2])) / 2
        for _ in range(200):
            xy = rng.uniform(-0.16, 0.16, 2)
            if all(np.linalg.norm(xy - p) > radius + r + 0.01 for p, r in placed):
                break
        placed.append((xy, radius))
        poses.append(resting_pose(meshes[oid], rng, xy))
    table = trimesh.creation.box(extents=[1.0, 1.0, 0.05])
    table_pose = np.eye(4)
    table_pose[2, 3] = -0.025
    renderer = DepthRenderer([meshes[o] for o in object_ids] + [table], poses + [table_pose],
                             [o + 1 for o in object_ids] + [TABLE_ID])
    intr = CameraIntrinsics.from_matrix(REALSENSE_K, *IMAGE_SIZE)
    sdir = root / "scenes" / f"scene_{scene:04d}"
    cdir = sdir / camera
    for sub in ("depth", "label", "meta"):
        (cdir / sub).mkdir(parents=True, exist_ok=True)
    (sdir / "object_id_list.txt").write_text("\n".join(str(o) for o in object_ids) + "\n")
    cam_poses = []
    for ann in range(num_views):
        az, el, dist = rng.uniform(0, 2 * np.pi), np.deg2rad(rng.uniform(40, 75)), rng.uniform(0.45, 0.65)
        eye = dist * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        T = look_at(eye, np.array([0.0, 0.0, 0.03]) + rng.normal(0, 0.02, 3))
        cam_poses.append(T)
        depth, label = renderer.render(intr, T)
        depth = np.where(depth > 0, depth + rng.normal(0, noise, depth.shape), 0.0)
        label = np.where(label == TABLE_ID, 0, label)
        Image.fromarray(np.round(depth * 1000).astype(np.uint16)).save(cdir / "depth" / f"{ann:04d}.png")
        Image.fromarray(label.astype(np.uint8)).save(cdir / "label" / f"{ann:04d}.png")
        cam_obj = np.stack([np.linalg.inv(T) @ P for P in poses])
        scipy.io.savemat(cdir / "meta" / f"{ann:04d}.mat", {
            "cls_indexes": np.array([o + 1 for o in object_ids], np.int32).reshape(1, -1),
            "poses": np.moveaxis(cam_obj[:, :3, :], 0, 2), "factor_depth": np.array([[1000.0]]),
            "intrinsic_matrix": REALSENSE_K})
    np.save(cdir / "camK.npy", REALSENSE_K)
    np.save(cdir / "cam0_wrt_table.npy", cam_poses[0])
    np.save(cdir / "camera_poses.npy", np.stack([np.linalg.inv(cam_poses[0]) @ T for T in cam_poses]))
    collisions = []
    for oid, P in zip(object_ids, poses):
        with np.load(root / "grasp_label" / f"{oid:03d}_labels.npz") as z:
            labels = {k: z[k] for k in ("points", "offsets", "scores", "collision")}
        collisions.append(labels["collision"] | table_collision(labels, P, views))
    cl = root / "collision_label" / f"scene_{scene:04d}"
    cl.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cl / "collision_labels.npz", *collisions)


def build_dataset(root: str | Path, train_scenes: list[int], val_scenes: list[int], novel_scenes: list[int],
                  num_objects: int = 24, num_novel: int = 8, views_per_scene: int = 4, seed: int = 0,
                  progress: bool = True) -> dict:
    """Objects (labels + SDF), then scenes: train/val from the seen primitives, novel scenes from meshes."""
    from tqdm import tqdm
    from grasp6d_core.evaluation.dumps import fibonacci_views
    root = Path(root)
    rng = np.random.default_rng(seed)
    views = fibonacci_views()
    meshes = {oid: primitive_mesh(rng) for oid in range(num_objects)}
    meshes.update({NOVEL_OFFSET + i: novel_mesh(int(idx), rng)
                   for i, idx in enumerate(rng.choice(1000, num_novel, replace=False))})
    for oid, mesh in tqdm(meshes.items(), desc="object labels", disable=not progress):
        if not (root / "grasp_label" / f"{oid:03d}_labels.npz").is_file():
            write_object(root, oid, mesh, views)
    seen, novel = list(range(num_objects)), [NOVEL_OFFSET + i for i in range(num_novel)]
    jobs = [(s, seen) for s in list(train_scenes) + list(val_scenes)] + [(s, novel) for s in novel_scenes]
    for scene, pool in tqdm(jobs, desc="scenes", disable=not progress):
        k = int(rng.integers(3, 7))
        write_scene(root, scene, [int(o) for o in rng.choice(pool, min(k, len(pool)), replace=False)], meshes,
                    views, views_per_scene, rng)
    return {"objects": len(meshes), "scenes": len(jobs), "seed": seed, "views_per_scene": views_per_scene}
