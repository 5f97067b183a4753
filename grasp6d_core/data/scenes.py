"""Synthetic scenes in GraspNet-1Billion's layout (docs/data.md).

A scene = 3–10 library objects dropped by PyBullet on a table (``pile``: into a temporary box, then released;
``packed``: placed side by side), settled; their poses recorded; V views on an arc above the table; depth
ray-cast with open3d (:class:`grasp6d_core.render.DepthRenderer`) for each camera model and made noisy
(:mod:`grasp6d_core.data.noise`); instance labels; meta / annotations; collision labels; per-view graspness.

World frame = table frame: table top at z = 0 (the evaluator's 1 × 1 × 0.05 m table box). Files per scene:

``scenes/scene_XXXX/object_id_list.txt`` (ids, one a line; the order of ``arr_i`` and of meta)
``scenes/scene_XXXX/<camera>/depth/NNNN.png`` uint16 mm, ``label/NNNN.png`` uint8 (object id + 1, 0 = none),
``meta/NNNN.mat`` (cls_indexes 1×K int32 = id + 1, poses 3×4×K camera <- object, factor_depth 1000,
intrinsic_matrix 3×3), ``annotations/NNNN.xml`` (per object: obj_id, obj_name, pos_in_world "x y z",
ori_in_world "w x y z", in this view's camera frame like GraspNet's), ``camK.npy`` (3×3),
``camera_poses.npy`` (V×4×4, camera i in the frame of camera 0), ``cam0_wrt_table.npy`` (4×4, table <- camera 0)
``collision_label/scene_XXXX/collision_labels.npz``: arr_i (Np,300,12,4) bool for object i of the list: the
gripper hits the object itself, another object (probes vs its SDF) or the table (exact box corners).
``graspness/scene_XXXX/<camera>/NNNN.npy``: float16 (M,), one value per object pixel (label > 0 and depth > 0,
row-major order): share of the nearest label point's grasps with 0 < μ ≤ 0.8 and no collision, min-max
normalised over the image.

A scene is written under ``.tmp/scene_XXXX`` and moved into place when complete; ``scenes/scene_XXXX``
(moved last) marks it done. The content depends only on (seed, scene id).
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from grasp6d_core.data.labels import DEPTHS, GRIPPER, PROBE_CLEARANCE, label_rotations, probe_min_distance
from grasp6d_core.data.noise import apply_noise, get_sensor, to_millimetres
from grasp6d_core.data.randomize import Randomization, draw_scene, scaled_sensor
from grasp6d_core.splits import SCENE_SPLITS

TABLE_LABEL = 255          # render id of the table (label images store 0 there)
GRASPNESS_MU = 0.8
GRIPPER_REACH = 0.08       # no gripper probe is farther than this from its grasp point


# -------------------------------------------------------------------------------------------- physics
def _add_body(world, parts: list, position, orientation, mass: float) -> int:
    """A dynamic body made of the parts' convex hulls (one link per extra part, fixed joints)."""
    p = world.p
    shapes = [p.createCollisionShape(p.GEOM_MESH, vertices=np.asarray(m.convex_hull.vertices).tolist()) for m in parts]
    n = len(shapes) - 1
    body = p.createMultiBody(mass / len(shapes), shapes[0], -1, position, orientation,
                             linkMasses=[mass / len(shapes)] * n, linkCollisionShapeIndices=shapes[1:],
                             linkVisualShapeIndices=[-1] * n, linkPositions=[[0, 0, 0]] * n,
                             linkOrientations=[[0, 0, 0, 1]] * n, linkInertialFramePositions=[[0, 0, 0]] * n,
                             linkInertialFrameOrientations=[[0, 0, 0, 1]] * n, linkParentIndices=[0] * n,
                             linkJointTypes=[p.JOINT_FIXED] * n, linkJointAxis=[[0, 0, 1]] * n)
    p.changeDynamics(body, -1, lateralFriction=0.8, rollingFriction=0.001, spinningFriction=0.001)
    world.objects.append(body)
    return body


