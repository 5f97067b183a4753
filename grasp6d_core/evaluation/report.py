"""A test report from a seed: generate fresh test scenes with the data engine, detect grasps with a checkpoint,
score them, and summarize AP per split, input and workspace with a per-scene bootstrap interval. Inputs: single
views (the benchmark's per-image protocol, with and without the label crop) and each scene's views fused in the
TSDF (what the robot feeds the detector, scored with the fused-scene protocol).

Figures measured on the scenes a model was developed on (trained, validated, tuned or chosen on) flatter it, so
a seed the checkpoint's data recipe names, or the project's development seed 0, is refused unless the caller
says it wants a development figure; the report then labels every number as one (docs/evaluation.md, "Test
reports from fresh seeds").

Layout under ``out``: ``objects/`` (object models and grasp labels; they do not depend on the seed, so every
seed's root links to the same ones), ``seed_S/`` (a GraspNet-format root: scenes of all splits, plus one dump
per input and workspace of each checkpoint, and the label oracle's dump), ``report_seed_S.json`` and
``report_seed_S.md``. Finished scenes, objects and dump files are kept, so an interrupted report resumes.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from grasp6d_core.data.assets import ensure_objects
from grasp6d_core.data.scenes import scene_done, scene_ids, scene_plan, write_scene
from grasp6d_core.evaluation.compare import bootstrap_mean_interval
from grasp6d_core.evaluation.detect_dumps import write_dumps, write_fused_dumps
from grasp6d_core.evaluation.dumps import write_dump
from grasp6d_core.evaluation.runner import evaluate_dump, image_jobs
from grasp6d_core.grasp import dump_path
from grasp6d_core.model.checkpoint import read_checkpoint, shipped_checkpoint
from grasp6d_core.consensus import DEFAULT_SCORING
from grasp6d_core.model.detector import GraspDetector
from grasp6d_core.model.precision import resolve_precision
from grasp6d_core.pipeline import GraspPipeline, PipelineSettings
from grasp6d_core.rescorer import SHIPPED_RESCORER, Rescorer

DEVELOPMENT_SEED = 0          # every design, checkpoint and threshold choice so far was measured on seed 0
WORKSPACES = ("labels", "none")
INPUTS = ("single", "fused")
METRICS = ("AP", "AP0.4", "AP0.8")
SHARED_OBJECT_FOLDERS = ("models", "grasp_label")


@dataclass
class ReportSettings:
    seed: int
    splits: tuple[str, ...] = ("novel", "similar")
    checkpoint: str | None = None          # None: the shipped models/grasp6d_cpu.pt
    scenes: int = 12
    views: int = 8
    camera: str = "realsense"
    workspaces: tuple[str, ...] = WORKSPACES
    oracle: bool = True
    dev: bool = False                      # allow a development seed; the figures are then labelled as such
    objects: tuple[int, int] = (3, 10)     # the generator's defaults, as the shipped model's data recipe
    object_ids: list[int] | None = None    # restrict the split's objects (quick checks only)
    label_points: int = 512
    threads: int = 2
    refine: bool = False                   # contact-map refinement of the detections (checkpoints with a prior)
    scoring: str = DEFAULT_SCORING         # how grasps are ranked: the network's score or seed consensus
    inputs: tuple[str, ...] = INPUTS       # single: every view on its own; fused: all views of a scene in the TSDF
    precision: str = "auto"                # the heads' arithmetic (grasp6d_core.model.precision)


def development_seeds(checkpoint: str | None, scoring: str = "network") -> set[int]:
    """Seed 0 and every seed the checkpoint's data recipe used for any split (training, validation and the
    scenes its figures were tuned on), in every root it read and in the recipe of the weights it started from;
    with learned scoring also the seeds of the scenes the shipped re-scorer was trained on."""
    seeds = {DEVELOPMENT_SEED}
    pending = [read_checkpoint(checkpoint or shipped_checkpoint()).get("data_recipe") or {}]
    if scoring == "learned":
        pending.append(Rescorer.load().info)
    while pending:
        recipe = pending.pop()
        for split_settings in (recipe.get("generator") or {}).values():
            if isinstance(split_settings, dict) and "seed" in split_settings:
                seeds.add(int(split_settings["seed"]))
        pending += [r for r in recipe.get("roots") or [] if isinstance(r, dict)]
        init = recipe.get("init")
        if isinstance(init, dict) and isinstance(init.get("data_recipe"), dict):
            pending.append(init["data_recipe"])
    return seeds


def detection_key(settings: ReportSettings) -> str:
    """What the dumps depend on beyond the scenes: the checkpoint's content (not its path), refinement and the
    scoring. Dumps live in a folder per key, so a report with other weights or settings in the same --out never
    scores stale dumps."""
    import hashlib
    digest = hashlib.sha256(Path(settings.checkpoint or shipped_checkpoint()).read_bytes()).hexdigest()[:12]
    # network scoring adds nothing to the key, so dumps made before there was a choice stay valid
    key = digest + ("-refine" if settings.refine else "") + ("" if settings.scoring == "network" else f"-{settings.scoring}")
    if resolve_precision(settings.precision, "cpu") == "bfloat16":   # float32 adds nothing: older dumps stay valid
        key += "-bf16"
    if settings.scoring == "learned":   # the re-scorer's weights decide the order as much as the network's
        key += hashlib.sha256(SHIPPED_RESCORER.read_bytes()).hexdigest()[:8] if SHIPPED_RESCORER.is_file() else ""
    return key


def check_seed(settings: ReportSettings) -> bool:
    """True when ``settings.seed`` is a development seed (allowed only with ``dev``); ValueError otherwise."""
    dev_seeds = development_seeds(settings.checkpoint, settings.scoring)
    if settings.seed in dev_seeds and not settings.dev:
        raise ValueError(f"--seed {settings.seed} is a development seed (the checkpoint was trained, validated or "
                         f"tuned on seeds {sorted(dev_seeds)}): its figures flatter the model. Use a fresh seed, or "
                         f"--dev to measure a development figure, labelled as such")
    return settings.seed in dev_seeds


def seed_root(out: Path, seed: int) -> Path:
    """out/seed_S, with the seed-independent object folders linked to out/objects (made once for all seeds)."""
    root = out / f"seed_{seed}"
    root.mkdir(parents=True, exist_ok=True)
    for name in SHARED_OBJECT_FOLDERS:
        shared = out / "objects" / name
        shared.mkdir(parents=True, exist_ok=True)
        link = root / name
        if not link.exists():
            link.symlink_to(Path("..") / "objects" / name, target_is_directory=True)
    return root


def generate_split(root: Path, split: str, settings: ReportSettings, progress: bool) -> list[int]:
    """The split's first ``settings.scenes`` scene ids, generated (or kept from an earlier run with the same
    settings) with the data engine; returns the ids."""
    ids = scene_ids(split, settings.scenes)
    recipe = {"seed": settings.seed, "views": settings.views, "objects": list(settings.objects), "layout": None,
              "label_points": settings.label_points, "cameras": [settings.camera], "object_ids": settings.object_ids}
    record = root / f"synth_{split}.json"
    if record.is_file() and json.loads(record.read_text()) != recipe:
        raise ValueError(f"{root} holds {split} scenes made with {record.read_text()}; this report needs "
                         f"{json.dumps(recipe)} (use another --out)")
    record.write_text(json.dumps(recipe))
    todo = [s for s in ids if not scene_done(root, s)]
    needed = sorted({o for s in todo for o in scene_plan(s, split, settings.seed, settings.objects, None,
                                                          settings.object_ids)[0]})
    ensure_objects(root, needed, max_points=settings.label_points, text_sdf=False, progress=progress)
    for scene in tqdm(todo, desc=f"synth {split} (seed {settings.seed})", disable=not progress):
        write_scene(root, scene, split, num_views=settings.views, cameras=(settings.camera,), seed=settings.seed,
                    num_objects=settings.objects, max_points=settings.label_points, text_sdf=False,
                    pool=settings.object_ids)
    return ids


def detect_split(pipeline, root: Path, dump: Path, ids: list[int], settings: ReportSettings, workspace: str,
                 progress: bool) -> None:
    """Dump files for every image of ``ids`` not dumped yet, as ``grasp6d detect --workspace W`` writes them."""
    jobs = [(root / "scenes" / f"scene_{s:04d}", a) for s in ids for a in range(settings.views)
            if not dump_path(dump, s, settings.camera, a).is_file()]
    write_dumps(pipeline, pipeline.settings, jobs, settings.camera, dump, workspace, max_depth=1.5, png=False,
                progress=progress)


def detect_fused_split(pipeline, root: Path, dump: Path, ids: list[int], settings: ReportSettings,
                       progress: bool) -> None:
    """The fused-input dump (0000.npy, all views fused) of every scene of ``ids`` not dumped yet, as
    ``grasp6d detect --fused --workspace none`` writes it."""
    jobs = [(root / "scenes" / f"scene_{s:04d}", list(range(settings.views))) for s in ids
            if not dump_path(dump, s, settings.camera, 0).is_file()]
    write_fused_dumps(pipeline, jobs, settings.camera, dump, png=False, progress=progress)


def score(root: Path, dump: Path, ids: list[int], settings: ReportSettings, progress: bool,
          protocol: str = "standard") -> dict:
    """``grasp6d eval`` of the dump plus each metric's 95 % bootstrap interval over the scenes."""
    result = evaluate_dump(image_jobs(root, dump, ids, settings.camera, protocol, list(range(settings.views))),
                           progress=progress)
    per_scene = result["per_scene"]
    return {**{m: result[m] for m in METRICS},
            "ci95": {m: bootstrap_mean_interval([r[m] for r in per_scene.values()]) for m in METRICS},
            "scenes": len(per_scene), "images": result["images"], "per_scene": per_scene}


