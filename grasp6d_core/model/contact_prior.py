"""Contact-map prior (docs/model.md): contact maps of a grasp, a small network predicting the map a good grasp
should produce, its training, and test-time refinement of the top grasps with Adam.

Maps on the K points nearest a grasp centre (values in (0, 1], 1 at a contact):
- analytic: 1 − 2(σ(2d) − ½), d = 20 × distance to the nearest finger contact;
- projected: the same with the distance to the closing segment between the contacts.
The prior network (why this design — the authors never released theirs): a PointNet over the local patch
(positions relative to the centre / 5 cm, normals, the candidate approach), per-point logits of "a good grasp
with roughly this approach touches here". Trained on our labels: for a labelled seed, the target is the
analytic map of the best label grasp for the seed's best view (approach jittered ±15° so refinement sees
near-miss approaches). It needs only geometry, so it transfers to novel objects like the labels do.
Refinement optimises translation, approach, angle and width to match the prior map; a refinement is kept
only when both the map loss and the network's own score improve.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from grasp6d_core.data.training_labels import assign_seed_labels
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.model.geometry import grasp_rotation_torch
from grasp6d_core.model.regularizer import finger_contacts
from grasp6d_core.rotations import in_plane_angle
from grasp6d_core.views import fibonacci_views

# Points per grasp patch. The 128 nearest of a 20 000-point cloud span ~2 cm, so a grasp wider than 4 cm has its
# finger contacts outside its patch. With label-made (perfect) maps in place of the prior, refining the top 10
# on the novel scenes 160-171 moved AP from 43.5 to 43.9 with the 128 nearest and to 45.2 with the 512 nearest.
PATCH = 512
LEGACY_PATCH = 128   # priors saved before the patch size was stored were trained on this many points
ITERATIONS = 100     # Adam steps; in the same experiment 30 steps lowered AP to 41.0 (refinements half done)
PATCH_SCALE = 0.05   # m, patch coordinates are divided by this
JITTER_DEG = 15.0


def _to_map(distance: torch.Tensor) -> torch.Tensor:
    return 1 - 2 * (torch.sigmoid(2 * 20 * distance) - 0.5)


def analytic_map(points: torch.Tensor, c_l: torch.Tensor, c_r: torch.Tensor) -> torch.Tensor:
    """points (G,K,3), contacts (G,3) -> (G,K) map from the distance to the nearest contact."""
    d = torch.minimum((points - c_l[:, None]).norm(dim=-1), (points - c_r[:, None]).norm(dim=-1))
    return _to_map(d)


def projected_map(points: torch.Tensor, c_l: torch.Tensor, c_r: torch.Tensor) -> torch.Tensor:
    """points (G,K,3) -> (G,K) map from the distance to the closing segment c_l–c_r."""
    seg = (c_r - c_l)[:, None]
    s = ((points - c_l[:, None]) * seg).sum(-1, keepdim=True) / (seg * seg).sum(-1, keepdim=True).clamp_min(1e-12)
    closest = c_l[:, None] + s.clamp(0, 1) * seg
    return _to_map((points - closest).norm(dim=-1))


class PriorNet(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.local = nn.Sequential(nn.Linear(9, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, rel: torch.Tensor, normals: torch.Tensor, approach: torch.Tensor) -> torch.Tensor:
        """rel/normals (G,K,3), approach (G,3) -> logits (G,K)."""
        x = torch.cat([rel / PATCH_SCALE, normals, approach[:, None].expand_as(rel)], dim=-1)
        h = self.local(x)
        g = h.amax(dim=1, keepdim=True).expand_as(h)
        return self.head(torch.cat([h, g], dim=-1))[..., 0]


def patches(points: np.ndarray, centres: np.ndarray, k: int = PATCH) -> np.ndarray:
    """(G, k) indices of the k scene points nearest each centre."""
    from scipy.spatial import cKDTree
    _, idx = cKDTree(points).query(centres, k=min(k, len(points)))
    return np.asarray(idx).reshape(len(centres), -1)


def random_rotation_towards(vectors: np.ndarray, max_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors tilted by up to ``max_deg`` in a random direction."""
    axis = np.cross(vectors, rng.normal(size=vectors.shape))
    axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-9)
    ang = np.deg2rad(rng.uniform(0, max_deg, len(vectors)))[:, None]
    v = vectors * np.cos(ang) + np.cross(axis, vectors) * np.sin(ang) + axis * (axis * vectors).sum(1, keepdims=True) * (1 - np.cos(ang))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def prior_examples(sample: dict, views: np.ndarray, rng: np.random.Generator, seeds: int = 64) -> dict | None:
    """Training examples (tensors) of one dataset sample: patches, jittered approaches, target maps."""
    obj_idx = np.flatnonzero(sample["point_obj"] >= 0)
    if len(obj_idx) == 0:
        return None
    pick = rng.choice(obj_idx, min(seeds, len(obj_idx)), replace=False)
    pts = sample["points"]
    lab = assign_seed_labels(pts[pick], sample["point_obj"][pick], sample["objects"], sample["poses"], views)
    ok = lab["valid"]
    if not ok.any():
        return None
    pick = pick[ok]
    best = lab["score"][ok].argmax(1)
    rows = np.arange(len(pick))
    depth = torch.as_tensor(np.array([0.01, 0.02, 0.03, 0.04])[best], dtype=torch.float32)
    approach = torch.as_tensor(lab["approach"][ok])
    c_l, c_r = finger_contacts(torch.as_tensor(pts[pick]), approach, torch.as_tensor(lab["angle"][ok][rows, best]),
                               torch.as_tensor(lab["width"][ok][rows, best]), depth)
    idx = patches(pts, pts[pick])
    target = analytic_map(torch.as_tensor(pts[idx]), c_l, c_r)
    jittered = torch.as_tensor(random_rotation_towards(lab["approach"][ok].astype(np.float64), JITTER_DEG, rng), dtype=torch.float32)
    return {"rel": torch.as_tensor(pts[idx] - pts[pick][:, None]), "normals": torch.as_tensor(sample["normals"][idx]),
            "approach": jittered, "target": target}


