"""``grasp6d eval``: GraspNet-1Billion AP of a grasp dump (docs/evaluation.md)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from grasp6d_core.evaluation.dumps import write_dump
from grasp6d_core.evaluation.runner import evaluate_dump, image_jobs, markdown_table
from grasp6d_core.splits import parse_range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="GraspNet-format dataset root (real or synthetic)")
    parser.add_argument("--dump", required=True, help="dump root: scene_XXXX/<camera>/NNNN.npy")
    parser.add_argument("--camera", default="realsense", choices=["realsense", "kinect"])
    parser.add_argument("--scenes", default="160-162", help="scene ids, e.g. 160-162 or 100,101")
    parser.add_argument("--anns", default=None, help="image ids, e.g. 0-7 or 0-255:8 (every 8th; default: every image present in the dump)")
    parser.add_argument("--protocol", default="standard", choices=["standard", "fused"],
                        help="standard: ≤10 grasps/object per image; fused: one fused input per scene (ann 0), ≤5/object")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes")
    parser.add_argument("--make-dump", choices=["oracle", "random"], default=None,
                        help="first write an oracle (ground-truth labels) or random dump to --dump")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")


def run(args: argparse.Namespace) -> int:
    """A bad root, dump or id range, or a dump file holding garbage, raises OSError/ValueError:
    grasp6d_core.cli prints it as one line and exits 2 (no AP is printed for garbage)."""
    root, dump = Path(args.root), Path(args.dump)
    if not (root / "scenes").is_dir():
        raise FileNotFoundError(f"--root {root}: no scenes/ folder (expected a GraspNet-format root)")
    scenes = parse_range(args.scenes)
    anns = parse_range(args.anns) if args.anns is not None else None
    if args.make_dump:
        write_dump(args.make_dump, root, dump, scenes, args.camera, anns if anns is not None else [0], args.seed)
    jobs = image_jobs(root, dump, scenes, args.camera, args.protocol, anns)
    result = evaluate_dump(jobs, workers=max(1, args.workers), progress=not args.json)
    if args.json:
        print(json.dumps(result))
    else:
        print(markdown_table(result))
        print(f"\n{result['images']} images, {result['seconds_per_image']:.2f} s per image per worker")
    return 0
