"""The model: collision check, contact maps, the prior network and refinement's keep rule."""
from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def scene():
    from grasp6d_core.model.bench_scene import render_scene
    return render_scene(seed=5, num_objects=3, num_points=3000)


def test_torch_collision_matches_physics(scene):
    from grasp6d_core.model.collision import collision_and_empty_torch
    from grasp6d_core.physics import GripperGeometry, collision_and_empty
    from grasp6d_core.rotations import grasp_rotation
    rng = np.random.default_rng(0)
    pts = scene["points"].astype(np.float64)
    n = 300
    t = pts[rng.integers(0, len(pts), n)] + rng.normal(0, 0.01, (n, 3))
    R = grasp_rotation(rng.normal(size=(n, 3)), rng.uniform(-np.pi, np.pi, n))
    w, d = rng.uniform(0.01, 0.1, n), rng.choice([0.01, 0.02, 0.03, 0.04], n)
    geo = GripperGeometry(empty_threshold=2, approach_distance=0.05)
    ref_hit, ref_empty = collision_and_empty(pts, R, t, w, d, geo)
    f = lambda a: torch.as_tensor(a, dtype=torch.float32)
    hit, empty = collision_and_empty_torch(f(pts), f(R), f(t), f(w), f(d), geo)
    assert 0.2 < ref_hit.mean() < 1.0  # the sample exercises both outcomes
    assert (hit.numpy() == ref_hit).mean() > 0.99 and (empty.numpy() == ref_empty).mean() > 0.99


def test_contact_maps():
    from grasp6d_core.model.contact_prior import analytic_map, projected_map
    c_l, c_r = torch.tensor([[0.0, -0.03, 0.0]]), torch.tensor([[0.0, 0.03, 0.0]])
    pts = torch.tensor([[[0.0, -0.03, 0.0], [0.0, 0.0, 0.0], [0.0, 0.03, 0.05], [0.0, 0.0, 0.2]]])
    a = analytic_map(pts, c_l, c_r)[0]
    p = projected_map(pts, c_l, c_r)[0]
    assert float(a[0]) == pytest.approx(1.0)              # on a contact
    assert float(p[1]) == pytest.approx(1.0)              # on the closing segment, 3 cm from both contacts
    d = 20 * 0.03
    assert float(a[1]) == pytest.approx(1 - 2 * (torch.sigmoid(torch.tensor(2 * d)) - 0.5).item(), rel=1e-5)
    assert float(a[3]) < 0.01 and float(p[3]) < 0.01     # far away -> ~0
    assert float(a[2]) == pytest.approx(float(p[2]))      # beyond the segment end, both use the contact distance


def test_prior_examples_and_training_reduce_bce(scene):
    from grasp6d_core.views import fibonacci_views
    from grasp6d_core.model.bench_scene import labelled_sample
    from grasp6d_core.model.contact_prior import PATCH, PriorNet, prior_examples
    import torch.nn.functional as F
    rng = np.random.default_rng(0)
    sample = labelled_sample(scene, rng, label_points=64, sdf_cells=32)
    ex = prior_examples(sample, fibonacci_views(), rng, seeds=32)
    g = len(ex["target"])
    assert g > 0 and ex["rel"].shape == (g, PATCH, 3) and ex["target"].shape == (g, PATCH)
    assert float(ex["target"].max()) <= 1.0 and float(ex["target"].min()) >= 0.0
    torch.manual_seed(0)
    net = PriorNet()
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    floor = float(F.binary_cross_entropy(ex["target"], ex["target"]))  # soft targets: BCE >= their entropy
    losses = []
    for _ in range(40):
        loss = F.binary_cross_entropy_with_logits(net(ex["rel"], ex["normals"], ex["approach"]), ex["target"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()) - floor)
    assert losses[-1] < 0.5 * losses[0]


