"""Grasp detection speed on 2 CPU threads: backbone / heads / collision+NMS / total for 20 000 points,
backbone GFLOP (counted from spconv's indice pairs) and achieved GFLOP/s, and one training step."""
from __future__ import annotations

import argparse

HELP = "GraspDetector speed: backbone_ms, heads_ms, collision_nms_ms, total_ms, gflop, train_step_ms"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="cpu", help="model config (cpu|paper|baseline|gsnet)")
    parser.add_argument("--checkpoint", default=None, help="use trained weights (default: shipped ones for cpu, "
                        "random init otherwise; speed does not depend on the weights except collision/NMS counts)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--points", type=int, default=20000)
    parser.add_argument("--no-train-step", action="store_true", help="skip the training-step timing")


def run(args: argparse.Namespace) -> dict:
    import time

    import numpy as np
    import torch

    from grasp6d_core.model.bench_scene import render_scene
    from grasp6d_core.model.checkpoint import shipped_checkpoint
    from grasp6d_core.model.detector import GraspDetector
    from grasp6d_core.model.flops import backbone_flops

    torch.set_num_threads(args.threads)
    shipped = shipped_checkpoint()
    ckpt = args.checkpoint or (str(shipped) if args.config == "cpu" and shipped.is_file() else None)
    det = GraspDetector.from_checkpoint(ckpt) if ckpt else GraspDetector.from_config(args.config)
    det.num_points = args.points
    scene = render_scene(seed=0, num_points=args.points)
    pts = scene["points"]
    from grasp6d_core.model.normals import estimate_normals
    normals = estimate_normals(pts)
    det.detect(pts, normals)  # warm-up (allocations, spconv tuning)
    runs = []
    for _ in range(args.repeats):
        det.detect(pts, normals)
        runs.append(dict(det.last_timing))
    med = {k: float(np.median([r[k] for r in runs])) for k in ("backbone_ms", "heads_ms", "collision_nms_ms", "total_ms")}
    p = torch.as_tensor(pts)[None]
    n = torch.as_tensor(normals)[None]
    fl = backbone_flops(det.model.backbone, p, det.model.point_features(n))
    t0 = time.perf_counter()
    g = det.detect(pts)
    normals_ms = 1e3 * (time.perf_counter() - t0) - det.last_timing["total_ms"] + det.last_timing["prepare_ms"]
    result = {"config": det.cfg["name"], "weights": ckpt or "random init", "threads": args.threads, "points": args.points,
              **{k: round(v, 1) for k, v in med.items()}, "normals_estimation_ms": round(det.last_timing["prepare_ms"], 1),
              "grasps_returned": len(g), "gflop": round(fl["gflop"], 2), "voxels": fl["voxels"],
              "gflops_achieved": round(fl["gflop"] / (med["backbone_ms"] / 1e3), 1),
              "flop_method": "sparse-conv MACs from spconv indice_pair_num x Cin x Cout (x2), + BN"}
    del normals_ms
    if not args.no_train_step:
        result["train_step_ms"] = round(_train_step_ms(det.cfg, scene, args.points), 1)
    return result


def _train_step_ms(cfg: dict, scene: dict, num_points: int) -> float:
    """Median of 3 optimiser steps (forward with labels, losses incl. R, backward) on the benchmark scene with
    random labels of the real label shape (Np=256, 300×12×4) — speed only."""
    import time

    import numpy as np
    import torch

    from grasp6d_core.model.bench_scene import labelled_sample
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.trainer import collate, train_step

    rng = np.random.default_rng(0)
    batch = collate([labelled_sample(scene, rng)])
    model = GraspNet6D(cfg)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    train_step(model, opt, batch, rng)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        train_step(model, opt, batch, rng)
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))
