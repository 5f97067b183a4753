"""The AP judge: analytic cases, oracle vs random on a generated scene, and the `grasp6d eval` CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

from grasp6d_core.evaluation.ap import FRICTION_LIST, evaluate_image, precision_at_k, select_grasps
from grasp6d_core.evaluation.runner import evaluate_dump, image_jobs
from grasp6d_core.splits import parse_range
from grasp6d_core.data.scene_io import table_box_points
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation
from eval_fixtures import make_root
from physics_shapes import Box

HARMONIC_50 = sum(1.0 / k for k in range(1, 51))
BOX = Box([0.025, 0.02, 0.04])  # 5 × 4 × 8 cm, model frame centred
POSE = np.eye(4)
POSE[:3, 3] = [0.0, 0.0, 0.04]  # "camera" frame = table frame here: box standing on the table (z = 0)


def _box_points():
    return BOX.surface_points(spacing=0.004)


def _grasp(point, approach=(0.0, 0.0, -1.0), angle=0.0, width=0.06, depth=0.02, score=1.0):
    R = grasp_rotation(np.asarray(approach, dtype=float), angle)
    return GraspGroup.from_components([score], [width], [depth], R[None], np.asarray(point, dtype=float)[None])


def _evaluate(grasps):
    return evaluate_image(grasps, [_box_points()], POSE[None], [BOX], table_box_points())


def test_one_correct_grasp_scores_harmonic_over_50():
    # Top-down pinch across the 4 cm side (closing along y), fingertips 2 cm below the top face.
    result = _evaluate(_grasp([0.0, 0.0, 0.08]))
    assert not result.collision[0] and not result.empty[0]
    assert result.friction[0] == pytest.approx(0.1)
    np.testing.assert_allclose(result.precision.mean(axis=0), HARMONIC_50 / 50)  # ≈ 0.09 at every μ
    assert HARMONIC_50 / 50 == pytest.approx(0.09, abs=0.001)


def test_free_air_is_empty_and_through_object_collides():
    air = _evaluate(_grasp([0.0, 0.0, 0.3]))
    assert air.empty[0] and not air.collision[0] and air.precision.sum() == 0
    through = _evaluate(_grasp([0.0, 0.0, 0.06], width=0.02))  # fingers 2 cm apart inside a 4 cm box
    assert through.collision[0] and through.precision.sum() == 0
    into_table = _evaluate(_grasp([0.0, 0.0, 0.02], depth=0.04))  # fingertips reach 2 cm into the table
    assert into_table.collision[0]


def test_friction_columns_are_monotonic_and_off_axis_needs_more():
    # Rotated in-plane so the jaws meet the box faces obliquely: needs more friction than the square pinch.
    angles = np.linspace(0.0, 0.6, 7)
    group = GraspGroup.concatenate([_grasp([0.0, 0.0, 0.08], angle=a, width=0.1, score=1 - i * 0.01)
                                    for i, a in enumerate(angles)])
    mu = [_evaluate(group[i:i + 1]).friction[0] for i in range(len(group))]
    positive = [m for m in mu if m > 0]
    assert positive[0] == pytest.approx(0.1) and max(positive) > 0.3
    assert all(b >= a for a, b in zip(positive, positive[1:]))
    table = precision_at_k(np.array(mu), np.zeros(7, bool), np.zeros(7, bool))
    assert np.all(np.diff(table, axis=1) >= 0)  # a larger μ never accepts fewer grasps
    assert table.shape == (50, len(FRICTION_LIST))


def test_per_object_cap_and_precision_denominator():
    # 12 far-apart copies are impossible on one box; instead, the same good grasp 12 times survives NMS once.
    group = GraspGroup.concatenate([_grasp([0.0, 0.0, 0.08], score=1 - i * 0.01) for i in range(12)])
    result = _evaluate(group)
    assert len(result.friction) == 1
    np.testing.assert_allclose(result.precision[:, 0], 1.0 / np.arange(1, 51))


def _cluster(lo, hi, n, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, 3))


def test_ties_at_the_top_k_cut_are_all_scored():
    # graspnetAPI keeps every grasp scoring at least the k-th best score; 4 far-apart grasps, cut k = 3.
    group = GraspGroup.concatenate([_grasp([0.1 * i, 0.0, 0.0], approach=(1.0, 0.0, 0.0), score=s)
                                    for i, s in enumerate([0.9, 0.7, 0.8, 0.7, 0.1])])
    points = group.translations + [0.0, 0.0, 0.001]
    chosen, owner = select_grasps(group, points, np.arange(5), max_per_object=10, top_k=3)
    np.testing.assert_allclose(chosen.scores, [0.9, 0.8, 0.7, 0.7])


def test_table_top_layer_lies_at_zero_like_graspnetapi():
    table = table_box_points()
    assert table.shape == (125 * 125 * 6, 3) and table[:, 2].max() == 0.0 and table[:, 2].min() == -0.05
    # Top-down grasp beside the box whose fingertips end 1 mm below the table top: it collides.
    R = grasp_rotation(np.array([0.0, 0.0, -1.0]), 0.0)
    angle = 0.0 if abs(R[1, 1]) > 0.9 else np.pi / 2  # close along world y, clear of the box in x
    result = _evaluate(_grasp([0.055, 0.0, 0.021], angle=angle, depth=0.022))
    assert result.collision[0]


def test_other_objects_points_between_the_fingers_make_a_grasp_non_empty():
    # graspnetAPI counts every scene point between the fingers, not only the assigned object's: 3 points of
    # object 0 (nearest to the grasp point) plus 30 of object 1 ahead along the approach.
    obj0 = _cluster([-0.002, -0.002, -0.002], [0.002, 0.002, 0.002], 3)
    obj1 = _cluster([0.02, -0.01, -0.005], [0.035, 0.01, 0.005], 30, seed=1)
    grasp = _grasp([0.005, 0.0, 0.0], approach=(1.0, 0.0, 0.0), width=0.06, depth=0.04)
    result = evaluate_image(grasp, [obj0, obj1], np.stack([np.eye(4)] * 2), [BOX, BOX], np.zeros((0, 3)))
    assert not result.empty[0] and not result.collision[0]


def test_points_beyond_the_objects_box_plus_5cm_never_collide():
    # graspnetAPI checks only scene points inside the assigned object's box grown by 5 cm: a point of another
    # object in the right finger (|y| 5-6 cm) but 5.6 cm off object 0's box is not a collision.
    obj0 = _cluster([-0.005, -0.005, -0.005], [0.005, 0.005, 0.005], 40)
    far = np.array([[0.005, 0.058, 0.0], [0.006, 0.057, 0.001]])
    grasp = _grasp([0.0, 0.0, 0.0], approach=(1.0, 0.0, 0.0), width=0.1, depth=0.02)
    result = evaluate_image(grasp, [obj0, far], np.stack([np.eye(4)] * 2), [BOX, BOX], np.zeros((0, 3)))
    assert not result.collision[0]
    near = far - [0.0, 0.004, 0.0]  # 1 mm inside the grown box: now it collides
    result = evaluate_image(grasp, [obj0, near], np.stack([np.eye(4)] * 2), [BOX, BOX], np.zeros((0, 3)))
    assert result.collision[0]


def test_jaws_close_only_to_the_centre_like_dexnet():
    # The box (|y| <= 2 cm) lies wholly on one side of the closing line's centre (y = 2.8 cm): Dex-Net's
    # close_fingers stops each jaw at the centre, so the right jaw finds nothing and the grasp fails.
    result = _evaluate(_grasp([0.0, 0.028, 0.08], width=0.1))
    assert not result.collision[0] and not result.empty[0]
    assert result.friction[0] == -1
    centred = _evaluate(_grasp([0.0, 0.0, 0.08], width=0.1))
    assert centred.friction[0] == pytest.approx(0.1)


class _TwoWalls:
    """Two 4 mm walls at |y| in [16, 20] mm (a bowl's rim in section), 4 cm long in x and z."""

    def distance(self, points):
        p = np.asarray(points, dtype=np.float64)
        return np.minimum(*(Box([0.02, 0.002, 0.02], center=(0.0, s * 0.018, 0.0)).distance(p) for s in (-1, 1)))

    normal = Box.normal


def test_jaws_starting_inside_thin_walls_touch_their_inner_faces_like_dexnet():
    # Width 3.6 cm puts both jaws inside the walls. Dex-Net takes the first sample within its surface band as
    # the contact (here the walls' inner faces) and ignores the normals' sign: force closure at the lowest μ.
    walls = _TwoWalls()
    points = np.concatenate([Box([0.02, 0.002, 0.02], center=(0.0, s * 0.018, 0.0)).surface_points(0.004)
                             for s in (-1, 1)])
    points = points[np.abs(points[:, 1]) < 0.017]  # the inner faces only, as sparse model points can miss walls
    grasp = _grasp([0.0, 0.0, 0.04], width=0.036, depth=0.04)
    result = evaluate_image(grasp, [points], np.eye(4)[None], [walls], np.zeros((0, 3)))
    assert result.friction[0] == pytest.approx(0.1)


def test_normals_near_an_edge_are_fitted_like_dexnet():
    # A 4 cm box on a 40-cell grid, pinched across x 1.8 and 1.9 cm off its centre in y (within Dex-Net's
    # 1.5-voxel normal sphere of the y = ±2 cm edges). graspnetAPI 1.2.11 scores both μ = 0.4 on this grid (the
    # grid gradient alone gives 0.2 on our 0.1-step grid), recorded in its own environment.
    import trimesh
    from grasp6d_core.data.sdf import ObjectSDF
    box = Box([0.02, 0.02, 0.02])
    grid = ObjectSDF.from_mesh(trimesh.creation.box([0.04, 0.04, 0.04]), cells=40)
    R = grasp_rotation(np.array([0.0, 0.0, -1.0]), np.pi / 2)
    assert abs(R[0, 1]) > 0.999  # closing along x
    grasps = GraspGroup.concatenate([GraspGroup.from_components([1.0 - y], [0.06], [0.02], R[None],
                                                                np.array([[0.0, y, 0.02]])) for y in (0.018, -0.019)])
    result = evaluate_image(grasps, [box.surface_points(0.004)], np.eye(4)[None], [grid], np.zeros((0, 3)))
    assert not result.collision.any() and not result.empty.any()
    assert np.all((result.friction > 0.2) & (result.friction <= 0.4))  # graspnetAPI's 0.4 bucket


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    return make_root(tmp_path_factory.mktemp("graspnet_root"))


def test_oracle_far_above_random(tiny_root, tmp_path):
    from grasp6d_core.evaluation.dumps import write_dump
    scores = {}
    for kind in ("oracle", "random"):
        write_dump(kind, tiny_root, tmp_path / kind, [0], "realsense", [0], seed=1)
        result = evaluate_dump(image_jobs(tiny_root, tmp_path / kind, [0], "realsense", "standard"), progress=False)
        scores[kind] = result["AP"]
        assert set(result["per_scene"]) == {"scene_0000"} and "train" in result["per_split"]
    # Two objects × ≤ 10 grasps: the best possible AP is (20 + 20·(H50 − H20)) / 50 ≈ 76.
    assert scores["oracle"] > 40 and scores["random"] < 5, scores


def test_eval_cli_json_and_markdown(tiny_root, tmp_path):
    cmd = [sys.executable, "-m", "grasp6d_core.cli", "eval", "--root", str(tiny_root), "--dump", str(tmp_path / "d"),
           "--scenes", "0", "--make-dump", "oracle"]
    out = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert {"AP", "AP0.4", "AP0.8", "per_scene"} <= set(result) and result["AP"] > 40
    fused = subprocess.run(cmd[:-2] + ["--protocol", "fused"], capture_output=True, text=True, timeout=120)
    assert fused.returncode == 0, fused.stderr
    assert "| **all** |" in fused.stdout
    bad = subprocess.run(cmd[:-2] + ["--scenes", "5"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "scene 5" in bad.stderr


def test_parse_range():
    assert parse_range("160-162") == [160, 161, 162]
    assert parse_range("0,3,5-6") == [0, 3, 5, 6]
    with pytest.raises(ValueError, match="bad id range"):
        parse_range("a-b")


def test_parse_range_with_a_step():
    assert parse_range("0-255:8") == list(range(0, 256, 8))       # every 8th view of a 256-view scene
    assert parse_range("0-6:3,10") == [0, 3, 6, 10]
    assert parse_range("160-161:1") == [160, 161]
    for bad in ("0-255:0", "0-255:-2", "5:2", "0-10:x"):           # no zero/negative step, no step on one id
        with pytest.raises(ValueError, match="every 8th id"):
            parse_range(bad)


def test_paired_ap_difference_over_shared_scenes(capsys, tmp_path):
    from grasp6d_core.evaluation.compare import main, paired_ap_difference
    per = lambda aps: {"per_scene": {f"scene_{160 + i:04d}": {"AP": ap} for i, ap in enumerate(aps)}}
    a, b = per([30.0, 32.0, 28.0, 35.0, 31.0]), per([28.0, 29.0, 29.0, 30.0, 30.0])
    r = paired_ap_difference(a, b)
    assert r["mean_difference"] == pytest.approx(2.0) and r["a_higher"] == 4 and r["scenes"] == 5
    assert -1.0 <= r["ci95"][0] < 2.0 < r["ci95"][1] <= 5.0        # the interval holds the mean, spans the spread
    flat = paired_ap_difference(per([30.0] * 5), per([29.0] * 5))
    assert flat["ci95"] == [pytest.approx(1.0), pytest.approx(1.0)]  # no spread, no uncertainty
    with pytest.raises(ValueError, match="share no scene"):
        paired_ap_difference(a, {"per_scene": {"scene_0001": {"AP": 1.0}}})
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert main([str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    assert "AP +2.00" in capsys.readouterr().out


def test_compare_reads_reports_split_by_split_and_refuses_what_it_cannot_compare(capsys, tmp_path):
    """Two `grasp6d report` JSONs: one paired line per split and scope they share; a file that holds no per-scene
    AP, or an eval result against a report, is one line on stderr and exit status 2 (no traceback)."""
    from grasp6d_core.evaluation.compare import main
    per = lambda aps: {"AP": float(np.mean(aps)), "per_scene": {f"scene_{i:04d}": {"AP": ap} for i, ap in enumerate(aps)}}
    report = lambda novel, fused: {"seed": 0, "results": {"novel": {"labels": per(novel)}, "similar": {"fused": per(fused)}}}
    (tmp_path / "a.json").write_text(json.dumps(report([30.0, 32.0, 28.0], [40.0, 41.0, 42.0])))
    (tmp_path / "b.json").write_text(json.dumps({"seed": 0, "results": {"novel": {"labels": per([29.0, 30.0, 29.0]),
                                                                                 "none": per([1.0, 1.0, 1.0])}}}))
    assert main([str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("novel/labels: ") and "AP +0.67" in lines[0]   # shared tables only
    (tmp_path / "eval.json").write_text(json.dumps(per([30.0, 31.0, 32.0])))
    (tmp_path / "other.json").write_text(json.dumps({"AP": 1.0}))
    for b, message in (("eval.json", "nothing to compare: A holds report tables novel/labels, similar/fused and B "
                                     "an eval result"),
                       ("other.json", "other.json holds no per-scene AP"),
                       ("missing.json", "missing.json: cannot read it as JSON")):
        assert main([str(tmp_path / "a.json"), str(tmp_path / b)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_compare_graspnetapi_tool_reports_both_scores_and_stage_disagreements(tiny_root, tmp_path):
    # graspnetAPI itself is not installed here: its saved per-grasp output (--theirs) is made from our own
    # result, then one collision-free grasp is marked colliding, as if graspnetAPI had decided otherwise.
    from pathlib import Path
    from grasp6d_core.evaluation.dumps import write_dump
    from grasp6d_core.evaluation.runner import Job, evaluate_job
    write_dump("oracle", tiny_root, tmp_path / "dump", [0], "realsense", [0], seed=1)
    ours = evaluate_job(Job(str(tiny_root), str(tmp_path / "dump"), 0, "realsense", 0, 10))
    collision = ours.collision | ours.empty
    free = np.flatnonzero(~collision)
    assert len(free) >= 2
    collision[free[0]] = True
    mu = np.where(collision, -1.0, ours.friction)
    np.savez(tmp_path / "theirs.npz", accuracy=ours.precision[None], counts=np.array([len(ours.grasps)]),
             grasps=ours.grasps, mu=mu, collision=collision)
    tool = Path(__file__).resolve().parents[1] / "tools" / "compare_graspnetapi.py"
    out = subprocess.run([sys.executable, str(tool), "--root", str(tiny_root), "--dump", str(tmp_path / "dump"),
                          "--scene", "0", "--theirs", str(tmp_path / "theirs.npz")],
                         capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["images"] == 1 and report["difference"]["AP"] == pytest.approx(0.0)
    assert report["grasp6d"]["AP"] == pytest.approx(100 * ours.precision.mean())
    stages = report["stages"]
    assert stages["theirs_scored"] == stages["ours_scored"] == stages["both_scored"] == len(ours.grasps)
    assert stages["collision_theirs_only"] == 1 and stages["collision_ours_only"] == 0
    assert stages["closure_ours_only"] == stages["closure_theirs_only"] == 0


def test_stage_agreement_compares_mu_on_graspnetapi_list():
    from grasp6d_core.evaluation.ap import ImageResult
    from grasp6d_core.evaluation.crosscheck import split_per_image, stage_agreement
    rows = np.zeros((4, 17))
    rows[:, 0] = [0.9, 0.8, 0.7, 0.6]
    rows[:, 13] = [0.0, 0.1, 0.2, 0.3]
    # ours μ 0.3 falls in graspnetAPI's 0.4 bucket (same), 0.5 vs 0.4 is higher, −1 vs 0.8 is theirs-only closure.
    ours = ImageResult(rows, np.array([0.3, 0.5, -1.0, 0.2]), np.zeros(4, bool), np.zeros(4, bool), np.zeros((50, 6)))
    theirs = {"counts": np.array([3]), "grasps": rows[[2, 0, 1]], "mu": np.array([0.8, 0.4, 0.4]),
              "collision": np.zeros(3, bool)}
    s = stage_agreement(split_per_image(theirs), [ours])
    assert (s["theirs_scored"], s["ours_scored"], s["both_scored"]) == (3, 4, 3)
    assert (s["mu_same"], s["mu_ours_higher"], s["mu_ours_lower"]) == (1, 1, 0)
    assert s["closure_theirs_only"] == 1 and s["closure_ours_only"] == 0
