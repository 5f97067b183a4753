"""The heads' arithmetic: 'auto' follows the CPU, bfloat16 heads really run in bfloat16 and find the same grasps
as float32, a bad value is refused before anything loads, and the speed benchmark times float32 beside it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from grasp6d_core.model.precision import native_bfloat16, resolve_precision

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def scene_points():
    from grasp6d_core.model.bench_scene import render_scene
    return render_scene(seed=2, num_objects=4)["points"]


def test_auto_takes_bfloat16_only_where_the_cpu_multiplies_it_natively(monkeypatch):
    for value in ("float32", "bfloat16"):
        assert resolve_precision(value, "cpu") == value == resolve_precision(value, "cuda")
    assert resolve_precision("auto", "cuda") == "float32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert native_bfloat16() and resolve_precision("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert resolve_precision("auto", "cpu") == "float32"

    def broken():
        raise RuntimeError("cpuinfo failed")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", broken, raising=False)
    assert not native_bfloat16()
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    assert resolve_precision("auto", "cpu") == "float32"
    with pytest.raises(ValueError, match="precision must be one of auto | float32 | bfloat16, got 'float16'"):
        resolve_precision("float16", "cpu")


def test_a_bad_precision_is_refused_before_the_checkpoint_is_read(tmp_path):
    from grasp6d_core.model.detector import GraspDetector
    with pytest.raises(ValueError, match="precision must be one of"):
        GraspDetector.from_checkpoint(tmp_path / "missing.pt", precision="half")


def test_bfloat16_heads_run_in_bfloat16_and_find_the_grasps_float32_finds(scene_points):
    from grasp6d_core.model.detector import GraspDetector
    det = GraspDetector.from_checkpoint(precision="float32")
    seen = []
    det.model.operation.register_forward_hook(lambda _module, _inputs, output: seen.append(output.dtype))
    reference = det.detect(scene_points, top_k=20)
    det.precision = "bfloat16"
    grasps = det.detect(scene_points, top_k=20)
    assert seen == [torch.float32, torch.bfloat16]
    assert grasps.scores.dtype == reference.scores.dtype and len(grasps) == len(reference) == 20
    # the same places: most of bfloat16's grasps lie within 1 cm of a float32 grasp, scores within a few %
    gaps = np.linalg.norm(grasps.translations[:, None] - reference.translations[None], axis=-1).min(1)
    assert np.mean(gaps < 0.01) >= 0.8
    assert abs(float(grasps.scores[0]) - float(reference.scores[0])) < 0.05


def test_detect_benchmark_times_float32_beside_bfloat16_in_the_same_run():
    from grasp6d_core.benchmarks.detect import DetectBenchmark, run
    with pytest.raises(ValueError, match="precision must be one of"):
        DetectBenchmark(precision="int8")
    result = run(DetectBenchmark(precision="bfloat16", repeats=1, train_step=False, points=5000))
    assert result["precision"] == "bfloat16"
    assert result["float32_total_ms"] > 0 and result["speedup_vs_float32"] == pytest.approx(
        result["float32_total_ms"] / result["total_ms"], rel=0.02)
    plain = run(DetectBenchmark(precision="float32", repeats=1, train_step=False, points=5000))
    assert plain["precision"] == "float32" and "speedup_vs_float32" not in plain
