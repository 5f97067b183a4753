"""Data engine end to end: a tiny dataset (2 objects, 1 scene, 4 views, both cameras) made by ``grasp6d synth``,
every file of the layout in docs/data.md checked, read back by GraspNetDataset and the evaluator's readers; resumability,
determinism and file-naming errors."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from grasp6d_core.cli import main as cli

# --split train is randomized by default (views, tilted table, clutter); nominal noise factors, because the surface
# checks below compare errors of about a millimetre (the noise factors are tested in test_data_randomize.py).
ARGS = ["synth", "--split", "train", "--scenes", "1", "--views", "4", "--camera", "both", "--objects", "2-2",
        "--object-ids", "0,4", "--label-points", "48", "--seed", "3", "--noise-scale", "1-1", "--quiet"]
SCENE = "scene_0000"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "root"
    # No wall-clock limit here: speed is checked by benchmarks, and a timed fixture fails on a busy machine.
    assert cli(ARGS + ["--out", str(out)]) == 0
    return out


def graspnetapi_evaluator_files(root: Path, scene: int, camera: str, views: int) -> list[Path]:
    """Every file graspnetAPI's GraspNetEval.eval_scene opens (graspnet_eval.py: get_scene_models,
    get_model_poses; eval_utils.load_dexnet_model reads the Dex-Net pair <stem>.obj + <stem>.sdf with stem
    models/XXX/textured), plus object_id_list.txt that GraspNet() reads for its named splits."""
    sdir = root / "scenes" / f"scene_{scene:04d}"
    ids = [int(v) for v in (sdir / "object_id_list.txt").read_text().split()]
    files = [sdir / "object_id_list.txt", sdir / camera / "camera_poses.npy", sdir / camera / "cam0_wrt_table.npy"]
    files += [sdir / camera / "annotations" / f"{ann:04d}.xml" for ann in range(views)]
    for oid in ids:
        files += [root / "models" / f"{oid:03d}" / name for name in ("nontextured.ply", "textured.obj", "textured.sdf")]
    return files


def test_root_has_the_files_graspnetapi_opens(root):
    import xml.etree.ElementTree as ET
    # --split train is randomized by default: this module checks that the layout and readers take such roots
    assert (root / "scenes" / SCENE / "randomization.json").is_file()
    for camera in ("realsense", "kinect"):
        missing = [str(p) for p in graspnetapi_evaluator_files(root, 0, camera, 4) if not p.is_file()]
        assert not missing, f"graspnetAPI would not find: {missing}"
    # no Dex-Net SDF under a name graspnetAPI never opens (the engine once wrote models/XXX/XXX.sdf)
    assert sorted(p.name for p in (root / "models").glob("*/*.sdf")) == ["textured.sdf", "textured.sdf"]
    # graspnetAPI's xmlReader reads children by position: obj_id, obj_name, obj_path, pos_in_world, ori_in_world
    first = ET.parse(root / "scenes" / SCENE / "realsense" / "annotations" / "0000.xml").getroot()[0]
    assert [c.tag for c in first][:5] == ["obj_id", "obj_name", "obj_path", "pos_in_world", "ori_in_world"]
    assert int(first[0].text) == 0 and len(first[4].text.split()) == 4


def test_every_design_file_with_shapes_and_dtypes(root):
    import open3d as o3d
    import scipy.io
    from PIL import Image
    from grasp6d_core.data.sdf import ObjectSDF
    sdir = root / "scenes" / SCENE
    ids = [int(v) for v in (sdir / "object_id_list.txt").read_text().split()]
    assert ids == [0, 4]
    for oid in ids:
        mdir = root / "models" / f"{oid:03d}"
        assert len(o3d.io.read_point_cloud(str(mdir / "nontextured.ply")).points) > 2000
        assert (mdir / "textured.obj").stat().st_size > 0
        sdf = ObjectSDF.load(mdir / "sdf.npz")
        assert max(sdf.values.shape) >= 128
        head = (mdir / "textured.sdf").read_text().split("\n", 3)
        assert [int(v) for v in head[0].split()] == list(sdf.values.shape)
        with np.load(root / "grasp_label" / f"{oid:03d}_labels.npz") as z:
            n = len(z["points"])
            assert z["points"].shape == (n, 3) and z["points"].dtype == np.float32
            assert z["offsets"].shape == (n, 300, 12, 4, 3) and z["scores"].shape == (n, 300, 12, 4)
            assert z["collision"].shape == (n, 300, 12, 4) and z["collision"].dtype == bool
            assert (z["scores"] > 0).any()
    with np.load(root / "collision_label" / SCENE / "collision_labels.npz") as z:
        assert len(z.files) == 2
        for i, oid in enumerate(ids):
            with np.load(root / "grasp_label" / f"{oid:03d}_labels.npz") as lab:
                assert z[f"arr_{i}"].shape == lab["scores"].shape and z[f"arr_{i}"].dtype == bool
                assert (z[f"arr_{i}"] | ~lab["collision"]).all()          # scene collisions include self ones
    for cam, fx in (("realsense", 927.17), ("kinect", 631.55)):
        cdir = sdir / cam
        assert np.load(cdir / "camK.npy")[0, 0] == pytest.approx(fx)
        poses = np.load(cdir / "camera_poses.npy")
        assert poses.shape == (4, 4, 4) and np.allclose(poses[0], np.eye(4))
        align = np.load(cdir / "cam0_wrt_table.npy")
        assert align.shape == (4, 4) and align[2, 3] > 0.3                 # camera 0 above the table
        for ann in range(4):
            depth = np.asarray(Image.open(cdir / "depth" / f"{ann:04d}.png"))
            label = np.asarray(Image.open(cdir / "label" / f"{ann:04d}.png"))
            assert depth.shape == label.shape == (720, 1280)
            assert depth.dtype == np.uint16 and label.dtype == np.uint8
            assert set(np.unique(label)) <= {0, 1, 5} and (label > 0).sum() > 500
            meta = scipy.io.loadmat(cdir / "meta" / f"{ann:04d}.mat")
            assert list(np.ravel(meta["cls_indexes"])) == [1, 5]
            assert meta["poses"].shape == (3, 4, 2) and float(np.ravel(meta["factor_depth"])[0]) == 1000.0
            assert np.allclose(meta["intrinsic_matrix"], np.load(cdir / "camK.npy"))
            xml = (cdir / "annotations" / f"{ann:04d}.xml").read_text()
            assert xml.count("<obj>") == 2 and "<ori_in_world>" in xml
            g = np.load(root / "graspness" / SCENE / cam / f"{ann:04d}.npy")
            assert g.dtype == np.float16 and g.shape == (int(((label > 0) & (depth > 0)).sum()),)
            assert 0 <= g.min() and g.max() <= 1
        # camera_poses / cam0_wrt_table / meta agree: object pose in view 3 = inv(table<-cam3) @ table<-object
        m0 = scipy.io.loadmat(cdir / "meta" / "0000.mat")["poses"][:, :, 0]
        m3 = scipy.io.loadmat(cdir / "meta" / "0003.mat")["poses"][:, :, 0]
        T0 = np.vstack([m0, [0, 0, 0, 1]])
        np.testing.assert_allclose(np.linalg.inv(poses[3]) @ T0, np.vstack([m3, [0, 0, 0, 1]]), atol=1e-6)
        table_obj = align @ T0
        assert -0.01 < table_obj[2, 3] < 0.15                               # object rests on the table


def _surface_error(sample, root):
    from grasp6d_core.data.sdf import ObjectSDF
    errs = []
    for k, T in enumerate(sample["poses"]):
        oid = [0, 4][k]
        sel = sample["point_obj"] == k
        local = (sample["points"][sel] - T[:3, 3]) @ T[:3, :3]
        errs.append(np.abs(ObjectSDF.load(root / "models" / f"{oid:03d}" / "sdf.npz").distance(local)))
    return np.median(np.concatenate(errs))


@pytest.mark.parametrize("mode", ["single", "fused"])
def test_loader_reads_it_back(root, mode):
    import torch
    from grasp6d_core.data.loader import GraspNetDataset
    ds = GraspNetDataset(root, "realsense", "train", mode=mode, num_points=4000)
    assert len(ds) == (4 if mode == "single" else 1)
    s = ds[0]
    assert s["points"].shape == (4000, 3) and s["normals"].shape == (4000, 3) and s["poses"].shape == (2, 4, 4)
    assert s["objectness"].sum() > 100 and set(np.unique(s["point_obj"])) == {-1, 0, 1}
    assert 0 <= s["graspness"].min() and s["graspness"].max() == pytest.approx(1.0)
    assert _surface_error(s, root) < 0.003        # object points lie on the posed models (poses, camK agree)
    lp = s["label_points_cam"][0]
    assert lp.shape == (len(s["objects"][0].points), 3)
    assert np.linalg.norm(lp.mean(0) - s["poses"][0][:3, 3]) < 0.05
    aug = GraspNetDataset(root, "realsense", "train", mode=mode, num_points=4000, augment=True)[0]
    assert not np.allclose(aug["points"], s["points"]) or mode == "single"
    assert _surface_error(aug, root) < 0.003      # augmentation moved poses with the points
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=1, collate_fn=list)))
    assert batch[0]["points"].shape == (4000, 3)


def test_fused_repeats_add_each_scenes_fused_clouds_beside_its_images(root, tmp_path):
    """fused_repeats=2: the scene's 4 images plus 2 fused samples (TSDF of all views), each its own point draw,
    labelled like the fused mode's sample, cached like an image and read back identical from the cache."""
    from grasp6d_core.data.loader import FUSED_ANN, GraspNetDataset
    ds = GraspNetDataset(root, "realsense", "train", num_points=4000, fused_repeats=2, cache=tmp_path / "cache")
    assert len(ds) == 6 and ds.items[4:] == [(0, FUSED_ANN), (0, FUSED_ANN + 1)]
    first, second = ds.light_item(4), ds.light_item(5)
    assert "objects" not in first and first["points"].shape == (4000, 3) and first["ann"] == FUSED_ANN
    assert not np.allclose(first["points"], second["points"])            # two draws of the same surface
    reference = GraspNetDataset(root, "realsense", "train", mode="fused", num_points=4000)[0]
    assert np.array_equal(first["points"], reference["points"])           # draw 0 is the fused mode's sample
    assert _surface_error(ds.attach_objects(first), root) < 0.003        # labels and poses match the points
    assert np.array_equal(ds.light_item(4)["points"], first["points"])    # read back from the cache
    assert len(list((tmp_path / "cache").rglob(f"scene_0000_{FUSED_ANN + 1}.npz"))) == 1
    with pytest.raises(ValueError, match="fused_repeats"):
        GraspNetDataset(root, "realsense", "train", mode="fused", fused_repeats=1)


