"""camera_node refuses an fps that would publish nothing; a cloud whose fields do not fit its point_step is a
malformed cloud (a ConversionError naming field and step), and detector_node answers it as such."""
import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from sensor_msgs.msg import PointField

from grasp6d_core.sensing.realsense_record import write_recording
from grasp6d_core.camera import REALSENSE_640
from grasp6d_ros.camera_node import CameraNode
from grasp6d_ros.conversions import ConversionError, numpy_to_pointcloud2, pointcloud2_to_numpy
from grasp6d_ros.detector_node import DetectorNode

K = REALSENSE_640.scaled(0.25)


@pytest.fixture
def context():
    context = Context()
    rclpy.init(context=context)
    yield context
    rclpy.shutdown(context=context)


def _cloud(n=300):
    return numpy_to_pointcloud2(np.random.default_rng(0).uniform(-0.1, 0.1, (n, 3)) + [0, 0, 0.6], frame_id="camera")


def short_point_step():
    cloud = _cloud()
    cloud.point_step, cloud.row_step = 8, 8 * cloud.width          # x y z need 12 bytes
    return cloud


def offset_past_step():
    cloud = _cloud()
    cloud.fields[2] = PointField(name="z", offset=16, datatype=PointField.FLOAT32, count=1)
    return cloud


def duplicate_field():
    cloud = _cloud()
    cloud.fields.append(PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1))
    return cloud


def zero_count():
    cloud = _cloud()
    cloud.fields[1].count = 0
    return cloud


def xyz_vector_field():
    cloud = _cloud()   # found by the fuzzer: x as a 3-vector made np.stack raise (an "internal error" answer)
    cloud.point_step, cloud.row_step = 20, 20 * cloud.width
    cloud.fields[0].count = 3
    cloud.data = bytes(20 * cloud.width)
    return cloud


MALFORMED = {xyz_vector_field: "fields['x'].count is 3, must be 1",
             short_point_step: "fields['z'] (offset 8, 1 x 4 bytes) ends at byte 12, past point_step 8",
             offset_past_step: "fields['z'] (offset 16, 1 x 4 bytes) ends at byte 20, past point_step 12",
             duplicate_field: "fields has 'x' twice",
             zero_count: "fields['y'].count is 0"}


@pytest.mark.parametrize("make", MALFORMED, ids=lambda f: f.__name__)
def test_fields_that_do_not_fit_point_step_are_a_conversion_error(make):
    with pytest.raises(ConversionError) as error:
        pointcloud2_to_numpy(make())
    assert MALFORMED[make] in str(error.value)


def test_detector_answers_a_malformed_cloud_not_an_internal_error(context):
    from grasp6d_ros.srv import DetectGrasps
    node = DetectorNode(context=context, parameter_overrides=[Parameter("detector", value="antipodal")])
    try:
        for make, expected in MALFORMED.items():
            answer = node._on_detect(DetectGrasps.Request(cloud=make()), DetectGrasps.Response())
            assert not answer.success and answer.message.startswith("malformed cloud: PointCloud2.fields")
            assert expected in answer.message, answer.message
    finally:
        node.destroy_node()


def test_camera_node_refuses_fps_that_publishes_nothing(context, tmp_path):
    for fps in (0, -5):
        with pytest.raises(ValueError, match=f"fps must be a number > 0 .*got {fps}"):
            CameraNode(context=context, parameter_overrides=[Parameter("fps", value=fps)])
    recording = tmp_path / "one.db3"
    write_recording(recording, [np.full((K.height, K.width), 0.5, np.float32)], K)
    node = CameraNode(context=context, parameter_overrides=[Parameter("path", value=str(recording))])
    try:
        period = node._timer.timer_period_ns
        for fps in (0, -2):
            (result,) = node.set_parameters([Parameter("fps", value=fps)])
            assert not result.successful and f"fps must be a number > 0 (frames per second), got {fps}" in result.reason
        assert node.get_parameter("fps").value == 30 and node._timer.timer_period_ns == period
        (result,) = node.set_parameters([Parameter("fps", value=5)])   # a valid change takes effect at once
        assert result.successful and node._timer.timer_period_ns == 200_000_000
    finally:
        node.destroy_node()
