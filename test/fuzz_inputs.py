"""Seeded generator of malformed (and some well-formed) ROS inputs for the robustness tests.

Each case is a :class:`Case`: which input it is (``cloud``, ``image``, ``camera_info``, ``detect``, ``execute``), a
short name of the mutation (for the failure message and the regression list) and the message. Every message is
type-correct as rclpy builds it (what can cross DDS); the values are what a broken driver or client sends:
wrong sizes, strides and encodings, missing / repeated / overlapping fields, unknown datatypes, NaN / Inf / huge
values, empty messages, big-endian data, odd frames. The same seed gives the same cases.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_ros.conversions import intrinsics_to_camera_info, numpy_to_image, numpy_to_pointcloud2

KINDS = ("cloud", "image", "camera_info", "detect", "execute")
UINT32_MAX = 2 ** 32 - 1
SMALL = CameraIntrinsics(16, 12, 15.0, 15.0, 7.5, 5.5)   # tiny images: the fuzzer tests validation, not speed
SPECIAL_FLOATS = (np.nan, np.inf, -np.inf, 1e38, -3e38, 1e-45, 0.0, -0.0, 1e6)
ODD_FRAMES = ("", "camera", "panda_link0", "unknown_frame", "/leading/slash", "frame with spaces", "ü" * 3,
              "x" * 300)


@dataclass
class Case:
    kind: str
    name: str
    message: Any


def attr(**changes):
    """A mutation setting message attributes; a callable value is computed from (message, rng)."""
    def mutate(message, rng):
        for key, value in changes.items():
            setattr(message, key, value(message, rng) if callable(value) else value)
        return message
    return mutate


# --------------------------------------------------------------------------------------------------- clouds
def _valid_cloud(rng: np.random.Generator, normals: bool | None = None) -> PointCloud2:
    n = int(rng.choice([1, 3, 50, 300]))
    points = rng.uniform(-0.2, 0.2, (n, 3)) + [0.0, 0.0, 0.6]
    with_normals = bool(rng.integers(2)) if normals is None else normals
    normal_values = rng.normal(size=(n, 3)) if with_normals else None
    return numpy_to_pointcloud2(points, normal_values, frame_id="camera")


def _set_value(cloud: PointCloud2, rng: np.random.Generator, value: float) -> PointCloud2:
    data = np.frombuffer(bytes(cloud.data), "<f4").copy()
    if data.size:
        data[rng.integers(0, data.size, max(1, data.size // 10))] = value
    cloud.data = data.tobytes()
    return cloud


def _cloud_mutations() -> dict[str, Callable[[PointCloud2, np.random.Generator], PointCloud2]]:
    def fields(**changes):
        def mutate(cloud, rng):
            index = int(rng.integers(len(cloud.fields)))
            for key, value in changes.items():
                setattr(cloud.fields[index], key, value(rng) if callable(value) else value)
            return cloud
        return mutate

    mutations = {
        "valid": lambda c, r: c,
        "empty": lambda c, r: PointCloud2(),
        "empty data": attr(data=b""),
        "data truncated": lambda c, r: attr(data=bytes(c.data)[: int(r.integers(0, max(len(c.data), 1)))])(c, r),
        "data longer": lambda c, r: attr(data=bytes(c.data) + bytes(int(r.integers(1, 64))))(c, r),
        "point_step 0": attr(point_step=0),
        "point_step short": lambda c, r: attr(point_step=int(r.integers(1, c.point_step)))(c, r),
        "point_step odd": lambda c, r: attr(point_step=c.point_step + 3)(c, r),
        "point_step huge": attr(point_step=UINT32_MAX),
        "row_step 0": attr(row_step=0),
        "row_step short": lambda c, r: attr(row_step=max(c.row_step - 1, 0))(c, r),
        "row_step huge": attr(row_step=UINT32_MAX),
        "width huge": attr(width=UINT32_MAX),
        "height huge": attr(height=2 ** 31),
        "height 0": attr(height=0),
        "width 0 with data": attr(width=0),
        "height 2 one row of data": attr(height=2),
        "no fields": attr(fields=[]),
        "missing z": lambda c, r: attr(fields=[f for f in c.fields if f.name != "z"])(c, r),
        "field renamed": fields(name=lambda r: str(r.choice(["", "X", "xyz", "z ", "ü"]))),
        "duplicate x": lambda c, r: attr(fields=list(c.fields) + [PointField(name="x", offset=0, datatype=7,
                                                                             count=1)])(c, r),
        "datatype unknown": fields(datatype=lambda r: int(r.choice([0, 9, 42, 255]))),
        "datatype float64": fields(datatype=PointField.FLOAT64),
        "datatype int8": fields(datatype=PointField.INT8),
        "count 0": fields(count=0),
        "count 3": fields(count=3),
        "count huge": fields(count=UINT32_MAX),
        "offset huge": fields(offset=UINT32_MAX),
        "offset past step": lambda c, r: fields(offset=c.point_step)(c, r),
        "offsets overlap": fields(offset=0),
        "big endian": attr(is_bigendian=True),
        "frame odd": lambda c, r: attr(header=_header(str(r.choice(ODD_FRAMES))))(c, r),
    }
    for value in SPECIAL_FLOATS:
        mutations[f"values {value}"] = lambda c, r, v=value: _set_value(c, r, v)
    mutations["all one point"] = lambda c, r: numpy_to_pointcloud2(np.full((300, 3), 0.5), frame_id="camera")
    mutations["all NaN"] = lambda c, r: numpy_to_pointcloud2(np.full((300, 3), np.nan), frame_id="camera")
    mutations["huge spread"] = lambda c, r: numpy_to_pointcloud2(r.uniform(-3e38, 3e38, (300, 3)), frame_id="camera")
    mutations["zero normals"] = lambda c, r: numpy_to_pointcloud2(r.uniform(-0.1, 0.1, (300, 3)) + [0, 0, 0.6],
                                                                  np.zeros((300, 3)), frame_id="camera")
    return mutations


def _header(frame_id: str):
    from std_msgs.msg import Header
    return Header(frame_id=frame_id)


# --------------------------------------------------------------------------------------------------- images
def _valid_image(rng: np.random.Generator) -> Image:
    depth = rng.uniform(0.3, 1.2, (SMALL.height, SMALL.width)).astype(np.float32)
    encoding = str(rng.choice(["16UC1", "32FC1", "mono16"]))
    if encoding == "32FC1":
        return numpy_to_image(depth, encoding, "camera_depth_optical_frame")
    return numpy_to_image(np.round(depth * 1000).astype(np.uint16), encoding, "camera_depth_optical_frame")


def _image_mutations() -> dict[str, Callable[[Image, np.random.Generator], Image]]:
    def values(value):
        def mutate(image, rng):
            depth = rng.uniform(0.3, 1.2, (SMALL.height, SMALL.width)).astype(np.float32)
            depth[rng.random(depth.shape) < 0.5] = value
            return numpy_to_image(depth, "32FC1", "camera_depth_optical_frame")
        return mutate

    mutations = {
        "valid": lambda i, r: i,
        "empty": lambda i, r: Image(),
        "empty data": attr(data=b""),
        "data truncated": lambda i, r: attr(data=bytes(i.data)[: int(r.integers(0, len(i.data)))])(i, r),
        "data longer": lambda i, r: attr(data=bytes(i.data) + bytes(7))(i, r),
        "encoding unknown": attr(encoding=lambda i, r: str(r.choice(["", "yuv422", "16uc1", "32FC3", "jpeg"]))),
        "encoding colour": lambda i, r: numpy_to_image(np.zeros((SMALL.height, SMALL.width, 3), np.uint8),
                                                       str(r.choice(["rgb8", "bgr8"])), "camera_depth_optical_frame"),
        "encoding mono8": lambda i, r: numpy_to_image(np.full((SMALL.height, SMALL.width), 200, np.uint8), "mono8",
                                                      "camera_depth_optical_frame"),
        "step 0": attr(step=0),
        "step short": lambda i, r: attr(step=max(i.step - 1, 0))(i, r),
        "step odd padded": lambda i, r: _padded(i, 3),
        "step huge": attr(step=UINT32_MAX),
        "width 0": attr(width=0),
        "height 0": attr(height=0),
        "width huge": attr(width=UINT32_MAX),
        "height huge": attr(height=UINT32_MAX),
        "size differs from camera_info": lambda i, r: numpy_to_image(np.full((6, 8), 500, np.uint16), "16UC1",
                                                                     "camera_depth_optical_frame"),
        "big endian": lambda i, r: _big_endian(i),
        "big endian flag only": attr(is_bigendian=1),
        "frame odd": lambda i, r: attr(header=_header(str(r.choice(ODD_FRAMES))))(i, r),
        "stamp in the past": attr(header=lambda i, r: _stamped(i.header.frame_id, 1.0)),
        "all zero": lambda i, r: numpy_to_image(np.zeros((SMALL.height, SMALL.width), np.uint16), "16UC1",
                                                "camera_depth_optical_frame"),
    }
    for value in SPECIAL_FLOATS:
        mutations[f"values {value}"] = values(value)
    return mutations


def _padded(image: Image, extra: int) -> Image:
    rows = np.frombuffer(bytes(image.data), np.uint8).reshape(image.height, image.step)
    padded = np.zeros((image.height, image.step + extra), np.uint8)
    padded[:, : image.step] = rows
    image.step, image.data = image.step + extra, padded.tobytes()
    return image


def _big_endian(image: Image) -> Image:
    if image.encoding not in ("16UC1", "mono16", "32FC1"):
        return image
    dtype = "u2" if image.encoding != "32FC1" else "f4"
    values = np.frombuffer(bytes(image.data), "<" + dtype)
    image.data, image.is_bigendian = values.astype(">" + dtype).tobytes(), 1
    return image


def _stamped(frame_id: str, seconds: float):
    header = _header(frame_id)
    header.stamp.sec = int(seconds)
    return header


# ---------------------------------------------------------------------------------------------- camera_info
def _camera_info(rng: np.random.Generator) -> tuple[str, CameraInfo]:
    info = intrinsics_to_camera_info(SMALL, "camera_depth_optical_frame")
    name = str(rng.choice(["valid", "k special", "fx <= 0", "size 0", "size huge", "k all zero", "size other"]))
    if name == "k special":
        k = list(info.k)
        k[int(rng.integers(9))] = float(rng.choice(SPECIAL_FLOATS))
        info.k = k
    elif name == "fx <= 0":
        k = list(info.k)
        k[0] = float(rng.choice([0.0, -15.0]))
        info.k = k
    elif name == "size 0":
        info.width = 0
    elif name == "size huge":
        info.width, info.height = UINT32_MAX, UINT32_MAX
    elif name == "k all zero":
        info.k = [0.0] * 9
    elif name == "size other":
        info.width, info.height = 8, 6
    return name, info


# ------------------------------------------------------------------------------------------------ services
def _detect_request(rng: np.random.Generator, cloud: PointCloud2, cloud_name: str) -> tuple[str, Any]:
    from grasp6d_ros.srv import DetectGrasps
    request = DetectGrasps.Request(cloud=cloud)
    name = str(rng.choice(["plain", "max_grasps", "min_score", "target_frame"]))
    if name == "max_grasps":
        request.max_grasps = int(rng.choice([-1, -2 ** 31, 2 ** 31 - 1, 0, 5]))
    elif name == "min_score":
        request.min_score = float(rng.choice(SPECIAL_FLOATS))
    elif name == "target_frame":
        request.target_frame = str(rng.choice(ODD_FRAMES))
    return f"{name} / cloud {cloud_name}", request


def valid_execute_request():
    """A grasp the sim hand can execute: the cube of the fuzz world, from straight above."""
    from grasp6d_ros.srv import ExecuteGrasp
    request = ExecuteGrasp.Request()
    request.header.frame_id = "panda_link0"
    grasp = request.grasp
    grasp.pose.position.z, grasp.width, grasp.depth, grasp.score = 0.035, 0.05, 0.02, 0.9
    grasp.pose.orientation.x, grasp.pose.orientation.y, grasp.pose.orientation.z, grasp.pose.orientation.w = \
        1.0, 0.0, 0.0, 0.0   # approach straight down (grasp x = base -z) in GraspNet's frame
    return request


def _execute_request(rng: np.random.Generator) -> tuple[str, Any]:
    from grasp6d_ros.srv import ExecuteGrasp
    request = valid_execute_request()
    grasp = request.grasp
    name = str(rng.choice(["empty request", "width", "depth", "position", "orientation", "score", "height",
                           "frame", "object_id", "ranked list"]))
    if name == "ranked list":   # the latest ~/grasps, some impossible: the executor skips those, tries the rest
        return name, _ranked_list(rng)
    special = float(rng.choice(SPECIAL_FLOATS + (-0.05, 1.0, 100.0)))
    if name == "empty request":
        request = ExecuteGrasp.Request()
    elif name in ("width", "depth", "score", "height"):
        setattr(grasp, name, special)
    elif name == "position":
        setattr(grasp.pose.position, str(rng.choice(["x", "y", "z"])), special)
    elif name == "orientation":
        setattr(grasp.pose.orientation, str(rng.choice(["x", "y", "z", "w"])), special)
    elif name == "frame":
        request.header.frame_id = str(rng.choice(ODD_FRAMES))
    elif name == "object_id":
        grasp.object_id = int(rng.choice([-2 ** 31, 2 ** 31 - 1]))
    return f"{name} {special:g}" if name in ("width", "depth", "position", "orientation", "score", "height") \
        else name, request


def _ranked_list(rng: np.random.Generator):
    from grasp6d_ros.msg import Grasp6DArray
    array = Grasp6DArray()
    array.header.frame_id = "panda_link0"
    for _ in range(int(rng.integers(0, 5))):
        _, request = _execute_request(rng)
        if hasattr(request, "grasp"):
            array.grasps.append(request.grasp)
    return array


def pick_goals(n: int, seed: int = 0) -> Iterator[tuple[str, Any]]:
    """``n`` Pick goals: the grasp form with the execute mutations, the detection form with odd values in its
    fields, and both forms at once (named; the goal as the second item)."""
    from grasp6d_ros.action import Pick
    rng = np.random.default_rng(seed)
    for index in range(n):
        goal = Pick.Goal()
        form = ("grasp", "detection", "both")[index % 3]
        name = form
        if form in ("grasp", "both"):
            name, request = _execute_request(rng)
            if not hasattr(request, "grasp"):    # a ranked list has no Pick form: the plain grasp instead
                name, request = "valid", valid_execute_request()
            goal.grasp, goal.header = request.grasp, request.header
            name = f"grasp: {name}"
        if form in ("detection", "both"):
            field = str(rng.choice(["max_grasps", "min_score", "target_frame", "roi", "approach", "object id",
                                    "mask", "max_attempts"]))
            special = float(rng.choice(SPECIAL_FLOATS))
            if field == "max_grasps":
                goal.max_grasps = int(rng.choice([-1, -2 ** 31, 2 ** 31 - 1, 0, 5]))
            elif field == "min_score":
                goal.min_score = special
            elif field == "target_frame":
                goal.target_frame = str(rng.choice(ODD_FRAMES))
            elif field == "roi":
                goal.roi_min.x, goal.roi_max.y = special, float(rng.choice(SPECIAL_FLOATS))
            elif field == "approach":
                goal.approach_axis.z, goal.max_approach_angle = special, float(rng.choice(SPECIAL_FLOATS))
            elif field == "object id":
                goal.target_object_id = int(rng.choice([-2 ** 31, 2 ** 31 - 1, 7]))
            elif field == "mask":
                goal.mask.height, goal.mask.width, goal.mask.encoding = 2, 2, str(rng.choice(["mono8", "rgb8", ""]))
                goal.mask.step, goal.mask.data = 2, [1, 2, 3]         # too short for its size
            else:
                goal.max_attempts = int(rng.choice([-1, -2 ** 31, 2 ** 31 - 1]))
            name = f"{name} + detection {field}" if form == "both" else f"detection: {field}"
        yield name, goal


# ---------------------------------------------------------------------------------------------- generator
def generate(n: int, seed: int = 0) -> Iterator[Case]:
    """``n`` cases, the five kinds in turn, mutations drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    cloud_mutations, image_mutations = _cloud_mutations(), _image_mutations()
    cloud_names, image_names = sorted(cloud_mutations), sorted(image_mutations)
    for index in range(n):
        kind = KINDS[index % len(KINDS)]
        if kind in ("cloud", "detect"):
            name = cloud_names[int(rng.integers(len(cloud_names)))]
            cloud = cloud_mutations[name](_valid_cloud(rng), rng)
            if kind == "cloud":
                yield Case(kind, name, cloud)
            else:
                request_name, request = _detect_request(rng, cloud, name)
                yield Case(kind, request_name, request)
        elif kind == "image":
            name = image_names[int(rng.integers(len(image_names)))]
            yield Case(kind, name, image_mutations[name](_valid_image(rng), rng))
        elif kind == "camera_info":
            yield Case(kind, *_camera_info(rng))
        else:
            yield Case(kind, *_execute_request(rng))
