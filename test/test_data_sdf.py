import numpy as np
import torch
import trimesh

from grasp6d_core.data.sdf import ObjectSDF, sample_sdf_torch


def _mesh():
    return trimesh.creation.box((0.06, 0.04, 0.10))


def test_sdf_accuracy_and_normals():
    mesh = _mesh()
    sdf = ObjectSDF.from_mesh(mesh)
    assert max(sdf.values.shape) >= 128
    rng = np.random.default_rng(0)
    surf, fid = trimesh.sample.sample_surface(mesh, 2000, seed=0)
    off = rng.uniform(-0.02, 0.02, (2000, 1))
    pts = surf + off * mesh.face_normals[fid]
    q = np.abs(pts) - np.array([0.03, 0.02, 0.05])  # exact box distance (equals the box mesh's)
    exact = np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(1), 0)
    rms = np.sqrt(np.mean((sdf.distance(pts) - exact) ** 2))
    assert rms <= 1e-3, rms
    # normals near faces (away from edges) vs mesh face normals
    n = sdf.normal(surf + 0.003 * mesh.face_normals[fid])
    ang = np.degrees(np.arccos(np.clip((n * mesh.face_normals[fid]).sum(1), -1, 1)))
    assert np.median(ang) <= 10.0


def test_torch_matches_numpy_and_gradcheck(tmp_path):
    sdf = ObjectSDF.from_mesh(_mesh(), cells=32)
    sdf.save(tmp_path / "o.npz")
    sdf = ObjectSDF.load(tmp_path / "o.npz")
    pts = np.random.default_rng(1).uniform(-0.05, 0.05, (50, 3))
    grids = torch.from_numpy(sdf.values)[None].double()
    org = torch.from_numpy(sdf.origin)[None]
    vs = torch.tensor([sdf.voxel_size], dtype=torch.float64)
    d, nrm = sample_sdf_torch(grids, org, vs, torch.from_numpy(pts)[None])
    np.testing.assert_allclose(d[0].detach().numpy(), sdf.distance(pts), atol=1e-5)
    p = torch.from_numpy(pts)[None].requires_grad_(True)
    assert torch.autograd.gradcheck(lambda q: sample_sdf_torch(grids, org, vs, q)[0], (p,), eps=1e-6, atol=1e-4)
    sdf.save_text_sdf(tmp_path / "o.sdf")
    lines = (tmp_path / "o.sdf").read_text().split("\n")
    assert [int(x) for x in lines[0].split()] == list(sdf.values.shape)
    assert float(lines[3]) == np.float32(round(sdf.values[0, 0, 0], 6)) or abs(float(lines[3]) - sdf.values[0, 0, 0]) < 1e-5


def test_sphere_normals_all_within_10_degrees():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    sdf = ObjectSDF.from_mesh(mesh)
    rng = np.random.default_rng(2)
    dirs = rng.normal(size=(3000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    pts = dirs * (0.04 + rng.uniform(-0.02, 0.02, (3000, 1)))
    ang = np.degrees(np.arccos(np.clip((sdf.normal(pts) * dirs).sum(1), -1, 1)))
    assert ang.max() <= 10.0, ang.max()
    exact = np.linalg.norm(pts, axis=1) - 0.04
    assert np.sqrt(np.mean((sdf.distance(pts) - exact) ** 2)) <= 1e-3


def test_union_of_parts_and_batched_lookup():
    a = trimesh.creation.box((0.10, 0.02, 0.02))
    b = trimesh.creation.box((0.02, 0.10, 0.02))
    sdf = ObjectSDF.from_parts([a, b])
    # inside the overlap (a single-mesh sign test of the concatenated soup would call it outside)
    assert sdf.distance(np.zeros((1, 3)))[0] < -0.005
    rng = np.random.default_rng(3)
    pts = rng.uniform(-0.07, 0.07, (30000, 3)) * [1, 1, 0.4]

    def box_sdf(p, half):
        q = np.abs(p) - half
        return np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(1), 0)

    exact = np.minimum(box_sdf(pts, [0.05, 0.01, 0.01]), box_sdf(pts, [0.01, 0.05, 0.01]))
    near = (exact > 0) & (exact < 0.02)      # the union's distance is exact outside
    d = sdf.distance(pts)                    # > 20000 points: the torch path
    assert np.sqrt(np.mean((d[near] - exact[near]) ** 2)) <= 1e-3
    np.testing.assert_allclose(sdf.distance_batch(pts[:500]), sdf.distance(pts[:500]), atol=1e-5)
