"""Ternary weights: absmean quantization to {-1, 0, +1} and 2-bit ternary packing.

BitNet b1.58 stores every weight as a trit, -1, 0 or +1, times one float scale per tensor (or
per group of consecutive weights). The scale is the mean absolute value ("absmean"), and each
weight rounds to the nearest of -scale, 0, +scale:

    scale = mean(|w|)                          per tensor, or per group of `group_size` along the last dim
    code  = clip(round(w / scale), -1, 1)      int8; ties round to even, so w = scale/2 gives 0

The codes cost 2 bits each when stored as ``trit + 1`` in the 2-bit layout of ``lowbit_ref.uintx``
(scheme "ternary2", padded with trit 0; ``lowbit_ref.base3`` gets them down to 1.6 bits).
"""

from __future__ import annotations

import numbers

import torch

from .checks import TRIT_DTYPES, check_dim, check_out, check_trit_dtype, check_trits, first_bad
from .errors import LowbitError, describe
from .packed import PackedTensor, check_packed, register_unpacker
from .uintx import _pack_fields, _unpack_bits

__all__ = ["quantize_ternary", "dequantize_ternary", "pack_ternary", "unpack_ternary2", "check_trits",
           "FLOAT_DTYPES", "TRIT_DTYPES"]

#: Float dtypes ``quantize_ternary`` accepts; the scale comes back in the same dtype.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _check_group_size(group_size, shape: torch.Size, name: str) -> int | None:
    """``group_size`` as a plain int (None stays None), or ``LowbitError``."""
    if group_size is None:
        return None
    if not isinstance(group_size, numbers.Integral) or isinstance(group_size, bool):
        raise LowbitError(f"group_size must be None or a positive int, got {describe(group_size)}")
    if group_size < 1:
        raise LowbitError(f"group_size must be None or a positive int, got {group_size}")
    if len(shape) == 0:
        raise LowbitError(f"group_size needs {name} with at least one dimension, got a 0-d tensor")
    if shape[-1] % group_size:
        raise LowbitError(
            f"group_size must divide the last dimension of {name} ({shape[-1]}), got {group_size}"
        )
    return int(group_size)


