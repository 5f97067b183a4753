"""The grasp network: backbone -> graspable head -> FPS seeds -> approach -> cylinder grouping -> operation head.

forward() returns a dict of tensors ("end points"); :mod:`.decode` turns them into GraspGroup rows and
:mod:`.losses` into the training loss.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from grasp6d_core.model.backbone import PointBackbone
from grasp6d_core.model.geometry import fibonacci_views_torch, grasp_rotation_torch
from grasp6d_core.model.grouping import CylinderGrouping


def farthest_point_indices(points: np.ndarray, m: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """m indices by farthest-point sampling (fpsample's kd-tree bucket FPS); repeats when fewer points."""
    import fpsample
    n = len(points)
    if n == 0:
        raise ValueError("farthest_point_indices: empty point set")
    if n <= m:
        rng = rng or np.random.default_rng(0)
        extra = rng.integers(0, n, m - n)
        return np.concatenate([np.arange(n), extra])
    return np.asarray(fpsample.bucket_fps_kdline_sampling(np.ascontiguousarray(points, np.float32), m, h=5, start_idx=0), np.int64)


def mlp(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, cout))


class GraspNet6D(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = cfg
        c = int(cfg["backbone"]["out_channels"])
        self.num_seeds = int(cfg["seeds"]["num"])
        self.threshold = float(cfg["seeds"]["graspness_threshold"])
        self.mode = cfg["approach"]["mode"]
        self.backbone = PointBackbone(cfg)
        self.graspable = nn.Linear(c, 3)  # 2 objectness logits + graspness
        out = 3 if self.mode == "regress" else int(cfg["approach"]["num_views"])
        self.approach = mlp(c, c, out)
        self.register_buffer("views", fibonacci_views_torch(int(cfg["approach"]["num_views"])), persistent=False)
        cyl = cfg["cylinder"]
        self.register_buffer("depths", torch.tensor([float(d) for d in cyl["depths"]]), persistent=False)
        self.grouping = CylinderGrouping(c, cyl["radii"], cyl["samples"], cyl["hmin"], cyl["depths"], int(cyl["hidden"]))
        self.operation = mlp(c, int(cfg["operation"]["hidden"]), 4)  # score, sin 2θ, cos 2θ, width — per depth bin

    @staticmethod
    def point_features(normals: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.ones_like(normals[..., :1]), normals], dim=-1)

    def select_seeds(self, points: torch.Tensor, objectness: torch.Tensor, graspness: torch.Tensor) -> torch.Tensor:
        """(B, M) indices: FPS over points predicted object with graspness > threshold (all points if none)."""
        out = []
        mask = (objectness.argmax(-1) == 1) & (graspness > self.threshold)
        pts = points.detach().cpu().numpy()
        for i in range(points.shape[0]):
            cand = np.flatnonzero(mask[i].cpu().numpy())
            if len(cand) == 0:
                cand = np.arange(points.shape[1])
            out.append(cand[farthest_point_indices(pts[i, cand], self.num_seeds)])
        return torch.as_tensor(np.stack(out), device=points.device)

    def forward(self, points: torch.Tensor, normals: torch.Tensor, seed_idx: torch.Tensor | None = None,
                grouping_approach=None) -> dict:
        """points/normals (B, N, 3). ``seed_idx`` (B, M) forces seeds; ``grouping_approach`` is a callable
        (seed_idx, predicted approach) -> approach used to orient the cylinders (training: the label's)."""
        feats = self.backbone(points, self.point_features(normals))          # (B, N, C)
        return self.forward_heads(points, feats, seed_idx, grouping_approach)

    def forward_heads(self, points: torch.Tensor, feats: torch.Tensor, seed_idx: torch.Tensor | None = None,
                      grouping_approach=None) -> dict:
        """Everything after the backbone (split so inference can time the two parts)."""
        g = self.graspable(feats)
        objectness, graspness = g[..., :2], g[..., 2]
        if seed_idx is None:
            seed_idx = self.select_seeds(points, objectness, graspness)
        gather = lambda t: torch.gather(t, 1, seed_idx.view(*seed_idx.shape, *([1] * (t.dim() - 2))).expand(
            -1, -1, *t.shape[2:]))
        seed_xyz, seed_feat = gather(points), gather(feats)
        raw = self.approach(seed_feat)
        end = {"objectness": objectness, "graspness": graspness, "seed_idx": seed_idx, "seed_xyz": seed_xyz,
               "seed_graspness": gather(graspness[..., None])[..., 0]}
        if self.mode == "regress":
            approach = raw / raw.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        else:
            end["view_logits"] = raw
            end["template_approaches"] = -self.views
            approach = -self.views[raw.argmax(-1)]  # a label grasp's approach is −view
        end["approach"] = approach
        group_dir = approach.detach() if grouping_approach is None else grouping_approach(seed_idx, approach.detach())
        rot = grasp_rotation_torch(group_dir, torch.zeros_like(group_dir[..., 0]))
        grouped = self.grouping(points, feats, seed_xyz, rot, seed_feat)       # (B, M, D, C)
        op = self.operation(grouped)
        end["score"] = op[..., 0]
        end["rot2"] = torch.tanh(op[..., 1:3])                                 # (sin 2θ, cos 2θ)
        end["width"] = 0.1 * torch.sigmoid(op[..., 3])
        return end
