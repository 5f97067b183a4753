"""Demo runner pieces: ranked table, picture, node discovery from launch specs, nodes built from specs."""
import numpy as np
import pytest
from rclpy.node import Node

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation
from grasp6d_ros.demo import create_nodes, node_class, ranked_table, save_picture
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
    path = save_picture(points, _grasps(), tmp_path / "grasps.png")
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
    assert (tmp_path / "grasps.png").stat().st_size > 10_000
    topics = {m.channel.topic for m in read_ros2_messages(str(tmp_path / "run.mcap"))}
    assert topics == {"/camera/depth/image_raw", "/tsdf_node/surface", "/detector_node/grasps", "/detector_node/markers"}
