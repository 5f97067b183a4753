"""tsdf_node: fuses depth images into a TSDF and publishes the surface (points + normals) for the detector.

Subscribes ``depth/image`` + ``depth/camera_info`` (remap them onto a vendor driver's topics), takes each
camera pose from grasp6d_ros.frames (TF where tf2_ros exists, else static_transforms parameters), integrates
the newest frame at ``integrate_rate`` Hz, publishes ``~/surface`` (PointCloud2 x y z normal_x normal_y
normal_z in ``task_frame``, latched) at ``publish_rate`` Hz and serves ``~/reset`` (std_srvs/Trigger) and
``~/toggle_integration`` (std_srvs/SetBool).

Bad input never stops the node: every skipped frame is counted per reason and logged (throttled per reason)
with what was wrong; what is already fused stays. Invalid pixels (NaN, inf, <= 0) are normal sensor output
and count as "no measurement"; a frame is skipped only when fewer than ``min_valid_fraction`` of its pixels
are valid.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data)
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_srvs.srv import SetBool, Trigger

from grasp6d_core.sensing.tsdf import TSDFConfig, TSDFVolume
from grasp6d_ros.conversions import (ConversionError, camera_info_to_intrinsics, depth_image_to_metres,
                                     numpy_to_pointcloud2, stamp_to_seconds)
from grasp6d_ros.frames import FrameBuffer, TransformUnavailable
from grasp6d_ros.spin import spin_until_shutdown

DEFAULTS: dict[str, Any] = {
    "task_frame": "world",
    "transform_source": "auto",  # auto | tf | static
    "static_transforms": ["world camera_depth_optical_frame 0.0 0.0 0.6 1.0 0.0 0.0 0.0"],
    "tf_timeout": 0.05,
    "voxel_size": 0.005, "trunc_voxels": 4.0, "max_depth": 1.5, "min_weight": 1.0,
    "workspace": [-0.3, 0.3, -0.3, 0.3, -0.02, 0.3],
    "device": "cpu", "threads": 2,
    "integrate_rate": 15.0,  # Hz; newer frames replace a pending one
    "publish_rate": 2.0,  # Hz; only when the volume changed
    "n_points": 20000,
    "qos": "sensor_data",  # sensor_data (best effort) | reliable
    "min_valid_fraction": 0.01,
    "log_throttle": 5.0,  # seconds between two log lines of the same skip reason
}
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def input_qos(name: str) -> QoSProfile:
    if name == "sensor_data":
        return qos_profile_sensor_data
    if name == "reliable":
        return QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    raise ValueError(f"parameter qos must be 'sensor_data' or 'reliable', got '{name}'")


class SkipFrame(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class TSDFNode(Node):
    def __init__(self, **node_kwargs):
        super().__init__("tsdf_node", **node_kwargs)
        for name, value in DEFAULTS.items():
            self.declare_parameter(name, value)
        p = self.param
        self.volume = TSDFVolume(TSDFConfig(
            voxel_size=p("voxel_size"), trunc_voxels=p("trunc_voxels"), max_depth=p("max_depth"),
            workspace=list(p("workspace")) or None, device=p("device"), threads=p("threads"),
            min_weight=p("min_weight")))
        self.frames = FrameBuffer(self, mode=p("transform_source"))
        self.counts: Counter = Counter()  # integrated, skip reasons, paused
        self._last_log: dict[str, float] = {}
        self._intrinsics = None
        self._pending: Image | None = None
        self._last_stamp: float | None = None
        self._integrating = True
        self._dirty = True  # publish once at start (an empty surface) so subscribers know the node is up

        qos = input_qos(p("qos"))
        self.create_subscription(Image, "depth/image", self._on_depth, qos)
        self.create_subscription(CameraInfo, "depth/camera_info", self._on_info, qos)
        self._surface_pub = self.create_publisher(PointCloud2, "~/surface", LATCHED)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(SetBool, "~/toggle_integration", self._on_toggle)
        rate = float(p("integrate_rate"))
        if rate > 0:
            self.create_timer(1.0 / rate, self._integrate_pending)
        self.create_timer(1.0 / max(float(p("publish_rate")), 1e-3), self._publish_if_changed)
        self.get_logger().info(
            f"TSDF in '{p('task_frame')}': voxel {p('voxel_size')} m, workspace {list(p('workspace'))}, "
            f"device {p('device')}; {self.frames.description}; inputs "
            f"{self.resolve_topic_name('depth/image')} + {self.resolve_topic_name('depth/camera_info')} "
            f"({p('qos')} QoS)")

    def param(self, name: str):
        return self.get_parameter(name).value

    # ------------------------------------------------------------------------------------------- inputs
    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self._intrinsics = camera_info_to_intrinsics(msg)
        except ConversionError as error:
            self._skip("bad camera_info", str(error))

    def _on_depth(self, msg: Image) -> None:
        self._pending = msg
        if float(self.param("integrate_rate")) <= 0:
            self._integrate_pending()

    def _integrate_pending(self) -> None:
        msg, self._pending = self._pending, None
        if msg is None:
            return
        if not self._integrating:
            self.counts["paused"] += 1
            return
        try:
            self._integrate(msg)
        except SkipFrame as skip:
            self._skip(skip.reason, skip.detail)

    def _integrate(self, msg: Image) -> None:
        try:
            depth = depth_image_to_metres(msg)
        except ConversionError as error:
            raise SkipFrame("bad image", str(error)) from error
        if self._intrinsics is None:
            raise SkipFrame("no camera_info", f"nothing received on {self.resolve_topic_name('depth/camera_info')}")
        K = self._intrinsics
        if depth.shape != (K.height, K.width):
            raise SkipFrame("size mismatch", f"image is {depth.shape[1]}x{depth.shape[0]}, camera_info says "
                            f"{K.width}x{K.height}")
        stamp = stamp_to_seconds(msg.header.stamp)
        if self._last_stamp is not None and stamp <= self._last_stamp:
            raise SkipFrame("out of order", f"stamp {stamp:.6f} is not newer than the last fused frame "
                            f"{self._last_stamp:.6f}")
        finite = np.isfinite(depth)
        valid = int(np.count_nonzero(finite & (depth > 0)))
        if valid < float(self.param("min_valid_fraction")) * depth.size:
            raise SkipFrame("no valid depth", f"{valid} of {depth.size} pixels valid "
                            f"({depth.size - int(finite.sum())} NaN/inf, "
                            f"{int(np.count_nonzero(finite & (depth <= 0)))} zero/negative)")
        try:
            T = self.frames.lookup(self.param("task_frame"), msg.header.frame_id, msg.header.stamp,
                                   timeout=float(self.param("tf_timeout")))
        except TransformUnavailable as error:
            raise SkipFrame("missing transform", str(error)) from error
        try:
            self.volume.integrate_depth(depth, K, T)
        except ValueError as error:
            raise SkipFrame("bad frame", str(error)) from error
        self._last_stamp = stamp
        self._dirty = True
        self.counts["integrated"] += 1

    def _skip(self, reason: str, detail: str) -> None:
        self.counts[reason] += 1
        now = time.monotonic()
        if now - self._last_log.get(reason, -np.inf) >= float(self.param("log_throttle")):
            self._last_log[reason] = now
            self.get_logger().warning(f"skipped frame ({reason}, {self.counts[reason]} so far): {detail}")

    # ------------------------------------------------------------------------------------------ outputs
    def _publish_if_changed(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        points, normals = self.volume.surface(n_points=int(self.param("n_points")) or None)
        self._surface_pub.publish(numpy_to_pointcloud2(points, normals, frame_id=self.param("task_frame"),
                                                       stamp=self.get_clock().now().to_msg()))

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        fused = self.volume.frames_integrated
        self.volume.reset()
        self._last_stamp = None
        self._dirty = True
        self._publish_if_changed()  # subscribers see the empty surface at once
        response.success, response.message = True, f"TSDF cleared ({fused} frames were fused)"
        return response

    def _on_toggle(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self._integrating = bool(request.data)
        response.success = True
        response.message = "integrating" if self._integrating else "integration paused (the surface is kept)"
        return response


def main(args=None) -> None:
    rclpy.init(args=args)
    node = TSDFNode()
    spin_until_shutdown(node, threads=2)


if __name__ == "__main__":
    main()
