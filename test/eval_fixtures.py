"""A tiny GraspNet-format root (two objects on a table, one camera, labels) built in a few seconds for tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import scipy.io
import trimesh

from grasp6d_core.views import fibonacci_views
from grasp6d_core.physics import GripperGeometry, closing_line_contacts, collision_and_empty
from grasp6d_core.physics.force_closure import min_friction, required_friction
from grasp6d_core.rotations import grasp_rotation

ANGLES = np.arange(12) * np.pi / 12
DEPTHS = np.array([0.01, 0.02, 0.03, 0.04])
# Camera 0.5 m above the table looking straight down (OpenCV frame: z forward = table −z).
TABLE_FROM_CAMERA = np.array([[1, 0, 0, 0.0], [0, -1, 0, 0.0], [0, 0, -1, 0.5], [0, 0, 0, 1]], dtype=float)


def _meshes():
    box = trimesh.creation.box(extents=[0.05, 0.04, 0.08])
    cyl = trimesh.creation.cylinder(radius=0.025, height=0.08, sections=32)
    return [box, cyl], [np.array([0.0, 0.0, 0.04]), np.array([0.12, 0.02, 0.04])]


def make_root(root: Path, label_points: int = 6, seed: int = 0) -> Path:
    """Write models, scene 0 (camera 'realsense', image 0), grasp and collision labels under ``root``."""
    rng = np.random.default_rng(seed)
    meshes, centres = _meshes()
    poses = []
    for oid, (mesh, centre) in enumerate(zip(meshes, centres)):
        folder = root / "models" / f"{oid:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        mesh.export(folder / "textured.obj")
        pts, _ = trimesh.sample.sample_surface_even(mesh, 6000, seed=seed)
        o3d.io.write_point_cloud(str(folder / "nontextured.ply"),
                                 o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(pts))))
        table_from_obj = np.eye(4)
        table_from_obj[:3, 3] = centre
        poses.append(np.linalg.inv(TABLE_FROM_CAMERA) @ table_from_obj)
    cam = root / "scenes" / "scene_0000" / "realsense"
    (cam / "meta").mkdir(parents=True, exist_ok=True)
    (root / "scenes" / "scene_0000" / "object_id_list.txt").write_text("0\n1\n")
    scipy.io.savemat(cam / "meta" / "0000.mat", {"poses": np.stack([p[:3] for p in poses], axis=2),
                                                 "cls_indexes": np.array([[1, 2]]), "factor_depth": 1000})
    np.save(cam / "camera_poses.npy", np.eye(4)[None])
    np.save(cam / "cam0_wrt_table.npy", TABLE_FROM_CAMERA)
    _write_labels(root, meshes, centres, label_points, rng)
    return root


def _write_labels(root, meshes, centres, n_points, rng):
    from physics_shapes import Box, Cylinder
    shapes = [Box([0.025, 0.02, 0.04]), Cylinder(0.025, 0.08)]  # analytic twins of _meshes(): fast labels
    views = fibonacci_views()
    scene_points = np.concatenate([trimesh.sample.sample_surface_even(m, 3000, seed=1)[0] + c
                                   for m, c in zip(meshes, centres)])
    xs = np.arange(-0.5, 0.5, 0.008)
    table = np.stack(np.meshgrid(xs, xs, [-0.004], indexing="ij"), -1).reshape(-1, 3)
    table = table[np.linalg.norm(table[:, :2] - 0.06, axis=1) < 0.25]
    world = np.concatenate([scene_points, table])
    collisions = []
    (root / "grasp_label").mkdir(exist_ok=True)
    for oid, (mesh, centre, shape_sdf) in enumerate(zip(meshes, centres, shapes)):
        points = trimesh.sample.sample_surface_even(mesh, n_points, seed=oid)[0]
        shape = (len(points), len(views), 12, 4)
        P, V, A, D = (g.ravel() for g in np.meshgrid(*[np.arange(k) for k in shape], indexing="ij"))
        # Only approaches from above the table are labelled (the rest would hit the table anyway).
        top = -views[V][:, 2] < -0.2
        R = grasp_rotation(-views[V[top]], ANGLES[A[top]])
        c_l, c_r, n_l, n_r, valid = closing_line_contacts(shape_sdf, R, points[P[top]], 0.1, step=0.002,
                                                          depths=DEPTHS[D[top]])
        mu = -np.ones(len(P))
        mu[top] = np.where(valid, min_friction(required_friction(c_l, c_r, n_l, n_r)), -1.0)
        width = np.full(len(P), 0.1)
        width[top] = np.clip(np.linalg.norm(c_r - c_l, axis=1) + 0.01, 0, 0.1)
        offsets = np.stack([ANGLES[A], DEPTHS[D], width], axis=1).reshape(shape + (3,))
        np.savez_compressed(root / "grasp_label" / f"{oid:03d}_labels.npz", points=points, offsets=offsets,
                            scores=mu.reshape(shape))
        # Collision labels in the scene (table frame); only force-closure grasps are checked, the rest are
        # marked colliding (the oracle never uses them).
        colliding = np.ones(len(P), dtype=bool)
        good = np.flatnonzero(mu > 0)
        Rg = grasp_rotation(-views[V[good]], ANGLES[A[good]])
        col, emp = collision_and_empty(world, Rg, points[P[good]] + centre, width[good], DEPTHS[D[good]],
                                       GripperGeometry())
        colliding[good] = col | emp
        collisions.append(colliding.reshape(shape))
    folder = root / "collision_label" / "scene_0000"
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "collision_labels.npz", *collisions)
