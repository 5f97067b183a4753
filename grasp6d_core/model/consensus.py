"""Consensus scoring: rank a grasp by how many seeds propose (nearly) the same grasp, weighted by their scores.

Every seed of a cloud decodes one grasp, and neighbouring seeds on the same part of an object tend to agree when
that part is graspable. On object families the network never saw, its score alone barely ranks the grasps that
hold (docs/model.md, "Generalization", items 11 and 13), while the agreement of many seeds is a steadier signal.
A grasp's consensus is S = the sum of the network scores of all decoded grasps within ``radius`` and ``angle``
of it (itself included; the gripper's half-turn about its approach counts as the same grasp, as in NMS), and its
reported score is S / (1 + S): a fixed, monotone squash into [0, 1), so ``min_score`` keeps one meaning from
cloud to cloud.
"""
from __future__ import annotations

import numpy as np

from grasp6d_core.grasp import GraspGroup

RADIUS = 0.02                       # m between grasp centres
ANGLE = float(np.deg2rad(30.0))     # between the grasps' orientations
SCORINGS = ("network", "consensus")
DEFAULT_SCORING = "network"   # what the detector, the pipeline, the CLI, the node and reports use unless told
_FLIP = np.array([1.0, -1.0, -1.0])  # a half-turn about the approach (x): the same parallel-jaw grasp
_CHUNK = 1024


def consensus_sums(grasps: GraspGroup, radius: float = RADIUS, angle: float = ANGLE) -> np.ndarray:
    """S (N,): the summed scores of the grasps within ``radius`` m and ``angle`` rad of each grasp."""
    n = len(grasps)
    if n == 0:
        return np.zeros(0)
    t, scores = grasps.translations, grasps.scores
    flat = grasps.rotations.reshape(n, 9)
    flipped = (grasps.rotations * _FLIP).reshape(n, 9)
    cos_limit = np.cos(angle)
    sums = np.empty(n)
    for start in range(0, n, _CHUNK):
        rows = slice(start, start + _CHUNK)
        # trace(R_iᵀ R_j) = 1 + 2 cos(angle between them); the larger of the two symmetric versions counts.
        trace = np.maximum(flat[rows] @ flat.T, flat[rows] @ flipped.T)
        close = ((trace - 1.0) / 2.0 > cos_limit) & (np.linalg.norm(t[rows, None] - t[None], axis=-1) < radius)
        sums[rows] = close @ scores
    return sums


def consensus_rescore(grasps: GraspGroup, radius: float = RADIUS, angle: float = ANGLE) -> GraspGroup:
    """A copy of ``grasps`` scored by consensus, S / (1 + S), best first. Scores must be ≥ 0 (network scores are)."""
    if len(grasps) and grasps.scores.min() < 0:
        raise ValueError("consensus scoring needs scores >= 0 (the network's are); got a negative score")
    sums = consensus_sums(grasps, radius, angle)
    out = grasps.copy()
    out.array[:, 0] = sums / (1.0 + sums)
    return out.sort_by_score()
