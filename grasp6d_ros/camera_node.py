"""camera_node: publishes ``depth/image`` and ``depth/camera_info`` from any grasp6d depth source.

Parameters: ``source`` = realsense | kinect | playback | scene_dir, ``serial``, ``path`` (recording .db3/.bag/
.mkv or scene directory), ``fps``, ``width``/``height`` (RealSense), ``kinect_mode`` (NFOV/WFOV...),
``align_to_color``, ``frame_id``, ``loop``, ``encoding`` (16UC1 millimetres or 32FC1 metres). Messages are
stamped with the node clock when published (a recording's own clock is in the past). With a vendor driver
already running, skip this node and remap the TSDF node's inputs instead.
"""
from __future__ import annotations

import math
from typing import Any

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from grasp6d_core.sensing import SourceError, open_source
from grasp6d_ros.conversions import intrinsics_to_camera_info, metres_to_depth_image
from grasp6d_ros.spin import spin_until_shutdown

DEFAULTS: dict[str, Any] = {
    "source": "playback", "serial": "", "path": "", "fps": 30, "width": 640, "height": 480,
    "kinect_mode": "NFOV", "align_to_color": False, "frame_id": "camera_depth_optical_frame", "loop": False,
    "encoding": "16UC1",
}
# Sources that replay recorded frames (nothing is lost by waiting for a listener) vs. live cameras.
RECORDED_SOURCES = ("playback", "scene_dir")
# Reliable publishers match both reliable and best-effort (sensor-data) subscribers. The writer keeps the last
# 15 frames (1 s at 15 Hz) for repair: with 5, a subscriber slowed by a loaded CPU lost frames the writer had
# already dropped before they were acknowledged.
OUTPUT_QOS = QoSProfile(depth=15, reliability=ReliabilityPolicy.RELIABLE)


def check_fps(value) -> str | None:
    """Why ``fps`` is unusable (None when it is fine): the node publishes one frame per 1/fps seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return f"parameter fps must be a number > 0 (frames per second), got {value!r}"
    return None


class CameraNode(Node):
    def __init__(self, **node_kwargs):
        super().__init__("camera_node", **node_kwargs)
        self.source = None  # set once the source opened; destroy_node may run before (rclpy shutdown)
        for name, value in DEFAULTS.items():
            self.declare_parameter(name, value)
        p = lambda name: self.get_parameter(name).value  # noqa: E731
        if p("encoding") not in ("16UC1", "32FC1"):
            raise ValueError(f"parameter encoding must be 16UC1 or 32FC1, got '{p('encoding')}'")
        fps_error = check_fps(p("fps"))
        if fps_error:
            raise ValueError(fps_error)
        self.source = open_source(p("source"), serial=p("serial"), path=p("path"), width=p("width"),
                                  height=p("height"), fps=p("fps"), loop=p("loop"),
                                  align_to_color=p("align_to_color"), kinect_mode=p("kinect_mode"))
        self.frame_id, self.encoding = p("frame_id"), p("encoding")
        self.published = 0
        self._recorded, self._said_waiting = p("source") in RECORDED_SOURCES, False
        self._image_pub = self.create_publisher(Image, "depth/image", OUTPUT_QOS)
        self._info_pub = self.create_publisher(CameraInfo, "depth/camera_info", OUTPUT_QOS)
        self._timer = self.create_timer(1.0 / float(p("fps")), self._tick)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(f"publishing {self.resolve_topic_name('depth/image')} from {p('source')} "
                               f"{p('path') or p('serial') or ''} at {p('fps')} Hz in '{self.frame_id}'")

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """A new ``fps`` changes the publishing rate at once; fps <= 0 would publish nothing and is refused."""
        for parameter in parameters:
            if parameter.name == "fps":
                error = check_fps(parameter.value)
                if error:
                    self.get_logger().error(error)
                    return SetParametersResult(successful=False, reason=error)
        for parameter in parameters:
            if parameter.name == "fps":
                self._timer.timer_period_ns = int(1e9 / float(parameter.value))
                self.get_logger().info(f"publishing at {parameter.value} Hz")
        return SetParametersResult(successful=True)

    def _tick(self) -> None:
        if self._recorded and self._image_pub.get_subscription_count() == 0:
            # A recording waits for its first listener: frames published before anyone matched are gone.
            if not self._said_waiting:
                self._said_waiting = True
                self.get_logger().info(f"waiting for a subscriber on {self.resolve_topic_name('depth/image')} "
                                       f"before playing the recording")
            return
        try:
            frame = self.source.read(timeout=0.005)  # never block the executor for long
        except SourceError as error:
            self.get_logger().error(f"reading the depth source failed: {error}", throttle_duration_sec=5.0)
            return
        if frame is None:
            if self.source.finished:
                self.get_logger().info(f"end of the recording after {self.published} frames")
                self._timer.cancel()
            return
        stamp = self.get_clock().now().to_msg()
        # camera_info first: a subscriber that gets the image first has no intrinsics for it yet
        self._info_pub.publish(intrinsics_to_camera_info(frame.intrinsics, self.frame_id, stamp))
        self._image_pub.publish(metres_to_depth_image(frame.depth, self.encoding, self.frame_id, stamp))
        self.published += 1

    def destroy_node(self) -> None:
        if self.source is not None:
            self.source.close()
        super().destroy_node()


def main(args=None) -> None:
    rclpy.init(args=args)
    try:
        node = CameraNode()
    except (SourceError, ValueError) as error:
        rclpy.logging.get_logger("camera_node").fatal(str(error))
        rclpy.try_shutdown()
        raise SystemExit(1)
    spin_until_shutdown(node)


if __name__ == "__main__":
    main()
