"""A reproducible benchmark/test scene: primitives on a table rendered from one camera (DepthRenderer), with
the object meshes and poses so tests can check collisions against the true geometry."""
from __future__ import annotations

import numpy as np

from grasp6d_core.data.noise import SENSORS
from grasp6d_core.data.sdf import ObjectSDF
from grasp6d_core.data.training_labels import ObjectLabels
from grasp6d_core.normals import estimate_normals
from grasp6d_core.render import DepthRenderer
from grasp6d_core.sensing.synthetic import look_at


def primitive_mesh(rng: np.random.Generator):
    """A random graspable primitive: box (one side 2.5–6 cm), cylinder, capsule or ellipsoid."""
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


def render_scene(seed: int = 0, num_objects: int = 5, num_points: int = 20000, margin: float = 0.05) -> dict:
    """{'points' (N,3) camera frame cropped to the objects' box + margin, 'meshes', 'poses' (camera <- object),
    'T_world_camera', 'intrinsics'}."""
    import trimesh
    rng = np.random.default_rng(seed)
    meshes = [primitive_mesh(rng) for _ in range(num_objects)]
    poses, placed = [], []
    for mesh in meshes:
        radius = float(np.linalg.norm(mesh.extents[:2])) / 2
        for _ in range(200):
            xy = rng.uniform(-0.15, 0.15, 2)
            if all(np.linalg.norm(xy - p) > radius + r + 0.01 for p, r in placed):
                break
        placed.append((xy, radius))
        poses.append(resting_pose(mesh, rng, xy))
    table = trimesh.creation.box(extents=[1.0, 1.0, 0.05])
    table_pose = np.eye(4)
    table_pose[2, 3] = -0.025
    renderer = DepthRenderer(meshes + [table], poses + [table_pose], list(range(1, num_objects + 1)) + [100])
    intr = SENSORS["realsense"].intrinsics       # GraspNet's RealSense camK, 1280×720
    T = look_at(np.array([0.35, 0.0, 0.45]), np.array([0.0, 0.0, 0.03]))
    depth, label = renderer.render(intr, T)
    cloud = intr.depth_to_points(depth, organized=True)
    valid = np.isfinite(cloud[..., 2])
    points, seg = cloud[valid], label[valid]
    obj = (seg > 0) & (seg < 100)
    lo, hi = points[obj].min(0) - margin, points[obj].max(0) + margin
    points = points[np.all((points >= lo) & (points <= hi), axis=1)]
    points = points[rng.choice(len(points), num_points, replace=len(points) < num_points)].astype(np.float32)
    cam_poses = [np.linalg.inv(T) @ P for P in poses]
    return {"points": points, "meshes": meshes, "poses": cam_poses, "T_world_camera": T, "intrinsics": intr}


def labelled_sample(scene: dict, rng: np.random.Generator, label_points: int = 256, sdf_cells: int = 48,
                    good_share: float = 0.05) -> dict:
    """A training sample of :func:`render_scene` with *random* grasp labels of the real shape (speed
    benchmarks and optimisation tests; not for learning anything about grasps). Object points = scene points
    within 3 mm of an object's surface."""
    pts = scene["points"]
    objects, point_obj = [], np.full(len(pts), -1)
    for k, (mesh, pose) in enumerate(zip(scene["meshes"], scene["poses"])):
        local = (pts - pose[:3, 3]) @ pose[:3, :3]
        sdf = ObjectSDF.from_mesh(mesh, cells=sdf_cells)
        point_obj[(np.abs(sdf.distance(local)) < 0.003) & (point_obj < 0)] = k
        lp = mesh.sample(label_points).astype(np.float32)
        shape = (label_points, 300, 12, 4)
        mu = np.where(rng.random(shape) < good_share, rng.choice([0.2, 0.4, 0.8], shape), -1).astype(np.float16)
        objects.append(ObjectLabels(lp, mu, rng.uniform(0.02, 0.08, shape).astype(np.float16), None, sdf))
    on = point_obj >= 0
    return {"points": pts, "normals": estimate_normals(pts), "point_obj": point_obj, "objectness": on.astype(np.int64),
            "graspness": (on * rng.random(len(pts))).astype(np.float32), "objects": objects,
            "poses": np.stack(scene["poses"])}
