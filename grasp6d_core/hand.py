"""Parallel-jaw hand descriptions: which grasps a given gripper can physically take.

The network predicts grasps for GraspNet's gripper model; a real hand opens less or more, has longer or thicker
fingers and a different flange-to-fingertip distance. A :class:`HandDescription` carries those numbers; the
detector's collision check and feasibility filter (:func:`hand_feasible`) use it, and the executor takes its TCP
offset and opening from it. Model widths stay the network's: a grasp wider than the hand is dropped, never
clipped (a clipped width would close the fingers into the object).

Presets: ``graspnet`` (the evaluator's gripper, the detector's default), ``panda`` (Franka Hand),
``robotiq_2f_85``; or a YAML file with the same keys (``load_hand("path/to/hand.yaml")``; the ``body_*`` keys
are optional). A hand whose body is bigger than GraspNet's thin palm (the Franka's) also describes that body as
a box; :func:`full_hand_feasible` checks fingers opened fully, body and approach path against a scene (the
pipeline's ``hand_filter``, the antipodal baseline, sim-bench).
"""
from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import numpy as np

from grasp6d_core.errors import Grasp6dError
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.physics.gripper import GripperGeometry, collision_and_empty, points_in_gripper_frame

# Free path behind the palm the hand needs while moving in (the detector's check since its first release).
APPROACH_CLEARANCE = 0.05
# The whole-hand check counts a grasp as empty below the evaluator's 10 object points between the open fingers.
FULL_HAND_EMPTY_THRESHOLD = 10


class HandError(Grasp6dError, ValueError):
    """A hand description that cannot be used; the text names the preset, file or key at fault."""


@dataclass(frozen=True)
class HandDescription:
    """A two-finger hand in the GraspNet grasp frame (x approach, y closing, z finger height), metres."""
    name: str
    max_opening: float          # widest opening between the fingers
    finger_depth_min: float     # the fingers must reach at least this far past the grasp point (grasp depth)
    finger_depth_max: float     # ... and at most this far (finger length usable past the grasp point)
    finger_width: float         # finger extent across the closing direction (along the grasp z)
    finger_thickness: float     # finger extent along the closing direction (along the grasp y)
    palm_depth: float           # how far behind the grasp point the palm starts
    tcp_offset: float           # flange to fingertip centre along the approach (the executor's tcp_offset)
    # The hand body behind the fingers as a box (0 = none beyond the palm of the gripper model):
    body_span: float = 0.0      # extent across the closing direction (along the grasp y)
    body_thickness: float = 0.0  # extent along the finger height (grasp z)
    body_length: float = 0.0    # extent along the approach
    body_offset: float = 0.0    # how far behind the fingertips' reach (the grasp depth) the body starts

    def validate(self) -> "HandDescription":
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "name" and not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise HandError(f"hand '{self.name}': {f.name} must be a finite number >= 0, got {value!r}")
        if self.max_opening <= 0 or self.finger_width <= 0 or self.finger_thickness <= 0:
            raise HandError(f"hand '{self.name}': max_opening, finger_width and finger_thickness must be > 0")
        if self.finger_depth_min > self.finger_depth_max:
            raise HandError(f"hand '{self.name}': finger_depth_min {self.finger_depth_min} > "
                            f"finger_depth_max {self.finger_depth_max}")
        return self

    def collision_geometry(self, empty_threshold: int = 2) -> GripperGeometry:
        """The box model of physics.gripper for this hand (fingers, palm, approach path)."""
        return GripperGeometry(height=self.finger_width, finger_width=self.finger_thickness,
                               base_depth=self.palm_depth, empty_threshold=empty_threshold,
                               approach_distance=APPROACH_CLEARANCE)

    def body_hits(self, points: np.ndarray, grasps: GraspGroup, chunk: int = 64) -> np.ndarray:
        """(G,) bool: cloud points lie inside the body box of a grasp or in the path it sweeps while approaching
        (APPROACH_CLEARANCE behind it); all False for a hand without a body box."""
        hits = np.zeros(len(grasps), dtype=bool)
        if self.body_span <= 0 or len(points) == 0:
            return hits
        for start in range(0, len(grasps), chunk):
            g = grasps[start:start + chunk]
            front = (g.depths - self.body_offset)[:, None]
            local = points_in_gripper_frame(points, g.rotations, g.translations)
            inside = ((local[..., 0] < front) & (local[..., 0] > front - self.body_length - APPROACH_CLEARANCE)
                      & (np.abs(local[..., 1]) < self.body_span / 2)
                      & (np.abs(local[..., 2]) < self.body_thickness / 2))
            hits[start:start + chunk] = inside.any(axis=1)
        return hits

    def fits(self, grasps: GraspGroup) -> np.ndarray:
        """(G,) bool: the grasp's width and depth are within this hand's opening and finger reach."""
        return ((grasps.widths <= self.max_opening + 1e-6)
                & (grasps.depths >= self.finger_depth_min - 1e-6) & (grasps.depths <= self.finger_depth_max + 1e-6))

    def as_dict(self) -> dict:
        return asdict(self)


