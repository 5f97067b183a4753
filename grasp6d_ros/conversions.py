"""Conversions between ROS 2 messages and the numpy types of grasp6d_core.

Every malformed message raises :class:`ConversionError`, whose text names the offending field, so a node can
log it, skip the message and keep running.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.errors import Grasp6dError
from grasp6d_core.grasp import GraspGroup


class ConversionError(Grasp6dError, ValueError):
    """A ROS message could not be converted; the message names the field at fault."""


# encoding -> (numpy dtype, channels). Byte order is applied from msg.is_bigendian.
IMAGE_ENCODINGS: dict[str, tuple[str, int]] = {
    "16UC1": ("u2", 1),
    "mono16": ("u2", 1),
    "32FC1": ("f4", 1),
    "mono8": ("u1", 1),
    "8UC1": ("u1", 1),
    "32SC1": ("i4", 1),
    "rgb8": ("u1", 3),
    "bgr8": ("u1", 3),
}
DEPTH_ENCODINGS_MM = ("16UC1", "mono16")
DEPTH_ENCODINGS_M = ("32FC1",)


def make_header(frame_id: str, stamp: Time | float | None = None) -> Header:
    header = Header(frame_id=frame_id)
    if isinstance(stamp, Time):
        header.stamp = stamp
    elif stamp is not None:
        sec = int(np.floor(stamp))
        header.stamp = Time(sec=sec, nanosec=int(round((stamp - sec) * 1e9)) % 1_000_000_000)
    return header


def stamp_to_seconds(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


# ------------------------------------------------------------------------------------------------- images
def image_to_numpy(msg: Image) -> np.ndarray:
    """Image -> (H, W) or (H, W, C) array in the encoding's native type, honouring ``step`` and byte order."""
    if msg.encoding not in IMAGE_ENCODINGS:
        raise ConversionError(f"Image.encoding '{msg.encoding}' is not supported "
                              f"(supported: {', '.join(IMAGE_ENCODINGS)})")
    base, channels = IMAGE_ENCODINGS[msg.encoding]
    dtype = np.dtype(base).newbyteorder(">" if msg.is_bigendian else "<")
    row_bytes = msg.width * channels * dtype.itemsize
    if msg.height == 0 or msg.width == 0:
        raise ConversionError(f"Image.height/width must be positive, got {msg.width}x{msg.height}")
    if msg.step < row_bytes:
        raise ConversionError(f"Image.step {msg.step} is smaller than width*channels*bytes = {row_bytes}")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < msg.height * msg.step:
        raise ConversionError(f"Image.data has {data.size} bytes, expected height*step = {msg.height * msg.step}")
    rows = data[: msg.height * msg.step].reshape(msg.height, msg.step)[:, :row_bytes]
    array = np.ascontiguousarray(rows).view(dtype).astype(dtype.newbyteorder("="))
    return array.reshape(msg.height, msg.width, channels) if channels > 1 else array.reshape(msg.height, msg.width)


def numpy_to_image(array: np.ndarray, encoding: str, frame_id: str = "", stamp: Time | float | None = None) -> Image:
    """(H, W[, C]) array -> Image in ``encoding`` (little-endian, tightly packed rows)."""
    if encoding not in IMAGE_ENCODINGS:
        raise ConversionError(f"encoding '{encoding}' is not supported (supported: {', '.join(IMAGE_ENCODINGS)})")
    base, channels = IMAGE_ENCODINGS[encoding]
    array = np.asarray(array)
    expected_ndim = 2 if channels == 1 else 3
    if array.ndim != expected_ndim or (channels > 1 and array.shape[2] != channels):
        raise ConversionError(f"array of shape {array.shape} does not fit encoding '{encoding}'")
    data = np.ascontiguousarray(array.astype(np.dtype(base).newbyteorder("<")))
    msg = Image(header=make_header(frame_id, stamp), height=array.shape[0], width=array.shape[1],
                encoding=encoding, is_bigendian=0, step=array.shape[1] * channels * data.dtype.itemsize)
    msg.data = data.tobytes()
    return msg


def depth_image_to_metres(msg: Image) -> np.ndarray:
    """Depth Image -> float32 metres (H, W). 16UC1/mono16 are millimetres, 32FC1 metres; 0 / NaN = no depth."""
    if msg.encoding in DEPTH_ENCODINGS_MM:
        return image_to_numpy(msg).astype(np.float32) * np.float32(0.001)
    if msg.encoding in DEPTH_ENCODINGS_M:
        return image_to_numpy(msg).astype(np.float32)
    raise ConversionError(f"Image.encoding '{msg.encoding}' is not a depth encoding "
                          f"(expected one of {DEPTH_ENCODINGS_MM + DEPTH_ENCODINGS_M})")


