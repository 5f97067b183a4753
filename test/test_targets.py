"""Target keep-filters, the model-free segmentation and hand descriptions (grasp6d_core, no ROS)."""
import numpy as np
import pytest

from grasp6d_core.grasp import OBJECT_ID, GraspGroup
from grasp6d_core.hand import PRESETS, HandError, hand_feasible, load_hand
from grasp6d_core.rotations import grasp_rotation
from grasp6d_core.segmentation import label_grasps, segment_objects
from grasp6d_core.targets import (ConstraintError, TargetConstraints, in_roi, mask_to_points, target_keep,
                                  within_approach_cone)
from target_scene import BOX_CENTRES, INTRINSICS, box_roi, two_boxes


def _grasps(translations, approaches, widths=0.04, depths=0.02):
    n = len(translations)
    return GraspGroup.from_components(scores=np.linspace(1, 0.5, n), widths=np.broadcast_to(widths, (n,)),
                                      depths=np.broadcast_to(depths, (n,)),
                                      rotations=grasp_rotation(np.asarray(approaches, float), np.zeros(n)),
                                      translations=translations)


@pytest.fixture(scope="module")
def scene():
    s = two_boxes()
    points, labels = s["organized"].reshape(-1, 3), s["labels"].reshape(-1)
    valid = np.isfinite(points).all(axis=1)
    return points[valid], labels[valid]


def test_roi_and_cone_keep_exactly_the_grasps_inside():
    g = _grasps([[0, 0, 0.5], [0.2, 0, 0.5], [0, 0, 0.61]], [[0, 0, 1], [0, 0.5, 1], [1, 0, 0.2]])
    roi = (np.array([-0.1, -0.1, 0.4]), np.array([0.1, 0.1, 0.6]))
    assert in_roi(None, g, roi).tolist() == [True, False, False]
    # approaches: 0°, 26.6°, 78.7° from camera z
    assert within_approach_cone(None, g, ((0, 0, 2.0), np.deg2rad(30))).tolist() == [True, True, False]
    assert within_approach_cone(None, g, ((0, 0, 1.0), np.deg2rad(20))).tolist() == [True, False, False]
    both = TargetConstraints(roi=roi, approach_cone=((0, 0, 1), np.deg2rad(30)))
    assert target_keep(np.zeros((1, 3)), g, both).tolist() == [True, False, False]
    assert target_keep(np.zeros((1, 3)), g, TargetConstraints()).all()


@pytest.mark.parametrize("constraints, message", [
    (TargetConstraints(roi=(np.array([0, 0, np.nan]), np.ones(3))), "roi_min/roi_max must be finite"),
    (TargetConstraints(roi=(np.array([0.2, 0, 0]), np.array([0.1, 1, 1]))), "roi_min > roi_max on x"),
    (TargetConstraints(approach_cone=((0, 0, 0), 0.5)), "approach_axis must be a finite non-zero vector"),
    (TargetConstraints(approach_cone=((0, 0, 1), -0.1)), "max_approach_angle must be a finite angle > 0"),
    (TargetConstraints(object_id=-4), "object id must be >= 1"),
])
def test_bad_constraints_name_the_field(constraints, message):
    with pytest.raises(ConstraintError, match=message):
        constraints.validate()


def test_segmentation_finds_each_box_and_labels_grasps_on_them(scene):
    points, truth = scene
    labels = segment_objects(points)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert (labels[truth == 0] == 0).mean() > 0.99                       # the table is removed
    for box in BOX_CENTRES:                                              # each box is one segment ...
        ids, counts = np.unique(labels[truth == box], return_counts=True)
        assert counts[ids > 0].sum() > 0.85 * counts.sum() and len(ids[ids > 0]) == 1
    assert len({int(np.unique(labels[(truth == b) & (labels > 0)])[0]) for b in BOX_CENTRES}) == 2  # ... of its own
    top_of_box = points[truth == 1][np.argmin(points[truth == 1][:, 2])]
    g = label_grasps(points, labels, _grasps([top_of_box, [0.0, 0.0, 0.6], [0.5, 0.5, 0.1]], [[0, 0, 1]] * 3))
    assert g.object_ids[0] == np.bincount(labels[truth == 1]).argmax() and g.object_ids[1:].tolist() == [-1, -1]


def test_mask_projection_matches_the_organized_pixels(scene):
    s = two_boxes()
    organized, labels = s["organized"], s["labels"]
    points = organized.reshape(-1, 3)
    on_box = mask_to_points(points, labels, INTRINSICS, target_label=2)
    valid = np.isfinite(points).all(axis=1)
    np.testing.assert_array_equal(on_box[valid], (labels.reshape(-1) == 2)[valid])
    assert not on_box[~valid].any()
    with pytest.raises(ConstraintError, match="mask is 10x10 but the camera is 320x240"):
        mask_to_points(points, np.zeros((10, 10)), INTRINSICS)


