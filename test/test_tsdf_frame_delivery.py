"""camera_node (its own process) -> tsdf_node over Fast DDS at 1280x720 and 15 Hz: at least 95 % of the frames are
fused, and every frame not fused is counted, logged and reported on /diagnostics. The long run with figures is
test/test_bench_tsdf_delivery.py (marked benchmark)."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.parameter import Parameter

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.sensing.realsense_record import write_recording
from grasp6d_core.sensing.synthetic import TabletopScene, overhead_pose
from grasp6d_ros.frame_queue import FrameQueue
from grasp6d_ros.tsdf_node import LOST_IN_TRANSPORT, QUEUE_FULL, TSDFNode
from ros_helpers import spinning, terminate, wait_for

HD = CameraIntrinsics(1280, 720, 910.0, 910.0, 639.5, 359.5)   # a D435 colour-aligned 1280x720 stream
FRAMES, FPS = 20, 15


class DiagnosticsListener(Node):
    def __init__(self, context):
        super().__init__("diagnostics_listener", context=context)
        self.reports: list = []
        self.create_subscription(DiagnosticArray, "/diagnostics", self.reports.append, 10)

    def latest(self, name="/tsdf_node: depth input"):
        for array in reversed(self.reports):
            for status in array.status:
                if status.name == name:
                    return status, {kv.key: kv.value for kv in status.values}
        return None, {}


def start_camera_process(recording, fps):
    """camera_node as a user starts it: its own process, so frames really cross Fast DDS's transports. Its log
    lines are collected as they come (``process.log_lines``), so a test can wait for one."""
    process = subprocess.Popen([sys.executable, "-m", "grasp6d_ros.camera_node", "--ros-args", "-p",
                                f"path:={recording}", "-p", f"fps:={fps}", "-p", "source:=playback"],
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    process.log_lines = []

    def read() -> None:
        for line in process.stderr:
            process.log_lines.append(line)
    process.reader = threading.Thread(target=read, daemon=True)
    process.reader.start()
    return process


def logged(process, text: str) -> bool:
    return any(text in line for line in list(process.log_lines))


def stop(process) -> str:
    terminate(process)
    process.reader.join(timeout=5)
    return "".join(process.log_lines)


def hd_recording(path, frames):
    depth = TabletopScene().renderer().render(HD, overhead_pose(0.6))[0]
    write_recording(path, [depth] * frames, HD)
    return path


def test_camera_to_tsdf_fuses_95_percent_of_hd_frames_at_15_hz_and_reports_them(tmp_path):
    recording = hd_recording(tmp_path / "table_hd.db3", FRAMES)
    with spinning(lambda ctx: TSDFNode(context=ctx), DiagnosticsListener) as (tsdf, listener):
        camera = start_camera_process(recording, FPS)
        try:
            assert wait_for(lambda: tsdf.received + tsdf.counts[LOST_IN_TRANSPORT] >= FRAMES, timeout=60), \
                (tsdf.received, dict(tsdf.counts))
            assert wait_for(tsdf.queue.idle, timeout=30)
            # the camera says so at its first tick after the last frame, which may come after that frame is fused
            ended = wait_for(lambda: logged(camera, f"end of the recording after {FRAMES} frames"), timeout=10)
        finally:
            log = stop(camera)
        assert ended, log[-2000:]
        fused = tsdf.counts["integrated"]
        assert fused >= 0.95 * FRAMES, dict(tsdf.counts)
        # every delivered frame is fused or counted under a reason
        assert sum(tsdf.counts.values()) == tsdf.received + tsdf.counts[LOST_IN_TRANSPORT], dict(tsdf.counts)
        assert wait_for(lambda: listener.latest()[1].get("integrated") == str(fused), timeout=5)
        status, values = listener.latest()
        assert values["received"] == str(tsdf.received) and "late" in values and "integrate_ms_mean" in values
        assert f"fused {fused} of {tsdf.received} frames received" in status.message


def test_a_full_queue_drops_the_oldest_and_says_so():
    release, handled, dropped = threading.Event(), [], []
    queue = FrameQueue(2, handle=lambda item: (release.wait(5), handled.append(item)), on_drop=dropped.append,
                       on_error=lambda item, error: None)
    try:
        for item in range(5):   # the worker holds 0; 1..4 compete for two places
            queue.put(item)
            time.sleep(0.05)
        assert dropped == [1, 2] and len(queue) == 2 and not queue.idle()
        release.set()
        assert wait_for(queue.idle, timeout=5) and handled == [0, 3, 4]
    finally:
        queue.close()


def test_a_failing_frame_is_reported_and_the_worker_goes_on():
    errors, handled = [], []

    def handle(item):
        if item == "bad":
            raise RuntimeError("boom")
        handled.append(item)
    queue = FrameQueue(4, handle=handle, on_drop=lambda item: None, on_error=lambda item, e: errors.append((item, e)))
    try:
        for item in ("a", "bad", "b"):
            queue.put(item)
        assert wait_for(lambda: queue.idle() and len(handled) == 2, timeout=5)
        assert handled == ["a", "b"] and errors[0][0] == "bad" and str(errors[0][1]) == "boom"
    finally:
        queue.close()


def test_frames_lost_in_transport_and_queue_overflow_are_counted_in_the_node():
    """The DDS message-lost event and queue overflow are counted per reason (fed straight to the callbacks)."""
    import rclpy
    from rclpy.context import Context
    from types import SimpleNamespace
    context = Context()
    rclpy.init(context=context)
    node = TSDFNode(context=context)
    try:
        node._on_message_lost(SimpleNamespace(total_count=7, total_count_change=7))   # rmw_message_lost_status_t
        node._on_queue_full(None)
        stats = node.stats()
        assert stats[LOST_IN_TRANSPORT] == 7 and stats[QUEUE_FULL] == 1 and stats["received"] == 0
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
    assert np.isfinite(stats["integrate_ms_mean"])


def test_a_best_effort_only_publisher_is_reported_as_incompatible():
    """tsdf_node reads reliable by default; a best-effort driver never matches, and the node says so."""
    from diagnostic_msgs.msg import DiagnosticStatus
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    with spinning(lambda ctx: TSDFNode(context=ctx, parameter_overrides=[Parameter("stats_period", value=0.2)]),
                  DiagnosticsListener) as (tsdf, listener):
        listener.create_publisher(Image, "depth/image", QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT))
        assert wait_for(lambda: tsdf.incompatible_publishers >= 1, timeout=10)
        assert wait_for(lambda: listener.latest()[1].get("incompatible_publishers") == "1", timeout=5)
        assert listener.latest()[0].level == DiagnosticStatus.ERROR
