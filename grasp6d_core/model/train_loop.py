"""The training loop behind ``grasp6d train``: tqdm bar with loss terms, TensorBoard scalars, log.jsonl,
periodic validation, checkpoints (weights + config + version + data recipe), --resume, deterministic seed."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch


def parse_ids(text: str) -> list[int]:
    from grasp6d_core.evaluation.runner import parse_range
    return parse_range(text) if text and text.strip() else []


def existing_scenes(root: Path, scenes: list[int], camera: str) -> list[int]:
    return [s for s in scenes if (root / "scenes" / f"scene_{s:04d}" / camera / "depth").is_dir()]


def data_recipe(root: Path, train_scenes: list[int], val_scenes: list[int], camera: str) -> dict:
    recipe = {"root": str(root), "camera": camera, "train_scenes": [min(train_scenes), max(train_scenes), len(train_scenes)],
              "val_scenes": val_scenes}
    # `grasp6d synth` leaves its settings per split in synth_<split>.json: the recipe that rebuilds this data.
    generator = {p.stem.removeprefix("synth_"): json.loads(p.read_text()) for p in sorted(root.glob("synth_*.json"))}
    if generator:
        recipe["generator"] = generator
    return recipe


def train(args) -> None:
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    from grasp6d_core.model.checkpoint import load_into, read_checkpoint, save_checkpoint
    from grasp6d_core.model.config import load_config
    from grasp6d_core.model.dataset import GraspSceneDataset
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.trainer import collate, train_step, validation_terms

    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda but torch sees no CUDA device")
    cfg = load_config(args.config)
    root, out = Path(args.data), Path(args.out)
    train_ids = existing_scenes(root, parse_ids(args.train_scenes), args.camera)
    val_ids = existing_scenes(root, parse_ids(args.val_scenes), args.camera)
    if not train_ids:
        raise FileNotFoundError(f"--data {root}: none of scenes {args.train_scenes} exist for camera {args.camera}")
    num_points = args.num_points or int(cfg["num_points"])
    train_set = GraspSceneDataset(root, train_ids, args.camera, num_points=num_points, seed=args.seed)
    val_set = GraspSceneDataset(root, val_ids, args.camera, num_points=num_points, seed=args.seed + 1) if val_ids else None
    model = GraspNet6D(cfg).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.steps if args.steps is not None else (
        int(np.ceil(args.epochs * len(train_set) / args.batch_size)) if args.epochs is not None else 1000)
    recipe = data_recipe(root, train_ids, val_ids, args.camera)
    start, wall_before = 0, 0.0
    if args.resume:
        blob = read_checkpoint(out / "last.pt")
        load_into(model, blob, cfg, out / "last.pt")
        if "optimizer" in blob:
            optimizer.load_state_dict(blob["optimizer"])
            for group in optimizer.param_groups:  # --lr applies on resume too: a lower rate for a final stretch
                group["lr"] = args.lr
        start, wall_before = int(blob["step"]), float(blob["extra"].get("wall_seconds", 0.0))
        rng = np.random.default_rng(args.seed + start)
    out.mkdir(parents=True, exist_ok=True)
    writer = SummaryWriter(str(out / "tb"))
    log = open(out / "log.jsonl", "a", encoding="utf-8")
    # Fixed validation images (same ones every time, so the curve is comparable).
    val_batches = []
    if val_set is not None:
        picks = np.linspace(0, len(val_set) - 1, min(args.val_images, len(val_set))).astype(int)
        val_batches = [collate([val_set[int(i)]], args.device) for i in picks]
    t0 = time.time()
    order = rng.permutation(len(train_set))
    cursor = 0
    bar = tqdm(range(start, steps), initial=start, total=steps, desc=f"train {cfg['name']}", dynamic_ncols=True)

    def checkpoint(step: int, name: str = "last.pt") -> None:
        # final.pt is for use and shipping: no optimiser state (it would triple the size); --resume reads last.pt
        save_checkpoint(out / name, model, cfg, step, recipe, optimizer if name == "last.pt" else None,
                        {"wall_seconds": wall_before + time.time() - t0, "lr": args.lr, "batch_size": args.batch_size,
                         "seed": args.seed, "num_points": num_points})

    def next_indices() -> list[int]:
        nonlocal order, cursor
        picks = []
        for _ in range(args.batch_size):
            if cursor >= len(order):
                order, cursor = rng.permutation(len(train_set)), 0
            picks.append(int(order[cursor]))
            cursor += 1
        return picks

    # Load the next batch in a thread while this step computes (PNG decode, normals, graspness).
    pool = ThreadPoolExecutor(max_workers=1)
    load = lambda idx: [train_set[i] for i in idx]
    pending = pool.submit(load, next_indices())
    step = start
    for step in bar:
        samples = pending.result()
        pending = pool.submit(load, next_indices())
        terms = train_step(model, optimizer, collate(samples, args.device), rng)
        for k, v in terms.items():
            writer.add_scalar(f"train/{k}", v, step + 1)
        log.write(json.dumps({"step": step + 1, "split": "train", "time": wall_before + time.time() - t0, **terms}) + "\n")
        bar.set_postfix({k: f"{v:.3f}" for k, v in terms.items() if k in ("loss", "Lo", "La", "Ls", "R")})
        done = step + 1
        if val_batches and (done % args.val_every == 0 or done == steps):
            val = validation_terms(model, val_batches, rng)
            for k, v in val.items():
                writer.add_scalar(f"val/{k}", v, done)
            log.write(json.dumps({"step": done, "split": "val", "time": wall_before + time.time() - t0, **val}) + "\n")
            tqdm.write(f"step {done}: val loss {val['loss']:.4f}")
        if done % args.ckpt_every == 0:
            checkpoint(done)
        log.flush()
        if args.max_minutes is not None and time.time() - t0 > 60 * args.max_minutes:
            tqdm.write(f"--max-minutes {args.max_minutes} reached at step {done}")
            break
    pool.shutdown(wait=True, cancel_futures=True)
    checkpoint(step + 1)
    checkpoint(step + 1, "final.pt")
    writer.close()
    log.close()
    from grasp6d_core.model.report import plot_curves
    plot_curves(out / "log.jsonl", out / "curves.png")
    tqdm.write(f"loss curves: {out / 'curves.png'}")


def train_prior_stage(args) -> None:
    """``--stage prior``: train the contact-map prior on the training images and attach it to OUT/final.pt
    (written standalone to OUT/prior.pt as well)."""
    from torch.utils.tensorboard import SummaryWriter

    from grasp6d_core.model.checkpoint import attach_prior, save_prior
    from grasp6d_core.model.contact_prior import train_prior
    from grasp6d_core.model.dataset import GraspSceneDataset

    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    root, out = Path(args.data), Path(args.out)
    train_ids = existing_scenes(root, parse_ids(args.train_scenes), args.camera)
    if not train_ids:
        raise FileNotFoundError(f"--data {root}: none of scenes {args.train_scenes} exist for camera {args.camera}")
    dataset = GraspSceneDataset(root, train_ids, args.camera, num_points=args.num_points or 20000, seed=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    writer = SummaryWriter(str(out / "tb_prior"))
    t0 = time.time()
    prior, curve, skill = train_prior(dataset, args.steps or 2000, rng, images=args.prior_images,
                                      log=lambda s, v: writer.add_scalar("prior/bce", v, s))
    writer.close()
    meta = {"steps": len(curve), "images": args.prior_images, "wall_seconds": time.time() - t0,
            "final_bce": float(np.mean(curve[-20:])), "held_out": skill,
            "data_recipe": data_recipe(root, train_ids, [], args.camera)}
    print(f"contact prior, held-out examples: BCE {skill['bce']:.4f} (constant map {skill['constant_bce']:.4f}, "
          f"perfect {skill['entropy']:.4f}): skill {skill['skill']:.2f}")
    save_prior(out / "prior.pt", prior.state(), meta, curve)
    final = out / "final.pt"
    if final.is_file():
        attach_prior(final, out / "prior.pt")
        print(f"contact prior attached to {final}")


def checkpoint_terms(checkpoint: str | Path, root: str | Path, scenes: list[int], camera: str = "realsense",
                     images: int = 24, seed: int = 0, num_points: int | None = None) -> dict:
    """Mean loss terms (R included for every regressing config) of a checkpoint on ``images`` images of
    ``scenes``, evenly spread: how two models compare on held-out scenes beyond AP, e.g. whether the
    one trained with R makes more physically plausible grasps."""
    from grasp6d_core.model.checkpoint import load_into, read_checkpoint
    from grasp6d_core.model.dataset import GraspSceneDataset
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.trainer import collate, validation_terms

    blob = read_checkpoint(checkpoint)
    model = GraspNet6D(blob["config"])
    load_into(model, blob, blob["config"], checkpoint)
    ids = existing_scenes(Path(root), scenes, camera)
    if not ids:
        raise FileNotFoundError(f"{root}: none of scenes {scenes} exist for camera {camera}")
    data = GraspSceneDataset(root, ids, camera, num_points=num_points or int(blob["config"]["num_points"]), seed=seed)
    picks = np.linspace(0, len(data) - 1, min(images, len(data))).astype(int)
    torch.manual_seed(seed)
    return validation_terms(model, [collate([data[int(i)]]) for i in picks], np.random.default_rng(seed))