class ContactPrior:
    """The trained prior network + refinement (attached to a detector checkpoint)."""

    def __init__(self, net: PriorNet | None = None, iterations: int = ITERATIONS, lr: float = 0.002,
                 patch: int = PATCH):
        self.net = (net or PriorNet()).eval()
        self.iterations, self.lr, self.patch = iterations, lr, patch

    def state(self) -> dict:
        return {"weights": self.net.state_dict(), "iterations": self.iterations, "lr": self.lr, "patch": self.patch}

    @classmethod
    def from_state(cls, state: dict) -> "ContactPrior":
        net = PriorNet()
        net.load_state_dict(state["weights"])
        # A prior answers for patches of the size it was trained on.
        return cls(net, int(state.get("iterations", ITERATIONS)), float(state.get("lr", 0.002)),
                   int(state.get("patch", LEGACY_PATCH)))

    def refine(self, grasps: GraspGroup, points: np.ndarray, normals: np.ndarray, scorer, top: int = 10) -> tuple[GraspGroup, dict]:
        """Refine the ``top`` best grasps; ``scorer(translations, approaches, depths) -> scores`` (torch, no
        grad) is the network's own score. Returns the grasps (re-sorted) and counts."""
        top = min(top, len(grasps))
        if top == 0:
            return grasps, {"refined": 0, "kept": 0}
        g = grasps[:top]
        idx = patches(points, g.translations, self.patch)
        patch = torch.as_tensor(points[idx], dtype=torch.float32)
        nrm = torch.as_tensor(normals[idx], dtype=torch.float32)
        t0 = torch.as_tensor(g.translations, dtype=torch.float32)
        a0 = torch.as_tensor(g.approaches, dtype=torch.float32)
        th0 = torch.as_tensor(in_plane_angle(g.rotations), dtype=torch.float32)
        w0 = torch.as_tensor(g.widths, dtype=torch.float32)
        depth = torch.as_tensor(g.depths, dtype=torch.float32)
        with torch.no_grad():
            prior = torch.sigmoid(self.net(patch - t0[:, None], nrm, a0))

        def map_loss(t, a, th, w):
            c_l, c_r = finger_contacts(t, a, th, w, depth)
            return ((analytic_map(patch, c_l, c_r) - prior) ** 2).mean(-1)

        params = [t0.clone().requires_grad_(True), a0.clone().requires_grad_(True), th0.clone().requires_grad_(True),
                  w0.clone().requires_grad_(True)]
        opt = torch.optim.Adam([{"params": params[:1], "lr": self.lr * 0.5}, {"params": params[1:3], "lr": self.lr * 10},
                                {"params": params[3:], "lr": self.lr}])
        with torch.no_grad():
            before = map_loss(t0, a0, th0, w0)
        for _ in range(self.iterations):
            opt.zero_grad()
            map_loss(*params).sum().backward()
            opt.step()
            with torch.no_grad():
                params[3].clamp_(0.0, 0.1)
        t1, a1, th1, w1 = [p.detach() for p in params]
        a1 = a1 / a1.norm(dim=-1, keepdim=True)
        with torch.no_grad():
            after = map_loss(t1, a1, th1, w1)
        old_score = scorer(t0, a0, depth)
        new_score = scorer(t1, a1, depth)
        keep = ((after < before) & (new_score > old_score)).numpy()
        out = g.array.copy()
        if keep.any():
            rot = grasp_rotation_torch(a1, th1).numpy().astype(np.float64)
            ratio = (new_score / old_score.clamp_min(1e-9)).numpy()
            out[keep, 4:13] = rot[keep].reshape(-1, 9)
            out[keep, 13:16] = t1.numpy()[keep]
            out[keep, 1] = w1.numpy()[keep]
            out[keep, 0] = out[keep, 0] * ratio[keep]  # final score = operation score × graspness, rescaled
        refined = GraspGroup(np.concatenate([out, grasps.array[top:]], 0)).sort_by_score()
        return refined, {"refined": top, "kept": int(keep.sum())}


