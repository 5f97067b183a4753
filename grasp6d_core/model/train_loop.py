"""The training loop behind ``grasp6d train``: GraspNetDataset (augmented, cached preprocessing) through
DataLoader workers, B clouds per step in one sparse tensor, single process or DistributedDataParallel under
torchrun (rank 0 alone writes the tqdm bar, TensorBoard scalars, log.jsonl, validation and checkpoints),
resume across world sizes, a data order that depends only on (seed, step). Every setting comes in one
:class:`~grasp6d_core.model.train_config.TrainConfig`."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from grasp6d_core.model.train_config import TrainConfig, scene_ids, scenes_text


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


def run_recipe(train_set, val_set, camera: str, init: dict | None = None) -> dict:
    """The data recipe stored in checkpoints: one root's :func:`data_recipe` (as before), or ``roots`` with one
    per root; ``init`` records the weights the run started from (and their own recipe)."""
    val_by_root = {str(part.root): part.scenes for part in (val_set.parts if val_set is not None else [])}
    entries = [data_recipe(part.root, part.scenes, val_by_root.get(str(part.root), []), camera) for part in train_set.parts]
    recipe = entries[0] if len(entries) == 1 else {"camera": camera, "roots": entries}
    if init is not None:
        recipe = {**recipe, "init": init}
    return recipe


def make_sampler(dataset, rank: int, world: int, seed: int, skip: int):
    """A DistributedSampler (shuffled by seed + epoch) that skips its first ``skip`` indices once — the part of
    the epoch a resumed run has already trained on. Rank r takes global positions r, r+W, ..., so a global batch
    of B clouds (B/W per rank) holds the same images for any world size W: --resume works across world sizes."""
    from torch.utils.data import DistributedSampler

    class _Sampler(DistributedSampler):
        def __init__(self):
            super().__init__(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
            self.skip = skip

        def __iter__(self):
            indices = list(super().__iter__())[self.skip:]
            self.skip = 0
            return iter(indices)

    return _Sampler()


def _worker_init(_worker_id: int) -> None:
    # The loader's numpy/Open3D work is single-threaded by design; torch threads in workers would only
    # compete with the training process for the cores.
    torch.set_num_threads(1)


def batch_loader(dataset, batch: int, sampler, workers: int, prefetch: int = 2) -> "torch.utils.data.DataLoader":
    """Lists of ``batch`` light samples of ``dataset`` in ``sampler`` order, loaded by ``workers`` processes
    (0 = in the calling process) that each keep ``prefetch`` batches ready while the model trains."""
    return torch.utils.data.DataLoader(_LightView(dataset), batch_size=batch, sampler=sampler, collate_fn=list,
                                       num_workers=workers, worker_init_fn=_worker_init if workers else None,
                                       drop_last=True, prefetch_factor=prefetch if workers else None)


def _replica_hash(model: torch.nn.Module) -> str:
    import hashlib
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def _trim_log(path: Path, step: int) -> None:
    """Drop log rows after ``step`` (written after the checkpoint a killed run resumes from)."""
    if path.is_file():
        rows = [line for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")


def _checked(config: TrainConfig) -> TrainConfig:
    if not isinstance(config, TrainConfig):
        raise TypeError(f"expected a TrainConfig, got {type(config).__name__}")
    return config


def training_set(config: TrainConfig, selection: str | Sequence[int], seed: int, log=print, **options):
    """The scenes ``selection`` ('0-99' or ids) of every root of ``config`` as one MultiRootDataset (root k
    seeded ``seed`` + a stride, cached per root when the config caches). A root without any of them is skipped
    with a line in ``log``; FileNotFoundError when no root has one."""
    from grasp6d_core.data.loader import GraspNetDataset
    from grasp6d_core.data.multi_root import MultiRootDataset
    roots, scenes = config.roots(), scene_ids(selection, "scenes")
    found = {root: existing_scenes(root, scenes, config.camera) for root in roots}
    if not any(found.values()):
        raise FileNotFoundError(f"data {', '.join(map(str, roots))}: none of scenes {scenes_text(selection)} exist "
                                f"for camera {config.camera}")
    for root in roots:
        if not found[root]:
            log(f"data {root}: none of scenes {scenes_text(selection)} exist for camera {config.camera}; root skipped")
    return MultiRootDataset([r for r in roots if found[r]], seed, lambda root, s: GraspNetDataset(
        root, config.camera, scenes=found[root], seed=s, cache=config.cache_folder(root), **options))


def train(config: TrainConfig) -> None:
    """Train the grasp network (``grasp6d train``), in one process or as one torchrun rank."""
    from grasp6d_core.model.distributed import Distributed
    dist = Distributed.from_env(_checked(config).device)
    try:
        _train(config, dist)
    finally:
        dist.close()


def _train(settings: TrainConfig, dist) -> None:
    import itertools

    from grasp6d_core.model.checkpoint import load_into, read_checkpoint, save_checkpoint
    from grasp6d_core.model.config import load_config
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.trainer import collate, train_step, validation_terms

    torch.set_num_threads(settings.torch_threads(dist.local_world))
    torch.manual_seed(settings.seed)
    cfg = load_config(settings.config)
    out = settings.out
    batch, micro = settings.batch_size, settings.micro_batch or settings.batch_size
    if batch % dist.world:
        raise ValueError(f"batch_size {batch} must be a multiple of the number of processes ({dist.world})")
    local = batch // dist.world
    micro = min(micro, local)
    if local % micro:
        raise ValueError(f"micro_batch {micro} must divide the per-process batch {local}")
    num_points = settings.num_points or int(cfg["num_points"])
    train_set = training_set(settings, settings.train_scenes, settings.seed, dist.log, num_points=num_points,
                             augment=settings.augment, fused_repeats=settings.fused_repeats)
    val_set = training_set(settings, settings.val_scenes, settings.seed + 1, lambda _: None, num_points=num_points) \
        if any(existing_scenes(r, settings.val_ids(), settings.camera) for r in settings.roots()) else None
    if len(train_set) < batch:
        raise ValueError(f"batch_size {batch} exceeds the {len(train_set)} training images")
    device = dist.device
    model = GraspNet6D(cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    per_epoch = len(train_set) // batch
    steps = settings.steps if settings.steps is not None else (
        int(np.ceil(settings.epochs * len(train_set) / batch)) if settings.epochs is not None else 1000)
    init = None
    if settings.init is not None:
        blob = read_checkpoint(settings.init)
        load_into(model, blob, cfg, settings.init, same_config=False)
        init = {"path": str(settings.init), "step": int(blob["step"]), "config": blob["config"].get("name"),
                "data_recipe": blob.get("data_recipe")}
        dist.log(f"started from the weights of {settings.init} (its step {init['step']}); optimiser and step count "
                 f"start fresh")
    recipe = run_recipe(train_set, val_set, settings.camera, init)
    start, wall_before = 0, 0.0
    if settings.resume:
        blob = read_checkpoint(out / "last.pt")
        load_into(model, blob, cfg, out / "last.pt")
        if "optimizer" in blob:
            optimizer.load_state_dict(blob["optimizer"])
            for group in optimizer.param_groups:  # lr applies on resume too: a lower rate for a final stretch
                group["lr"] = settings.lr
        start, wall_before = int(blob["step"]), float(blob["extra"].get("wall_seconds", 0.0))
        if isinstance((blob.get("data_recipe") or {}).get("init"), dict):   # a run started with --init
            recipe = {**recipe, "init": blob["data_recipe"]["init"]}
        dist.log(f"resumed {out / 'last.pt'} at step {start} (saved by {blob['extra'].get('world_size', 1)} "
                 f"process(es), now {dist.world})")
    scaler = None
    if cfg.get("amp", False):
        if device.type == "cuda":
            scaler = torch.amp.GradScaler("cuda")
        else:
            dist.log("config amp: true ignored on CPU (mixed precision needs CUDA)")
    model = dist.wrap(model)
    net = getattr(model, "module", model)
    writer = log = bar = None
    if dist.rank == 0:
        from torch.utils.tensorboard import SummaryWriter
        from tqdm import tqdm
        out.mkdir(parents=True, exist_ok=True)
        if settings.resume:
            _trim_log(out / "log.jsonl", start)
        writer = SummaryWriter(str(out / "tb"))
        log = open(out / "log.jsonl", "a", encoding="utf-8")
        bar = tqdm(total=steps, initial=start, desc=f"train {cfg['name']}", dynamic_ncols=True)
    # Fixed validation images (same ones every time, so the curve is comparable); rank 0 validates.
    val_batches = []
    if val_set is not None and dist.rank == 0:
        picks = np.linspace(0, len(val_set) - 1, min(settings.val_images, len(val_set))).astype(int)
        val_batches = [collate([val_set[int(i)]], device) for i in picks]
    t0 = time.time()

    def checkpoint(step: int, name: str = "last.pt") -> None:
        # Every rank's weight digest goes in the log at each checkpoint: DDP replicas must stay bitwise equal.
        digests = dist.gather_strings(_replica_hash(net))
        if dist.rank != 0:
            return
        if name == "last.pt":
            log.write(json.dumps({"step": step, "split": "replicas", "sha256": digests}) + "\n")
        # final.pt is for use and shipping: no optimiser state (it would triple the size); resume reads last.pt
        save_checkpoint(out / name, net, cfg, step, recipe, optimizer if name == "last.pt" else None,
                        {"wall_seconds": wall_before + time.time() - t0, "lr": settings.lr, "batch_size": batch,
                         "seed": settings.seed, "num_points": num_points, "world_size": dist.world,
                         "augment": settings.augment, "fused_repeats": settings.fused_repeats})

    def epoch_batches(epoch: int, skip_steps: int):
        sampler = make_sampler(train_set, dist.rank, dist.world, settings.seed, skip_steps * local)
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        loader = batch_loader(train_set, local, sampler, settings.workers, settings.prefetch)
        return itertools.islice(loader, per_epoch - skip_steps)

    step = start
    while step < steps:
        epoch, within = divmod(step, per_epoch)
        for samples in epoch_batches(epoch, within):
            samples = [train_set.attach_objects(s) for s in samples]
            shards = [collate(samples[i:i + micro], device) for i in range(0, local, micro)]
            rng = np.random.default_rng([settings.seed, step, dist.rank])
            terms = dist.mean_terms(train_step(model, optimizer, shards, rng, scaler))
            step += 1
            if dist.rank == 0:
                for k, v in terms.items():
                    writer.add_scalar(f"train/{k}", v, step)
                log.write(json.dumps({"step": step, "split": "train", "time": wall_before + time.time() - t0,
                                      **terms}) + "\n")
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in terms.items() if k in ("loss", "Lo", "La", "Ls", "R")})
                if val_batches and (step % settings.val_every == 0 or step == steps):
                    val = validation_terms(net, val_batches, np.random.default_rng([settings.seed, step]))
                    for k, v in val.items():
                        writer.add_scalar(f"val/{k}", v, step)
                    log.write(json.dumps({"step": step, "split": "val", "time": wall_before + time.time() - t0,
                                          **val}) + "\n")
                    bar.write(f"step {step}: val loss {val['loss']:.4f}")
                log.flush()
            if step % settings.ckpt_every == 0 and step < steps:
                checkpoint(step)
            timed_out = settings.max_minutes is not None and time.time() - t0 > 60 * settings.max_minutes
            if dist.any(timed_out):
                dist.log(f"max_minutes {settings.max_minutes} reached at step {step}")
                steps = step
            if step >= steps:
                break
    checkpoint(step)
    checkpoint(step, "final.pt")
    if dist.rank == 0:
        bar.close()
        writer.close()
        log.close()
        from grasp6d_core.model.report import plot_curves
        plot_curves(out / "log.jsonl", out / "curves.png")
        dist.log(f"loss curves: {out / 'curves.png'}")


class _LightView(torch.utils.data.Dataset):
    """The dataset's light samples (no object labels) for DataLoader workers: labels are large and stay cached
    in the main process, which attaches them."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        return self.dataset.light_item(i)


