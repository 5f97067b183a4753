"""Run a detection pipeline over the depth images of GraspNet-format scenes and save the grasps as the
benchmark's dump (DUMP/scene_XXXX/<camera>/NNNN.npy): what ``grasp6d detect`` and ``grasp6d report`` score."""
from __future__ import annotations

import numpy as np
from PIL import Image
from tqdm import tqdm

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.data.scene_io import table_from_camera
from grasp6d_core.draw import save_grasp_picture
from grasp6d_core.grasp import dump_path
from grasp6d_core.sensing.scene_dir import read_depth_metres


def image_points(cam_dir, ann: int, max_depth: float):
    """Camera-frame points of one depth image (uint16 mm PNG, factor from meta when present), and the valid
    pixels' mask (to line up the label image)."""
    depth = read_depth_metres(cam_dir / "depth" / f"{ann:04d}.png")
    intr = CameraIntrinsics.from_matrix(np.load(cam_dir / "camK.npy"), depth.shape[1], depth.shape[0])
    cloud = intr.depth_to_points(depth, organized=True, max_depth=max_depth)
    valid = np.isfinite(cloud[..., 2])
    return cloud[valid], valid


LABEL_MARGIN = 0.05   # m around the labelled objects' box, as GSNet's test loader crops


def label_box(cam_dir, ann: int, points, valid) -> tuple[float, ...] | None:
    """Evaluation only: the box around the labelled objects + LABEL_MARGIN (None without a label image or
    objects in it). A robot has no label image; this reproduces the benchmark protocol's crop."""
    label_png = cam_dir / "label" / f"{ann:04d}.png"
    if not label_png.is_file():
        return None
    seg = np.asarray(Image.open(label_png))[valid]
    if not (seg > 0).any():
        return None
    lo, hi = points[seg > 0].min(0) - LABEL_MARGIN, points[seg > 0].max(0) + LABEL_MARGIN
    return tuple(float(v) for pair in zip(lo, hi) for v in pair)


def write_dumps(pipeline, settings, jobs: list, camera: str, out, workspace: str, max_depth: float,
                png: bool = True, progress: bool = True) -> None:
    """Run ``pipeline`` on each (scene folder, image id) of ``jobs`` and save the grasps as the benchmark dump
    under ``out``; ``workspace`` 'labels' crops each image to its labelled objects (evaluation only), any other
    value keeps ``settings``' box. One PNG per scene (its first image) unless ``png`` is False."""
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
            save_scene_picture(folder / camera, ann, points, grasps, dump_path(out, scene, camera, ann).parent.parent,
                               f"scene {scene} image {ann} ({camera}), table frame")


FUSED_POINTS = 20000   # surface points sampled from the fused volume (tsdf_node's n_points default)


def write_fused_dumps(pipeline, jobs: list, camera: str, out, png: bool = True, progress: bool = True) -> None:
    """The fused-input protocol: for each (scene folder, image ids) of ``jobs``, fuse those views in the TSDF
    (:func:`grasp6d_core.data.fusion.fuse_views`), run ``pipeline`` on the surface cloud with its TSDF normals —
    what detector_node gets from tsdf_node — and save the grasps in camera 0's frame as the scene's one dump,
    ``NNNN = 0000`` (what ``grasp6d eval --protocol fused`` scores)."""
    from grasp6d_core.data.fusion import fuse_views
    for folder, views in tqdm(jobs, desc="detect (fused)", disable=not progress):
        fused = fuse_views(folder / camera, views, FUSED_POINTS, seed=0, reference=0)
        grasps = pipeline.run(fused.points, fused.normals).grasps
        scene = int(folder.name[6:])
        grasps.save_npy(dump_path(out, scene, camera, 0))
        if png:
            save_scene_picture(folder / camera, 0, fused.points, grasps, dump_path(out, scene, camera, 0).parent.parent,
                               f"scene {scene}, {len(fused.views)} views fused ({camera}), table frame")


def save_scene_picture(cam_dir, ann: int, points, grasps, folder, title: str) -> None:
    """``folder``/scene_XXXX_NNNN.png: the cloud and top grasps of camera ``ann``'s frame, drawn in the table
    frame (z up) so objects stand out by height; without the scene's camera poses a camera looking down is
    assumed (z up = −z of the camera)."""
    T = table_from_camera(cam_dir, ann)
    T = np.diag([1.0, -1.0, -1.0, 1.0]) if T is None else T
    scene = cam_dir.parent.name
    save_grasp_picture(points @ T[:3, :3].T + T[:3, 3], grasps.transform(T), folder / f"{scene}_{ann:04d}.png",
                       title=title)
