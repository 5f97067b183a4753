"""Train the learned re-scorer (grasp6d_core/rescorer.py) on the data engine's labels of the detector's own grasps.

    python tools/train_rescorer.py ROOT --scenes 100-115 --out models/rescorer.json [--views 0-7] [--val-scenes 112-115]

For every image of ROOT's scenes (a GraspNet-format root from ``grasp6d synth``: use scenes and a seed that no
reported figure uses, with objects of the training split, so that the similar and novel families stay unseen),
with the label crop and without a crop, and for each scene's fused views, the detector proposes its
collision-free pool as ``scoring: learned`` would; the project's evaluator labels every grasp of the pool (the
share of friction thresholds at which it holds); the rows are cached in ``OUT.rows.npz`` (delete it to relabel).
With ``--val-scenes`` a first fit on the other scenes prints how the held-out scenes' pools rank, by consensus
and by the fit (top-50 precision averaged like AP, no per-object cap); the re-scorer written is then fitted on
every scene.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from grasp6d_core.evaluation.ap import FRICTION_LIST, evaluate_image, precision_at_k
from grasp6d_core.rescorer import Rescorer, grasp_features, hold_friction, hold_target, train_rescorer
from grasp6d_core.splits import parse_range

FUSED = -1   # the image id recorded for a scene's fused input


class PoolRecorder:
    """Stands in for the re-scorer inside GraspDetector.detect: keeps what the re-scorer would see."""

    def __init__(self) -> None:
        self.last = None

    def rescore(self, pool, candidates, points, normals):
        self.last = (pool, candidates, points, normals)
        return pool


def label_pool(root: Path, scene: int, camera: str, ann: int, pool, frame_ann: int) -> np.ndarray:
    """Each pool grasp's hold target from the evaluator (every grasp scored: no per-object cap, no top-k)."""
    from grasp6d_core.data.scene_io import load_image_truth, model_points, surface_object
    truth = load_image_truth(root, scene, camera, frame_ann)
    ranked = pool.copy()
    ranked.array[:, 0] = np.linspace(1.0, 0.5, len(pool))   # keep the pool's order through the evaluator's sort
    result = evaluate_image(ranked, [model_points(str(root), int(o)) for o in truth.object_ids], truth.poses,
                            [surface_object(str(root), int(o)) for o in truth.object_ids], truth.table_points,
                            max_per_object=len(pool), top_k=len(pool))
    target = hold_target(result.friction, result.collision, result.empty, FRICTION_LIST)
    # The pool is already NMS'd at the evaluator's thresholds, so every grasp comes back; match rows to be sure.
    index = {tuple(np.round(t, 6)): k for k, t in enumerate(result.grasps[:, 13:16])}
    rows = [index.get(tuple(np.round(t, 6))) for t in pool.translations]
    return np.array([np.nan if r is None else target[r] for r in rows])


def collect(root: Path, scenes: list[int], views: list[int], camera: str, checkpoint: str | None) -> dict:
    from grasp6d_core.data.fusion import fuse_views
    from grasp6d_core.evaluation.detect_dumps import FUSED_POINTS, image_points, label_box
    from grasp6d_core.model.detector import GraspDetector
    from grasp6d_core.pipeline import GraspPipeline, PipelineSettings
    detector = GraspDetector.from_checkpoint(checkpoint)
    detector.rescorer = recorder = PoolRecorder()
    feats, targets, tags = [], [], []

    def add(pool_input, scene: int, ann: int, crop: int, frame_ann: int) -> None:
        pool, candidates, pts, nrm = pool_input
        if len(pool) == 0:
            return
        y = label_pool(root, scene, camera, ann, pool, frame_ann)
        ok = np.isfinite(y)
        feats.append(grasp_features(pool, candidates, pts, nrm)[ok])
        targets.append(y[ok])
        tags.append(np.tile([scene, ann, crop], (int(ok.sum()), 1)))

    jobs = [(s, a, crop) for s in scenes for a in views for crop in (1, 0)] + [(s, FUSED, 0) for s in scenes]
    for scene, ann, crop in tqdm(jobs, desc="pools + labels", unit="cloud"):
        folder = root / "scenes" / f"scene_{scene:04d}" / camera
        recorder.last = None
        if ann == FUSED:
            fused = fuse_views(folder, views, FUSED_POINTS, seed=0, reference=0)
            GraspPipeline(detector, PipelineSettings(scoring="learned")).run(fused.points, fused.normals)
            frame = 0
        else:
            points, valid = image_points(folder, ann, 1.5)
            box = label_box(folder, ann, points, valid) if crop else None
            GraspPipeline(detector, PipelineSettings(scoring="learned", box=box)).run(points)
            frame = ann
        if recorder.last is not None:
            add(recorder.last, scene, ann, crop, frame)
    return {"features": np.concatenate(feats), "targets": np.concatenate(targets), "tags": np.concatenate(tags)}


