"""What a hand and an arm can physically do with a grasp: the checks every grasp passes before any motion.

A grasp with a negative, zero or NaN width, a depth past the fingers, or a position out of the arm's reach is
not a motion to try: it is refused with a message that names the field and the limit. The limits come from
a hand description (:meth:`GraspLimits.for_hand`) or from the executor's parameters (``open_width``,
``max_grasp_depth``, ``max_reach``), whose defaults are the ``panda`` hand preset's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grasp6d_core.hand import PANDA, HandDescription

# Franka Panda arm: 0.855 m from the base axis to the flange; the hand adds its flange -> fingertip distance
# (0.96 m: a reach limit is no finer than a centimetre).
PANDA_ARM_REACH = 0.855
PANDA_MAX_REACH = round(PANDA_ARM_REACH + PANDA.tcp_offset, 2)


@dataclass(frozen=True)
class GraspLimits:
    """Distances in metres, in the robot base frame."""

    max_width: float                 # the hand's full opening; widths must lie in (0, max_width]
    max_depth: float                 # how far the fingertips can reach past the grasp point (finger length)
    max_reach: float = PANDA_MAX_REACH  # grasp positions farther from the base origin cannot be reached
    min_depth: float = 0.0           # fingertips short of the grasp point hold nothing

    def __post_init__(self) -> None:
        values = {"max_width": self.max_width, "max_depth": self.max_depth, "max_reach": self.max_reach,
                  "min_depth": self.min_depth}
        bad = [f"{name}={value}" for name, value in values.items() if not np.isfinite(value)]
        if bad or self.max_width <= 0 or self.max_reach <= 0 or not 0 <= self.min_depth <= self.max_depth:
            raise ValueError(f"grasp limits must be finite with max_width > 0, max_reach > 0 and "
                             f"0 <= min_depth <= max_depth, got {values}")

    @classmethod
    def for_hand(cls, hand: HandDescription, max_reach: float = PANDA_MAX_REACH) -> "GraspLimits":
        """The widest and deepest grasp ``hand`` takes (its opening and finger reach), within ``max_reach``."""
        return cls(max_width=hand.max_opening, max_depth=hand.finger_depth_max, max_reach=max_reach,
                   min_depth=hand.finger_depth_min)


def grasp_limit_violations(widths: np.ndarray, depths: np.ndarray, positions: np.ndarray,
                           limits: GraspLimits) -> list[str | None]:
    """Per grasp: None when the hand and arm can take it, else why not (field, value, limit).

    ``widths`` and ``depths`` are the values as requested (a GraspGroup clamps widths to GraspNet's 0.10 m, which
    would hide a 1 m request), ``positions`` (N, 3) are in the base frame. Every comparison fails on NaN.
    """
    widths, depths = np.asarray(widths, dtype=np.float64), np.asarray(depths, dtype=np.float64)
    distances = np.linalg.norm(np.asarray(positions, dtype=np.float64).reshape(-1, 3), axis=1)
    if not len(widths) == len(depths) == len(distances):
        raise ValueError(f"{len(widths)} widths, {len(depths)} depths and {len(distances)} positions differ in number")
    reasons: list[str | None] = []
    for width, depth, distance in zip(widths, depths, distances):
        if not 0.0 < width <= limits.max_width:
            reasons.append(f"width={width:.4g} m is outside (0, {limits.max_width:g}] m (the hand's maximum opening)")
        elif not limits.min_depth <= depth <= limits.max_depth:
            reasons.append(f"depth={depth:.4g} m is outside [{limits.min_depth:g}, {limits.max_depth:g}] m "
                           f"(how far the fingers reach past the grasp point)")
        elif not distance <= limits.max_reach:
            reasons.append(f"position is {distance:.4g} m from the base origin, beyond max_reach="
                           f"{limits.max_reach:g} m")
        else:
            reasons.append(None)
    return reasons
