"""ROS message <-> numpy conversions (grasp6d_ros.conversions), including malformed messages."""
import numpy as np
import pytest
from sensor_msgs.msg import Image, PointCloud2, PointField

from grasp6d_core import CameraIntrinsics, GraspGroup, grasp_rotation
from grasp6d_ros.conversions import (ConversionError, camera_info_to_intrinsics, depth_image_to_metres,
                                     grasp_group_to_msg, grasp_msgs_to_group, image_to_numpy,
                                     intrinsics_to_camera_info, metres_to_depth_image, numpy_to_image,
                                     numpy_to_pointcloud2, pointcloud2_to_numpy)

RNG = np.random.default_rng(7)
SAMPLES = {
    "16UC1": RNG.integers(0, 65535, (6, 5), dtype=np.uint16),
    "mono16": RNG.integers(0, 65535, (6, 5), dtype=np.uint16),
    "32FC1": RNG.uniform(0.1, 3.0, (6, 5)).astype(np.float32),
    "rgb8": RNG.integers(0, 255, (6, 5, 3), dtype=np.uint8),
    "bgr8": RNG.integers(0, 255, (6, 5, 3), dtype=np.uint8),
}


@pytest.mark.parametrize("encoding", sorted(SAMPLES))
def test_image_round_trip_is_exact(encoding):
    array = SAMPLES[encoding]
    msg = numpy_to_image(array, encoding, frame_id="cam", stamp=12.5)
    assert msg.encoding == encoding and msg.header.frame_id == "cam"
    assert msg.header.stamp.sec == 12 and msg.header.stamp.nanosec == 500_000_000
    back = image_to_numpy(msg)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)


def _padded_big_endian(array: np.ndarray, encoding: str, pad: int) -> Image:
    """A message as another driver might send it: big-endian, each row padded by ``pad`` bytes."""
    big = array.astype(array.dtype.newbyteorder(">"))
    rows = big.reshape(array.shape[0], -1).view(np.uint8)
    padded = np.hstack([rows, np.full((array.shape[0], pad), 0xAB, np.uint8)])
    msg = Image(height=array.shape[0], width=array.shape[1], encoding=encoding, is_bigendian=1,
                step=padded.shape[1])
    msg.data = padded.tobytes()
    return msg


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_image_honours_step_and_byte_order(encoding):
    array = SAMPLES[encoding]
    assert np.array_equal(image_to_numpy(_padded_big_endian(array, encoding, pad=6)), array)


def test_depth_units_mm_and_m():
    mm = np.array([[0, 1000], [1500, 65535]], np.uint16)
    metres = depth_image_to_metres(numpy_to_image(mm, "16UC1"))
    assert metres.dtype == np.float32
    assert np.allclose(metres, [[0.0, 1.0], [1.5, 65.535]])
    depth = np.array([[0.5, np.nan], [0.0, 2.0]], np.float32)
    as_mm = image_to_numpy(metres_to_depth_image(depth, "16UC1"))
    assert as_mm.tolist() == [[500, 0], [0, 2000]]      # NaN and 0 both become "no depth"
    as_m = depth_image_to_metres(metres_to_depth_image(depth, "32FC1"))
    assert np.array_equal(np.isnan(as_m), np.isnan(depth)) and as_m[0, 0] == 0.5


def test_bad_images_raise_conversion_error_naming_the_field():
    msg = numpy_to_image(SAMPLES["16UC1"], "16UC1")
    msg.encoding = "yuv422"
    with pytest.raises(ConversionError, match="encoding"):
        image_to_numpy(msg)
    short = numpy_to_image(SAMPLES["16UC1"], "16UC1")
    short.data = bytes(short.data)[:-3]
    with pytest.raises(ConversionError, match="data"):
        image_to_numpy(short)
    narrow = numpy_to_image(SAMPLES["16UC1"], "16UC1")
    narrow.step = 4
    with pytest.raises(ConversionError, match="step"):
        image_to_numpy(narrow)
    with pytest.raises(ConversionError, match="depth encoding"):
        depth_image_to_metres(numpy_to_image(SAMPLES["rgb8"], "rgb8"))


