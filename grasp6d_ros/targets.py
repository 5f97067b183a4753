"""DetectGrasps request target fields -> grasp6d_core.targets.TargetConstraints over the request cloud's points
(detector_node hands them to GraspPipeline.run).

Defaults mean "no constraint" (a default-constructed request is unconstrained): roi_min == roi_max == 0,
max_approach_angle == 0, target_object_id 0 or -1, an empty mask. Any bad value raises ConstraintError naming
the field; detector_node returns it as ``success=false``.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointCloud2

from grasp6d_core.targets import ConstraintError, TargetConstraints, mask_to_points, target_pixels
from grasp6d_ros.conversions import ConversionError, camera_info_to_intrinsics, image_to_numpy, pointcloud2_to_numpy

LABEL_ENCODINGS = ("mono8", "8UC1", "mono16", "16UC1", "32SC1")
ALL = (0, -1)   # target_label / target_object_id values meaning "any"


def _xyz(v) -> np.ndarray:
    return np.array([v.x, v.y, v.z], dtype=np.float64)


def cloud_points(cloud: PointCloud2) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The cloud's valid points and normals (finite xyz and, if present, finite normals; float32 as read) and
    their indices in the full, possibly organized, cloud (pixel i of an organized cloud is index i)."""
    raw, normals = pointcloud2_to_numpy(cloud, with_normals=True, drop_invalid=False)
    valid = np.isfinite(raw).all(axis=1)
    if normals is not None:
        valid &= np.isfinite(normals).all(axis=1)
    return raw[valid], None if normals is None else normals[valid], np.flatnonzero(valid)


def mask_flags(request, cloud: PointCloud2, points: np.ndarray, indices: np.ndarray,
               camera_from_cloud: np.ndarray | None = None) -> np.ndarray | None:
    """(N,) bool over ``points``: on the mask's target. None without a mask."""
    mask_msg = request.mask
    if mask_msg.width * mask_msg.height == 0:
        return None
    if mask_msg.encoding not in LABEL_ENCODINGS:
        raise ConstraintError(f"mask.encoding '{mask_msg.encoding}' is not a label encoding "
                              f"({' | '.join(LABEL_ENCODINGS)})")
    try:
        mask = image_to_numpy(mask_msg)
    except ConversionError as error:
        raise ConstraintError(f"mask: {error}") from error
    label = int(request.target_label)
    info = request.camera_info
    intrinsics = None
    if info.width * info.height > 0 or any(info.k):
        try:
            intrinsics = camera_info_to_intrinsics(info)
        except ConversionError as error:
            raise ConstraintError(f"camera_info: {error}") from error
        if mask.shape != (intrinsics.height, intrinsics.width):
            raise ConstraintError(f"mask is {mask_msg.width}x{mask_msg.height} but camera_info is "
                                  f"{intrinsics.width}x{intrinsics.height}")
    if cloud.height > 1 and mask.shape == (cloud.height, cloud.width):
        return target_pixels(mask, label).reshape(-1)[indices]   # organized: one point per pixel
    if intrinsics is None:
        raise ConstraintError(f"mask ({mask_msg.width}x{mask_msg.height}) cannot be matched to the cloud: send an "
                              f"organized cloud of the mask's size (this one is {cloud.width}x{cloud.height}) or "
                              f"the camera's intrinsics in camera_info")
    if camera_from_cloud is not None:
        points = points @ camera_from_cloud[:3, :3].T + camera_from_cloud[:3, 3]
    return mask_to_points(points, mask, intrinsics, label)


def request_targets(request, cloud: PointCloud2, points: np.ndarray, indices: np.ndarray,
                    camera_from_cloud: np.ndarray | None = None) -> TargetConstraints:
    """The constraints of a DetectGrasps request over ``points`` (N, 3), the cloud's valid points in its frame
    at ``indices`` of the full cloud (cloud_points). ``camera_from_cloud``: 4x4 transform cloud frame ->
    camera_info's frame when they differ."""
    numbers = {"roi_min": _xyz(request.roi_min), "roi_max": _xyz(request.roi_max),
               "approach_axis": _xyz(request.approach_axis),
               "max_approach_angle": np.array([request.max_approach_angle])}
    for name, value in numbers.items():
        if not np.isfinite(value).all():
            raise ConstraintError(f"{name} must be finite, got {value.tolist()}")
    lo, hi = numbers["roi_min"], numbers["roi_max"]
    roi = None if not (lo.any() or hi.any()) else (lo, hi)
    angle = float(request.max_approach_angle)
    cone = None if angle == 0 else (numbers["approach_axis"], angle)
    object_id = None if request.target_object_id in ALL else int(request.target_object_id)
    flags = mask_flags(request, cloud, np.asarray(points, dtype=np.float64), indices, camera_from_cloud)
    targets = TargetConstraints(roi=roi, approach_cone=cone, point_mask=flags, object_id=object_id)
    return targets.validate(len(points))


def needs_camera_transform(request, cloud_frame: str) -> str:
    """camera_info's frame when a mask must be projected from a cloud in another frame, else ''."""
    frame = request.camera_info.header.frame_id
    has_mask = request.mask.width * request.mask.height > 0
    return frame if has_mask and frame and frame != cloud_frame else ""
