"""Domain randomization of `grasp6d synth` (docs/data.md, "Randomized scenes"): the draws lie in their ranges and
come back from the seed, the written files agree with the draw (camera poses, the tilted table in the depth
images), and the collision labels see the table the evaluator reads. The GraspNet layout of a randomized root,
the loader and the evaluator's readers are checked by test_data_engine.py, whose train root is randomized."""
import json

import numpy as np
import pytest

from grasp6d_core.cli import main as cli
from grasp6d_core.data.randomize import Randomization, draw_scene, scaled_sensor

ARGS = ["synth", "--split", "train", "--scenes", "1", "--views", "4", "--objects", "2-2", "--object-ids", "0,4",
        "--label-points", "48", "--seed", "5", "--tilt", "15", "--no-text-sdf", "--quiet"]
SCENE = "scene_0000"


def test_draws_lie_in_their_ranges_and_come_back_from_the_seed():
    rand = Randomization()
    draws = [draw_scene(rand, 11, s, 16, ("realsense", "kinect")) for s in range(30)]
    for d in draws:
        assert 0 <= d.tilt_deg <= rand.tilt_deg and abs(d.table_height_m) <= rand.table_height_m
        assert rand.spread[0] <= d.spread <= rand.spread[1]
        assert all(rand.noise_scale[0] <= v <= rand.noise_scale[1] for c in d.noise.values() for v in c.values())
        assert min(d.distance_m) >= rand.distance_m[0] and max(d.distance_m) <= rand.distance_m[1]
        el = np.sort(d.elevation_deg)
        # stratified: one view in each sixteenth of 20°–80°, so every scene spans the range
        assert np.all((el >= 20 + 3.75 * np.arange(16)) & (el <= 20 + 3.75 * np.arange(1, 17)))
    assert draw_scene(rand, 11, 3, 16, ("realsense", "kinect")) == draws[3]
    assert draw_scene(rand, 12, 3, 16, ("realsense", "kinect")) != draws[3]
    assert len({round(d.tilt_deg, 6) for d in draws}) == 30


def test_noise_factors_scale_the_sensor():
    from grasp6d_core.data.noise import get_sensor
    rs = get_sensor("realsense")
    s = scaled_sensor(rs, {"axial": 2.0, "edge": 3.0, "holes": 0.5, "pixel_dropout": 1.5})
    assert s.sigma0 == pytest.approx(2 * rs.sigma0) and s.k_z2 == pytest.approx(2 * rs.k_z2)
    assert s.edge_dropout == 1.0 and s.holes_per_image == pytest.approx(3.0)   # probabilities capped at 1
    assert s.pixel_dropout == pytest.approx(1.5 * rs.pixel_dropout) and s.K == rs.K


def test_flags_are_checked(tmp_path, capsys):
    out = str(tmp_path / "d")
    assert cli(["synth", "--out", out, "--split", "novel", "--elevation", "20-80", "--quiet"]) == 2
    assert "--elevation need --randomize" in capsys.readouterr().err
    assert cli(["synth", "--out", out, "--elevation", "80-20", "--quiet"]) == 2
    assert "--elevation must be MIN-MAX with 5 <= MIN <= MAX <= 89, got '80-20'" in capsys.readouterr().err
    assert cli(["synth", "--out", out, "--pile-share", "1.5", "--quiet"]) == 2
    assert "--pile-share must lie in 0…1, got 1.5" in capsys.readouterr().err


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("rand") / "root"
    assert cli(ARGS + ["--out", str(out)]) == 0
    return out


def test_the_draw_is_recorded_and_the_files_follow_it(root):
    recorded = json.loads((root / "scenes" / SCENE / "randomization.json").read_text())
    rand = Randomization(tilt_deg=15.0)
    draw = draw_scene(rand, 5, 0, 4, ("realsense",))
    assert recorded == json.loads(json.dumps({"layout": recorded["layout"], **draw.as_dict()}))
    recipe = json.loads((root / "synth_train.json").read_text())
    assert recipe["randomize"] == rand.as_dict() and recipe["objects"] == [2, 2]
    cdir = root / "scenes" / SCENE / "realsense"
    table_cam = np.load(cdir / "cam0_wrt_table.npy") @ np.load(cdir / "camera_poses.npy")
    np.testing.assert_allclose(table_cam, draw.camera_poses(), atol=1e-6)
    up = draw.table_from_rig @ [0, 0, 1]
    assert np.degrees(np.arccos(up[2])) == pytest.approx(draw.tilt_deg, abs=1e-6)
    for ann, T in enumerate(table_cam):
        assert abs(T[:3, 0] @ up) < 1e-9                                            # image rows level in the rig
        assert np.degrees(np.arcsin(-T[:3, 2] @ up)) == pytest.approx(draw.elevation_deg[ann], abs=1e-6)


