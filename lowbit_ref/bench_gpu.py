"""The Triton kernels against a device-to-device copy: ``python -m lowbit_ref.bench --device cuda``.

Imports ``lowbit_ref.kernels`` and so Triton; ``lowbit_ref.bench`` imports this module only when
asked for a GPU run, so the CPU benchmark never imports Triton.
"""

from __future__ import annotations

import torch

from . import kernels, ternary, uintx
from .bench_common import Row, expect, measure
from .errors import LowbitError


def run_kernels(*, log2_size: int = 26, repeat: int = 5, device: str | torch.device = "cuda",
                calls: int | None = None) -> list[Row]:
    """``unpack_triton`` and ``matvec_packed`` against a copy of the same bytes on ``device``.

    Unpack: 2**log2_size values at 1, 2, 4 bits and ternary2 (read the packed bytes, write uint8
    or int8 values). Matvec: W of 2**log2_size weights, square, packed along its rows, fp16
    scales per group of 128 and fp16 x, y (read W, scales and x, write y); beside it the same
    product by ``matvec_reference`` (unpack, dequantize, ``@``). Every result is checked first.
    On the CPU this runs under the Triton interpreter (``TRITON_INTERPRET=1``): correct, slow.
    """
    device = torch.device(device)
    calls = calls or (20 if device.type == "cuda" else 1)
    gen = torch.Generator().manual_seed(0)
    n = 1 << log2_size
    rows, cases = [], []
    for fmt in ("uint1", "uint2", "uint4", "ternary2"):
        if fmt == "ternary2":
            x = torch.randint(-1, 2, (n,), dtype=torch.int8, generator=gen).to(device)
            packed = ternary.pack_ternary(x)
        else:
            x = torch.randint(0, 1 << int(fmt[4:]), (n,), dtype=torch.uint8, generator=gen).to(device)
            packed = uintx.pack(x, int(fmt[4:]))
        expect(f"unpack_triton {fmt}", kernels.unpack_triton(packed), x)
        moved = packed.data.nbytes + x.nbytes
        cases.append((fmt, "unpack", "unpack_triton", n, lambda p=packed: kernels.unpack_triton(p), moved))
        cases.append((fmt, "unpack", "lowbit_ref (torch)", n, lambda p=packed: uintx.unpack(p), moved))
    side = 1 << (log2_size // 2)
    rows_w, cols_w = side, n // side  # (out_features, in_features)
    group = min(128, cols_w)
    xv = torch.randn(cols_w, generator=gen).half().to(device)
    for fmt in ("uint2", "uint4", "ternary2"):
        if fmt == "ternary2":
            w = torch.randint(-1, 2, (rows_w, cols_w), dtype=torch.int8, generator=gen).to(device)
            packed = ternary.pack_ternary(w)
        else:
            w = torch.randint(0, 1 << int(fmt[4:]), (rows_w, cols_w), dtype=torch.uint8, generator=gen).to(device)
            packed = uintx.pack(w, int(fmt[4:]))
        scale = (torch.rand(rows_w, -(-cols_w // group), generator=gen) / 64).half().to(device)
        args = dict(group_size=group)
        y = kernels.matvec_packed(packed, scale, xv, **args)
        want = kernels.matvec_reference(packed, scale, xv, **args)
        if not torch.allclose(y.float(), want.float(), rtol=2e-2, atol=2e-2 * float(want.float().abs().max()) + 1e-3):
            raise LowbitError(f"bench: matvec_packed {fmt} disagrees with matvec_reference")
        moved = packed.data.nbytes + scale.nbytes + xv.nbytes + y.nbytes
        fused = lambda p=packed, s=scale: kernels.matvec_packed(p, s, xv, **args)  # noqa: E731
        plain = lambda p=packed, s=scale: kernels.matvec_reference(p, s, xv, **args)  # noqa: E731
        cases.append((fmt, "matvec", "matvec_packed", n, fused, moved))
        cases.append((fmt, "matvec", "matvec_reference", n, plain, moved))
    best = measure([(c[4], c[5]) for c in cases], device, repeat, calls)
    for (fmt, op, impl, values, _, moved), (seconds, floor) in zip(cases, best):
        rows.append(Row(device.type, fmt, op, impl, values, moved, seconds, floor))
    return rows
