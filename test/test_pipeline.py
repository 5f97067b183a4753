"""One detection pipeline: detector_node, `grasp6d detect` and `grasp6d sim-bench` run GraspPipeline and give the
same grasps on one cloud; far outliers are dropped and counted (pipeline and over DDS) and never reach the
model; the low-level voxel functions refuse coordinates they cannot hold instead of indexing out of range."""
import numpy as np
import pytest
import torch
from rclpy.parameter import Parameter

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.pipeline import GraspPipeline, PipelineError, PipelineSettings

OUTLIERS = (1e3, 1e6, 3e38)
BOX = (-0.12, 0.12, -0.12, 0.12, 0.0, 1.5)   # camera frame [m]: crops part of the table, keeps the objects


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A GraspNet-format scene folder with one depth PNG of a PyBullet clutter scene, and its camera-frame cloud
    as `grasp6d detect` reads it (so every entry point sees the same float32 points)."""
    from PIL import Image
    from grasp6d_core.evaluation.detect_dumps import image_points
    from grasp6d_core.sim.world import DEFAULT_INTRINSICS, ClutterWorld
    world = ClutterWorld(seed=2)
    try:
        world.reset("packed", "seen", 3)
        depth, _ = world.render()
    finally:
        world.close()
    cam_dir = tmp_path_factory.mktemp("scenes") / "scenes" / "scene_0000" / "realsense"
    (cam_dir / "depth").mkdir(parents=True)
    Image.fromarray(np.round(depth * 1000).astype(np.uint16)).save(cam_dir / "depth" / "0000.png")
    np.save(cam_dir / "camK.npy", DEFAULT_INTRINSICS.K)
    points, _ = image_points(cam_dir, 0, max_depth=1.5)
    return cam_dir.parent, points


@pytest.fixture(scope="module")
def detector():
    from grasp6d_core.model.detector import GraspDetector
    torch.set_num_threads(2)
    return GraspDetector.from_checkpoint()


@pytest.fixture(scope="module")
def clean(scene, detector):
    """The top 10 grasps of the cloud without outliers."""
    result = GraspPipeline(detector, PipelineSettings(top_k=10)).run(scene[1])
    assert result.outside_workspace == 0 and result.summary() == ""
    return result.grasps


def _same(a: GraspGroup, b: GraspGroup) -> bool:
    return len(a) == len(b) and np.allclose(a.array, b.array, atol=1e-5)


def _node_factories(top_k: int, **params):
    """detector_node with the CLI's settings: top_k, and no object segmentation (the CLI has none; labelling only
    fills object_id, which test_targets checks)."""
    from rclpy.node import Node
    from grasp6d_ros.detector_node import DetectorNode
    params = {"segment_objects": False, **params}
    overrides = [Parameter("top_k", value=top_k)] + [Parameter(k, value=v) for k, v in params.items()]
    return (lambda ctx: DetectorNode(context=ctx, parameter_overrides=overrides),  # noqa: E731
            lambda ctx: Node("pipeline_test_client", context=ctx))  # noqa: E731


def _ask(client_node, points):
    from grasp6d_ros.conversions import grasp_msgs_to_group, numpy_to_pointcloud2
    from grasp6d_ros.srv import DetectGrasps
    from ros_helpers import call_service
    client = client_node.create_client(DetectGrasps, "/detect_grasps")
    answer = call_service(client, DetectGrasps.Request(cloud=numpy_to_pointcloud2(points, frame_id="camera")),
                          timeout=120)
    assert answer.success, answer.message
    return grasp_msgs_to_group(answer.grasps.grasps), answer.message


def test_node_cli_and_sim_bench_give_the_same_grasps(scene, detector, tmp_path):
    """The same cloud and settings (top 10, a workspace box, no hand filter) through the three entry points."""
    from grasp6d_core.cli import main
    from grasp6d_core.sim.bench import pipeline_detector
    from ros_helpers import spinning
    folder, points = scene
    settings = PipelineSettings(top_k=10, box=BOX)
    reference = GraspPipeline(detector, settings).run(points)
    assert 0 < len(reference.grasps) <= 10 and reference.outside_workspace > 1000   # the box really crops

    dump = tmp_path / "dump"
    assert main(["detect", "--input", str(folder), "--out", str(dump), "--views", "0", "--no-png",
                 "--top-k", "10", "--workspace=" + ",".join(map(str, BOX))]) == 0
    cli = GraspGroup.load_npy(dump / "scene_0000" / "realsense" / "0000.npy")

    sim = pipeline_detector(detector, settings)([(points, np.eye(4))])   # world frame = camera frame here

    with spinning(*_node_factories(10, use_workspace=True, workspace=list(BOX))) as (_, client_node):
        node, message = _ask(client_node, points)
    assert f"dropped {reference.outside_workspace} outside the workspace" in message
    for grasps in (cli, sim, node):
        assert _same(grasps, reference.grasps)


def test_far_outliers_are_dropped_counted_and_change_nothing(scene, detector, clean):
    _, points = scene
    pipeline = GraspPipeline(detector, PipelineSettings(top_k=10))
    for far in OUTLIERS:
        result = pipeline.run(np.vstack([points, [[far, 0.0, 0.0]]]).astype(np.float32))
        assert result.outside_workspace == 1 and _same(result.grasps, clean), far
        assert result.summary() == (f"dropped 1 outside the workspace (max_range 2 m from the sensor) "
                                    f"of {len(points) + 1} points")
        # The model alone refuses what its voxel grid cannot hold (it never crops on its own).
        with pytest.raises(ValueError, match=r"points: coordinates must be finite and within ±163.8 m of the sensor"):
            detector.detect(np.vstack([points, [[far, 0.0, 0.0]]]).astype(np.float32))


def test_detector_node_counts_dropped_outliers_over_dds(scene, clean):
    """Over DDS: the far points are dropped, counted in the answer's message, and the grasps are the ones of the
    cloud without them (the pipeline's own answer, checked above to ignore each outlier)."""
    from ros_helpers import spinning
    _, points = scene
    noisy = np.vstack([points, [[far, -far, far] for far in OUTLIERS]]).astype(np.float32)
    with spinning(*_node_factories(10)) as (_, client_node):
        grasps, message = _ask(client_node, noisy)
    assert message == (f"{len(grasps)} grasps in 'camera'; dropped 3 outside the workspace (max_range 2 m from "
                       f"the sensor) of {len(noisy)} points")
    assert _same(grasps, clean)


@pytest.mark.parametrize("bad", [3e38, np.inf, -np.inf, np.nan, 1e6])
def test_nearest_to_voxel_centres_refuses_coordinates_its_keys_cannot_hold(bad):
    from grasp6d_core.sensing.tsdf import nearest_to_voxel_centres
    points = np.random.default_rng(0).uniform(-0.1, 0.1, (50, 3)).astype(np.float32)
    points[7] = [bad, 0.0, 0.0]
    with pytest.raises(ValueError, match="coordinates must be finite and within"):
        nearest_to_voxel_centres(points, 0.005)
    assert len(nearest_to_voxel_centres(np.zeros((0, 3)), 0.005)) == 0


@pytest.mark.parametrize("bad", [1e3, 1e6, 3e38, np.inf, np.nan])
def test_voxelize_refuses_a_grid_spconv_cannot_hold(bad):
    from grasp6d_core.model.backbone import voxelize
    points = torch.rand(1, 64, 3) * 0.1
    points[0, 5, 2] = bad
    with pytest.raises(ValueError, match="points: "):
        voxelize(points, torch.ones(1, 64, 1), 0.005)
    assert len(voxelize(points[:, :5], torch.ones(1, 5, 1), 0.005).coords) >= 1


def test_settings_name_the_field_and_the_limit():
    for fields, text in [({"hand_filter": "robotiq"}, "hand_filter='robotiq' is not one of '' | panda"),
                         ({"hand": "robotiq"}, "hand: hand 'robotiq' is not a preset"),
                         ({"box": (1, 0, 0, 1, 0, 1)}, "box must be 6 finite numbers"),
                         ({"max_range": -1.0}, "max_range must be a finite distance"),
                         ({"top_k": 0}, "top_k, min_points and hand_candidates must be >= 1"),
                         ({"min_score": float("nan")}, "min_score must be finite"),
                         ({"scoring": "vote"}, "scoring='vote' is not one of network | consensus")]:
        with pytest.raises(PipelineError, match=text.replace("|", r"\|")):
            PipelineSettings(**fields)


def test_detect_cli_refuses_a_malformed_workspace(capsys, scene, tmp_path):
    from grasp6d_core.cli import main
    folder, _ = scene
    assert main(["detect", "--input", str(folder), "--out", str(tmp_path), "--views", "0",
                 "--workspace", "0,1,2"]) == 2
    assert "--workspace '0,1,2': expected 6 comma-separated numbers" in capsys.readouterr().err


def test_keep_filters_and_hand_filter_apply_after_detection(scene):
    """Keep filters run after the hand filter and before min_score / top_k; with any filter the detector is asked for
    top_k x hand_candidates, so top_k counts what survives."""
    _, points = scene

    class Fixed:  # a detector with known grasps, so the policy steps are checked on their own
        def detect(self, pts, normals=None, top_k=50, collision=True, refine=False, nms=None, hand=None,
                   scoring="network"):
            self.asked = top_k
            x = np.linspace(-0.05, 0.05, 6)
            return GraspGroup.from_components(np.linspace(0.9, 0.4, 6), np.full(6, 0.05), np.full(6, 0.02),
                                              np.repeat(np.eye(3)[None], 6, 0), np.c_[x, x * 0, x * 0 + 0.6])

    fixed = Fixed()
    left = lambda pts, grasps: grasps.translations[:, 0] < 0  # noqa: E731
    result = GraspPipeline(fixed, PipelineSettings(top_k=2, keep=(left,), min_score=0.7)).run(points)
    assert fixed.asked == 2 * 20 and np.allclose(result.grasps.scores, [0.9, 0.8])
    result = GraspPipeline(fixed, PipelineSettings(top_k=2, keep=(left,))).run(points, min_score=0.85)
    assert np.allclose(result.grasps.scores, [0.9])
    GraspPipeline(fixed, PipelineSettings(top_k=2, hand_filter="panda", hand_candidates=3)).run(
        points, hand_scene=np.zeros((1, 3)))
    assert fixed.asked == 6
    GraspPipeline(fixed, PipelineSettings(top_k=2)).run(points)
    assert fixed.asked == 2


def test_readme_pipeline_example_matches_the_documented_cli(scene, tmp_path):
    """README's GraspPipeline example (top 10, Franka hand filter) and its `grasp6d detect --workspace none
    --hand-filter panda --top-k 10` line give the same grasps on the same image."""
    import re
    from pathlib import Path
    from grasp6d_core.cli import main
    folder, points = scene
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("## Architecture: one detection pipeline"):]
    scope = {"points": points}
    exec(re.search(r"```python\n(.*?)```", section, re.S).group(1), scope)
    result = scope["result"]
    assert 0 < len(result.grasps) <= 10 and result.summary() == ""
    assert "--workspace none --hand-filter panda --top-k 10" in text
    assert main(["detect", "--input", str(folder), "--out", str(tmp_path), "--views", "0", "--no-png",
                 "--workspace", "none", "--hand-filter", "panda", "--top-k", "10"]) == 0
    assert _same(GraspGroup.load_npy(tmp_path / "scene_0000" / "realsense" / "0000.npy"), result.grasps)


