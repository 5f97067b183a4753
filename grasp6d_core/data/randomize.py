"""Domain randomization of synthetic training scenes (docs/data.md, "Randomized scenes").

A test set keeps one GraspNet-like camera arc, one table and one noise model so that its figures stay comparable;
a model trained on exactly that learns one camera height. A randomized scene draws, once, from its own stream
``default_rng([seed, scene, RANDOMIZE_STREAM])`` (so the scene's other draws — objects, layout, physics, noise —
stay what they were): a tilt of the table against the camera rig, the table's height under the rig, how tightly
the objects are dropped or placed, per-camera noise factors, and every view's elevation, azimuth and distance.

The tilt is between the table and the rig's horizon (the views are placed level in the rig's frame, the table is
the world frame): objects still settle along the table's normal. Tilting gravity instead would roll the round
objects (cylinders, capsules, bottles on their side) off the table within the 2 s of settling, even at 2°.

Object scale is not randomized: grasp labels, SDFs and the evaluator's model files are cached per object id
(``models/XXX``, ``grasp_label/XXX_labels.npz``) and GraspNet's format has one model per id, so a scaled instance
would need its own id and its own labels (about 15 s per object and scale); the library's 4–15 cm sizes vary
instead.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from grasp6d_core.data.noise import SensorModel

RANDOMIZE_STREAM = 7          # third key of the randomization stream; the noise streams use 1 and 2
AIM_HEIGHT = 0.02             # the camera rig aims 2 cm above the nominal table top (as the fixed arc does)
AIM_JITTER = 0.03             # m, per scene, in x and y


@dataclass(frozen=True)
class Randomization:
    """Ranges a randomized scene draws from (uniform)."""
    elevation_deg: tuple[float, float] = (20.0, 80.0)    # each view's elevation above the gravity-horizontal
    distance_m: tuple[float, float] = (0.40, 0.75)       # each view's distance from the aim point
    table_height_m: float = 0.05                         # table top ± this far from its nominal height
    tilt_deg: float = 4.0                                # table tilted 0 … this many degrees against the rig
    noise_scale: tuple[float, float] = (0.6, 1.8)        # factors on axial σ, edge losses, holes, pixel dropout
    spread: tuple[float, float] = (0.7, 1.2)             # factor on the pile box / packed area (clutter density)
    pile_share: float = 0.6                              # probability of a pile (else packed)

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class SceneDraw:
    """What one randomized scene drew (written to ``scenes/scene_XXXX/randomization.json``)."""
    tilt_deg: float
    tilt_axis_deg: float                                 # horizontal axis of the tilt, table frame
    table_height_m: float
    spread: float
    aim_xy: tuple[float, float]
    noise: dict = field(default_factory=dict)            # camera -> {axial, edge, holes, pixel_dropout}
    elevation_deg: list = field(default_factory=list)    # per view
    azimuth_deg: list = field(default_factory=list)
    distance_m: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def table_from_rig(self) -> np.ndarray:
        """3×3 rotation: the camera rig's level frame (z up) expressed in the table frame."""
        from scipy.spatial.transform import Rotation
        a = np.radians(self.tilt_axis_deg)
        return Rotation.from_rotvec(np.radians(self.tilt_deg) * np.array([np.cos(a), np.sin(a), 0.0])).as_matrix()

    def camera_poses(self) -> np.ndarray:
        """(V, 4, 4) table <- camera (OpenCV axes): views placed around the aim point in the rig's level frame
        (image rows level with its horizon), then expressed in the tilted table's frame."""
        from grasp6d_core.sensing.synthetic import look_at
        aim = np.array([*self.aim_xy, AIM_HEIGHT - self.table_height_m])
        G = np.eye(4)
        G[:3, :3] = self.table_from_rig
        poses = []
        for el, az, d in zip(np.radians(self.elevation_deg), np.radians(self.azimuth_deg), self.distance_m):
            eye = aim + d * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
            poses.append(G @ look_at(eye, aim))
        return np.stack(poses)


def draw_scene(rand: Randomization, seed: int, scene: int, num_views: int, cameras) -> SceneDraw:
    """The scene's draw; depends only on (ranges, seed, scene, views, cameras)."""
    rng = np.random.default_rng([int(seed), int(scene), RANDOMIZE_STREAM])
    u = lambda r: float(rng.uniform(*r))   # noqa: E731
    tilt, axis = u((0.0, rand.tilt_deg)), u((0.0, 360.0))
    height = u((-rand.table_height_m, rand.table_height_m))
    spread = u(rand.spread)
    aim = tuple(float(v) for v in rng.uniform(-AIM_JITTER, AIM_JITTER, 2))
    noise = {cam: {k: u(rand.noise_scale) for k in ("axial", "edge", "holes", "pixel_dropout")}
             for cam in sorted(cameras)}
    # Elevations stratified over the range (each view its own slice, in random order), so every scene spans it.
    lo, hi = rand.elevation_deg
    strata = (rng.permutation(num_views) + rng.random(num_views)) / num_views
    return SceneDraw(tilt_deg=tilt, tilt_axis_deg=axis, table_height_m=height, spread=spread, aim_xy=aim,
                     noise=noise, elevation_deg=(lo + (hi - lo) * strata).tolist(),
                     azimuth_deg=rng.uniform(0.0, 360.0, num_views).tolist(),
                     distance_m=rng.uniform(*rand.distance_m, num_views).tolist())


def scaled_sensor(sensor: SensorModel, factors: dict) -> SensorModel:
    """The sensor with its noise scaled by a scene's factors (probabilities capped at 1)."""
    return replace(sensor, sigma0=sensor.sigma0 * factors["axial"], k_z2=sensor.k_z2 * factors["axial"],
                   edge_dropout=min(1.0, sensor.edge_dropout * factors["edge"]),
                   edge_flying=min(1.0, sensor.edge_flying * factors["edge"]),
                   holes_per_image=sensor.holes_per_image * factors["holes"],
                   pixel_dropout=min(1.0, sensor.pixel_dropout * factors["pixel_dropout"]))


def parse_interval(text: str, flag: str, low: float, high: float) -> tuple[float, float]:
    """``MIN-MAX`` with low <= MIN <= MAX <= high, or a ValueError naming the flag and the limits."""
    try:
        a, b = (float(v) for v in text.split("-"))
    except ValueError:
        a, b = 1.0, 0.0
    if not low <= a <= b <= high:
        raise ValueError(f"{flag} must be MIN-MAX with {low:g} <= MIN <= MAX <= {high:g}, got {text!r}")
    return a, b


def parse_limit(value: float, flag: str, low: float, high: float) -> float:
    if not low <= value <= high:
        raise ValueError(f"{flag} must lie in {low:g}…{high:g}, got {value:g}")
    return float(value)
