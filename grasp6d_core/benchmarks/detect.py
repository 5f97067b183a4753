"""Grasp detection speed on 2 CPU threads: backbone / heads / collision+NMS / total for 20 000 points,
backbone GFLOP (counted from spconv's indice pairs) and achieved GFLOP/s, and one training step."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from grasp6d_core.checks import require_at_least
from grasp6d_core.consensus import DEFAULT_SCORING, SCORINGS
from grasp6d_core.model.precision import PRECISIONS, check_precision

HELP = "GraspDetector speed: backbone_ms, heads_ms, collision_nms_ms, total_ms, gflop, train_step_ms"


@dataclass(frozen=True)
class DetectBenchmark:
    config: str = "cpu"              # model config (cpu|paper|baseline|gsnet)
    checkpoint: str | None = None    # trained weights; None: the shipped ones for cpu, random init otherwise
    threads: int = 2
    repeats: int = 5
    points: int = 20000
    train_step: bool = True          # also time one training step
    scoring: str = DEFAULT_SCORING   # network | consensus (its cost shows in collision_nms_ms)
    precision: str = "auto"          # the heads' arithmetic (grasp6d_core.model.precision)

    def __post_init__(self) -> None:
        require_at_least(self, {"threads": 1, "repeats": 1, "points": 1})
        if self.scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {' | '.join(SCORINGS)}, got {self.scoring!r}")
        check_precision(self.precision)


SETTINGS = DetectBenchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DetectBenchmark.config, help="model config (cpu|paper|baseline|gsnet)")
    parser.add_argument("--checkpoint", default=DetectBenchmark.checkpoint, help="use trained weights (default: shipped ones for cpu, "
                        "random init otherwise; speed does not depend on the weights except collision/NMS counts)")
    parser.add_argument("--threads", type=int, default=DetectBenchmark.threads)
    parser.add_argument("--repeats", type=int, default=DetectBenchmark.repeats)
    parser.add_argument("--points", type=int, default=DetectBenchmark.points)
    parser.add_argument("--scoring", default=DetectBenchmark.scoring, choices=SCORINGS,
                        help="rank by the network's score or by seed consensus (its cost is part of collision_nms_ms)")
    parser.add_argument("--precision", default=DetectBenchmark.precision, choices=PRECISIONS,
                        help="the heads' arithmetic; when it resolves to bfloat16, float32 is timed in the same run "
                             "(alternated) for the ratio")
    parser.add_argument("--no-train-step", dest="train_step", action="store_false",
                        help="skip the training-step timing")


def run(settings: DetectBenchmark) -> dict:
    import time

    import numpy as np
    import torch

    from grasp6d_core.model.bench_scene import render_scene
    from grasp6d_core.model.checkpoint import shipped_checkpoint
    from grasp6d_core.model.detector import GraspDetector
    from grasp6d_core.model.flops import backbone_flops

    torch.set_num_threads(settings.threads)
    shipped = shipped_checkpoint()
    ckpt = settings.checkpoint or (str(shipped) if settings.config == "cpu" and shipped.is_file() else None)
    det = GraspDetector.from_checkpoint(ckpt, precision=settings.precision) if ckpt else \
        GraspDetector.from_config(settings.config, precision=settings.precision)
    det.num_points = settings.points
    scene = render_scene(seed=0, num_points=settings.points)
    pts = scene["points"]
    from grasp6d_core.normals import estimate_normals
    normals = estimate_normals(pts)
    # The precision asked for, and float32 as the reference when that is something else; alternated, so a
    # noisy machine slows both alike.
    precisions = list(dict.fromkeys([det.precision, "float32"]))
    runs: dict[str, list[dict]] = {p: [] for p in precisions}
    for precision in precisions:
        det.precision = precision
        det.detect(pts, normals, scoring=settings.scoring)  # warm-up (allocations, spconv tuning)
    for _ in range(settings.repeats):
        for precision in precisions:
            det.precision = precision
            det.detect(pts, normals, scoring=settings.scoring)
            runs[precision].append(dict(det.last_timing))
    det.precision = precisions[0]
    keys = ("backbone_ms", "heads_ms", "collision_nms_ms", "total_ms")
    medians = {p: {k: float(np.median([r[k] for r in rows])) for k in keys} for p, rows in runs.items()}
    med = medians[precisions[0]]
    p = torch.as_tensor(pts)[None]
    n = torch.as_tensor(normals)[None]
    fl = backbone_flops(det.model.backbone, p, det.model.point_features(n))
    t0 = time.perf_counter()
    g = det.detect(pts, scoring=settings.scoring)
    normals_ms = 1e3 * (time.perf_counter() - t0) - det.last_timing["total_ms"] + det.last_timing["prepare_ms"]
    result = {"config": det.cfg["name"], "weights": ckpt or "random init", "threads": settings.threads, "points": settings.points,
              "scoring": settings.scoring, "precision": precisions[0],
              **{k: round(v, 1) for k, v in med.items()}, "normals_estimation_ms": round(det.last_timing["prepare_ms"], 1),
              "grasps_returned": len(g), "gflop": round(fl["gflop"], 2), "voxels": fl["voxels"],
              "gflops_achieved": round(fl["gflop"] / (med["backbone_ms"] / 1e3), 1),
              "flop_method": "sparse-conv MACs from spconv indice_pair_num x Cin x Cout (x2), + BN"}
    del normals_ms
    if len(precisions) > 1:
        reference = medians["float32"]
        result.update({f"float32_{k}": round(v, 1) for k, v in reference.items()},
                      speedup_vs_float32=round(reference["total_ms"] / med["total_ms"], 2),
                      heads_speedup_vs_float32=round(reference["heads_ms"] / med["heads_ms"], 2))
    if settings.train_step:
        result["train_step_ms"] = round(_train_step_ms(det.cfg, scene, settings.points), 1)
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
