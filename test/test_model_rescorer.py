"""The learned re-scorer: its features, its safe file format, that training learns, and the detector's option."""
import json

import numpy as np
import pytest

from grasp6d_core.consensus import RADIUS
from grasp6d_core.evaluation.ap import FRICTION_LIST
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rescorer import FEATURES, Rescorer, RescorerError, grasp_features, hold_friction, hold_target, train_rescorer
from grasp6d_core.rotations import grasp_rotation

DOWN = np.array([0.0, 0.0, 1.0])   # approach along the camera's z, away from the sensor


def _group(points, scores, width=0.05) -> GraspGroup:
    n = len(scores)
    rotations = grasp_rotation(np.tile(DOWN, (n, 1)), np.zeros(n))
    return GraspGroup.from_components(np.asarray(scores, float), np.full(n, width), np.full(n, 0.02), rotations,
                                      np.asarray(points, float))


def _column(name: str) -> int:
    return FEATURES.index(name)


def test_features_count_agreeing_seeds_the_cloud_between_the_jaws_and_whether_its_normals_face_them():
    here, lone = [0.0, 0.0, 0.5], [0.3, 0.0, 0.5]
    candidates = _group([here, [0.5 * RADIUS, 0, 0.5], [0.0, 0.5 * RADIUS, 0.5], lone], [0.4, 0.3, 0.2, 0.9])
    pool = candidates[[0, 3]]
    # a slab between the first grasp's jaws (closing axis = the rotation's y column), nothing at the lone one
    closing = pool.rotations[0][:, 1]
    slab = np.array(here) + np.random.default_rng(0).uniform(-0.008, 0.008, (200, 3))
    facing = np.tile(closing, (200, 1))
    f = grasp_features(pool, candidates, slab, facing)
    assert f.shape == (2, len(FEATURES))
    assert f[:, _column("network_score")] == pytest.approx([0.4, 0.9])
    assert f[:, _column("consensus")] == pytest.approx(np.log1p([0.9, 0.9]))
    assert f[:, _column("neighbours")] == pytest.approx(np.log1p([3, 1]))
    assert f[0, _column("points_between")] == pytest.approx(np.log1p(200)) and f[1, _column("points_between")] == 0
    assert f[0, _column("normals_facing_jaws")] == pytest.approx(1.0)
    assert f[0, _column("contact_cos")] == pytest.approx(1.0)
    # the jaws meet the slab near its faces at ±8 mm along the closing axis: about 16 mm of the 50 mm opening
    assert 0.25 < f[0, _column("contact_span")] <= 0.32 and f[1, _column("contact_span")] == 0
    sideways = np.tile(pool.rotations[0][:, 2], (200, 1))    # normals along the jaws' height: not antipodal
    turned = grasp_features(pool, candidates, slab, sideways)[0]
    assert turned[_column("normals_facing_jaws")] == pytest.approx(0.0) and turned[_column("contact_cos")] == pytest.approx(0.0)
    assert f[:, _column("view_cos")] == pytest.approx([1.0, 0.5 / np.hypot(0.3, 0.5)])   # looking straight along z
    assert grasp_features(GraspGroup(), candidates, slab, facing).shape == (0, len(FEATURES))
    with pytest.raises(ValueError, match="candidates"):
        grasp_features(pool, GraspGroup(), slab, facing)


def test_hold_target_is_the_share_of_friction_thresholds_held():
    friction = np.array([0.2, 0.8, 1.2, 0.4, -1.0])
    collision = np.array([False, False, False, True, False])
    empty = np.zeros(5, bool)
    assert hold_target(friction, collision, empty, FRICTION_LIST) == pytest.approx([1.0, 3 / 6, 1 / 6, 0.0, 0.0])
    # and back: the smallest threshold each holds at, -1 for none
    targets = hold_target(friction, collision, empty, FRICTION_LIST)
    assert hold_friction(targets, FRICTION_LIST).tolist() == [0.2, 0.8, 1.2, -1.0, -1.0]


def test_training_learns_to_rank_by_the_informative_feature_and_the_json_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, len(FEATURES)))
    y = 1.0 / (1.0 + np.exp(-3.0 * x[:, _column("normals_facing_jaws")]))   # only one feature matters
    model = train_rescorer(x[:400], y[:400], epochs=300)
    predicted = model.predict(x[400:])
    assert np.corrcoef(predicted, y[400:])[0, 1] > 0.9
    loaded = Rescorer.load(model.save(tmp_path / "r.json"))
    assert loaded.predict(x[400:]) == pytest.approx(predicted)
    with pytest.raises(ValueError, match="features"):
        train_rescorer(x[:, :3], y)


@pytest.mark.parametrize("edit, message", [
    (lambda b: b.update(format="pickle"), "not a grasp6d re-scorer"),
    (lambda b: b.update(features=["network_score"]), "retrain it"),
    (lambda b: b["layers"][0].update(bias=[0.0]), "do not chain"),
    (lambda b: b.update(std=[0.0] * len(FEATURES)), "positive std"),
    (lambda b: b["layers"][-1].update(bias=[float("nan")]), "non-finite"),
    (lambda b: b.pop("mean"), "malformed"),
])
def test_a_bad_rescorer_file_is_refused_with_the_reason(tmp_path, edit, message):
    x = np.random.default_rng(2).normal(size=(50, len(FEATURES)))
    blob = train_rescorer(x, (x[:, 0] > 0).astype(float), epochs=5).to_dict()
    edit(blob)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(blob))
    with pytest.raises(RescorerError, match=message):
        Rescorer.load(path)
    path.write_text("{not json")
    with pytest.raises(RescorerError, match="not readable JSON"):
        Rescorer.load(path)
    with pytest.raises(RescorerError, match="no such file"):
        Rescorer.load(tmp_path / "missing.json")


class _WidestFirst:
    """A re-scorer that prefers wide grasps, to see the detector hand it the pool and keep its order."""
    def __init__(self):
        self.pool_size = None

    def rescore(self, pool, candidates, points, normals):
        self.pool_size = len(pool)
        assert len(candidates) >= len(pool) and len(points) == len(normals)
        out = pool.copy()
        out.array[:, 0] = pool.widths
        return out.sort_by_score()


def test_detector_learned_option_rescores_a_pool_twice_the_size_and_keeps_the_rescorers_order():
    from grasp6d_core.model.bench_scene import render_scene
    from grasp6d_core.model.detector import RESCORE_POOL, GraspDetector
    det = GraspDetector.from_checkpoint()
    points = render_scene(seed=11, num_objects=4, num_points=20000)["points"]
    det.rescorer = widest = _WidestFirst()
    out = det.detect(points, top_k=10, scoring="learned")
    assert len(out) == 10 and widest.pool_size > 10 and widest.pool_size <= 10 * RESCORE_POOL
    assert np.all(np.diff(out.widths) <= 0)
    consensus = det.detect(points, top_k=widest.pool_size, scoring="consensus")
    assert np.sort(out.widths)[::-1] == pytest.approx(np.sort(consensus.widths)[::-1][:10])
