"""MCAP recording: ROS 2 schemas from the installed .msg files, CDR payloads readable by mcap-ros2."""
import numpy as np
from mcap_ros2.reader import read_ros2_messages

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation
from grasp6d_ros.conversions import grasp_group_to_msg, metres_to_depth_image, numpy_to_pointcloud2
from grasp6d_ros.markers import grasp_markers
from grasp6d_ros.mcap_writer import McapRecorder, message_definition


def test_definition_includes_nested_types():
    text = message_definition("grasp6d_ros/msg/Grasp6DArray")
    for nested in ("MSG: grasp6d_ros/Grasp6D", "MSG: geometry_msgs/Pose", "MSG: std_msgs/Header",
                   "MSG: builtin_interfaces/Time"):
        assert text.count(nested) == 1


def test_recorded_messages_read_back(tmp_path):
    depth = np.full((4, 5), 0.6, np.float32)
    grasps = GraspGroup.from_components([0.8, 0.4], [0.05, 0.03], [0.02, 0.02],
                                        grasp_rotation(np.array([[0, 0, 1.0], [1, 0, 1.0]])), [[0, 0, 0.5], [0.1, 0, 0.5]])
    recorder = McapRecorder(tmp_path / "run.mcap")
    recorder.write("/camera/depth", metres_to_depth_image(depth, frame_id="cam", stamp=1.5))
    recorder.write("/surface", numpy_to_pointcloud2(np.zeros((7, 3)), frame_id="cam"))
    recorder.write("/grasps", grasp_group_to_msg(grasps, "cam"))
    recorder.write("/markers", grasp_markers(grasps, "cam"))
    recorder.close()
    read = {m.channel.topic: m.ros_msg for m in read_ros2_messages(str(tmp_path / "run.mcap"))}
    assert read["/camera/depth"].encoding == "16UC1" and read["/camera/depth"].height == 4
    assert bytes(read["/camera/depth"].data)[:2] == (600).to_bytes(2, "little")
    assert read["/surface"].width == 7
    assert [round(g.score, 3) for g in read["/grasps"].grasps] == [0.8, 0.4]
    assert len(read["/markers"].markers) == 1 + 2 * 5 and read["/markers"].markers[0].action == 3
