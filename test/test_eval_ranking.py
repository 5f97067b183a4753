"""The ranking breakdown: the best order of scored grasps, the rank AUC, and the tool on a generated root."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grasp6d_core.evaluation.ap import ImageResult, precision_at_k
from grasp6d_core.evaluation.ranking import best_order, rank_auc, ranking_breakdown
from eval_fixtures import make_root


def _result(scores, friction, collision, empty) -> ImageResult:
    grasps = np.zeros((len(scores), 17))
    grasps[:, 0] = scores
    friction, collision, empty = np.asarray(friction, float), np.asarray(collision, bool), np.asarray(empty, bool)
    return ImageResult(grasps, friction, collision, empty, precision_at_k(friction, collision, empty))


def test_best_order_puts_holding_grasps_first_lowest_friction_first():
    # 0: no closure at any μ; 1: holds at 0.4; 2: holds at 0.2; 3: μ 1.0 but nothing between the fingers.
    r = _result([0.9, 0.8, 0.7, 0.6], [-1, 0.4, 0.2, 1.0], [False] * 4, [False, False, False, True])
    assert best_order(r).tolist() == [2, 1, 0, 3]
    b = ranking_breakdown([r])
    best = precision_at_k(np.array([0.2, 0.4, -1, 1.0]), np.zeros(4, bool), np.array([False, False, False, True]))
    assert b.ap == pytest.approx(100 * r.precision.mean())
    assert b.ap_best_order == pytest.approx(100 * best.mean()) and b.ap_best_order > b.ap
    assert (b.collision, b.empty, b.no_hold) == (0.0, 0.25, 0.25)
    assert b.auc_holds == pytest.approx(0.5)            # 0.8 and 0.7 each beat 0.6 and lose to 0.9
    assert b.auc_holds_geometric == 0.0  # without the empty grasp (0.6): 0.8 and 0.7 both lose to 0.9


def test_an_already_best_ranking_gains_nothing_and_collisions_are_not_counted_empty():
    r = _result([0.9, 0.8, 0.7], [0.2, 0.6, 0.4], [False, False, True], [False, False, True])
    b = ranking_breakdown([r])
    assert b.ap_best_order == pytest.approx(b.ap)
    assert (b.collision, b.empty) == (pytest.approx(1 / 3), 0.0)


def test_rank_auc():
    assert rank_auc([3, 2, 1, 0], [True, True, False, False]) == 1.0
    assert rank_auc([0, 1, 2, 3], [True, True, False, False]) == 0.0
    assert rank_auc([1, 1, 1, 1], [True, False, True, False]) == 0.5
    assert np.isnan(rank_auc([1, 2], [True, True]))
    with pytest.raises(ValueError, match="no images"):
        ranking_breakdown([])


def test_tool_on_a_generated_root_scores_random_grasps_ranked_above_the_oracle_below_its_best_order(tmp_path):
    from grasp6d_core.evaluation.dumps import write_dump
    from grasp6d_core.grasp import GraspGroup, dump_path
    root = make_root(tmp_path / "root")
    for kind in ("oracle", "random"):
        write_dump(kind, root, tmp_path / kind, [0], "realsense", [0], seed=1)
    oracle, random = (GraspGroup.load_npy(dump_path(tmp_path / kind, 0, "realsense", 0)) for kind in ("oracle", "random"))
    oracle.array[:, 0] = 0.1 * oracle.scores / oracle.scores.max()     # every label grasp below every random one
    random = random[:3]     # few enough that the evaluator's cap of 10 per object still keeps label grasps
    random.array[:, 0] = 0.5 + 0.5 * random.scores / random.scores.max()
    GraspGroup.concatenate([random, oracle]).sort_by_score().save_npy(dump_path(tmp_path / "dump", 0, "realsense", 0))
    tool = Path(__file__).resolve().parents[1] / "tools" / "ranking_breakdown.py"
    command = [sys.executable, str(tool), str(root), str(tmp_path / "dump"), "0", "--views", "0"]
    out = subprocess.run(command + ["--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    b = json.loads(out.stdout)
    assert b["images"] == 1 and b["grasps"] > 0
    assert b["ap_best_order"] > b["ap"] + 5
    assert b["auc_holds"] < 0.5     # the holding (label) grasps are ranked below the random ones
    table = subprocess.run(command + ["--label", "random over oracle"], capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    assert f"| random over oracle | 1 | {b['ap']:.2f} | {b['ap_best_order']:.2f} |" in table.stdout
