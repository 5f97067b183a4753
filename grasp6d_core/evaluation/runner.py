"""Evaluate a dump over scenes and images, in parallel, and aggregate AP per scene and per split."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grasp6d_core.evaluation.ap import FRICTION_LIST, ImageResult, evaluate_image
from grasp6d_core.evaluation.dump_check import check_dump_grasps
from grasp6d_core.data.scene_io import load_image_truth, model_points, surface_object
from grasp6d_core.grasp import GraspGroup, dump_path
from grasp6d_core.splits import split_of

PROTOCOLS = {"standard": 10, "fused": 5}  # grasps kept per object


@dataclass(frozen=True)
class Job:
    root: str
    dump: str
    scene: int
    camera: str
    ann: int
    max_per_object: int


def image_jobs(root: Path, dump: Path, scenes: list[int], camera: str, protocol: str,
               anns: list[int] | None = None) -> list[Job]:
    """One job per dump file present (fused protocol: the scene's single fused dump, ann 0)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: choose from {sorted(PROTOCOLS)}")
    jobs = []
    for scene in scenes:
        folder = dump_path(dump, scene, camera, 0).parent
        if not folder.is_dir():
            raise FileNotFoundError(f"dump has no folder {folder} for scene {scene}")
        present = sorted(int(p.stem) for p in folder.glob("*.npy") if p.stem.isdigit())
        if not present:   # scoring nothing would print AP 0 over 0 images as if it were a result
            raise FileNotFoundError(f"dump folder {folder} of scene {scene} holds no NNNN.npy grasp files")
        wanted = [0] if protocol == "fused" else (anns if anns is not None else present)
        missing = sorted(set(wanted) - set(present))
        if missing:
            raise FileNotFoundError(f"dump lacks images {missing[:5]} of scene {scene} in {folder}")
        jobs += [Job(str(root), str(dump), scene, camera, a, PROTOCOLS[protocol]) for a in wanted]
    return jobs


def evaluate_job(job: Job) -> ImageResult:
    """Score one image of the dump; the full per-grasp result (tools/compare_graspnetapi.py reads it)."""
    truth = load_image_truth(Path(job.root), job.scene, job.camera, job.ann)
    grasps = GraspGroup.load_npy(dump_path(job.dump, job.scene, job.camera, job.ann))
    points = [model_points(job.root, int(o)) for o in truth.object_ids]
    surfaces = [surface_object(job.root, int(o)) for o in truth.object_ids]
    return evaluate_image(grasps, points, truth.poses, surfaces, truth.table_points, job.max_per_object)


def run_job(job: Job) -> tuple[Job, np.ndarray]:
    return job, evaluate_job(job).precision


def check_dump_files(jobs: list[Job]) -> None:
    """Every dump file of ``jobs`` read and checked before any is scored: garbage ends the run with one
    ValueError naming the file, not after minutes of scoring or in the middle of a progress bar."""
    for job in jobs:
        path = dump_path(job.dump, job.scene, job.camera, job.ann)
        check_dump_grasps(GraspGroup.load_npy(path), path)


def summarize(table: np.ndarray) -> dict:
    """table (..., top_k, M) precision -> AP, AP0.4, AP0.8 in percent."""
    mean = table.reshape(-1, table.shape[-2], table.shape[-1]).mean(axis=(0, 1))
    return {"AP": float(100 * mean.mean()),
            "AP0.4": float(100 * mean[FRICTION_LIST.index(0.4)]),
            "AP0.8": float(100 * mean[FRICTION_LIST.index(0.8)])}


def evaluate_dump(jobs: list[Job], workers: int = 1, progress: bool = True) -> dict:
    """Run all jobs; returns {"AP", "AP0.4", "AP0.8", "per_scene", "per_split", "images", "seconds_per_image"}."""
    import time

    from tqdm import tqdm
    check_dump_files(jobs)
    start = time.perf_counter()
    results: dict[int, list[np.ndarray]] = {}
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers, initializer=_single_thread) as pool:
            iterator = pool.imap_unordered(run_job, jobs)
            for job, prec in tqdm(iterator, total=len(jobs), disable=not progress, desc="eval", unit="img"):
                results.setdefault(job.scene, []).append(prec)
    else:
        for job in tqdm(jobs, disable=not progress, desc="eval", unit="img"):
            results.setdefault(job.scene, []).append(run_job(job)[1])
    elapsed = time.perf_counter() - start
    per_scene = {f"scene_{s:04d}": summarize(np.stack(v)) for s, v in sorted(results.items())}
    per_split = {}
    for name in sorted({split_of(s) for s in results}):
        per_split[name] = summarize(np.concatenate([np.stack(v) for s, v in results.items() if split_of(s) == name]))
    everything = np.concatenate([np.stack(v) for v in results.values()]) if results else np.zeros((0, 50, 6))
    out = summarize(everything) if len(everything) else {"AP": 0.0, "AP0.4": 0.0, "AP0.8": 0.0}
    out.update(per_scene=per_scene, per_split=per_split, images=len(jobs),
               seconds_per_image=elapsed * max(workers, 1) / max(len(jobs), 1))
    return out


def _single_thread() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import open3d as o3d
        o3d.utility.set_max_threads(1)
    except ImportError:  # open3d optional in workers that only use grid SDFs
        pass


def markdown_table(result: dict) -> str:
    lines = ["| scope | AP | AP0.4 | AP0.8 |", "|---|---:|---:|---:|"]
    rows = list(result["per_scene"].items()) + [(f"**{k}**", v) for k, v in result["per_split"].items()]
    rows.append(("**all**", result))
    for name, r in rows:
        lines.append(f"| {name} | {r['AP']:.2f} | {r['AP0.4']:.2f} | {r['AP0.8']:.2f} |")
    return "\n".join(lines)