def test_camera_info_round_trip_and_validation():
    intrinsics = CameraIntrinsics(640, 480, 615.3, 615.9, 322.1, 241.7)
    info = intrinsics_to_camera_info(intrinsics, frame_id="camera_depth_optical_frame")
    assert info.header.frame_id == "camera_depth_optical_frame"
    assert camera_info_to_intrinsics(info) == intrinsics
    info.k = [0.0] * 9
    with pytest.raises(ConversionError, match="CameraInfo.k"):
        camera_info_to_intrinsics(info)


def test_pointcloud_round_trip_with_and_without_normals():
    points = RNG.normal(size=(100, 3)).astype(np.float32)
    normals = RNG.normal(size=(100, 3)).astype(np.float32)
    msg = numpy_to_pointcloud2(points, normals, frame_id="world", stamp=3.0)
    p, n = pointcloud2_to_numpy(msg, with_normals=True)
    assert np.array_equal(p, points) and np.array_equal(n, normals)
    p_only, none = pointcloud2_to_numpy(numpy_to_pointcloud2(points), with_normals=True)
    assert np.array_equal(p_only, points) and none is None


def test_pointcloud_foreign_layout_big_endian_padded_float64():
    """A cloud laid out like another driver's: float64 xyz, an rgb field between, padding, big-endian."""
    points = RNG.normal(size=(4, 3))
    dtype = np.dtype({"names": ["x", "y", "z", "rgb"], "formats": [">f8", ">f8", ">f8", ">u4"],
                      "offsets": [0, 8, 16, 24], "itemsize": 32})
    structured = np.zeros(4, dtype)
    structured["x"], structured["y"], structured["z"] = points.T
    msg = PointCloud2(height=1, width=4, is_bigendian=True, point_step=32, row_step=128)
    msg.fields = [PointField(name="x", offset=0, datatype=PointField.FLOAT64, count=1),
                  PointField(name="y", offset=8, datatype=PointField.FLOAT64, count=1),
                  PointField(name="z", offset=16, datatype=PointField.FLOAT64, count=1),
                  PointField(name="rgb", offset=24, datatype=PointField.UINT32, count=1)]
    msg.data = structured.tobytes()
    p, _ = pointcloud2_to_numpy(msg)
    assert np.allclose(p, points, atol=1e-6)


def test_pointcloud_drops_nan_points_and_rejects_malformed():
    points = np.array([[0, 0, 1], [np.nan, 0, 1], [1, 1, 1]], np.float32)
    p, _ = pointcloud2_to_numpy(numpy_to_pointcloud2(points))
    assert len(p) == 2
    msg = numpy_to_pointcloud2(points)
    msg.data = bytes(msg.data)[:-4]
    with pytest.raises(ConversionError, match="data"):
        pointcloud2_to_numpy(msg)
    no_z = numpy_to_pointcloud2(points)
    no_z.fields = no_z.fields[:2]
    with pytest.raises(ConversionError, match="fields"):
        pointcloud2_to_numpy(no_z)
    with pytest.raises(ConversionError, match="normals"):
        numpy_to_pointcloud2(points, normals=np.zeros((2, 3)))


def test_grasp_group_message_round_trip_sorted():
    n = 12
    grasps = GraspGroup.from_components(scores=RNG.uniform(size=n), widths=RNG.uniform(0, 0.1, n), depths=0.02,
                                        rotations=grasp_rotation(RNG.normal(size=(n, 3)), RNG.uniform(-3, 3, n)),
                                        translations=RNG.normal(size=(n, 3)), object_ids=np.arange(n))
    msg = grasp_group_to_msg(grasps, frame_id="camera", stamp=1.25)
    assert msg.header.frame_id == "camera" and len(msg.grasps) == n
    scores = [g.score for g in msg.grasps]
    assert scores == sorted(scores, reverse=True)
    back = grasp_msgs_to_group(msg.grasps)
    assert np.allclose(back.array, grasps.sort_by_score().array, atol=1e-6)
    assert len(grasp_msgs_to_group([])) == 0
    msg.grasps[0].pose.orientation.w = 0.0
    msg.grasps[0].pose.orientation.x = 0.0
    msg.grasps[0].pose.orientation.y = 0.0
    msg.grasps[0].pose.orientation.z = 0.0
    with pytest.raises(ConversionError, match="orientation"):
        grasp_msgs_to_group(msg.grasps)
