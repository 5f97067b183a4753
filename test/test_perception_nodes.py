"""camera_node -> tsdf_node -> subscriber over real rclpy / Fast DDS, services, and every bad input."""
import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_srvs.srv import SetBool, Trigger

from grasp6d_core.sensing.realsense_record import write_recording
from grasp6d_core.camera import REALSENSE_640
from grasp6d_core.sensing.synthetic import TabletopScene, overhead_pose
from grasp6d_ros.camera_node import CameraNode
from grasp6d_ros.conversions import (intrinsics_to_camera_info, metres_to_depth_image, numpy_to_image,
                                     pointcloud2_to_numpy)
from grasp6d_ros.tsdf_node import TSDFNode
from ros_helpers import call_service, spinning, wait_for

K = REALSENSE_640.scaled(0.5)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class Listener(Node):
    """Keeps the latest ~/surface and serves as the client side of the services."""

    def __init__(self, context):
        super().__init__("perception_test_listener", context=context)
        self.surface = None
        self.create_subscription(PointCloud2, "/tsdf_node/surface", self._on_surface, LATCHED)
        self.reset = self.create_client(Trigger, "/tsdf_node/reset")
        self.toggle = self.create_client(SetBool, "/tsdf_node/toggle_integration")
        self.image_pub = self.create_publisher(Image, "depth/image", 10)
        self.info_pub = self.create_publisher(CameraInfo, "depth/camera_info", 10)

    def _on_surface(self, msg):
        self.surface = msg

    def surface_size(self):
        return -1 if self.surface is None else self.surface.width * self.surface.height


@pytest.fixture(scope="module")
def table_depth():
    return TabletopScene().renderer().render(K, overhead_pose(0.6))[0]


def test_recording_through_camera_and_tsdf_nodes_gives_a_surface_and_reset_empties_it(tmp_path, table_depth):
    recording = tmp_path / "table.db3"
    write_recording(recording, [table_depth] * 5, K)
    camera = lambda ctx: CameraNode(context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("source", value="playback"), Parameter("path", value=str(recording)),
        Parameter("loop", value=True), Parameter("fps", value=15)])
    tsdf = lambda ctx: TSDFNode(context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("publish_rate", value=5.0)])
    with spinning(camera, tsdf, Listener) as (camera_node, tsdf_node, listener):
        assert tsdf_node.frames.backend == "static"  # tf2_ros is not installed here
        assert wait_for(lambda: listener.surface_size() > 2000, timeout=20), (tsdf_node.counts, listener.surface_size())
        points, normals = pointcloud2_to_numpy(listener.surface, with_normals=True)
        assert listener.surface.header.frame_id == "world" and normals is not None
        # the static camera 0.6 m above the table sees the table top (z = 0) and the object tops (<= 0.083 m)
        assert np.all(np.abs(points[:, :2]) <= 0.3 + 1e-6) and np.all((points[:, 2] > -0.01) & (points[:, 2] < 0.09))
        assert np.mean(np.abs(points[:, 2]) < 0.005) > 0.5 and np.mean(normals[:, 2] > 0.9) > 0.8
        assert camera_node.published >= 2 and not any(k for k in tsdf_node.counts if k not in ("integrated", "paused"))

        assert call_service(listener.toggle, SetBool.Request(data=False)).success
        answer = call_service(listener.reset, Trigger.Request())
        assert answer.success and "frames were fused" in answer.message
        assert wait_for(lambda: listener.surface_size() == 0, timeout=10)
        assert wait_for(lambda: tsdf_node.counts["paused"] >= 2, timeout=10) and tsdf_node.volume.is_empty()
        assert call_service(listener.toggle, SetBool.Request(data=True)).success
        assert wait_for(lambda: listener.surface_size() > 2000, timeout=20)


def test_every_bad_input_is_skipped_counted_and_the_node_keeps_running(table_depth):
    tsdf = lambda ctx: TSDFNode(context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("qos", value="reliable"),
        Parameter("publish_rate", value=10.0), Parameter("log_throttle", value=0.0)])
    frame_id = "camera_depth_optical_frame"
    with spinning(tsdf, Listener) as (node, listener):
        stamp = [100.0]

        def send(depth_msg, info=None, expect=None):
            if info is not None:
                listener.info_pub.publish(info)
                assert wait_for(lambda: node._intrinsics is not None and
                                (node._intrinsics.width, node._intrinsics.height) == (info.width, info.height))
            before = node.counts.copy()
            listener.image_pub.publish(depth_msg)
            assert wait_for(lambda: sum(node.counts.values()) > sum(before.values()), timeout=10), expect
            changed = {k for k in node.counts if node.counts[k] != before[k]}
            assert changed == {expect}, (changed, expect)

        def good(t=None, depth=table_depth, encoding="16UC1", fid=frame_id):
            if t is None:
                stamp[0] += 0.25  # exact in binary (make_header wraps x.9999999999 to x.0)
            return metres_to_depth_image(depth, encoding, fid, stamp[0] if t is None else t)

        assert wait_for(lambda: listener.info_pub.get_subscription_count() > 0 and
                        listener.image_pub.get_subscription_count() > 0)
        send(good(), expect="no camera_info")  # an image before any camera_info
        send(good(), intrinsics_to_camera_info(K, frame_id), expect="integrated")
        assert wait_for(lambda: listener.surface_size() > 2000, timeout=10)
        fused = listener.surface_size()

        send(numpy_to_image(np.zeros((K.height, K.width, 3), np.uint8), "rgb8", frame_id, stamp[0] + 1),
             expect="bad image")  # a colour image on the depth topic
        bad_encoding = good()
        bad_encoding.encoding = "yuv422"
        send(bad_encoding, expect="bad image")
        send(good(), intrinsics_to_camera_info(REALSENSE_640, frame_id), expect="size mismatch")
        bad_info = intrinsics_to_camera_info(K, frame_id)
        bad_info.k = [0.0] * 9
        listener.info_pub.publish(bad_info)
        assert wait_for(lambda: node.counts["bad camera_info"] == 1)
        send(good(), intrinsics_to_camera_info(K, frame_id), expect="integrated")
        send(good(depth=np.full_like(table_depth, np.nan), encoding="32FC1"), expect="no valid depth")
        send(good(depth=np.full_like(table_depth, np.inf), encoding="32FC1"), expect="no valid depth")
        send(good(depth=np.zeros_like(table_depth)), expect="no valid depth")
        send(good(fid="unknown_camera"), expect="missing transform")
        send(good(t=stamp[0] - 5.0), expect="out of order")
        holes = table_depth.copy()
        holes[np.random.default_rng(0).random(holes.shape) < 0.3] = np.nan  # 30 % holes: normal output, fused
        send(good(depth=holes, encoding="32FC1"), expect="integrated")

        assert node.counts["no valid depth"] == 3 and node.counts["bad image"] == 2
        assert node.volume.frames_integrated == 3 and listener.surface_size() >= 0.9 * fused  # kept what it had
        answer = call_service(listener.reset, Trigger.Request())
        assert answer.success and "3 frames were fused" in answer.message
        assert wait_for(lambda: listener.surface_size() == 0)
        send(good(), expect="integrated")  # and it still fuses


