"""``grasp6d cache``: preprocess the images of a GraspNet-format root once, for ``grasp6d train``."""
from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from tqdm import tqdm

from grasp6d_core.data.loader import GraspNetDataset
from grasp6d_core.model.config import load_config
from grasp6d_core.model.train_config import scene_ids


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="GraspNet-format root")
    parser.add_argument("--camera", default="realsense", choices=["realsense", "kinect"])
    parser.add_argument("--scenes", default="0-99", help="scene ids, e.g. 0-99 (missing ones are skipped)")
    parser.add_argument("--cache-dir", default=None, help="cache folder (default DATA/.grasp6d_cache, as train)")
    parser.add_argument("--config", default="cpu", help="model config whose num_points is cached (as train)")
    parser.add_argument("--num-points", type=int, default=None, help="points per cloud (default: the config's)")
    parser.add_argument("--seed", type=int, default=0, help="the --seed train will use (it fixes the point draw)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes")


def _fill(dataset, index: int) -> bool:
    """Build image ``index``'s cache entry unless a readable one exists; True when it was built."""
    scene, ann = dataset.items[index]
    if dataset.cache.load(scene, ann) is not None:
        return False
    dataset.light_item(index)
    return True


def run(args: argparse.Namespace) -> int:
    """A missing root or file, or a bad value, raises (OSError, ValueError, the Grasp6dError family):
    grasp6d_core.cli prints it as one line and exits 2."""
    num_points = args.num_points or int(load_config(args.config)["num_points"])
    root = Path(args.data)
    dataset = GraspNetDataset(root, args.camera, scenes=scene_ids(args.scenes, "--scenes"), num_points=num_points,
                              seed=args.seed, cache=args.cache_dir or root / ".grasp6d_cache")
    indices = range(len(dataset))
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            built = list(tqdm(pool.map(partial(_fill, dataset), indices, chunksize=4), total=len(dataset)))
    else:
        built = [_fill(dataset, i) for i in tqdm(indices)]
    print(f"{dataset.cache.dir}: {sum(built)} images built, {len(built) - sum(built)} already cached")
    return 0