def collect_prior_examples(dataset, images: int, rng: np.random.Generator, progress: bool = True) -> dict:
    """Examples of ``images`` random images of ``dataset`` concatenated: image loading (normals, labels) is the
    slow part, so it is done once and the network then trains on minibatches of the cache."""
    from tqdm import tqdm
    views = fibonacci_views()
    picks = rng.choice(len(dataset), min(images, len(dataset)), replace=False)
    parts = [ex for i in tqdm(picks, desc="prior examples", disable=not progress)
             if (ex := prior_examples(dataset[int(i)], views, rng)) is not None]
    if not parts:
        raise ValueError("no image gave a labelled grasp to learn a contact prior from")
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def prior_skill(net: PriorNet, examples: dict) -> dict:
    """BCE of the prior on ``examples`` against two references: the targets' own entropy (a perfect prior) and
    a constant map at the mean target (no prior). skill = share of that gap the prior closes (1 = perfect)."""
    import torch.nn.functional as F
    t = examples["target"]
    with torch.no_grad():
        bce = F.binary_cross_entropy_with_logits(net(examples["rel"], examples["normals"], examples["approach"]), t).item()
    floor = F.binary_cross_entropy(t, t).item()
    constant = F.binary_cross_entropy(torch.full_like(t, t.mean().item()), t).item()
    return {"bce": bce, "entropy": floor, "constant_bce": constant,
            "skill": (constant - bce) / max(constant - floor, 1e-9)}


def train_prior(dataset, steps: int, rng: np.random.Generator, lr: float = 1e-3, images: int = 120,
                batch: int = 256, log=None, progress: bool = True) -> tuple[ContactPrior, list, dict]:
    """Adam on BCE(logits, analytic target maps) over minibatches of cached examples from ``images`` images;
    a tenth of the examples is held out. Returns prior, training curve and held-out skill (:func:`prior_skill`)."""
    import torch.nn.functional as F
    from tqdm import tqdm
    data = collect_prior_examples(dataset, images, rng, progress)
    order = torch.as_tensor(rng.permutation(len(data["target"])))
    held = max(1, len(order) // 10)
    val = {k: v[order[:held]] for k, v in data.items()}
    train = {k: v[order[held:]] if len(order) > held else v for k, v in data.items()}
    net = PriorNet()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    curve = []
    bar = tqdm(range(steps), desc="train contact prior", disable=not progress)
    n = len(train["target"])
    for step in bar:
        idx = torch.as_tensor(rng.integers(0, n, min(batch, n)))
        net.train()
        logits = net(train["rel"][idx], train["normals"][idx], train["approach"][idx])
        loss = F.binary_cross_entropy_with_logits(logits, train["target"][idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        value = loss.item()
        curve.append(value)
        bar.set_postfix(bce=f"{value:.4f}")
        if log is not None:
            log(step + 1, value)
    net.eval()
    return ContactPrior(net), curve, prior_skill(net, val)
