"""The model: shapes, decoding round trip through the labels, La, R, a training step, checkpoints."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import trimesh

from grasp6d_core.model.config import load_config

torch.set_num_threads(2)


def small_config(name: str = "cpu", seeds: int = 64, points: int = 3000) -> dict:
    cfg = copy.deepcopy(load_config(name))
    cfg["seeds"]["num"] = seeds
    cfg["num_points"] = points
    return cfg


@pytest.fixture(scope="module")
def scene():
    from grasp6d_core.model.bench_scene import render_scene
    return render_scene(seed=3, num_objects=3, num_points=3000)


@pytest.fixture(scope="module")
def box_sdf():
    from grasp6d_core.data.sdf import ObjectSDF
    return ObjectSDF.from_mesh(trimesh.creation.box(extents=[0.04, 0.04, 0.05]), cells=64)


def test_forward_shapes_all_configs(scene):
    from grasp6d_core.model.decode import decode_grasps
    from grasp6d_core.model.network import GraspNet6D
    pts = torch.as_tensor(scene["points"])[None]
    nrm = torch.zeros_like(pts)
    nrm[..., 2] = -1
    for name in ("cpu", "gsnet"):
        cfg = small_config(name)
        net = GraspNet6D(cfg).eval()
        with torch.no_grad():
            end = net(pts, nrm)
        m, d = 64, len(cfg["cylinder"]["depths"])
        assert end["objectness"].shape == (1, 3000, 2) and end["graspness"].shape == (1, 3000)
        assert end["approach"].shape == (1, m, 3) and end["score"].shape == (1, m, d)
        assert end["rot2"].shape == (1, m, d, 2) and end["width"].shape == (1, m, d)
        assert torch.allclose(end["approach"].norm(dim=-1), torch.ones(1, m), atol=1e-5)
        assert float(end["width"].min()) >= 0 and float(end["width"].max()) <= 0.1
        grasps = decode_grasps(end, net.depths)
        assert grasps.array.shape == (m, 17)
        assert np.all(np.diff(grasps.scores) <= 0)
        assert np.allclose(np.linalg.det(grasps.rotations), 1.0, atol=1e-5)


def test_torch_rotation_matches_numpy():
    from grasp6d_core.model.geometry import grasp_rotation_torch
    from grasp6d_core.rotations import grasp_rotation
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 3))
    a[0] = [0, 0, -1]  # vertical: the fallback branch
    th = rng.uniform(-np.pi, np.pi, 50)
    ours = grasp_rotation_torch(torch.as_tensor(a), torch.as_tensor(th)).numpy()
    assert np.allclose(ours, grasp_rotation(a, th), atol=1e-9)


def test_label_encode_decode_round_trip():
    """A grasp planted as the best label of an object decodes back (through label assignment, head targets
    and decoding) within 1 mm / 1°."""
    from grasp6d_core.views import fibonacci_views
    from grasp6d_core.model.decode import decode_grasps, encode_grasp_targets
    from grasp6d_core.data.training_labels import ObjectLabels, assign_seed_labels
    from grasp6d_core.rotations import grasp_rotation, rotation_angle_between
    from scipy.spatial.transform import Rotation
    views = fibonacci_views()
    rng = np.random.default_rng(1)
    n_p = 40
    points = rng.uniform(-0.03, 0.03, (n_p, 3)).astype(np.float32)
    mu = np.full((n_p, 300, 12, 4), -1.0, np.float16)
    widths = np.zeros_like(mu)
    planted = [(p, int(rng.integers(300)), int(rng.integers(12)), int(rng.integers(4)), rng.uniform(0.02, 0.09))
               for p in range(n_p)]
    for p, v, a, d, w in planted:
        mu[p, v, a, d] = 0.2
        mu[p, (v + 1) % 300, a, d] = 0.8  # a worse neighbour: must not win
        widths[p, v, a, d] = w
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_euler("xyz", [0.3, -0.5, 1.0]).as_matrix()
    pose[:3, 3] = [0.05, -0.02, 0.6]
    seeds = points @ pose[:3, :3].T + pose[:3, 3] + rng.normal(0, 0.0005, (n_p, 3))
    lab = assign_seed_labels(seeds.astype(np.float32), np.zeros(n_p, int), [ObjectLabels(points, mu, widths)],
                             pose[None], views)
    assert lab["valid"].all()
    best_bin = lab["score"].argmax(1)
    enc = encode_grasp_targets(lab["approach"].astype(np.float64), lab["angle"][np.arange(n_p), best_bin],
                               lab["width"][np.arange(n_p), best_bin], best_bin, 4)
    end = {**enc, "seed_xyz": torch.as_tensor(seeds, dtype=torch.float32)[None],
           "seed_graspness": torch.ones(1, n_p)}
    depths = torch.tensor([0.01, 0.02, 0.03, 0.04])
    from grasp6d_core.model.decode import decode_arrays
    arr = decode_arrays(end, depths)
    for i, (p, v, a, d, w) in enumerate(planted):
        truth = pose[:3, :3] @ grasp_rotation(-views[v], a * np.pi / 12)
        got = grasp_rotation(arr["approaches"][i], arr["angles"][i])
        # (sin 2θ, cos 2θ) fixes θ up to π: the same parallel-jaw grasp flipped about its approach.
        flipped = got @ np.diag([1.0, -1.0, -1.0])
        err = min(rotation_angle_between(truth, got), rotation_angle_between(truth, flipped))
        assert math.degrees(err) < 1.0
        assert abs(arr["widths"][i] - w) < 1e-3
        assert arr["depths"][i] == pytest.approx([0.01, 0.02, 0.03, 0.04][d])
    assert len(decode_grasps(end, depths)) == n_p


def test_approach_loss_matches_hand_computation():
    from grasp6d_core.model.losses import approach_loss
    pred = torch.tensor([[0.0, 0.0, 1.0]])
    rot = lambda deg: [math.sin(math.radians(deg)), 0.0, math.cos(math.radians(deg))]
    target = torch.tensor([rot(10.0)])
    views = torch.tensor([[rot(0.0), rot(20.0), rot(40.0), rot(-25.0)]])  # 40° is outside the 30° neighbourhood
    scores = torch.tensor([[1.0, 0.5, 1.0, 0.0]])
    got = approach_loss(pred, target, views, scores, alpha=0.1)
    c20, c25 = math.cos(math.radians(20)), math.cos(math.radians(25))
    neighbourhood = (1.0 * 1.0 + c20 * 0.5 + c25 * 0.0) / (1.0 + c20 + c25)
    expected = 0.5 * (1 - math.cos(math.radians(10))) + 0.1 * (1 - neighbourhood)
    assert float(got[0]) == pytest.approx(expected, rel=1e-5)
    # Perfect prediction on the best view with every neighbour perfect -> 0.
    assert float(approach_loss(pred, pred, views[:, :1], torch.ones(1, 1), 0.1)[0]) == pytest.approx(0.0, abs=1e-6)


def test_regularizer_zero_for_antipodal_and_differentiable_when_penetrating(box_sdf):
    from grasp6d_core.model.regularizer import finger_contacts, grasp_terms
    # Box 4 × 4 × 5 cm at the origin; grasp from above, closing along y, fingers 1 cm off each face.
    p = torch.tensor([[0.0, 0.0, 0.025]], dtype=torch.float64)
    approach = torch.tensor([[0.0, 0.0, -1.0]], dtype=torch.float64, requires_grad=True)
    angle = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    width = torch.tensor([0.06], dtype=torch.float64, requires_grad=True)
    depth = torch.tensor([0.02], dtype=torch.float64)
    c_l, c_r = finger_contacts(p, approach, angle, width, depth)
    assert torch.allclose(c_r - c_l, torch.tensor([[0.0, 0.06, 0.0]], dtype=torch.float64))
    assert float(grasp_terms(c_l, c_r, box_sdf)[0].detach()) == pytest.approx(0.0, abs=1e-4)
    # Penetrating (fingers inside the box), tilted and rotated: positive, gradients reach every input.
    approach = torch.tensor([[0.15, 0.05, -1.0]], dtype=torch.float64, requires_grad=True)
    angle = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    width = torch.tensor([0.02], dtype=torch.float64, requires_grad=True)
    r = grasp_terms(*finger_contacts(p, approach, angle, width, depth), box_sdf)[0]
    assert r.item() > 0.01
    r.backward()
    for name, t in (("approach", approach), ("angle", angle), ("width", width)):
        assert t.grad is not None and float(t.grad.abs().sum()) > 1e-6, name
    assert float(width.grad[0]) < 0  # opening the fingers reduces penetration


def test_training_steps_lower_loss_on_fixed_batch(scene):
    from grasp6d_core.model.bench_scene import labelled_sample
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.trainer import collate, forward_and_loss, train_step
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    batch = collate([labelled_sample(scene, rng, label_points=64, sdf_cells=32)])
    cfg = small_config("cpu")
    net = GraspNet6D(cfg)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    first = train_step(net, opt, batch, np.random.default_rng(0))
    assert {"Lo", "Lgs", "La", "Ls", "Lr", "Lw", "R"} <= set(first)
    for _ in range(5):
        last = train_step(net, opt, batch, np.random.default_rng(0))
    assert last["loss"] < first["loss"]
    # Baseline = no R term.
    base = GraspNet6D(small_config("baseline"))
    _, terms, _ = forward_and_loss(base, batch, np.random.default_rng(0))
    assert "R" not in terms


def test_checkpoint_round_trip_and_clear_errors(tmp_path, scene):
    from grasp6d_core.model.checkpoint import CheckpointError, save_checkpoint
    from grasp6d_core.model.detector import GraspDetector
    from grasp6d_core.model.network import GraspNet6D
    torch.manual_seed(0)
    cfg = small_config("cpu")
    net = GraspNet6D(cfg)
    path = tmp_path / "a.pt"
    save_checkpoint(path, net, cfg, 7, {"root": "test"})
    det = GraspDetector.from_checkpoint(path)
    assert det.info["step"] == 7 and det.info["data_recipe"] == {"root": "test"}
    for key, value in net.state_dict().items():
        assert torch.equal(value, det.model.state_dict()[key]), key
    # Same weights -> same function. Compared on the network's outputs with the seeds forced, since the final
    # grasp list can reorder on float-level ties (spconv's multi-threaded CPU sums are not bit-reproducible).
    pts, nrm = det.prepare(scene["points"], None)
    p, n = torch.as_tensor(pts)[None], torch.as_tensor(nrm)[None]
    seeds = torch.arange(0, len(pts), 40)[None]
    with torch.no_grad():
        out1 = net.eval()(p, n, seed_idx=seeds)
        out2 = GraspDetector.from_checkpoint(path).model(p, n, seed_idx=seeds)
    for key in ("objectness", "graspness", "approach", "score", "rot2", "width"):
        assert torch.allclose(out1[key], out2[key], atol=1e-4), key
    bad = tmp_path / "bad.pt"
    bad.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt"):
        GraspDetector.from_checkpoint(bad)
    # Another config's weights into this architecture: refused, naming the config.
    from grasp6d_core.model.checkpoint import load_into, read_checkpoint
    with pytest.raises(CheckpointError, match="config 'cpu'"):
        load_into(GraspNet6D(small_config("paper")), read_checkpoint(path), small_config("paper"), path)
    with pytest.raises(CheckpointError, match="no such file"):
        GraspDetector.from_checkpoint(tmp_path / "missing.pt")


def test_detect_rejects_bad_input():
    from grasp6d_core.model.detector import GraspDetector
    det = GraspDetector.from_config("cpu")
    with pytest.raises(ValueError, match="shape"):
        det.detect(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="finite points"):
        det.detect(np.full((500, 3), np.nan))


def test_cylinder_neighbours_do_not_depend_on_point_order(scene):
    """The grouping picks the same neighbour points (as coordinates) for a shuffled copy of the cloud."""
    from grasp6d_core.model.grouping import cylinder_neighbours
    pts = scene["points"].astype(np.float64)
    perm = np.random.default_rng(0).permutation(len(pts))
    seeds = pts[::97]
    a_idx, a_ok = cylinder_neighbours(pts, seeds, radius=0.02, samples=16, reach=0.04)
    b_idx, b_ok = cylinder_neighbours(pts[perm], seeds, radius=0.02, samples=16, reach=0.04)
    assert a_ok.sum() > 0.5 * a_ok.size and np.array_equal(a_ok, b_ok)
    assert np.array_equal(np.where(a_ok[..., None], pts[a_idx], 0), np.where(b_ok[..., None], pts[perm][b_idx], 0))


def test_grouping_in_eval_mode_folds_its_batchnorms_and_goes_by_seed_blocks_without_changing_the_output(scene, monkeypatch):
    """Inference folds bn1 / bn2 into the point MLP's weights (two fewer passes over every sample) and runs the
    seeds a block at a time (a block size that leaves a partial last block, two clouds in the batch); with
    non-trivial running statistics the output matches one unfolded pass, and training mode never folds."""
    from grasp6d_core.model import grouping as grouping_module
    from grasp6d_core.model.geometry import grasp_rotation_torch
    torch.manual_seed(0)
    grouping = grouping_module.CylinderGrouping(8, [0.02, 0.04], 16, -0.02, [0.01, 0.02, 0.03, 0.04], 12)
    for bn in (grouping.bn1, grouping.bn2):
        bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.2, 3.0)
        bn.weight.data.uniform_(0.5, 1.5), bn.bias.data.uniform_(-0.3, 0.3)
    one = torch.as_tensor(scene["points"], dtype=torch.float32)
    pts = torch.stack([one, one.flip(0) + 0.01])                      # two clouds: per-cloud neighbour offsets
    feats = torch.randn(2, pts.shape[1], 8)
    seeds = pts[:, ::150]
    assert seeds.shape[1] % 7 != 0
    approach = torch.nn.functional.normalize(torch.randn_like(seeds), dim=-1)
    rot = grasp_rotation_torch(approach, torch.zeros_like(approach[..., 0]))
    args = (pts, feats, seeds, rot, torch.randn(2, seeds.shape[1], 8))
    grouping.eval()
    monkeypatch.setattr(grouping_module, "INFERENCE_BLOCK", 7)
    with torch.no_grad():
        folded = grouping(*args)
        monkeypatch.setattr(grouping, "_inference_layers", lambda: None)
        unfolded = grouping(*args)
    assert folded.abs().max() > 0.1
    torch.testing.assert_close(folded, unfolded, rtol=1e-5, atol=1e-5)
    grouping.train()
    calls = []
    monkeypatch.setattr(grouping, "_inference_layers", lambda: calls.append(1))
    grouping(*args)
    assert calls == []
