"""The launch module: node list, parameters and remaps per camera/executor choice match config/*.yaml."""
import ast
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from grasp6d_ros.launch_description import NodeSpec, describe, load_yaml, node_parameters, not_installed, ros_arguments

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"


def _by_name(specs):
    return {s.name: s for s in specs}


def test_config_files_hold_every_node_default():
    from grasp6d_ros import detector_node, executor_node
    from grasp6d_ros.managed_node import MANAGED_DEFAULTS
    for module, name, managed in ((detector_node, "detector_node", MANAGED_DEFAULTS), (executor_node, "executor_node", {})):
        params = yaml.safe_load((CONFIG / f"{name.split('_')[0]}.yaml").read_text())[name]["ros__parameters"]
        assert params == {**managed, **module.DEFAULTS}, name


def test_parameters_come_from_config_files():
    specs = _by_name(describe("none", "sim"))
    detector_yaml = yaml.safe_load((CONFIG / "detector.yaml").read_text())["detector_node"]["ros__parameters"]
    assert specs["detector_node"].parameters == detector_yaml
    executor_yaml = yaml.safe_load((CONFIG / "executor.yaml").read_text())["executor_node"]["ros__parameters"]
    assert specs["executor_node"].parameters == {**executor_yaml, "backend": "sim"}
    assert specs["executor_node"].remappings == [("grasps", "/detector_node/grasps"), ("surface", "/tsdf_node/surface")]
    assert specs["detector_node"].remappings == [("surface", "/tsdf_node/surface")]


@pytest.mark.parametrize("camera,driver,depth", [
    ("realsense", ("realsense2_camera", "realsense2_camera_node"), "/camera/camera/aligned_depth_to_color/image_raw"),
    ("kinect", ("azure_kinect_ros_driver", "node"), "/depth_to_rgb/image_raw"),
    ("playback", ("grasp6d_ros", "camera_node"), None),
])
def test_camera_choice_starts_driver_and_remaps_tsdf_input(camera, driver, depth):
    specs = describe(camera, "none")
    assert (specs[0].package, specs[0].executable) == driver
    assert [s.executable for s in specs[1:]] == ["tsdf_node", "detector_node"]   # executor:=none
    demo = load_yaml(CONFIG / "grasp_demo.yaml")
    expected = depth or demo["cameras"][camera]["depth_image"]
    assert (demo["tsdf_inputs"]["depth_image"], expected) in specs[1].remappings


def test_playback_choice_plays_the_shipped_recording_in_the_world_it_shows():
    specs = _by_name(describe("playback", "sim"))
    camera = specs["camera_node"].parameters
    recording = Path(camera["path"])
    assert camera["source"] == "playback" and recording.is_absolute() and recording.is_file()
    assert recording.suffix == ".db3" and recording.stat().st_size < 1_000_000
    # one camera pose for the TSDF and the detector, the model runs in the camera frame, the executor acts in
    # the PyBullet world the recording was rendered from (tools/make_demo_recording.py)
    pose = specs["tsdf_node"].parameters["static_transforms"]
    assert pose[0].split()[:2] == ["world", "camera_depth_optical_frame"]
    assert specs["detector_node"].parameters["static_transforms"] == pose
    assert specs["detector_node"].parameters["model_frame"] == "camera_depth_optical_frame"
    executor = specs["executor_node"].parameters
    assert executor["base_frame"] == "world" and executor["backend"] == "sim" and executor["sim_scene"] == "packed"
    # the overrides belong to the playback choice only
    assert _by_name(describe("none", "sim"))["detector_node"].parameters["model_frame"] == ""


def test_camera_none_uses_given_topics_and_rviz_gets_config():
    specs = describe("none", "moveit", rviz=True, depth_topic="/my/depth", info_topic="/my/info")
    names = [s.executable for s in specs]
    assert names == ["tsdf_node", "detector_node", "executor_node", "rviz2"]
    assert ("depth/image", "/my/depth") in specs[0].remappings and ("depth/camera_info", "/my/info") in specs[0].remappings
    assert specs[2].parameters["backend"] == "moveit"
    assert ("surface", "/tsdf_node/surface") in specs[2].remappings   # the MoveIt backend's collision boxes
    rviz_file = Path(specs[3].arguments[1])
    assert rviz_file.is_file() and "MarkerArray" in rviz_file.read_text()
    assert ros_arguments(specs[0])[:3] == ["--ros-args", "-r", "depth/image:=/my/depth"]


