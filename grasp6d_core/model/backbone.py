"""Voxelisation and the sparse residual UNet (MinkUNet-style) backbone in spconv (docs/model.md).

Points are quantised at ``voxel_size`` (5 mm); point features are averaged per voxel; the UNet runs on the
voxels and every point takes its voxel's output feature.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from grasp6d_core.model.spconv_shim import SparseConvTensor, SparseSequential, down, subm, up


@dataclass
class Voxels:
    coords: torch.Tensor      # (V, 4) int32 [batch, i, j, k]
    features: torch.Tensor    # (V, F) mean point feature per voxel
    point_to_voxel: torch.Tensor  # (B*N,) voxel index of each point (points flattened batch-major)
    spatial_shape: list[int]
    batch_size: int


# Voxels per axis the grid may span: 2^16 keeps float32 quantisation exact to well below a voxel (at 5 mm,
# ±164 m: float32 resolves 2e-5 m there) and the spatial shape far inside what spconv's indices hold (a
# 30 km point tripped its assertion; at 1000 km float32 merged neighbouring voxels and silently changed grasps).
MAX_GRID_VOXELS = 1 << 16


def check_voxel_range(largest: float, voxel_size: float, name: str = "points") -> None:
    """ValueError (naming ``name`` and the limit) unless ``largest``, the largest |coordinate| of a cloud, is
    finite and within half the grid (MAX_GRID_VOXELS voxels) of the origin, i.e. the sensor."""
    limit = MAX_GRID_VOXELS * voxel_size / 2
    if not largest <= limit:   # also True for NaN
        raise ValueError(f"{name}: coordinates must be finite and within ±{limit:.4g} m of the sensor for the "
                         f"{voxel_size * 1e3:g} mm voxel grid (largest |coordinate| {largest:.4g} m) — crop the "
                         "cloud to the workspace first (GraspPipeline's max_range does)")


def voxelize(points: torch.Tensor, features: torch.Tensor, voxel_size: float) -> Voxels:
    """points (B, N, 3), features (B, N, F) -> unique voxels of every cloud (batch index in coords[:, 0])."""
    b, n, _ = points.shape
    if points.numel():
        check_voxel_range(float(points.detach().abs().amax()), voxel_size)
    grid = torch.floor((points - points.amin(dim=1, keepdim=True)) / voxel_size).long()  # (B, N, 3) >= 0
    span = grid.reshape(-1, 3).amax(dim=0) + 1
    batch = torch.arange(b, device=points.device).view(b, 1)
    # One int64 key per point (1-D unique is much faster than unique(dim=0)).
    keys = ((batch * span[0] + grid[..., 0]) * span[1] + grid[..., 1]) * span[2] + grid[..., 2]
    uniq, inverse = torch.unique(keys.reshape(-1), return_inverse=True)
    coords = torch.stack([uniq // (span[0] * span[1] * span[2]), uniq // (span[1] * span[2]) % span[0],
                          uniq // span[2] % span[1], uniq % span[2]], dim=1)
    counts = torch.bincount(inverse, minlength=len(coords)).clamp_min(1).unsqueeze(1).to(features.dtype)
    feats = torch.zeros(len(coords), features.shape[-1], dtype=features.dtype, device=points.device)
    feats.index_add_(0, inverse, features.reshape(-1, features.shape[-1]))
    shape = (coords[:, 1:].amax(dim=0) + 1).tolist()
    # spconv needs room for 4 stride-2 levels: round the grid up to a multiple of 16.
    shape = [int((s + 15) // 16 * 16) for s in shape]
    return Voxels(coords.int(), feats / counts, inverse, shape, b)


class BasicBlock(nn.Module):
    """Residual block of two 3×3×3 submanifold convs (projection shortcut when widths differ)."""

    def __init__(self, cin: int, cout: int, key: str):
        super().__init__()
        self.conv1, self.bn1 = subm(cin, cout, 3, key), nn.BatchNorm1d(cout)
        self.conv2, self.bn2 = subm(cout, cout, 3, key), nn.BatchNorm1d(cout)
        self.proj = None if cin == cout else SparseSequential(subm(cin, cout, 1, key + "_1x1"), nn.BatchNorm1d(cout))

    def forward(self, x: SparseConvTensor) -> SparseConvTensor:
        out = self.conv1(x)
        out = out.replace_feature(torch.relu(self.bn1(out.features)))
        out = self.conv2(out)
        out = out.replace_feature(self.bn2(out.features))
        skip = x if self.proj is None else self.proj(x)
        return out.replace_feature(torch.relu(out.features + skip.features))


def _stage(cin: int, cout: int, blocks: int, key: str) -> nn.Sequential:
    return nn.Sequential(*[BasicBlock(cin if i == 0 else cout, cout, key) for i in range(blocks)])


def _bn_relu(conv: nn.Module, c: int) -> SparseSequential:
    return SparseSequential(conv, nn.BatchNorm1d(c), nn.ReLU())


class SparseUNet(nn.Module):
    """MinkUNet layout: stem, 4 stride-2 encoder stages, 4 decoder stages with skip concatenation.

    ``planes`` has 8 widths (4 encoder, 4 decoder), ``blocks`` 8 block counts (all 1 = "14", all 2 = "18").
    """

    def __init__(self, in_channels: int, stem: int, planes: list[int], blocks: list[int], out_channels: int):
        super().__init__()
        if len(planes) != 8 or len(blocks) != 8:
            raise ValueError("backbone.planes and backbone.blocks need 8 entries each")
        self.stem = _bn_relu(subm(in_channels, stem, 5, "stem"), stem)
        enc_in = [stem, planes[0], planes[1], planes[2]]
        self.downs = nn.ModuleList([_bn_relu(down(enc_in[i], enc_in[i], f"d{i + 1}"), enc_in[i]) for i in range(4)])
        self.enc = nn.ModuleList([_stage(enc_in[i], planes[i], blocks[i], f"l{i + 1}") for i in range(4)])
        skips = [planes[2], planes[1], planes[0], stem]
        dec_in = [planes[3], planes[4], planes[5], planes[6]]
        self.ups = nn.ModuleList([_bn_relu(up(dec_in[i], planes[4 + i], f"d{4 - i}"), planes[4 + i]) for i in range(4)])
        self.dec = nn.ModuleList([_stage(planes[4 + i] + skips[i], planes[4 + i], blocks[4 + i], f"l{3 - i}")
                                  for i in range(4)])
        self.head = nn.Linear(planes[7], out_channels)

    def forward(self, x: SparseConvTensor) -> torch.Tensor:
        x = self.stem(x)
        skips = [x]
        for d, e in zip(self.downs, self.enc):
            x = e(d(x))
            skips.append(x)
        skips.pop()  # the coarsest level is the decoder's input, not a skip
        for u, dstage in zip(self.ups, self.dec):
            x = u(x)
            skip = skips.pop()
            x = dstage(x.replace_feature(torch.cat([x.features, skip.features], dim=1)))
        return self.head(x.features)


class PointBackbone(nn.Module):
    """Points (B, N, 3) + point features (B, N, F) -> per-point features (B, N, C)."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.voxel_size = float(cfg["voxel_size"])
        b = cfg["backbone"]
        self.unet = SparseUNet(int(b["in_channels"]), int(b["stem"]), list(b["planes"]), list(b["blocks"]),
                               int(b["out_channels"]))

    def forward(self, points: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        vox = voxelize(points, features, self.voxel_size)
        x = SparseConvTensor(vox.features, vox.coords, vox.spatial_shape, vox.batch_size)
        voxel_feats = self.unet(x)
        b, n, _ = points.shape
        return voxel_feats[vox.point_to_voxel].view(b, n, -1)
