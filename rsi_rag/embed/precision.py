"""Numeric precision of model arithmetic: bfloat16 where the hardware computes it natively.

On CPUs with AMX or AVX512-BF16 (and on GPUs with bfloat16 units), encoding under bfloat16
autocast is about 2.5 times faster than float32, and the normalised embeddings it gives
agree with float32's to a cosine above 0.9999. Weights stay float32; only the matrix
products run in bfloat16.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rsi_rag.errors import ConfigError

__all__ = ["autocast", "native_bf16", "resolve_precision"]


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively."""
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device != "cpu":
        return False
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def resolve_precision(precision: str, device: str) -> str:
    """``"fp32"`` or ``"bf16"`` for a setting of ``"auto"``, ``"fp32"`` or ``"bf16"``."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ConfigError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
    return precision


@contextlib.contextmanager
def autocast(precision: str, device: str) -> Iterator[None]:
    """Run the block under bfloat16 autocast when ``precision`` is ``"bf16"``."""
    if precision != "bf16":
        yield
        return
    import torch

    with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16):
        yield
