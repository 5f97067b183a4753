"""Detect -> execute over DDS on a PyBullet clutter scene: detector_node (model-free antipodal detector, as the
learned model is configured the same way) answers a client with sorted grasps and markers, and
executor_node's sim backend picks from the same world."""
import threading

import numpy as np
from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.parameter import Parameter
from visualization_msgs.msg import Marker, MarkerArray

from grasp6d_core.sensing.synthetic import look_at
from grasp6d_core.sim.antipodal import cloud_with_normals
from grasp6d_core.sim.world import DEFAULT_CAMERA, ClutterWorld
from grasp6d_ros.conversions import numpy_to_pointcloud2
from grasp6d_ros.detector_node import LATCHED, DetectorNode
from grasp6d_ros.executor_node import ExecutorNode
from grasp6d_ros.sim_backend import SimBackend
from ros_helpers import call_service, spinning, wait_for


def test_detect_then_execute_in_sim():
    from grasp6d_ros.srv import DetectGrasps, ExecuteGrasp
    world = ClutterWorld(seed=1)
    world.reset(scene="packed", objects="seen", count=3)
    views = [(world.point_cloud(T_world_camera=T), T[:3, 3])
             for T in (DEFAULT_CAMERA, look_at([0.35, 0.2, 0.5], [0, 0, 0]), look_at([-0.35, 0.2, 0.5], [0, 0, 0]))]
    points, normals = cloud_with_normals(views)
    cloud = numpy_to_pointcloud2(points, normals, frame_id="world")
    backend = SimBackend(world=world)
    # model_frame: the detector runs in 'table' (10 cm off 'world', z still up as the antipodal baseline needs)
    # and must hand the grasps back in 'world'; a missed transform would put them 10 cm off the objects.
    detector = lambda ctx: DetectorNode(context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("detector", value="antipodal"), Parameter("model_frame", value="table"),
        Parameter("static_transforms", value=["world table 0.1 0.0 0.0 0 0 0 1"])])
    executor = lambda ctx: ExecutorNode(backend=backend, context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("base_frame", value="world"), Parameter("max_attempts", value=5)],
        cli_args=["--ros-args", "-r", "grasps:=/detector_node/grasps"])
    markers = []
    try:
        with spinning(detector, executor, lambda ctx: Node("graph_client", context=ctx)) as (_, _, client):
            client.create_subscription(MarkerArray, "/detector_node/markers", markers.append, LATCHED)
            answer = call_service(client.create_client(DetectGrasps, "/detect_grasps"),
                                  DetectGrasps.Request(cloud=cloud, target_frame="world", max_grasps=30), timeout=60)
            assert answer.success, answer.message
            grasps = answer.grasps.grasps
            assert len(grasps) >= 10 and answer.grasps.header.frame_id == "world"
            scores = [g.score for g in grasps]
            assert scores == sorted(scores, reverse=True)
            quats = np.array([[g.pose.orientation.x, g.pose.orientation.y, g.pose.orientation.z,
                               g.pose.orientation.w] for g in grasps])
            np.testing.assert_allclose(np.linalg.norm(quats, axis=1), 1.0, atol=1e-5)
            centres = np.array([[g.pose.position.x, g.pose.position.y, g.pose.position.z] for g in grasps])
            gap = np.linalg.norm(centres[:, None] - points[None, ::10], axis=2).min(axis=1)
            assert np.all(gap < 0.03), gap   # on the objects, in 'world'
            assert wait_for(lambda: markers, 10)
            assert markers[-1].markers[0].action == Marker.DELETEALL and len(markers[-1].markers) == 1 + 5 * len(grasps)
            # target fields live in the cloud's frame ('world'), not model_frame: an ROI around the best grasp
            lo, hi = centres[0] - 0.04, centres[0] + 0.04
            roi = call_service(client.create_client(DetectGrasps, "/detect_grasps"), DetectGrasps.Request(
                cloud=cloud, target_frame="world", max_grasps=30, roi_min=Point(x=lo[0], y=lo[1], z=lo[2]),
                roi_max=Point(x=hi[0], y=hi[1], z=hi[2])), timeout=90, attempt_timeout=30)
            inside = np.array([[g.pose.position.x, g.pose.position.y, g.pose.position.z] for g in roi.grasps.grasps])
            assert roi.success and len(inside) and np.all((inside >= lo) & (inside <= hi))
            assert any(g.object_id >= 1 for g in roi.grasps.grasps)
            # ten clients at once, half with a good cloud (through the detector), half NaN-only: all answered
            nan_cloud = numpy_to_pointcloud2(np.full((50, 3), np.nan), frame_id="world")
            answers, lock = {}, threading.Lock()

            def one(i):
                request = DetectGrasps.Request(cloud=cloud if i % 2 == 0 else nan_cloud, max_grasps=5)
                result = call_service(client.create_client(DetectGrasps, "/detect_grasps"), request, timeout=60,
                                      attempt_timeout=30)
                with lock:
                    answers[i] = result
            threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(90)
            assert len(answers) == 10
            assert all(answers[i].success and 1 <= len(answers[i].grasps.grasps) <= 5 for i in range(0, 10, 2))
            assert all(not answers[i].success and "cloud too small" in answers[i].message for i in range(1, 10, 2))
            # the graph still executes afterwards
            outcome = call_service(client.create_client(ExecuteGrasp, "/executor_node/execute"),
                                   ExecuteGrasp.Request(), timeout=60)
            assert outcome.success and outcome.stage == "retreat", outcome.message
    finally:
        backend.close()
