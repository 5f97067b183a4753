"""Grasp labels per object in GraspNet-1Billion's ``grasp_label/XXX_labels.npz`` layout (docs/data.md).

Grid: label points on the surface (~5 mm apart, capped by farthest-point sampling) × 300 approach views
(Fibonacci sphere, approach = −view, graspnetAPI's order) × 12 in-plane angles (k·π/12) × 4 depths (1–4 cm).

Contacts (Dex-Net's ``close_fingers``, as ray casts): the closing line lies ``depth`` past the label point along
the approach; two rays start at ±5 cm (the 10 cm maximum opening) on it and run towards each other over the full
stroke; each jaw's contact is its first hit on the object (open3d ``RaycastingScene``, exact triangles, several
million rays per second). A jaw starting inside the object, a missing hit, or crossing contacts = no grasp.
Width = the symmetric opening that encloses both contacts, ``2·max(|s_l|, |s_r|) + 1 cm`` (≤ 10 cm), so a
gripper opened to the label width and closed from ±w/2 meets the same two contacts (what the evaluator does).

μ (scores): the smallest value of {0.1, …, 1.0} for which the two contacts are force-closure; −1 = none.
Two-contact force closure with *soft fingers*: with hard point contacts no pair of contacts can resist a moment
about the line joining them, so no two-finger grasp would ever be force-closure. A soft finger adds torsional
friction about the contact normal, which resists exactly that moment, and force closure then holds iff the
contact line lies inside both friction cones (Nguyen 1988; Dex-Net's test that GraspNet's labels use). So
μ_needed = tan(larger angle between the contact line and a contact's inward normal)
(:func:`grasp6d_core.physics.force_closure.required_friction`, shared with the evaluator).

Collision (self): probe points on the mid-planes of the fingers and the palm (5 mm apart along the approach and
across the palm, two rows in height) against the object's SDF grid; a probe closer than ``PROBE_CLEARANCE`` to
the surface (or inside) marks the grasp colliding. The fingers' centre planes lie ≥ 1 cm from the contacts, so
touching the contacts themselves is not a collision. Only grasps with two contacts are probed.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np

from grasp6d_core.physics.force_closure import grasp_friction
from grasp6d_core.physics.force_closure import min_friction, required_friction
from grasp6d_core.physics.gripper import GripperGeometry
from grasp6d_core.rotations import grasp_rotation
from grasp6d_core.views import fibonacci_views

NUM_ANGLES = 12
DEPTHS = np.array([0.01, 0.02, 0.03, 0.04])
MAX_WIDTH = 0.10
WIDTH_MARGIN = 0.01
LABEL_FRICTION = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
PROBE_STEP = 0.005
PROBE_CLEARANCE = 0.004     # finger half-thickness 5 mm minus 1 mm tolerance
GRIPPER = GripperGeometry()


def label_rotations(views: np.ndarray, num_angles: int = NUM_ANGLES) -> np.ndarray:
    """(V, A, 3, 3) grasp rotations of the label grid: approach = −view, angle k·π/A."""
    angles = np.arange(num_angles) * np.pi / num_angles
    return grasp_rotation(np.repeat(-views, num_angles, 0), np.tile(angles, len(views))).reshape(
        len(views), num_angles, 3, 3)


def _parts(shape) -> list:
    return list(shape) if isinstance(shape, (list, tuple)) else [shape]


def label_points(shape, sdf, spacing: float = 0.005, max_points: int = 512, seed: int = 0) -> np.ndarray:
    """Surface points ~``spacing`` apart (one per voxel of that size), at most ``max_points`` (farthest-point).
    ``shape``: a watertight mesh or a list of watertight parts."""
    from grasp6d_core.data.objects import surface_points
    parts = _parts(shape)
    area = float(sum(p.area for p in parts))
    count = int(min(max(4 * area / spacing ** 2, 2000), 40000))
    pts = surface_points(parts, sdf, count, seed=seed)
    keys = np.floor(pts / spacing).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    pts = pts[np.sort(first)]
    if len(pts) > max_points:
        import fpsample
        pts = pts[np.sort(fpsample.fps_sampling(pts.astype(np.float32), max_points, start_idx=0))]
    return np.ascontiguousarray(pts, dtype=np.float32)


def raycast_scene(mesh):
    import open3d as o3d
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, np.float32)),
                        o3d.core.Tensor(np.asarray(mesh.faces, np.uint32)))
    return scene


def closing_contacts(scene, sdf, centres: np.ndarray, closing: np.ndarray, grid=LABEL_FRICTION) -> dict:
    """Contacts, widths and μ for closing lines through ``centres`` (N,3) along unit ``closing`` (N,3).

    Returns ``ok`` (two contacts, jaws start outside, width ≤ 10 cm), ``width``, ``mu`` (grid value or −1; −1
    wherever not ok) and the contacts ``c_left``/``c_right`` with mesh normals ``n_left``/``n_right``.
    """
    import open3d as o3d
    half = MAX_WIDTH / 2
    starts_r = centres + half * closing
    starts_l = centres - half * closing
    rays = np.concatenate([np.concatenate([starts_r, -closing], 1), np.concatenate([starts_l, closing], 1)])
    hits = scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))
    t = hits["t_hit"].numpy().reshape(2, -1).astype(np.float64)
    nrm = hits["primitive_normals"].numpy().reshape(2, -1, 3).astype(np.float64)
    start_out = sdf.distance(np.concatenate([starts_r, starts_l])).reshape(2, -1) > 0
    s_r = half - np.minimum(t[0], 2 * half)          # signed positions along the closing axis
    s_l = -half + np.minimum(t[1], 2 * half)
    width = 2 * np.maximum(np.abs(s_r), np.abs(s_l)) + WIDTH_MARGIN
    ok = (t[0] < 2 * half) & (t[1] < 2 * half) & start_out[0] & start_out[1] & (s_l < s_r) & (width <= MAX_WIDTH)
    c_r = centres + s_r[:, None] * closing
    c_l = centres + s_l[:, None] * closing
    mu = np.where(ok, min_friction(required_friction(c_l, c_r, nrm[1], nrm[0]), grid), -1.0)
    return {"ok": ok, "width": np.where(ok, width, 0.0), "mu": mu, "c_left": c_l, "c_right": c_r,
            "n_left": nrm[1], "n_right": nrm[0]}


def gripper_probes(width: np.ndarray, depth: np.ndarray, geometry: GripperGeometry = GRIPPER) -> np.ndarray:
    """(G,) widths/depths -> (G, P, 3) gripper-frame probe points on the fingers' and palm's mid-planes.

    P is fixed (fingers sampled over the deepest stroke, 4 cm; points past a grasp's depth are moved onto its
    fingertip row, so they duplicate and never reach beyond the finger)."""
    g = geometry
    xs = np.arange(-g.base_depth, DEPTHS.max() + 1e-9, PROBE_STEP)                    # along the fingers
    zs = np.array([-g.height / 4, g.height / 4])
    x = np.minimum(xs[None, :], depth[:, None])                                        # (G, X)
    fingers = []
    for side in (-1.0, 1.0):
        y = side * (width / 2 + g.finger_width / 2)
        for z in zs:
            fingers.append(np.stack([x, np.broadcast_to(y[:, None], x.shape), np.full_like(x, z)], -1))
    ys = np.linspace(-1.0, 1.0, 11)                                                     # across the palm
    outer = (width / 2 + g.finger_width)[:, None] * ys[None, :]
    palm = [np.stack([np.full_like(outer, -g.base_depth - g.finger_width / 2), outer, np.full_like(outer, z)], -1)
            for z in zs]
    return np.concatenate(fingers + palm, axis=1)


def probe_min_distance(sdf, rotations: np.ndarray, translations: np.ndarray, widths: np.ndarray,
                       depths: np.ndarray, chunk: int = 40000) -> np.ndarray:
    """(G,) smallest SDF value over each grasp's gripper probes (grasp poses in the SDF's object frame).

    One affine map per grasp takes gripper-frame probes straight to grid_sample's normalised coordinates
    (float32 torch, multi-threaded), so the probes never exist as float64 object-frame points."""
    import torch
    import torch.nn.functional as F
    out = np.full(len(rotations), np.inf, np.float32)
    if len(rotations) == 0:
        return out
    shape = np.asarray(sdf.values.shape, np.float64)
    scale = 2.0 / ((shape - 1) * sdf.voxel_size)                                   # object metres -> [-1, 1]
    if not hasattr(sdf, "_grid_t"):
        sdf._grid_t = torch.from_numpy(sdf.values)[None, None]
    with torch.no_grad():
        for s in range(0, len(rotations), chunk):
            sl = slice(s, s + chunk)
            M = torch.from_numpy((scale[None, :, None] * rotations[sl])[:, ::-1].astype(np.float32).copy())
            c = ((translations[sl] - sdf.origin) * scale - 1.0)[:, ::-1].astype(np.float32)
            probes = torch.from_numpy(gripper_probes(widths[sl], depths[sl]).astype(np.float32))   # (G, P, 3)
            g = torch.bmm(probes, M.transpose(1, 2)) + torch.from_numpy(c.copy())[:, None]
            d = F.grid_sample(sdf._grid_t, g.view(1, -1, 1, 1, 3), mode="bilinear", padding_mode="border",
                              align_corners=True).view(len(M), -1)
            out[sl] = d.min(1).values.numpy()
    return out


def object_labels(shape, sdf, views: np.ndarray | None = None, points: np.ndarray | None = None,
                  chunk: int = 16, max_points: int = 512, seed: int = 0) -> dict:
    """GraspNet-layout labels of one object (object frame): points, offsets, scores, collision (+ timing).
    ``shape``: a watertight mesh or a list of watertight parts (their union); ``sdf`` its ObjectSDF."""
    from grasp6d_core.data.objects import combined_mesh
    t0 = time.perf_counter()
    views = fibonacci_views() if views is None else views
    points = label_points(shape, sdf, max_points=max_points, seed=seed) if points is None else points
    scene = raycast_scene(combined_mesh(_parts(shape)))
    rot = label_rotations(views)                                                    # (V, A, 3, 3)
    n_v, n_a, n_d = len(views), NUM_ANGLES, len(DEPTHS)
    shape_all = (len(points), n_v, n_a, n_d)
    scores = np.full(shape_all, -1.0, np.float32)
    widths = np.zeros(shape_all, np.float32)
    collision = np.zeros(shape_all, bool)
    x_axis = rot[..., 0][None, :, :, None, :]                                          # (1, V, A, 1, 3)
    y_axis = rot[..., 1]
    for s in range(0, len(points), chunk):
        p = points[s:s + chunk].astype(np.float64)
        centres = p[:, None, None, None, :] + DEPTHS[None, None, None, :, None] * x_axis  # (P, V, A, D, 3)
        closing = np.broadcast_to(y_axis[None, :, :, None, :], centres.shape)
        res = closing_contacts(scene, sdf, centres.reshape(-1, 3), closing.reshape(-1, 3))
        # Only force-closure grasps can be good: probe just those; the others keep collision = False.
        sel = np.flatnonzero(res["mu"] > 0)
        depth = np.broadcast_to(DEPTHS, centres.shape[:-1]).reshape(-1)[sel]
        R = np.broadcast_to(rot[None, :, :, None], centres.shape[:-1] + (3, 3)).reshape(-1, 3, 3)[sel]
        origin = np.repeat(p, n_v * n_a * n_d, 0)[sel]
        hit = np.zeros(len(res["ok"]), bool)
        hit[sel] = probe_min_distance(sdf, R, origin, res["width"][sel], depth) < PROBE_CLEARANCE
        shape = (len(p), n_v, n_a, n_d)
        scores[s:s + chunk] = res["mu"].reshape(shape)
        widths[s:s + chunk] = res["width"].reshape(shape)
        collision[s:s + chunk] = hit.reshape(shape)
    angles = np.arange(n_a) * np.pi / n_a
    offsets = np.stack([np.broadcast_to(angles[None, None, :, None], shape_all),
                        np.broadcast_to(DEPTHS[None, None, None, :], shape_all), widths], -1).astype(np.float32)
    return {"points": points, "offsets": offsets, "scores": scores, "collision": collision,
            "seconds": time.perf_counter() - t0}


def save_labels(path: str | Path, labels: dict) -> None:
    """``XXX_labels.npz`` (points float32, offsets/scores float16, collision bool), written atomically."""
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.{uuid.uuid4().hex[:8]}.tmp.npz")   # its own name: runs may share a root
    np.savez_compressed(tmp, points=labels["points"].astype(np.float32), offsets=labels["offsets"].astype(np.float16),
                        scores=labels["scores"].astype(np.float16), collision=labels["collision"])
    tmp.replace(path)


def grasp_friction_raycast(shape, sdf, rotations: np.ndarray, translations: np.ndarray, depths) -> tuple:
    """(μ, width) of arbitrary grasps (object frame) with the label engine's contacts (for tests / checks)."""
    rotations = np.asarray(rotations, np.float64).reshape(-1, 3, 3)
    depths = np.broadcast_to(np.asarray(depths, np.float64), (len(rotations),))
    centres = np.asarray(translations, np.float64).reshape(-1, 3) + depths[:, None] * rotations[:, :, 0]
    from grasp6d_core.data.objects import combined_mesh
    res = closing_contacts(raycast_scene(combined_mesh(_parts(shape))), sdf, centres, rotations[:, :, 1])
    return res["mu"], res["width"]


