"""R, the physical constraint regularisation (docs/model.md, the paper's supplement).

From the predicted approach â, in-plane angle θ̂ and width ŵ of a seed p at depth d, the two finger contacts
are c_{l,r} = p + R(â, θ̂)·[d − 0.002, ∓ŵ/2, 0]. Each object's SDF grid is sampled trilinearly at the contacts
(grid_sample; the normal is the autograd gradient). Per finger: penetration relu(0.005 − sdf), distance
relu(sdf − 0.02); per grasp antipodal alignment ½(1 − cos(c_r − c_l, n_r)) + ½(1 − cos(c_l − c_r, n_l)).
Weighted by valid-label mask × normalised label score.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from grasp6d_core.data.sdf import sample_sdf_torch  # the data engine's differentiable sampler
from grasp6d_core.model.geometry import grasp_rotation_torch

PENETRATION_MARGIN = 0.005
DISTANCE_MARGIN = 0.02
CONTACT_BACKOFF = 0.002


def finger_contacts(points: torch.Tensor, approach: torch.Tensor, angle: torch.Tensor, width: torch.Tensor,
                    depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(S,3),(S,3),(S,),(S,),(S,) -> left, right contacts (S,3), differentiable in all inputs."""
    rot = grasp_rotation_torch(approach, angle)
    x = (depth - CONTACT_BACKOFF)[:, None] * rot[..., 0]
    y = (width / 2)[:, None] * rot[..., 1]
    return points + x - y, points + x + y


def _sample(sdf, pts_obj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    grid = torch.as_tensor(sdf.values, dtype=pts_obj.dtype, device=pts_obj.device)[None]
    origin = torch.as_tensor(sdf.origin, dtype=pts_obj.dtype, device=pts_obj.device)[None]
    voxel = torch.tensor([sdf.voxel_size], dtype=pts_obj.dtype, device=pts_obj.device)
    d, n = sample_sdf_torch(grid, origin, voxel, pts_obj[None])
    return d[0], n[0]


def grasp_terms(c_left: torch.Tensor, c_right: torch.Tensor, sdf) -> torch.Tensor:
    """Per-grasp R terms (S,) for contacts (object frame) on one object's SDF."""
    both = torch.cat([c_left, c_right], 0)
    dist, normal = _sample(sdf, both)
    n = len(c_left)
    pen = F.relu(PENETRATION_MARGIN - dist)
    far = F.relu(dist - DISTANCE_MARGIN)
    n_l, n_r = normal[:n], normal[n:]
    anti = 0.5 * (1 - F.cosine_similarity(c_right - c_left, n_r, dim=-1)) + \
        0.5 * (1 - F.cosine_similarity(c_left - c_right, n_l, dim=-1))
    return pen[:n] + pen[n:] + far[:n] + far[n:] + anti


def physical_regularizer(seed_xyz: torch.Tensor, approach: torch.Tensor, angle: torch.Tensor, width: torch.Tensor,
                         depth: torch.Tensor, weight: torch.Tensor, seed_obj: np.ndarray, sdfs: list,
                         poses: np.ndarray) -> torch.Tensor:
    """Weighted mean of R over the seeds of one cloud (camera frame inputs (S,...), one SDF per object)."""
    c_l, c_r = finger_contacts(seed_xyz, approach, angle, width, depth)
    total = seed_xyz.new_zeros(())
    wsum = seed_xyz.new_zeros(())
    for k, (sdf, pose) in enumerate(zip(sdfs, poses)):
        sel = torch.as_tensor(np.flatnonzero((seed_obj == k)), device=seed_xyz.device)
        if sdf is None or len(sel) == 0 or float(weight[sel].sum()) <= 0:
            continue
        rot = torch.as_tensor(pose[:3, :3], dtype=seed_xyz.dtype, device=seed_xyz.device)
        t = torch.as_tensor(pose[:3, 3], dtype=seed_xyz.dtype, device=seed_xyz.device)
        to_obj = lambda c: (c[sel] - t) @ rot  # R^T (c − t), row form
        terms = grasp_terms(to_obj(c_l), to_obj(c_r), sdf)
        total = total + (weight[sel] * terms).sum()
        wsum = wsum + weight[sel].sum()
    return total / wsum.clamp_min(1e-9)
