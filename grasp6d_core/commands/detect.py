"""``grasp6d detect``: run a checkpoint on the depth images of GraspNet-format scenes, write a benchmark dump
(DUMP/scene_XXXX/<camera>/NNNN.npy) and one PNG per scene with the top grasps drawn on the cloud."""
from __future__ import annotations

import argparse

from grasp6d_core.commands._pipeline_flags import add_pipeline_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None, help="model checkpoint (default: the shipped models/grasp6d_cpu.pt)")
    parser.add_argument("--input", required=True, help="a scene folder (…/scenes/scene_XXXX) or a root with scenes/")
    parser.add_argument("--scenes", default=None, help="with a root: scene ids, e.g. 100-101 (default: all)")
    parser.add_argument("--camera", default="realsense", choices=["realsense", "kinect"])
    parser.add_argument("--out", required=True, help="dump root")
    parser.add_argument("--views", default="0-255", help="image ids, e.g. 0-255, 0,5 or 0-255:8 (every 8th; missing ones are skipped)")
    add_pipeline_arguments(parser)
    parser.add_argument("--workspace", default="labels",
                        help="evaluation only — labels: crop to the objects' box + 5 cm from the label image when "
                             "present (as GSNet's test loader does; a robot has no label image); none: no box; "
                             "x0,x1,y0,y1,z0,z1: a fixed box in the camera frame [m]")
    parser.add_argument("--max-depth", type=float, default=1.5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-png", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Bad paths, checkpoints and values raise OSError/ValueError: grasp6d_core.cli prints them as one line."""
    from grasp6d_core.commands._paths import output_dir
    output_dir(args.out)
    _run(args)
    return 0


def scene_folders(path, scenes) -> list:
    from pathlib import Path
    from grasp6d_core.evaluation.runner import parse_range
    path = Path(path)
    if path.name.startswith("scene_") and path.is_dir():
        return [path]
    if not (path / "scenes").is_dir():
        raise FileNotFoundError(f"--input {path}: neither a scene_XXXX folder nor a root with scenes/")
    wanted = set(parse_range(scenes)) if scenes else None
    found = sorted(p for p in (path / "scenes").glob("scene_*") if p.is_dir())
    found = [p for p in found if wanted is None or int(p.name[6:]) in wanted]
    if not found:
        raise FileNotFoundError(f"--input {path}: no scenes {scenes or ''} under scenes/")
    return found


def image_points(cam_dir, ann: int, max_depth: float):
    """Camera-frame points of one depth image (uint16 mm PNG, factor from meta when present), and the valid
    pixels' mask (to line up the label image)."""
    import numpy as np
    from PIL import Image
    from grasp6d_core.camera import CameraIntrinsics
    depth_png = cam_dir / "depth" / f"{ann:04d}.png"
    factor = 1000.0
    meta = cam_dir / "meta" / f"{ann:04d}.mat"
    if meta.is_file():
        import scipy.io
        factor = float(np.ravel(scipy.io.loadmat(meta).get("factor_depth", [[1000.0]]))[0])
    depth = np.asarray(Image.open(depth_png), np.float32) / factor
    intr = CameraIntrinsics.from_matrix(np.load(cam_dir / "camK.npy"), depth.shape[1], depth.shape[0])
    cloud = intr.depth_to_points(depth, organized=True, max_depth=max_depth)
    valid = np.isfinite(cloud[..., 2])
    return cloud[valid], valid


LABEL_MARGIN = 0.05   # m around the labelled objects' box, as GSNet's test loader crops


def label_box(cam_dir, ann: int, points, valid) -> tuple[float, ...] | None:
    """Evaluation only: the box around the labelled objects + LABEL_MARGIN (None without a label image or
    objects in it). A robot has no label image; this reproduces the benchmark protocol's crop."""
    import numpy as np
    from PIL import Image
    label_png = cam_dir / "label" / f"{ann:04d}.png"
    if not label_png.is_file():
        return None
    seg = np.asarray(Image.open(label_png))[valid]
    if not (seg > 0).any():
        return None
    lo, hi = points[seg > 0].min(0) - LABEL_MARGIN, points[seg > 0].max(0) + LABEL_MARGIN
    return tuple(float(v) for pair in zip(lo, hi) for v in pair)


def _run(args: argparse.Namespace) -> None:
    import torch
    from grasp6d_core.commands._pipeline_flags import settings_from_args
    from grasp6d_core.evaluation.runner import parse_range
    from grasp6d_core.model.detector import GraspDetector
    from grasp6d_core.pipeline import GraspPipeline, parse_workspace_box

    torch.set_num_threads(max(1, args.threads))
    fixed_box = None if args.workspace in ("labels", "none") else parse_workspace_box(args.workspace)
    settings = settings_from_args(args, box=fixed_box)
    pipeline = GraspPipeline(GraspDetector.from_checkpoint(args.checkpoint, args.device), settings)
    views = parse_range(args.views)
    jobs = []
    for folder in scene_folders(args.input, args.scenes):
        cam_dir = folder / args.camera
        if not (cam_dir / "depth").is_dir():
            raise FileNotFoundError(f"{folder}: no {args.camera}/depth folder")
        present = {int(p.stem) for p in (cam_dir / "depth").glob("*.png")}
        jobs += [(folder, a) for a in views if a in present]
    if not jobs:
        raise FileNotFoundError(f"--input {args.input}: no depth images for --views {args.views}")
    write_dumps(pipeline, settings, jobs, args.camera, args.out, args.workspace, args.max_depth, png=not args.no_png)
    print(f"wrote {len(jobs)} dumps under {args.out}")


def write_dumps(pipeline, settings, jobs: list, camera: str, out, workspace: str, max_depth: float,
                png: bool = True, progress: bool = True) -> None:
    """Run ``pipeline`` on each (scene folder, image id) of ``jobs`` and save the grasps as the benchmark dump
    under ``out``; ``workspace`` 'labels' crops each image to its labelled objects (evaluation only), any other
    value keeps ``settings``' box. One PNG per scene (its first image) unless ``png`` is False."""
    import numpy as np
    from tqdm import tqdm
    from grasp6d_core.draw import save_grasp_picture
    from grasp6d_core.evaluation.scene_io import table_from_camera
    from grasp6d_core.grasp import dump_path
    pictured = set()
    for folder, ann in tqdm(jobs, desc="detect", disable=not progress):
        points, valid = image_points(folder / camera, ann, max_depth)
        if workspace == "labels":
            pipeline.settings = settings.replace(box=label_box(folder / camera, ann, points, valid))
        grasps = pipeline.run(points).grasps
        scene = int(folder.name[6:])
        grasps.save_npy(dump_path(out, scene, camera, ann))
        if png and scene not in pictured:
            pictured.add(scene)
            picture = dump_path(out, scene, camera, ann).parent.parent / f"scene_{scene:04d}_{ann:04d}.png"
            # Drawn in the table frame (z up) so objects stand out by height; without the scene's camera
            # poses, a camera looking down is assumed (z up = −z of the camera).
            T = table_from_camera(folder / camera, ann)
            T = np.diag([1.0, -1.0, -1.0, 1.0]) if T is None else T
            save_grasp_picture(points @ T[:3, :3].T + T[:3, 3], grasps.transform(T), picture,
                               title=f"scene {scene} image {ann} ({camera}), table frame")
