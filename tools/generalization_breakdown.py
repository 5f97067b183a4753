"""Where does a dump's AP come from? Per image: AP, objects in the scene and visible in the image, layout, camera
elevation and distance; per object family: how many of the scored grasps land on it and how many hold.

    python tools/generalization_breakdown.py ROOT DUMP SCENES [--views 0-7] [--json OUT.json]

ROOT is a ``grasp6d synth`` root (its synth_<split>.json gives the seed the layouts are re-drawn from), DUMP a
``grasp6d detect`` dump of it. Prints markdown tables; docs/model.md ("Generalization: development vs fresh
seeds") quotes them."""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from grasp6d_core.data.objects import object_library
from grasp6d_core.data.scenes import scene_plan
from grasp6d_core.evaluation.ap import FRICTION_LIST
from grasp6d_core.evaluation.runner import Job, evaluate_job, summarize
from grasp6d_core.splits import parse_range, split_of
from grasp6d_core.data.scene_io import load_image_truth, model_points, table_from_camera

CAMERA = "realsense"


def image_record(root: Path, dump: Path, scene: int, ann: int, seed: int, families: dict) -> dict:
    """One image's AP, scene statistics and per-object grasp outcomes."""
    from PIL import Image
    result = evaluate_job(Job(str(root), str(dump), scene, CAMERA, ann, 10))
    truth = load_image_truth(root, scene, CAMERA, ann)
    posed = [model_points(str(root), int(o)) @ T[:3, :3].T + T[:3, 3] for o, T in zip(truth.object_ids, truth.poses)]
    owner = np.zeros(0, int)
    if len(result.grasps):
        labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(posed)])
        owner = labels[cKDTree(np.concatenate(posed)).query(result.grasps[:, 13:16])[1]]
    good = (~result.collision & ~result.empty & (result.friction > 0) & (result.friction <= 0.8 + 1e-9))
    label = np.asarray(Image.open(root / "scenes" / f"scene_{scene:04d}" / CAMERA / "label" / f"{ann:04d}.png"))
    T = table_from_camera(root / "scenes" / f"scene_{scene:04d}" / CAMERA, ann)
    eye = T[:3, 3]
    objects = []
    for i, oid in enumerate(truth.object_ids):
        objects.append({"oid": int(oid), "family": families[int(oid)], "pixels": int((label == int(oid) + 1).sum()),
                        "grasps": int((owner == i).sum()), "good": int(good[owner == i].sum())})
    ap = summarize(result.precision[None])
    return {"scene": scene, "ann": ann, "AP": ap["AP"], "layout": scene_plan(scene, split_of(scene), seed)[1],
            "objects": len(truth.object_ids), "visible": sum(o["pixels"] > 200 for o in objects),
            "object_pixel_fraction": float((label > 0).mean()),
            "elevation_deg": float(np.degrees(np.arcsin(eye[2] / np.linalg.norm(eye)))),
            "distance_m": float(np.linalg.norm(eye)), "scored_grasps": int(len(result.grasps)),
            "per_object": objects}


def grouped(records: list[dict], key) -> list[tuple]:
    groups = defaultdict(list)
    for r in records:
        groups[key(r)].append(r["AP"])
    return [(k, len(v), float(np.mean(v))) for k, v in sorted(groups.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root")
    parser.add_argument("dump")
    parser.add_argument("scenes")
    parser.add_argument("--views", default="0-7")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    root, dump = Path(args.root), Path(args.dump)
    seed = json.loads(next(root.glob("synth_*.json")).read_text())["seed"]
    families = {e.oid: e.family for e in object_library()}
    records = [image_record(root, dump, s, a, seed, families)
               for s in parse_range(args.scenes) for a in parse_range(args.views)]
    print(f"seed {seed}: {len(records)} images, AP {np.mean([r['AP'] for r in records]):.2f}; "
          f"objects/scene {np.mean([r['objects'] for r in records]):.2f}, visible/image "
          f"{np.mean([r['visible'] for r in records]):.2f}, object pixels {100 * np.mean([r['object_pixel_fraction'] for r in records]):.1f} %, "
          f"scored grasps/image {np.mean([r['scored_grasps'] for r in records]):.1f}, "
          f"elevation {np.mean([r['elevation_deg'] for r in records]):.1f}°, distance {np.mean([r['distance_m'] for r in records]):.3f} m")
    for title, key in (("layout", lambda r: r["layout"]), ("objects in scene", lambda r: r["objects"]),
                       ("elevation (5° bins)", lambda r: int(5 * round(r["elevation_deg"] / 5)))):
        print(f"\n| {title} | images | AP |\n|---|---:|---:|")
        for k, n, ap in grouped(records, key):
            print(f"| {k} | {n} | {ap:.2f} |")
    fam = defaultdict(lambda: [0, 0, 0])   # grasps, good, object-images
    for r in records:
        for o in r["per_object"]:
            if o["pixels"] > 200:
                f = fam[o["family"]]
                f[0] += o["grasps"]
                f[1] += o["good"]
                f[2] += 1
    print("\n| family | visible object-images | scored grasps | grasps per object-image | holding (μ ≤ 0.8) |\n"
          "|---|---:|---:|---:|---:|")
    for name, (g, ok, n) in sorted(fam.items()):
        print(f"| {name} | {n} | {g} | {g / max(n, 1):.2f} | {100 * ok / max(g, 1):.1f} % |")
    if args.json:
        Path(args.json).write_text(json.dumps(records))


if __name__ == "__main__":
    main()
