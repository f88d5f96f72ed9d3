"""Ternary weights: absmean quantization to {-1, 0, +1} and 2-bit ternary packing.

BitNet b1.58 stores every weight as a trit, -1, 0 or +1, times one float scale per tensor (or
per group of consecutive weights). The scale is the mean absolute value ("absmean"), and each
weight rounds to the nearest of -scale, 0, +scale:

    scale = mean(|w|)                          per tensor, or per group of `group_size` along the last dim
    code  = clip(round(w / scale), -1, 1)      int8; ties round to even, so w = scale/2 gives 0

The codes cost 2 bits each when stored as ``trit + 1`` in the 2-bit layout of ``lowbit_ref.uintx``
(scheme "ternary2"; ``lowbit_ref.base3`` gets them down to 1.6 bits).
"""

from __future__ import annotations

import math
import numbers

import torch

from .errors import LowbitError, describe
from .packed import PackedTensor

#: Float dtypes ``quantize_ternary`` accepts; the scale comes back in the same dtype.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: Integer dtypes that hold trits; the packers remember which one and unpack to it.
TRIT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64)


def _first_bad(mask: torch.Tensor, values: torch.Tensor) -> tuple[tuple[int, ...], object]:
    """Index and value of the first True in ``mask`` (error paths only: it syncs with the device)."""
    if mask.dim() == 0:
        return (), values.item()
    index = tuple(torch.nonzero(mask)[0].tolist())
    return index, values[index].item()


def check_trits(trits, *, name: str = "trits") -> torch.Tensor:
    """Raise ``LowbitError`` unless ``trits`` is a signed integer tensor of -1, 0 and 1; return it.

    One pass over the values (``aminmax``) and one bool back to the host; the slow search for the
    offending element runs only when there is one.

    >>> check_trits(torch.tensor([1, 0, -1]))
    tensor([ 1,  0, -1])
    """
    _check_trit_dtype(trits, name)
    if trits.numel():
        lo, hi = torch.aminmax(trits)
        if (lo < -1) | (hi > 1):
            index, value = _first_bad((trits < -1) | (trits > 1), trits)
            raise LowbitError(f"{name} must be -1, 0 or 1, got {value} at index {index}")
    return trits


def _check_trit_dtype(trits, name: str = "trits") -> None:
    """The type half of ``check_trits``: packers that check values chunk by chunk call this first."""
    if not isinstance(trits, torch.Tensor):
        raise LowbitError(f"{name} must be a torch.Tensor of -1, 0, 1, got {type(trits).__name__}")
    if trits.dtype not in TRIT_DTYPES:
        hint = " (trits are signed: pass t, not t + 1)" if trits.dtype == torch.uint8 else ""
        raise LowbitError(
            f"{name} must have a signed integer dtype (int8, int16, int32 or int64), got {trits.dtype}{hint}"
        )


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
            index, value = _first_bad(bad, weights)
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

    The 2-bit fields are exactly those of ``lowbit_ref.uintx.pack(trits + 1, 2)``, LSB-first
    (trit i of a byte at bits ``2*(i % 4)``); padding fields are 0, which reads as trit -1 and
    which ``unpack_ternary2`` drops::

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
    """
    from .uintx import _LITTLE_ENDIAN, _pack_words, check_out, pack_bits  # uintx imports this module: import late

    _check_trit_dtype(trits)
    d = _check_dim(dim, trits.shape, "pack_ternary")
    shape = list(trits.shape) or [1]
    n, inner = shape[d], math.prod(shape[d + 1 :])
    shape[d] = -(-n // 4)
    if out is not None:
        check_out(out, shape, torch.uint8, trits.device, trits, "trits")
    whole_bytes = inner == 1 and n % 4 == 0 and trits.numel() > 0  # packed dim innermost, no padding
    if trits.dtype == torch.int8 and whole_bytes and trits.is_contiguous() and _LITTLE_ENDIAN:
        # The common case, in one pass: trit + 1 added chunk by chunk in uint8 arithmetic (-1
        # reads as 255 and wraps to 0), so a digit above 2 is a byte that was not a trit.
        data = out if out is not None else torch.empty(shape, dtype=torch.uint8, device=trits.device)
        if _pack_words(trits.view(torch.uint8).view(-1, 4), 2, "lsb", data.view(-1, 1), top=2, offset=1) is None:
            check_trits(trits)  # raises, naming the first value that is not a trit
    else:
        check_trits(trits)
        digits = (trits.to(torch.int8) + 1).view(torch.uint8)  # 0, 1, 2
        data = pack_bits(digits, 2, d, "lsb", out=out)
    return PackedTensor(data, 2, trits.shape, d, "lsb", "ternary2", trits.dtype)


def _check_dim(dim, shape: torch.Size, caller: str) -> int:
    """``dim`` as a non-negative index; a 0-d tensor packs as one value along dim 0."""
    ndim = max(len(shape), 1)
    if not isinstance(dim, int) or isinstance(dim, bool) or not -ndim <= dim < ndim:
        raise LowbitError(f"{caller}: dim must be an int in {-ndim}..{ndim - 1} for shape {tuple(shape)}, got {dim!r}")
    return dim % ndim


def _check_packed(packed, scheme: str, caller: str) -> None:
    if not isinstance(packed, PackedTensor):
        raise LowbitError(f"{caller}: packed must be a PackedTensor, got {type(packed).__name__}")
    if packed.scheme != scheme:
        raise LowbitError(f"{caller}: packed.scheme must be {scheme!r}, got {packed.scheme!r}")
    if packed.bits != 2:
        raise LowbitError(f"{caller}: packed.bits must be 2 for scheme {scheme!r}, got {packed.bits}")
    if packed.dtype not in TRIT_DTYPES:
        raise LowbitError(
            f"{caller}: packed.dtype must be a signed integer dtype (int8, int16, int32 or int64), got {packed.dtype}"
        )


def unpack_ternary2(packed: PackedTensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """The trits of a "ternary2" ``PackedTensor``: its original tensor, shape, dtype and device.

    A field holding 3 cannot come from ``pack_ternary``; such bytes raise ``LowbitError`` rather
    than decode to a trit 2 (checked chunk by chunk as the bytes are decoded). ``out``, if given,
    receives the trits and is returned: a contiguous tensor of ``packed.shape`` and
    ``packed.dtype``, sharing no memory with ``packed.data``.

    >>> unpack_ternary2(pack_ternary(torch.tensor([[1, -1], [0, 1]]), dim=0))
    tensor([[ 1, -1],
            [ 0,  1]])
    """
    from .uintx import _unpack_bits, check_out

    _check_packed(packed, "ternary2", "unpack_ternary2")
    data = packed.data
    n = (list(packed.shape) or [1])[packed.dim]
    rows = None
    if out is not None:
        check_out(out, packed.shape, packed.dtype, packed.device, data, "packed.data")
        rows = out.view(data.shape[: packed.dim] + (n,) + data.shape[packed.dim + 1 :])  # 0-d: (1,)
    # Fields decode straight to field - 1; a decoded 2 is a field 3.
    trits = _unpack_bits(data, 2, n, packed.dim, packed.order, packed.dtype, rows, offset=1)
    if trits is None:
        # A field is 3 when both of its bits are set; fields start at even bits in both orders.
        bad = data & (data >> 1) & 0b01010101
        index, byte = _first_bad(bad != 0, data)
        raise LowbitError(
            f"unpack_ternary2: packed byte {byte} at index {index} holds the field "
            "0b11, which no trit packs to (fields are trit + 1: 0, 1 or 2)"
        )
    return out if out is not None else trits.reshape(packed.shape)