def test_sim_bench_refuses_a_bad_pipeline_setting(capsys):
    from grasp6d_core.cli import main
    assert main(["sim-bench", "--detector", "antipodal", "--max-range", "-1"]) == 2
    assert "max_range must be a finite distance > 0 m" in capsys.readouterr().err


def test_detect_cli_hand_drops_grasps_wider_than_the_gripper(capsys, scene, detector, clean, tmp_path):
    """README's `grasp6d detect ... --hand robotiq_2f_85` line gives the pipeline's answer with that hand (every
    grasp within its 0.085 m opening); a hand YAML with a narrower opening drops the wider grasps; an unknown hand
    is one line naming the value."""
    from pathlib import Path
    from grasp6d_core.cli import main
    folder, points = scene
    assert "--workspace none --hand robotiq_2f_85 --top-k 10" in (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert main(["detect", "--input", str(folder), "--out", str(tmp_path), "--views", "0", "--no-png",
                 "--workspace", "none", "--hand", "robotiq_2f_85", "--top-k", "10"]) == 0
    cli = GraspGroup.load_npy(tmp_path / "scene_0000" / "realsense" / "0000.npy")
    reference = GraspPipeline(detector, PipelineSettings(top_k=10, hand="robotiq_2f_85")).run(points)
    assert len(cli) and cli.widths.max() <= 0.085 + 1e-6 and _same(cli, reference.grasps)
    # a hand YAML opening 5 cm: this image's clean top 10 hold wider grasps, which must go
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text((Path(__file__).resolve().parents[1] / "config" / "hands" / "example_hand.yaml").read_text()
                      .replace("max_opening: 0.07", "max_opening: 0.05"))
    assert clean.widths.max() > 0.05
    assert main(["detect", "--input", str(folder), "--out", str(tmp_path / "narrow"), "--views", "0", "--no-png",
                 "--workspace", "none", "--hand", str(narrow), "--top-k", "10"]) == 0
    assert GraspGroup.load_npy(tmp_path / "narrow" / "scene_0000" / "realsense" / "0000.npy").widths.max() <= 0.05 + 1e-6
    assert main(["detect", "--input", str(folder), "--out", str(tmp_path), "--views", "0", "--hand", "robotiq"]) == 2
    assert "hand: hand 'robotiq' is not a preset" in capsys.readouterr().err


def test_cli_pipeline_flags_carry_the_scoring_and_refuse_an_unknown_one():
    """``grasp6d detect`` and ``sim-bench`` share these flags; --scoring reaches PipelineSettings."""
    import argparse
    from grasp6d_core.commands._pipeline_flags import add_pipeline_arguments, settings_from_args
    parser = argparse.ArgumentParser()
    add_pipeline_arguments(parser)
    assert settings_from_args(parser.parse_args([])).scoring == PipelineSettings().scoring
    assert settings_from_args(parser.parse_args(["--scoring", "consensus"])).scoring == "consensus"
    with pytest.raises(SystemExit):
        parser.parse_args(["--scoring", "vote"])