def report_split(split: str, root: Path, detector, key: str, settings: ReportSettings, progress: bool) -> dict:
    """One split: generate its scenes, detect (dumps under ``dump_*_KEY``) and score, per input and workspace."""
    say(progress, f"[{split}] generating {settings.scenes} scenes x {settings.views} views, seed {settings.seed}")
    ids = generate_split(root, split, settings, progress)
    pipeline = lambda: GraspPipeline(detector, PipelineSettings(refine=settings.refine, scoring=settings.scoring))  # noqa: E731 (fresh box)
    refined = (", refined" if settings.refine else "") + f", {settings.scoring} scoring"
    results: dict = {}
    for workspace in settings.workspaces if "single" in settings.inputs else ():
        dump = root / f"dump_{workspace}_{key}"
        say(progress, f"[{split}] detecting on single views, workspace {workspace}{refined}")
        detect_split(pipeline(), root, dump, ids, settings, workspace, progress)
        results[workspace] = score(root, dump, ids, settings, progress)
    if settings.oracle:
        say(progress, f"[{split}] the label oracle")
        write_dump("oracle", root, root / "dump_oracle", ids, settings.camera, list(range(settings.views)),
                   settings.seed)
        if "single" in settings.inputs:
            results["oracle"] = score(root, root / "dump_oracle", ids, settings, progress)
    if "fused" in settings.inputs:
        # What the robot feeds: every view of a scene fused in the TSDF, one detection per scene, no crop but
        # the TSDF's table workspace; scored with the fused protocol (<= 5 grasps per object).
        dump = root / f"dump_fused_{key}"
        say(progress, f"[{split}] detecting on the fused input ({settings.views} views per scene){refined}")
        detect_fused_split(pipeline(), root, dump, ids, settings, progress)
        results["fused"] = score(root, dump, ids, settings, progress, protocol="fused")
        if settings.oracle:
            results["fused_oracle"] = score(root, root / "dump_oracle", ids, settings, progress, protocol="fused")
    return results


