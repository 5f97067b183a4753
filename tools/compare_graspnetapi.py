"""Score one scene of a dump with the original graspnetAPI evaluator and with ``grasp6d eval``; print both as JSON.

    python tools/compare_graspnetapi.py --root ROOT --dump DUMP --scene 160 [--camera realsense]
                                        [--venv /work/gnapi_venv] [--theirs saved.npz]

graspnetAPI runs unchanged in its own environment (build it outside the repository with graspnetAPI's pins,
see docs/evaluation.md) through ``tools/graspnetapi_eval_scene.py``; it always scores the scene's 256 images,
so the dump and the root must hold all of them. ``--theirs`` reuses (or, if missing, keeps) its per-grasp
output; ours then scores as many images as that file holds. The JSON holds AP / AP0.4 / AP0.8 of both,
ours − theirs, and the stage agreement of :func:`grasp6d_core.evaluation.crosscheck.stage_agreement`
(selected grasps, collision, force closure, μ).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def run_graspnetapi(venv: Path, root: Path, dump: Path, scene: int, camera: str, out: Path) -> None:
    python = Path(venv) / "bin" / "python"
    if not python.is_file():
        sys.exit(f"no graspnetAPI environment at {venv} (build it: graspnetapi_env.sh {venv})")
    cmd = [str(python), str(HERE / "graspnetapi_eval_scene.py"), str(root), str(dump), str(scene), camera, str(out)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ""})
    if done.returncode != 0:
        sys.exit(f"graspnetAPI failed on scene {scene} (exit {done.returncode}); its output is above")


def ours(root: Path, dump: Path, scene: int, camera: str, images: int) -> list:
    """``grasp6d eval``'s per-image results for images 0 … images−1 (graspnetAPI's scene loop)."""
    from grasp6d_core.evaluation.runner import PROTOCOLS, Job, evaluate_job
    return [evaluate_job(Job(str(root), str(dump), scene, camera, ann, PROTOCOLS["standard"])) for ann in range(images)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--dump", required=True, type=Path)
    parser.add_argument("--scene", required=True, type=int)
    parser.add_argument("--camera", default="realsense")
    parser.add_argument("--venv", type=Path, default=Path(os.environ.get("GRASPNETAPI_VENV", "/work/gnapi_venv")))
    parser.add_argument("--theirs", type=Path, help="graspnetAPI's per-grasp output: reused if present, else kept")
    args = parser.parse_args(argv)

    from grasp6d_core.evaluation.crosscheck import split_per_image, stage_agreement
    from grasp6d_core.evaluation.runner import summarize
    with tempfile.TemporaryDirectory() as tmp:
        theirs_path = args.theirs or Path(tmp) / "graspnetapi.npz"
        if not theirs_path.is_file():
            run_graspnetapi(args.venv, args.root, args.dump, args.scene, args.camera, theirs_path)
        with np.load(theirs_path) as z:
            theirs = {k: z[k] for k in z.files}
    images = len(theirs["accuracy"])
    mine = ours(args.root, args.dump, args.scene, args.camera, images)
    a = summarize(theirs["accuracy"])
    b = summarize(np.stack([r.precision for r in mine]))
    report = {"scene": args.scene, "camera": args.camera, "images": images, "graspnetAPI": a, "grasp6d": b,
              "difference": {k: b[k] - a[k] for k in a},
              "stages": stage_agreement(split_per_image(theirs), mine)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