def test_params_file_overrides_and_bad_choices(tmp_path):
    params = tmp_path / "mine.yaml"
    params.write_text("/**:\n  ros__parameters: {device: cuda}\n"
                      "detector_node:\n  ros__parameters: {top_k: 7}\n")
    params.write_text(params.read_text() + "executor_node:\n  ros__parameters: {sim_seed: 9}\n")
    specs = _by_name(describe("playback", "sim", params_file=str(params)))
    detector = specs["detector_node"]
    assert detector.parameters["top_k"] == 7 and detector.parameters["device"] == "cuda"
    assert specs["executor_node"].parameters["sim_seed"] == 9   # the user's file beats the camera choice
    assert node_parameters(load_yaml(params), "other") == {"device": "cuda"}
    with pytest.raises(ValueError, match="camera:='zed'"):
        describe("zed")
    with pytest.raises(ValueError, match="executor:='ur'"):
        describe("none", "ur")


def test_launch_file_declares_the_documented_arguments():
    tree = ast.parse((ROOT / "launch" / "grasp_demo.launch.py").read_text())
    declared = {node.args[0].value for node in ast.walk(tree)
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument"}
    assert declared == {"camera", "executor", "rviz", "params_file", "depth_topic", "info_topic", "autostart"}


def test_playback_keeps_the_recording_available():
    """Under ros2 launch tsdf_node starts seconds after camera_node: a recording played once is over before
    anyone listens, so the demo's playback loops like a live camera."""
    camera = _by_name(describe("playback", "sim"))["camera_node"].parameters
    assert camera["loop"] is True and camera["source"] == "playback" and 0 < camera["fps"] <= 15


def test_a_missing_optional_package_is_one_line():
    assert not_installed(NodeSpec("grasp6d_ros", "tsdf_node", "tsdf_node")) is None
    line = not_installed(NodeSpec("no_such_rviz_package", "rviz2", "rviz2"))
    assert line.startswith("no_such_rviz_package is not installed") and "not starting rviz2" in line
    assert "\n" not in line


@pytest.mark.parametrize("second", ["during_teardown", "back_to_back", "until_exit"])
def test_a_second_ctrl_c_still_exits_cleanly(second):
    """Ctrl-C under ros2 launch reaches each node twice (the terminal signals the whole process group, then
    launch forwards its own SIGINT); the second one lands during the teardown, right after the first, or while
    the interpreter finalizes (until_exit: SIGINT every 0.5 ms until the process is gone)."""
    setup = ("class SlowTeardown(Node):\n"
             "    def destroy_node(self):\n"
             "        print('tearing down', flush=True); time.sleep(1.5); super().destroy_node()\n")
    with _node_process(setup, "SlowTeardown('slow_teardown')") as process:
        lines = []
        for expected in ("spinning", "tearing down") if second == "during_teardown" else ("spinning",):
            while expected not in lines:
                line = process.stdout.readline()
                assert line, "".join(lines)
                lines.append(line.strip())
            os.kill(process.pid, signal.SIGINT)
        if second == "back_to_back":
            os.kill(process.pid, signal.SIGINT)
        while second == "until_exit" and process.poll() is None:
            try:
                os.kill(process.pid, signal.SIGINT)
            except ProcessLookupError:
                break
            time.sleep(0.0005)
        out = "\n".join(lines) + process.communicate(timeout=30)[0]
    assert process.returncode == 0 and "clean exit" in out and "Traceback" not in out, out


def test_autostart_false_reaches_only_the_managed_nodes_and_true_leaves_the_files_value(tmp_path):
    manual = _by_name(describe("playback", "sim", autostart=False))
    assert manual["tsdf_node"].parameters["autostart"] is False and manual["detector_node"].parameters["autostart"] is False
    assert "autostart" not in manual["camera_node"].parameters and "autostart" not in manual["executor_node"].parameters
    params = tmp_path / "mine.yaml"
    params.write_text(yaml.safe_dump({"detector_node": {"ros__parameters": {"autostart": False}}}))
    default = _by_name(describe("playback", "sim", params_file=str(params)))
    assert default["detector_node"].parameters["autostart"] is False and default["tsdf_node"].parameters["autostart"] is True


def test_a_spinning_node_prints_its_stacks_on_sigusr1_and_runs_on():
    """`kill -USR1` on a node (what LaunchedGraph does to a node that ignored Ctrl-C, before killing it) prints
    every thread's stack, including the one a callback is stuck in, and the node keeps spinning; a process group's
    members are found for it."""
    from grasp6d_ros.launch_process import process_group_members
    from grasp6d_ros.spin import STACK_DUMP_SIGNAL
    setup = ("def stuck_in_a_callback():\n"
             "    threading.Event().wait()\n"
             "threading.Thread(target=stuck_in_a_callback, daemon=True).start()\n")
    with _node_process(setup, "Node('stuck_node')", threads=2) as process:
        assert process.stdout.readline().strip() == "spinning"
        assert process_group_members(process.pid) == [process.pid]
        os.kill(process.pid, STACK_DUMP_SIGNAL)
        dump = []
        while not any("stuck_in_a_callback" in line for line in dump):
            line = process.stdout.readline()
            assert line, "".join(dump)
            dump.append(line)
        assert process.poll() is None                      # still running after the dump
        os.kill(process.pid, signal.SIGINT)
        out = "".join(dump) + process.communicate(timeout=30)[0]
    assert any(line.startswith("Thread 0x") for line in dump), dump
    assert process.returncode == 0 and "clean exit" in out, out

    group = subprocess.Popen(["bash", "-c", "sleep 30 & wait"], start_new_session=True)
    try:
        deadline = time.time() + 10
        while len(process_group_members(group.pid)) < 2 and time.time() < deadline:
            time.sleep(0.05)
        members = process_group_members(group.pid)
        assert group.pid in members and len(members) == 2, members   # bash and its sleep
    finally:
        os.killpg(group.pid, signal.SIGKILL)
        group.wait()


@pytest.mark.parametrize("threads", [1, 2])
def test_a_node_stops_when_its_context_is_shut_down_without_waking_it(threads):
    """rclpy's signal thread wakes the executor before it shuts the context down; a node whose executor woke in
    between waited on with a dead context and ignored Ctrl-C. Here the context is shut down the way that thread
    does it (rcl only, no wake-up) while the node spins: it must still stop."""
    setup = ("def shut_down_behind_the_executors_back():\n"
             "    while 'node' not in globals():\n"
             "        time.sleep(0.01)\n"
             "    time.sleep(1.0)\n"
             "    with node.context.handle:\n"
             "        node.context.handle.shutdown()\n"
             "threading.Thread(target=shut_down_behind_the_executors_back, daemon=True).start()\n")
    with _node_process(setup, "Node('lost_wakeup')", threads=threads) as process:
        assert process.stdout.readline().strip() == "spinning"
        out = process.communicate(timeout=20)[0]
    assert process.returncode == 0 and "clean exit" in out, out


def test_died_processes_reads_launchs_own_lines():
    """The lines launch writes (its ExecuteLocal's format) for a process that died and one that finished."""
    from grasp6d_ros.launch_process import died_processes
    log = ("[INFO] [camera_node-1]: process has finished cleanly [pid 101]\n"
           "[ERROR] [executor_node-4]: process has died [pid 104, exit code 1, cmd '/x/executor_node --ros-args'].\n"
           "[ERROR] [tsdf_node-2]: process has died [pid 102, exit code -9, cmd 'tsdf_node'].\n")
    assert died_processes(log) == {"executor_node-4": 1, "tsdf_node-2": -9}
    assert died_processes("[INFO] [camera_node-1]: process has finished cleanly [pid 101]\n") == {}


def test_a_node_whose_teardown_hangs_says_where_and_exits():
    """A node whose destruction never returns (as the middleware's teardown did now and then) must not wait for
    launch's SIGKILL: after TEARDOWN_LIMIT_S it prints its stacks and exits with code 1."""
    setup = ("import grasp6d_ros.spin as spin\n"
             "spin.TEARDOWN_LIMIT_S = 1.0\n"
             "class Stuck(Node):\n"
             "    def destroy_node(self):\n"
             "        time.sleep(3600)\n")
    with _node_process(setup, "Stuck('stuck_teardown')") as process:
        assert process.stdout.readline().strip() == "spinning"
        process.send_signal(signal.SIGINT)
        out = process.communicate(timeout=20)[0]
    assert process.returncode == 1 and "clean exit" not in out, out
    assert "Timeout (0:00:01)!" in out and "in destroy_node" in out and "Traceback" not in out, out


@contextmanager
def _node_process(setup: str, node: str, threads: int = 1) -> Iterator[subprocess.Popen]:
    """A Python process that runs ``setup``, makes ``node`` and spins it with spin_until_shutdown, as our node
    executables do; it prints 'spinning' once it spins and 'clean exit' after. Killed with its group at the end."""
    script = ("import threading, time, rclpy\n"
              "from rclpy.node import Node\n"
              "from grasp6d_ros.spin import spin_until_shutdown\n"
              f"{setup}"
              "rclpy.init()\n"
              f"node = {node}\n"
              "ready = node.create_timer(0.05, lambda: (print('spinning', flush=True), ready.cancel()))\n"
              f"spin_until_shutdown(node, threads={threads})\n"
              "print('clean exit', flush=True)\n")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