def test_static_frames_chain_invert_and_name_missing_frames():
    from geometry_msgs.msg import TransformStamped

    from grasp6d_ros.frames import FrameBuffer, StaticTransforms, FrameError, transform_msg_to_matrix

    tree = StaticTransforms.from_strings(["world base 1 0 0 0 0 0 1",
                                          "base camera 0 0 0.5 1 0 0 0", ""])
    T = tree.lookup("world", "camera")
    assert np.allclose(T, [[1, 0, 0, 1], [0, -1, 0, 0], [0, 0, -1, 0.5], [0, 0, 0, 1]])
    assert np.allclose(tree.lookup("camera", "world"), np.linalg.inv(T))
    with pytest.raises(FrameError, match="from 'lidar' to 'world'.*known frames: base, camera, world"):
        tree.lookup("world", "lidar")
    with pytest.raises(ValueError, match="must be 'parent child x y z qx qy qz qw'"):
        StaticTransforms.from_strings(["world camera 0 0 0.5"])
    with pytest.raises(ValueError, match="quaternion"):
        StaticTransforms.from_strings(["world camera 0 0 0 0 0 0 0"])
    msg = TransformStamped()
    msg.transform.translation.z, msg.transform.rotation.x, msg.transform.rotation.w = 0.5, 1.0, 0.0
    assert np.allclose(transform_msg_to_matrix(msg), tree.lookup("base", "camera"))
    buffer = FrameBuffer(static_transforms=["world camera 0 0 0.5 1 0 0 0"])
    with pytest.raises(FrameError, match="no header.frame_id"):
        buffer.lookup("world", "")
    assert np.allclose(buffer.lookup("world", "world"), np.eye(4))


def test_frames_adapter_selection():
    from grasp6d_ros.frames import FrameBuffer, import_tf2_ros, import_tf2_ros_if

    assert import_tf2_ros() is None  # not on PyPI: the static fallback is what runs here
    auto = FrameBuffer(mode="auto", static_transforms=[])
    assert auto.backend == "static" and "tf2_ros is not installed" in auto.description
    assert "transform_source=static" in FrameBuffer(mode="static").description
    with pytest.raises(RuntimeError, match="transform_source=tf needs tf2_ros"):
        FrameBuffer(mode="tf")
    with pytest.raises(ValueError, match="transform mode"):
        FrameBuffer(mode="gps")
    module = object()  # where tf2_ros imports, auto and tf use it and static ignores it
    assert import_tf2_ros_if("auto", lambda: module) is module and import_tf2_ros_if("tf", lambda: module) is module
    assert import_tf2_ros_if("static", lambda: module) is None


def test_config_files_match_node_defaults():
    from pathlib import Path

    import yaml

    from grasp6d_ros import camera_node, tsdf_node
    from grasp6d_ros.managed_node import MANAGED_DEFAULTS
    config = Path(__file__).resolve().parent.parent / "config"
    for path, module, name, managed in ((config / "tsdf.yaml", tsdf_node, "tsdf_node", MANAGED_DEFAULTS),
                                        (config / "camera.yaml", camera_node, "camera_node", {})):
        with open(path) as f:
            assert yaml.safe_load(f)[name]["ros__parameters"] == {**managed, **module.DEFAULTS}, path


def test_camera_node_names_a_missing_recording():
    import rclpy
    from rclpy.context import Context

    from grasp6d_core.sensing import SourceError
    context = Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(SourceError, match="recording '/nonexistent/table.db3' does not exist"):
            CameraNode(context=context, parameter_overrides=[Parameter("path", value="/nonexistent/table.db3")])
        with pytest.raises(ValueError, match="encoding must be 16UC1 or 32FC1"):
            CameraNode(context=context, parameter_overrides=[Parameter("encoding", value="rgb8")])
    finally:
        rclpy.shutdown(context=context)
