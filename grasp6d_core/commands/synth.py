"""``grasp6d synth``: generate a synthetic GraspNet-1Billion-format dataset (objects, labels, scenes)."""
from __future__ import annotations

import argparse

from grasp6d_core.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="dataset root (created; finished scenes/objects are kept)")
    parser.add_argument("--split", default="train", choices=["train", "seen", "similar", "novel"],
                        help="scene split: ids train 0-, seen 100-, similar 130-, novel 160-")
    parser.add_argument("--scenes", type=int, default=1, help="number of scenes (ids from the split's start)")
    parser.add_argument("--views", type=int, default=256, help="camera views per scene")
    parser.add_argument("--camera", default="realsense", choices=["realsense", "kinect", "both"])
    parser.add_argument("--seed", type=int, default=0, help="scene content depends only on (seed, scene id)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (objects, then scenes)")
    parser.add_argument("--objects", default=None,
                        help="objects per scene, MIN-MAX (default 3-10; 3-12 with --randomize)")
    parser.add_argument("--layout", default=None, choices=["pile", "packed"], help="default: random per scene")
    rand = parser.add_argument_group("domain randomization (docs/data.md, 'Randomized scenes')")
    rand.add_argument("--randomize", action=argparse.BooleanOptionalAction, default=None,
                      help="draw table, clutter, views and noise per scene (default: on for --split train only; "
                           "test splits keep the fixed GraspNet-like arc)")
    rand.add_argument("--elevation", default=None, help="view elevation range in degrees, MIN-MAX (default 20-80)")
    rand.add_argument("--distance", default=None, help="view distance range in metres, MIN-MAX (default 0.40-0.75)")
    rand.add_argument("--table-height", type=float, default=None, help="table top ± this many metres (default 0.05)")
    rand.add_argument("--tilt", type=float, default=None, help="table tilt 0 … this many degrees (default 4)")
    rand.add_argument("--noise-scale", default=None,
                      help="range of the per-scene factors on each noise term, MIN-MAX (default 0.6-1.8)")
    rand.add_argument("--spread", default=None,
                      help="range of the factor on the pile box / packed area, MIN-MAX (default 0.7-1.2)")
    rand.add_argument("--pile-share", type=float, default=None, help="probability of a pile (default 0.6)")
    parser.add_argument("--label-points", type=int, default=512, help="max label points per object (~5 mm apart)")
    parser.add_argument("--no-text-sdf", action="store_true", help="skip the dexnet text .sdf (~20 MB per object)")
    parser.add_argument("--object-ids", default=None, help="restrict the split's object pool, e.g. 0,4,9")
    parser.add_argument("--extra-objects", nargs="?", const="shapes", default=None, metavar="SETS",
                        help="--split train only: draw from extra training objects too, for wider shape coverage; "
                             "SETS is 'shapes' (the default: ids 96-143, more blob meshes and polygonal prisms), "
                             "'walls' (ids 144-167: thin-walled tubes, trays, frames, plates) or 'shapes,walls'; "
                             "test splits never use them")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _init_worker() -> None:
    import torch
    torch.set_num_threads(1)
    import open3d as o3d
    o3d.utility.set_max_threads(1)


def _object_job(job):
    from grasp6d_core.data.assets import ensure_objects
    root, oid, points, text = job
    return ensure_objects(root, [oid], max_points=points, text_sdf=text, progress=False)


def _scene_job(job):
    from grasp6d_core.data.scenes import write_scene
    return write_scene(**job)


RANDOMIZE_FLAGS = ("elevation", "distance", "table_height", "tilt", "noise_scale", "spread", "pile_share")


def randomization_from_args(args: argparse.Namespace):
    """The Randomization the flags ask for, None when off; a ValueError names a bad flag."""
    from grasp6d_core.data.randomize import Randomization, parse_interval, parse_limit
    on = args.randomize if args.randomize is not None else args.split == "train"
    given = [f"--{f.replace('_', '-')}" for f in RANDOMIZE_FLAGS if getattr(args, f) is not None]
    if not on:
        if given:
            raise ValueError(f"{', '.join(given)} need --randomize (on by default only for --split train)")
        return None
    r = Randomization()
    return Randomization(
        elevation_deg=parse_interval(args.elevation, "--elevation", 5, 89) if args.elevation else r.elevation_deg,
        distance_m=parse_interval(args.distance, "--distance", 0.25, 1.5) if args.distance else r.distance_m,
        table_height_m=r.table_height_m if args.table_height is None else
        parse_limit(args.table_height, "--table-height", 0, 0.1),
        tilt_deg=r.tilt_deg if args.tilt is None else parse_limit(args.tilt, "--tilt", 0, 15),
        noise_scale=parse_interval(args.noise_scale, "--noise-scale", 0, 5) if args.noise_scale else r.noise_scale,
        spread=parse_interval(args.spread, "--spread", 0.3, 2) if args.spread else r.spread,
        pile_share=r.pile_share if args.pile_share is None else parse_limit(args.pile_share, "--pile-share", 0, 1))


