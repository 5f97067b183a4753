"""Training throughput: the training path (cached preprocessing, B clouds per step in one sparse tensor,
DataLoader workers, the trainer's default torch threads) against the batch-1 uncached path (every image decoded
and preprocessed from its PNGs, one cloud per step, one loader worker as the old trainer's prefetch thread,
the old trainer's 2 torch threads), on the same images, in the same run, alternating rounds so a change of
machine load hits every path. The baseline is timed a second time with the new path's thread count, so the
gain of the thread default and that of the rest are reported apart."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from grasp6d_core.checks import require_at_least, require_one_of
from grasp6d_core.model.train_config import CAMERAS

HELP = "training throughput: samples_per_s (cached, batched) vs baseline_samples_per_s (batch 1, uncached)"


@dataclass(frozen=True)
class TrainBenchmark:
    data: str | None = None      # GraspNet-format root; None = a small synthetic root made once (default_root)
    camera: str = "realsense"
    scenes: str = "0-99"         # training scene ids to draw images from
    config: str = "cpu"          # model config (its num_points is used)
    batch_size: int = 4          # clouds per step on the new path
    workers: int = 1             # loader workers on the new path
    threads: int | None = None   # torch threads of the new path; None = the trainer's default for `workers`
    baseline_threads: int = 2    # torch threads of the baseline: the old trainer's default
    samples: int = 8             # clouds timed per path and round
    rounds: int = 2              # alternating rounds of each path

    def __post_init__(self) -> None:
        require_one_of(self, "camera", CAMERAS)
        require_at_least(self, {"batch_size": 1, "workers": 0, "threads": 1, "baseline_threads": 1, "samples": 1,
                                "rounds": 1})


SETTINGS = TrainBenchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainBenchmark
    parser.add_argument("--data", default=d.data, help="GraspNet-format root (default: a small synthetic root made "
                        "once in ~/.cache/grasp6d/bench-train-root)")
    parser.add_argument("--camera", default=d.camera, choices=CAMERAS)
    parser.add_argument("--scenes", default=d.scenes, help="training scene ids to draw images from")
    parser.add_argument("--config", default=d.config, help="model config (its num_points is used)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="clouds per step on the new path")
    parser.add_argument("--workers", type=int, default=d.workers, help="loader workers on the new path")
    parser.add_argument("--threads", type=int, default=d.threads,
                        help="torch threads of the new path (default: the trainer's, all cores)")
    parser.add_argument("--baseline-threads", type=int, default=d.baseline_threads,
                        help="torch threads of the baseline (the old trainer's default)")
    parser.add_argument("--samples", type=int, default=d.samples, help="clouds timed per path and round")
    parser.add_argument("--rounds", type=int, default=d.rounds, help="alternating rounds of each path")


def default_root():
    """A small synthetic root (2 scenes × 4 views, 3-4 objects), made once by ``grasp6d synth``."""
    from pathlib import Path
    from grasp6d_core.cli import main
    root = Path.home() / ".cache" / "grasp6d" / "bench-train-root"
    if main(["synth", "--out", str(root), "--split", "train", "--scenes", "2", "--views", "4", "--seed", "11",
             "--objects", "3-4", "--label-points", "256", "--no-text-sdf", "--quiet"]) != 0:
        raise RuntimeError(f"could not make the benchmark root {root}")
    return root


def _timed(model, optimizer, dataset, batch: int, workers: int, threads: int, samples: int, rng) -> float:
    """Seconds per cloud for ``samples`` clouds on ``threads`` torch threads (after one untimed warm-up batch
    that starts the workers)."""
    import time

    import torch

    from grasp6d_core.model.train_loop import batch_loader
    from grasp6d_core.model.trainer import collate, train_step
    torch.set_num_threads(threads)
    steps = max(1, samples // batch)
    order = [i % len(dataset) for i in range((steps + 1) * batch)]
    loader = iter(batch_loader(dataset, batch, order, workers))
    step = lambda light: train_step(model, optimizer, collate([dataset.attach_objects(s) for s in light]), rng)
    step(next(loader))
    t0 = time.perf_counter()
    for light in loader:
        step(light)
    return (time.perf_counter() - t0) / (steps * batch)


def run(settings: TrainBenchmark) -> dict:
    import os
    import resource
    import tempfile
    import time
    from pathlib import Path

    import numpy as np
    import torch

    from grasp6d_core.data.loader import GraspNetDataset
    from grasp6d_core.model.config import load_config
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.train_config import default_threads, scene_ids
    from grasp6d_core.model.train_loop import existing_scenes

    threads = settings.threads or default_threads()
    torch.manual_seed(0)
    root = Path(settings.data) if settings.data else default_root()
    cfg = load_config(settings.config)
    num_points = int(cfg["num_points"])
    ids = existing_scenes(root, scene_ids(settings.scenes, "scenes"), settings.camera)
    if not ids:
        raise FileNotFoundError(f"data {root}: none of scenes {settings.scenes} exist for camera {settings.camera}")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="grasp6d-bench-cache-") as cache_dir:
        uncached = GraspNetDataset(root, settings.camera, scenes=ids, num_points=num_points, augment=True)
        cached = GraspNetDataset(root, settings.camera, scenes=ids, num_points=num_points, augment=True, cache=cache_dir)
        images = min(len(cached), settings.samples)
        t0 = time.perf_counter()
        for i in range(images):
            cached.light_item(i)
        cache_build_s = (time.perf_counter() - t0) / images
        model = GraspNet6D(cfg)
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)
        rng = np.random.default_rng(0)
        for ds in (cached, uncached):  # the same images on all paths
            ds.items = ds.items[:images]
        paths = {"baseline": (uncached, 1, 1, settings.baseline_threads),
                 "new": (cached, settings.batch_size, settings.workers, threads)}
        if threads != settings.baseline_threads:
            paths["baseline_same_threads"] = (uncached, 1, 1, threads)
        rates: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(settings.rounds):
            for name, (ds, batch, workers, n) in paths.items():
                rates[name].append(1.0 / _timed(model, optimizer, ds, batch, workers, n, settings.samples, rng))
    # A path's rate over the rounds: the inverse of its mean time per cloud.
    rate = {name: 1.0 / float(np.mean([1.0 / r for r in values])) for name, values in rates.items()}
    same = rate.get("baseline_same_threads", rate["baseline"])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figure = lambda x: float(f"{x:.4g}")   # significant digits: a slow path's rate is far below 1
    return {"samples_per_s": figure(rate["new"]), "baseline_samples_per_s": figure(rate["baseline"]),
            "speedup": round(rate["new"] / rate["baseline"], 2),
            "baseline_same_threads_samples_per_s": figure(same),
            "speedup_same_threads": round(rate["new"] / same, 2),
            "per_round": {name: [figure(r) for r in values] for name, values in rates.items()},
            "peak_rss_mb": round(rss / 1024, 1), "cache_build_s_per_image": round(cache_build_s, 2),
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "settings": {"config": cfg["name"], "num_points": num_points, "batch_size": settings.batch_size,
                         "workers": settings.workers, "threads": threads,
                         "baseline_threads": settings.baseline_threads, "images": images,
                         "samples_per_round": settings.samples, "rounds": settings.rounds, "augment": True,
                         "baseline": "batch 1, uncached, 1 loader worker", "root": str(root)}}