def simulate_layout(parts_by_oid: dict, oids: list[int], layout: str, rng: np.random.Generator,
                    spread: float = 1.0) -> dict:
    """Drop / place the objects with PyBullet, settle; returns {oid: world <- object 4×4} of those on the table.
    ``spread`` scales the pile box and the packed area (clutter density)."""
    from scipy.spatial.transform import Rotation
    from grasp6d_core.sim.world import WORKSPACE, ClutterWorld
    if layout not in ("pile", "packed"):
        raise ValueError(f"unknown layout {layout!r}: choose 'pile' or 'packed'")
    world = ClutterWorld(seed=int(rng.integers(1 << 31)))
    try:
        bodies = {}
        if layout == "pile":
            walls = world._box_walls(0.10 * spread)
            for i, oid in enumerate(oids):
                q = Rotation.random(random_state=int(rng.integers(1 << 31))).as_quat()
                pos = [*rng.uniform(-0.04 * spread, 0.04 * spread, 2), 0.10 + 0.07 * i]
                bodies[oid] = _add_body(world, parts_by_oid[oid], pos, q, rng.uniform(0.1, 0.3))
                world.settle(100)
            world.settle(240)
            for wall in walls:
                world.p.removeBody(wall)
        else:
            placed = []
            for oid in oids:
                ext = np.ptp(np.concatenate([m.vertices for m in parts_by_oid[oid]]), axis=0)
                up = rng.integers(3)
                rot = Rotation.from_euler("z", rng.uniform(0, 2 * np.pi)) * \
                    Rotation.from_rotvec([np.pi / 2, 0, 0] if up == 1 else [0, np.pi / 2, 0] if up == 2 else [0, 0, 0])
                radius = 0.5 * float(np.linalg.norm(ext)) * 0.8
                xy = rng.uniform(-0.12 * spread, 0.12 * spread, 2)
                for _ in range(100):
                    if all(np.linalg.norm(xy - q) > radius + r for q, r in placed):
                        break
                    xy = rng.uniform(-0.12 * spread, 0.12 * spread, 2)
                placed.append((xy, radius))
                bodies[oid] = _add_body(world, parts_by_oid[oid], [*xy, 0.5 * ext.max() + 0.005], rot.as_quat(),
                                        rng.uniform(0.1, 0.3))
        world.settle(480)
        poses = {}
        for oid, body in bodies.items():
            pos, quat = world.p.getBasePositionAndOrientation(body)
            if max(abs(pos[0]), abs(pos[1])) > WORKSPACE / 2 + 0.05 or pos[2] < -0.01:
                continue
            T = np.eye(4)
            T[:3, :3] = Rotation.from_quat(quat).as_matrix()
            T[:3, 3] = pos
            poses[oid] = T
        return poses
    finally:
        world.close()


def camera_arc(num_views: int, rng: np.random.Generator, target_z: float = 0.02) -> np.ndarray:
    """(V, 4, 4) table <- camera (OpenCV axes) on a GraspNet-like arc: rows of rising elevation (35°–75°),
    each row sweeping ±100° of azimuth (serpentine, like a robot arm's path), 0.5–0.6 m from the pile."""
    from grasp6d_core.sensing.synthetic import look_at
    rows = max(1, int(round(np.sqrt(num_views / 16))))
    per_row = int(np.ceil(num_views / rows))
    target = np.array([0.0, 0.0, target_z]) + np.append(rng.normal(0, 0.01, 2), 0.0)
    poses = []
    for i in range(num_views):
        r, k = divmod(i, per_row)
        frac = (k + 0.5) / per_row if r % 2 == 0 else 1 - (k + 0.5) / per_row
        az = np.deg2rad(-90.0 + (frac - 0.5) * 200.0)
        el = np.deg2rad(35.0 + 40.0 * (r + 0.5) / rows)
        dist = 0.5 + 0.1 * (r + 0.5) / rows
        eye = target + dist * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        poses.append(look_at(eye, target))
    return np.stack(poses)


# -------------------------------------------------------------------------------------------- collisions
def _table_lowest(R: np.ndarray, t: np.ndarray, widths: np.ndarray, depths: np.ndarray) -> np.ndarray:
    """Lowest world z of the gripper's finger and palm boxes (exact: their corners) for world-frame grasps."""
    g = GRIPPER
    up = R[:, 2, :]                               # world z in each grasp frame: row 2 of R
    xu, yu, zu = up[:, 0], up[:, 1], up[:, 2]
    x_lo = np.minimum(-(g.base_depth + g.finger_width) * xu, depths * xu)
    return t[:, 2] + np.minimum(x_lo, 0.0) - (widths / 2 + g.finger_width) * np.abs(yu) - g.height / 2 * np.abs(zu)


