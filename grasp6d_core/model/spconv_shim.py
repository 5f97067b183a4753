"""spconv on CPU — the ONE place its quirks are handled (docs/model.md). Import spconv through this module.

1. Convolutions with ``bias=True`` (kernel > 1) fail on CPU ("cpu don't support act and bias"): every conv made
   here has ``bias=False`` and is followed by BatchNorm (which supplies the shift).
2. ``spconv.pytorch.ops.indice_conv_backward`` calls ``get_current_stream()`` -> ``torch.cuda.current_stream()``
   unconditionally, which crashes backward on CPU-only torch: we replace it with a function returning 0
   (the "default stream" handle spconv's CPU kernels ignore) when CUDA is absent.
3. CPU spconv has no implicit-GEMM kernels: convs get ``algo=ConvAlgo.Native`` when CUDA is absent.
4. ``SpconvOps.scatter_add_cpu`` (the scatter step of every CPU conv, forward and backward) races when torch
   runs more than one thread: a 5³ submanifold conv on 3.4k voxels came out up to 0.06 off a dense
   ``conv3d`` reference (values ~0.6), differently on every call, and exact with one thread. We route it
   through torch's ``index_add_``, which is correct multi-threaded (test_model checks against conv3d).
"""
from __future__ import annotations

import torch
import spconv.pytorch as spconv  # noqa: F401  (re-exported)
from spconv.core import ConvAlgo
from spconv.pytorch import ops as _ops

_CUDA = torch.cuda.is_available()

if not _CUDA and not getattr(_ops.get_current_stream, "_grasp6d_patched", False):
    def _cpu_stream() -> int:
        return 0
    _cpu_stream._grasp6d_patched = True  # type: ignore[attr-defined]
    _ops.get_current_stream = _cpu_stream



def _scatter_add_cpu(out, inp, inds) -> None:
    """out[inds[i]] += inp[i] for the first len(inds) rows of inp (spconv's contract), on tensorview views."""
    index = torch.from_numpy(inds.numpy_view()).long()
    rows = torch.from_numpy(inp.numpy_view())[: len(index)]
    torch.from_numpy(out.numpy_view()).index_add_(0, index, rows)


if not getattr(_ops.SpconvOps.scatter_add_cpu, "_grasp6d_patched", False):
    _scatter_add_cpu._grasp6d_patched = True  # type: ignore[attr-defined]
    _ops.SpconvOps.scatter_add_cpu = _scatter_add_cpu

ALGO = None if _CUDA else ConvAlgo.Native


def subm(cin: int, cout: int, kernel: int = 3, key: str | None = None) -> spconv.SubMConv3d:
    """Submanifold conv (keeps the active set), no bias (quirk 1)."""
    return spconv.SubMConv3d(cin, cout, kernel, padding=kernel // 2, bias=False, indice_key=key, algo=ALGO)


def down(cin: int, cout: int, key: str) -> spconv.SparseConv3d:
    """Stride-2 kernel-2 sparse conv; ``key`` lets the matching :func:`up` reuse its indice pairs."""
    return spconv.SparseConv3d(cin, cout, 2, stride=2, bias=False, indice_key=key, algo=ALGO)


def up(cin: int, cout: int, key: str) -> spconv.SparseInverseConv3d:
    """Inverse of :func:`down` with the same key: restores the finer level's exact active set."""
    return spconv.SparseInverseConv3d(cin, cout, 2, bias=False, indice_key=key, algo=ALGO)


SparseConvTensor = spconv.SparseConvTensor
SparseSequential = spconv.SparseSequential