def test_hand_presets_yaml_and_feasibility(tmp_path, scene):
    assert load_hand("robotiq_2f_85").max_opening == 0.085 and set(PRESETS) == {"graspnet", "panda", "robotiq_2f_85"}
    # the graspnet preset is the detector's historical collision model
    from grasp6d_core.model.detector import COLLISION_GEOMETRY
    assert PRESETS["graspnet"].collision_geometry() == COLLISION_GEOMETRY
    custom = tmp_path / "my_hand.yaml"
    custom.write_text("max_opening: 0.05\nfinger_depth_min: 0.0\nfinger_depth_max: 0.03\nfinger_width: 0.02\n"
                      "finger_thickness: 0.01\npalm_depth: 0.02\ntcp_offset: 0.12\n")
    hand = load_hand(str(custom))
    assert hand.name == "my_hand" and hand.max_opening == 0.05
    from pathlib import Path
    example = load_hand(str(Path(__file__).resolve().parents[1] / "config" / "hands" / "example_hand.yaml"))
    assert example.name == "example_hand" and example.tcp_offset == 0.13 and example.finger_depth_max == 0.035
    custom.write_text("max_opening: 0.05\nfinger_width: -1\n")
    with pytest.raises(HandError, match="missing keys"):
        load_hand(str(custom))
    with pytest.raises(HandError, match="not a preset"):
        load_hand("robotiq")
    # a grasp across the 4 cm side of a box: fine at 0.06 m opening, dropped (not clipped) when wider than the hand
    points, truth = scene
    x, y = BOX_CENTRES[1]
    top = np.array([x, -y, 0.6 - 0.05])
    wide = _grasps([top, top], [[0, 0, 1]] * 2, widths=np.array([0.06, 0.09]), depths=0.02)
    wide.array[:, 4:13] = (grasp_rotation(np.array([[0, 0, 1.0]] * 2), np.full(2, np.pi / 2))).reshape(2, 9)
    assert hand_feasible(points, wide, load_hand("robotiq_2f_85")).tolist() == [True, False]
    assert hand_feasible(points, wide, load_hand("graspnet")).tolist() == [True, True]


@pytest.fixture(scope="module")
def detector():
    from grasp6d_core.model.detector import GraspDetector
    return GraspDetector.from_checkpoint()


def test_pipeline_python_api_restricts_grasps(scene, detector):
    """GraspPipeline(detector, PipelineSettings(hand=, segmentation=)).run(points, targets=TargetConstraints(...))
    on the shipped weights: the non-ROS side of /detect_grasps' target fields."""
    from scipy.spatial import cKDTree
    from grasp6d_core.pipeline import GraspPipeline, PipelineError, PipelineSettings
    from grasp6d_core.segmentation import SegmentationParams
    points, truth = scene
    plain = GraspPipeline(detector, PipelineSettings(top_k=20))
    lo, hi = box_roi(1)
    g = plain.run(points, targets=TargetConstraints(roi=(lo, hi))).grasps
    assert len(g) and np.all((g.translations >= lo) & (g.translations <= hi))
    g = plain.run(points, targets=TargetConstraints(approach_cone=((0, 0, 1), np.deg2rad(30)))).grasps
    assert len(g) and np.all(g.approaches[:, 2] >= np.cos(np.deg2rad(30)) - 1e-6)
    g = GraspPipeline(detector, PipelineSettings(top_k=20, hand="robotiq_2f_85")).run(points).grasps
    assert len(g) and g.widths.max() <= 0.085
    g = plain.run(points, targets=TargetConstraints(point_mask=truth == 2)).grasps
    assert len(g) and np.all(truth[cKDTree(points).query(g.translations)[1]] == 2)
    with pytest.raises(PipelineError, match="target_object_id needs segment_objects:=true"):
        plain.run(points, targets=TargetConstraints(object_id=1))
    segmented = GraspPipeline(detector, PipelineSettings(top_k=20, segmentation=SegmentationParams()))
    g = segmented.run(points, targets=TargetConstraints(object_id=1)).grasps
    assert len(g) and np.all(g.object_ids == 1)
    # the segmentation only fills object_id: the same grasps, in the same order, as without it
    labelled, unlabelled = segmented.run(points).grasps, plain.run(points).grasps
    assert len(labelled) == len(unlabelled) and set(labelled.object_ids) - {-1} <= {1, 2}
    assert np.allclose(np.delete(labelled.array, OBJECT_ID, axis=1), np.delete(unlabelled.array, OBJECT_ID, axis=1))
    # docs/ros_app.md "Target objects": the Python example, all constraints at once
    import math
    import re
    from pathlib import Path
    docs = (Path(__file__).resolve().parents[1] / "docs" / "ros_app.md").read_text()
    example = re.findall(r"```python\n(.*?)```", docs[docs.index("## Target objects"):], re.S)[1]
    scope = {"math": math, "detector": detector, "points": points, "roi_min": lo, "roi_max": hi,
             "on_target": truth == 1}
    exec(example, scope)
    g = scope["grasps"]
    assert len(g) and np.all((g.translations >= lo) & (g.translations <= hi)) and g.widths.max() <= 0.085
    assert np.all(truth[cKDTree(points).query(g.translations)[1]] == 1) and np.all(g.object_ids >= 1)   # labelled
    assert np.all(g.approaches[:, 2] >= np.cos(np.deg2rad(45)) - 1e-6)


