"""Training loss (docs/model.md): L = Lo + Lgs + La + β(Lr + Lw + Ls) + φ·R.

Lo cross-entropy of objectness; Lgs smooth-L1 graspness on object points; La (Eq. 1)
0.5·(1 − cos(â, a*)) + α·(1 − Σ wᵢ s̃ᵢ / Σ wᵢ) with wᵢ = cos(â, aᵢ) inside the 30° neighbourhood, 0 outside
(GSNet config: cross-entropy over the 300 views instead); Ls/Lr/Lw smooth-L1 of score, (sin 2θ, cos 2θ) and
width (×10, as GSNet scales it) — Lr/Lw only where the label grasp exists.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from grasp6d_core.model.regularizer import physical_regularizer

NEIGHBOURHOOD = math.cos(math.radians(30.0))


def approach_loss(pred: torch.Tensor, target: torch.Tensor, view_dirs: torch.Tensor, view_scores: torch.Tensor,
                  alpha: float) -> torch.Tensor:
    """La per seed (S,): pred/target (S,3) unit, view_dirs (S,V,3) unit, view_scores (S,V) in [0,1]."""
    cos_t = F.cosine_similarity(pred, target, dim=-1)
    cos_v = torch.einsum("sd,svd->sv", pred / pred.norm(dim=-1, keepdim=True).clamp_min(1e-9), view_dirs)
    w = torch.where(cos_v > NEIGHBOURHOOD, cos_v, torch.zeros_like(cos_v))
    neighbourhood = (w * view_scores).sum(-1) / w.sum(-1).clamp_min(1e-9)
    return 0.5 * (1 - cos_t) + alpha * (1 - neighbourhood)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp_min(1.0)


def _sample_slice(end: dict, batch: dict, labels: dict, b: int) -> tuple[dict, dict, dict]:
    """Cloud ``b`` of a batch as a batch of one (template approaches are shared, not per cloud)."""
    one = lambda d: {k: (v[b:b + 1] if k != "template_approaches" else v) for k, v in d.items()}
    return one(end), one({k: batch[k] for k in ("objectness", "graspness", "objects", "poses")}), one(labels)


def total_loss(end: dict, batch: dict, labels: dict, cfg: dict, depths: torch.Tensor,
               measure_r: bool = False) -> tuple[torch.Tensor, dict]:
    """The weighted sum and its terms (floats) for logging, each term computed per cloud and averaged over the
    batch (so a cloud weighs the same whatever its number of object points or valid seeds, and B clouds give
    the mean of their batch-of-one losses). ``batch``: objectness (B,N) long, graspness (B,N), and per cloud
    ``objects``/``poses`` for R; ``labels``: :func:`labels.stack_labels` output. ``measure_r``: report R even
    when φ = 0 (not added to the loss), so a model trained without R can be compared on how physically
    plausible its grasps are."""
    per_cloud = [cloud_terms(*_sample_slice(end, batch, labels, b), cfg, depths, measure_r)
                 for b in range(batch["objectness"].shape[0])]
    terms = {k: torch.stack([t[k] for t in per_cloud]).mean() for k in per_cloud[0]}
    lc = cfg["loss"]
    total = terms["Lo"] + terms["Lgs"] + terms["La"] + float(lc["beta"]) * (terms["Lr"] + terms["Lw"] + terms["Ls"])
    if float(lc["phi"]) > 0 and "R" in terms:
        total = total + float(lc["phi"]) * terms["R"]
    return total, {k: float(v.detach()) for k, v in terms.items()}


def cloud_terms(end: dict, batch: dict, labels: dict, cfg: dict, depths: torch.Tensor,
                measure_r: bool = False) -> dict:
    """The loss terms (tensors) of one cloud (a batch of one)."""
    lc = cfg["loss"]
    terms = {}
    obj_t = batch["objectness"]
    terms["Lo"] = F.cross_entropy(end["objectness"].reshape(-1, 2), obj_t.reshape(-1))
    terms["Lgs"] = _masked_mean(F.smooth_l1_loss(end["graspness"], batch["graspness"], reduction="none"), obj_t == 1)
    valid = labels["valid"]
    if cfg["approach"]["mode"] == "regress":
        la = approach_loss(end["approach"].reshape(-1, 3), labels["approach"].reshape(-1, 3),
                           labels["view_dirs"].flatten(0, 1), labels["view_scores"].flatten(0, 1), float(lc["alpha"]))
    else:
        # GSNet: the template view nearest to the label approach, as a 300-way classification.
        target = torch.einsum("bmd,vd->bmv", labels["approach"], end["template_approaches"]).argmax(-1)
        la = F.cross_entropy(end["view_logits"].flatten(0, 1), target.flatten(), reduction="none")
    terms["La"] = _masked_mean(la, valid.flatten())
    exists = (labels["score"] > 0) & valid[..., None]
    terms["Ls"] = _masked_mean(F.smooth_l1_loss(end["score"], labels["score"], reduction="none"),
                               valid[..., None].expand_as(labels["score"]))
    rot2_t = torch.stack([torch.sin(2 * labels["angle"]), torch.cos(2 * labels["angle"])], -1)
    terms["Lr"] = _masked_mean(F.smooth_l1_loss(end["rot2"], rot2_t, reduction="none").sum(-1), exists)
    terms["Lw"] = _masked_mean(F.smooth_l1_loss(10 * end["width"], 10 * labels["width"], reduction="none"), exists)
    phi = float(lc["phi"])
    if (phi > 0 or measure_r) and cfg["approach"]["mode"] == "regress":
        terms["R"] = regularizer_term(end, batch, labels, depths)
    return terms


def regularizer_term(end: dict, batch: dict, labels: dict, depths: torch.Tensor) -> torch.Tensor:
    """R over the batch: predicted â, and θ̂/ŵ in the label's best depth bin (that bin's depth)."""
    values = []
    for b in range(end["approach"].shape[0]):
        best = labels["score"][b].argmax(-1)                                   # (M,)
        rows = torch.arange(len(best), device=best.device)
        rot2 = end["rot2"][b][rows, best]
        angle = 0.5 * torch.atan2(rot2[:, 0], rot2[:, 1])
        width = end["width"][b][rows, best]
        score = labels["score"][b][rows, best]
        weight = labels["valid"][b].to(score.dtype) * score / score.max().clamp_min(1e-9)
        values.append(physical_regularizer(end["seed_xyz"][b], end["approach"][b], angle, width, depths[best],
                                           weight, labels["obj"][b].cpu().numpy(),
                                           [o.sdf for o in batch["objects"][b]], batch["poses"][b]))
    return torch.stack(values).mean()
