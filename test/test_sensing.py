"""Depth sources: RealSense recording written with the real SDK (software_device + recorder) and played back
through the real pipeline; benchmark scene directories; Azure Kinect mode logic and its missing-SDK error."""
import subprocess
import sys

import numpy as np
import pytest

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.sensing import DepthFrame, SourceError, open_source
from grasp6d_core.sensing.kinect import (DEPTH_MODES, KinectSource, kinect_depth_to_metres, kinect_mode)
from grasp6d_core.sensing.realsense import RealSenseSource
from grasp6d_core.sensing.realsense_record import depth_to_units, write_recording
from grasp6d_core.sensing.scene_dir import SceneDirSource, write_depth_png
from grasp6d_core.sensing.synthetic import TabletopScene

K = CameraIntrinsics(96, 72, 80.25, 81.5, 47.5, 35.25)


def known_depths(n: int) -> list[np.ndarray]:
    """Depth ramps with holes (0), a NaN and a too-far pixel that must come back as 0."""
    rng = np.random.default_rng(1)
    depths = []
    for i in range(n):
        d = (0.3 + 0.001 * np.arange(K.width * K.height).reshape(K.height, K.width) / 7 + 0.01 * i).astype(np.float32)
        d[rng.random(d.shape) < 0.1] = 0.0
        d[0, 0], d[0, 1] = np.nan, 40.0  # 40 m does not fit uint16 at 0.5 mm units -> no measurement
        depths.append(d)
    return depths


def test_realsense_db3_record_and_playback_is_exact(tmp_path):
    depths, units = known_depths(6), 0.0005  # D405-like 0.5 mm units: playback must use the recorded scale
    path = tmp_path / "table.db3"
    assert write_recording(path, depths, K, fps=15, depth_units=units) == 6
    with open_source("playback", path=str(path)) as source:
        assert isinstance(source, RealSenseSource)
        frames = list(source)
        assert source.finished
    assert len(frames) == 6
    for i, (frame, depth) in enumerate(zip(frames, depths)):
        expected_units = depth_to_units(depth, units)
        assert expected_units[0, 0] == 0 and expected_units[0, 1] == 0
        assert np.array_equal(np.round(frame.depth / units).astype(np.uint16), expected_units)
        assert np.array_equal(frame.depth, expected_units.astype(np.float32) * np.float32(units))
        assert frame.timestamp == pytest.approx(i / 15, abs=1e-4) and frame.index == i
    got = frames[0].intrinsics
    assert (got.width, got.height) == (K.width, K.height)
    assert np.allclose([got.fx, got.fy, got.cx, got.cy], [K.fx, K.fy, K.cx, K.cy], atol=1e-4)


def test_realsense_playback_loops_and_bad_paths_are_named(tmp_path):
    path = tmp_path / "two.db3"
    write_recording(path, known_depths(2), K)
    with RealSenseSource.playback(path, loop=True) as source:
        numbers = []
        while len(numbers) < 5:
            frame = source.read()
            if frame is not None:
                numbers.append((frame.index, frame.extras["frame_number"]))
        # the file again from its first frame, none lost at the turn; the source's own count goes on
        assert not source.finished and numbers == [(0, 0), (1, 1), (2, 0), (3, 1), (4, 0)]
    # the file gone at its end: the loop cannot start it again, says so once, and the source ends
    with RealSenseSource.playback(path, loop=True) as source:
        assert source.read() is not None
        path.rename(tmp_path / "moved.db3")
        with pytest.raises(SourceError, match="two.db3.*playing the recording again at its end"):
            for _ in range(10):
                source.read()
        assert source.finished and source.read() is None
    with pytest.raises(SourceError, match="missing.db3.*does not exist"):
        open_source("playback", path=str(tmp_path / "missing.db3"))
    with pytest.raises(SourceError, match=r"\.mkv \(Azure Kinect\)"):
        open_source("playback", path=str(tmp_path / "x.avi"))
    with pytest.raises(SourceError, match="unknown depth source 'webcam'"):
        open_source("webcam")
    with pytest.raises(SourceError, match="align_to_color needs a colour stream"):
        RealSenseSource.playback(tmp_path / "moved.db3", align_to_color=True)
    with pytest.raises(SourceError, match="must end in .db3"):
        write_recording(tmp_path / "x.txt", known_depths(1), K)