def test_the_depth_shows_the_tilted_table_where_the_files_put_it(root):
    """Table pixels back-projected and moved into the table frame lie on z = 0, although the table is tilted by
    several degrees against the rig the views were placed in (which would put them centimetres off)."""
    from PIL import Image
    from grasp6d_core.data.noise import get_sensor
    cdir = root / "scenes" / SCENE / "realsense"
    table_cam = np.load(cdir / "cam0_wrt_table.npy") @ np.load(cdir / "camera_poses.npy")
    rig = np.eye(4)
    rig[:3, :3] = draw_scene(Randomization(tilt_deg=15.0), 5, 0, 4, ("realsense",)).table_from_rig.T
    for ann in range(4):
        depth = np.asarray(Image.open(cdir / "depth" / f"{ann:04d}.png")).astype(np.float64) / 1000
        label = np.asarray(Image.open(cdir / "label" / f"{ann:04d}.png"))
        cloud = get_sensor("realsense").intrinsics.depth_to_points(depth, organized=True)[(label == 0) & (depth > 0)]
        world = cloud @ table_cam[ann][:3, :3].T + table_cam[ann][:3, 3]
        near = world[np.linalg.norm(world[:, :2], axis=1) < 0.3]
        assert len(near) > 10000
        assert abs(np.median(near[:, 2])) < 0.001 and np.percentile(np.abs(near[:, 2]), 90) < 0.006
        in_rig = near @ rig[:3, :3].T
        assert np.percentile(np.abs(in_rig[:, 2] - np.median(in_rig[:, 2])), 90) > 0.01


def test_collision_labels_see_the_table_the_evaluator_reads(root):
    """Every label grasp that the evaluator's check (graspnetAPI's table points from cam0_wrt_table, gripper
    boxes) finds in the table is a collision in the scene's labels."""
    from grasp6d_core.data.labels import DEPTHS, label_rotations
    from grasp6d_core.data.scenes import load_labels
    from grasp6d_core.evaluation.dumps import fibonacci_views
    from grasp6d_core.data.scene_io import load_image_truth
    from grasp6d_core.physics.gripper import collision_and_empty
    truth = load_image_truth(root, 0, "realsense", 1)
    with np.load(root / "collision_label" / SCENE / "collision_labels.npz") as z:
        coll = [z[f"arr_{i}"] for i in range(len(truth.object_ids))]
    rot = label_rotations(fibonacci_views())
    rng = np.random.default_rng(0)
    flagged = 0
    for i, oid in enumerate(truth.object_ids):
        L, T = load_labels(root, int(oid)), truth.poses[i]
        idx = np.argwhere(L["scores"].astype(np.float32) > 0)
        idx = idx[rng.choice(len(idx), min(3000, len(idx)), replace=False)]
        p, v, a, d = idx.T
        R = np.einsum("ij,njk->nik", T[:3, :3], rot[v, a])
        t = L["points"][p].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
        near = truth.table_points[np.linalg.norm(truth.table_points - t.mean(0), axis=1) < 0.2]
        hit, _ = collision_and_empty(near, R, t, L["offsets"][p, v, a, d, 2].astype(np.float64), DEPTHS[d])
        flagged += int(hit.sum())
        assert coll[i][p, v, a, d][hit].all()
    assert flagged >= 20


def test_grasp6d_eval_scores_the_label_oracle_on_a_tilted_scene(root, tmp_path, capsys):
    """`grasp6d eval` reads the randomized root; the label grasps, scored against the table it builds from
    cam0_wrt_table and the models posed by the meta files, hold as on a fixed-arc scene."""
    capsys.readouterr()
    assert cli(["eval", "--root", str(root), "--dump", str(tmp_path / "d"), "--scenes", "0", "--make-dump", "oracle",
                "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["AP"] > 0.5 and "scene_0000" in result["per_scene"]
