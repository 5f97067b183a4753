"""Is an image's AP lost to the ranking or to the proposals?

AP is precision@k averaged over k = 1…50 and the friction thresholds, so it rewards putting the grasps that hold
first. Re-scoring the grasps the evaluator scored, in the best possible order, gives the AP a perfect re-ranker of
those same grasps would reach: the gap between it and the AP as ranked is what the score head loses, the gap
between it and the label oracle is what the proposals lose. The best order is an upper bound for re-ordering the
*scored* set only: a new order of the whole dump could also change which grasps the evaluator's NMS and
per-object cap keep.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grasp6d_core.evaluation.ap import FRICTION_LIST, ImageResult, precision_at_k

HOLDS_AT = 0.8   # the friction coefficient at which a grasp counts as holding in the AUC and the failure shares


def best_order(result: ImageResult) -> np.ndarray:
    """Indices of ``result``'s grasps in the order that maximises every column of precision@k at once: grasps
    that hold, lowest required μ first (one that holds at μ holds at every larger μ), then all the others."""
    holds = ~result.collision & ~result.empty & (result.friction > 0)
    key = np.where(holds, result.friction, np.inf)
    return np.argsort(key, kind="stable")


def rank_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive grasp outscores a random negative one (ties count half); NaN when
    either class is empty. 0.5 = the scores do not rank at all."""
    scores, positive = np.asarray(scores, float), np.asarray(positive, bool)
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    above = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(above / (len(pos) * len(neg)))


@dataclass(frozen=True)
class RankingBreakdown:
    images: int
    grasps: int
    ap: float                  # as ranked, percent
    ap_best_order: float       # the same grasps in the best order, percent
    collision: float           # share of the scored grasps
    empty: float
    no_hold: float             # collision-free and not empty, but needs μ > HOLDS_AT (or has no closure)
    auc_holds: float           # AUC of the scores for "holds at HOLDS_AT", all scored grasps
    auc_holds_geometric: float  # the same among collision-free, non-empty grasps: the friction ranking alone


def ranking_breakdown(results: list[ImageResult], top_k: int = 50) -> RankingBreakdown:
    """Pool images' evaluator results (``evaluation.runner.evaluate_job``) into one breakdown."""
    if not results:
        raise ValueError("no images to break down: evaluate at least one image")
    as_ranked, best, scores, holds, geometric = [], [], [], [], []
    for r in results:
        as_ranked.append(r.precision.mean())
        order = best_order(r)
        best.append(precision_at_k(r.friction[order], r.collision[order], r.empty[order], top_k, FRICTION_LIST).mean())
        ok = ~r.collision & ~r.empty
        scores.append(r.grasps[:, 0])
        holds.append(ok & (r.friction > 0) & (r.friction <= HOLDS_AT + 1e-9))
        geometric.append(ok)
    scores, holds, geometric = map(np.concatenate, (scores, holds, geometric))
    collision = np.concatenate([r.collision for r in results])
    empty = np.concatenate([r.empty for r in results]) & ~collision
    n = max(len(scores), 1)
    return RankingBreakdown(
        images=len(results), grasps=len(scores), ap=100 * float(np.mean(as_ranked)),
        ap_best_order=100 * float(np.mean(best)), collision=float(collision.sum() / n), empty=float(empty.sum() / n),
        no_hold=float((geometric & ~holds).sum() / n), auc_holds=rank_auc(scores, holds),
        auc_holds_geometric=rank_auc(scores[geometric], holds[geometric]))
