"""GraspDetector: a trained grasp network behind one call, points in -> GraspGroup out (camera frame, best first).

detect(): sample ``num_points`` of the cloud, estimate normals if missing, run the network, decode every seed,
optionally re-score by seed consensus (:mod:`grasp6d_core.consensus`), NMS (3 cm / 30°, GraspGroup.nms), then a model-free collision check of the gripper against the scene points
(:mod:`.collision`: finger boxes + palm + the approach path behind the palm, physics.GripperGeometry; grasps
with nothing between the fingers are dropped too) in score order until ``top_k`` survive. Optional contact-map refinement.
``scoring='learned'`` keeps RESCORE_POOL × ``top_k`` collision-free grasps in consensus order and lets the learned
re-scorer (:mod:`grasp6d_core.rescorer`) order them before the cut to ``top_k``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.hand import HandDescription, load_hand
from grasp6d_core.model.backbone import check_voxel_range
from grasp6d_core.model.collision import collision_free
from grasp6d_core.consensus import DEFAULT_SCORING, SCORINGS, consensus_rescore
from grasp6d_core.model.geometry import grasp_rotation_torch
from grasp6d_core.model.precision import check_precision, resolve_precision
from grasp6d_core.normals import estimate_normals
from grasp6d_core.physics import GripperGeometry

# Model-free collision: the evaluator's gripper, plus 5 cm of free approach path behind the palm; a grasp
# with fewer than 2 scene points (8 mm voxels) between the fingers is "empty".
COLLISION_GEOMETRY = GripperGeometry(empty_threshold=2, approach_distance=0.05)
REFINE_TOP = 10         # grasps refined by the contact-map prior
RESCORE_POOL = 2        # learned scoring: collision-free grasps re-scored per grasp returned
NMS = (0.03, float(np.deg2rad(30.0)))   # 3 cm / 30°: one grasp per pose neighbourhood


class GraspDetector:
    def __init__(self, model, cfg: dict, device: str = "cpu", info: dict | None = None, prior=None,
                 precision: str = "auto"):
        self.model, self.cfg, self.device = model.eval(), cfg, device
        # The heads' arithmetic (the backbone stays float32: spconv has no bfloat16 kernels on the CPU).
        # bfloat16 gave the same AP on the development scenes and faster heads where the CPU has AMX
        # (docs/model.md, "Speed").
        self.precision = resolve_precision(precision, device)
        self.info = info or {}
        self.prior = prior
        self.num_points = int(cfg["num_points"])
        self.last_timing: dict = {}
        self.last_refinement: dict = {}
        self.rescorer = None   # scoring='learned': models/rescorer.json unless set (anything with .rescore())

    # ------------------------------------------------------------------------------------------- loading
    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str = "cpu",
                        precision: str = "auto") -> "GraspDetector":
        """Load a checkpoint (None = the shipped models/grasp6d_cpu.pt); its config comes from the file.
        ``precision``: the heads' arithmetic, auto | float32 | bfloat16 (:func:`resolve_precision`)."""
        from grasp6d_core.model.checkpoint import SHIPPED, CheckpointError, load_into, read_checkpoint, shipped_checkpoint
        from grasp6d_core.model.config import validate_config
        from grasp6d_core.model.network import GraspNet6D
        if device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but torch sees no CUDA device")
        check_precision(precision)   # a bad value fails before the file is read
        path = Path(path) if path else shipped_checkpoint()
        if not path.is_file():
            raise CheckpointError(f"checkpoint {path}: no such file" + (" (the shipped weights are missing from "
                                                                         "models/)" if path == SHIPPED else ""))
        blob = read_checkpoint(path)
        cfg = validate_config(blob["config"], f"checkpoint {path}")
        model = GraspNet6D(cfg)
        load_into(model, blob, cfg, path)
        prior = None
        if blob.get("contact_prior") is not None:
            from grasp6d_core.model.contact_prior import ContactPrior
            prior = ContactPrior.from_state(blob["contact_prior"])
        info = {"path": str(path), "step": blob.get("step"), "config": cfg["name"], "data_recipe": blob.get("data_recipe")}
        return cls(model.to(device), cfg, device, info, prior, precision)

    @classmethod
    def from_config(cls, name: str = "cpu", device: str = "cpu", seed: int = 0,
                    precision: str = "auto") -> "GraspDetector":
        """An untrained network of a config (benchmarks, tests)."""
        from grasp6d_core.model.config import load_config
        from grasp6d_core.model.network import GraspNet6D
        torch.manual_seed(seed)
        cfg = load_config(name)
        return cls(GraspNet6D(cfg).to(device), cfg, device, precision=precision)

    # ------------------------------------------------------------------------------------------ inference
    def prepare(self, points: np.ndarray, normals: np.ndarray | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        points = np.asarray(points, dtype=np.float32)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"points must have shape (N, 3), got {points.shape}")
        keep = np.isfinite(points).all(1)
        if normals is not None:
            normals = np.asarray(normals, dtype=np.float32)
            if normals.shape != points.shape:
                raise ValueError(f"normals {normals.shape} must match points {points.shape}")
            keep &= np.isfinite(normals).all(1)
        points = points[keep]
        if len(points):
            check_voxel_range(float(np.abs(points).max()), float(self.cfg["voxel_size"]))
        if len(points) < 100:
            raise ValueError(f"points: only {len(points)} finite points, need at least 100")
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(points), self.num_points, replace=len(points) < self.num_points)
        sampled = points[pick]
        if normals is None:
            return sampled, estimate_normals(sampled)
        n = normals[keep][pick]
        return sampled, n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)

    @torch.no_grad()
    def candidates(self, points: np.ndarray, normals: np.ndarray) -> GraspGroup:
        """Every seed's decoded grasp (M of them), best first; times backbone / heads."""
        from grasp6d_core.model.decode import decode_grasps
        p = torch.as_tensor(points, device=self.device)[None]
        n = torch.as_tensor(normals, device=self.device)[None]
        t0 = time.perf_counter()
        feats = self.model.backbone(p, self.model.point_features(n))
        t1 = time.perf_counter()
        with torch.autocast(p.device.type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            end = self.model.forward_heads(p, feats)
        end = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in end.items()}
        grasps = decode_grasps(end, self.model.depths)
        self._context = (p, feats)  # for re-scoring refined grasps
        t2 = time.perf_counter()
        self.last_timing.update(backbone_ms=1e3 * (t1 - t0), heads_ms=1e3 * (t2 - t1))
        return grasps

    @torch.no_grad()
    def score_poses(self, translations: torch.Tensor, approaches: torch.Tensor, depths: torch.Tensor) -> torch.Tensor:
        """The network's operation score of arbitrary grasp poses in the last cloud (nearest point's feature as
        the seed feature, cylinders along the given approaches) — used to accept or reject refinements."""
        from scipy.spatial import cKDTree
        p, feats = self._context
        idx = cKDTree(p[0].cpu().numpy()).query(translations.cpu().numpy())[1]
        seed_feat = feats[:, torch.as_tensor(idx, device=feats.device)]
        t = translations.to(p)[None]
        rot = grasp_rotation_torch(approaches.to(p), torch.zeros(len(approaches), device=p.device))[None]
        op = self.model.operation(self.model.grouping(p, feats, t, rot, seed_feat))[0]   # (G, D, 4)
        bins = torch.argmin((self.model.depths[None] - depths.to(p)[:, None]).abs(), dim=1)
        return op[torch.arange(len(bins)), bins, 0].cpu()

    def detect(self, points: np.ndarray, normals: np.ndarray | None = None, top_k: int = 50, collision: bool = True,
               refine: bool = False, nms: tuple[float, float] | None = NMS,
               hand: "str | HandDescription | None" = None, scoring: str = DEFAULT_SCORING) -> GraspGroup:
        """Grasps (camera frame of ``points``), best first, at most ``top_k``. ``nms``: (distance m, angle rad)
        within which a worse grasp is suppressed, None = no NMS. ``hand``: a preset name, YAML path or
        HandDescription whose opening and finger reach decide which grasps are feasible (wider ones are dropped,
        never clipped) and whose box model the collision check uses; None = GraspNet's gripper. A cloud wider
        than the voxel grid can hold is refused (ValueError), never cropped silently: cropping is
        GraspPipeline's job (its max_range), and so are target constraints and object ids
        (``GraspPipeline.run(points, targets=...)``). ``scoring``: 'network' ranks by the network's score,
        'consensus' by how many seeds propose nearly the same grasp, weighted by their scores (:mod:`.consensus`)."""
        if scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {' | '.join(SCORINGS)}, got {scoring!r}")
        hand = None if hand is None else load_hand(hand)
        t0 = time.perf_counter()
        self.last_timing = {}
        pts, nrm = self.prepare(points, normals)
        t_prep = time.perf_counter()
        grasps = self.candidates(pts, nrm)
        t1 = time.perf_counter()
        if refine:
            if self.prior is None:
                raise ValueError("refine=True but this checkpoint has no contact-map prior (config "
                                 f"'{self.cfg['name']}'); train one with `grasp6d train --stage prior` or pass refine=False")
            grasps, self.last_refinement = self.prior.refine(grasps, pts, nrm, self.score_poses, top=REFINE_TOP)
        network = grasps   # every seed's grasp with the network's score: the learned re-scorer reads them
        pool = top_k * RESCORE_POOL if scoring == "learned" else top_k
        if scoring in ("consensus", "learned"):
            grasps = consensus_rescore(grasps)   # before NMS: it needs every seed's grasp, NMS keeps one per cluster
        if nms is not None:
            grasps = grasps.nms(*nms)
        if hand is not None:
            grasps = grasps[hand.fits(grasps)]   # too wide for the hand: dropped, never clipped
        if collision:
            geometry = COLLISION_GEOMETRY if hand is None else hand.collision_geometry(COLLISION_GEOMETRY.empty_threshold)
            grasps = collision_free(grasps, pts, pool, geometry)
        if scoring == "learned":
            if self.rescorer is None:
                from grasp6d_core.rescorer import Rescorer
                self.rescorer = Rescorer.load()
            grasps = self.rescorer.rescore(grasps.top_k(pool), network, pts, nrm)
        grasps = grasps.top_k(top_k)
        t2 = time.perf_counter()
        self.last_timing.update(prepare_ms=1e3 * (t_prep - t0), collision_nms_ms=1e3 * (t2 - t1),
                                total_ms=1e3 * (t2 - t0))
        return grasps
