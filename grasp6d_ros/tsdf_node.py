"""tsdf_node: fuses depth images into a TSDF and publishes the surface (points + normals) for the detector.

Subscribes ``depth/image`` + ``depth/camera_info`` (remap them onto a vendor driver's topics), takes each
camera pose from grasp6d_ros.frames (TF where tf2_ros exists, else static_transforms parameters), fuses every
frame in arrival order, publishes ``~/surface`` (PointCloud2 x y z normal_x normal_y normal_z in ``task_frame``,
latched) at ``publish_rate`` Hz, reports its input statistics on ``/diagnostics`` and serves ``~/reset``
(std_srvs/Trigger) and ``~/toggle_integration`` (std_srvs/SetBool).

No frame is lost without a count (docs/perception.md, "Frame delivery"): the image subscription is reliable by
default (a best-effort 1280x720 frame is larger than Fast DDS's shared-memory segment and its lost fragments are
never repaired), its callback only queues the frame, and one worker thread integrates the queue in order
(grasp6d_ros.frame_queue). Frames dropped because the queue was full, lost in transport (best effort), fused
late or skipped as bad input are counted per reason, logged (throttled per reason) and published.

Lifecycle (grasp6d_ros.managed_node, docs/ros_app.md "Lifecycle"): configure allocates the volume and makes the
input subscriptions, the integration worker and the timers from the parameters; activate starts fusing and
publishing ``~/surface``; frames arriving while inactive are counted ("inactive") and not fused; cleanup frees the
volume. /diagnostics keeps reporting while inactive, so those counts are seen.

Bad input never stops the node: what is already fused stays. Invalid pixels (NaN, inf, <= 0) are normal sensor
output and count as "no measurement"; a frame is skipped only when fewer than ``min_valid_fraction`` of its
pixels are valid.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.timer import Timer
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header
from std_srvs.srv import SetBool, Trigger

from grasp6d_core.sensing.tsdf import TSDFConfig, TSDFVolume
from grasp6d_ros.conversions import (ConversionError, camera_info_to_intrinsics, depth_image_to_metres,
                                     numpy_to_pointcloud2, stamp_to_seconds)
from grasp6d_ros.frame_queue import FrameQueue
from grasp6d_ros.frames import FrameBuffer, FrameError
from grasp6d_ros.managed_node import ManagedNode
from grasp6d_ros.spin import spin_until_shutdown

DEFAULTS: dict[str, Any] = {
    "task_frame": "world",
    "transform_source": "auto",  # auto | tf | static
    "static_transforms": ["world camera_depth_optical_frame 0.0 0.0 0.6 1.0 0.0 0.0 0.0"],
    "tf_timeout": 0.05,
    "voxel_size": 0.005, "trunc_voxels": 4.0, "max_depth": 1.5, "min_weight": 1.0,
    "workspace": [-0.3, 0.3, -0.3, 0.3, -0.02, 0.3],
    "device": "cpu", "threads": 2,
    "qos": "reliable",  # reliable | sensor_data (best effort, for drivers that only offer that)
    "qos_depth": 10,  # DDS history of the image subscription
    "queue_size": 10,  # frames waiting for integration; a full queue drops its oldest (counted)
    "late_after": 1.0,  # s from arrival to fused after which a frame counts as late
    "publish_rate": 2.0,  # Hz; only when the volume changed
    "stats_period": 1.0,  # s between two /diagnostics reports
    "n_points": 20000,
    "min_valid_fraction": 0.01,
    "log_throttle": 5.0,  # seconds between two log lines of the same skip reason
}
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Counted reasons a received frame was not fused besides bad input (docs/perception.md lists them all).
QUEUE_FULL, LOST_IN_TRANSPORT, PAUSED, INACTIVE = "dropped: queue full", "lost in transport", "paused", "inactive"


def input_qos(name: str, depth: int) -> QoSProfile:
    if depth < 1:
        raise ValueError(f"parameter qos_depth must be >= 1, got {depth}")
    if name == "sensor_data":
        return QoSProfile(depth=depth, reliability=ReliabilityPolicy.BEST_EFFORT)
    if name == "reliable":
        return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
    raise ValueError(f"parameter qos must be 'reliable' or 'sensor_data', got '{name}'")


class SkipFrame(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class TSDFNode(ManagedNode):
    def __init__(self, **node_kwargs):
        super().__init__("tsdf_node", **node_kwargs)
        for name, value in DEFAULTS.items():
            self.declare_parameter(name, value)
        self.volume: TSDFVolume | None = None   # configure allocates it, cleanup frees it
        self.frames: FrameBuffer | None = None
        self.queue: FrameQueue[tuple[Image, float]] | None = None
        self._configured: list = []   # subscriptions and timers made by configure, destroyed by cleanup
        self.counts: Counter = Counter()  # integrated and every reason a frame was not
        self.received = 0  # depth frames delivered to the callback
        self.late = 0  # fused more than late_after seconds after arrival
        self.integrate_seconds = 0.0  # time spent fusing, in total
        self.incompatible_publishers = 0  # publishers on depth/image whose QoS this subscription cannot match
        self._stats_lock = threading.Lock()
        self._volume_lock = threading.Lock()  # the worker integrates while the timer extracts the surface
        self._period = {"integrate_s": 0.0, "fused": 0, "max_latency_s": 0.0}
        self._last_log: dict[str, float] = {}
        self._intrinsics = None
        self._last_stamp: float | None = None
        self._integrating = True
        self._reset_at = float("-inf")   # frames that arrived before the last ~/reset are never fused
        self._dirty = True  # publish once when active (an empty surface) so subscribers know the node is up
        self._surface_pub = self.create_lifecycle_publisher(PointCloud2, "~/surface", LATCHED)
        self._stats_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(SetBool, "~/toggle_integration", self._on_toggle)
        self.start()

    # -------------------------------------------------------------------------------------- lifecycle
    def configure(self) -> None:
        """Everything the parameters decide: a bad value fails here, naming it, and the node stays unconfigured."""
        p = self.param
        qos = input_qos(p("qos"), int(p("qos_depth")))
        self.frames = FrameBuffer(self, mode=p("transform_source"))
        self.volume = TSDFVolume(TSDFConfig(
            voxel_size=p("voxel_size"), trunc_voxels=p("trunc_voxels"), max_depth=p("max_depth"),
            workspace=list(p("workspace")) or None, device=p("device"), threads=p("threads"),
            min_weight=p("min_weight")))
        self.queue = FrameQueue(int(p("queue_size")), self._integrate_queued, on_drop=self._on_queue_full,
                                on_error=self._on_worker_error, name="tsdf-integrate")
        events = SubscriptionEventCallbacks(message_lost=self._on_message_lost,
                                            incompatible_qos=self._on_incompatible_qos)
        inputs = MutuallyExclusiveCallbackGroup()  # info before image, never both at once
        self._configured = [
            self.create_subscription(Image, "depth/image", self._on_depth, qos, event_callbacks=events,
                                     callback_group=inputs),
            self.create_subscription(CameraInfo, "depth/camera_info", self._on_info, qos, callback_group=inputs),
            self.create_timer(1.0 / max(float(p("publish_rate")), 1e-3), self._publish_if_changed),
            self.create_timer(max(float(p("stats_period")), 0.05), self._publish_stats)]
        self._intrinsics, self._last_stamp, self._dirty = None, None, True
        self.get_logger().info(
            f"TSDF in '{p('task_frame')}': voxel {p('voxel_size')} m, workspace {list(p('workspace'))}, "
            f"device {p('device')}; {self.frames.description}; inputs "
            f"{self.resolve_topic_name('depth/image')} + {self.resolve_topic_name('depth/camera_info')} "
            f"({p('qos')} QoS, history {p('qos_depth')}, queue {p('queue_size')} frames)")

    def release(self) -> None:
        for entity in self._configured:
            (self.destroy_timer if isinstance(entity, Timer) else self.destroy_subscription)(entity)
        self._configured = []
        if self.queue is not None:
            self.queue.close()   # after the subscription is gone: nothing can queue a frame any more
        with self._volume_lock:   # waits for an integration or a surface extraction under way
            frames, self.volume, self.queue, self.frames = self.frames, None, None, None
        if frames is not None:
            frames.close()   # no integration can look a transform up any more

    def param(self, name: str):
        return self.get_parameter(name).value

    def count(self, reason: str, n: int = 1) -> None:
        with self._stats_lock:
            self.counts[reason] += n

    # ------------------------------------------------------------------------------------------- inputs
    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self._intrinsics = camera_info_to_intrinsics(msg)
        except ConversionError as error:
            self._skip("bad camera_info", str(error))

    def _on_depth(self, msg: Image) -> None:
        with self._stats_lock:
            self.received += 1
        if not self.active:
            self.count(INACTIVE)
            return
        if not self._integrating:
            self.count(PAUSED)
            return
        queue = self.queue
        if queue is None:   # cleaned up while this callback ran
            self.count(INACTIVE)
            return
        queue.put((msg, time.monotonic()))

    def _on_queue_full(self, item: tuple[Image, float]) -> None:
        self._skip(QUEUE_FULL, f"integration is slower than the camera; the oldest of {self.param('queue_size')} "
                               f"queued frames was dropped (raise queue_size or lower the camera rate)")

    def _on_message_lost(self, info) -> None:
        self._skip(LOST_IN_TRANSPORT, f"{info.total_count_change} depth frame(s) lost by DDS before delivery "
                                      f"({info.total_count} in total; with qos=sensor_data large images lose "
                                      f"fragments, see docs/perception.md)", n=int(info.total_count_change))

    def _on_incompatible_qos(self, info) -> None:
        with self._stats_lock:
            self.incompatible_publishers += 1
        self.get_logger().error(
            f"a publisher on {self.resolve_topic_name('depth/image')} offers QoS this node cannot match "
            f"(qos={self.param('qos')}); nothing is received from it. A best-effort camera driver needs "
            f"qos:=sensor_data", throttle_duration_sec=float(self.param("log_throttle")))

    def _on_worker_error(self, item: tuple[Image, float], error: Exception) -> None:
        self._skip("internal error", f"{type(error).__name__}: {error}")

    def _integrate_queued(self, item: tuple[Image, float]) -> None:
        msg, arrived = item
        if not self.active:   # deactivated while this frame waited in the queue: it is not fused either
            self.count(INACTIVE)
            return
        if not self._integrating:   # paused while this frame waited in the queue: it is not fused either
            self.count(PAUSED)
            return
        try:
            start = time.monotonic()
            self._integrate(msg, arrived)
        except SkipFrame as skip:
            self._skip(skip.reason, skip.detail)
            return
        done = time.monotonic()
        latency = done - arrived
        with self._stats_lock:
            self.counts["integrated"] += 1
            self._period["fused"] += 1
            self._period["integrate_s"] += done - start
            self.integrate_seconds += done - start
            self._period["max_latency_s"] = max(self._period["max_latency_s"], latency)
            late = latency > float(self.param("late_after"))
            self.late += int(late)
        if late:
            self._log_throttled("late", f"frame fused {latency:.2f} s after it arrived (late_after="
                                        f"{self.param('late_after')} s; {self.late} late so far): integration "
                                        f"is slower than the camera")

    def _integrate(self, msg: Image, arrived: float = float("inf")) -> None:
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
        except FrameError as error:
            raise SkipFrame("missing transform", str(error)) from error
        with self._volume_lock:
            if arrived < self._reset_at:
                raise SkipFrame("before reset", "the frame arrived before ~/reset cleared the volume")
            if self.volume is None:   # a cleanup freed it while this frame was being prepared
                raise SkipFrame(INACTIVE, "the node was cleaned up")
            try:
                self.volume.integrate_depth(depth, K, T)
            except ValueError as error:
                raise SkipFrame("bad frame", str(error)) from error
            self._last_stamp = stamp
            self._dirty = True

    def _skip(self, reason: str, detail: str, n: int = 1) -> None:
        self.count(reason, n)
        self._log_throttled(reason, f"skipped frame ({reason}, {self.counts[reason]} so far): {detail}")

    def _log_throttled(self, key: str, text: str) -> None:
        now = time.monotonic()
        with self._stats_lock:
            if now - self._last_log.get(key, -np.inf) < float(self.param("log_throttle")):
                return
            self._last_log[key] = now
        self.get_logger().warning(text)

    # ------------------------------------------------------------------------------------------ outputs
    def _publish_if_changed(self) -> None:
        if not self._dirty or not self._surface_pub.is_activated:   # inactive: extract it once active again
            return
        self._dirty = False
        with self._volume_lock:
            if self.volume is None:
                return
            points, normals = self.volume.surface(n_points=int(self.param("n_points")) or None)
        self._surface_pub.publish(numpy_to_pointcloud2(points, normals, frame_id=self.param("task_frame"),
                                                       stamp=self.get_clock().now().to_msg()))

    def stats(self) -> dict[str, float]:
        """Totals since start (received, integrated, late, each reason) and this period's timing; resets the period."""
        with self._stats_lock:
            period, self._period = self._period, {"integrate_s": 0.0, "fused": 0, "max_latency_s": 0.0}
            values = {"received": self.received, "late": self.late,
                      "incompatible_publishers": self.incompatible_publishers, **self.counts}
        values["queued"] = len(self.queue) if self.queue is not None else 0
        values["integrate_ms_mean"] = 1000.0 * period["integrate_s"] / period["fused"] if period["fused"] else 0.0
        values["latency_ms_max"] = 1000.0 * period["max_latency_s"]
        return values

    def _publish_stats(self) -> None:
        values = self.stats()
        lost = sum(v for k, v in values.items() if k in (QUEUE_FULL, LOST_IN_TRANSPORT))
        status = DiagnosticStatus(name=f"{self.get_fully_qualified_name()}: depth input", hardware_id="")
        if values["incompatible_publishers"]:
            status.level = DiagnosticStatus.ERROR
        else:
            status.level = DiagnosticStatus.WARN if lost or values["late"] else DiagnosticStatus.OK
        status.message = (f"{'' if self.active else self.state + ': '}"
                          f"fused {values.get('integrated', 0)} of {values['received']} frames received; "
                          f"{values.get(QUEUE_FULL, 0)} dropped (queue full), {values.get(LOST_IN_TRANSPORT, 0)} "
                          f"lost in transport, {values['late']} late, {values.get(INACTIVE, 0)} while inactive")
        status.values = [KeyValue(key=key, value=f"{value:.1f}" if isinstance(value, float) else str(value))
                         for key, value in values.items()]
        self._stats_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                                status=[status]))

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._volume_lock:
            volume = self.volume
            if volume is None:
                response.success, response.message = False, f"no volume to clear: {self.not_active_reason()}"
                return response
            fused = volume.frames_integrated
            volume.reset()
            self._last_stamp = None
            self._reset_at = time.monotonic()
        self._dirty = True
        self._publish_if_changed()  # subscribers see the empty surface at once
        response.success, response.message = True, f"TSDF cleared ({fused} frames were fused)"
        return response

    def _on_toggle(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self._integrating = bool(request.data)
        response.success = True
        response.message = "integrating" if self._integrating else "integration paused (the surface is kept)"
        return response

    def destroy_node(self) -> None:
        if self.queue is not None:
            self.queue.close()
        super().destroy_node()


def main(args=None) -> None:
    rclpy.init(args=args)
    node = TSDFNode()
    spin_until_shutdown(node, threads=3)


if __name__ == "__main__":
    main()