def pooled_precision(scores: np.ndarray, targets: np.ndarray, tags: np.ndarray) -> float:
    """Mean over clouds of AP-style precision@k (k ≤ 50, all friction thresholds) of the pool ordered by scores."""
    values = []
    for key in np.unique(tags, axis=0):
        sel = np.flatnonzero((tags == key).all(1))
        order = sel[np.argsort(-scores[sel], kind="stable")]
        friction = hold_friction(targets[order], FRICTION_LIST)
        none = np.zeros(len(order), bool)
        values.append(precision_at_k(friction, none, none).mean())
    return 100.0 * float(np.mean(values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root")
    parser.add_argument("--scenes", required=True, help="e.g. 100-115")
    parser.add_argument("--views", default="0-7")
    parser.add_argument("--camera", default="realsense", choices=("realsense", "kinect"))
    parser.add_argument("--checkpoint", default=None, help="the detector's weights (default: the shipped ones)")
    parser.add_argument("--val-scenes", default=None, help="scenes held out of a first fit, to print how it ranks")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 beside other jobs: oversubscribed "
                                                                "threads slowed labelling tenfold)")
    parser.add_argument("--out", required=True, help="the re-scorer JSON to write")
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    root, out = Path(args.root), Path(args.out)
    scenes, views = parse_range(args.scenes), parse_range(args.views)
    rows_file = out.with_suffix(".rows.npz")
    if rows_file.is_file():
        rows = dict(np.load(rows_file))
    else:
        rows = collect(root, scenes, views, args.camera, args.checkpoint)
        rows_file.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(rows_file, **rows)
    x, y, tags = rows["features"], rows["targets"], rows["tags"]
    print(f"{len(x)} labelled grasps from {len(np.unique(tags, axis=0))} clouds; {100 * (y > 0).mean():.1f} % hold at "
          f"some μ", file=sys.stderr)
    fit = lambda sel: train_rescorer(x[sel], y[sel], hidden=args.hidden, epochs=args.epochs)  # noqa: E731
    if args.val_scenes:
        held = np.isin(tags[:, 0], parse_range(args.val_scenes))
        model = fit(~held)
        by_consensus = pooled_precision(x[held, 1], y[held], tags[held])
        by_network = pooled_precision(x[held, 0], y[held], tags[held])
        learned = pooled_precision(model.predict(x[held]), y[held], tags[held])
        best = pooled_precision(y[held], y[held], tags[held])
        print(json.dumps({"held_out_scenes": args.val_scenes, "network": round(by_network, 2),
                          "consensus": round(by_consensus, 2), "learned": round(learned, 2), "best": round(best, 2)}))
    info = {"root": str(root), "scenes": args.scenes, "views": args.views, "camera": args.camera,
            "checkpoint": args.checkpoint or "shipped", "hidden": args.hidden, "epochs": args.epochs}
    synth = sorted(root.glob("synth_*.json"))
    if synth:
        info["generator"] = {p.stem: json.loads(p.read_text()) for p in synth}
    fitted = fit(np.ones(len(x), bool))
    model = Rescorer(fitted.mean, fitted.std, fitted.layers, {**fitted.info, **info})
    print(f"wrote {model.save(out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