# Franka Hand: 0.08 m stroke, 2 cm wide fingers, 0.1034 m flange to fingertip centre (franka_ros TCP); its body
# (0.20 x 0.063 m in pybullet_data's collision mesh) as a 0.22 x 0.07 m box from a finger length (3.5 cm) behind
# the fingertips, 7 cm long. The robot the executor drives by default and the simulated hand: the executor's
# defaults, its limits, the sim and the whole-hand filter read it.
PANDA = HandDescription("panda", max_opening=0.08, finger_depth_min=0.0, finger_depth_max=0.04,
                        finger_width=0.02, finger_thickness=0.02, palm_depth=0.02, tcp_offset=0.1034,
                        body_span=0.22, body_thickness=0.07, body_length=0.07, body_offset=0.035)
# GraspNet's gripper: the evaluator's boxes (physics.gripper defaults), 0.10 m opening, depths 1-4 cm; its TCP
# offset is the Panda's because that is the robot the executor drives by default.
# Robotiq 2F-85: 0.085 m stroke, 22 mm pads, ~0.150 m coupling face to pad centre (measure yours).
PRESETS: dict[str, HandDescription] = {
    "graspnet": HandDescription("graspnet", max_opening=0.10, finger_depth_min=0.0, finger_depth_max=0.04,
                                finger_width=0.02, finger_thickness=0.01, palm_depth=0.02,
                                tcp_offset=PANDA.tcp_offset),
    "panda": PANDA,
    "robotiq_2f_85": HandDescription("robotiq_2f_85", max_opening=0.085, finger_depth_min=0.0,
                                     finger_depth_max=0.04, finger_width=0.022, finger_thickness=0.012,
                                     palm_depth=0.02, tcp_offset=0.150),
}


def load_hand(spec: "str | Path | HandDescription") -> HandDescription:
    """A preset name (``graspnet`` | ``panda`` | ``robotiq_2f_85``), a YAML file path, or a description."""
    if isinstance(spec, HandDescription):
        return spec.validate()
    text = str(spec)
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text)
    if not path.suffix.lower() in (".yaml", ".yml"):
        raise HandError(f"hand '{text}' is not a preset ({' | '.join(PRESETS)}) nor a .yaml file")
    if not path.is_file():
        raise HandError(f"hand file {path}: no such file")
    import yaml
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise HandError(f"hand file {path}: not valid YAML ({error})") from error
    if not isinstance(data, dict):
        raise HandError(f"hand file {path}: expected a mapping of {', '.join(f.name for f in fields(HandDescription))}")
    keys = {f.name for f in fields(HandDescription)} - {"name"}
    required = {f.name for f in fields(HandDescription) if f.default is MISSING} - {"name"}
    unknown, missing = set(data) - keys - {"name"}, required - set(data)
    if unknown or missing:
        raise HandError(f"hand file {path}: " + "; ".join(
            ([f"unknown keys {sorted(unknown)}"] if unknown else []) + ([f"missing keys {sorted(missing)}"] if missing else [])))
    values = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
              for k, v in data.items() if k != "name"}
    return HandDescription(name=str(data.get("name", path.stem)), **values).validate()


def hand_feasible(points: np.ndarray, grasps: GraspGroup, hand: HandDescription) -> np.ndarray:
    """(G,) bool: the hand can take the grasp in this cloud — width and depth fit, and its fingers, palm and
    approach path at the grasp's width miss the points (the grasp still holds something between the fingers)."""
    keep = hand.fits(grasps)
    if keep.any():
        g = grasps[keep]
        collision, empty = collision_and_empty(points, g.rotations, g.translations, g.widths, g.depths,
                                               hand.collision_geometry())
        keep[keep] = ~collision & ~empty
    return keep


def full_hand_feasible(points: np.ndarray, grasps: GraspGroup, hand: HandDescription,
                       object_mask: np.ndarray | None = None, open_width: float | None = None) -> np.ndarray:
    """(G,) bool: the whole hand can take the grasp in this cloud. It opens fully (``open_width``, default the
    hand's ``max_opening``) before approaching, so its fingers, palm and approach path at that opening and its
    body box must miss the points, and at least FULL_HAND_EMPTY_THRESHOLD points of ``object_mask`` (which
    points count as something to hold, default all) must lie between the fingers. Any detector's grasps go
    through this robot-specific check before that hand executes them."""
    opening = hand.max_opening if open_width is None else open_width
    collision, empty = collision_and_empty(points, grasps.rotations, grasps.translations, opening, grasps.depths,
                                           hand.collision_geometry(FULL_HAND_EMPTY_THRESHOLD),
                                           object_mask=object_mask)
    keep = ~collision & ~empty
    keep[keep] = ~hand.body_hits(points, grasps[keep])
    return keep
