"""Demo runner pieces: ranked table, picture, node discovery from launch specs, nodes built from specs."""
import re

import numpy as np
import pytest
from rclpy.node import Node

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation
from grasp6d_core.draw import save_grasp_picture
from grasp6d_ros.demo import create_nodes, node_class, ranked_table
from grasp6d_ros.detector_node import DetectorNode
from grasp6d_ros.executor_node import ExecutorNode
from grasp6d_ros.launch_description import NodeSpec, describe
from ros_helpers import spinning


def _grasps():
    return GraspGroup.from_components([0.4, 0.9], [0.03, 0.06], [0.02, 0.02],
                                      grasp_rotation(np.array([[0, 0, 1.0], [1, 0, 1.0]])), [[0, 0, 0.5], [0.1, 0, 0.5]])


def test_ranked_table_sorted_with_columns():
    lines = ranked_table(_grasps(), "camera").splitlines()
    assert "position [camera]" in lines[0] and len(lines) == 4
    assert lines[2].split()[:3] == ["1", "0.900", "0.060"] and lines[3].split()[1] == "0.400"
    assert "(+0.71, +0.00, +0.71)" in lines[2]


def test_picture_is_written(tmp_path):
    points = np.random.default_rng(0).uniform(-0.1, 0.1, (500, 3)) + [0, 0, 0.55]
    path = save_grasp_picture(points, _grasps(), tmp_path / "grasps.png")
    assert path.stat().st_size > 10_000 and path.read_bytes()[:4] == b"\x89PNG"


def test_nodes_from_specs_get_config_parameters_and_remaps():
    specs = [s for s in describe("playback", "sim") if s.executable in ("detector_node", "executor_node")]
    assert node_class(specs[0]) is DetectorNode and node_class(specs[1]) is ExecutorNode
    with pytest.raises(RuntimeError, match="'no_such_node' is not available"):
        node_class(NodeSpec("grasp6d_ros", "no_such_node", "x"))
    holder = {}
    with spinning(lambda ctx: holder.setdefault("nodes", create_nodes(specs, ctx))[0],
                  lambda ctx: Node("probe", context=ctx)):
        detector, executor = holder["nodes"]
        assert detector.param("top_k") == specs[0].parameters["top_k"]
        assert executor.param("tcp_offset") == pytest.approx(0.1034)
        assert executor.resolve_topic_name("grasps") == "/detector_node/grasps"
        assert detector.resolve_topic_name(detector.param("surface_topic")) == "/tsdf_node/surface"
        executor.destroy_node()


def test_demo_sim_source_end_to_end(tmp_path, capsys):
    from mcap_ros2.reader import read_ros2_messages
    from grasp6d_ros.demo import run
    assert run(tmp_path, timeout=60, source="sim") == 0
    out = capsys.readouterr().out
    assert "executed: success=True" in out and "   1 " in out and "position [world]" in out
    # the pick went through the Pick action: its feedback lines as they came, then the result
    picks = [line for line in out.splitlines() if line.startswith("pick: ")]
    assert picks[0] == "pick: stage=detect" and re.fullmatch(r"pick: stage=retreat attempt=\d+ grasp score=[\d.]+",
                                                               picks[-1]), picks
    assert out.index(picks[-1]) < out.index("executed: success=True")
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(tuple("123456789"))
            and "(" in line and "success" not in line]
    assert rows and any(int(row[-1]) >= 1 for row in rows)     # object_id filled by the segmentation
    assert (tmp_path / "grasps.png").stat().st_size > 10_000
    topics = {m.channel.topic for m in read_ros2_messages(str(tmp_path / "run.mcap"))}
    assert topics == {"/camera/depth/image_raw", "/tsdf_node/surface", "/detector_node/grasps", "/detector_node/markers"}