def scene_collisions(labels: dict, poses: dict, sdfs: dict, views: np.ndarray, table_z: float = 0.0) -> dict:
    """{oid: (Np,300,12,4) bool}: self-collision | other objects (probes vs their SDF) | table, world poses.
    Computed where μ > 0 (other grasps are no grasp anyway and stay False)."""
    rot = label_rotations(views)
    out = {}
    centres = {o: poses[o][:3, :3] @ ((sdfs[o].origin + np.array(sdfs[o].values.shape) * sdfs[o].voxel_size / 2))
               + poses[o][:3, 3] for o in poses}
    radii = {o: float(np.linalg.norm(np.array(sdfs[o].values.shape) * sdfs[o].voxel_size) / 2) for o in poses}
    for oid, L in labels.items():
        mu = L["scores"].astype(np.float32)
        coll = L["collision"].copy()
        idx = np.argwhere((mu > 0) & ~coll)
        if len(idx):
            p, v, a, d = idx.T
            P = poses[oid]
            R = np.einsum("ij,njk->nik", P[:3, :3], rot[v, a])
            t = L["points"][p].astype(np.float64) @ P[:3, :3].T + P[:3, 3]
            w, dep = L["offsets"][p, v, a, d, 2].astype(np.float64), DEPTHS[d]
            hit = _table_lowest(R, t, w, dep) < table_z
            for other in poses:
                if other == oid:
                    continue
                near = np.linalg.norm(t - centres[other], axis=1) < radii[other] + GRIPPER_REACH
                near &= ~hit
                if not near.any():
                    continue
                Q = np.linalg.inv(poses[other])
                R_o = np.einsum("ij,njk->nik", Q[:3, :3], R[near])
                t_o = t[near] @ Q[:3, :3].T + Q[:3, 3]
                hit[near] |= probe_min_distance(sdfs[other], R_o, t_o, w[near], dep[near]) < PROBE_CLEARANCE
            coll[p, v, a, d] = hit
        out[oid] = coll
    return out


def point_graspness(L: dict, collision: np.ndarray, max_mu: float = GRASPNESS_MU) -> np.ndarray:
    """(Np,) share of a label point's grasps with 0 < μ ≤ max_mu and no collision (docs/data.md)."""
    mu = L["scores"].astype(np.float32)
    good = (mu > 0) & (mu <= max_mu) & ~collision
    return good.reshape(len(good), -1).mean(1)


def view_graspness(depth: np.ndarray, label: np.ndarray, intrinsics, cam_poses_obj: dict, point_values: dict,
                   label_points: dict) -> np.ndarray:
    """float32 (M,) graspness of the image's object pixels (label > 0 & depth > 0, row-major), min-max normalised.
    ``cam_poses_obj[oid]``: camera <- object."""
    from scipy.spatial import cKDTree
    mask = (label > 0) & (depth > 0)
    out = np.zeros(int(mask.sum()), np.float32)
    if not len(out):
        return out
    cloud = intrinsics.depth_to_points(np.where(mask, depth, 0.0), organized=True)[mask]
    ids = label[mask].astype(int) - 1
    for oid, T in cam_poses_obj.items():
        sel = ids == oid
        if not sel.any():
            continue
        local = (cloud[sel] - T[:3, 3]) @ T[:3, :3]
        _, near = cKDTree(label_points[oid]).query(local)
        out[sel] = point_values[oid][near]
    lo, hi = out.min(), out.max()
    return ((out - lo) / max(hi - lo, 1e-9)).astype(np.float32)


