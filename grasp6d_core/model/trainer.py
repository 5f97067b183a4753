"""One training/validation step of the grasp network on samples of :class:`grasp6d_core.data.loader.GraspNetDataset`.

Seeds during training come from the labels (objectness = 1 and graspness > threshold, FPS), not from the
untrained heads — teacher forcing, so the operation head sees object seeds from step 0 — and the cylinders
are oriented by the label approach a* (GSNet does the same); inference uses the predicted ones.
"""
from __future__ import annotations

import numpy as np
import torch

from grasp6d_core.data.training_labels import assign_seed_labels, stack_labels
from grasp6d_core.model.losses import total_loss
from grasp6d_core.model.network import farthest_point_indices


def collate(samples: list[dict], device: str | torch.device = "cpu") -> dict:
    t = lambda key, dtype: torch.as_tensor(np.stack([s[key] for s in samples]), dtype=dtype, device=device)
    return {"points": t("points", torch.float32), "normals": t("normals", torch.float32),
            "objectness": t("objectness", torch.long), "graspness": t("graspness", torch.float32),
            "point_obj": [s["point_obj"] for s in samples], "objects": [s["objects"] for s in samples],
            "poses": [s["poses"] for s in samples]}


def label_seeds(batch: dict, num: int, threshold: float, rng: np.random.Generator) -> torch.Tensor:
    out = []
    for b in range(len(batch["objects"])):
        obj = batch["objectness"][b].cpu().numpy() == 1
        cand = np.flatnonzero(obj & (batch["graspness"][b].cpu().numpy() > threshold))
        if len(cand) == 0:
            cand = np.flatnonzero(obj) if obj.any() else np.arange(len(obj))
        pts = batch["points"][b].cpu().numpy()[cand]
        out.append(cand[farthest_point_indices(pts, num, rng)])
    return torch.as_tensor(np.stack(out), device=batch["points"].device)


def forward_and_loss(model: torch.nn.Module, batch: dict, rng: np.random.Generator,
                     measure_r: bool = False) -> tuple[torch.Tensor, dict, dict]:
    """``model``: a GraspNet6D or its DistributedDataParallel wrapper (the forward goes through the wrapper so
    gradients are all-reduced; settings are read from the network)."""
    net = getattr(model, "module", model)
    cfg = net.cfg
    seed_idx = label_seeds(batch, net.num_seeds, net.threshold, rng)
    views = net.views.cpu().numpy()
    found = {}

    def label_approach(idx: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        per_cloud = []
        for b in range(idx.shape[0]):
            i = idx[b].cpu().numpy()
            per_cloud.append(assign_seed_labels(batch["points"][b].cpu().numpy()[i], batch["point_obj"][b][i],
                                                batch["objects"][b], batch["poses"][b], views))
        found["labels"] = stack_labels(per_cloud, device=predicted.device)
        valid = found["labels"]["valid"][..., None]
        return torch.where(valid, found["labels"]["approach"], predicted)

    end = model(batch["points"], batch["normals"], seed_idx=seed_idx, grouping_approach=label_approach)
    loss, terms = total_loss(end, batch, found["labels"], cfg, net.depths, measure_r)
    terms["valid_seeds"] = float(found["labels"]["valid"].float().mean())
    return loss, terms, end


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, shards: list[dict] | dict,
               rng: np.random.Generator, scaler: "torch.amp.GradScaler | None" = None) -> dict:
    """One optimiser step over ``shards`` (micro-batches, each one forward; batch-norm statistics are per
    forward): gradients of the mean shard loss are accumulated, clipped to norm 10, applied. A
    DistributedDataParallel ``model`` all-reduces only after the last shard. ``scaler`` (CUDA mixed
    precision) runs the forwards under float16 autocast."""
    from contextlib import nullcontext
    shards = [shards] if isinstance(shards, dict) else shards
    model.train()
    optimizer.zero_grad(set_to_none=True)
    sums: dict = {}
    for k, batch in enumerate(shards):
        sync = nullcontext() if k == len(shards) - 1 or not hasattr(model, "no_sync") else model.no_sync()
        cast = torch.autocast("cuda", dtype=torch.float16) if scaler is not None else nullcontext()
        with sync, cast:
            loss, terms, _ = forward_and_loss(model, batch, rng)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss {terms}")
            scaled = loss / len(shards)
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
        terms["loss"] = float(loss.detach())
        for key, v in terms.items():
            sums[key] = sums.get(key, 0.0) + v / len(shards)
    if scaler is not None:
        scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return sums


@torch.no_grad()
def validation_terms(model: torch.nn.Module, batches: list[dict], rng: np.random.Generator) -> dict:
    """Mean loss terms over validation batches (eval-mode BN; R needs autograd, so it is computed with grad).
    R is reported for every regressing config, also when it is not trained with it (φ = 0)."""
    model.eval()
    sums: dict = {}
    for batch in batches:
        with torch.enable_grad():
            loss, terms, _ = forward_and_loss(model, batch, rng, measure_r=True)
        terms["loss"] = float(loss)
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v
    return {k: v / max(len(batches), 1) for k, v in sums.items()}
