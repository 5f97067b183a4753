"""Several GraspNet-format roots read as one training set (``grasp6d train --data ROOT ROOT ...``).

Data generated with several seeds lives in one root per seed, and their scene ids overlap (each seed's scenes
start at 0), so roots cannot simply be merged into one folder. This dataset concatenates one
:class:`~grasp6d_core.data.loader.GraspNetDataset` per root and remembers, in every light sample, which root it
came from, so the (large, per-root) object labels are attached from the right root.

Root ``k`` uses the dataset seed ``seed + ROOT_SEED_STRIDE * k``: with one seed for all roots, image (scene s,
view a) of every root would draw the same point sample and the same augmentation. Root 0 keeps ``seed``, so a
single root reads exactly as before.
"""
from __future__ import annotations

import bisect
from pathlib import Path
from typing import Callable, Sequence

from grasp6d_core.data.loader import GraspNetDataset

ROOT_SEED_STRIDE = 7919


class MultiRootDataset:
    """Datasets of several roots, one after the other. ``make(root, seed)`` builds one root's dataset (its
    errors, e.g. a root without the scenes, reach the caller)."""

    def __init__(self, roots: Sequence[str | Path], seed: int, make: Callable[[Path, int], GraspNetDataset]):
        if not roots:
            raise FileNotFoundError("no data roots given")
        self.parts = [make(Path(root), int(seed) + ROOT_SEED_STRIDE * k) for k, root in enumerate(roots)]
        self.starts = [0]
        for part in self.parts:
            self.starts.append(self.starts[-1] + len(part))

    def __len__(self) -> int:
        return self.starts[-1]

    def _locate(self, i: int) -> tuple[int, int]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} images")
        k = bisect.bisect_right(self.starts, i) - 1
        return k, i - self.starts[k]

    def set_epoch(self, epoch: int) -> None:
        for part in self.parts:
            part.set_epoch(epoch)

    def light_item(self, i: int) -> dict:
        k, j = self._locate(i)
        sample = self.parts[k].light_item(j)
        sample["root_index"] = k
        return sample

    def attach_objects(self, sample: dict) -> dict:
        return self.parts[int(sample.get("root_index", 0))].attach_objects(sample)

    def __getitem__(self, i: int) -> dict:
        k, j = self._locate(i)
        sample = self.parts[k][j]
        sample["root_index"] = k
        return sample
