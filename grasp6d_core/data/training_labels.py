"""Training targets built on the fly (docs/model.md): each seed takes the labels of the nearest labelled point of
its object (labels in the object frame, moved by the object's pose), the best view, and per depth bin the best
in-plane angle with its width and score.

Scene sample (what the training loader yields, numpy): ``points``/``normals`` (N, 3) camera frame,
``point_obj`` (N,) index into ``objects`` or −1, ``graspness`` (N,) in [0, 1], and ``objects``: list of
:class:`ObjectLabels` plus ``poses`` (K, 4, 4) camera <- object.
Label quality q = 1.1 − μ where force closure holds at μ and the grasp is collision-free, else 0
(GSNet's score target); angles are bin k · π / A (GraspNet's), widths in metres.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from grasp6d_core.rotations import grasp_rotation, in_plane_angle

SEED_LABEL_RADIUS = 0.01  # a seed farther than this from every labelled point of its object gets no label


@dataclass
class ObjectLabels:
    """One object's GraspNet labels in the object frame; ``quality`` is computed only for the points asked."""
    points: np.ndarray                 # (Np, 3)
    mu: np.ndarray                     # (Np, V, A, D) friction μ of force closure, ≤ 0 = none
    widths: np.ndarray                 # (Np, V, A, D) metres
    collision: np.ndarray | None = None  # (Np, V, A, D) bool, the scene's collision labels
    sdf: object = None                 # ObjectSDF (grid) for R; None = R skips the object

    def quality(self, index: np.ndarray) -> np.ndarray:
        """q = 1.1 − μ where force closure holds and no collision, else 0 — (S, V, A, D) float32."""
        mu = self.mu[index].astype(np.float32)
        good = mu > 0
        if self.collision is not None:
            good &= ~self.collision[index]
        return np.where(good, 1.1 - mu, 0.0).astype(np.float32)

    def graspness(self, max_mu: float = 0.8) -> np.ndarray:
        """(Np,) share of each point's grasps with 0 < μ ≤ max_mu and no collision (docs/data.md)."""
        good = (self.mu > 0) & (self.mu <= max_mu)
        if self.collision is not None:
            good &= ~self.collision
        return good.reshape(len(good), -1).mean(1)


def assign_seed_labels(seed_xyz: np.ndarray, seed_obj: np.ndarray, objects: list[ObjectLabels], poses: np.ndarray,
                       views: np.ndarray) -> dict:
    """Targets for M seeds of one cloud (numpy in, numpy out).

    Returns ``valid`` (M,) bool, ``approach`` (M,3) a* (camera frame), ``view_dirs`` (M,V,3) all template
    approaches in the camera frame, ``view_scores`` (M,V) min-max normalised per-view label sums s̃,
    ``best_view`` (M,), ``score`` (M,D), ``angle`` (M,D), ``width`` (M,D), ``obj`` (M,).
    """
    m = len(seed_xyz)
    n_views = len(views)
    a_bins, d_bins = objects[0].mu.shape[2:] if objects else (12, 4)
    out = {"valid": np.zeros(m, bool), "approach": np.zeros((m, 3), np.float32),
           "view_dirs": np.zeros((m, n_views, 3), np.float32), "view_scores": np.zeros((m, n_views), np.float32),
           "best_view": np.zeros(m, np.int64), "score": np.zeros((m, d_bins), np.float32),
           "angle": np.zeros((m, d_bins), np.float32), "width": np.zeros((m, d_bins), np.float32),
           "obj": seed_obj.astype(np.int64)}
    for k, (obj, pose) in enumerate(zip(objects, poses)):
        sel = np.flatnonzero(seed_obj == k)
        if len(sel) == 0:
            continue
        label_cam = obj.points @ pose[:3, :3].T + pose[:3, 3]
        d2 = ((seed_xyz[sel, None, :] - label_cam[None]) ** 2).sum(-1)
        near = d2.argmin(1)
        close = np.sqrt(d2[np.arange(len(sel)), near]) <= SEED_LABEL_RADIUS
        q = obj.quality(near)                                                     # (S, V, A, D)
        sums = q.sum(axis=(2, 3))                                                 # (S, V)
        best_view = sums.argmax(1)
        dirs = (-views) @ pose[:3, :3].T                                           # (V, 3) approach = −view
        lo, hi = sums.min(1, keepdims=True), sums.max(1, keepdims=True)
        rows = np.arange(len(sel))
        qv = q[rows, best_view]                                                    # (S, A, D)
        best_angle = qv.argmax(1)                                                  # (S, D)
        out["valid"][sel] = close & (hi[:, 0] > 0)
        out["approach"][sel] = dirs[best_view]
        out["view_dirs"][sel] = dirs[None]
        out["view_scores"][sel] = (sums - lo) / np.maximum(hi - lo, 1e-9)
        out["best_view"][sel] = best_view
        out["score"][sel] = qv.max(1)
        # The in-plane angle is measured from a frame built from the approach (README "Conventions"), so it changes when
        # the grasp is moved into the camera frame: θ_cam = θ_obj + δ, with Rx(δ) = F(P·a)ᵀ · P · F(a).
        delta = in_plane_angle(pose[:3, :3] @ grasp_rotation(-views[best_view], 0.0))          # (S,)
        out["angle"][sel] = np.mod(best_angle * (np.pi / a_bins) + delta[:, None], np.pi)
        out["width"][sel] = obj.widths[near][rows[:, None], best_view[:, None], best_angle,
                                             np.arange(d_bins)[None]].astype(np.float32)
    out["score"][~out["valid"]] = 0.0
    return out


def stack_labels(per_cloud: list[dict], device: torch.device | str = "cpu") -> dict:
    """Batch the per-cloud label dicts into tensors (B, M, ...)."""
    return {k: torch.as_tensor(np.stack([c[k] for c in per_cloud]), device=device) for k in per_cloud[0]}