def friction_agreement(sdf, labels: dict, views: np.ndarray | None = None, samples: int = 4000,
                       seed: int = 0) -> dict:
    """Second, independent check of label μ: Dex-Net-style marching of the SDF grid along the closing line
    from ±width/2 (physics.grasp_friction), contacts and normals (grid gradient) from the SDF instead of the
    mesh's ray hits and face normals. Compared on grasps that have two contacts (width > 0)."""
    views = fibonacci_views() if views is None else views
    rng = np.random.default_rng(seed)
    width = labels["offsets"][..., 2].astype(np.float64)
    cand = np.argwhere(width > 0)
    if len(cand) == 0:
        return {"n": 0}
    pick = cand[rng.choice(len(cand), min(samples, len(cand)), replace=False)]
    p, v, a, d = pick.T
    R = label_rotations(views)[v, a]
    mu_label = labels["scores"][p, v, a, d].astype(np.float64)
    mu_check = grasp_friction(sdf, R, labels["points"][p], width[p, v, a, d], depths=DEPTHS[d],
                              grid=LABEL_FRICTION, step=0.0005)
    same = np.isclose(mu_label, mu_check, atol=0.01)
    within = (np.abs(mu_label - mu_check) <= 0.1 + 0.01) & ((mu_label > 0) == (mu_check > 0))
    both_fc = (mu_label > 0) == (mu_check > 0)
    return {"n": int(len(pick)), "exact": float(same.mean()), "within_0.1": float(within.mean()),
            "fc_agree": float(both_fc.mean()), "label_fc_rate": float((mu_label > 0).mean()),
            "check_fc_rate": float((mu_check > 0).mean())}
