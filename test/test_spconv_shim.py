"""spconv on CPU through our shim gives the same numbers as a dense convolution, with several threads."""
import numpy as np
import torch
import torch.nn.functional as F


def test_submanifold_conv_matches_dense_conv3d_with_two_threads():
    from grasp6d_core.model.spconv_shim import SparseConvTensor, subm
    rng = np.random.default_rng(0)
    # A thin shell of active voxels, like a depth surface: many neighbours per site.
    grid = rng.integers(0, 40, (6000, 3))
    grid[:, 2] = (0.3 * grid[:, 0] + 0.2 * grid[:, 1]).astype(int)
    coords = np.unique(grid, axis=0)
    feats = torch.as_tensor(rng.normal(size=(len(coords), 4)), dtype=torch.float32)
    idx = torch.as_tensor(np.concatenate([np.zeros((len(coords), 1)), coords], 1), dtype=torch.int32)
    shape = [48, 48, 48]
    torch.manual_seed(0)
    conv = subm(4, 16, 5, "t")
    dense = torch.zeros(1, 4, *shape)
    c = idx[:, 1:].long()
    dense[0, :, c[:, 0], c[:, 1], c[:, 2]] = feats.T
    with torch.no_grad():
        ref = F.conv3d(dense, conv.weight.permute(0, 4, 1, 2, 3), padding=2)[0][:, c[:, 0], c[:, 1], c[:, 2]].T
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for _ in range(5):  # the race spconv's own scatter had showed up in most calls, never the same way
            with torch.no_grad():
                out = conv(SparseConvTensor(feats, idx, shape, 1))
            assert torch.allclose(out.features, ref, atol=1e-4), (out.features - ref).abs().max()
    finally:
        torch.set_num_threads(threads)


def test_backward_on_cpu_gives_the_dense_gradient():
    from grasp6d_core.model.spconv_shim import SparseConvTensor, subm
    rng = np.random.default_rng(1)
    coords = np.unique(rng.integers(0, 12, (500, 3)), axis=0)
    idx = torch.as_tensor(np.concatenate([np.zeros((len(coords), 1)), coords], 1), dtype=torch.int32)
    feats = torch.tensor(rng.normal(size=(len(coords), 3)), dtype=torch.float32, requires_grad=True)
    torch.manual_seed(1)
    conv = subm(3, 8, 3, "b")
    conv(SparseConvTensor(feats, idx, [16, 16, 16], 1)).features.square().sum().backward()
    sparse_grad = feats.grad.clone()
    feats_d = feats.detach().clone().requires_grad_(True)
    c = idx[:, 1:].long()
    dense = torch.zeros(1, 3, 16, 16, 16)
    dense[0, :, c[:, 0], c[:, 1], c[:, 2]] = feats_d.T
    out = F.conv3d(dense, conv.weight.permute(0, 4, 1, 2, 3), padding=1)[0][:, c[:, 0], c[:, 1], c[:, 2]]
    out.square().sum().backward()
    assert torch.allclose(sparse_grad, feats_d.grad, atol=1e-4)


def test_flop_count_matches_a_brute_force_neighbour_count():
    from grasp6d_core.model.flops import conv_pairs
    from grasp6d_core.model.spconv_shim import SparseConvTensor, subm
    rng = np.random.default_rng(2)
    coords = np.unique(rng.integers(0, 12, (400, 3)), axis=0)
    idx = torch.as_tensor(np.concatenate([np.zeros((len(coords), 1)), coords], 1), dtype=torch.int32)
    x = SparseConvTensor(torch.randn(len(coords), 3), idx, [16, 16, 16], 1)
    occupied = {tuple(c) for c in coords}
    offsets = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    brute = sum(tuple(c + o) in occupied for c in coords for o in offsets)   # every (voxel, neighbour) pair
    conv3 = subm(3, 4, 3, "f3")
    assert conv_pairs(conv3, conv3(x)) == brute
    conv1 = subm(3, 4, 1, "f1")
    assert conv_pairs(conv1, conv1(x)) == len(coords)
