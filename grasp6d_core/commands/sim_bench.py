"""``grasp6d sim-bench``: VGN-style clutter removal in PyBullet with a kinematic Franka hand."""
from __future__ import annotations

import argparse
import json

from grasp6d_core.commands._pipeline_flags import add_pipeline_arguments, settings_from_args
from grasp6d_core.pipeline import PipelineError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", default="antipodal",
                        help="'antipodal' (geometric baseline) or a model checkpoint path (GraspDetector in the GraspPipeline)")
    parser.add_argument("--scene", default="pile", choices=["pile", "packed"])
    parser.add_argument("--objects", default="seen", choices=["seen", "novel"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=5, help="objects per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png-dir", default=None, help="save one PNG per attempt here")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    # The detection policy of a checkpoint detector (the antipodal baseline has its own); the hand is a Franka.
    add_pipeline_arguments(parser, hand_filter="panda")


def run(args: argparse.Namespace) -> int:
    import sys

    from grasp6d_core.sim.bench import antipodal_detector, checkpoint_detector, clutter_removal
    if args.rounds < 1 or args.count < 1:
        print("grasp6d sim-bench: --rounds and --count must be ≥ 1", file=sys.stderr)
        return 2
    if args.png_dir:
        from grasp6d_core.commands._paths import output_dir
        output_dir(args.png_dir, "--png-dir")   # before the slow part, not at the first picture
    try:
        settings = settings_from_args(args)
    except PipelineError as error:
        print(f"grasp6d sim-bench: {error}", file=sys.stderr)
        return 2
    try:
        detect = (antipodal_detector(args.seed) if args.detector == "antipodal"
                  else checkpoint_detector(args.detector, settings))
    except (ImportError, FileNotFoundError, ValueError) as error:
        print(f"grasp6d sim-bench: cannot load detector {args.detector!r}: {error}", file=sys.stderr)
        return 2
    result = clutter_removal(detect, args.scene, args.objects, args.rounds, args.seed, args.count, args.png_dir,
                             progress=not args.json)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"| scene | objects | rounds | attempts | success rate | declutter rate |\n|---|---|---:|---:|---:|---:|\n"
              f"| {result['scene']} | {result['objects']} | {result['rounds']} | {result['attempts']} | "
              f"{100 * result['success_rate']:.1f} % | {100 * result['declutter_rate']:.1f} % |")
        for r in result["per_round"]:
            stages = ", ".join(a["stage"] for a in r["attempts"])
            print(f"round {r['round']}: {r['removed']}/{r['objects']} removed in {len(r['attempts'])} attempts ({stages})")
    return 0
