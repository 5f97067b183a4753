"""``grasp6d train``: train the grasp network on a GraspNet-format root (real or synthetic)."""
from __future__ import annotations

import argparse

from grasp6d_core.commands._paths import output_dir
from grasp6d_core.model.train_config import CAMERAS, DEVICES, TrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=TrainConfig.config, help="model config name or YAML path (cpu|paper|baseline|gsnet)")
    parser.add_argument("--data", required=True, nargs="+", metavar="ROOT",
                        help="GraspNet-format root(s) (scenes/, grasp_label/, models/...); several roots, e.g. one "
                             "per generator seed, are read as one training set")
    parser.add_argument("--camera", default=TrainConfig.camera, choices=CAMERAS)
    parser.add_argument("--out", required=True, help="run folder: checkpoints, TensorBoard events, log.jsonl")
    parser.add_argument("--train-scenes", default=TrainConfig.train_scenes, help="scene ids, e.g. 0-99 (missing ones are skipped)")
    parser.add_argument("--val-scenes", default=TrainConfig.val_scenes, help="validation scene ids ('' = none)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="optimiser steps (default 1000)")
    length.add_argument("--epochs", type=float, default=None, help="passes over the training images")
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size,
                        help="clouds per optimiser step over all processes (one sparse tensor per forward)")
    parser.add_argument("--micro-batch", type=int, default=None,
                        help="clouds per forward (gradients accumulated; default: the whole per-process batch)")
    parser.add_argument("--workers", type=int, default=TrainConfig.workers, help="DataLoader worker processes (0 = load in the loop)")
    parser.add_argument("--prefetch", type=int, default=TrainConfig.prefetch, help="batches each worker loads ahead")
    parser.add_argument("--cache-dir", default=None,
                        help="preprocessing cache folder (default DATA/.grasp6d_cache; filled on first use)")
    parser.add_argument("--no-cache", action="store_true", help="preprocess every image from its PNGs each time")
    parser.add_argument("--no-augment", action="store_true", help="train without the loader's augmentation")
    parser.add_argument("--fused-repeats", type=int, default=TrainConfig.fused_repeats, metavar="N",
                        help="each training scene also gives N samples of all its views fused in the TSDF (the "
                             "robot's input), each its own point draw; 0 = single views only")
    parser.add_argument("--lr", type=float, default=TrainConfig.lr, help="Adam learning rate (also set on --resume)")
    parser.add_argument("--num-points", type=int, default=None, help="points per cloud (default: the config's)")
    parser.add_argument("--device", default=TrainConfig.device, choices=DEVICES)
    parser.add_argument("--threads", type=int, default=TrainConfig.threads,
                        help="torch CPU threads per process (default: the cores, split over torchrun's processes)")
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--val-every", type=int, default=TrainConfig.val_every, help="steps between validations")
    parser.add_argument("--val-images", type=int, default=TrainConfig.val_images, help="validation images per validation")
    parser.add_argument("--ckpt-every", type=int, default=TrainConfig.ckpt_every, help="steps between checkpoints (last.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt (same config required)")
    parser.add_argument("--init", default=None, metavar="CKPT",
                        help="start from these weights (same config; optimiser and step count start fresh)")
    parser.add_argument("--stage", default="network", choices=["network", "prior"],
                        help="network: the grasp network; prior: the contact-map prior network, attached to OUT/final.pt")
    parser.add_argument("--prior-images", type=int, default=TrainConfig.prior_images,
                        help="--stage prior: training images whose examples are cached (loading is the slow part)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this wall time")


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The flags as a TrainConfig (one field per flag; --no-cache / --no-augment turn cache / augment off)."""
    return TrainConfig(
        data=args.data, out=args.out, config=args.config, camera=args.camera, train_scenes=args.train_scenes,
        val_scenes=args.val_scenes, steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
        micro_batch=args.micro_batch, workers=args.workers, prefetch=args.prefetch, cache_dir=args.cache_dir,
        cache=not args.no_cache, augment=not args.no_augment, fused_repeats=args.fused_repeats, lr=args.lr, num_points=args.num_points,
        device=args.device, threads=args.threads, seed=args.seed, val_every=args.val_every,
        val_images=args.val_images, ckpt_every=args.ckpt_every, resume=args.resume, init=args.init, prior_images=args.prior_images,
        max_minutes=args.max_minutes)


def run(args: argparse.Namespace) -> int:
    """Bad paths, checkpoints and values raise OSError/ValueError: grasp6d_core.cli prints them as one line."""
    from grasp6d_core.model.train_loop import train, train_prior_stage  # torch and spconv: not for --help
    config = train_config(args)
    output_dir(args.out)
    (train_prior_stage if args.stage == "prior" else train)(config)
    return 0
