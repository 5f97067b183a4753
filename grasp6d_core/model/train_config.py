"""TrainConfig: every setting of a training run (``grasp6d train`` maps its flags onto it one to one).

A library caller builds one directly — ``train(TrainConfig(data="ROOT", out="runs/x", steps=100))`` — and gets
the command's defaults for everything else. Values are checked when the config is made, so a bad one fails
before any data is read, with a :class:`ConfigError` whose message starts with the field's name.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from grasp6d_core.checks import require_at_least, require_one_of
from grasp6d_core.errors import ConfigError
from grasp6d_core.splits import parse_range

CAMERAS = ("realsense", "kinect")
DEVICES = ("cpu", "cuda")


def scene_ids(value: str | Sequence[int], field: str) -> list[int]:
    """A scene selection ('0-99', '0,3,5-7', '' = none, or a sequence of ids) as sorted ids."""
    if isinstance(value, str):
        try:
            return parse_range(value) if value.strip() else []
        except ValueError as error:
            raise ConfigError(f"{field}: {error}") from None
    ids = sorted({int(v) for v in value})
    if any(v < 0 for v in ids):
        raise ConfigError(f"{field}: scene ids must be >= 0, got {ids}")
    return ids


def scenes_text(value: str | Sequence[int]) -> str:
    """How a scene selection reads in a message (the text a user gave, or the ids)."""
    return value if isinstance(value, str) else ",".join(str(v) for v in value)


def default_threads(processes_here: int = 1) -> int:
    """Torch threads of a training process by default: the cores it may run on (its affinity mask, e.g. a
    container's share), split over ``processes_here`` training processes; >= 1. Loader workers get no core of
    their own: with the cache they mostly wait, and on an idle 2-core machine 2 threads + 1 worker trained 1.3x
    as fast as 1 thread + 1 worker (docs/model.md, "Training speed")."""
    import os
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, processes_here))


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``data`` is a GraspNet-format root or several (one per generator seed: their scene ids
    overlap, so they stay separate roots; the scene selections apply to each), ``out`` the run folder
    (checkpoints, log.jsonl, TensorBoard events). Scene selections are text ('0-99', '' = none) or a sequence
    of ids."""
    data: str | Path | Sequence[str | Path]
    out: str | Path
    config: str | Path = "cpu"                       # model config name (cpu|paper|baseline|gsnet) or YAML path
    camera: str = "realsense"                        # realsense | kinect
    train_scenes: str | Sequence[int] = "0-99"       # missing scenes are skipped
    val_scenes: str | Sequence[int] = "100-101"      # '' = no validation
    steps: int | None = None                         # optimiser steps; None = from epochs, else 1000 (prior: 2000)
    epochs: float | None = None                      # passes over the training images (exclusive with steps)
    batch_size: int = 1                              # clouds per optimiser step over all processes
    micro_batch: int | None = None                   # clouds per forward; None = the whole per-process batch
    workers: int = 1                                 # DataLoader worker processes (0 = load in the loop)
    prefetch: int = 2                                # batches each worker loads ahead
    cache_dir: str | Path | None = None              # None = DATA/.grasp6d_cache
    cache: bool = True                               # False: preprocess every image from its PNGs each time
    augment: bool = True                             # the loader's augmentation (rotation, point dropout)
    fused_repeats: int = 0                           # fused (TSDF of all views) samples each training scene adds
    lr: float = 1e-3                                 # Adam learning rate (also set on resume)
    num_points: int | None = None                    # points per cloud; None = the model config's
    device: str = "cpu"                              # cpu | cuda
    threads: int | None = None                       # torch CPU threads per process; None = torch_threads()
    seed: int = 0
    val_every: int = 200                             # steps between validations
    val_images: int = 8                              # validation images per validation
    ckpt_every: int = 200                            # steps between checkpoints (OUT/last.pt)
    resume: bool = False                             # continue from OUT/last.pt (same model config required)
    init: str | Path | None = None                   # start from these weights (same model config), at step 0
    prior_images: int = 120                          # prior stage: training images whose examples are cached
    max_minutes: float | None = None                 # stop (and save) after this wall time

    def __post_init__(self) -> None:
        roots = [self.data] if isinstance(self.data, (str, Path)) else list(self.data)
        if not roots or any(not str(r).strip() for r in roots):
            raise ConfigError("data: a folder is required")
        if len({Path(r).resolve() for r in roots}) != len(roots):
            raise ConfigError(f"data: a root is given twice in {[str(r) for r in roots]}")
        # one root stays a Path (as before); several are a tuple of Paths
        object.__setattr__(self, "data", Path(roots[0]) if len(roots) == 1 else tuple(Path(r) for r in roots))
        if not str(self.out).strip():
            raise ConfigError("out: a folder is required")
        object.__setattr__(self, "out", Path(self.out))
        if self.init is not None:
            object.__setattr__(self, "init", Path(self.init))
            if self.resume:
                raise ConfigError("init and resume exclude each other: --init starts a run from weights, "
                                  "--resume continues one from OUT/last.pt")
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        require_one_of(self, "camera", CAMERAS)
        require_one_of(self, "device", DEVICES)
        if self.steps is not None and self.epochs is not None:
            raise ConfigError(f"steps ({self.steps}) and epochs ({self.epochs}) exclude each other: give one")
        if self.epochs is not None and not (math.isfinite(self.epochs) and self.epochs > 0):
            raise ConfigError(f"epochs must be a finite number > 0, got {self.epochs}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a finite number > 0, got {self.lr}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigError(f"max_minutes must be > 0 (or None), got {self.max_minutes}")
        require_at_least(self, {"steps": 1, "batch_size": 1, "micro_batch": 1, "num_points": 1, "workers": 0,
                                "prefetch": 1, "threads": 1, "val_every": 1, "val_images": 1, "ckpt_every": 1,
                                "prior_images": 1, "fused_repeats": 0})
        self.train_ids()   # a malformed selection fails here, before any work
        self.val_ids()

    def replace(self, **changes) -> "TrainConfig":
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    def train_ids(self) -> list[int]:
        return scene_ids(self.train_scenes, "train_scenes")

    def val_ids(self) -> list[int]:
        return scene_ids(self.val_scenes, "val_scenes")

    def torch_threads(self, processes_here: int = 1) -> int:
        """``threads``, or by default the cores each of ``processes_here`` training processes may use. On a
        machine that other jobs load, fewer threads than cores can be much faster (a descheduled thread stalls
        every parallel op): ``--threads 1`` then."""
        if self.threads is not None:
            return self.threads
        return default_threads(processes_here)

    def roots(self) -> list[Path]:
        """The data roots, in the order given."""
        return [self.data] if isinstance(self.data, Path) else list(self.data)

    def cache_folder(self, root: Path) -> Path | None:
        """Where ``root``'s preprocessed images are kept (None = no cache). A shared ``cache_dir`` is safe for
        several roots: the cache's folder key hashes each root's generator recipe and dataset seed."""
        return (self.cache_dir or Path(root) / ".grasp6d_cache") if self.cache else None
