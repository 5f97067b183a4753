"""Backbone FLOPs counted from spconv's own indice pairs (exact for the cloud at hand, not an estimate).

A sparse conv does one Cin×Cout multiply-accumulate per (input voxel, output voxel, kernel offset) pair; spconv
stores the pair counts per offset (``indice_pair_num``) in the tensor's ``indice_dict`` under the layer's key.
Inverse convs reuse their down conv's pairs. BatchNorm/ReLU/the final linear are added as per-voxel costs.
FLOP = 2 × MAC.
"""
from __future__ import annotations

import torch
from torch import nn

from grasp6d_core.model.spconv_shim import spconv


def conv_pairs(module: nn.Module, output) -> int:
    """(input, output, offset) pairs one sparse conv multiplied. Submanifold convs: spconv computes the centre
    offset as one matmul over all active voxels and, on CPU, stores only the first half of the symmetric
    offsets (the second half mirrors it); a 1×1×1 one keeps no pairs at all (a plain matmul)."""
    active = output.features.shape[0]
    if not isinstance(module, spconv.SubMConv3d):
        return int(output.indice_dict[module.indice_key].indice_pair_num.sum())
    if int(torch.tensor(module.kernel_size).prod()) == 1:
        return active
    counts = output.indice_dict[module.indice_key].indice_pair_num.flatten()
    centre = len(counts) // 2
    if int(counts[centre + 1:].sum()) == 0:            # half stored: mirror it
        return 2 * int(counts[:centre].sum()) + active
    return int(counts.sum()) + (active if int(counts[centre]) == 0 else 0)


def backbone_flops(backbone: nn.Module, points: torch.Tensor, features: torch.Tensor) -> dict:
    """Run ``backbone`` once (no grad) and return {'gflop', 'voxels', 'conv_gmac'}."""
    convs = (spconv.SubMConv3d, spconv.SparseConv3d, spconv.SparseInverseConv3d)
    macs = [0]
    other = [0]
    voxels = [0]

    def conv_hook(module, inputs, output):
        macs[0] += conv_pairs(module, output) * module.in_channels * module.out_channels

    def bn_hook(module, inputs, output):
        other[0] += 2 * output.numel()  # scale+shift (ReLU is folded into the same pass here)

    def head_hook(module, inputs, output):
        voxels[0] = inputs[0].shape[0]
        macs[0] += inputs[0].shape[0] * module.in_features * module.out_features

    hooks = [m.register_forward_hook(conv_hook) for m in backbone.modules() if isinstance(m, convs)]
    hooks += [m.register_forward_hook(bn_hook) for m in backbone.modules() if isinstance(m, nn.BatchNorm1d)]
    head = getattr(getattr(backbone, "unet", backbone), "head", None)
    if head is not None:
        hooks.append(head.register_forward_hook(head_hook))
    try:
        with torch.no_grad():
            backbone(points, features)
    finally:
        for h in hooks:
            h.remove()
    return {"gflop": (2 * macs[0] + other[0]) / 1e9, "conv_gmac": macs[0] / 1e9, "voxels": voxels[0]}