def test_shipped_recording_is_a_realsense_db3_of_the_sim_executors_world():
    """The recording plays through the real SDK, and it shows the world the demo's sim executor rebuilds."""
    import importlib.util
    from pathlib import Path

    from grasp6d_core.sensing import open_source
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("make_demo_recording", root / "tools" / "make_demo_recording.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    recording = Path(next(s for s in describe("playback", "sim") if s.executable == "camera_node").parameters["path"])
    assert recording.stat().st_size < 500_000
    with open_source("playback", path=str(recording)) as source:
        frames = list(source)
    assert len(frames) >= 3 and frames[0].intrinsics == tool.INTRINSICS
    sim, T_world_camera = tool.demo_settings()
    depth, objects = tool.render_demo_depth(sim, T_world_camera)
    assert objects == sim["sim_count"] and (depth > 0).mean() > 0.9
    difference = np.abs(frames[0].depth - np.round(depth * 1000) / 1000)   # millimetre units of the recording
    assert difference.max() <= 0.001 + 1e-6 and np.mean(difference < 1e-6) > 0.999   # (ties round either way)


def test_demo_on_the_shipped_recording(tmp_path):
    """`make demo`'s graph: camera_node (the .db3) -> tsdf_node -> detector_node -> executor_node (sim), with a
    separate client asking for grasps in the camera frame (not the TSDF's world frame)."""
    from scipy.spatial.transform import Rotation

    from grasp6d_ros.demo import run_graph
    # The detector as any robot gets it (GraspNet's gripper only: no Franka-hand filter).
    result = run_graph(tmp_path, timeout=120, target_frame="camera_depth_optical_frame",
                       parameters={"detector_node": {"hand_filter": ""}}, runner="in-process")
    answer = result.detection
    grasps = answer.grasps.grasps
    assert answer.success and answer.grasps.header.frame_id == "camera_depth_optical_frame", answer.message
    # >= 10 from the learned detector; the antipodal stand-in (no models/grasp6d_cpu.pt) finds fewer on one view
    assert len(grasps) >= (10 if result.detector == "model" else 3), (result.detector, len(grasps))
    scores = [g.score for g in grasps]
    assert scores == sorted(scores, reverse=True)
    quats = np.array([[g.pose.orientation.x, g.pose.orientation.y, g.pose.orientation.z, g.pose.orientation.w]
                      for g in grasps])
    np.testing.assert_allclose(np.linalg.norm(quats, axis=1), 1.0, atol=1e-5)
    # in the camera frame: in front of the camera, at the table's distance (camera 0.61 m from the table centre)
    positions = np.array([[g.pose.position.x, g.pose.position.y, g.pose.position.z] for g in grasps])
    assert np.all((positions[:, 2] > 0.3) & (positions[:, 2] < 0.9)), positions
    # approaches point away from the camera side, into the scene (camera z forward)
    approaches = Rotation.from_quat(quats).as_matrix()[:, :, 0]
    assert np.mean(approaches[:, 2] > 0) >= 0.8
    assert set(result.messages) == {"/depth/image", "/tsdf_node/surface", "/detector_node/grasps",
                                    "/detector_node/markers"}
    assert (tmp_path / "grasps.png").stat().st_size > 10_000


def test_demo_picks_with_the_franka_hand_filter(tmp_path):
    """`make demo`'s graph as shipped: detector_node keeps the grasps the sim executor's Franka hand can take
    (hand_filter: panda), and the executed pick lifts an object. (In this process; through ros2 launch:
    test_app_ros2cli.py.)"""
    from action_msgs.msg import GoalStatus

    from grasp6d_ros.demo import run_graph
    result = run_graph(tmp_path, timeout=120, runner="in-process")
    assert result.detection.success and len(result.detection.grasps.grasps) >= 1, result.detection.message
    assert result.outcome.success and result.outcome.stage == "retreat", result.outcome.message
    # through the Pick action: detect, then every stage of the executed attempt, which is the result's grasp
    stages = [f.stage for f in result.feedback]
    assert result.status == GoalStatus.STATUS_SUCCEEDED and stages[0] == "detect"
    assert stages[-5:] == ["pregrasp", "approach", "close", "lift", "retreat"], stages
    assert result.outcome.grasp == result.feedback[-1].grasp and result.outcome.grasp.score > 0


def test_demo_uses_the_learned_detector_when_its_weights_exist(tmp_path, capsys):
    from pathlib import Path

    from grasp6d_ros.demo import choose_detector
    from grasp6d_core.model.checkpoint import shipped_checkpoint
    root = Path(__file__).resolve().parent.parent
    assert shipped_checkpoint() == root / "models" / "grasp6d_cpu.pt"   # the node's default (checkpoint: "")
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"x")
    specs = describe("playback", "sim")
    detector = next(s for s in specs if s.executable == "detector_node")
    assert choose_detector(specs, checkpoint=weights) == "model"
    assert detector.parameters["detector"] == "model" and detector.parameters["model_frame"] != ""
    assert choose_detector(specs, checkpoint=tmp_path / "missing.pt") == "antipodal"
    assert detector.parameters == {**detector.parameters, "detector": "antipodal", "model_frame": ""}
    out = capsys.readouterr().out
    assert f"learned GraspDetector ({weights})" in out and "no trained weights at" in out and "antipodal" in out


def test_demo_runs_through_ros2_launch_where_it_is_installed(monkeypatch, capsys):
    from grasp6d_ros import demo
    monkeypatch.setattr(demo, "launch_unavailable_reason", lambda: None)
    assert demo.choose_runner("auto") == "launch" and demo.choose_runner("in-process") == "in-process"
    monkeypatch.setattr(demo, "launch_unavailable_reason", lambda: "the ROS 2 Python package 'launch' is not installed")
    assert demo.choose_runner("auto") == "in-process"
    assert "not through ros2 launch: the ROS 2 Python package 'launch' is not installed" in capsys.readouterr().out
    with pytest.raises(demo.DemoError, match="cannot start the graph with ros2 launch"):
        demo.choose_runner("launch")
    with pytest.raises(ValueError, match="runner 'docker'"):
        demo.choose_runner("docker")


def test_launched_demo_gets_the_demos_parameter_changes_in_a_params_file():
    """What choose_detector and run_graph(parameters=...) change reaches ros2 launch as params_file values."""
    from grasp6d_ros.demo import parameter_overrides
    specs = describe("playback", "sim")
    base = describe("playback", "sim")
    assert parameter_overrides(specs, base) == {}
    by_name = {s.executable: s for s in specs}
    by_name["detector_node"].parameters.update(detector="antipodal", model_frame="", top_k=by_name["detector_node"].parameters["top_k"])
    by_name["executor_node"].parameters["new_value"] = 1
    assert parameter_overrides(specs, base) == {"detector_node": {"detector": "antipodal", "model_frame": ""},
                                                "executor_node": {"new_value": 1}}