def run(args: argparse.Namespace) -> int:
    import json
    from multiprocessing import get_context
    from tqdm import tqdm
    from grasp6d_core.commands._paths import output_dir
    from grasp6d_core.data.assets import ensure_objects, object_done
    from grasp6d_core.data.objects import extra_sets, parse_object_count, parse_object_ids, split_objects
    from grasp6d_core.data.scenes import scene_done, scene_ids, scene_plan
    randomization = randomization_from_args(args)   # a ValueError names the bad flag: one line from cli
    objects = args.objects or ("3-12" if randomization else "3-10")
    lo, hi = parse_object_count(objects)
    if args.scenes < 1 or args.views < 1 or args.workers < 1:
        raise UsageError("--scenes, --views and --workers must be >= 1")
    # A bad --object-ids or an unwritable --out raises ValueError/OSError: grasp6d_core.cli prints one line.
    if args.extra_objects and args.split != "train":
        raise UsageError(f"--extra-objects widens training scenes only; --split {args.split} is a test split")
    sets = extra_sets(args.extra_objects or False)   # a ValueError names an unknown set
    pool = None   # the split's own objects
    if args.object_ids:
        pool = parse_object_ids(args.object_ids, args.split, extra=sets)
    elif sets:
        pool = [e.oid for e in split_objects(args.split, extra=sets)]
    root = output_dir(args.out)
    cameras = ("realsense", "kinect") if args.camera == "both" else (args.camera,)
    settings = {"seed": args.seed, "views": args.views, "objects": [lo, hi], "layout": args.layout,
                "label_points": args.label_points, "cameras": list(cameras), "object_ids": pool}
    if randomization:   # only then: a fixed-arc record stays what `grasp6d report` writes and compares
        settings["randomize"] = randomization.as_dict()
    if sets:   # likewise: records of data made without it (or with the bare flag, before 'walls') stay comparable
        settings["extra_objects"] = True if sets == ("shapes",) else list(sets)
    record = root / f"synth_{args.split}.json"
    if record.is_file():
        old = json.loads(record.read_text())
        if any(old.get(k) != settings.get(k) for k in old.keys() | settings.keys()):
            raise UsageError(f"{root} holds {args.split} scenes made with {old}; resuming with {settings} would "
                             f"mix them (use another --out or the same settings)")
    ids = scene_ids(args.split, args.scenes)   # a ValueError (too many scenes for the split): one line from cli
    record.write_text(json.dumps(settings))
    todo = [s for s in ids if not scene_done(root, s)]
    print(f"{args.split}: scenes {ids[0]}-{ids[-1]}, {len(ids) - len(todo)} already done, {len(todo)} to make "
          f"({args.views} views, cameras: {', '.join(cameras)}, {'randomized' if randomization else 'fixed arc'})")
    pile_share = randomization.pile_share if randomization else 0.5
    needed = sorted({o for s in todo
                     for o in scene_plan(s, args.split, args.seed, (lo, hi), args.layout, pool, pile_share)[0]})
    missing = [o for o in needed if not object_done(root, o)]
    jobs = [dict(root=str(root), scene=s, split=args.split, num_views=args.views, cameras=cameras, seed=args.seed,
                 num_objects=(lo, hi), layout=args.layout, max_points=args.label_points,
                 text_sdf=not args.no_text_sdf, pool=pool, progress=not args.quiet and args.workers == 1,
                 randomization=randomization) for s in todo]
    stats, made = [], []
    if args.workers == 1:
        made = ensure_objects(root, missing, max_points=args.label_points, text_sdf=not args.no_text_sdf,
                              progress=not args.quiet)
        for job in tqdm(jobs, desc="scenes", disable=args.quiet):
            stats.append(_scene_job(job))
    else:
        ctx = get_context("spawn")
        with ctx.Pool(args.workers, initializer=_init_worker) as procs:
            obj_jobs = [(str(root), o, args.label_points, not args.no_text_sdf) for o in missing]
            for r in tqdm(procs.imap_unordered(_object_job, obj_jobs), total=len(obj_jobs),
                          desc="objects (SDF + labels)", disable=args.quiet or not obj_jobs):
                made += r
            for r in tqdm(procs.imap_unordered(_scene_job, jobs), total=len(jobs), desc="scenes", disable=args.quiet):
                stats.append(r)
    if made:
        print(f"objects: {len(made)} made, {sum(m['total'] for m in made) / len(made):.1f} s each "
              f"(labels {sum(m['labels'] for m in made) / len(made):.1f} s, SDF {sum(m['sdf'] for m in made) / len(made):.1f} s)")
    if stats:
        per_view = sum(s["view_seconds"] for s in stats) / len(stats)
        print(f"done: {len(stats)} scenes, {per_view:.2f} s per view and camera, "
              f"{sum(s['total_seconds'] for s in stats) / len(stats):.1f} s per scene")
    return 0
