"""GraspPipeline: the one detection policy that detector_node, ``grasp6d detect`` and ``grasp6d sim-bench`` run.

Every entry point keeps only its I/O (a PointCloud2 and tf, a depth PNG, a simulated camera) and hands a cloud
to :meth:`GraspPipeline.run`, which applies the same steps with the same :class:`PipelineSettings`:

    cloud (its own frame) --to_model--> model frame (the frame the network was trained in: the camera's)
      1. drop non-finite points, points outside ``box`` (cloud frame) and farther than ``max_range`` from the
         model frame's origin (the sensor); the counts go into the result's message
      2. detector.detect: network, ``scoring`` (the network's own score or seed consensus), NMS, the ``hand``'s opening / finger reach and its collision check against
         the whole cloud; asks for top_k x hand_candidates when a filter follows (hand filter, keep filters,
         targets), since those drop many and top_k counts what survives them
      3. hand filter: only grasps the robot's hand can take in ``hand_scene`` (default: the cloud itself)
    grasps back in the cloud's own frame, where a request's targets are expressed
      4. object ids from the model-free ``segmentation`` of the cropped cloud (grasp object_id; -1 = none)
      5. keep filters and ``targets`` (region, approach cone, point mask, object id), then min_score, then top_k
    grasps, best first, in the cloud's own frame

Why the workspace bound lives here and not in the model: it is a scene assumption (a table top a couple of
metres from the sensor) that a robot sets and a user must be told about, so it is a setting whose effect is
counted in the answer. The model layer (GraspDetector, the voxelisation, nearest_to_voxel_centres) instead
refuses, with one clear error, coordinates its voxel grid cannot represent exactly; it never silently drops
points, so a library user calling GraspDetector.detect directly gets an error rather than a changed answer.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from grasp6d_core.errors import Grasp6dError
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.consensus import DEFAULT_SCORING, SCORINGS
from grasp6d_core.hand import PRESETS, HandDescription, HandError, full_hand_feasible, load_hand
from grasp6d_core.segmentation import SegmentationParams, label_grasps, segment_objects
from grasp6d_core.targets import KeepFilter, TargetConstraints, keep_all

# (scene points, grasps, object mask or None) -> (G,) bool: the grasps a robot hand can take in that scene.
HandFilter = Callable[[np.ndarray, GraspGroup, "np.ndarray | None"], np.ndarray]


def _whole_hand_filter(hand: HandDescription) -> HandFilter:
    return lambda points, grasps, object_mask: full_hand_feasible(points, grasps, hand, object_mask)


# ``hand_filter: NAME`` checks the whole hand of the preset NAME (the description ``hand: NAME`` selects) against
# the hand scene; presets whose body is GraspNet's thin palm have nothing more to check, so only bodied ones are
# offered.
HAND_FILTERS: dict[str, HandFilter] = {name: _whole_hand_filter(preset) for name, preset in PRESETS.items()
                                       if preset.body_span > 0}


class PipelineError(Grasp6dError, ValueError):
    """A cloud or a setting the pipeline cannot run on; the text names the field and the limit."""


class Detector(Protocol):
    def detect(self, points: np.ndarray, normals: np.ndarray | None = None, top_k: int = 50,
               collision: bool = True, refine: bool = False,
               nms: tuple[float, float] | None = None, hand: HandDescription | None = None,
               scoring: str = "network") -> GraspGroup: ...


@dataclass(frozen=True)
class PipelineSettings:
    """What to detect and what to drop; the same fields as detector_node's parameters and the CLI flags."""
    max_range: float | None = 2.0          # m from the model frame's origin (the sensor); None = unbounded
    box: tuple[float, ...] | None = None   # xmin xmax ymin ymax zmin zmax in the cloud's own frame; None = none
    min_points: int = 100                  # fewer points left after the crop -> PipelineError
    top_k: int = 50
    min_score: float = 0.0
    collision: bool = True                 # model-free gripper collision check against the cloud
    refine: bool = False                   # contact-map refinement (checkpoints with a prior)
    scoring: str = DEFAULT_SCORING         # rank by the network's score, or by seed 'consensus' (consensus.py)
    nms: tuple[float, float] | None = (0.03, 30.0)   # (m, degrees): suppress grasps this close to a better one
    hand_filter: str = ""                  # a HAND_FILTERS name; "" = none
    hand: HandDescription | str | None = None   # the gripper (preset, YAML path); None = GraspNet's gripper
    hand_candidates: int = 20              # with any filter the detector is asked for top_k x this many
    segmentation: SegmentationParams | None = None   # fill object_id (needed by a target object id); None = off
    keep: tuple[KeepFilter, ...] = field(default=(), compare=False)   # (cloud-frame points, grasps) -> bool

    def __post_init__(self) -> None:
        if self.max_range is not None and not (math.isfinite(self.max_range) and self.max_range > 0):
            raise PipelineError(f"max_range must be a finite distance > 0 m (or off), got {self.max_range}")
        if self.box is not None:
            box = tuple(float(v) for v in self.box)
            if len(box) != 6 or not all(map(math.isfinite, box)) or any(box[i] >= box[i + 1] for i in (0, 2, 4)):
                raise PipelineError(f"box must be 6 finite numbers xmin < xmax, ymin < ymax, zmin < zmax, got {self.box}")
            object.__setattr__(self, "box", box)
        if self.top_k < 1 or self.min_points < 1 or self.hand_candidates < 1:
            raise PipelineError(f"top_k, min_points and hand_candidates must be >= 1, got {self.top_k}, "
                                f"{self.min_points}, {self.hand_candidates}")
        if self.scoring not in SCORINGS:
            raise PipelineError(f"scoring='{self.scoring}' is not one of {' | '.join(SCORINGS)}")
        if not math.isfinite(self.min_score):
            raise PipelineError(f"min_score must be finite, got {self.min_score}")
        if self.hand_filter and self.hand_filter not in HAND_FILTERS:
            raise PipelineError(f"hand_filter='{self.hand_filter}' is not one of '' | {' | '.join(HAND_FILTERS)}")
        try:
            object.__setattr__(self, "hand", load_hand(self.hand) if self.hand else None)
        except HandError as error:
            raise PipelineError(f"hand: {error}") from error
        if self.segmentation is not None:
            try:
                self.segmentation.validate()
            except ValueError as error:
                raise PipelineError(str(error)) from error
        if self.nms is not None and (len(self.nms) != 2 or not all(math.isfinite(v) and v >= 0 for v in self.nms)):
            raise PipelineError(f"nms must be (distance m, angle degrees) >= 0, got {self.nms}")

    def replace(self, **changes) -> "PipelineSettings":
        return dataclasses.replace(self, **changes)


