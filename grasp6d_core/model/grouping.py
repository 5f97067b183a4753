"""Multi-scale cylinder grouping with per-depth heights and gated fusion (docs/model.md).

For every seed and radius r, up to ``samples`` neighbours inside the cylinder around the approach axis
(|y,z| ≤ r, hmin ≤ x ≤ max depth, gripper frame) are gathered. Neighbour search: k-nearest in a cloud
voxel-thinned at r/4 (so a cylinder holds ~``samples`` candidates at every scale — the same role as the
CUDA cylinder query's "first nsample points", with no CUDA). Per depth bin the max-pool only takes samples
with x ≤ that depth (the per-depth cylinder height), so one grouping serves all bins (:func:`depth_pool`).
The shared point MLP's first layer is split as W·[xyz/r; f] = W_x·xyz/r + W_f·f, and W_f·f is computed once
per point, not per sample.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

from grasp6d_core.sensing.tsdf import nearest_to_voxel_centres


def cylinder_neighbours(points: np.ndarray, seeds: np.ndarray, radius: float, samples: int,
                        reach: float) -> tuple[np.ndarray, np.ndarray]:
    """(M, samples) indices into ``points`` of the nearest thinned neighbours of each seed within ``reach``,
    and a found mask (missing neighbours index point 0 with found = False)."""
    # One candidate per voxel, chosen independently of point order, so a shuffled cloud groups the same.
    sub = nearest_to_voxel_centres(points, radius / 4.0)
    k = min(samples, len(sub))
    # As many query threads as torch may use: a fixed 2 oversubscribed a process told to use one core.
    dist, idx = cKDTree(points[sub]).query(seeds, k=k, distance_upper_bound=reach, workers=torch.get_num_threads())
    dist, idx = dist.reshape(len(seeds), k), idx.reshape(len(seeds), k)
    found = np.isfinite(dist)
    out = np.zeros((len(seeds), samples), dtype=np.int64)
    ok = np.zeros((len(seeds), samples), dtype=bool)
    out[:, :k] = np.where(found, sub[np.minimum(idx, len(sub) - 1)], 0)
    ok[:, :k] = found
    return out, ok


INFERENCE_BLOCK = 256  # seeds per block of the inference pass: 256 × 64 samples × 64 channels = 4 MB per tensor
POOL_BLOCK = 256  # seeds per block of depth_pool's winner search: 256 × 64 samples × 64 channels = 4 MB


def depth_pool(h: torch.Tensor, inside: torch.Tensor, x: torch.Tensor, depths: torch.Tensor) -> torch.Tensor:
    """Per-depth max-pool of sample features h (B, M, K, H) >= 0 -> (B, M, D, H): bin j takes the samples that
    are ``inside`` with x <= depths[j] (nested cylinders); an empty bin is 0.

    h >= 0 after the ReLU, so zeroing the other samples and taking the max is the masked max (twice as fast on
    CPU as a scatter_reduce into the first bin + a running max). With autograd the max's winners are found
    without grad and the output gathers them from h: the backward is then one scatter of (B, M, D, H)
    gradients, where ``amax``'s backward made several full (B, M, K, H) passes per bin (finding and counting
    ties) and was the largest single cost of a training step. Same values; the gradient differs only on exact
    ties between positive features, which amax splits and this gives to one sample."""
    if not (torch.is_grad_enabled() and h.requires_grad):   # inference: amax, no winners to find
        return torch.stack([(h * (inside & (x <= depth))[..., None]).amax(dim=2) for depth in depths], dim=2)
    b, m, k, c = h.shape
    with torch.no_grad():
        rows = h.reshape(b * m, k, c)
        masks = torch.stack([inside & (x <= depth) for depth in depths], dim=-1).reshape(b * m, k, -1).to(h.dtype)
        values, winners = [], []
        # A block of seeds at a time, so its masked copies stay in cache for all bins (1.5x faster than whole
        # (B, M, K, H) passes); the same maxima and winners.
        for start in range(0, b * m, POOL_BLOCK):
            block, mask = rows[start:start + POOL_BLOCK], masks[start:start + POOL_BLOCK]
            best = [torch.max(block * mask[:, :, j, None], dim=1) for j in range(len(depths))]
            values.append(torch.stack([r.values for r in best], dim=1))
            winners.append(torch.stack([r.indices for r in best], dim=1))
        values = torch.cat(values).view(b, m, len(depths), c)
        winners = torch.cat(winners).view(b, m, len(depths), c)
    # A bin whose max is 0 may have picked a masked-out sample: it stays 0 (and so does its gradient, as a
    # zero feature is a dead ReLU).
    return h.gather(2, winners) * (values > 0)


class CylinderGrouping(nn.Module):
    """(points, point features, seeds, seed frames) -> per-depth seed features (B, M, D, C)."""

    def __init__(self, channels: int, radii: list[float], samples: int, hmin: float, depths: list[float], hidden: int):
        super().__init__()
        self.radii, self.samples, self.hmin = [float(r) for r in radii], int(samples), float(hmin)
        self.register_buffer("depths", torch.tensor([float(d) for d in depths]), persistent=False)
        self.point_proj = nn.Linear(channels, hidden, bias=False)  # W_f, applied once per point
        self.xyz_proj = nn.Linear(3, hidden)                       # W_x (+ bias)
        self.bn1, self.fc2, self.bn2 = nn.BatchNorm1d(hidden), nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden)
        self.fuse = nn.Linear(hidden * len(radii), channels)
        self.gate = nn.Linear(2 * channels, channels)

    def _inference_layers(self) -> dict[str, tuple[torch.Tensor, ...] | torch.Tensor]:
        """The point MLP's weights with both BatchNorms folded in (eval mode: a BatchNorm is then a fixed
        per-channel scale and shift), so inference skips two full (B, M, K, H) passes per radius. The same
        function as the unfolded layers up to float rounding; computed per call (a few 64 x 64 products), so
        it can never be stale after the weights change."""
        def scale_shift(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            return scale, bn.bias - bn.running_mean * scale
        s1, t1 = scale_shift(self.bn1)
        s2, t2 = scale_shift(self.bn2)
        return {"point": self.point_proj.weight * s1[:, None],
                "xyz": (self.xyz_proj.weight * s1[:, None], self.xyz_proj.bias * s1 + t1),
                "fc2": (self.fc2.weight * s2[:, None], t2)}

    def forward(self, points: torch.Tensor, features: torch.Tensor, seed_xyz: torch.Tensor,
                seed_rot: torch.Tensor, seed_feat: torch.Tensor) -> torch.Tensor:
        b, m, _ = seed_xyz.shape
        d = len(self.depths)
        hmax = float(self.depths.max())
        layers = self._inference_layers() if not self.training else None
        # W_f·f per point; at inference with W_x's bias folded in, so a sample's first layer is one in-place addmm.
        proj = self.point_proj(features) if layers is None else \
            nn.functional.linear(features, layers["point"], layers["xyz"][1])  # (B, N, H)
        pts_np, seeds_np = points.detach().cpu().numpy(), seed_xyz.detach().cpu().numpy()
        # Inference goes through the seeds a block at a time: each block's (B, block, K, H) sample features stay
        # in cache through the MLP and the pooling, where whole-cloud passes were bound by memory bandwidth.
        # Training keeps one pass (autograd holds every intermediate anyway).
        block = m if layers is None else INFERENCE_BLOCK
        pooled = []
        for r in self.radii:
            reach = float(np.hypot(r, max(hmax, -self.hmin)))
            idx_list, ok_list = zip(*[cylinder_neighbours(pts_np[i], seeds_np[i], r, self.samples, reach) for i in range(b)])
            idx = torch.as_tensor(np.stack(idx_list), device=points.device)            # (B, M, K)
            ok = torch.as_tensor(np.stack(ok_list), device=points.device)
            pooled.append(torch.cat([self._pool_radius(points, proj, seed_xyz[:, s:s + block], seed_rot[:, s:s + block],
                                                       idx[:, s:s + block], ok[:, s:s + block], r, hmax, layers)
                                     for s in range(0, m, block)], dim=1))             # (B, M, D, H)
        fused = self.fuse(torch.cat(pooled, dim=-1))                         # (B, M, D, C)
        seed = seed_feat[:, :, None].expand(-1, -1, d, -1)
        gate = torch.sigmoid(self.gate(torch.cat([seed, fused], dim=-1)))
        return seed + gate * fused

    def _pool_radius(self, points: torch.Tensor, proj: torch.Tensor, seed_xyz: torch.Tensor, seed_rot: torch.Tensor,
                     idx: torch.Tensor, ok: torch.Tensor, r: float, hmax: float, layers: dict | None) -> torch.Tensor:
        """Per-depth pooled features (B, M, D, H) of the seeds' cylinders of radius ``r`` (neighbours ``idx``)."""
        b, m, k = idx.shape
        flat = (idx + torch.arange(b, device=idx.device).view(b, 1, 1) * points.shape[1]).reshape(-1)
        nb_xyz = points.reshape(-1, 3).index_select(0, flat).view(b, m, k, 3)
        local = torch.einsum("bmkj,bmji->bmki", nb_xyz - seed_xyz[:, :, None], seed_rot)  # R^T (p - s)
        inside = ok & (local[..., 1:].norm(dim=-1) <= r) & (local[..., 0] >= self.hmin) & (local[..., 0] <= hmax)
        h = proj.reshape(-1, proj.shape[-1]).index_select(0, flat).view(b, m, k, -1)
        if layers is None:
            h = h + self.xyz_proj(local / r)
            h = torch.relu(self.bn1(h.reshape(-1, h.shape[-1]))).view_as(h)
            h = torch.relu(self.bn2(self.fc2(h).reshape(-1, h.shape[-1]))).view_as(h)  # (B, M, K, H) >= 0
        else:
            # + W_x·xyz/r, in place (autocast skips in-place ops, so the operands take h's dtype by hand)
            h.view(-1, h.shape[-1]).addmm_(local.reshape(-1, 3).to(h.dtype), (layers["xyz"][0].t() / r).to(h.dtype))
            h = torch.relu_(h)
            h = torch.relu_(nn.functional.linear(h, *layers["fc2"]))
        return depth_pool(h, inside, local[..., 0], self.depths)