def metres_to_depth_image(depth: np.ndarray, encoding: str = "16UC1", frame_id: str = "",
                          stamp: Time | float | None = None) -> Image:
    """float metres (H, W) -> 16UC1 millimetres (invalid -> 0) or 32FC1 metres."""
    depth = np.asarray(depth, dtype=np.float32)
    if encoding in DEPTH_ENCODINGS_MM:
        mm = np.where(np.isfinite(depth) & (depth > 0), np.round(depth * 1000.0), 0.0)
        return numpy_to_image(np.clip(mm, 0, 65535).astype(np.uint16), encoding, frame_id, stamp)
    if encoding in DEPTH_ENCODINGS_M:
        return numpy_to_image(depth, encoding, frame_id, stamp)
    raise ConversionError(f"'{encoding}' is not a depth encoding")


# ------------------------------------------------------------------------------------------ camera info
def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    k = np.asarray(msg.k, dtype=np.float64)
    if k.size != 9 or not np.all(np.isfinite(k)) or k[0] <= 0 or k[4] <= 0:
        raise ConversionError(f"CameraInfo.k is not a valid camera matrix: {k.tolist()}")
    if msg.width == 0 or msg.height == 0:
        raise ConversionError(f"CameraInfo.width/height must be positive, got {msg.width}x{msg.height}")
    return CameraIntrinsics.from_matrix(k.reshape(3, 3), msg.width, msg.height)


def intrinsics_to_camera_info(intrinsics: CameraIntrinsics, frame_id: str = "",
                              stamp: Time | float | None = None) -> CameraInfo:
    msg = CameraInfo(header=make_header(frame_id, stamp), width=intrinsics.width, height=intrinsics.height,
                     distortion_model="plumb_bob")
    msg.d = [0.0] * 5
    msg.k = intrinsics.K.reshape(-1).tolist()
    msg.r = np.eye(3).reshape(-1).tolist()
    msg.p = np.hstack([intrinsics.K, np.zeros((3, 1))]).reshape(-1).tolist()
    return msg


# ------------------------------------------------------------------------------------------ point clouds
_POINTFIELD_DTYPES = {PointField.INT8: "i1", PointField.UINT8: "u1", PointField.INT16: "i2",
                      PointField.UINT16: "u2", PointField.INT32: "i4", PointField.UINT32: "u4",
                      PointField.FLOAT32: "f4", PointField.FLOAT64: "f8"}
XYZ_FIELDS = ("x", "y", "z")
NORMAL_FIELDS = ("normal_x", "normal_y", "normal_z")


def _cloud_dtype(msg: PointCloud2) -> np.dtype:
    order = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for field in msg.fields:
        if field.datatype not in _POINTFIELD_DTYPES:
            raise ConversionError(f"PointCloud2.fields['{field.name}'].datatype {field.datatype} is unknown")
        if field.name in names:
            raise ConversionError(f"PointCloud2.fields has '{field.name}' twice")
        if field.count < 1:
            raise ConversionError(f"PointCloud2.fields['{field.name}'].count is {field.count}, must be >= 1")
        base = np.dtype(_POINTFIELD_DTYPES[field.datatype]).newbyteorder(order)
        end = field.offset + base.itemsize * field.count
        if end > msg.point_step:
            raise ConversionError(f"PointCloud2.fields['{field.name}'] (offset {field.offset}, {field.count} x "
                                  f"{base.itemsize} bytes) ends at byte {end}, past point_step {msg.point_step}")
        names.append(field.name)
        formats.append((base, (field.count,)) if field.count > 1 else base)
        offsets.append(field.offset)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": msg.point_step})


