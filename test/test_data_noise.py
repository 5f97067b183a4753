"""Depth noise models: axial σ grows with z², edges lose pixels (RealSense) or fly (Kinect), quantisation."""
import numpy as np
import pytest

from grasp6d_core.data.noise import SENSORS, apply_noise, get_sensor


@pytest.mark.parametrize("name", ["realsense", "kinect"])
def test_axial_noise_grows_with_z_squared(name):
    sensor = get_sensor(name)
    rng = np.random.default_rng(0)
    stds = []
    for z in (0.5, 1.0):
        d = apply_noise(np.full((sensor.height, sensor.width), z, np.float32), sensor, rng)
        v = d[d > 0] - z
        stds.append(v.std())
        assert abs(v.mean()) < 0.3 * stds[-1] + 5e-4                       # unbiased
        assert (d == 0).mean() < 0.05                                          # holes are few on a flat wall
    expect = [sensor.sigma0 + sensor.k_z2 * z ** 2 for z in (0.5, 1.0)]
    # measured σ within 35 % of the model (quantisation adds a little), and it grows like the model
    assert stds[0] == pytest.approx(expect[0], rel=0.35) and stds[1] == pytest.approx(expect[1], rel=0.35)
    assert stds[1] / stds[0] > 1.5


def test_edges_and_quantisation():
    rs, kin = SENSORS["realsense"], SENSORS["kinect"]
    clean = np.full((rs.height, rs.width), 0.8, np.float32)
    clean[:, : rs.width // 2] = 0.5                                           # one vertical depth step
    col = rs.width // 2
    lost = [(apply_noise(clean, s, np.random.default_rng(1))[:, col - 1:col + 1] == 0).mean() for s in (rs, kin)]
    assert 0.35 < lost[0] < 0.65 and lost[1] < 0.3                           # 50 % vs 15 % edge dropout
    flying = apply_noise(clean, kin, np.random.default_rng(2))[:, col - 1:col + 1]
    assert ((flying > 0.55) & (flying < 0.75)).mean() > 0.1                  # Kinect: mixed depths at the edge
    d = apply_noise(np.full((rs.height, rs.width), 0.6, np.float32), rs, np.random.default_rng(3))
    disparity = rs.focal_baseline / d[d > 0] * rs.subpixel_steps
    np.testing.assert_allclose(disparity, np.round(disparity), atol=1e-3)    # 1/8-pixel disparity steps
