"""ros2 launch grasp6d_ros grasp_demo.launch.py camera:=realsense|kinect|playback|none executor:=moveit|sim|none
rviz:=true|false params_file:=/path/to/params.yaml [depth_topic:=... info_topic:=...] [autostart:=false]

Try it without hardware: camera:=playback executor:=sim rviz:=false (the shipped recording, played in a loop).
A node whose package is not installed (rviz2, a camera driver) is reported in one line and left out.

The graph itself (nodes, parameters from config/*.yaml, remaps per camera driver) is plain data in
grasp6d_ros/launch_description.py, shared with the in-process fallback of `make demo` (test/test_app_launch.py);
this file is run through the real `ros2 launch` by test/test_app_ros2cli.py.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from grasp6d_ros.launch_description import describe, not_installed


# Seconds between Ctrl-C and launch's SIGTERM (its default is 5): tsdf_node and detector_node hold Open3D and
# torch, whose teardown took longer than 5 s on a busy 2-core machine and was then reported as a crash.
SIGTERM_AFTER = "15"


def _nodes(context):
    value = lambda name: LaunchConfiguration(name).perform(context)  # noqa: E731
    specs = describe(camera=value("camera"), executor=value("executor"), rviz=value("rviz").lower() == "true",
                     params_file=value("params_file") or None, depth_topic=value("depth_topic"),
                     info_topic=value("info_topic"), autostart=value("autostart").lower() != "false")
    actions = []
    for s in specs:
        missing = not_installed(s)   # e.g. rviz:=true without rviz2: say so once, start the rest
        actions.append(LogInfo(msg=missing) if missing else
                       Node(package=s.package, executable=s.executable, name=s.name, namespace=s.namespace or None,
                            parameters=[s.parameters] if s.parameters else [], remappings=s.remappings,
                            arguments=s.arguments, output="screen", sigterm_timeout=SIGTERM_AFTER))
    return actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("camera", default_value="realsense",
                              description="realsense | kinect | playback | none (a driver you started)"),
        DeclareLaunchArgument("executor", default_value="none", description="moveit | sim | none"),
        DeclareLaunchArgument("rviz", default_value="true"),
        DeclareLaunchArgument("params_file", default_value="", description="ROS 2 params file overriding config/"),
        DeclareLaunchArgument("depth_topic", default_value="", description="depth image topic (camera:=none)"),
        DeclareLaunchArgument("info_topic", default_value="", description="camera_info topic (camera:=none)"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="false: tsdf_node and detector_node stay unconfigured for your lifecycle "
                                          "manager (ros2 lifecycle set /detector_node configure, then activate)"),
        OpaqueFunction(function=_nodes),
    ])
