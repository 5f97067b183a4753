"""tsdf_node as a managed node over real rclpy / Fast DDS: configure allocates the volume (a bad parameter fails it,
the node stays unconfigured and a fixed value configures), activate fuses and publishes, frames arriving while
inactive are counted and not fused, cleanup frees the volume, shutdown works from unconfigured."""
from lifecycle_msgs.msg import Transition
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_srvs.srv import Trigger

from grasp6d_core.camera import REALSENSE_640
from grasp6d_core.sensing.synthetic import TabletopScene, overhead_pose
from grasp6d_ros.conversions import intrinsics_to_camera_info, metres_to_depth_image
from grasp6d_ros.tsdf_node import INACTIVE, TSDFNode
from ros_helpers import call_service, spinning, wait_for
from test_detector_lifecycle import LifecycleClient, console_lines
from test_perception_nodes import LATCHED

K = REALSENSE_640.scaled(0.25)
FRAME = "camera_depth_optical_frame"


def test_tsdf_transitions_count_inactive_frames_and_free_the_volume(capfd):
    depth = TabletopScene().renderer().render(K, overhead_pose(0.6))[0]
    tsdf = lambda ctx: TSDFNode(context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("autostart", value=False), Parameter("qos", value="fast"), Parameter("publish_rate", value=10.0)])
    with spinning(tsdf, lambda ctx: LifecycleClient(ctx, "tsdf_node")) as (node, manager):
        surfaces: list[PointCloud2] = []
        manager.create_subscription(PointCloud2, "/tsdf_node/surface", surfaces.append, LATCHED)
        image_pub = manager.create_publisher(Image, "depth/image", 10)
        info_pub = manager.create_publisher(CameraInfo, "depth/camera_info", 10)
        reset = manager.create_client(Trigger, "/tsdf_node/reset")
        stamp = [100.0]

        def send(frames: int = 1) -> None:
            for _ in range(frames):
                stamp[0] += 0.25
                info_pub.publish(intrinsics_to_camera_info(K, FRAME, stamp[0]))
                image_pub.publish(metres_to_depth_image(depth, "16UC1", FRAME, stamp[0]))

        assert manager.state() == "unconfigured" and node.volume is None
        answer = call_service(reset, Trigger.Request())
        assert not answer.success and answer.message.startswith("no volume to clear: node is unconfigured")

        # a bad parameter fails configure, says which; the node answers, and the fixed value configures
        assert not manager.change(Transition.TRANSITION_CONFIGURE) and manager.state() == "unconfigured"
        printed = console_lines(capfd)
        assert any("[tsdf_node]: configure failed, staying unconfigured: parameter qos must be 'reliable' or "
                   "'sensor_data', got 'fast'" in line for line in printed), printed
        node.set_parameters([Parameter("qos", value="reliable")])
        assert manager.change(Transition.TRANSITION_CONFIGURE) and manager.state() == "inactive"
        assert node.volume is not None and node.volume.is_empty()

        # inactive: frames are received, counted and not fused; nothing is published on ~/surface
        assert wait_for(lambda: image_pub.get_subscription_count() == 1)
        send(3)
        assert wait_for(lambda: node.counts[INACTIVE] == 3, timeout=10), node.counts
        assert node.received == 3 and node.counts["integrated"] == 0 and not surfaces

        # active: fused and published
        assert manager.change(Transition.TRANSITION_ACTIVATE) and manager.state() == "active"
        send(2)
        assert wait_for(lambda: node.counts["integrated"] == 2 and surfaces and surfaces[-1].width > 500,
                        timeout=10), (node.counts, len(surfaces))
        assert node.stats()[INACTIVE] == 3

        # deactivate keeps the volume and counts what arrives; cleanup frees it
        assert manager.change(Transition.TRANSITION_DEACTIVATE)
        send(2)
        assert wait_for(lambda: node.counts[INACTIVE] == 5, timeout=10) and node.volume.frames_integrated == 2
        assert manager.change(Transition.TRANSITION_CLEANUP) and manager.state() == "unconfigured"
        assert node.volume is None and node.queue is None and image_pub.get_subscription_count() == 0

        # shutdown from unconfigured
        assert manager.change(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN) and manager.state() == "finalized"


class _Tf2WithListenerSubscriptions:
    """tf2_ros's shape where it matters here (it ships with a ROS distribution, not on PyPI): a TransformListener
    subscribes on the node it is given and ``unregister()`` destroys those subscriptions."""

    class Buffer:
        def lookup_transform(self, *args, **kwargs):
            raise LookupError("no transforms in this stand-in")

    class TransformListener:
        def __init__(self, buffer, node):
            from std_msgs.msg import Empty
            self._node = node
            self._subscriptions = [node.create_subscription(Empty, topic, lambda _: None, 10)
                                   for topic in ("/tf", "/tf_static")]

        def unregister(self):
            for subscription in self._subscriptions:
                self._node.destroy_subscription(subscription)


def test_tsdf_cleanup_releases_the_tf_listener(monkeypatch):
    """configure -> cleanup -> configure keeps one TF listener: cleanup unregisters it (the node's subscriptions
    would otherwise keep every old listener alive)."""
    import grasp6d_ros.frames
    monkeypatch.setattr(grasp6d_ros.frames, "import_tf2_ros", lambda: _Tf2WithListenerSubscriptions)
    tsdf = lambda ctx: TSDFNode(context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("autostart", value=False), Parameter("transform_source", value="tf")])
    with spinning(tsdf) as (node,):
        def tf_subscriptions() -> int:
            return sum(s.topic_name in ("/tf", "/tf_static") for s in node.subscriptions)

        assert tf_subscriptions() == 0
        for _ in range(2):
            assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
            assert node.frames.backend == "tf" and tf_subscriptions() == 2
            node.trigger_cleanup()
            assert node.frames is None and tf_subscriptions() == 0
