"""Training at scale on a tiny generated root: the cached preprocessing (`grasp6d cache`, invalidation, corrupt
files), batched losses (B clouds = the mean of their batch-of-one losses), two torchrun processes against one
process on the same global batch, resume across world sizes and after a kill, checkpoints that load with
``weights_only=True``."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from grasp6d_core.cli import main
from test_model_cli import tiny_config  # noqa: F401  (fixture: the cpu config at 3000 points, 64 seeds)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_train")
    # 4 views: a batch of 4 (the killed-run test) needs 4 images
    assert main(["synth", "--out", str(root), "--split", "train", "--scenes", "1", "--views", "4", "--seed", "5",
                 "--objects", "2-2", "--object-ids", "0,1", "--label-points", "128", "--no-text-sdf",
                 "--quiet"]) == 0
    return root


def _rows(out: Path, split: str) -> list[dict]:
    return [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if r["split"] == split]


def _env() -> dict:
    # The worktree's sources first (not an installed copy); one torch thread per process on the shared cores.
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}


def test_cache_command_reuses_rebuilds_and_invalidates(tiny_root, tiny_config, tmp_path, capsys, monkeypatch):
    from grasp6d_core.data.loader import GraspNetDataset
    cache = tmp_path / "cache"
    args = ["cache", "--data", str(tiny_root), "--scenes", "0", "--cache-dir", str(cache), "--config", str(tiny_config)]
    assert main(args) == 0
    assert "4 images built, 0 already cached" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 images built, 4 already cached" in capsys.readouterr().out
    ds = GraspNetDataset(tiny_root, scenes=[0], num_points=3000, cache=cache)
    fresh = ds.preprocess(*ds.items[0])
    cached = ds.light_item(0)
    for key in ("points", "normals", "point_obj", "objectness", "graspness", "poses", "object_ids", "table_normal"):
        np.testing.assert_array_equal(cached[key], fresh[key])
    # A truncated file is never trained on: warned about, rebuilt from the images.
    path = ds.cache.path(*ds.items[0])
    path.write_bytes(path.read_bytes()[:500])
    with pytest.warns(UserWarning, match="corrupt"):
        rebuilt = ds.light_item(0)
    np.testing.assert_array_equal(rebuilt["points"], fresh["points"])
    assert ds.cache.load(*ds.items[0]) is not None
    # Augmented batches depend on (seed, epoch, image) only: the same with or without loader workers.
    from grasp6d_core.model.train_loop import batch_loader
    aug = GraspNetDataset(tiny_root, scenes=[0], num_points=3000, cache=cache, augment=True)
    aug.set_epoch(3)
    inline, workers = (next(iter(batch_loader(aug, 2, [1, 0], w))) for w in (0, 1))
    for a, b in zip(inline, workers, strict=True):
        np.testing.assert_array_equal(a["points"], b["points"])
    assert not np.array_equal(inline[1]["points"], cached["points"])      # augmented, not the cached cloud
    # Another recipe (points per cloud) or code version selects another folder.
    assert GraspNetDataset(tiny_root, scenes=[0], num_points=2000, cache=cache).cache.dir != ds.cache.dir
    import grasp6d_core
    monkeypatch.setattr(grasp6d_core, "__version__", "0.0.0-other")
    assert GraspNetDataset(tiny_root, scenes=[0], num_points=3000, cache=cache).cache.dir != ds.cache.dir


def test_batched_loss_is_the_mean_of_single_cloud_losses(tiny_root, tiny_config):
    """B clouds in one sparse tensor give each loss term as the mean of the clouds' batch-of-one terms (eval-mode
    batch norm, so the clouds do not share statistics)."""
    from grasp6d_core.data.loader import GraspNetDataset
    from grasp6d_core.model.config import load_config
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.trainer import collate, forward_and_loss
    torch.manual_seed(0)
    ds = GraspNetDataset(tiny_root, scenes=[0], num_points=3000)
    a, b = ds[0], ds[1]
    net = GraspNet6D(load_config(tiny_config)).eval()
    terms = lambda samples: forward_and_loss(net, collate(samples), np.random.default_rng(0), measure_r=True)[1]
    both, one_a, one_b = terms([a, b]), terms([a]), terms([b])
    assert set(both) == set(one_a) >= {"Lo", "Lgs", "La", "Ls", "Lr", "Lw", "R"}
    for key in both:
        assert both[key] == pytest.approx((one_a[key] + one_b[key]) / 2, rel=1e-4, abs=1e-6), key
    assert abs(one_a["La"] - one_b["La"]) > 1e-4     # the two clouds differ, so the mean is a real check


def _amax_depth_pool(h, inside, x, depths):
    """The per-depth pooling depth_pool replaced: masked amax, whose backward splits the gradient over ties."""
    return torch.stack([(h * (inside & (x <= depth))[..., None]).amax(dim=2) for depth in depths], dim=2)


def test_depth_pool_gives_the_loss_and_gradients_of_the_amax_pooling(tiny_root, tiny_config, monkeypatch):
    """The training step's pooling (winners found without grad, one gather) against the masked amax it replaced,
    on one fixed batch of two clouds: the same loss terms and the same gradient for every parameter."""
    from grasp6d_core.data.loader import GraspNetDataset
    from grasp6d_core.model import grouping
    from grasp6d_core.model.config import load_config
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.trainer import collate, forward_and_loss
    data = GraspNetDataset(tiny_root, scenes=[0], num_points=3000)
    batch = collate([data[0], data[1]])
    torch.manual_seed(0)
    net = GraspNet6D(load_config(tiny_config))
    state = {k: v.clone() for k, v in net.state_dict().items()}

    def loss_and_grads():
        net.load_state_dict(state)   # batch-norm running statistics restart too
        net.zero_grad(set_to_none=True)
        loss, terms, _ = forward_and_loss(net.train(), batch, np.random.default_rng(0))
        loss.backward()
        return terms, {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}

    terms, grads = loss_and_grads()
    depth_pool = grouping.depth_pool
    monkeypatch.setattr(grouping, "depth_pool", _amax_depth_pool)
    ref_terms, ref_grads = loss_and_grads()
    assert terms == pytest.approx(ref_terms, rel=1e-5, abs=1e-7)
    assert grads.keys() == ref_grads.keys() and any(n.startswith("grouping.fc2") for n in grads)
    for name, g in grads.items():
        torch.testing.assert_close(g, ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)
    # Values are bitwise the reference's, with autograd (gathered winners) and without (inference).
    h, inside = torch.rand(2, 300, 16, 4), torch.rand(2, 300, 16) > 0.3   # 600 seeds: more than one block
    x = torch.rand(2, 300, 16) * 0.1 - 0.02        # the first bin is often empty
    depths = torch.tensor([0.01, 0.02, 0.03, 0.04])
    expected = _amax_depth_pool(h, inside, x, depths)
    assert torch.equal(depth_pool(h.requires_grad_(), inside, x, depths).detach(), expected)
    with torch.no_grad():
        assert torch.equal(depth_pool(h, inside, x, depths), expected)


def test_torchrun_two_processes_match_one_process(tiny_root, tiny_config, tmp_path):
    """Two CPU ranks (gloo) on a global batch of 2 hold bitwise-identical weights and log the loss a single
    process computes for the same global batch (--micro-batch 1: batch-norm statistics per cloud, as each rank
    has). The run then resumes in one process: --resume works across world sizes."""
    common = ["--config", str(tiny_config), "--data", str(tiny_root), "--train-scenes", "0", "--val-scenes", "",
              "--batch-size", "2", "--ckpt-every", "1", "--threads", "1", "--workers", "0",
              "--cache-dir", str(tmp_path / "cache"), "--steps"]
    torchrun = Path(sys.executable).parent / "torchrun"
    ddp = tmp_path / "ddp"
    t0 = time.perf_counter()
    done = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "grasp6d_core.cli", "train",
                           "--out", str(ddp)] + common + ["2"], env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.perf_counter() - t0 < 60
    replicas = _rows(ddp, "replicas")
    assert [r["step"] for r in replicas] == [1, 2] and all(len(set(r["sha256"])) == 1 and len(r["sha256"]) == 2
                                                          for r in replicas)
    single = tmp_path / "single"
    assert main(["train", "--out", str(single), "--micro-batch", "1"] + common + ["2"]) == 0
    for d, s in zip(_rows(ddp, "train"), _rows(single, "train"), strict=True):
        assert d["loss"] == pytest.approx(s["loss"], rel=1e-4)
        assert d["Lgs"] == pytest.approx(s["Lgs"], rel=1e-4)
    w_ddp = torch.load(ddp / "final.pt", weights_only=True)["model"]
    w_one = torch.load(single / "final.pt", weights_only=True)["model"]
    # Parameters, not batch-norm buffers: running statistics follow each process's own forwards.
    params = [k for k in w_one if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert max(float((w_ddp[k] - w_one[k]).abs().max()) for k in params) < 1e-3
    # Resume the 2-process run in one process (world size 2 -> 1): step 3 continues the same data order.
    assert main(["train", "--out", str(ddp), "--resume"] + common + ["3"]) == 0
    assert [r["step"] for r in _rows(ddp, "train")] == [1, 2, 3]
    assert torch.load(ddp / "last.pt", weights_only=True)["extra"]["world_size"] == 1


def test_killed_run_resumes_from_its_last_checkpoint(tiny_root, tiny_config, tmp_path):
    """A run with batch 4, loader workers and a checkpoint every 2 steps is killed (SIGKILL) mid-run: it has lost
    less than one checkpoint interval, and the resumed run continues the same data order — its steps log the
    losses an uninterrupted run logs."""
    every = 2
    common = ["--config", str(tiny_config), "--data", str(tiny_root), "--train-scenes", "0", "--val-scenes", "",
              "--batch-size", "4", "--ckpt-every", str(every), "--threads", "1", "--workers", "1",
              "--cache-dir", str(tmp_path / "cache")]
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "grasp6d_core.cli", "train", "--steps", "50", "--out", str(out)]
                            + common, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)   # its own group: the kill also takes its loader worker
    logged = lambda: [r["step"] for r in _rows(out, "train")] if (out / "log.jsonl").is_file() else []
    try:
        deadline = time.time() + 120
        while len(logged()) < 2 * every + 1 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)   # a worker left behind kept sleeping after the test
        proc.wait()
    done = max(logged(), default=0)           # the log is flushed every step
    saved = int(torch.load(out / "last.pt", weights_only=True)["step"])  # checkpoints hold plain types only
    assert 2 * every <= done < 50 and 0 <= done - saved < every
    assert main(["train", "--steps", str(saved + every), "--resume", "--out", str(out)] + common) == 0
    # Rows logged after the last checkpoint of the killed run are dropped, so every step appears once.
    assert logged() == list(range(1, saved + every + 1))
    straight = tmp_path / "straight"
    assert main(["train", "--steps", str(saved + every), "--out", str(straight)] + common) == 0
    for resumed, uninterrupted in zip(_rows(out, "train")[saved:], _rows(straight, "train")[saved:], strict=True):
        assert resumed["loss"] == pytest.approx(uninterrupted["loss"], rel=1e-5)


def test_bench_train_reports_both_paths_on_the_same_images(tiny_root, tiny_config, capsys):
    """The README's `grasp6d bench train --json` on a tiny root (the speed target is checked on the full config
    by running the bench, not here): the rates of the new path, of the baseline on its own 2 threads and on the
    new path's 1, their ratios, peak RSS, load and the settings."""
    assert main(["bench", "train", "--json", "--data", str(tiny_root), "--config", str(tiny_config), "--samples", "2",
                 "--rounds", "1", "--batch-size", "2", "--workers", "0", "--threads", "1"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["speedup"] == pytest.approx(figures["samples_per_s"] / figures["baseline_samples_per_s"], rel=0.02)
    assert figures["speedup_same_threads"] == pytest.approx(
        figures["samples_per_s"] / figures["baseline_same_threads_samples_per_s"], rel=0.02)
    assert sorted(figures["per_round"]) == ["baseline", "baseline_same_threads", "new"]
    assert all(len(rates) == 1 for rates in figures["per_round"].values()) and len(figures["load_average"]) == 2
    assert figures["peak_rss_mb"] > 100 and figures["settings"]["images"] == 2
    assert figures["settings"]["batch_size"] == 2 and figures["settings"]["num_points"] == 3000
    assert (figures["settings"]["threads"], figures["settings"]["baseline_threads"]) == (1, 2)


def test_amp_config_is_ignored_on_cpu_with_a_log_line(tiny_root, tiny_config, tmp_path, capsys):
    import yaml
    cfg = yaml.safe_load(tiny_config.read_text())
    cfg["amp"] = True
    (tmp_path / "amp.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(tmp_path / "amp.yaml"), "--data", str(tiny_root), "--out", str(tmp_path / "run"),
                 "--train-scenes", "0", "--val-scenes", "", "--steps", "1", "--workers", "0", "--threads", "1",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "amp: true ignored on CPU" in capsys.readouterr().err


def test_several_roots_train_as_one_set_and_init_starts_from_weights(tiny_root, tiny_config, tmp_path, capsys):
    """Roots of two generator seeds (overlapping scene ids) are one training set: each image once, its labels
    from its own root, both seeds in the checkpoint's recipe (so `grasp6d report` refuses them as development
    seeds). --init starts a run from those weights with a fresh optimiser and says so in the recipe."""
    other = tmp_path / "seed6"
    other.mkdir()
    for shared in ("models", "grasp_label"):     # objects depend only on their id
        (other / shared).symlink_to(tiny_root / shared, target_is_directory=True)
    assert main(["synth", "--out", str(other), "--split", "train", "--scenes", "1", "--views", "2", "--seed", "6",
                 "--objects", "2-2", "--object-ids", "0,1", "--label-points", "128", "--no-text-sdf", "--quiet"]) == 0
    from grasp6d_core.data.loader import GraspNetDataset
    from grasp6d_core.model.train_config import TrainConfig
    from grasp6d_core.model.train_loop import training_set
    config = TrainConfig(data=[tiny_root, other], out=tmp_path / "o", cache=False)
    both = training_set(config, [0], seed=0, num_points=3000)
    assert len(both) == 4 + 2 and [p.root for p in both.parts] == [tiny_root, other]
    second = both.light_item(4)
    alone = GraspNetDataset(other, scenes=[0], num_points=3000, seed=both.parts[1].seed)
    np.testing.assert_array_equal(second["points"], alone.light_item(0)["points"])
    assert second["root_index"] == 1 and both.light_item(0)["root_index"] == 0
    # scene 0 of each root is another scene: the collision labels come from the sample's own root
    labels = both.attach_objects(second)["objects"][0]
    np.testing.assert_array_equal(labels.collision, alone.object_labels(0, int(second["object_ids"][0])).collision)
    first = both.attach_objects(both.light_item(0))["objects"][0]
    assert first.collision.shape != labels.collision.shape or not np.array_equal(first.collision, labels.collision)

    common = ["--config", str(tiny_config), "--train-scenes", "0", "--val-scenes", "", "--workers", "0",
              "--threads", "1", "--no-cache"]
    run = tmp_path / "two_roots"
    assert main(["train", "--data", str(tiny_root), str(other), "--out", str(run), "--steps", "2"] + common) == 0
    recipe = torch.load(run / "final.pt", weights_only=True)["data_recipe"]
    assert [r["root"] for r in recipe["roots"]] == [str(tiny_root), str(other)]
    from grasp6d_core.evaluation.report import development_seeds
    assert {0, 5, 6} <= development_seeds(str(run / "final.pt"))

    tuned = tmp_path / "tuned"
    assert main(["train", "--data", str(other), "--out", str(tuned), "--steps", "1", "--lr", "1e-12",
                 "--init", str(run / "final.pt")] + common) == 0
    assert f"started from the weights of {run / 'final.pt'}" in capsys.readouterr().err
    start, after = (torch.load(p, weights_only=True) for p in (run / "final.pt", tuned / "final.pt"))
    assert after["step"] == 1 and after["data_recipe"]["init"]["step"] == 2
    # one step at lr 1e-12 from the given weights, not from scratch (batch-norm statistics move with any lr)
    weights = [n for n in start["model"] if not n.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(weights) > 10
    for name in weights:
        torch.testing.assert_close(after["model"][name], start["model"][name], atol=1e-9, rtol=0)
    assert {0, 5, 6} <= development_seeds(str(tuned / "final.pt"))
    # continued with --resume, the run still records the weights it started from
    assert main(["train", "--data", str(other), "--out", str(tuned), "--steps", "2", "--resume"] + common) == 0
    resumed = torch.load(tuned / "final.pt", weights_only=True)
    assert resumed["step"] == 2 and resumed["data_recipe"]["init"]["path"] == str(run / "final.pt")
    # the same network with other losses may start from these weights (the ablation pair), another network not
    ablation = tmp_path / "ablation"
    assert main(["train", "--data", str(other), "--out", str(ablation), "--steps", "1", "--init", str(run / "final.pt"),
                 "--config", "baseline"] + common[2:]) == 0
    ablated = torch.load(ablation / "final.pt", weights_only=True)
    assert ablated["config"]["name"] == "baseline" and ablated["data_recipe"]["init"]["config"] == "cpu"
    assert main(["train", "--data", str(other), "--out", str(tmp_path / "bad"), "--steps", "1", "--init",
                 str(run / "final.pt"), "--config", "paper", "--train-scenes", "0", "--val-scenes", ""]) == 2
    assert "was trained with config 'cpu' (another network), not 'paper'" in capsys.readouterr().err


def _docs_python_block(after_heading: str) -> str:
    import re
    text = (REPO / "docs" / "model.md").read_text()
    return re.search(r"```python\n(.*?)```", text[text.index(after_heading):], re.S).group(1)


def test_fused_repeats_train_on_the_fused_clouds_beside_the_images(tiny_root, tiny_config, tmp_path, monkeypatch):
    """--fused-repeats 2 on 1 scene of 4 views: 6 items, one step of 6 clouds trains on both fused draws (each
    fused once, then read from the cache), and the checkpoint records the setting."""
    from grasp6d_core.data.loader import FUSED_ANN, GraspNetDataset
    fused_draws = []
    original = GraspNetDataset._fused
    monkeypatch.setattr(GraspNetDataset, "_fused", lambda self, scene, draw: fused_draws.append(draw) or original(self, scene, draw))
    out = tmp_path / "fused"
    assert main(["train", "--data", str(tiny_root), "--out", str(out), "--config", str(tiny_config), "--train-scenes", "0",
                 "--val-scenes", "", "--workers", "0", "--threads", "1", "--steps", "2", "--batch-size", "6",
                 "--fused-repeats", "2", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert sorted(fused_draws) == [0, 1]      # two epochs of one step: the second read both from the cache
    assert len(list((tmp_path / "cache").rglob(f"scene_0000_{FUSED_ANN}.npz"))) == 1
    final = torch.load(out / "final.pt", weights_only=True)
    assert final["step"] == 2 and final["extra"]["fused_repeats"] == 2
    assert all(np.isfinite(r["loss"]) for r in _rows(out, "train"))


def test_docs_train_from_python_example_runs(tiny_root, tiny_config, tmp_path):
    """docs/model.md's library example, as printed, on the tiny root: two steps, then a resumed third."""
    out = tmp_path / "runs" / "tiny"
    code = (_docs_python_block("### Train from Python").replace('"ROOT"', repr(str(tiny_root)))
            .replace('"runs/tiny"', repr(str(out))).replace('config="cpu"', f"config={str(tiny_config)!r}"))
    exec(code, {})
    assert [r["step"] for r in _rows(out, "train")] == [1, 2, 3]
    final = torch.load(out / "final.pt", weights_only=True)
    assert final["step"] == 3 and final["extra"]["batch_size"] == 2


def test_train_flags_map_onto_train_config_with_the_same_defaults():
    import argparse
    from grasp6d_core.commands.train import add_arguments, train_config
    from grasp6d_core.model.train_config import TrainConfig
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parse = lambda *flags: train_config(parser.parse_args(["--data", "d", "--out", "o", *flags]))
    assert parse() == TrainConfig(data="d", out="o")
    assert parse("--no-cache", "--no-augment", "--batch-size", "4", "--epochs", "2.5") == TrainConfig(
        data="d", out="o", cache=False, augment=False, batch_size=4, epochs=2.5)
    assert parse("--fused-repeats", "2") == TrainConfig(data="d", out="o", fused_repeats=2)
    assert parse("--cache-dir", "c").cache_folder(Path("d")) == Path("c")
    assert parse().cache_folder(Path("d")) == Path("d/.grasp6d_cache")


def test_default_threads_are_the_cores_split_over_the_training_processes(monkeypatch):
    """Without --threads a training process takes the cores it may run on, split between the torchrun processes
    of the machine; --threads overrides."""
    from grasp6d_core.model.train_config import TrainConfig
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    config = TrainConfig(data="d", out="o")
    assert config.threads is None and config.torch_threads() == 8
    assert config.torch_threads(processes_here=2) == 4                        # torchrun: 4 cores per process
    assert config.torch_threads(processes_here=16) == 1
    assert config.replace(threads=1).torch_threads() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert config.torch_threads() == 2                                         # this machine's 2 cores


@pytest.mark.parametrize("change, words", [
    ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
    ({"ckpt_every": 0}, "ckpt_every must be an integer >= 1, got 0"),    # was a ZeroDivisionError mid-run
    ({"workers": -1}, "workers must be an integer >= 0"),
    ({"lr": float("nan")}, "lr must be a finite number > 0"),
    ({"steps": 5, "epochs": 1.0}, "steps (5) and epochs (1.0) exclude each other"),
    ({"camera": "zed"}, "camera 'zed' is not one of realsense | kinect"),
    ({"train_scenes": "0-x"}, "train_scenes: bad id range '0-x'"),
    ({"val_scenes": [3, -1]}, "val_scenes: scene ids must be >= 0"),
    ({"out": ""}, "out: a folder is required"),
    ({"data": ["d", "e", "d"]}, "data: a root is given twice"),
    ({"init": "w.pt", "resume": True}, "init and resume exclude each other"),
    ({"fused_repeats": -1}, "fused_repeats must be an integer >= 0"),
])
def test_train_config_refuses_a_bad_value_naming_the_field(change, words):
    from grasp6d_core.errors import ConfigError, Grasp6dError
    from grasp6d_core.model.train_config import TrainConfig
    with pytest.raises(ConfigError) as caught:
        TrainConfig(**{"data": "d", "out": "o", **change})
    assert words in str(caught.value) and isinstance(caught.value, (ValueError, Grasp6dError))


def test_train_refuses_a_bad_flag_in_one_line_before_writing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path), "--out", str(out), "--ckpt-every", "0"]) == 2
    assert capsys.readouterr().err == "grasp6d train: ckpt_every must be an integer >= 1, got 0\n"
    assert not out.exists()      # refused before the run folder is made
    from grasp6d_core.model.train_loop import train
    with pytest.raises(TypeError, match="expected a TrainConfig, got Namespace"):
        import argparse
        train(argparse.Namespace(data=str(tmp_path), out=str(out), device="cpu"))
