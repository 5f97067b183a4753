"""The fused-input protocol: a scene's views fused in the robot's TSDF volume (grasp6d_core.data.fusion), the
cloud in camera 0's frame, `grasp6d detect --fused` writing one dump per scene that `grasp6d eval --protocol fused`
scores."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from grasp6d_core.cli import main

VIEWS = 4


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fused_root")
    assert main(["synth", "--out", str(root), "--split", "novel", "--scenes", "1", "--views", str(VIEWS), "--seed", "9",
                 "--objects", "2-2", "--object-ids", "72,73", "--label-points", "96", "--no-text-sdf", "--quiet"]) == 0
    return root


def test_fused_views_land_in_camera_0s_frame(root):
    """Views 1-3 alone, fused and expressed in camera 0's frame, cover the objects camera 0 itself sees; expressed
    in another camera's frame they do not. (Objects only: the table plane looks alike from every camera of the arc.)"""
    from PIL import Image
    from grasp6d_core.data.fusion import fuse_views
    from grasp6d_core.evaluation.detect_dumps import image_points
    cam_dir = root / "scenes" / "scene_0160" / "realsense"
    seen_by_0, valid = image_points(cam_dir, 0, max_depth=1.5)
    objects_seen_by_0 = seen_by_0[np.asarray(Image.open(cam_dir / "label" / "0000.png"))[valid] > 0]
    assert len(objects_seen_by_0) > 1000

    def covered(reference: int) -> float:
        fused = fuse_views(cam_dir, range(1, VIEWS), num_points=20000, reference=reference)
        # at most the points asked for (fewer when the surface holds fewer voxels)
        assert fused.points.shape == fused.normals.shape and 5000 < len(fused.points) <= 20000
        assert fused.views == [1, 2, 3] and fused.reference == reference
        np.testing.assert_allclose(np.linalg.norm(fused.normals, axis=1), 1.0, atol=1e-3)
        return float(np.mean(cKDTree(fused.points).query(objects_seen_by_0)[0] < 0.005))

    assert covered(0) > 0.9                     # measured 0.99
    assert max(covered(1), covered(2)) < 0.5    # measured 0.27, 0.17
    with pytest.raises(ValueError, match="no views"):
        fuse_views(cam_dir, [])


def test_detect_fused_writes_one_dump_per_scene_that_eval_scores(root, tmp_path, capsys):
    dump = tmp_path / "dump"
    assert main(["detect", "--input", str(root), "--scenes", "160", "--out", str(dump), "--fused",
                 "--workspace", "none", "--threads", "1"]) == 0
    assert "wrote 1 fused-input dumps" in capsys.readouterr().out
    files = sorted(dump.rglob("*.npy"))
    assert [f.relative_to(dump).as_posix() for f in files] == ["scene_0160/realsense/0000.npy"]
    rows = np.load(files[0])
    assert rows.ndim == 2 and rows.shape[1] == 17 and len(rows) > 0
    assert (dump / "scene_0160" / "scene_0160_0000.png").stat().st_size > 10_000
    assert main(["eval", "--root", str(root), "--dump", str(dump), "--scenes", "160", "--protocol", "fused",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 1 and 0.0 <= result["AP"] <= 100.0
    # the label crop is per image: refused for the fused input, in one line, before any work
    assert main(["detect", "--input", str(root), "--out", str(tmp_path / "x"), "--fused"]) == 2
    assert "--fused: the label crop is per image" in capsys.readouterr().err
