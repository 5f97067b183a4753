"""grasp6d_core.execution.planning_scene: the table box and object boxes MoveIt gets, fitted from a cloud."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from grasp6d_core.execution.planning_scene import SceneParams, fit_scene


def _box_surface(centre, size, step=0.004, yaw=0.0):
    """Points on the top and the four sides of a box standing on z=0 (what a camera above sees)."""
    sx, sy, sz = size
    xs, ys, zs = (np.arange(-s / 2, s / 2 + 1e-9, step) for s in (sx, sy, sz))
    top = np.array([[x, y, sz / 2] for x in xs for y in ys])
    sides = [np.array([[x, s * sy / 2, z] for x in xs for z in zs]) for s in (-1, 1)]
    sides += [np.array([[s * sx / 2, y, z] for y in ys for z in zs]) for s in (-1, 1)]
    points = np.concatenate([top, *sides])
    return points @ Rotation.from_euler("z", yaw).as_matrix().T + np.asarray(centre)


def _table(size=(0.6, 0.4), step=0.005):
    xs, ys = np.arange(-size[0] / 2, size[0] / 2, step), np.arange(-size[1] / 2, size[1] / 2, step)
    return np.array([[x, y, 0.0] for x in xs for y in ys])


def _scene():
    cube = _box_surface([0.1, 0.05, 0.025], [0.05, 0.05, 0.05], yaw=0.5)
    tall = _box_surface([-0.12, -0.08, 0.06], [0.04, 0.08, 0.12])
    return np.concatenate([_table(), cube, tall]), cube, tall


def test_table_and_objects_become_boxes_standing_on_the_table():
    points, cube, tall = _scene()
    scene = fit_scene(points)
    assert scene.table is not None
    np.testing.assert_allclose(abs(scene.table.rotation[:, 2] @ [0, 0, 1]), 1.0, atol=1e-3)
    top = scene.table.centre[2] + scene.table.size[2] / 2
    assert top == pytest.approx(0.0, abs=0.003) and scene.table.size[2] == pytest.approx(0.02)
    assert scene.table.size[0] == pytest.approx(0.6, abs=0.02) and scene.table.size[1] == pytest.approx(0.4, abs=0.02)
    assert len(scene.objects) == 2
    tall_box, cube_box = scene.objects           # largest cluster first
    for box, surface, height in ((cube_box, cube, 0.05), (tall_box, tall, 0.12)):
        assert box.contains(surface, margin=1e-4).all()
        assert box.centre[2] - box.size[2] / 2 == pytest.approx(0.0, abs=0.003)     # down to the table top
        assert box.size[2] == pytest.approx(height + 0.005, abs=0.006)               # + padding on the top
    # the cube's footprint follows its 0.5 rad yaw: an axis-aligned box would be 0.068 m wide, not 0.05 + padding
    assert sorted(cube_box.size[:2]) == pytest.approx([0.06, 0.06], abs=0.006)
    assert not cube_box.contains(tall).any() and not tall_box.contains(cube).any()


def test_target_is_the_object_the_grasp_point_lies_on():
    points, cube, _ = _scene()
    scene = fit_scene(points)
    assert scene.target_index([0.1, 0.05, 0.03], max_distance=0.03) == 1
    assert scene.target_index([-0.12, -0.08, 0.1], max_distance=0.03) == 0
    assert scene.target_index([0.25, 0.15, 0.05], max_distance=0.03) is None   # empty table: no target


def test_tilted_table_and_no_table():
    points, cube, _ = _scene()
    tilt = Rotation.from_euler("x", 0.3).as_matrix()
    scene = fit_scene(points @ tilt.T, up=tilt @ [0, 0, 1.0])
    np.testing.assert_allclose(scene.table.rotation[:, 2], tilt @ [0, 0, 1.0], atol=2e-3)
    assert len(scene.objects) == 2 and scene.objects[1].contains(cube @ tilt.T, margin=1e-4).all()
    objects_only = fit_scene(cube, SceneParams(min_table_fraction=0.9))   # no plane holds 90 % of a box surface
    assert objects_only.table is None and len(objects_only.objects) == 1
    assert fit_scene(np.full((5, 3), np.nan)).table is None
    with pytest.raises(ValueError, match="cluster_distance"):
        fit_scene(points, SceneParams(cluster_distance=0.0))
