"""Contacts where a parallel jaw's closing line meets an object's surface.

Like Dex-Net's ``close_fingers`` (used by GraspNet-1Billion's labels and evaluator): the closing line lies
``depth`` along the approach past the grasp point (graspnetAPI's ``eval_grasp`` centres the Dex-Net grasp at
t + R·[depth, 0, 0]); the jaws start on it at ± width/2 along the closing axis (y) and march towards each other; each jaw's contact is the first point
where the signed distance crosses zero. Any object exposing ``distance(points (N,3)) -> (N,)`` (negative
inside) and ``normal(points) -> (N,3)`` (outward) works: the data engine's ObjectSDF, :class:`MeshSDF`, or an
analytic shape in tests.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np


class SurfaceObject(Protocol):
    def distance(self, points: np.ndarray) -> np.ndarray: ...
    def normal(self, points: np.ndarray) -> np.ndarray: ...


class MeshSDF:
    """The SurfaceObject protocol for a watertight trimesh, via open3d's RaycastingScene (exact, no grid)."""

    def __init__(self, mesh):
        import open3d as o3d  # heavy import kept local
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, dtype=np.float32)),
                                  o3d.core.Tensor(np.asarray(mesh.faces, dtype=np.uint32)))
        self._o3d = o3d

    def _query(self, points: np.ndarray):
        return self._o3d.core.Tensor(np.asarray(points, dtype=np.float32).reshape(-1, 3))

    def distance(self, points: np.ndarray) -> np.ndarray:
        # open3d's signed distance is negative inside, as the protocol wants.
        return self._scene.compute_signed_distance(self._query(points)).numpy().astype(np.float64)

    def normal(self, points: np.ndarray) -> np.ndarray:
        closest = self._scene.compute_closest_points(self._query(points))
        return closest["primitive_normals"].numpy().astype(np.float64)


def closing_line_contacts(obj: SurfaceObject, rotations: np.ndarray, translations: np.ndarray, widths: np.ndarray,
                          step: float = 0.001, extra_width: float = 0.0, depths: np.ndarray | float = 0.0,
                          travel: float = 1.0, surface_band: float | None = None) -> tuple[np.ndarray, ...]:
    """Contacts of N grasps (in the object's frame) with ``obj``.

    ``travel`` is the fraction of the full stroke (width) each jaw may move: 1.0 lets a jaw close all the way to
    the other jaw's start, 0.5 stops it at the centre as Dex-Net's ``close_fingers`` (graspnetAPI's evaluator)
    does, so a grasp whose object lies wholly on one side of the centre finds no contact there.

    ``surface_band`` None: a jaw's contact is where the distance first turns negative, and a jaw starting inside
    the object finds none. A number: Dex-Net's rule — the contact is the first sample with |distance| below the
    band (Dex-Net uses voxel·√2/2 of its grid), moved on while the next sample is nearer the surface, wherever
    the jaw started (a jaw starting in a thin wall touches the wall's far face).

    Returns ``(contact_left, contact_right, normal_left, normal_right, valid)``: points (N, 3) and outward
    normals (N, 3) for the jaw starting at −w/2 (left) and +w/2 (right), and ``valid`` (N,) — False when a jaw
    starts inside the object or closes on nothing.
    """
    rotations = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
    translations = np.asarray(translations, dtype=np.float64).reshape(-1, 3)
    n = len(rotations)
    half = (np.broadcast_to(np.asarray(widths, dtype=np.float64), (n,)) + extra_width) / 2
    axis = rotations[:, :, 1]
    centres = translations + np.broadcast_to(np.asarray(depths, dtype=np.float64), (n,))[:, None] * rotations[:, :, 0]
    steps = int(np.ceil(max(float(half.max(initial=0.0)) * 2 * travel, step) / step)) + 1
    s = np.linspace(0.0, travel, steps)  # fraction of the full closing stroke, samples ~``step`` apart
    results = []
    rows = np.arange(n)
    for sign in (-1.0, 1.0):
        start = centres + sign * half[:, None] * axis
        # March towards the other jaw (direction -sign * axis).
        moved = (2 * half)[:, None] * s[None, :]
        line = start[:, None, :] - sign * moved[..., None] * axis[:, None, :]
        d = np.asarray(obj.distance(line.reshape(-1, 3)), dtype=np.float64).reshape(n, steps)
        if surface_band is None:
            inside = d <= 0
            first = np.argmax(inside, axis=1)
            hit = inside.any(axis=1) & (first > 0)  # first > 0: the jaw must start outside the object
            prev = np.maximum(first - 1, 0)
            d0, d1 = d[rows, prev], d[rows, first]
            frac = np.where(hit, d0 / np.maximum(d0 - d1, 1e-12), 0.0)  # linear zero crossing
            t = moved[rows, prev] + frac * (moved[rows, first] - moved[rows, prev])
        else:
            t, hit = _band_contact(d, moved, surface_band)
        contact = start - sign * t[:, None] * axis
        results.append((contact, hit))
    (c_left, ok_left), (c_right, ok_right) = results
    valid = ok_left & ok_right
    normals = np.asarray(obj.normal(np.concatenate([c_left, c_right])), dtype=np.float64).reshape(2, n, 3)
    normals /= np.maximum(np.linalg.norm(normals, axis=2, keepdims=True), 1e-12)
    return c_left, c_right, normals[0], normals[1], valid


def _band_contact(d: np.ndarray, moved: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray]:
    """Dex-Net's find_contact on sampled distances d (N, S) at distances moved (N, S): (travel to contact, hit)."""
    n, steps = d.shape
    rows = np.arange(n)
    near = np.abs(d) < band
    hit = near.any(axis=1)
    idx = np.argmax(near, axis=1)
    for _ in range(steps):  # move on while the next sample is nearer the surface
        nxt = np.minimum(idx + 1, steps - 1)
        better = hit & (nxt > idx) & (np.abs(d[rows, nxt]) < np.abs(d[rows, idx]))
        if not better.any():
            break
        idx = np.where(better, nxt, idx)
    lo, hi = np.maximum(idx - 1, 0), np.minimum(idx + 1, steps - 1)
    slope = (d[rows, hi] - d[rows, lo]) / np.maximum(moved[rows, hi] - moved[rows, lo], 1e-12)
    shift = np.where(np.abs(slope) > 1e-9, -d[rows, idx] / np.where(slope == 0, 1.0, slope), 0.0)
    step = moved[rows, hi] - moved[rows, lo]
    return moved[rows, idx] + np.clip(shift, -step / 2, step / 2), hit