def run_report(out: str | Path, settings: ReportSettings, progress: bool = True) -> dict:
    """Generate, detect and score every split of ``settings``; writes report_seed_S.json / .md under ``out``
    (and the same as report_seed_S_KEY.json / .md, KEY naming the weights) and returns the JSON's content."""
    out = Path(out)
    development = check_seed(settings)
    torch.set_num_threads(max(1, settings.threads))
    root = seed_root(out, settings.seed)
    detector = GraspDetector.from_checkpoint(settings.checkpoint, precision=settings.precision)
    key = detection_key(settings)
    results = {split: report_split(split, root, detector, key, settings, progress) for split in settings.splits}
    report = {"seed": settings.seed, "development": development,
              "figures": "development (the checkpoint was developed on this seed's scenes)" if development
              else "fresh seed (never used for development)",
              "settings": {**asdict(settings), "checkpoint": str(settings.checkpoint or "shipped"),
                           "detection_key": key},
              "results": results}
    # The unkeyed pair is the latest report of the seed; the keyed pair stays when other weights report into the
    # same folder, so comparing two checkpoints needs no copying between runs.
    as_json, as_markdown = json.dumps(report, indent=1), markdown_report(report) + "\n"
    for name in (f"report_seed_{settings.seed}", f"report_seed_{settings.seed}_{key}"):
        (out / f"{name}.json").write_text(as_json)
        (out / f"{name}.md").write_text(as_markdown)
    return report


def say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


ROW_NAMES = {"oracle": "label oracle", "fused": "fused input (TSDF of all views)",
             "fused_oracle": "fused: label oracle"}


def markdown_report(report: dict) -> str:
    """One row per split and workspace (and the oracle): AP, AP0.4, AP0.8, each with its 95 % interval."""
    s = report["settings"]
    title = (f"Seed {report['seed']}: {report['figures']}; {s['scenes']} scenes x {s['views']} views per split, "
             f"{s['camera']}, checkpoint {s['checkpoint']}{', refined' if s.get('refine') else ''}, "
             f"{s.get('scoring', 'network')} scoring.")
    if report["development"]:
        title = "**DEVELOPMENT FIGURES, not a test result.** " + title
    lines = [title, "", "| split | workspace | scenes | images | AP (95 % CI) | AP0.4 (95 % CI) | AP0.8 (95 % CI) |",
             "|---|---|---:|---:|---|---|---|"]
    for split, by_workspace in report["results"].items():
        for workspace, r in by_workspace.items():
            cells = [f"{r[m]:.2f} ({r['ci95'][m][0]:.2f} … {r['ci95'][m][1]:.2f})" for m in METRICS]
            name = ROW_NAMES.get(workspace, workspace)
            lines.append(f"| {split} | {name} | {r['scenes']} | {r['images']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
