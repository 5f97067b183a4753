"""The arithmetic of the network's heads: float32, or bfloat16 where the CPU multiplies bfloat16 matrices in
hardware. Importable without torch (the CLI's --help lists the choices); torch loads only to check the CPU."""
from __future__ import annotations

PRECISIONS = ("auto", "float32", "bfloat16")
PRECISION_HELP = ("the heads' arithmetic; auto: bfloat16 on a CPU with native bfloat16 matmuls (Intel AMX), float32 "
                  "otherwise (docs/model.md, Speed)")


def native_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 matrices in hardware (Intel AMX tiles). Only there do the heads'
    bfloat16 matmuls pay off; elsewhere torch emulates bfloat16 on the CPU, which is slower than float32."""
    import torch
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)   # private in torch 2.x: absent = no
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


def check_precision(precision: str) -> str:
    """``precision`` when it is one of PRECISIONS, else a ValueError naming them (no torch needed)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {' | '.join(PRECISIONS)}, got {precision!r}")
    return precision


def resolve_precision(precision: str, device: str) -> str:
    """'float32' or 'bfloat16' for the heads: 'auto' takes bfloat16 on a CPU with native bfloat16 matmuls,
    float32 otherwise (CUDA included: not measured there). ValueError for anything else."""
    if check_precision(precision) != "auto":
        return precision
    return "bfloat16" if device == "cpu" and native_bfloat16() else "float32"
