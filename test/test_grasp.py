"""GraspGroup, grasp-frame rotations and camera intrinsics (grasp6d_core, no ROS)."""
import numpy as np
import pytest

from grasp6d_core import CameraIntrinsics, GraspGroup, grasp_rotation
from grasp6d_core.grasp import GRASP_ARRAY_LEN, dump_path
from grasp6d_core.rotations import in_plane_angle, quaternion_to_rotation, rotation_to_quaternion


def random_grasps(n: int, seed: int = 0, spread: float = 0.2) -> GraspGroup:
    rng = np.random.default_rng(seed)
    rotations = grasp_rotation(rng.normal(size=(n, 3)), rng.uniform(-np.pi, np.pi, n))
    return GraspGroup.from_components(scores=rng.uniform(0, 1, n), widths=rng.uniform(0, 0.12, n),
                                      depths=rng.choice([0.01, 0.02, 0.03, 0.04], n), rotations=rotations,
                                      translations=rng.uniform(-spread, spread, (n, 3)), object_ids=rng.integers(0, 5, n))


def test_grasp_frame_follows_graspnet_convention():
    approach = np.array([0.3, -0.2, 0.9])
    R = grasp_rotation(approach, 0.0)
    assert np.allclose(R[:, 0], approach / np.linalg.norm(approach))
    # Closing direction is horizontal (no z component) at theta = 0, and the frame is right-handed.
    assert abs(R[2, 1]) < 1e-12
    assert np.allclose(np.cross(R[:, 0], R[:, 1]), R[:, 2])
    assert np.isclose(np.linalg.det(R), 1.0)


def test_grasp_frame_vertical_approach_uses_fallback_closing_axis():
    R = grasp_rotation([0.0, 0.0, -2.0], 0.0)
    assert np.allclose(R[:, 0], [0, 0, -1])
    assert np.allclose(R[:, 1], [0, 1, 0])


def test_in_plane_angle_recovers_theta_and_rotates_about_approach():
    rng = np.random.default_rng(1)
    approach = rng.normal(size=(50, 3))
    theta = rng.uniform(-np.pi + 1e-3, np.pi - 1e-3, 50)
    R = grasp_rotation(approach, theta)
    assert np.allclose(in_plane_angle(R), theta, atol=1e-9)
    # The in-plane rotation keeps the approach axis.
    assert np.allclose(R[:, :, 0], approach / np.linalg.norm(approach, axis=1, keepdims=True))


def test_zero_approach_is_rejected():
    with pytest.raises(ValueError, match="non-zero"):
        grasp_rotation(np.zeros(3))


def test_quaternion_round_trip_in_ros_order():
    R = grasp_rotation(np.array([[0, 0, 1.0]]), [np.pi / 2])
    q = rotation_to_quaternion(R)
    assert q.shape == (1, 4)
    assert np.isclose(np.linalg.norm(q), 1.0)
    assert np.allclose(quaternion_to_rotation(q), R)
    # Unnormalised quaternions are normalised; zero ones rejected.
    assert np.allclose(quaternion_to_rotation(3 * q), R)
    with pytest.raises(ValueError):
        quaternion_to_rotation(np.zeros(4))


def test_rows_have_benchmark_layout():
    g = GraspGroup.from_components(scores=[0.7], widths=[0.05], depths=[0.02], rotations=np.eye(3)[None],
                                   translations=[[0.1, 0.2, 0.3]], heights=0.02, object_ids=[4])
    row = g.array[0]
    assert row.shape == (GRASP_ARRAY_LEN,)
    assert np.allclose(row[:4], [0.7, 0.05, 0.02, 0.02])
    assert np.allclose(row[4:13], np.eye(3).reshape(-1))
    assert np.allclose(row[13:16], [0.1, 0.2, 0.3])
    assert row[16] == 4


def test_width_is_clamped_to_gripper_range():
    g = random_grasps(3)
    clamped = GraspGroup.from_components(g.scores, [-0.01, 0.05, 0.3], g.depths, g.rotations, g.translations)
    assert np.allclose(clamped.widths, [0.0, 0.05, 0.10])


def test_bad_array_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, 17\)"):
        GraspGroup(np.zeros((3, 16)))


def test_sort_and_top_k():
    g = random_grasps(20)
    top = g.top_k(5)
    assert len(top) == 5
    assert np.all(np.diff(top.scores) <= 0)
    assert np.isclose(top.scores[0], g.scores.max())
    assert len(g.top_k(100)) == 20
    assert len(g.top_k(0)) == 0


def test_indexing_returns_groups():
    g = random_grasps(10)
    assert len(g[3]) == 1 and np.allclose(g[3].array[0], g.array[3])
    assert len(g[g.scores > 0.5]) == int((g.scores > 0.5).sum())
    assert len(g[2:5]) == 3