@dataclass
class PipelineResult:
    grasps: GraspGroup          # best first, in the cloud's own frame
    points_in: int              # points handed in (or the cloud's size, when a converter dropped NaN already)
    non_finite: int
    outside_workspace: int
    points_used: int
    workspace: str = ""         # the bounds that applied, in words

    def summary(self) -> str:
        """What the crop dropped, for a service answer or a log line ('' when nothing)."""
        dropped = [f"{self.non_finite} non-finite"] if self.non_finite else []
        if self.outside_workspace:
            dropped.append(f"{self.outside_workspace} outside the workspace ({self.workspace})")
        return f"dropped {' and '.join(dropped)} of {self.points_in} points" if dropped else ""


def _apply(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ T[:3, :3].T + T[:3, 3]


class GraspPipeline:
    """A detector plus the policy around it. ``detector`` is anything with GraspDetector's ``detect``."""

    def __init__(self, detector: Detector, settings: PipelineSettings | None = None):
        self.detector = detector
        self.settings = settings or PipelineSettings()

    def crop(self, points: np.ndarray, to_model: np.ndarray | None = None) -> tuple[np.ndarray, int, int]:
        """Mask of the points the workspace keeps, with the non-finite and outside counts."""
        s = self.settings
        points = np.asarray(points, dtype=np.float64)
        finite = np.isfinite(points).all(axis=1)
        keep = finite.copy()
        if s.box is not None:
            lo, hi = np.reshape(s.box, (3, 2)).T
            keep &= np.all((points >= lo) & (points <= hi), axis=1)
        if s.max_range is not None:
            model = points if to_model is None else _apply(to_model, np.where(finite[:, None], points, 0.0))
            with np.errstate(over="ignore", invalid="ignore"):
                keep &= np.linalg.norm(model, axis=1) <= s.max_range   # overflow -> inf -> dropped
        non_finite = int(np.count_nonzero(~finite))
        return keep, non_finite, int(np.count_nonzero(finite & ~keep))

    def run(self, points: np.ndarray, normals: np.ndarray | None = None, *, to_model: np.ndarray | None = None,
            hand_scene: np.ndarray | None = None, object_mask: np.ndarray | None = None,
            targets: TargetConstraints | None = None, top_k: int | None = None, min_score: float | None = None,
            cloud_size: int | None = None) -> PipelineResult:
        """Grasps on ``points`` (N, 3) in their own frame, best first, in that frame.

        to_model: 4x4 from the cloud's frame to the model's (None = the same). hand_scene / object_mask: the
        cloud the hand filter checks against (cloud frame; default the cropped cloud) and which of its points
        are something to hold. targets: what to grasp, in the cloud's frame (its point_mask is over ``points``;
        an object_id needs the segmentation setting); ConstraintError names a bad one. top_k / min_score:
        per-call overrides (a request's max_grasps; the higher min_score wins). cloud_size: the original
        cloud's size for the message when NaN points were already removed by a converter."""
        s = self.settings
        points = np.asarray(points)
        if points.ndim != 2 or points.shape[1] != 3:
            raise PipelineError(f"points must have shape (N, 3), got {points.shape}")
        if normals is not None and np.shape(normals) != points.shape:
            raise PipelineError(f"normals {np.shape(normals)} must match points {points.shape}")
        targets = (targets or TargetConstraints()).validate(len(points))
        if targets.object_id is not None and s.segmentation is None:
            raise PipelineError("target_object_id needs segment_objects:=true (the segmentation setting): "
                                "object ids come from it")
        keep, non_finite, outside = self.crop(points, to_model)
        total = len(points) if cloud_size is None else int(cloud_size)
        non_finite += total - len(points)
        used = int(np.count_nonzero(keep))
        if used < s.min_points:
            raise PipelineError(
                f"cloud too small: {used} valid points of {total} ({non_finite} NaN/inf dropped, {outside} outside "
                f"the workspace: {self._workspace_text()}); need at least min_points={s.min_points}")
        pts = points[keep].astype(np.float64)
        nrm = None if normals is None else np.asarray(normals, dtype=np.float64)[keep]
        if to_model is not None:
            pts = _apply(to_model, pts)
            nrm = None if nrm is None else nrm @ to_model[:3, :3].T
        top_k = int(top_k or s.top_k)
        filtered = bool(s.hand_filter or s.keep or targets.active)
        grasps = self.detector.detect(pts.astype(np.float32), normals=None if nrm is None else nrm.astype(np.float32),
                                      top_k=top_k * (s.hand_candidates if filtered else 1), collision=s.collision,
                                      refine=s.refine, nms=None if s.nms is None else (s.nms[0], math.radians(s.nms[1])),
                                      hand=s.hand, scoring=s.scoring)
        if s.hand_filter and len(grasps):
            scene = pts if hand_scene is None else np.asarray(hand_scene, dtype=np.float64)
            if hand_scene is not None and to_model is not None:
                scene = _apply(to_model, scene)
            grasps = grasps[HAND_FILTERS[s.hand_filter](scene, grasps, object_mask)]
        if to_model is not None:
            grasps = grasps.transform(np.linalg.inv(to_model))
        grasps = self._label_and_keep(points[keep].astype(np.float64), grasps, targets, keep)
        threshold = s.min_score if min_score is None else max(s.min_score, float(min_score))
        grasps = grasps[grasps.scores >= threshold].top_k(top_k)
        return PipelineResult(grasps, total, non_finite, outside, used, self._workspace_text())

    def _label_and_keep(self, scene: np.ndarray, grasps: GraspGroup, targets: TargetConstraints,
                        cropped: np.ndarray) -> GraspGroup:
        """Object ids from the segmentation of ``scene`` (the cropped cloud, cloud frame), then the keep filters
        and the targets (whose point mask, over the uncropped cloud, is cropped with ``cropped``)."""
        s = self.settings
        if s.segmentation is not None and len(grasps):
            grasps = label_grasps(scene, segment_objects(scene, s.segmentation), grasps, s.segmentation.contact_distance)
        if targets.point_mask is not None:
            targets = dataclasses.replace(targets, point_mask=np.asarray(targets.point_mask, dtype=bool)[cropped])
        return grasps[keep_all(scene, grasps, (*s.keep, *targets.filters()))]

    def _workspace_text(self) -> str:
        s = self.settings
        parts = [f"max_range {s.max_range:g} m from the sensor"] if s.max_range is not None else []
        if s.box is not None:
            parts.append(f"box {list(s.box)}")
        return ", ".join(parts) or "unbounded"


def parse_workspace_box(text: str, name: str = "--workspace") -> tuple[float, ...]:
    """'x0,x1,y0,y1,z0,z1' -> 6 floats (PipelineSettings checks the order)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 6:
        raise PipelineError(f"{name} '{text}': expected 6 comma-separated numbers xmin,xmax,ymin,ymax,zmin,zmax")
    return values