def _label_gap(sample) -> float:
    """Median distance from an object's cloud points to its nearest label grasp point (camera frame)."""
    from scipy.spatial import cKDTree
    gaps = [cKDTree(lp).query(sample["points"][sample["point_obj"] == k])[0]
            for k, lp in enumerate(sample["label_points_cam"])]
    return float(np.median(np.concatenate(gaps)))


def test_augmentation_keeps_the_labels_on_the_points(root):
    """The table-normal rotation and point dropout move points, normals and poses together: the object points
    stay on the posed models and the label grasp points stay on the object points, in every epoch; rotating
    the points without the poses (the failure this guards against) breaks both checks."""
    from grasp6d_core.data.loader import GraspNetDataset, axis_rotation
    from grasp6d_core.data.training_labels import assign_seed_labels
    from grasp6d_core.views import fibonacci_views
    plain = GraspNetDataset(root, "realsense", "train", num_points=4000)[1]
    aug = GraspNetDataset(root, "realsense", "train", num_points=4000, augment=True)
    seeds = np.flatnonzero(plain["point_obj"] >= 0)
    valid_plain = assign_seed_labels(plain["points"][seeds], plain["point_obj"][seeds], plain["objects"],
                                     plain["poses"], fibonacci_views())["valid"].mean()
    for epoch in (0, 1):
        aug.set_epoch(epoch)
        s = aug[1]
        R = s["augmentation"][:3, :3]
        angle = np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)))
        assert 0.1 < angle <= 30.0
        np.testing.assert_allclose(R @ plain["table_normal"], plain["table_normal"], atol=1e-6)  # about the normal
        assert len(np.unique(s["points"], axis=0)) < len(s["points"])          # dropout refilled by repeats
        assert _surface_error(s, root) < _surface_error(plain, root) + 0.0005   # ~0.5 mm, as without augmentation
        assert _label_gap(s) < _label_gap(plain) + 0.001
        idx = np.flatnonzero(s["point_obj"] >= 0)
        valid = assign_seed_labels(s["points"][idx], s["point_obj"][idx], s["objects"], s["poses"],
                                   fibonacci_views())["valid"].mean()
        assert valid > valid_plain - 0.03                                      # seeds still find their labels
    # A points-only rotation by 30° about the same axis (poses and labels left behind) fails both checks.
    R = axis_rotation(plain["table_normal"], np.radians(30.0))
    centre = plain["points"][plain["point_obj"] >= 0].mean(0)
    broken = dict(plain, points=((plain["points"] - centre) @ R.T + centre).astype(np.float32))
    assert _surface_error(broken, root) > 5 * _surface_error(plain, root)
    assert _label_gap(broken) > _label_gap(plain) + 0.002


