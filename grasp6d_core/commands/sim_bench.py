"""``grasp6d sim-bench``: VGN-style clutter removal in PyBullet with a kinematic Franka hand."""
from __future__ import annotations

import argparse
import json

from grasp6d_core.commands._paths import output_dir
from grasp6d_core.commands._pipeline_flags import add_pipeline_arguments, settings_from_args
from grasp6d_core.errors import UsageError
from grasp6d_core.sim.bench import antipodal_detector, clutter_removal, pipeline_detector


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
    """Bad values raise (UsageError, PipelineError, ...): grasp6d_core.cli prints them as one line, exit 2."""
    if args.rounds < 1 or args.count < 1:
        raise UsageError(f"--rounds and --count must be >= 1, got {args.rounds} and {args.count}")
    if args.png_dir:
        output_dir(args.png_dir, "--png-dir")   # before the slow part, not at the first picture
    settings = settings_from_args(args)
    detect = (antipodal_detector(args.seed) if args.detector == "antipodal"
              else pipeline_detector(_load_detector(args.detector), settings))
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


def _load_detector(path: str):
    from grasp6d_core.model.detector import GraspDetector  # torch and spconv: only for a checkpoint detector
    try:
        return GraspDetector.from_checkpoint(path)
    except (ImportError, OSError, ValueError) as error:
        raise UsageError(f"cannot load detector {path!r}: {error}") from error
