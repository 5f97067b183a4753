"""Calling /detect_grasps from your own node (the example of docs/ros_app.md; tested in test_app_client.py).

    ros2 run grasp6d_ros detector_node   # in another terminal, with tsdf_node or your own cloud
    python3 -m grasp6d_ros.detect_client --frame panda_link0
"""
import argparse

import rclpy
from rclpy.node import Node

from grasp6d_ros.srv import DetectGrasps


def detect_grasps(node: Node, cloud=None, target_frame: str = "", max_grasps: int = 10, timeout: float = 30.0):
    """Ask /detect_grasps; returns the response (success, message, grasps best first, detection_time)."""
    client = node.create_client(DetectGrasps, "/detect_grasps")
    if not client.wait_for_service(timeout_sec=timeout):
        raise TimeoutError("/detect_grasps is not available: is detector_node running?")
    request = DetectGrasps.Request(max_grasps=max_grasps, target_frame=target_frame)
    if cloud is not None:               # a sensor_msgs/PointCloud2; none = the TSDF node's latest surface
        request.cloud = cloud
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
    if not future.done():
        raise TimeoutError(f"/detect_grasps did not answer in {timeout} s")
    return future.result()


def main() -> None:
    parser = argparse.ArgumentParser(description="Print the best grasps from /detect_grasps")
    parser.add_argument("--frame", default="", help="target frame ('' = the cloud's)")
    parser.add_argument("--max", type=int, default=10)
    args = parser.parse_args()
    rclpy.init()
    node = Node("detect_client")
    try:
        response = detect_grasps(node, target_frame=args.frame, max_grasps=args.max)
        if not response.success:
            print(f"failed: {response.message}")
        for rank, grasp in enumerate(response.grasps.grasps, start=1):
            p = grasp.pose.position
            print(f"#{rank} score {grasp.score:.3f} width {grasp.width:.3f} m at ({p.x:.3f}, {p.y:.3f}, {p.z:.3f}) "
                  f"in {response.grasps.header.frame_id}")
    finally:
        node.destroy_node()
        rclpy.shutdown()


if __name__ == "__main__":
    main()