def test_evaluator_reads_it(root):
    from grasp6d_core.evaluation.dumps import oracle_grasps
    from grasp6d_core.data.scene_io import load_image_truth
    truth = load_image_truth(root, 0, "kinect", 2)
    assert list(truth.object_ids) == [0, 4] and len(truth.table_points) > 1000
    # the table box's top lies at z = 0 of the table frame: its points are below the objects' centres
    g = oracle_grasps(root, 0, "kinect", 2, per_object=5)
    assert len(g) >= 5


def test_synth_resumes_and_is_deterministic(root, tmp_path, capsys):
    from PIL import Image
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    for kind in ("scenes", "collision_label", "graspness"):
        shutil.rmtree(copy / kind / SCENE)
    (copy / ".tmp" / SCENE / "scenes").mkdir(parents=True)        # leftovers of an interrupted run
    (copy / ".tmp" / SCENE / "scenes" / "junk").write_text("x")
    before = os.stat(root / "scenes" / SCENE / "kinect" / "depth" / "0000.png").st_mtime_ns
    assert cli(ARGS + ["--out", str(root)]) == 0                      # all done: nothing rewritten
    assert "1 already done, 0 to make" in capsys.readouterr().out
    assert os.stat(root / "scenes" / SCENE / "kinect" / "depth" / "0000.png").st_mtime_ns == before
    assert cli(ARGS + ["--out", str(copy)]) == 0                      # objects kept, the scene remade
    for cam in ("realsense", "kinect"):
        for ann in (0, 3):
            a, b = (np.asarray(Image.open(r / "scenes" / SCENE / cam / "depth" / f"{ann:04d}.png")) for r in (root, copy))
            np.testing.assert_array_equal(a, b)
    assert not (copy / ".tmp" / SCENE).exists()
    assert cli([a if a != "4" else "5" for a in ARGS] + ["--out", str(root)]) == 2  # other settings: refused


