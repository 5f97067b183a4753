"""Learned re-scoring: a small network that orders the detector's collision-free grasps by how likely they hold.

The score head barely ranks the grasps that hold on object families it never saw, and a perfect re-ordering of
the same proposals would raise AP far more than any change to them (docs/model.md, "Generalization"). This module
scores each grasp of the detector's final pool from cues that do not depend on what the object is: the network's
own score, how many seeds agree on the grasp (as :mod:`grasp6d_core.consensus`), the grasp's width and depth, how
it faces the camera, and the cloud between its jaws (how many points, and whether their normals face the jaws,
i.e. whether the contacts look antipodal).

The model is a two-layer perceptron trained on the data engine's labels of the detector's own grasps
(``tools/train_rescorer.py``). It is stored as JSON (plain numbers, nothing executable) so loading a re-scorer file
can never run code, and it runs in numpy, a fraction of a millisecond per cloud.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from grasp6d_core.consensus import ANGLE, RADIUS
from grasp6d_core.errors import Grasp6dError
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.physics import GripperGeometry

FEATURES = ("network_score", "consensus", "neighbours", "width", "depth", "view_cos", "range",
            "points_between", "normals_facing_jaws", "contact_cos", "contact_span")
CONTACT_TUBE = 0.006   # m: half-size of the tube along the closing line in which the jaws meet the surface
SHIPPED_RESCORER = Path(__file__).resolve().parent.parent / "models" / "rescorer.json"
_FLIP = np.array([1.0, -1.0, -1.0])   # a half-turn about the approach: the same parallel-jaw grasp
FORMAT = "grasp6d-rescorer-1"


class RescorerError(Grasp6dError, ValueError):
    """A re-scorer file that cannot be used (missing, malformed, other features)."""


def _same_grasp(r_a: np.ndarray, r_b: np.ndarray, angle: float) -> np.ndarray:
    """(K,) whether rotation pairs lie within ``angle`` of each other (or of the half-turned twin)."""
    same = np.einsum("kab,kab->k", r_a, r_b)
    flipped = np.einsum("kab,kab->k", r_a, r_b * _FLIP)
    return np.maximum(same, flipped) > 1.0 + 2.0 * np.cos(angle)


def _agreement(pool: GraspGroup, candidates: GraspGroup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pool grasp: the network score of its own seed (the nearest candidate), the summed network scores
    of the candidates within RADIUS / ANGLE of it (consensus S) and how many there are."""
    tree = cKDTree(candidates.translations)
    own = candidates.scores[tree.query(pool.translations)[1]]
    near = tree.query_ball_point(pool.translations, RADIUS)
    sums, counts = np.zeros(len(pool)), np.zeros(len(pool))
    for i, idx in enumerate(near):
        idx = np.asarray(idx, dtype=int)
        if len(idx) == 0:
            continue
        close = idx[_same_grasp(np.repeat(pool.rotations[i:i + 1], len(idx), 0), candidates.rotations[idx], ANGLE)]
        sums[i], counts[i] = candidates.scores[close].sum(), len(close)
    return own, sums, counts


def _between_jaws(pool: GraspGroup, points: np.ndarray, normals: np.ndarray,
                  geometry: GripperGeometry) -> np.ndarray:
    """(len(pool), 4) per grasp: how many cloud points lie in its closing region; the mean |normal · closing
    axis| of them (1: surfaces face the jaws squarely, 0: they run parallel to the jaws); at the two points where
    the closing jaws first meet the cloud along the closing line (as the evaluator's force-closure test closes
    them), the smaller |normal · closing axis| (0 when a side meets nothing: force closure needs a friction cone
    around the closing line at both contacts); and the contacts' distance over the opening width."""
    out = np.zeros((len(pool), 4))
    for i in range(len(pool)):
        r, t = pool.rotations[i], pool.translations[i]
        local = (points - t) @ r
        half = pool.widths[i] / 2
        inner = ((np.abs(local[:, 2]) < geometry.height / 2) & (local[:, 0] > -geometry.base_depth)
                 & (local[:, 0] < pool.depths[i]) & (np.abs(local[:, 1]) <= half))
        out[i, 0] = inner.sum()
        if not out[i, 0]:
            continue
        out[i, 1] = np.abs(normals[inner] @ r[:, 1]).mean()
        tube = np.flatnonzero(inner & (np.abs(local[:, 0]) < CONTACT_TUBE) & (np.abs(local[:, 2]) < CONTACT_TUBE))
        if len(tube):
            far, near = tube[np.argmax(local[tube, 1])], tube[np.argmin(local[tube, 1])]
            if far != near:
                out[i, 2] = min(abs(normals[far] @ r[:, 1]), abs(normals[near] @ r[:, 1]))
                out[i, 3] = (local[far, 1] - local[near, 1]) / max(2 * half, 1e-6)
    return out


def grasp_features(pool: GraspGroup, candidates: GraspGroup, points: np.ndarray, normals: np.ndarray,
                   geometry: GripperGeometry = GripperGeometry()) -> np.ndarray:
    """(len(pool), len(FEATURES)) features of the pool's grasps. ``candidates``: every seed's grasp with the
    network's scores (the pool is drawn from them); ``points`` / ``normals``: the cloud the network saw, in the
    camera frame (the sensor at the origin)."""
    if len(pool) == 0:
        return np.zeros((0, len(FEATURES)))
    if len(candidates) == 0:
        raise ValueError("re-scoring needs the candidates the pool was drawn from; got none")
    own, sums, counts = _agreement(pool, candidates)
    rng = np.linalg.norm(pool.translations, axis=1)
    view_cos = np.einsum("ij,ij->i", pool.approaches, pool.translations / np.maximum(rng, 1e-9)[:, None])
    jaws = _between_jaws(pool, np.asarray(points, float), np.asarray(normals, float), geometry)
    return np.column_stack([own, np.log1p(sums), np.log1p(counts), pool.widths, pool.depths, view_cos, rng,
                            np.log1p(jaws[:, 0]), jaws[:, 1:]])