# -------------------------------------------------------------------------------------------- writing
def _annotation_xml(ids, cam_poses_obj, names) -> str:
    from scipy.spatial.transform import Rotation
    rows = ["<scene>"]
    for oid in ids:
        T = cam_poses_obj[oid]
        x, y, z, w = Rotation.from_matrix(T[:3, :3]).as_quat()
        rows += ["<obj>", f"<obj_id>{oid}</obj_id>", f"<obj_name>{names[oid]}</obj_name>",
                 f"<obj_path>models/{oid:03d}/textured.obj</obj_path>",
                 "<pos_in_world>%.6f %.6f %.6f</pos_in_world>" % tuple(T[:3, 3]),
                 "<ori_in_world>%.8f %.8f %.8f %.8f</ori_in_world>" % (w, x, y, z), "</obj>"]
    return "\n".join(rows + ["</scene>"]) + "\n"


def load_labels(root: Path, oid: int) -> dict:
    from grasp6d_core.data.assets import label_path
    path = label_path(root, oid)
    try:
        with np.load(path) as z:
            return {k: z[k] for k in ("points", "offsets", "scores", "collision")}
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"corrupt or missing label file {path}: {e}") from e


def scene_plan(scene: int, split: str, seed: int = 0, num_objects: tuple[int, int] = (3, 10),
               layout: str | None = None, pool: list[int] | None = None,
               pile_share: float = 0.5) -> tuple[list[int], str, np.random.Generator]:
    """(object ids, layout, the scene's generator after these draws): depends only on (seed, scene, split)."""
    from grasp6d_core.data.objects import split_objects
    rng = np.random.default_rng([int(seed), int(scene)])
    pool = pool if pool is not None else [e.oid for e in split_objects(split)]
    k = int(rng.integers(num_objects[0], num_objects[1] + 1))
    oids = sorted(int(o) for o in rng.choice(pool, min(k, len(pool)), replace=False))
    drawn = "pile" if rng.random() < pile_share else "packed"
    return oids, layout or drawn, rng


