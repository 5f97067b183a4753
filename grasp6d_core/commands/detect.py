"""``grasp6d detect``: run a checkpoint on the depth images of GraspNet-format scenes, write a benchmark dump
(DUMP/scene_XXXX/<camera>/NNNN.npy) and one PNG per scene with the top grasps drawn on the cloud."""
from __future__ import annotations

import argparse
from pathlib import Path

from grasp6d_core.commands._paths import output_dir
from grasp6d_core.commands._pipeline_flags import add_pipeline_arguments, settings_from_args
from grasp6d_core.evaluation.detect_dumps import write_dumps, write_fused_dumps
from grasp6d_core.model.precision import PRECISION_HELP, PRECISIONS
from grasp6d_core.pipeline import GraspPipeline, parse_workspace_box
from grasp6d_core.splits import parse_range


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
    parser.add_argument("--fused", action="store_true",
                        help="the robot's input: fuse each scene's --views in the TSDF and detect once on its surface "
                             "cloud; one dump per scene, 0000.npy in camera 0's frame (grasp6d eval --protocol fused)")
    parser.add_argument("--max-depth", type=float, default=1.5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help=PRECISION_HELP)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-png", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Bad paths, checkpoints and values raise OSError/ValueError: grasp6d_core.cli prints them as one line."""
    output_dir(args.out)
    _run(args)
    return 0


def scene_folders(path, scenes) -> list:
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


def _run(args: argparse.Namespace) -> None:
    import torch  # torch and spconv load only when the command runs, not for its --help
    from grasp6d_core.model.detector import GraspDetector

    torch.set_num_threads(max(1, args.threads))
    if args.fused and args.workspace == "labels":
        raise ValueError("--fused: the label crop is per image; the fused cloud is cropped to the table by the "
                         "TSDF's workspace: give --workspace none or a box in camera 0's frame")
    fixed_box = None if args.workspace in ("labels", "none") else parse_workspace_box(args.workspace)
    settings = settings_from_args(args, box=fixed_box)
    pipeline = GraspPipeline(GraspDetector.from_checkpoint(args.checkpoint, args.device, args.precision), settings)
    views = parse_range(args.views)
    per_scene = []
    for folder in scene_folders(args.input, args.scenes):
        cam_dir = folder / args.camera
        if not (cam_dir / "depth").is_dir():
            raise FileNotFoundError(f"{folder}: no {args.camera}/depth folder")
        present = {int(p.stem) for p in (cam_dir / "depth").glob("*.png")}
        per_scene.append((folder, [a for a in views if a in present]))
    if not any(anns for _, anns in per_scene):
        raise FileNotFoundError(f"--input {args.input}: no depth images for --views {args.views}")
    if args.fused:
        jobs = [(folder, anns) for folder, anns in per_scene if anns]
        write_fused_dumps(pipeline, jobs, args.camera, args.out, png=not args.no_png)
        print(f"wrote {len(jobs)} fused-input dumps under {args.out}")
        return
    jobs = [(folder, a) for folder, anns in per_scene for a in anns]
    write_dumps(pipeline, settings, jobs, args.camera, args.out, args.workspace, args.max_depth, png=not args.no_png)
    print(f"wrote {len(jobs)} dumps under {args.out}")