def test_refinement_keeps_only_if_map_and_score_improve(scene):
    from grasp6d_core.grasp import GraspGroup
    from grasp6d_core.model.contact_prior import ContactPrior
    from grasp6d_core.normals import estimate_normals
    from grasp6d_core.rotations import grasp_rotation
    rng = np.random.default_rng(2)
    pts = scene["points"]
    normals = estimate_normals(pts)
    n = 6
    grasps = GraspGroup.from_components(np.linspace(0.9, 0.4, n), np.full(n, 0.05), np.full(n, 0.02),
                                        grasp_rotation(rng.normal(size=(n, 3)), rng.uniform(0, np.pi, n)),
                                        pts[rng.integers(0, len(pts), n)])
    torch.manual_seed(0)
    prior = ContactPrior(iterations=20)
    start = torch.as_tensor(grasps.translations, dtype=torch.float32)
    worse = lambda t, a, d: -(t - start[:len(t)]).norm(dim=-1)  # any move lowers the network's score
    out, info = prior.refine(grasps, pts, normals, worse, top=n)
    assert info["kept"] == 0 and np.allclose(out.array, grasps.array)  # score never improves -> nothing kept
    better = lambda t, a, d: (t - start[:len(t)]).norm(dim=-1)   # any move raises it
    out, info = prior.refine(grasps, pts, normals, better, top=n)
    assert info["refined"] == n and info["kept"] >= 1           # moved grasps score higher; map loss must drop too
    assert np.all(np.diff(out.scores) <= 0)
    assert np.allclose(np.linalg.det(out.rotations), 1.0, atol=1e-5)


def test_prior_skill_scale_and_cached_training(scene):
    from grasp6d_core.model.bench_scene import labelled_sample
    from grasp6d_core.model.contact_prior import collect_prior_examples, prior_skill, train_prior
    rng = np.random.default_rng(1)
    images = [labelled_sample(scene, rng, label_points=64, sdf_cells=32) for _ in range(2)]
    ex = collect_prior_examples(images, 2, rng, progress=False)

    class Exact(torch.nn.Module):      # predicts the target itself: skill 1
        def forward(self, rel, normals, approach):
            return torch.logit(ex["target"].clamp(1e-6, 1 - 1e-6))

    class Constant(torch.nn.Module):   # the mean target everywhere: skill 0
        def forward(self, rel, normals, approach):
            return torch.full_like(ex["target"], float(torch.logit(ex["target"].mean())))

    assert prior_skill(Exact(), ex)["skill"] > 0.99
    assert abs(prior_skill(Constant(), ex)["skill"]) < 1e-3
    torch.manual_seed(0)
    prior, curve, held = train_prior(images, 150, np.random.default_rng(2), lr=3e-3, images=2, progress=False)
    assert len(curve) == 150 and np.mean(curve[-10:]) < np.mean(curve[:10])
    assert set(held) == {"bce", "entropy", "constant_bce", "skill"} and held["bce"] >= held["entropy"] - 1e-6


def test_collision_thinning_does_not_depend_on_point_order(scene):
    from grasp6d_core.model.collision import voxel_thin
    pts = scene["points"].astype(np.float64)
    shuffled = pts[np.random.default_rng(0).permutation(len(pts))]
    a, b = voxel_thin(pts), voxel_thin(shuffled)
    assert len(a) < len(pts) / 2 and np.array_equal(a, b)


def test_prior_answers_for_the_patch_size_it_was_trained_on(scene):
    """A prior's state carries its patch size; one saved before that was stored was trained on 128 points, and
    refinement must ask it about patches of that size (the shipped prior: PATCH, wide enough for both fingers)."""
    from grasp6d_core.grasp import GraspGroup
    from grasp6d_core.model.contact_prior import LEGACY_PATCH, PATCH, ContactPrior
    from grasp6d_core.normals import estimate_normals
    from grasp6d_core.rotations import grasp_rotation
    assert PATCH > LEGACY_PATCH
    state = ContactPrior(iterations=2).state()
    assert state["patch"] == PATCH and ContactPrior.from_state(state).patch == PATCH
    legacy = {k: v for k, v in state.items() if k != "patch"}
    pts = scene["points"]
    grasps = GraspGroup.from_components([0.9, 0.8], [0.06, 0.06], [0.02, 0.02], grasp_rotation([[0, 0, 1.0]] * 2, [0, 1]),
                                        pts[:2])
    for prior, expected in ((ContactPrior.from_state(legacy), LEGACY_PATCH), (ContactPrior.from_state(state), PATCH)):
        seen = []
        prior.net.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape[1]))
        prior.refine(grasps, pts, estimate_normals(pts), lambda t, a, d: torch.zeros(len(t)), top=2)
        assert seen == [expected]
