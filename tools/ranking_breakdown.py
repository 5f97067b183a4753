"""How much of a dump's AP does the score head lose by its ranking, and how much do the proposals lose?

    python tools/ranking_breakdown.py ROOT DUMP SCENES [--views 0-7] [--label NAME] [--json]

Scores every image of DUMP (a ``grasp6d detect`` / ``grasp6d report`` dump of the GraspNet-format ROOT) with the
project's evaluator, then prints one markdown row: AP as ranked, AP of the same scored grasps in the best order
(grasp6d_core.evaluation.ranking), why the scored grasps fail, and how well the scores rank the grasps that hold.
Run it on the label oracle's dump too: its AP is what better proposals could reach. docs/model.md quotes it."""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

from tqdm import tqdm

from grasp6d_core.evaluation.ranking import HOLDS_AT, ranking_breakdown
from grasp6d_core.evaluation.runner import Job, evaluate_job
from grasp6d_core.splits import parse_range

HEADER = ("| dump | images | AP as ranked | AP, best order of the same grasps | collision | empty | "
          f"no hold at μ ≤ {HOLDS_AT} | AUC (all scored) | AUC (collision-free) |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root")
    parser.add_argument("dump")
    parser.add_argument("scenes", help="e.g. 160-171")
    parser.add_argument("--views", default="0-7", help="image ids, e.g. 0-7 or 0-255:8")
    parser.add_argument("--camera", default="realsense", choices=("realsense", "kinect"))
    parser.add_argument("--label", default=None, help="the row's name (default: the dump folder)")
    parser.add_argument("--json", action="store_true", help="print the breakdown as one JSON object instead")
    args = parser.parse_args(argv)
    jobs = [Job(args.root, args.dump, s, args.camera, a, 10) for s in parse_range(args.scenes) for a in parse_range(args.views)]
    b = ranking_breakdown([evaluate_job(job) for job in tqdm(jobs, desc="eval", unit="img")])
    if args.json:
        nan_to_null = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in dataclasses.asdict(b).items()}
        print(json.dumps(nan_to_null))   # an AUC with one class empty is NaN, which strict JSON cannot hold
        return
    print(HEADER)
    print(f"| {args.label or Path(args.dump).name} | {b.images} | {b.ap:.2f} | {b.ap_best_order:.2f} | "
          f"{100 * b.collision:.0f} % | {100 * b.empty:.0f} % | {100 * b.no_hold:.0f} % | {b.auc_holds:.3f} | "
          f"{b.auc_holds_geometric:.3f} |")


if __name__ == "__main__":
    main()
