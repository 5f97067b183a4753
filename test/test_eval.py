"""The AP judge: analytic cases, oracle vs random on a generated scene, and the `grasp6d eval` CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

from grasp6d_core.evaluation.ap import FRICTION_LIST, evaluate_image, precision_at_k
from grasp6d_core.evaluation.runner import evaluate_dump, image_jobs, parse_range
from grasp6d_core.evaluation.scene_io import table_box_points
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