def train_prior_stage(settings: TrainConfig) -> None:
    """``grasp6d train --stage prior``: train the contact-map prior on the training images and attach it to OUT/final.pt
    (written standalone to OUT/prior.pt as well)."""
    from torch.utils.tensorboard import SummaryWriter

    from grasp6d_core.model.checkpoint import attach_prior, save_prior
    from grasp6d_core.model.contact_prior import train_prior

    torch.set_num_threads(_checked(settings).torch_threads())
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    out = settings.out
    dataset = training_set(settings.replace(cache=False), settings.train_scenes, settings.seed,
                           num_points=settings.num_points or 20000)
    out.mkdir(parents=True, exist_ok=True)
    writer = SummaryWriter(str(out / "tb_prior"))
    t0 = time.time()
    prior, curve, skill = train_prior(dataset, settings.steps or 2000, rng, images=settings.prior_images,
                                      log=lambda s, v: writer.add_scalar("prior/bce", v, s))
    writer.close()
    meta = {"steps": len(curve), "images": settings.prior_images, "wall_seconds": time.time() - t0,
            "final_bce": float(np.mean(curve[-20:])), "held_out": skill,
            "data_recipe": run_recipe(dataset, None, settings.camera)}
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
    from grasp6d_core.data.loader import GraspNetDataset
    from grasp6d_core.model.network import GraspNet6D
    from grasp6d_core.model.trainer import collate, validation_terms

    blob = read_checkpoint(checkpoint)
    model = GraspNet6D(blob["config"])
    load_into(model, blob, blob["config"], checkpoint)
    ids = existing_scenes(Path(root), scenes, camera)
    if not ids:
        raise FileNotFoundError(f"{root}: none of scenes {scenes} exist for camera {camera}")
    data = GraspNetDataset(root, camera, scenes=ids, num_points=num_points or int(blob["config"]["num_points"]), seed=seed)
    picks = np.linspace(0, len(data) - 1, min(images, len(data))).astype(int)
    torch.manual_seed(seed)
    return validation_terms(model, [collate([data[int(i)]]) for i in picks], np.random.default_rng(seed))
