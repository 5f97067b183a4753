"""Consensus scoring: which grasps count as the same grasp, the squash into [0, 1), and the detector's option."""
import re

import numpy as np
import pytest

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.consensus import RADIUS, consensus_rescore, consensus_sums
from grasp6d_core.rotations import grasp_rotation

DOWN = np.array([0.0, 0.0, 1.0])   # approach along the camera's z


def _group(points, angles, scores) -> GraspGroup:
    n = len(scores)
    rotations = grasp_rotation(np.tile(DOWN, (n, 1)), np.asarray(angles, float))
    return GraspGroup.from_components(np.asarray(scores, float), np.full(n, 0.05), np.full(n, 0.02), rotations,
                                      np.asarray(points, float))


def test_neighbours_within_the_radius_and_angle_add_up_and_a_half_turn_is_the_same_grasp():
    here, near, far = [0, 0, 0.5], [0.5 * RADIUS, 0, 0.5], [2 * RADIUS, 0, 0.5]
    g = _group([here, near, far, here, here],
               [0.0, 0.0, 0.0, np.pi / 2, np.pi - 0.05],   # 4th: 90° off; 5th: a half-turn less 3°, the same grasp
               [0.5, 0.3, 0.9, 0.7, 0.1])
    assert consensus_sums(g) == pytest.approx([0.5 + 0.3 + 0.1, 0.3 + 0.5 + 0.1, 0.9, 0.7, 0.1 + 0.5 + 0.3])


def test_rescore_ranks_a_cluster_above_a_lone_higher_score_and_stays_in_unit_range():
    cluster = [[0.001 * i, 0, 0.5] for i in range(5)]
    g = _group(cluster + [[0.3, 0, 0.5]], np.zeros(6), [0.3] * 5 + [0.9])
    out = consensus_rescore(g)
    assert len(out) == 6 and np.all(np.diff(out.scores) <= 0)
    assert out.scores[0] == pytest.approx(1.5 / 2.5) and out.scores[-1] == pytest.approx(0.9 / 1.9)
    assert np.all((out.scores >= 0) & (out.scores < 1))
    assert g.scores[-1] == 0.9          # the input is left as it was
    assert len(consensus_rescore(GraspGroup())) == 0
    with pytest.raises(ValueError, match="scores >= 0"):
        consensus_rescore(_group([[0, 0, 0.5]], [0.0], [-0.2]))


def test_detector_consensus_option_reorders_the_same_cloud_and_refuses_an_unknown_scoring():
    from grasp6d_core.model.bench_scene import render_scene
    from grasp6d_core.model.detector import GraspDetector
    det = GraspDetector.from_checkpoint()
    points = render_scene(seed=11, num_objects=4, num_points=20000)["points"]
    network = det.detect(points, top_k=20, scoring="network")
    consensus = det.detect(points, top_k=20)    # the default
    assert len(consensus) >= 5 and np.all(np.diff(consensus.scores) <= 0)
    assert np.all((consensus.scores > 0) & (consensus.scores < 1))
    # a consensus score is S / (1 + S) with S at least the grasp's own network score, so none is below it
    candidates = det.candidates(*det.prepare(points, None))
    own = {tuple(np.round(t, 6)): s for t, s in zip(candidates.translations, candidates.scores)}
    assert all(c >= own[tuple(np.round(t, 6))] / (1 + own[tuple(np.round(t, 6))]) - 1e-9
               for t, c in zip(consensus.translations, consensus.scores))
    assert not np.allclose(consensus.translations[:5], network.translations[:5])
    with pytest.raises(ValueError, match=re.escape("scoring must be one of network | consensus | learned, got 'vote'")):
        det.detect(points, scoring="vote")


def test_detect_benchmark_takes_the_scoring_and_refuses_an_unknown_one():
    from grasp6d_core.benchmarks.detect import DetectBenchmark
    assert DetectBenchmark(scoring="consensus").scoring == "consensus"
    with pytest.raises(ValueError, match="scoring must be one of"):
        DetectBenchmark(scoring="vote")
