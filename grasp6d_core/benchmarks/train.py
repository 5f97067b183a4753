"""Training throughput: the training path (cached preprocessing, B clouds per step in one sparse tensor,
DataLoader workers) against the batch-1 uncached path (every image decoded and preprocessed from its PNGs,
one cloud per step, one loader worker as the old trainer's prefetch thread), on the same images, in the
same run, alternating rounds so a change of machine load hits both."""
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
    threads: int = 2             # torch threads of the training process
    samples: int = 8             # clouds timed per path and round
    rounds: int = 2              # alternating rounds of each path

    def __post_init__(self) -> None:
        require_one_of(self, "camera", CAMERAS)
        require_at_least(self, {"batch_size": 1, "workers": 0, "threads": 1, "samples": 1, "rounds": 1})


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
    parser.add_argument("--threads", type=int, default=d.threads, help="torch threads of the training process")
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


def _timed(model, optimizer, dataset, batch: int, workers: int, samples: int, rng) -> float:
    """Seconds for ``samples`` clouds (after one untimed warm-up batch that starts the workers)."""
    import time
    from grasp6d_core.model.train_loop import batch_loader
    from grasp6d_core.model.trainer import collate, train_step
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
    import resource
    import tempfile
    import time
    from pathlib import Path

    import numpy as np
    import torch

    from grasp6d_core.data.loader import GraspNetDataset
    from grasp6d_core.model.config import load_config
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.train_config import scene_ids
    from grasp6d_core.model.train_loop import existing_scenes

    torch.set_num_threads(settings.threads)
    torch.manual_seed(0)
    root = Path(settings.data) if settings.data else default_root()
    cfg = load_config(settings.config)
    num_points = int(cfg["num_points"])
    ids = existing_scenes(root, scene_ids(settings.scenes, "scenes"), settings.camera)
    if not ids:
        raise FileNotFoundError(f"data {root}: none of scenes {settings.scenes} exist for camera {settings.camera}")
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
        for ds in (cached, uncached):  # the same images on both paths
            ds.items = ds.items[:images]
        base, new = [], []
        for _ in range(settings.rounds):
            base.append(_timed(model, optimizer, uncached, 1, 1, settings.samples, rng))
            new.append(_timed(model, optimizer, cached, settings.batch_size, settings.workers, settings.samples, rng))
    base_rate, new_rate = 1.0 / float(np.mean(base)), 1.0 / float(np.mean(new))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"samples_per_s": round(new_rate, 3), "baseline_samples_per_s": round(base_rate, 3),
            "speedup": round(new_rate / base_rate, 2), "peak_rss_mb": round(rss / 1024, 1),
            "cache_build_s_per_image": round(cache_build_s, 2),
            "settings": {"config": cfg["name"], "num_points": num_points, "batch_size": settings.batch_size,
                         "workers": settings.workers, "threads": settings.threads, "images": images,
                         "samples_per_round": settings.samples, "rounds": settings.rounds, "augment": True,
                         "baseline": "batch 1, uncached, 1 loader worker", "root": str(root)}}
