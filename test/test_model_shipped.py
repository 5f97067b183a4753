"""The shipped weights (models/grasp6d_cpu.pt): they load with no path and give sensible grasps."""
import numpy as np


def test_shipped_checkpoint_detects_sorted_collision_free_grasps():
    from grasp6d_core.model.bench_scene import render_scene
    from grasp6d_core.model.checkpoint import SHIPPED
    from grasp6d_core.model.collision import voxel_thin
    from grasp6d_core.model.detector import COLLISION_GEOMETRY, GraspDetector
    from grasp6d_core.physics import collision_and_empty
    assert SHIPPED.is_file() and SHIPPED.stat().st_size <= 20 * 2 ** 20
    det = GraspDetector.from_checkpoint()  # no path: the shipped weights
    assert det.cfg["name"] == "cpu" and det.info["step"] > 0
    scene = render_scene(seed=11, num_objects=4, num_points=20000)
    grasps = det.detect(scene["points"], top_k=20)
    assert 5 <= len(grasps) <= 20
    assert np.all(np.diff(grasps.scores) <= 0)
    hit, empty = collision_and_empty(voxel_thin(scene["points"].astype(np.float64)), grasps.rotations,
                                     grasps.translations, grasps.widths, grasps.depths, COLLISION_GEOMETRY)
    assert not hit.any() and not empty.any()
    # Grasp centres lie on the objects, not in the air or on the table far from them.
    from grasp6d_core.data.sdf import ObjectSDF
    near = np.zeros(len(grasps), bool)
    for mesh, pose in zip(scene["meshes"], scene["poses"]):
        local = (grasps.translations - pose[:3, 3]) @ pose[:3, :3]
        near |= np.abs(ObjectSDF.from_mesh(mesh, cells=32).distance(local)) < 0.02
    assert near.mean() >= 0.8
