"""Analytic checks of the gripper collision model, closing-line contacts and force closure."""
import numpy as np
import pytest
import trimesh

from grasp6d_core.physics import (FRICTION_GRID, GripperGeometry, MeshSDF, closing_line_contacts,
                                  collision_and_empty, grasp_friction)
from grasp6d_core.rotations import grasp_rotation
from physics_shapes import Box, Sphere

TOP_DOWN = grasp_rotation(np.array([0.0, 0.0, -1.0]), 0.0)  # approach down, close along the frame's y


def _pinch(y_offset=0.0, width=0.08, approach=(0.0, 0.0, -1.0), angle=0.0, point=(0.0, 0.0, 0.0)):
    R = grasp_rotation(np.asarray(approach, dtype=float), angle)
    t = np.asarray(point, dtype=float) + y_offset * R[:, 1]
    return R[None], t[None], np.array([width])


def test_antipodal_pinch_across_box_closes_at_smallest_mu():
    box = Box([0.1, 0.03, 0.03])
    R, t, w = _pinch()
    assert abs(R[0][:, 1] @ [0, 1, 0]) > 0.99  # closing across the 6 cm side
    c_l, c_r, n_l, n_r, valid = closing_line_contacts(box, R, t, w)
    assert valid[0]
    np.testing.assert_allclose(sorted([c_l[0, 1], c_r[0, 1]]), [-0.03, 0.03], atol=1e-3)
    assert grasp_friction(box, R, t, w)[0] == FRICTION_GRID[0]


def test_closing_on_air_or_starting_inside_has_no_force_closure():
    box = Box([0.1, 0.03, 0.03])
    R, t, w = _pinch(point=(0.0, 0.0, 0.2))  # far above the box
    assert grasp_friction(box, R, t, w)[0] == -1
    R, t, w = _pinch(width=0.04)  # jaws start inside the 6 cm box
    assert grasp_friction(box, R, t, w)[0] == -1


def test_off_centre_sphere_needs_more_friction_and_is_monotonic():
    sphere = Sphere(0.03)
    offsets = np.array([0.0, 0.005, 0.01, 0.015, 0.02, 0.028])
    R = np.repeat(TOP_DOWN[None], len(offsets), axis=0)
    # Shift the closing line sideways (along the frame's z, perpendicular to closing and approach).
    t = offsets[:, None] * TOP_DOWN[:, 2][None]
    mu = grasp_friction(sphere, R, t, np.full(len(offsets), 0.08))
    assert mu[0] == FRICTION_GRID[0]
    # Required μ = tan(asin(off/r)): 0.5/3 -> 0.169, 1/3 -> 0.354, 0.5 -> 0.577, 2/3 -> 0.894, 0.93 -> 2.6
    np.testing.assert_allclose(mu[1:], [0.2, 0.4, 0.6, 0.9, -1])
    positive = mu[mu > 0]
    assert np.all(np.diff(positive) >= 0)  # further off-centre never needs less friction


def test_corner_grasp_of_box_needs_large_friction():
    cube = Box([0.03, 0.03, 0.03])
    diag = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    angles = np.linspace(-np.pi, np.pi, 73)
    R_all = grasp_rotation(np.tile([0.0, 0.0, -1.0], (len(angles), 1)), angles)
    R = R_all[np.argmax(R_all[:, :, 1] @ diag)][None]  # closing along the face diagonal
    assert R[0][:, 1] @ diag > 0.99
    # Offset sideways so both jaws land on faces at 45 degrees to the closing line near opposite corners.
    t = (0.012 * np.cross([0.0, 0.0, 1.0], diag))[None]
    assert grasp_friction(cube, R, t, [0.1])[0] >= 1.0 or grasp_friction(cube, R, t, [0.1])[0] == -1
    square = grasp_friction(cube, grasp_rotation(np.array([0.0, 0.0, -1.0]), 0.0)[None], t, [0.1])
    assert square[0] == FRICTION_GRID[0]  # the same point closed square to the faces needs almost none


def test_mesh_sdf_matches_analytic_box():
    mesh = trimesh.creation.box(extents=[0.2, 0.06, 0.06])
    R, t, w = _pinch()
    assert grasp_friction(MeshSDF(mesh), R, t, w)[0] == FRICTION_GRID[0]


def test_collision_empty_and_free_grasp():
    box = Box([0.1, 0.03, 0.03])
    cloud = box.surface_points()
    # Top-down grasp whose grasp point is the top face centre, fingers reaching 3 cm down around the box.
    R = np.repeat(TOP_DOWN[None], 3, axis=0)
    t = np.array([[0.0, 0.0, 0.03], [0.0, 0.0, 0.25], [0.0, 0.0, 0.03]])
    widths = np.array([0.08, 0.08, 0.04])  # third: too narrow, fingers go through the box
    collision, empty = collision_and_empty(cloud, R, t, widths, depths=np.array([0.03, 0.03, 0.03]))
    assert not collision[0] and not empty[0]
    assert not collision[1] and empty[1]  # free air
    assert collision[2]


def test_palm_collision_and_approach_path():
    box = Box([0.1, 0.03, 0.03])
    cloud = box.surface_points()
    # Grasp point 1 cm below the top face: fingers fit, but the palm (2 cm behind) sits 1 cm above... free;
    # 4 cm below the top face: the palm intersects the box.
    R = np.repeat(TOP_DOWN[None], 2, axis=0)
    t = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.045]])
    collision, _ = collision_and_empty(cloud, R, t, 0.08, 0.02)
    assert collision[0] and not collision[1]
    # A grasp from below the box (approach up) whose approach path runs through the box.
    R_up = grasp_rotation(np.array([0.0, 0.0, 1.0]), 0.0)[None]
    t_up = np.array([[0.0, 0.0, 0.065]])  # above the box, approaching upwards: the box is behind the palm
    free, _ = collision_and_empty(cloud, R_up, t_up, 0.08, 0.02)
    blocked, _ = collision_and_empty(cloud, R_up, t_up, 0.08, 0.02, GripperGeometry(approach_distance=0.05))
    assert not free[0] and blocked[0]


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="translations"):
        collision_and_empty(np.zeros((5, 3)), np.eye(3)[None].repeat(2, 0), np.zeros((3, 3)), 0.05, 0.02)


def test_closing_line_lies_depth_past_the_grasp_point():
    box = Box([0.1, 0.03, 0.03])
    R, t, w = _pinch(point=(0.0, 0.0, 0.04))  # grasp point 1 cm above the top face, approaching down
    assert grasp_friction(box, R, t, w, depths=0.0)[0] == -1
    assert grasp_friction(box, R, t, w, depths=0.02)[0] == FRICTION_GRID[0]
