"""detector_node over real rclpy/DDS: the model's parameters (detector, checkpoint, device) are read-only after
start, so a remote peer cannot swap the checkpoint of a running node and a change is never silently ignored;
a crafted checkpoint given at start is refused at configure (the node stays unconfigured and every request says
why, naming the file) without running its code."""
import numpy as np
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter

from grasp6d_core.model.checkpoint import shipped_checkpoint
from grasp6d_ros.conversions import numpy_to_pointcloud2
from grasp6d_ros.detector_node import DetectorNode
from ros_helpers import call_service, spinning
from test_checkpoint_safety import crafted_checkpoint


def test_model_parameters_are_read_only_and_a_crafted_checkpoint_runs_nothing(tmp_path):
    from grasp6d_ros.srv import DetectGrasps
    evil, marker = tmp_path / "evil.pt", tmp_path / "marker"
    crafted_checkpoint(evil, marker)
    detector = lambda ctx: DetectorNode(context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("checkpoint", value=str(evil)), Parameter("min_points", value=50)])
    with spinning(detector, lambda ctx: Node("param_peer", context=ctx)) as (_, peer):
        set_params = peer.create_client(SetParameters, "/detector_node/set_parameters")
        get_params = peer.create_client(GetParameters, "/detector_node/get_parameters")

        # A remote peer tries to change what the model is built from: refused, with the parameter named.
        changes = [Parameter("checkpoint", value=str(shipped_checkpoint())), Parameter("device", value="cuda"),
                   Parameter("detector", value="antipodal"), Parameter("precision", value="float32")]
        answer = call_service(set_params, SetParameters.Request(parameters=[p.to_parameter_msg() for p in changes]))
        for change, result in zip(changes, answer.results):
            assert not result.successful and result.reason == f"Trying to set a read-only parameter: {change.name}."
        values = call_service(get_params, GetParameters.Request(names=["checkpoint", "device"])).values
        assert [values[0].string_value, values[1].string_value] == [str(evil), "cpu"]

        # Other parameters stay settable at run time.
        answer = call_service(set_params, SetParameters.Request(
            parameters=[Parameter("min_score", value=0.1).to_parameter_msg()]))
        assert answer.results[0].successful

        # The crafted checkpoint from start-up: configure refused it; each request says so naming the file; its
        # code never runs.
        client = peer.create_client(DetectGrasps, "/detect_grasps")
        cloud = np.random.default_rng(0).uniform(-0.1, 0.1, (500, 3)).astype(np.float32) + [0, 0, 0.6]
        for _ in range(2):
            reply = call_service(client, DetectGrasps.Request(cloud=numpy_to_pointcloud2(cloud, frame_id="camera")))
            assert not reply.success and reply.message.startswith(
                f"node is unconfigured: configure failed: model error: cannot load checkpoint '{evil}'")
            assert "refused, it holds a pickled io.open" in reply.message
        assert not marker.exists()


def test_a_bad_precision_fails_the_model_load_with_a_reason_naming_the_choices():
    """detector_node's precision parameter reaches the model load; a bad value is a DetectionError (configure
    fails, the node stays up and answers with the reason) before the checkpoint is read."""
    import pytest
    from grasp6d_ros.detector_node import DetectionError, load_detector
    with pytest.raises(DetectionError, match=r"model error: .*precision must be one of auto \| float32 \| bfloat16, got 'half'"):
        load_detector("", "cpu", "half")
    assert load_detector("", "cpu", "float32").precision == "float32"
