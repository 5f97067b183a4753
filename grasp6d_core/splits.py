"""GraspNet-1Billion's scene splits, defined once: the data engine writes scene ids by them, the loader reads
them, the evaluator reports per split. The real dataset uses the same ids, so roots stay interchangeable."""
from __future__ import annotations

SCENE_SPLITS: dict[str, range] = {"train": range(0, 100), "seen": range(100, 130), "similar": range(130, 160),
                                  "novel": range(160, 190)}
TEST_SCENES = range(100, 190)   # seen + similar + novel, GraspNet's "test" split


def split_of(scene: int) -> str:
    """The split a scene id belongs to ('other' outside GraspNet's 0–189)."""
    return next((name for name, ids in SCENE_SPLITS.items() if scene in ids), "other")
