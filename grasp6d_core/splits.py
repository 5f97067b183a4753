"""GraspNet-1Billion's scene splits, defined once: the data engine writes scene ids by them, the loader reads
them, the evaluator reports per split. The real dataset uses the same ids, so roots stay interchangeable.
:func:`parse_range` reads the id selections every command and setting takes ('0-99', '0,3,5-7', '0-255:8')."""
from __future__ import annotations

SCENE_SPLITS: dict[str, range] = {"train": range(0, 100), "seen": range(100, 130), "similar": range(130, 160),
                                  "novel": range(160, 190)}
TEST_SCENES = range(100, 190)   # seen + similar + novel, GraspNet's "test" split


def split_of(scene: int) -> str:
    """The split a scene id belongs to ('other' outside GraspNet's 0–189)."""
    return next((name for name, ids in SCENE_SPLITS.items() if scene in ids), "other")


def parse_range(text: str) -> list[int]:
    """'160-162', '0,3,5-7' or, with a step, '0-255:8' (every 8th id from 0 to 255) -> sorted ids."""
    ids: set[int] = set()
    try:
        for part in str(text).split(","):
            span, _, step_text = part.partition(":")
            step = int(step_text) if step_text else 1
            if step < 1:
                raise ValueError
            if "-" in span:
                lo, hi = (int(v) for v in span.split("-"))
                ids.update(range(lo, hi + 1, step))
            elif step_text:  # a step on a single id means nothing: refuse rather than guess
                raise ValueError
            elif span.strip():
                ids.add(int(span))
    except ValueError:
        raise ValueError(f"bad id range {text!r}: use e.g. '160-162', '0,3,5-7' or '0-255:8' "
                         f"(every 8th id, step >= 1)") from None
    return sorted(ids)
