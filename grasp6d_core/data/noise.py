"""Depth cameras of GraspNet-1Billion (intrinsics, resolution) and their sensor-noise models.

Noise is applied to a perfect ray-cast depth image (metres, 0 = no return), in this order:

1. **Axial noise** growing with z²: σ(z) = ``sigma0 + k·z²`` per pixel, plus (RealSense) a spatially
   correlated part (``corr_fraction`` of σ on a ``corr_cell``-pixel lattice, bilinearly upsampled): stereo
   matching errs in patches, not per pixel. D435: depth RMS ≈ z²·(subpixel 0.08)/(f·B) → ~1 mm at 0.6 m.
2. **Edges**: pixels next to a depth jump > ``edge_jump`` are dropped with probability ``edge_dropout``
   (RealSense: stereo occlusion / invalidation) or, for the Kinect (time of flight), become "flying pixels"
   with probability ``edge_flying``: a random mix of the near and the far depth.
3. **Holes**: Poisson(``holes_per_image``) elliptical holes of radius 2–``hole_max_px`` px set to 0
   (specular / dark surfaces), and ``pixel_dropout`` random single-pixel losses.
4. **Quantisation**: RealSense depth comes from disparity in 1/``subpixel_steps`` pixel steps:
   z = f·B / (round(f·B/z · steps) / steps) with the depth imager's f·B; then both store millimetres (16UC1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grasp6d_core.camera import GRASPNET_KINECT, GRASPNET_REALSENSE, CameraIntrinsics


@dataclass(frozen=True)
class SensorModel:
    name: str
    K: tuple                      # 3×3 colour-aligned camera matrix (GraspNet's camK.npy)
    width: int
    height: int
    sigma0: float                 # m
    k_z2: float                   # m⁻¹: σ grows by k·z²
    corr_fraction: float          # share of σ that is spatially correlated
    corr_cell: int                # px lattice of the correlated part
    edge_jump: float              # m
    edge_dropout: float           # probability an edge pixel is lost
    edge_flying: float            # probability an edge pixel becomes a flying pixel
    holes_per_image: float
    hole_max_px: int
    pixel_dropout: float
    focal_baseline: float         # px·m of the stereo pair (0 = no disparity quantisation)
    subpixel_steps: int
    min_depth: float
    max_depth: float

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return CameraIntrinsics.from_matrix(np.asarray(self.K), self.width, self.height)

    @property
    def camK(self) -> np.ndarray:
        return np.asarray(self.K, dtype=np.float64)


def _pinhole(camera: CameraIntrinsics) -> tuple:
    """SensorModel's (K, width, height) of a camera model of grasp6d_core.camera."""
    return tuple(map(tuple, camera.K.tolist())), camera.width, camera.height


SENSORS = {
    # Intel RealSense D435, colour-aligned 1280×720 (GraspNet-1Billion's realsense camK).
    "realsense": SensorModel("realsense", *_pinhole(GRASPNET_REALSENSE), sigma0=0.0004, k_z2=0.0025, corr_fraction=0.5, corr_cell=16,
                             edge_jump=0.01, edge_dropout=0.5, edge_flying=0.0, holes_per_image=6,
                             hole_max_px=14, pixel_dropout=0.002, focal_baseline=640.0 * 0.050,
                             subpixel_steps=8, min_depth=0.1, max_depth=3.0),
    # Azure Kinect (time of flight), colour-aligned 1280×720 (GraspNet-1Billion's kinect camK).
    "kinect": SensorModel("kinect", *_pinhole(GRASPNET_KINECT), sigma0=0.0008, k_z2=0.0012, corr_fraction=0.0, corr_cell=16,
                          edge_jump=0.01, edge_dropout=0.15, edge_flying=0.35, holes_per_image=3,
                          hole_max_px=10, pixel_dropout=0.001, focal_baseline=0.0, subpixel_steps=0,
                          min_depth=0.25, max_depth=3.0),
}


def get_sensor(name: str) -> SensorModel:
    if name not in SENSORS:
        raise ValueError(f"unknown camera {name!r}: choose from {sorted(SENSORS)}")
    return SENSORS[name]


def _edge_mask(depth: np.ndarray, jump: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels with a 4-neighbour farther by > jump (or with no return), and that neighbour's depth."""
    pad = np.pad(depth, 1, mode="edge")
    neigh = np.stack([pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]])
    diff = np.abs(neigh - depth[None])
    far = np.where(diff > jump, neigh, -np.inf).max(0)
    return (depth > 0) & np.isfinite(far) & (diff > jump).any(0), np.where(np.isfinite(far), far, depth)


def apply_noise(depth: np.ndarray, sensor: SensorModel, rng: np.random.Generator) -> np.ndarray:
    """Noisy copy of a clean depth image (H, W) metres, 0 = no return; see the module doc for the model."""
    d = np.asarray(depth, np.float64).copy()
    valid = d > 0
    h, w = d.shape
    sigma = sensor.sigma0 + sensor.k_z2 * d ** 2
    noise = rng.standard_normal(d.shape) * np.sqrt(1.0 - sensor.corr_fraction ** 2)
    if sensor.corr_fraction > 0:
        c = sensor.corr_cell
        coarse = rng.standard_normal((h // c + 2, w // c + 2))
        yy, xx = np.arange(h) / c, np.arange(w) / c
        y0, x0 = yy.astype(int), xx.astype(int)
        fy, fx = (yy - y0)[:, None], (xx - x0)[None, :]
        smooth = (coarse[y0][:, x0] * (1 - fy) * (1 - fx) + coarse[y0 + 1][:, x0] * fy * (1 - fx)
                  + coarse[y0][:, x0 + 1] * (1 - fy) * fx + coarse[y0 + 1][:, x0 + 1] * fy * fx)
        noise += sensor.corr_fraction * smooth / np.sqrt(np.mean(smooth ** 2) + 1e-12)
    d = np.where(valid, d + sigma * noise, 0.0)
    edge, far = _edge_mask(np.where(valid, depth, 0.0), sensor.edge_jump)
    u = rng.random(d.shape)
    if sensor.edge_flying > 0:
        fly = edge & (u < sensor.edge_flying)
        mix = rng.random(d.shape)
        d = np.where(fly & (far > 0), d + mix * (far - d), d)
    d[edge & (u >= 1 - sensor.edge_dropout)] = 0.0
    for _ in range(rng.poisson(sensor.holes_per_image)):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        ry, rx = rng.uniform(2, sensor.hole_max_px, 2)
        y0, y1, x0, x1 = max(0, int(cy - ry)), min(h, int(cy + ry) + 1), max(0, int(cx - rx)), min(w, int(cx + rx) + 1)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        d[y0:y1, x0:x1][((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 0.0
    d[rng.random(d.shape) < sensor.pixel_dropout] = 0.0
    if sensor.focal_baseline > 0 and sensor.subpixel_steps > 0:
        on = d > 0
        disparity = np.round(sensor.focal_baseline / np.where(on, d, 1.0) * sensor.subpixel_steps) / sensor.subpixel_steps
        d = np.where(on, sensor.focal_baseline / np.maximum(disparity, 1e-6), 0.0)
    d[(d < sensor.min_depth) | (d > sensor.max_depth)] = 0.0
    return d.astype(np.float32)


def to_millimetres(depth: np.ndarray) -> np.ndarray:
    """16UC1 millimetres (what the PNGs hold; factor_depth = 1000)."""
    return np.clip(np.round(np.asarray(depth) * 1000.0), 0, 65535).astype(np.uint16)
