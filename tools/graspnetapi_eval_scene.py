"""Run the original graspnetAPI evaluator on one scene of a dump; meant for graspnetAPI's own Python environment.

    VENV/bin/python tools/graspnetapi_eval_scene.py ROOT DUMP SCENE CAMERA OUT.npz

Calls ``GraspNetEval(root, camera, split="custom").eval_scene(scene, dump, return_list=True)`` unchanged
(all 256 images, as the benchmark does) and saves the accuracy tensor (256, 50, 6) plus, per image, the grasps
graspnetAPI scored (rows of the 17-column dump format, in its score order), their μ (−1 = failed) and collision
flags. Prints one JSON line {"AP", "AP0.4", "AP0.8"} in percent. Imports nothing from grasp6d: the comparison
driver (tools/compare_graspnetapi.py) runs it through a subprocess.
"""
import json
import sys

import numpy as np

# graspnetAPI's Dex-Net copy still uses the aliases numpy 1.24 removed (np.int in Sdf3D); they were plain int/float.
for _alias, _type in (("int", int), ("float", float), ("bool", bool)):
    if not hasattr(np, _alias):
        setattr(np, _alias, _type)


def main(argv: list) -> int:
    root, dump, scene, camera, out = argv[1], argv[2], int(argv[3]), argv[4], argv[5]
    from graspnetAPI import GraspNetEval
    evaluator = GraspNetEval(root=root, camera=camera, split="custom")
    acc, grasps, scores, collisions = evaluator.eval_scene(scene, dump, return_list=True)
    acc = np.asarray(acc, dtype=np.float64)
    counts = np.array([len(g) for g in grasps], dtype=int)
    flat = lambda rows, width: (np.concatenate([np.asarray(r, dtype=np.float64).reshape(-1, width) for r in rows])
                                if counts.sum() else np.zeros((0, width)))
    np.savez_compressed(out, accuracy=acc, counts=counts, grasps=flat(grasps, 17), mu=flat(scores, 1)[:, 0],
                        collision=flat(collisions, 1)[:, 0].astype(bool))
    mean = acc.mean(axis=(0, 1))
    print()
    print(json.dumps({"AP": 100 * float(mean.mean()), "AP0.4": 100 * float(mean[1]), "AP0.8": 100 * float(mean[3])}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
