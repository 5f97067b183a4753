"""Network outputs -> GraspGroup (camera frame): best depth bin per seed, θ = ½·atan2(sin 2θ, cos 2θ),
final score = operation score × graspness (docs/model.md). And the inverse (a grasp -> per-bin targets) used by
tests to check the round trip."""
from __future__ import annotations

import numpy as np
import torch

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation


def decode_arrays(end: dict, depths: torch.Tensor, batch: int = 0) -> dict:
    """Per-seed numpy arrays of one cloud: scores, widths, depths, angles, approaches, translations, bins."""
    score = end["score"][batch].detach()                                         # (M, D)
    best = score.argmax(dim=-1)                                                  # (M,)
    rows = torch.arange(len(best))
    rot2 = end["rot2"][batch].detach()[rows, best]                               # (M, 2)
    angle = 0.5 * torch.atan2(rot2[:, 0], rot2[:, 1])
    final = score[rows, best] * end["seed_graspness"][batch].detach().clamp(0, 1)
    as_np = lambda t: t.cpu().numpy().astype(np.float64)
    return {"scores": as_np(final), "widths": as_np(end["width"][batch].detach()[rows, best]),
            "depths": as_np(depths)[best.cpu().numpy()], "angles": as_np(angle),
            "approaches": as_np(end["approach"][batch].detach()), "translations": as_np(end["seed_xyz"][batch].detach()),
            "bins": best.cpu().numpy()}


def decode_grasps(end: dict, depths: torch.Tensor, batch: int = 0) -> GraspGroup:
    """GraspGroup of every seed of cloud ``batch``, best first."""
    a = decode_arrays(end, depths, batch)
    rotations = grasp_rotation(a["approaches"], a["angles"])
    return GraspGroup.from_components(a["scores"], a["widths"], a["depths"], rotations, a["translations"]).sort_by_score()


def encode_grasp_targets(approach: np.ndarray, angle: np.ndarray, width: np.ndarray, depth_bin: np.ndarray,
                         num_bins: int) -> dict:
    """The operation-head outputs that decode to the given grasps (score 1 in the chosen bin, 0 elsewhere)."""
    n = len(angle)
    score = np.zeros((n, num_bins))
    score[np.arange(n), depth_bin] = 1.0
    rot2 = np.broadcast_to(np.stack([np.sin(2 * angle), np.cos(2 * angle)], -1)[:, None], (n, num_bins, 2))
    return {"score": torch.as_tensor(score, dtype=torch.float32)[None],
            "rot2": torch.as_tensor(np.ascontiguousarray(rot2), dtype=torch.float32)[None],
            "width": torch.as_tensor(np.repeat(width[:, None], num_bins, 1), dtype=torch.float32)[None],
            "approach": torch.as_tensor(approach / np.linalg.norm(approach, axis=1, keepdims=True), dtype=torch.float32)[None]}
