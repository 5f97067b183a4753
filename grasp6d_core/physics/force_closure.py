"""Two-contact force closure with friction cones (soft fingers), as the smallest μ of a grid.

For two contacts the grasp is force-closure iff the line joining them lies inside both friction cones
(Nguyen 1988; Dex-Net's ``force_closure`` test that GraspNet-1Billion's labels use). The soft-finger torsional
friction resists spin about that line, so the cone test decides. The half-angle needed at a contact is the
angle between the inward normal and the closing line, hence μ_needed = tan(max of the two angles); the label
is the smallest grid value ≥ μ_needed (lower is better), or −1 when none in the grid suffices.
"""
from __future__ import annotations

import numpy as np

from grasp6d_core.physics.contacts import SurfaceObject, closing_line_contacts

FRICTION_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)


def required_friction(c_left: np.ndarray, c_right: np.ndarray, n_left: np.ndarray, n_right: np.ndarray,
                      unsigned: bool = False) -> np.ndarray:
    """μ (N,) each pair of contacts needs: tan of the larger angle between a finger's push and its inward normal.

    ``unsigned``: the angle to the normal's line, whichever way the normal points (Dex-Net's ``force_closure``
    with its default ``use_abs_value=True``, as graspnetAPI calls it)."""
    line = c_right - c_left
    length = np.linalg.norm(line, axis=1, keepdims=True)
    line = line / np.maximum(length, 1e-12)
    # Left finger pushes along +line into a surface whose inward normal is -n_left; right finger along -line.
    cos_l = np.clip(np.einsum("ij,ij->i", line, -n_left), -1.0, 1.0)
    cos_r = np.clip(np.einsum("ij,ij->i", -line, -n_right), -1.0, 1.0)
    if unsigned:
        cos_l, cos_r = np.abs(cos_l), np.abs(cos_r)
    angle = np.maximum(np.arccos(cos_l), np.arccos(cos_r))
    mu = np.where(angle < np.pi / 2, np.tan(np.minimum(angle, np.pi / 2 - 1e-9)), np.inf)
    return np.where(length[:, 0] > 1e-9, mu, np.inf)


def min_friction(required: np.ndarray, grid=FRICTION_GRID) -> np.ndarray:
    """Smallest grid value ≥ required μ (N,), −1 where none suffices."""
    grid = np.asarray(sorted(grid), dtype=np.float64)
    required = np.asarray(required, dtype=np.float64)
    index = np.searchsorted(grid, required - 1e-9, side="left")
    return np.where(index < len(grid), grid[np.minimum(index, len(grid) - 1)], -1.0)


def grasp_friction(obj: SurfaceObject, rotations: np.ndarray, translations: np.ndarray, widths: np.ndarray,
                   depths: np.ndarray | float = 0.0, grid=FRICTION_GRID, step: float = 0.001,
                   travel: float = 1.0, dexnet_contacts: bool = False) -> np.ndarray:
    """Smallest μ in ``grid`` for which each grasp (object frame) is force-closure on ``obj``; −1 = none.

    The closing line lies ``depths`` past the grasp point along the approach (GraspNet's convention); ``travel``
    as in :func:`closing_line_contacts`. ``dexnet_contacts``: find contacts and judge them as graspnetAPI's
    Dex-Net does — surface band of the grid (voxel·√2/2, ``obj.voxel_size`` or 1 mm), samples half a voxel
    apart, normals' sign ignored.
    """
    band = None
    if dexnet_contacts:
        voxel = float(getattr(obj, "voxel_size", 0.001))
        band, step = voxel * np.sqrt(2) / 2, voxel / 2
    c_l, c_r, n_l, n_r, valid = closing_line_contacts(obj, rotations, translations, widths, step=step, depths=depths,
                                                      travel=travel, surface_band=band)
    mu = min_friction(required_friction(c_l, c_r, n_l, n_r, unsigned=dexnet_contacts), grid)
    return np.where(valid, mu, -1.0)
