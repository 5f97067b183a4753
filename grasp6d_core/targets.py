"""Keep-filters that restrict grasps to what was asked for: a region, an approach cone, masked points, an object.

Each filter has the form ``keep = f(points, grasps, constraint) -> (G,) bool`` so a detection pipeline can run
them as a list; :class:`TargetConstraints` bundles the ones a request asks for (None = no constraint) and
:func:`target_keep` applies them all. ``points`` are the scene points in the same frame as the grasps and the
constraint. grasp6d_core.pipeline.GraspPipeline runs them (``run(..., targets=)``) in the cloud's own frame,
after the model: the collision check is not affected (it always sees the whole scene).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.errors import Grasp6dError
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.segmentation import SegmentationParams, grasp_contacts

KeepFilter = Callable[[np.ndarray, GraspGroup], np.ndarray]


class ConstraintError(Grasp6dError, ValueError):
    """A constraint with impossible values; the text names the field and the limit."""


def in_roi(points: np.ndarray, grasps: GraspGroup, roi: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Grasps whose centre lies inside the axis-aligned box ``roi = (min xyz, max xyz)`` (bounds included)."""
    lo, hi = (np.asarray(b, dtype=np.float64) for b in roi)
    return np.all((grasps.translations >= lo) & (grasps.translations <= hi), axis=1)


def within_approach_cone(points: np.ndarray, grasps: GraspGroup, cone: tuple[np.ndarray, float]) -> np.ndarray:
    """Grasps whose approach direction (grasp x) is within ``angle`` [rad] of ``axis``: cone = (axis, angle)."""
    axis, angle = cone
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    cosine = np.clip(grasps.approaches @ axis, -1.0, 1.0)
    return np.arccos(cosine) <= angle + 1e-9


def on_target_points(points: np.ndarray, grasps: GraspGroup, point_mask: np.ndarray,
                     max_distance: float = SegmentationParams.contact_distance) -> np.ndarray:
    """Grasps whose contact point (the scene point nearest the centre) is one of the ``point_mask`` points."""
    contact = grasp_contacts(points, grasps, max_distance)
    return (contact >= 0) & np.asarray(point_mask, dtype=bool)[np.maximum(contact, 0)]


def of_object(points: np.ndarray, grasps: GraspGroup, object_id: int) -> np.ndarray:
    """Grasps labelled with ``object_id`` (grasps must have been labelled, segmentation.label_grasps)."""
    return grasps.object_ids == int(object_id)


@dataclass(frozen=True)
class TargetConstraints:
    """What a request restricts; None = no constraint of that kind."""
    roi: tuple[np.ndarray, np.ndarray] | None = None          # (min xyz, max xyz) box for the grasp centre
    approach_cone: tuple[np.ndarray, float] | None = None     # (axis, max angle [rad]) for the approach
    point_mask: np.ndarray | None = None                      # (N,) bool over the scene points: the target
    object_id: int | None = None                              # segment id (>= 1) the contact must lie on

    def validate(self, n_points: int | None = None) -> "TargetConstraints":
        if self.roi is not None:
            lo, hi = (np.asarray(b, dtype=np.float64).reshape(-1) for b in self.roi)
            if lo.shape != (3,) or hi.shape != (3,):
                raise ConstraintError(f"roi must be two xyz points, got {lo.shape} and {hi.shape}")
            if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
                raise ConstraintError(f"roi_min/roi_max must be finite, got {lo.tolist()} / {hi.tolist()}")
            if np.any(lo > hi):
                axes = "".join("xyz"[i] for i in np.flatnonzero(lo > hi))
                raise ConstraintError(f"roi_min > roi_max on {axes}: {lo.tolist()} > {hi.tolist()}")
        if self.approach_cone is not None:
            axis, angle = self.approach_cone
            axis = np.asarray(axis, dtype=np.float64).reshape(-1)
            if axis.shape != (3,) or not np.isfinite(axis).all() or np.linalg.norm(axis) < 1e-9:
                raise ConstraintError(f"approach_axis must be a finite non-zero vector, got {axis.tolist()}")
            if not (np.isfinite(angle) and angle > 0):
                raise ConstraintError(f"max_approach_angle must be a finite angle > 0 rad, got {angle}")
        if self.point_mask is not None and n_points is not None and len(self.point_mask) != n_points:
            raise ConstraintError(f"mask covers {len(self.point_mask)} points but the cloud has {n_points}")
        if self.object_id is not None and self.object_id < 1:
            raise ConstraintError(f"object id must be >= 1 (segments are numbered from 1), got {self.object_id}")
        return self

    @property
    def active(self) -> bool:
        return any(c is not None for c in (self.roi, self.approach_cone, self.point_mask, self.object_id))

    def filters(self) -> list[KeepFilter]:
        """The keep-filters this constraint set asks for, cheapest first."""
        out: list[KeepFilter] = []
        if self.roi is not None:
            out.append(lambda p, g: in_roi(p, g, self.roi))
        if self.approach_cone is not None:
            out.append(lambda p, g: within_approach_cone(p, g, self.approach_cone))
        if self.object_id is not None:
            out.append(lambda p, g: of_object(p, g, self.object_id))
        if self.point_mask is not None:
            out.append(lambda p, g: on_target_points(p, g, self.point_mask))
        return out


def keep_all(points: np.ndarray, grasps: GraspGroup, filters: Iterable[KeepFilter]) -> np.ndarray:
    """(G,) bool: the grasps that pass every filter; each filter sees only the survivors of the ones before."""
    keep = np.ones(len(grasps), dtype=bool)
    for keep_filter in filters:
        if keep.any():
            keep[keep] = np.asarray(keep_filter(points, grasps[keep]), dtype=bool)
    return keep


def target_keep(points: np.ndarray, grasps: GraspGroup, constraints: TargetConstraints) -> np.ndarray:
    """(G,) bool: the grasps that pass every filter of ``constraints``."""
    return keep_all(points, grasps, constraints.filters())


def target_pixels(mask: np.ndarray, target_label: int = -1) -> np.ndarray:
    """Bool image of the target: pixels equal to ``target_label``, or any non-zero pixel for -1 (or 0, the
    request default, since label 0 is the background of a segmentation image)."""
    mask = np.asarray(mask)
    return mask != 0 if target_label in (-1, 0) else mask == target_label


def mask_to_points(points: np.ndarray, mask: np.ndarray, intrinsics: CameraIntrinsics,
                   target_label: int = -1) -> np.ndarray:
    """(N,) bool: which camera-frame points project onto the target pixels of a label image of the camera
    ``intrinsics`` describe. Points behind the camera or outside the image are not on the target."""
    target = target_pixels(mask, target_label)
    if target.shape != (intrinsics.height, intrinsics.width):
        raise ConstraintError(f"mask is {target.shape[1]}x{target.shape[0]} but the camera is "
                              f"{intrinsics.width}x{intrinsics.height}")
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    finite = np.isfinite(points).all(axis=1)
    uv, inside = intrinsics.project(np.where(finite[:, None], points, 0.0))
    inside &= finite
    pixels = np.clip(np.round(uv[inside]).astype(np.int64), 0, [intrinsics.width - 1, intrinsics.height - 1])
    out = np.zeros(len(points), dtype=bool)
    out[inside] = target[pixels[:, 1], pixels[:, 0]]
    return out