def test_missing_or_corrupt_file_is_named(root, tmp_path):
    from grasp6d_core.data.loader import DataFileError, GraspNetDataset
    copy = tmp_path / "bad"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.sdf"))
    bad = copy / "grasp_label" / "004_labels.npz"
    bad.write_bytes(bad.read_bytes()[:1000])
    ds = GraspNetDataset(copy, "kinect", "train", num_points=1000)
    with pytest.raises(DataFileError, match="004_labels.npz"):
        ds[0]
    meta = copy / "scenes" / SCENE / "kinect" / "meta" / "0001.mat"
    meta.write_bytes(b"not a mat file")
    with pytest.raises(DataFileError, match="0001.mat"):
        ds[1]
    (copy / "scenes" / SCENE / "kinect" / "depth" / "0002.png").unlink()
    ds2 = GraspNetDataset(copy, "kinect", "train", num_points=1000, mode="fused")
    with pytest.raises(DataFileError, match="004_labels.npz"):
        ds2[0]


def test_older_roots_text_sdf_is_renamed_to_what_graspnetapi_opens(tmp_path):
    from grasp6d_core.data.assets import ensure_objects, migrate_text_sdfs
    old = tmp_path / "models" / "007"
    old.mkdir(parents=True)
    (old / "007.sdf").write_text("2 2 2\n")
    kept = tmp_path / "models" / "008"
    kept.mkdir()
    (kept / "008.sdf").write_text("old\n")
    (kept / "textured.sdf").write_text("new\n")
    assert migrate_text_sdfs(tmp_path) == 1
    assert (old / "textured.sdf").read_text() == "2 2 2\n" and not (old / "007.sdf").exists()
    assert (kept / "textured.sdf").read_text() == "new\n"          # never overwrites a current file
    (old / "textured.sdf").rename(old / "007.sdf")
    ensure_objects(tmp_path, [], progress=False)                    # a synth run on the root migrates it
    assert (old / "textured.sdf").is_file()


def test_two_runs_writing_the_same_object_at_once_both_finish(tmp_path, monkeypatch):
    """Reports of two seeds share one objects folder: two writers of one object must not delete each other's
    half-written files (they once shared one temporary folder, and the slower run died on a missing sdf.npz)."""
    import threading

    from grasp6d_core.data import assets
    from grasp6d_core.data.scenes import load_labels
    from grasp6d_core.data.objects import object_library

    both_halfway = threading.Barrier(2, timeout=60)
    real_surface_points = assets.surface_points

    def surface_points_after_the_other_writer_started(*args, **kwargs):
        both_halfway.wait()        # both have made their temporary folder and written the mesh and SDF
        return real_surface_points(*args, **kwargs)

    monkeypatch.setattr(assets, "surface_points", surface_points_after_the_other_writer_started)
    entry = object_library()[4]
    errors = []

    def write():
        try:
            assets.write_object(tmp_path, entry, max_points=16, text_sdf=False)
        except Exception as exc:   # reported below: an exception in a thread does not fail the test by itself
            errors.append(exc)

    writers = [threading.Thread(target=write) for _ in range(2)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert errors == []
    assert assets.object_done(tmp_path, entry.oid)
    assert len(load_labels(tmp_path, entry.oid)["points"]) > 0
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [f"{entry.oid:03d}"]   # no temporary left
    assert sorted(p.name for p in (tmp_path / "grasp_label").iterdir()) == [f"{entry.oid:03d}_labels.npz"]