def quantize_ternary(weights: torch.Tensor, *, group_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Absmean ternary quantization (BitNet b1.58): int8 codes in {-1, 0, 1} and their scale.

    ``scale = mean(|w|)`` over the whole tensor (``group_size=None``, a 0-d scale) or over each
    group of ``group_size`` consecutive values along the last dim (scale shape
    ``(*w.shape[:-1], w.shape[-1] // group_size)``). ``code = clip(round(w / scale), -1, 1)``.

    Numerics, stated once:

    - the mean is accumulated in float32 (float64 for float64 weights), so half-precision
      weights neither overflow nor lose the sum, then rounded to the weights' dtype: the scale
      has the weights' dtype;
    - the scale is floored at ``torch.finfo(dtype).tiny`` (the smallest normal number), so an
      all-zero group gets zero codes and a tiny positive scale, never 0 or NaN;
    - the code is computed exactly as ``sign(w) * (2|w| > scale)``, which is
      ``clip(round(w / scale), -1, 1)`` with round-half-to-even and no division to round:
      ``|w| = scale / 2`` exactly gives 0, and no value lands on the wrong side of the
      threshold because of a rounded quotient.

    Args:
        weights: float16, bfloat16, float32 or float64 tensor, finite, any shape.
        group_size: None for one scale per tensor, or a positive int dividing ``w.shape[-1]``.

    Returns:
        ``(codes, scale)``: int8 codes of ``weights.shape`` and the scale, on ``weights.device``.

    >>> codes, scale = quantize_ternary(torch.tensor([0.5, 3.5, 0.0, -1.0]))
    >>> codes, scale
    (tensor([ 0,  1,  0, -1], dtype=torch.int8), tensor(1.2500))
    >>> quantize_ternary(torch.tensor([[2.0, -0.1, 0.1, 0.1]]), group_size=2)
    (tensor([[1, 0, 1, 1]], dtype=torch.int8), tensor([[1.0500, 0.1000]]))
    """
    if not isinstance(weights, torch.Tensor):
        raise LowbitError(f"weights must be a torch.Tensor, got {type(weights).__name__}")
    if weights.dtype not in FLOAT_DTYPES:
        raise LowbitError(
            f"weights must be a float16, bfloat16, float32 or float64 tensor, got {weights.dtype}"
        )
    group_size = _check_group_size(group_size, weights.shape, "weights")
    acc = torch.float64 if weights.dtype == torch.float64 else torch.float32
    if group_size is None:
        w = weights  # one group: the whole tensor
        mean = weights.abs().sum(dtype=acc) / max(weights.numel(), 1)  # ()
    else:
        w = weights.reshape(*weights.shape[:-1], weights.shape[-1] // group_size, group_size)  # (..., G, g)
        mean = w.abs().sum(-1, dtype=acc) / group_size  # (..., G)
    # A NaN or inf weight makes its group's mean non-finite: checking the means is one pass
    # fewer than checking every weight, and only the error path looks for the culprit.
    if not torch.isfinite(mean).all():
        bad = ~torch.isfinite(weights)
        if bad.any():
            index, value = first_bad(bad, weights)
            raise LowbitError(f"weights must be finite, got {value} at index {index}")
        raise LowbitError(f"weights are too large: the sum of |weights| overflows {acc}")
    scale = mean.to(weights.dtype).clamp_min(torch.finfo(weights.dtype).tiny)
    s = scale if group_size is None else scale.unsqueeze(-1)  # () or (..., G, 1)
    # 2|w| is exact (or +-inf, which still compares correctly), so the comparison is exact.
    twice = w * 2
    codes = (twice > s).to(torch.int8) - (twice < -s).to(torch.int8)
    return codes.reshape(weights.shape), scale


def dequantize_ternary(codes: torch.Tensor, scale: torch.Tensor, *, group_size: int | None = None) -> torch.Tensor:
    """``codes * scale``, the scale broadcast over each group: the inverse of ``quantize_ternary``.

    Args:
        codes: integer trits (-1, 0, 1), any shape.
        scale: a float tensor, 0-d for ``group_size=None``, else of shape
            ``(*codes.shape[:-1], codes.shape[-1] // group_size)``, on the codes' device.
        group_size: as given to ``quantize_ternary``.

    Returns:
        A tensor of ``codes.shape`` and ``scale.dtype``: each weight is -scale, 0 or +scale.

    >>> dequantize_ternary(torch.tensor([[1, 0, -1, 1]]), torch.tensor([[2.0, 0.5]]), group_size=2)
    tensor([[ 2.0000,  0.0000, -0.5000,  0.5000]])
    """
    check_trits(codes, name="codes")
    if not isinstance(scale, torch.Tensor) or scale.dtype not in FLOAT_DTYPES:
        got = scale.dtype if isinstance(scale, torch.Tensor) else type(scale).__name__
        raise LowbitError(f"scale must be a float16, bfloat16, float32 or float64 tensor, got {got}")
    if scale.device != codes.device:
        raise LowbitError(f"scale must be on the codes' device {codes.device}, got {scale.device}")
    group_size = _check_group_size(group_size, codes.shape, "codes")
    if group_size is None:
        if scale.dim() != 0:
            raise LowbitError(f"scale must be 0-d for group_size=None, got shape {tuple(scale.shape)}")
        return codes.to(scale.dtype) * scale
    groups = codes.shape[-1] // group_size
    want = (*codes.shape[:-1], groups)
    if tuple(scale.shape) != want:
        raise LowbitError(
            f"scale must have shape {want} for codes of shape {tuple(codes.shape)} and group_size={group_size}, "
            f"got {tuple(scale.shape)}"
        )
    c = codes.reshape(*codes.shape[:-1], groups, group_size)  # (..., G, g)
    return (c.to(scale.dtype) * scale.unsqueeze(-1)).reshape(codes.shape)


def pack_ternary(trits: torch.Tensor, *, dim: int = -1, out: torch.Tensor | None = None) -> PackedTensor:
    """Pack trits in 2 bits each, stored as ``trit + 1``: scheme "ternary2", 4 trits per byte.

    The 2-bit fields are exactly those of ``lowbit_ref.uintx.pack_bits(trits, 2, offset=1)``,
    LSB-first (trit i of a byte at bits ``2*(i % 4)``); padding fields are 1, trit 0, like base-3's
    padding (a kernel that reads them multiplies by zero), and ``unpack_ternary2`` drops them::

        trits         0     -1     1     0
        trit + 1     01     00    10    01
        byte      0b 01     10    00    01  = 97      (the last trit in the high bits)
                     t3     t2    t1    t0

    Field value 3 (0b11) is never written: ``unpack_ternary2`` rejects it.

    Args:
        trits: signed integer tensor (int8, int16, int32 or int64) of -1, 0, 1, any shape.
        dim: the dimension to pack along.
        out: optional contiguous uint8 tensor of the packed shape, sharing no memory with
            ``trits``; it receives the bytes and becomes the result's ``data`` (if packing
            raises, it may hold part of a result).

    Returns:
        ``PackedTensor(scheme="ternary2", bits=2, dtype=trits.dtype)``.

    >>> p = pack_ternary(torch.tensor([0, -1, 1, 0], dtype=torch.int8))
    >>> p.data, unpack_ternary2(p)
    (tensor([97], dtype=torch.uint8), tensor([ 0, -1,  1,  0], dtype=torch.int8))
    >>> pack_ternary(torch.tensor([1])).data  # fields 2, then three padding fields 1 (trit 0)
    tensor([86], dtype=torch.uint8)
    """
    check_trit_dtype(trits)
    d = check_dim(dim, trits.shape, "pack_ternary")
    shape = list(trits.shape) or [1]
    shape[d] = -(-shape[d] // 4)
    if out is not None:
        check_out(out, shape, torch.uint8, trits.device, trits, "trits")
    # Fields trit + 1 may not exceed 2: a value that is no trit stops the packing.
    data = _pack_fields(trits, 2, d, "lsb", out, 1, 2)
    if data is None:
        check_trits(trits)  # raises, naming the first value that is not a trit
    return PackedTensor(data, 2, trits.shape, d, "lsb", "ternary2", trits.dtype)


def unpack_ternary2(packed: PackedTensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """The trits of a "ternary2" ``PackedTensor``: its original tensor, shape, dtype and device.

    A field holding 3 cannot come from ``pack_ternary``; such bytes raise ``LowbitError`` rather
    than decode to a trit 2 (checked chunk by chunk as the bytes are decoded). Padding fields are
    dropped, whatever they hold (files written before padding was trit 0 padded with field 0).
    ``out``, if given, receives the trits and is returned: a contiguous tensor of ``packed.shape``
    and ``packed.dtype``, sharing no memory with ``packed.data``.

    >>> unpack_ternary2(pack_ternary(torch.tensor([[1, -1], [0, 1]]), dim=0))
    tensor([[ 1, -1],
            [ 0,  1]])
    """
    check_packed(packed, "ternary2", "unpack_ternary2", TRIT_DTYPES)
    data = packed.data
    n = (list(packed.shape) or [1])[packed.dim]
    rows = None
    if out is not None:
        check_out(out, packed.shape, packed.dtype, packed.device, data, "packed.data")
        rows = out.view(data.shape[: packed.dim] + (n,) + data.shape[packed.dim + 1 :])  # 0-d: (1,)
    # Fields decode straight to field - 1; a field above 2 makes the result None.
    trits = _unpack_bits(data, 2, n, packed.dim, packed.order, packed.dtype, rows, offset=1, top=2)
    if trits is None:
        # A field is 3 when both of its bits are set; fields start at even bits in both orders.
        bad = data & (data >> 1) & 0b01010101
        index, byte = first_bad(bad != 0, data)
        raise LowbitError(
            f"unpack_ternary2: packed byte {byte} at index {index} holds the field "
            "0b11, which no trit packs to (fields are trit + 1: 0, 1 or 2)"
        )
    return out if out is not None else trits.reshape(packed.shape)


register_unpacker("ternary2", unpack_ternary2)