def write_scene(root: str | Path, scene: int, split: str, num_views: int = 256, cameras=("realsense",),
                seed: int = 0, num_objects: tuple[int, int] = (3, 10), layout: str | None = None,
                max_points: int = 512, text_sdf: bool = True, pool: list[int] | None = None,
                progress: bool = False, randomization: Randomization | None = None) -> dict:
    """Generate scene ``scene`` of ``split`` (objects written first if missing); returns timings / stats.
    With ``randomization`` the scene draws its table, clutter, views and noise (:mod:`grasp6d_core.data.randomize`)
    instead of the fixed arc, and records the draw in ``scenes/scene_XXXX/randomization.json``."""
    import scipy.io
    from PIL import Image
    from tqdm import tqdm
    from grasp6d_core.data.assets import ensure_objects
    from grasp6d_core.data.objects import combined_mesh, object_library, object_parts
    from grasp6d_core.data.sdf import ObjectSDF
    from grasp6d_core.views import fibonacci_views
    from grasp6d_core.render import DepthRenderer
    import trimesh
    root = Path(root)
    t0 = time.perf_counter()
    library = object_library()
    pile_share = randomization.pile_share if randomization else 0.5
    oids, layout, rng = scene_plan(scene, split, seed, num_objects, layout, pool, pile_share)
    draw = draw_scene(randomization, seed, scene, num_views, cameras) if randomization else None
    obj_times = ensure_objects(root, oids, max_points=max_points, text_sdf=text_sdf, progress=progress,
                               library=library)
    t_obj = time.perf_counter()
    parts = {o: object_parts(library[o]) for o in oids}
    poses = simulate_layout(parts, oids, layout, rng, draw.spread if draw else 1.0)
    if not poses:
        raise RuntimeError(f"scene {scene}: every object left the table")
    ids = sorted(poses)
    t_sim = time.perf_counter()
    views = fibonacci_views()
    labels = {o: load_labels(root, o) for o in ids}
    sdfs = {o: ObjectSDF.load(root / "models" / f"{o:03d}" / "sdf.npz") for o in ids}
    collisions = scene_collisions(labels, poses, sdfs, views)
    values = {o: point_graspness(labels[o], collisions[o]) for o in ids}
    t_coll = time.perf_counter()

    tmp = root / ".tmp" / f"scene_{scene:04d}"
    shutil.rmtree(tmp, ignore_errors=True)
    sdir = tmp / "scenes" / f"scene_{scene:04d}"
    sdir.mkdir(parents=True)
    (sdir / "object_id_list.txt").write_text("".join(f"{o}\n" for o in ids))
    if draw:
        (sdir / "randomization.json").write_text(json.dumps({"layout": layout, **draw.as_dict()}))
    cl = tmp / "collision_label" / f"scene_{scene:04d}"
    cl.mkdir(parents=True)
    np.savez_compressed(cl / "collision_labels.npz", *[collisions[o] for o in ids])
    table = trimesh.creation.box(extents=[1.0, 1.0, 0.05])
    table_pose = np.eye(4)
    table_pose[2, 3] = -0.025
    renderer = DepthRenderer([combined_mesh(parts[o]) for o in ids] + [table], [poses[o] for o in ids] + [table_pose],
                             [o + 1 for o in ids] + [TABLE_LABEL])
    cam_table = draw.camera_poses() if draw else camera_arc(num_views, rng)
    names = {o: library[o].name for o in ids}
    lpts = {o: labels[o]["points"] for o in ids}
    for cam in cameras:
        sensor = scaled_sensor(get_sensor(cam), draw.noise[cam]) if draw else get_sensor(cam)
        intr = sensor.intrinsics
        cdir = sdir / cam
        gdir = tmp / "graspness" / f"scene_{scene:04d}" / cam
        for sub in ("depth", "label", "meta", "annotations"):
            (cdir / sub).mkdir(parents=True)
        gdir.mkdir(parents=True)
        np.save(cdir / "camK.npy", sensor.camK)
        np.save(cdir / "cam0_wrt_table.npy", cam_table[0])
        np.save(cdir / "camera_poses.npy", np.linalg.inv(cam_table[0])[None] @ cam_table)
        noise_rng = np.random.default_rng([int(seed), int(scene), 1 + sorted(("realsense", "kinect")).index(cam)])
        for ann in tqdm(range(num_views), desc=f"scene {scene} {cam}", disable=not progress, leave=False):
            clean, label = renderer.render(intr, cam_table[ann])
            label = np.where(label == TABLE_LABEL, 0, label).astype(np.uint8)
            depth_mm = to_millimetres(apply_noise(clean, sensor, noise_rng))
            depth = depth_mm.astype(np.float32) / 1000.0
            Image.fromarray(depth_mm).save(cdir / "depth" / f"{ann:04d}.png")
            Image.fromarray(label).save(cdir / "label" / f"{ann:04d}.png")
            inv = np.linalg.inv(cam_table[ann])
            cam_obj = {o: inv @ poses[o] for o in ids}
            scipy.io.savemat(cdir / "meta" / f"{ann:04d}.mat", {
                "cls_indexes": np.array([o + 1 for o in ids], np.int32).reshape(1, -1),
                "poses": np.stack([cam_obj[o][:3, :] for o in ids], axis=2),
                "factor_depth": np.array([[1000.0]]), "intrinsic_matrix": sensor.camK})
            (cdir / "annotations" / f"{ann:04d}.xml").write_text(_annotation_xml(ids, cam_obj, names))
            np.save(gdir / f"{ann:04d}.npy",
                    view_graspness(depth, label, intr, cam_obj, values, lpts).astype(np.float16))
    # Move into place: collision labels and graspness first, the scene folder (the "done" marker) last.
    for kind in ("collision_label", "graspness", "scenes"):
        dest = root / kind / f"scene_{scene:04d}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        (tmp / kind / f"scene_{scene:04d}").rename(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    t_end = time.perf_counter()
    return {"scene": scene, "objects": ids, "layout": layout, "object_seconds": t_obj - t0,
            "object_times": obj_times, "sim_seconds": t_sim - t_obj, "collision_seconds": t_coll - t_sim,
            "view_seconds": (t_end - t_coll) / max(1, num_views * len(cameras)), "total_seconds": t_end - t0}


def scene_done(root: str | Path, scene: int) -> bool:
    return (Path(root) / "scenes" / f"scene_{scene:04d}").is_dir()


def scene_ids(split: str, count: int) -> list[int]:
    lo, hi = SCENE_SPLITS[split].start, SCENE_SPLITS[split].stop
    if count > hi - lo and split != "train":
        raise ValueError(f"split {split} has {hi - lo} scene ids ({lo}–{hi - 1}); asked for {count}")
    return list(range(lo, lo + count))
