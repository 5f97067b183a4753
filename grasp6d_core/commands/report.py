"""``grasp6d report``: regenerate a test set from a seed, detect, score; a markdown table + JSON with intervals."""
from __future__ import annotations

import argparse

from grasp6d_core.commands._paths import output_dir
from grasp6d_core.data.objects import parse_object_count, parse_object_ids
from grasp6d_core.consensus import DEFAULT_SCORING, SCORINGS
from grasp6d_core.model.precision import PRECISION_HELP, PRECISIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, required=True,
                        help="scene seed; a development seed (0, or one in the checkpoint's data recipe) needs --dev")
    parser.add_argument("--dev", action="store_true",
                        help="allow a development seed; the report labels its figures as development figures")
    parser.add_argument("--splits", default="novel,similar", help="comma-separated: seen, similar, novel")
    parser.add_argument("--checkpoint", default=None, help="model checkpoint (default: the shipped models/grasp6d_cpu.pt)")
    parser.add_argument("--scenes", type=int, default=12, help="scenes per split (ids from the split's start)")
    parser.add_argument("--views", type=int, default=8, help="camera views per scene")
    parser.add_argument("--camera", default="realsense", choices=["realsense", "kinect"])
    parser.add_argument("--workspace", default="labels,none",
                        help="crops to report, comma-separated: labels (the benchmark's label-image box), none")
    parser.add_argument("--inputs", default="single,fused",
                        help="comma-separated: single (every view on its own, the benchmark's per-image protocol), "
                             "fused (each scene's views fused in the TSDF, as the robot feeds the detector)")
    parser.add_argument("--no-oracle", action="store_true", help="skip the label oracle's AP (the ceiling)")
    parser.add_argument("--objects", default="3-10", help="objects per scene, MIN-MAX (as grasp6d synth)")
    parser.add_argument("--object-ids", default=None, help="restrict the splits' objects (quick checks only)")
    parser.add_argument("--label-points", type=int, default=512, help="max label points per object")
    parser.add_argument("--refine", action="store_true",
                        help="contact-map refinement of the detections (a checkpoint with a contact prior)")
    parser.add_argument("--scoring", default=DEFAULT_SCORING, choices=SCORINGS,
                        help="rank the grasps by the network's score or by how many seeds agree on them")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help=PRECISION_HELP)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", required=True, help="report folder (scenes, dumps, report_seed_S.json/.md)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def settings_from(args: argparse.Namespace):
    from grasp6d_core.evaluation.report import INPUTS, WORKSPACES, ReportSettings  # torch: not for --help
    splits = tuple(s.strip() for s in args.splits.split(",") if s.strip())
    bad = [s for s in splits if s not in ("seen", "similar", "novel")]
    if not splits or bad:
        raise ValueError(f"--splits {args.splits!r}: choose from seen, similar, novel (train scenes are not a test)")
    workspaces = tuple(w.strip() for w in args.workspace.split(",") if w.strip())
    if not workspaces or set(workspaces) - set(WORKSPACES):
        raise ValueError(f"--workspace {args.workspace!r}: choose from {', '.join(WORKSPACES)}")
    inputs = tuple(i.strip() for i in args.inputs.split(",") if i.strip())
    if not inputs or set(inputs) - set(INPUTS):
        raise ValueError(f"--inputs {args.inputs!r}: choose from {', '.join(INPUTS)}")
    lo, hi = parse_object_count(args.objects)
    if args.scenes < 1 or args.views < 1 or args.label_points < 1:
        raise ValueError("--scenes, --views and --label-points must be >= 1")
    if args.object_ids and len(splits) > 1:
        raise ValueError("--object-ids names one split's objects: give a single --splits with it")
    pool = parse_object_ids(args.object_ids, splits[0]) if args.object_ids else None
    return ReportSettings(seed=args.seed, splits=splits, checkpoint=args.checkpoint, scenes=args.scenes,
                          views=args.views, camera=args.camera, workspaces=workspaces, oracle=not args.no_oracle,
                          dev=args.dev, objects=(lo, hi), object_ids=pool, label_points=args.label_points,
                          threads=args.threads, refine=args.refine, scoring=args.scoring, inputs=inputs,
                          precision=args.precision)


def run(args: argparse.Namespace) -> int:
    """Bad values, a refused development seed or an unwritable --out raise ValueError/OSError (one line)."""
    from grasp6d_core.evaluation.report import markdown_report, run_report  # torch: not for --help
    settings = settings_from(args)
    out = output_dir(args.out)
    report = run_report(out, settings, progress=not args.quiet)
    print(markdown_report(report))
    key = report["settings"]["detection_key"]
    print(f"\nwrote {out}/report_seed_{settings.seed}.json and .md (also kept as report_seed_{settings.seed}_{key}.*)")
    return 0
