"""Torch twins of the numpy grasp-frame helpers where autograd is needed (R and refinement differentiate
through the rotation). The convention is grasp6d_core.rotations.grasp_rotation's (README "Conventions"); a test checks
they agree.
"""
from __future__ import annotations

import torch

from grasp6d_core.views import fibonacci_views


def grasp_rotation_torch(approach: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """approach (..., 3), angle (...) -> rotations (..., 3, 3) = [x y z] · Rx(angle), differentiable."""
    x = approach / approach.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    y = torch.stack([-x[..., 1], x[..., 0], torch.zeros_like(x[..., 0])], dim=-1)
    y_norm = y.norm(dim=-1, keepdim=True)
    vertical = y_norm < 1e-6
    fallback = torch.tensor([0.0, 1.0, 0.0], dtype=x.dtype, device=x.device).expand_as(y)
    y = torch.where(vertical, fallback, y / y_norm.clamp_min(1e-6))
    z = torch.cross(x, y, dim=-1)
    c, s = torch.cos(angle)[..., None], torch.sin(angle)[..., None]
    # Columns of [x y z]·Rx(θ): x, c·y + s·z, −s·y + c·z.
    return torch.stack([x, c * y + s * z, -s * y + c * z], dim=-1)


def fibonacci_views_torch(n: int = 300) -> torch.Tensor:
    """The labels' 300 template views (graspnetAPI order), as the evaluation module defines them."""
    return torch.as_tensor(fibonacci_views(n), dtype=torch.float32)
