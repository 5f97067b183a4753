"""The README's Python examples run as printed (with the inputs they assume supplied)."""
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block(after_heading: str) -> str:
    text = README.read_text()
    section = text[text.index(after_heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_python_api_in_brief(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    depth = np.full((480, 640), 0.5, np.float32)
    scope = {"depth_in_metres": depth, "T_base_camera": np.eye(4)}
    exec(python_block("## Python API in brief"), scope)
    assert scope["points"].shape == (480 * 640, 3) and np.allclose(scope["points"][:, 2], 0.5)
    assert len(scope["best"]) == 1
    saved = np.load(tmp_path / "dump" / "scene_0160" / "realsense" / "0000.npy")
    assert saved.shape == (1, 17) and np.isclose(saved[0, 0], 0.9)


def test_perception_example_fuses_the_shipped_recording():
    import yaml
    from grasp6d_ros.frames import StaticTransforms
    code = python_block("## Perception").replace("config/demo/", str(README.parent / "config" / "demo") + "/")
    cfg = yaml.safe_load((README.parent / "config" / "grasp_demo.yaml").read_text())
    # The recording's camera pose, as the demo's tsdf_node gets it (world <- camera).
    chain = StaticTransforms.from_strings(cfg["cameras"]["playback"]["overrides"]["tsdf_node"]["static_transforms"])
    scope = {"T_task_camera": chain.lookup("world", "camera_depth_optical_frame")}
    exec(code, scope)
    points, normals = scope["points"], scope["normals"]
    assert 5000 < len(points) <= 20000 and np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-3)
    assert np.median(points[:, 2]) < 0.05 and (points[:, 2] > 0.02).mean() > 0.05   # a table with objects on it


def test_own_executor_backend_example(capsys):
    scope = {}
    exec(python_block("Driving another arm"), scope)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["pregrasp", "pregrasp", "approach", "close", "lift", "retreat",
                                                   "True"]
    approach = [float(v) for v in lines[2].split("[")[1].rstrip("]").split()]
    assert np.allclose(approach, [0.5, 0.0, 0.05 - 0.02 + 0.1034]) and lines[-1] == "True retreat"