@dataclass(frozen=True)
class Rescorer:
    """A trained perceptron over standardised FEATURES: relu(x W1 + b1) → relu(· W2 + b2) → · w3 + b3 → sigmoid."""
    mean: np.ndarray
    std: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    info: dict

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(N,) probabilities in (0, 1) that each grasp holds (the training target's scale)."""
        h = (np.asarray(features, float) - self.mean) / self.std
        for k, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if k < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return 1.0 / (1.0 + np.exp(-h[:, 0]))

    def rescore(self, pool: GraspGroup, candidates: GraspGroup, points: np.ndarray, normals: np.ndarray) -> GraspGroup:
        """A copy of ``pool`` with the learned scores, best first."""
        out = pool.copy()
        if len(out):
            out.array[:, 0] = self.predict(grasp_features(pool, candidates, points, normals))
        return out.sort_by_score()

    def to_dict(self) -> dict:
        return {"format": FORMAT, "features": list(FEATURES), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "layers": [{"weight": w.tolist(), "bias": b.tolist()} for w, b in self.layers], "info": self.info}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def from_dict(cls, blob: dict, source: str = "re-scorer") -> "Rescorer":
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise RescorerError(f"{source}: not a grasp6d re-scorer (format {FORMAT!r} expected)")
        if blob.get("features") != list(FEATURES):
            raise RescorerError(f"{source}: trained on features {blob.get('features')}, this version computes "
                                f"{list(FEATURES)}; retrain it with tools/train_rescorer.py")
        try:
            mean, std = np.asarray(blob["mean"], float), np.asarray(blob["std"], float)
            layers = tuple((np.asarray(l["weight"], float), np.asarray(l["bias"], float)) for l in blob["layers"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RescorerError(f"{source}: malformed ({exc})") from None
        width = len(FEATURES)
        for w, b in layers:
            if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
                raise RescorerError(f"{source}: layer shapes do not chain (input {width}, weight {w.shape}, "
                                    f"bias {b.shape})")
            width = w.shape[1]
        if not layers or width != 1 or mean.shape != (len(FEATURES),) or std.shape != mean.shape or (std <= 0).any():
            raise RescorerError(f"{source}: needs a mean and positive std per feature and a final layer of width 1")
        if not all(np.isfinite(a).all() for pair in layers for a in pair) or not np.isfinite(mean).all():
            raise RescorerError(f"{source}: holds non-finite numbers")
        return cls(mean, std, layers, dict(blob.get("info") or {}))

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Rescorer":
        """Read a re-scorer JSON file (None = the shipped models/rescorer.json)."""
        path = Path(path) if path else SHIPPED_RESCORER
        if not path.is_file():
            raise RescorerError(f"re-scorer {path}: no such file")
        try:
            blob = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RescorerError(f"re-scorer {path}: not readable JSON ({exc})") from None
        return cls.from_dict(blob, f"re-scorer {path}")


def hold_target(friction: np.ndarray, collision: np.ndarray, empty: np.ndarray,
                friction_list: tuple[float, ...]) -> np.ndarray:
    """The training target of each evaluated grasp: the share of the evaluator's friction thresholds at which it
    holds (0 for a collision, an empty grasp or no force closure). AP averages over the same thresholds, and its
    best order of a set of grasps is by this value."""
    ok = ~collision & ~empty & (friction > 0)
    mus = np.asarray(friction_list)[None]
    return (ok[:, None] & (friction[:, None] <= mus + 1e-9)).mean(1)


def hold_friction(targets: np.ndarray, friction_list: tuple[float, ...]) -> np.ndarray:
    """The inverse of :func:`hold_target`: the smallest threshold μ at which a grasp of each target holds (-1 where
    it holds at none). A grasp that holds at μ holds at every larger threshold, so one holding at n of them holds
    at the n largest."""
    mus = np.asarray(friction_list, float)
    held = np.rint(np.asarray(targets, float) * len(mus)).astype(int)
    return np.where(held > 0, mus[np.clip(len(mus) - held, 0, len(mus) - 1)], -1.0)


def train_rescorer(features: np.ndarray, targets: np.ndarray, hidden: int = 32, epochs: int = 200,
                   lr: float = 3e-3, weight_decay: float = 1e-4, seed: int = 0, info: dict | None = None) -> Rescorer:
    """Fit a Rescorer to (features, targets in [0, 1]) by binary cross-entropy with soft targets (full batch, Adam)."""
    import torch
    x = np.asarray(features, float)
    y = np.asarray(targets, float)
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or len(x) != len(y) or len(x) < 10:
        raise ValueError(f"need ≥ 10 rows of {len(FEATURES)} features with one target each, got {x.shape}, {y.shape}")
    if not ((y >= 0) & (y <= 1)).all():
        raise ValueError("targets must lie in [0, 1]")
    mean, std = x.mean(0), np.maximum(x.std(0), 1e-6)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(len(FEATURES), hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    xt = torch.as_tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt)[:, 0], yt)
        loss.backward()
        opt.step()
    layers = tuple((m.weight.detach().numpy().T.astype(float), m.bias.detach().numpy().astype(float))
                   for m in net if isinstance(m, torch.nn.Linear))
    return Rescorer(mean, std, layers, dict(info or {}, final_loss=float(loss.detach()), rows=int(len(x))))