def test_realsense_record_cli_writes_the_synthetic_table(tmp_path):
    out = tmp_path / "synthetic_table.db3"
    done = subprocess.run([sys.executable, "-m", "grasp6d_core.sensing.realsense_record", str(out),
                           "--synthetic-table", "--frames", "3"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    frames = list(open_source("playback", path=str(out)))
    assert len(frames) == 3 and frames[0].depth.shape == (480, 640)
    # 0.6 m above the table: depth from the highest object top to the table, no holes
    scene = TabletopScene()
    top = max(scene.box_extents[2], 2 * scene.sphere_radius)
    assert frames[0].depth.min() == pytest.approx(0.6 - top, abs=1e-3) and frames[0].depth.max() == pytest.approx(0.6, abs=1e-3)


def test_scene_directory_source(tmp_path):
    cam = tmp_path / "scene_0000" / "realsense"
    (cam / "depth").mkdir(parents=True)
    depths_mm = [np.full((K.height, K.width), 500 + 10 * i, np.uint16) for i in range(3)]
    for i, d in enumerate(depths_mm):
        write_depth_png(cam / "depth" / f"{i:04d}.png", d)
    np.save(cam / "camK.npy", K.K)
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[:, 0, 3] = [0.0, 0.1, 0.2]
    np.save(cam / "camera_poses.npy", poses)
    table = np.eye(4)
    table[2, 3] = 0.7
    np.save(cam / "cam0_wrt_table.npy", table)
    frames = list(open_source("scene_dir", path=str(cam)))
    assert [f.index for f in frames] == [0, 1, 2]
    assert np.allclose(frames[2].depth, 0.52) and frames[2].intrinsics == K
    assert np.allclose(frames[1].T_world_camera[:3, 3], [0.1, 0.0, 0.7])  # table <- cam0 <- cam1
    looped = SceneDirSource(cam, loop=True)
    assert [looped.read().index for _ in range(5)] == [0, 1, 2, 3, 4] and not looped.finished
    np.save(cam / "camera_poses.npy", poses[:2])
    with pytest.raises(SourceError, match="one 4x4 pose per depth image"):
        SceneDirSource(cam)
    with pytest.raises(SourceError, match="no depth/\\*.png"):
        SceneDirSource(tmp_path)


def test_depth_frame_checks_its_shape():
    with pytest.raises(ValueError, match="intrinsics are 96x72"):
        DepthFrame(np.zeros((10, 10)), K, 0.0)


def test_kinect_modes_conversion_and_missing_sdk_error():
    assert (kinect_mode("NFOV").width, kinect_mode("NFOV").height) == (640, 576)
    assert kinect_mode("wfov").name == "WFOV_2X2BINNED" and DEPTH_MODES["WFOV_UNBINNED"].width == 1024
    assert kinect_mode("WFOV_UNBINNED", fps=15).max_fps == 15
    with pytest.raises(ValueError, match="at most 15 fps"):
        kinect_mode("WFOV_UNBINNED", fps=30)
    with pytest.raises(ValueError, match="one of \\(5, 15, 30\\)"):
        kinect_mode("NFOV", fps=25)
    with pytest.raises(ValueError, match="unknown Azure Kinect depth mode 'XFOV'"):
        kinect_mode("XFOV")
    mm = np.array([[0, 1000], [65535, 523]], np.uint16)
    assert np.array_equal(kinect_depth_to_metres(mm), mm.astype(np.float32) * np.float32(0.001))
    with pytest.raises(ValueError, match="uint16"):
        kinect_depth_to_metres(mm.astype(np.float32))
    # pyk4a is not installed here: every Kinect entry point names the package and the SDK
    for opener in (lambda: KinectSource.live(), lambda: open_source("kinect"),
                   lambda: open_source("playback", path="/nonexistent/rec.mkv")):
        with pytest.raises(SourceError, match="pyk4a.*Azure Kinect Sensor SDK"):
            opener()


def test_camera_models_have_one_source():
    """synth's sensor models, the PyBullet camera and the demo recording tool take their intrinsics from
    grasp6d_core.camera; the 640×480 RealSense stream sees what GraspNet's 1280×720 colour view sees vertically."""
    import importlib.util
    import math
    from pathlib import Path

    from grasp6d_core import camera
    from grasp6d_core.data.noise import SENSORS
    from grasp6d_core.sim.world import DEFAULT_INTRINSICS
    assert SENSORS["realsense"].intrinsics == camera.GRASPNET_REALSENSE
    assert SENSORS["kinect"].intrinsics == camera.GRASPNET_KINECT
    assert DEFAULT_INTRINSICS == camera.REALSENSE_640.scaled(0.5)
    spec = importlib.util.spec_from_file_location(
        "make_demo_recording", Path(__file__).resolve().parents[1] / "tools" / "make_demo_recording.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.INTRINSICS == camera.REALSENSE_640

    def vertical_fov(c):
        return math.degrees(2 * math.atan(c.height / 2 / c.fy))
    assert abs(vertical_fov(camera.REALSENSE_640) - vertical_fov(camera.GRASPNET_REALSENSE)) < 1.0
