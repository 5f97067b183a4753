"""``grasp6d report``: a tiny fresh-seed test set (2 novel scenes of 1 object, 2 views each) generated, detected with the
shipped weights and scored in both workspaces plus the label oracle; the JSON's structure, intervals that hold
the means, the same numbers from the same seed, and the development seed refused unless --dev labels it."""
import json
import shutil

import pytest

from grasp6d_core.cli import main as cli
from grasp6d_core.evaluation.report import markdown_report

SEED = 31
TINY = ["report", "--splits", "novel", "--scenes", "2", "--views", "2", "--objects", "1-1", "--object-ids", "72",
        "--label-points", "48", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def tiny_reports(tmp_path_factory):
    """The same seed reported twice: the second time in a fresh folder (only the seed-independent objects are
    copied), so the scenes, dumps and scores are all made again."""
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    assert cli(TINY + ["--seed", str(SEED), "--out", str(first)]) == 0
    shutil.copytree(first / "objects", second / "objects")
    assert cli(TINY + ["--seed", str(SEED), "--out", str(second)]) == 0
    load = lambda folder: json.loads((folder / f"report_seed_{SEED}.json").read_text())
    return first, load(first), load(second)


def test_report_json_structure_and_intervals(tiny_reports):
    folder, report, _ = tiny_reports
    assert report["seed"] == SEED and report["development"] is False and "fresh" in report["figures"]
    assert set(report["results"]) == {"novel"}
    assert set(report["results"]["novel"]) == {"labels", "none", "oracle", "fused", "fused_oracle"}
    for scope, r in report["results"]["novel"].items():
        images = 2 if scope.startswith("fused") else 4       # fused: one input per scene
        assert r["scenes"] == 2 and r["images"] == images and list(r["per_scene"]) == ["scene_0160", "scene_0161"]
        for metric in ("AP", "AP0.4", "AP0.8"):
            low, high = r["ci95"][metric]
            assert 0.0 <= low <= r[metric] <= high <= 100.0, (scope, metric, r)
    oracle, model = report["results"]["novel"]["oracle"], report["results"]["novel"]["labels"]
    assert oracle["AP"] > 30.0 and oracle["AP"] > model["AP"]          # the labels' own grasps are the ceiling
    fused, fused_oracle = report["results"]["novel"]["fused"], report["results"]["novel"]["fused_oracle"]
    # one object per scene and <= 5 grasps per object in the fused protocol: precision@k up to k = 50 caps it low
    assert fused_oracle["AP"] > 10.0 and fused_oracle["AP"] > fused["AP"] >= 0.0
    assert oracle["ci95"]["AP"][0] < oracle["ci95"]["AP"][1]           # two scenes' APs differ: a real interval
    table = (folder / f"report_seed_{SEED}.md").read_text()
    assert "| novel | labels | 2 | 4 |" in table and "| novel | label oracle |" in table
    assert "| novel | fused input (TSDF of all views) | 2 | 2 |" in table
    assert "DEVELOPMENT" not in table


def test_report_same_seed_same_numbers(tiny_reports):
    _, first, second = tiny_reports
    assert first["results"] == second["results"]


def test_other_weights_in_the_same_folder_get_their_own_dumps(tiny_reports, tmp_path):
    """Dumps are kept per checkpoint content (and refinement): a report of other weights into a folder that holds
    the shipped weights' dumps detects again instead of scoring those."""
    import numpy as np
    import torch
    from grasp6d_core.model.checkpoint import read_checkpoint, shipped_checkpoint
    folder, shipped, _ = tiny_reports
    blob = read_checkpoint(shipped_checkpoint())
    blob["model"] = {k: v * 0.5 if v.is_floating_point() else v for k, v in blob["model"].items()}
    halved = tmp_path / "halved.pt"
    torch.save(blob, halved)
    assert cli(TINY + ["--seed", str(SEED), "--out", str(folder), "--checkpoint", str(halved),
                       "--workspace", "labels", "--inputs", "single", "--no-oracle"]) == 0
    other = json.loads((folder / f"report_seed_{SEED}.json").read_text())
    keys = shipped["settings"]["detection_key"], other["settings"]["detection_key"]
    assert keys[0] != keys[1] and other["settings"]["checkpoint"] == str(halved)
    dumps = [sorted((folder / f"seed_{SEED}" / f"dump_labels_{k}").rglob("*.npy")) for k in keys]
    assert len(dumps[0]) == len(dumps[1]) == 4
    assert not all(np.array_equal(np.load(a), np.load(b)) for a, b in zip(*dumps))
    # each checkpoint's report is also kept under its key: the shipped weights' figures are still there
    kept = [json.loads((folder / f"report_seed_{SEED}_{k}.json").read_text()) for k in keys]
    assert kept[0]["results"] == shipped["results"] and kept[1] == other
    assert (folder / f"report_seed_{SEED}_{keys[0]}.md").is_file()


def test_report_refuses_the_development_seed(tmp_path, capsys):
    assert cli(TINY + ["--seed", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--seed 0 is a development seed" in err and "--dev" in err
    assert not (tmp_path / "seed_0").exists()                         # refused before any slow work


def test_development_report_is_labelled():
    r = {"AP": 40.0, "AP0.4": 30.0, "AP0.8": 50.0, "ci95": {m: [1.0, 2.0] for m in ("AP", "AP0.4", "AP0.8")},
         "scenes": 1, "images": 2}
    report = {"seed": 0, "development": True, "figures": "development", "results": {"novel": {"labels": r}},
              "settings": {"scenes": 1, "views": 2, "camera": "realsense", "checkpoint": "shipped"}}
    assert markdown_report(report).startswith("**DEVELOPMENT FIGURES, not a test result.**")


@pytest.mark.parametrize("flag, value, message", [("--splits", "train", "train scenes are not a test"),
                                                  ("--workspace", "box", "choose from labels, none"),
                                                  ("--objects", "5-2", "MIN-MAX"),
                                                  ("--inputs", "depth", "choose from single, fused")])
def test_report_bad_values_one_line(tmp_path, capsys, flag, value, message):
    assert cli(TINY + ["--seed", "5", "--out", str(tmp_path), flag, value]) == 2
    assert message in capsys.readouterr().err


def test_report_help_lists_its_flags(capsys):
    for argv in (["--help"], ["report", "--help"]):     # argparse formats both help texts ('%' would break them)
        with pytest.raises(SystemExit) as done:
            cli(argv)
        assert done.value.code == 0
    out = capsys.readouterr().out
    assert "report" in out and "--dev" in out and "--workspace" in out


def test_refine_scoring_and_precision_flags_reach_the_settings_and_key_their_own_dumps():
    """--refine, --scoring and --precision are carried to the settings and give their dumps folders of their own;
    network scoring and float32 heads keep the key they had before there was a choice (earlier dumps stay valid)."""
    import argparse
    from grasp6d_core.commands.report import add_arguments, settings_from
    from grasp6d_core.evaluation.report import detection_key
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    plain, refined, consensus, both, bf16 = (
        settings_from(parser.parse_args(["--seed", "5", "--out", "o", "--precision", "float32", *flags]))
        for flags in (["--scoring", "network"], ["--scoring", "network", "--refine"], [], ["--refine"],
                      ["--scoring", "network", "--precision", "bfloat16"]))
    assert (plain.precision, bf16.precision) == ("float32", "bfloat16")
    assert detection_key(bf16) == detection_key(plain) + "-bf16"
    assert (plain.refine, refined.refine) == (False, True)
    assert (plain.scoring, consensus.scoring) == ("network", "consensus")    # consensus is the default
    assert detection_key(refined) == detection_key(plain) + "-refine"
    assert detection_key(consensus) == detection_key(plain) + "-consensus"
    assert detection_key(both) == detection_key(plain) + "-refine-consensus"
    assert len(detection_key(plain)) == 12    # the checkpoint digest alone
    for bad in (["--scoring", "vote"], ["--precision", "float16"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["--seed", "5", "--out", "o", *bad])