def pointcloud2_to_numpy(msg: PointCloud2, with_normals: bool = False,
                         drop_invalid: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """PointCloud2 -> (points (N, 3) float32, normals (N, 3) float32 or None).

    Normals are returned when ``with_normals`` and the cloud has ``normal_x/y/z`` fields. Points with a
    non-finite coordinate are dropped when ``drop_invalid``.
    """
    field_names = [f.name for f in msg.fields]
    missing = [name for name in XYZ_FIELDS if name not in field_names]
    if missing:
        raise ConversionError(f"PointCloud2.fields lacks {missing} (has {field_names})")
    n_points = msg.width * msg.height
    if n_points == 0:
        return np.zeros((0, 3), np.float32), (np.zeros((0, 3), np.float32) if with_normals else None)
    if msg.point_step == 0 or msg.row_step < msg.width * msg.point_step:
        raise ConversionError(f"PointCloud2.row_step {msg.row_step} < width*point_step "
                              f"{msg.width}*{msg.point_step}")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < msg.height * msg.row_step:
        raise ConversionError(f"PointCloud2.data has {data.size} bytes, expected height*row_step = "
                              f"{msg.height * msg.row_step}")
    rows = data[: msg.height * msg.row_step].reshape(msg.height, msg.row_step)[:, : msg.width * msg.point_step]
    structured = np.ascontiguousarray(rows).reshape(-1).view(_cloud_dtype(msg))
    for field in msg.fields:   # a coordinate is one number; count 3 would make x a vector
        if field.name in XYZ_FIELDS + NORMAL_FIELDS and field.count != 1:
            raise ConversionError(f"PointCloud2.fields['{field.name}'].count is {field.count}, must be 1")
    points = np.stack([structured[name].astype(np.float32) for name in XYZ_FIELDS], axis=1)
    normals = None
    if with_normals and all(name in field_names for name in NORMAL_FIELDS):
        normals = np.stack([structured[name].astype(np.float32) for name in NORMAL_FIELDS], axis=1)
    if drop_invalid:
        valid = np.all(np.isfinite(points), axis=1)
        if normals is not None:
            valid &= np.all(np.isfinite(normals), axis=1)
        points = points[valid]
        normals = normals[valid] if normals is not None else None
    return points, normals


def numpy_to_pointcloud2(points: np.ndarray, normals: np.ndarray | None = None, frame_id: str = "",
                         stamp: Time | float | None = None) -> PointCloud2:
    """(N, 3) points [+ (N, 3) normals] -> an unorganised float32 PointCloud2; (H, W, 3) points (NaN = no
    depth, as CameraIntrinsics.depth_to_points(organized=True) gives) -> an organized one, one point per pixel."""
    points = np.asarray(points, dtype=np.float32)
    height = points.shape[0] if points.ndim == 3 else 1
    points = points.reshape(-1, 3)
    names = list(XYZ_FIELDS)
    columns = [points]
    if normals is not None:
        normals = np.asarray(normals, dtype=np.float32).reshape(-1, 3)
        if len(normals) != len(points):
            raise ConversionError(f"normals ({len(normals)}) and points ({len(points)}) differ in length")
        names += list(NORMAL_FIELDS)
        columns.append(normals)
    packed = np.ascontiguousarray(np.hstack(columns).astype("<f4"))
    msg = PointCloud2(header=make_header(frame_id, stamp), height=height, width=len(points) // height,
                      is_bigendian=False, point_step=4 * len(names), is_dense=bool(np.isfinite(packed).all()))
    msg.fields = [PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, name in enumerate(names)]
    msg.row_step = msg.point_step * msg.width
    msg.data = packed.tobytes()
    return msg


# -------------------------------------------------------------------------------------------------- grasps
def grasp_group_to_msg(grasps: GraspGroup, frame_id: str, stamp: Time | float | None = None):
    """GraspGroup -> grasp6d_ros/Grasp6DArray, sorted best first."""
    from grasp6d_ros.msg import Grasp6D, Grasp6DArray  # generated by colcon; imported late for the pip route

    ordered = grasps.sort_by_score()
    quaternions = ordered.quaternions()
    out = Grasp6DArray(header=make_header(frame_id, stamp))
    for i in range(len(ordered)):
        t = ordered.translations[i]
        q = quaternions[i]
        pose = Pose(position=Point(x=float(t[0]), y=float(t[1]), z=float(t[2])),
                    orientation=Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))
        out.grasps.append(Grasp6D(pose=pose, width=float(ordered.widths[i]), depth=float(ordered.depths[i]),
                                  height=float(ordered.heights[i]), score=float(ordered.scores[i]),
                                  object_id=int(ordered.object_ids[i])))
    return out


def grasp_msgs_to_group(grasps, unit_tolerance: float | None = None) -> GraspGroup:
    """A sequence of grasp6d_ros/Grasp6D (or a Grasp6DArray's ``grasps``) -> GraspGroup.

    Quaternions are normalised; with ``unit_tolerance`` one whose norm is farther than that from 1 is refused
    instead (a client that sent something else than a rotation, e.g. Euler angles in x y z).
    """
    grasps = list(grasps)
    if not grasps:
        return GraspGroup()
    positions = np.array([[g.pose.position.x, g.pose.position.y, g.pose.position.z] for g in grasps])
    quaternions = np.array([[g.pose.orientation.x, g.pose.orientation.y, g.pose.orientation.z,
                             g.pose.orientation.w] for g in grasps])
    if not np.all(np.isfinite(positions)):
        raise ConversionError("Grasp6D.pose.position has a non-finite coordinate")
    if not np.all(np.isfinite(quaternions)):
        raise ConversionError("Grasp6D.pose.orientation has a non-finite component")
    norms = np.linalg.norm(quaternions, axis=1)
    if unit_tolerance is not None and np.any(np.abs(norms - 1.0) > unit_tolerance):
        worst = float(norms[np.argmax(np.abs(norms - 1.0))])
        raise ConversionError(f"Grasp6D.pose.orientation is not a unit quaternion (norm {worst:.6g}, "
                              f"allowed 1 ± {unit_tolerance:g})")
    try:
        return GraspGroup.from_poses(positions, quaternions,
                                     widths=np.array([g.width for g in grasps]),
                                     depths=np.array([g.depth for g in grasps]),
                                     scores=np.array([g.score for g in grasps]),
                                     heights=np.array([g.height for g in grasps]),
                                     object_ids=np.array([g.object_id for g in grasps]))
    except ValueError as error:
        raise ConversionError(f"Grasp6D.pose.orientation: {error}") from error
