"""Every `grasp6d` command answers a user's mistake with one stderr line naming the flag or file, exit 2 and
no traceback (grasp6d_core.cli turns OSError/ValueError into that line in one place)."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from grasp6d_core.cli import main

EXIT_USER_ERROR = 2


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


def _one_line(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR, (argv, code, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"grasp6d {argv[0]}: "), err
    return err


def _depth_scene(root):
    """scene_0000/realsense with one 640x480 depth image of a table 0.6 m away and a box on it."""
    cam = root / "scenes" / "scene_0000" / "realsense"
    (cam / "depth").mkdir(parents=True)
    depth = np.full((480, 640), 600, np.uint16)
    depth[200:280, 280:360] = 540
    Image.fromarray(depth).save(cam / "depth" / "0000.png")
    np.save(cam / "camK.npy", np.array([[600.0, 0, 320], [0, 600.0, 240], [0, 0, 1]]))
    return root


@pytest.mark.parametrize("argv_tail", [["--out", "{file}/under_a_file"], ["--out", "{file}"]])
def test_synth_unwritable_out(capsys, a_file, argv_tail):
    out = argv_tail[1].format(file=a_file)
    err = _one_line(capsys, ["synth", "--out", out, "--views", "1", "--quiet"])
    assert f"--out {out}: cannot write there" in err


@pytest.mark.parametrize("ids, words", [("999", "999 is not an object of split 'train' (its ids are 0-47)"),
                                        ("72", "72 is not an object of split 'train'"),   # a novel object
                                        ("0,x", "'x' is not an integer id")])
def test_synth_bad_object_ids(capsys, tmp_path, ids, words):
    err = _one_line(capsys, ["synth", "--out", str(tmp_path / "d"), "--object-ids", ids, "--views", "1", "--quiet"])
    assert "--object-ids" in err and words in err
    assert not (tmp_path / "d").exists()      # refused before anything is written


def test_synth_extra_objects_only_for_training_scenes(capsys, tmp_path):
    err = _one_line(capsys, ["synth", "--out", str(tmp_path / "d"), "--split", "novel", "--extra-objects",
                             "--views", "1", "--quiet"])
    assert "--extra-objects widens training scenes only; --split novel is a test split" in err
    assert not (tmp_path / "d").exists()


def test_synth_unknown_extra_set_is_one_line(capsys, tmp_path):
    err = _one_line(capsys, ["synth", "--out", str(tmp_path / "d"), "--extra-objects", "walls,bricks",
                             "--views", "1", "--quiet"])
    assert "--extra-objects: unknown set bricks; choose from shapes, walls" in err
    assert not (tmp_path / "d").exists()


def test_detect_unwritable_out_refused_before_the_model_runs(capsys, tmp_path, a_file):
    root = _depth_scene(tmp_path / "root")
    out = a_file / "dump"
    err = _one_line(capsys, ["detect", "--input", str(root), "--out", str(out), "--no-png"])
    assert f"--out {out}: cannot write there (Not a directory)" in err


def test_detect_bad_input_and_checkpoint(capsys, tmp_path):
    err = _one_line(capsys, ["detect", "--input", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert "--input" in err and "nowhere" in err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    err = _one_line(capsys, ["detect", "--checkpoint", str(bad), "--input", str(tmp_path), "--out", str(tmp_path / "o")])
    assert f"checkpoint {bad}: corrupt or not a torch file" in err


def test_train_and_sim_bench_unwritable_outputs(capsys, tmp_path, a_file):
    err = _one_line(capsys, ["train", "--data", str(tmp_path), "--out", str(a_file / "run"), "--steps", "1"])
    assert f"--out {a_file / 'run'}: cannot write there" in err
    err = _one_line(capsys, ["sim-bench", "--png-dir", str(a_file / "png"), "--rounds", "1", "--count", "1"])
    assert f"--png-dir {a_file / 'png'}: cannot write there" in err


def test_eval_missing_root_and_bench_bad_count(capsys, tmp_path):
    err = _one_line(capsys, ["eval", "--root", str(tmp_path / "nowhere"), "--dump", str(tmp_path)])
    assert f"--root {tmp_path / 'nowhere'}: no scenes/ folder" in err
    err = _one_line(capsys, ["bench", "eval", "--images", "0"])
    assert "images must be an integer >= 1, got 0" in err


def test_traceback_on_request(monkeypatch, a_file):
    monkeypatch.setenv("GRASP6D_TRACEBACK", "1")
    with pytest.raises(OSError, match="cannot write there"):
        main(["synth", "--out", str(a_file), "--views", "1", "--quiet"])


def test_installed_entry_point_prints_one_line(a_file):
    # The real process: what a user sees on the terminal, exit status included.
    done = subprocess.run([sys.executable, "-m", "grasp6d_core.cli", "synth", "--out", str(a_file / "x"),
                           "--object-ids", "999"], capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_USER_ERROR and done.stdout == ""
    assert done.stderr == "grasp6d synth: --object-ids: 999 is not an object of split 'train' (its ids are 0-47)\n"


def test_bench_flags_map_onto_each_benchmarks_settings_with_its_defaults():
    """Every field of a benchmark's settings is a flag of the same name (progress follows --json), so the
    mapping in commands/bench.py drops nothing and the flags' defaults are the library's."""
    import argparse
    import dataclasses
    import importlib
    from grasp6d_core.commands.bench import benchmark_modules, benchmark_settings
    assert set(benchmark_modules()) == {"detect", "eval", "train", "tsdf"}
    for name, module_path in benchmark_modules().items():
        module = importlib.import_module(module_path)
        parser = argparse.ArgumentParser()
        parser.add_argument("--json", action="store_true")
        module.add_arguments(parser)
        args = parser.parse_args(["--json"])
        fields = {f.name for f in dataclasses.fields(module.SETTINGS)} - {"progress"}
        assert fields <= set(vars(args)), (name, fields - set(vars(args)))
        settings = benchmark_settings(module.SETTINGS, args)
        expected = module.SETTINGS(progress=False) if hasattr(module.SETTINGS, "progress") else module.SETTINGS()
        assert settings == expected, name
    from grasp6d_core.benchmarks.detect import DetectBenchmark
    assert benchmark_settings(DetectBenchmark, argparse.Namespace(train_step=False, json=False)).train_step is False


@pytest.mark.parametrize("argv, words", [
    (["synth", "--out", "OUT", "--objects", "5-2"], "--objects must be MIN-MAX with 1 <= MIN <= MAX, got '5-2'"),
    (["sim-bench", "--rounds", "0"], "--rounds and --count must be >= 1, got 0 and 5"),
    (["sim-bench", "--detector", "/nonexistent.ckpt", "--rounds", "1"], "cannot load detector '/nonexistent.ckpt'"),
    (["cache", "--data", "MISSING", "--scenes", "0"], "MISSING"),
])
def test_synth_sim_bench_and_cache_raise_to_the_cli(capsys, monkeypatch, tmp_path, argv, words):
    """The commands raise (the CLI prints the one line); with GRASP6D_TRACEBACK=1 the error itself surfaces."""
    argv = [a.replace("OUT", str(tmp_path / "out")).replace("MISSING", str(tmp_path / "missing")) for a in argv]
    err = _one_line(capsys, argv)
    assert words.replace("MISSING", str(tmp_path / "missing")) in err
    monkeypatch.setenv("GRASP6D_TRACEBACK", "1")
    with pytest.raises((ValueError, OSError)):
        main(argv)
