"""tools/rescorer_diagnostics.py: per-set feature AUCs, the in-set cross-validated fit, and fits carried across sets."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grasp6d_core.rescorer import FEATURES

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from rescorer_diagnostics import holds  # noqa: E402

WIDTH = FEATURES.index("width")


def _rows(sign: float, seed: int) -> dict:
    """8 scenes × 3 clouds × 30 grasps whose hold depends on the width feature alone, with the given sign."""
    rng = np.random.default_rng(seed)
    tags = np.array([(s, a, 1) for s in range(8) for a in range(3) for _ in range(30)])
    x = rng.normal(size=(len(tags), len(FEATURES)))
    y = (sign * x[:, WIDTH] > 0).astype(float)
    return {"features": x, "targets": y, "tags": tags}


def test_holding_at_0_8_means_holding_at_half_of_the_six_thresholds():
    assert holds(np.array([0.0, 2 / 6, 3 / 6, 1.0])).tolist() == [False, False, True, True]
    assert holds(np.array([1 / 6, 2 / 6]), mu=1.0).tolist() == [False, True]


def test_tool_shows_a_cue_that_flips_sign_and_a_fit_that_does_not_carry_over(tmp_path):
    for name, sign, seed in (("a", 1.0, 0), ("b", -1.0, 1)):
        np.savez(tmp_path / f"{name}.rows.npz", **_rows(sign, seed))
    out = subprocess.run([sys.executable, str(REPO / "tools" / "rescorer_diagnostics.py"),
                          f"a={tmp_path / 'a.rows.npz'}", f"b={tmp_path / 'b.rows.npz'}", "--epochs", "150"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    table = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in out.stdout.splitlines() if line.startswith("| ") and not line.startswith("|---")}
    auc_a, auc_b = (float(v) for v in table["width"])
    assert auc_a > 0.99 and auc_b < 0.01                     # the planted cue, with opposite signs
    consensus = [float(v) for v in table["consensus order"]]
    best = [float(v) for v in table["best order"]]
    own = [float(v) for v in table["fit on the set's other scenes (4 folds)"]]
    assert own[0] == pytest.approx(best[0], abs=2.0) and own[0] > consensus[0] + 20
    assert table["fit on a"][0] == "—"                         # in-sample: not reported
    assert float(table["fit on a"][1]) < consensus[1] - 20      # what a learnt, b punishes
    assert table["grasps (share holding at μ ≤ 0.8)"][0].startswith("720 (")


def test_tool_refuses_a_rows_argument_without_a_name(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "tools" / "rescorer_diagnostics.py"), str(tmp_path / "x.npz")],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode != 0 and "NAME=FILE" in out.stderr
