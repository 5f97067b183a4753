"""Stage-by-stage agreement between ``grasp6d eval`` and the original graspnetAPI evaluator on the same images.

graspnetAPI's ``eval_scene(..., return_list=True)`` gives, per image, the grasps it scored (17-column rows, after
NMS, the 10-per-object cap and the top-50 cut), their μ (−1 = collision, empty or not force-closure) and their
collision flags (collision or empty). :func:`stage_agreement` matches those rows with the grasps ours scored
(:class:`grasp6d_core.evaluation.ap.ImageResult`) and counts where the two differ: which grasps were selected,
the collision/empty decision, the force-closure decision and the μ bucket.
"""
from __future__ import annotations

import numpy as np

from grasp6d_core.evaluation.ap import FRICTION_LIST, ImageResult


def _keys(rows: np.ndarray) -> list[tuple]:
    """A grasp's identity for matching: score and translation (widths may be clipped differently)."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 17)
    return [tuple(k) for k in np.round(rows[:, [0, 13, 14, 15]], 5)]


def _bucket(mu: np.ndarray) -> np.ndarray:
    """μ on graspnetAPI's list (0.2 … 1.2): the smallest listed value ≥ μ; −1 stays −1."""
    grid = np.asarray(FRICTION_LIST)
    idx = np.searchsorted(grid, np.asarray(mu, dtype=np.float64) - 1e-9)
    return np.where((np.asarray(mu) > 0) & (idx < len(grid)), grid[np.minimum(idx, len(grid) - 1)], -1.0)


def split_per_image(theirs: dict) -> list[dict]:
    """graspnetAPI's flat arrays (counts, grasps, mu, collision) -> one dict per image."""
    bounds = np.concatenate([[0], np.cumsum(theirs["counts"])])
    return [{k: theirs[k][a:b] for k in ("grasps", "mu", "collision")} for a, b in zip(bounds[:-1], bounds[1:])]


def stage_agreement(theirs: list[dict], ours: list[ImageResult]) -> dict:
    """Counts over all images: scored grasps (each side, both), and on the grasps both scored the collision
    decision, the force-closure decision and the μ bucket (same / ours lower / ours higher)."""
    if len(theirs) != len(ours):
        raise ValueError(f"graspnetAPI scored {len(theirs)} images, grasp6d {len(ours)}: compare the same images")
    out = dict(theirs_scored=0, ours_scored=0, both_scored=0, collision_agree=0, collision_ours_only=0,
               collision_theirs_only=0, closure_agree=0, closure_ours_only=0, closure_theirs_only=0,
               mu_same=0, mu_ours_lower=0, mu_ours_higher=0)
    for t, o in zip(theirs, ours):
        index = {k: i for i, k in enumerate(_keys(o.grasps))}
        pairs = [(i, index[k]) for i, k in enumerate(_keys(t["grasps"])) if k in index]
        out["theirs_scored"] += len(t["grasps"])
        out["ours_scored"] += len(o.grasps)
        out["both_scored"] += len(pairs)
        if not pairs:
            continue
        ti, oi = (np.array(v) for v in zip(*pairs))
        col_t = np.asarray(t["collision"], dtype=bool)[ti]
        col_o = (o.collision | o.empty)[oi]
        out["collision_agree"] += int((col_t == col_o).sum())
        out["collision_ours_only"] += int((col_o & ~col_t).sum())
        out["collision_theirs_only"] += int((col_t & ~col_o).sum())
        free = ~col_t & ~col_o
        mu_t = _bucket(np.asarray(t["mu"])[ti][free])
        mu_o = _bucket(o.friction[oi][free])
        fc_t, fc_o = mu_t > 0, mu_o > 0
        out["closure_agree"] += int((fc_t == fc_o).sum())
        out["closure_ours_only"] += int((fc_o & ~fc_t).sum())
        out["closure_theirs_only"] += int((fc_t & ~fc_o).sum())
        both = fc_t & fc_o
        out["mu_same"] += int((mu_t[both] == mu_o[both]).sum())
        out["mu_ours_lower"] += int((mu_o[both] < mu_t[both]).sum())
        out["mu_ours_higher"] += int((mu_o[both] > mu_t[both]).sum())
    return out