def test_nms_suppresses_near_duplicates_and_keeps_distinct():
    base = GraspGroup.from_components(scores=[0.9], widths=[0.05], depths=[0.02],
                                      rotations=grasp_rotation([[1.0, 0, 0]], [0.0]), translations=[[0, 0, 0.5]])
    near_same = base.copy()
    near_same.array[:, 0] = 0.8
    near_same.array[:, 13:16] += [0.01, 0, 0]             # 1 cm away, same rotation -> suppressed
    far = base.copy()
    far.array[:, 0] = 0.7
    far.array[:, 13:16] += [0.05, 0, 0]                   # 5 cm away -> kept
    turned = base.copy()
    turned.array[:, 0] = 0.6
    turned.array[:, 4:13] = grasp_rotation([[1.0, 0, 0]], [np.pi / 2]).reshape(1, 9)  # 90 deg -> kept
    flipped = base.copy()
    flipped.array[:, 0] = 0.5
    flipped.array[:, 4:13] = grasp_rotation([[1.0, 0, 0]], [np.pi]).reshape(1, 9)  # same grasp, fingers swapped
    kept = GraspGroup.concatenate([turned, far, base, flipped, near_same]).nms(0.03, np.deg2rad(30))
    assert np.allclose(sorted(kept.scores, reverse=True), [0.9, 0.7, 0.6])
    assert np.all(np.diff(kept.scores) <= 0)


def test_nms_matches_brute_force_greedy():
    g = random_grasps(300, seed=3, spread=0.05)
    kept = g.nms()
    ordered = g.sort_by_score()
    keep = []
    flip = np.diag([1.0, -1.0, -1.0])
    for i in range(len(ordered)):
        suppressed = False
        for j in keep:
            dt = np.linalg.norm(ordered.translations[i] - ordered.translations[j])
            angles = []
            for Rj in (ordered.rotations[j], ordered.rotations[j] @ flip):
                c = (np.trace(ordered.rotations[i].T @ Rj) - 1) / 2
                angles.append(np.arccos(np.clip(c, -1, 1)))
            if dt < 0.03 and min(angles) < np.deg2rad(30):
                suppressed = True
                break
        if not suppressed:
            keep.append(i)
    assert np.allclose(kept.array, ordered.array[keep])


def test_transform_moves_poses_rigidly():
    g = random_grasps(10)
    T = np.eye(4)
    T[:3, :3] = grasp_rotation([0.2, 0.5, -0.3], 0.7)
    T[:3, 3] = [0.5, -0.1, 0.2]
    moved = g.transform(T)
    assert np.allclose(moved.poses(), T @ g.poses())
    assert np.allclose(moved.widths, g.widths) and np.allclose(moved.scores, g.scores)
    back = moved.transform(np.linalg.inv(T))
    assert np.allclose(back.array, g.array)
    with pytest.raises(ValueError, match="rigid"):
        g.transform(np.diag([2.0, 1, 1, 1]))


def test_pose_round_trip():
    g = random_grasps(15)
    again = GraspGroup.from_poses(g.translations, g.quaternions(), g.widths, g.depths, g.scores, g.heights,
                                  g.object_ids)
    assert np.allclose(again.array, g.array, atol=1e-9)


def test_dump_layout_save_and_load(tmp_path):
    g = random_grasps(7)
    path = g.save_dump(tmp_path / "dump", scene_id=160, camera="realsense", ann_id=3)
    assert path == tmp_path / "dump" / "scene_0160" / "realsense" / "0003.npy"
    assert path == dump_path(tmp_path / "dump", 160, "realsense", 3)
    raw = np.load(path)
    assert raw.dtype == np.float32 and raw.shape == (7, 17)
    loaded = GraspGroup.load_dump(tmp_path / "dump", 160, "realsense", 3)
    assert np.allclose(loaded.array, g.array, atol=1e-6)


def test_corrupt_grasp_file_names_the_file(tmp_path):
    bad = tmp_path / "0000.npy"
    bad.write_bytes(b"not a numpy file")
    with pytest.raises(ValueError, match="0000.npy"):
        GraspGroup.load_npy(bad)
    wrong = tmp_path / "0001.npy"
    np.save(wrong, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="0001.npy"):
        GraspGroup.load_npy(wrong)


INTRINSICS = CameraIntrinsics(width=640, height=480, fx=600.0, fy=610.0, cx=320.5, cy=240.5)


def test_depth_to_points_and_projection_are_inverse():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.3, 1.5, (480, 640)).astype(np.float32)
    depth[10, 20] = 0.0
    depth[30, 40] = np.nan
    points = INTRINSICS.depth_to_points(depth)
    assert points.shape == (480 * 640 - 2, 3)
    organized = INTRINSICS.depth_to_points(depth, organized=True)
    assert np.isnan(organized[10, 20]).all() and np.isnan(organized[30, 40]).all()
    uv, inside = INTRINSICS.project(organized[100:110, 200:210].reshape(-1, 3))
    assert inside.all()
    v, u = np.mgrid[100:110, 200:210]
    assert np.allclose(uv, np.stack([u.ravel(), v.ravel()], 1), atol=1e-3)


def test_projection_flags_points_behind_or_outside():
    uv, inside = INTRINSICS.project(np.array([[0, 0, -1.0], [10.0, 0, 1.0], [0, 0, 1.0]]))
    assert inside.tolist() == [False, False, True]


def test_intrinsics_validation():
    with pytest.raises(ValueError, match="depth image is"):
        INTRINSICS.depth_to_points(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="focal"):
        CameraIntrinsics(640, 480, 0.0, 1.0, 0, 0)
    K = INTRINSICS.K
    assert CameraIntrinsics.from_matrix(K, 640, 480) == INTRINSICS
