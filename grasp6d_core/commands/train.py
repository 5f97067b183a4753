"""``grasp6d train``: train the grasp network on a GraspNet-format root (real or synthetic)."""
from __future__ import annotations

import argparse

HELP = "train the grasp network (configs: cpu, paper, baseline, gsnet) on a GraspNet-format dataset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="cpu", help="model config name or YAML path (cpu|paper|baseline|gsnet)")
    parser.add_argument("--data", required=True, help="GraspNet-format root (scenes/, grasp_label/, models/...)")
    parser.add_argument("--camera", default="realsense", choices=["realsense", "kinect"])
    parser.add_argument("--out", required=True, help="run folder: checkpoints, TensorBoard events, log.jsonl")
    parser.add_argument("--train-scenes", default="0-99", help="scene ids, e.g. 0-99 (missing ones are skipped)")
    parser.add_argument("--val-scenes", default="100-101", help="validation scene ids ('' = none)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="optimiser steps (default 1000)")
    length.add_argument("--epochs", type=float, default=None, help="passes over the training images")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="clouds per optimiser step over all processes (one sparse tensor per forward)")
    parser.add_argument("--micro-batch", type=int, default=None,
                        help="clouds per forward (gradients accumulated; default: the whole per-process batch)")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader worker processes (0 = load in the loop)")
    parser.add_argument("--prefetch", type=int, default=2, help="batches each worker loads ahead")
    parser.add_argument("--cache-dir", default=None,
                        help="preprocessing cache folder (default DATA/.grasp6d_cache; filled on first use)")
    parser.add_argument("--no-cache", action="store_true", help="preprocess every image from its PNGs each time")
    parser.add_argument("--no-augment", action="store_true", help="train without the loader's augmentation")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (also set on --resume)")
    parser.add_argument("--num-points", type=int, default=None, help="points per cloud (default: the config's)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (per process)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-every", type=int, default=200, help="steps between validations")
    parser.add_argument("--val-images", type=int, default=8, help="validation images per validation")
    parser.add_argument("--ckpt-every", type=int, default=200, help="steps between checkpoints (last.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt (same config required)")
    parser.add_argument("--stage", default="network", choices=["network", "prior"],
                        help="network: the grasp network; prior: the contact-map prior network, attached to OUT/final.pt")
    parser.add_argument("--prior-images", type=int, default=120,
                        help="--stage prior: training images whose examples are cached (loading is the slow part)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this wall time")


def run(args: argparse.Namespace) -> int:
    """Bad paths, checkpoints and values raise OSError/ValueError: grasp6d_core.cli prints them as one line."""
    from grasp6d_core.commands._paths import output_dir
    from grasp6d_core.model.train_loop import train, train_prior_stage
    output_dir(args.out)
    (train_prior_stage if args.stage == "prior" else train)(args)
    return 0
