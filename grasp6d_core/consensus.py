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
from scipy.spatial import cKDTree

from grasp6d_core.grasp import GraspGroup

RADIUS = 0.02                       # m between grasp centres
ANGLE = float(np.deg2rad(30.0))     # between the grasps' orientations
SCORINGS = ("network", "consensus", "learned")   # learned: grasp6d_core/rescorer.py
# What the detector, the pipeline, the CLI, the node and reports use unless told: consensus raised AP on the
# development seed (novel +3.2, similar +2.6, paired per scene) and on fresh seeds (docs/model.md, item 13).
DEFAULT_SCORING = "consensus"
_FLIP = np.array([1.0, -1.0, -1.0])  # a half-turn about the approach (x): the same parallel-jaw grasp


def consensus_sums(grasps: GraspGroup, radius: float = RADIUS, angle: float = ANGLE) -> np.ndarray:
    """S (N,): the summed scores of the grasps within ``radius`` m and ``angle`` rad of each grasp."""
    scores = grasps.scores.copy()
    if len(grasps) == 0:
        return scores
    # Seeds are spread by farthest-point sampling, so each has few neighbours within the radius: pairs from a
    # k-d tree, then the angle of those pairs only (an all-pairs test cost ~80 ms for 1024 seeds on 2 cores).
    pairs = cKDTree(grasps.translations).query_pairs(radius, output_type="ndarray")
    if len(pairs):
        r = grasps.rotations
        i, j = pairs[:, 0], pairs[:, 1]
        # trace(R_iᵀ R_j) = 1 + 2 cos(angle between them); the larger of the two symmetric versions counts.
        same = np.einsum("kab,kab->k", r[i], r[j])
        flipped = np.einsum("kab,kab->k", r[i], r[j] * _FLIP)
        close = np.maximum(same, flipped) > 1.0 + 2.0 * np.cos(angle)
        np.add.at(scores, i[close], grasps.scores[j[close]])
        np.add.at(scores, j[close], grasps.scores[i[close]])
    return scores


def consensus_rescore(grasps: GraspGroup, radius: float = RADIUS, angle: float = ANGLE) -> GraspGroup:
    """A copy of ``grasps`` scored by consensus, S / (1 + S), best first. Scores must be ≥ 0 (network scores are)."""
    if len(grasps) and grasps.scores.min() < 0:
        raise ValueError("consensus scoring needs scores >= 0 (the network's are); got a negative score")
    sums = consensus_sums(grasps, radius, angle)
    out = grasps.copy()
    out.array[:, 0] = sums / (1.0 + sums)
    return out.sort_by_score()