def test_pipeline_applies_targets_in_the_cloud_frame_after_the_crop():
    """Targets are expressed in the cloud's frame even when the model runs in another one (to_model), a point
    mask over the uncropped cloud follows the crop, and top_k counts the grasps that pass the targets."""
    from grasp6d_core.pipeline import GraspPipeline, PipelineSettings
    cloud = np.random.default_rng(0).uniform([-0.1, -0.1, 0.5], [0.1, 0.1, 0.6], (200, 3))
    cloud[:50, 2] += 5.0                                   # 50 points beyond max_range: cropped

    class Fixed:  # six model-frame grasps along x at the points' first six (cropped-cloud) positions
        def detect(self, pts, normals=None, top_k=50, collision=True, refine=False, nms=None, hand=None,
                   scoring="network"):
            self.asked = top_k
            return _grasps(pts[:6], [[0, 0, 1]] * 6)

    to_model = np.eye(4)
    to_model[:3, 3] = [1.0, 0.0, 0.0]                      # model frame: the cloud shifted 1 m along x
    fixed = Fixed()
    pipeline = GraspPipeline(fixed, PipelineSettings(top_k=2, max_range=2.5))
    kept = cloud[50:56]
    lo, hi = kept[1:4].min(axis=0), kept[1:4].max(axis=0)    # cloud-frame box around grasps 1..3
    g = pipeline.run(cloud, to_model=to_model, targets=TargetConstraints(roi=(lo, hi))).grasps
    assert fixed.asked == 2 * 20 and len(g) == 2
    assert np.allclose(g.translations, kept[1:3])           # the best two inside the box, in the cloud's frame
    mask = np.zeros(len(cloud), dtype=bool)
    mask[[53, 55]] = True                                    # indices of the uncropped cloud
    g = pipeline.run(cloud, to_model=to_model, targets=TargetConstraints(point_mask=mask)).grasps
    assert np.allclose(g.translations, kept[[3, 5]])


def test_picture_of_grasps_on_one_object(tmp_path, detector):
    """docs/target_objects.png: top view of the grasps restricted to one segmented box. Regenerate the docs copy
    with GRASP6D_UPDATE_DOCS=1."""
    import os
    from pathlib import Path
    from grasp6d_core.draw import save_grasp_picture
    from grasp6d_core.pipeline import GraspPipeline, PipelineSettings
    from grasp6d_core.segmentation import SegmentationParams
    s = two_boxes()
    points = s["organized"].reshape(-1, 3)
    points = points[np.isfinite(points).all(axis=1)]
    T = s["T_world_camera"]
    pipeline = GraspPipeline(detector, PipelineSettings(top_k=10, segmentation=SegmentationParams()))
    grasps = pipeline.run(points, targets=TargetConstraints(object_id=1)).grasps
    assert len(grasps) and np.all(grasps.object_ids == 1)
    world = grasps.transform(T)
    on_box = [label for label, (x, y) in BOX_CENTRES.items()
              if np.all(np.abs(world.translations[:, :2] - [x, y]) < 0.06)]
    assert len(on_box) == 1                                            # every grasp on the same box
    out = Path("docs") if os.environ.get("GRASP6D_UPDATE_DOCS") == "1" else tmp_path
    path = save_grasp_picture(points @ T[:3, :3].T + T[:3, 3], world, out / "target_objects.png",
                              title="two boxes; DetectGrasps target_object_id=1: every grasp on the one box")
    assert path.stat().st_size > 10_000


def test_bad_segmentation_parameters_name_the_parameter():
    from grasp6d_core.segmentation import SegmentationParams
    with pytest.raises(ValueError, match="segmentation_cluster_distance must be > 0"):
        SegmentationParams(cluster_distance=0.0).validate()
    with pytest.raises(ValueError, match="segmentation_min_cluster_points must be >= 1"):
        SegmentationParams(min_cluster_points=0).validate()


def test_segmentation_is_repeatable(scene):
    points, _ = scene
    first = segment_objects(points)
    shuffled = np.random.default_rng(1).permutation(len(points))
    np.testing.assert_array_equal(segment_objects(points), first)
    assert (segment_objects(points[shuffled]) == first[shuffled]).mean() > 0.99
