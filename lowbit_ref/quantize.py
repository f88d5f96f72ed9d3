"""Quantization records: floats to packed integer codes and back (lesson 05).

``value = (code - zero_point) * scale``, per tensor, per output channel or per group of
consecutive elements:

- ``quantize_uint`` makes unsigned codes ``0..2**bits - 1``, asymmetric (min/max, a zero point
  per group) or symmetric (absmax, the zero point fixed at ``2**(bits - 1)``);
- ``quantize_trits`` makes absmean trits (``ternary.quantize_ternary``), packed 2 bits per trit
  or five trits per byte;
- ``dequantize`` turns either back into floats.

Scales are float16, the course's one choice for a stored scale (2 bytes per group). Codes are
computed against the float16 scale, rounded up from the float32 one so every code still fits,
so a record means exactly what it says and a checkpoint file holds exactly the record.

>>> q = quantize_uint(torch.tensor([[-1.5, 0.0, 1.5, 3.0]]), 4)   # scale 0.3 (0.30005 in float16)
>>> unpack(q.packed), q.scale.dtype, q.zero_point
(tensor([[ 0,  5, 10, 15]], dtype=torch.uint8), torch.float16, tensor(5, dtype=torch.uint8))
>>> dequantize(q)
tensor([[-1.5002,  0.0000,  1.5002,  3.0005]])
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import torch

from .base3 import pack_base3
from .errors import LowbitError, describe
from .packed import PackedTensor
from .ternary import pack_ternary, quantize_ternary
from .uintx import pack, unpack

#: The dtype of every scale this module makes.
SCALE_DTYPE = torch.float16


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """Packed integer codes and what turns them back into real numbers.

    ``value = (code - zero_point) * scale``. With ``group_size=None`` one scale (and zero point)
    serves the whole tensor; otherwise each run of ``group_size`` consecutive elements, in
    row-major order, has its own, so scale and zero point hold ``numel // group_size`` values
    in group order. Their shape is kept as given: ``(*shape[:-1], shape[-1] // group_size)``
    for groups along the last dim (as ``ternary.quantize_ternary`` returns), ``(out,)`` for one
    scale per output channel (``group_size = w[0].numel()``). ``scale=None``: the codes are the
    values; ``zero_point=None``: symmetric (trits).
    """

    packed: PackedTensor
    scale: torch.Tensor | None = None
    zero_point: torch.Tensor | None = None
    group_size: int | None = None

    def __post_init__(self):
        if not isinstance(self.packed, PackedTensor):
            raise LowbitError(f"QuantizedTensor packed must be a PackedTensor, got {type(self.packed).__name__}")
        numel, g = self.packed.numel, self.group_size
        if g is not None and (isinstance(g, bool) or not isinstance(g, int) or g < 1 or numel % g):
            raise LowbitError(f"QuantizedTensor group_size must be None or a positive int dividing numel "
                              f"{numel}, got {describe(g)}")
        if self.scale is None and (g is not None or self.zero_point is not None):
            what = f"group_size={g}" if g is not None else "zero_point"
            raise LowbitError(f"QuantizedTensor {what} needs a scale, got scale=None")
        groups = 1 if g is None else numel // g
        for arg, t in (("scale", self.scale), ("zero_point", self.zero_point)):
            if t is None:
                continue
            if not isinstance(t, torch.Tensor) or t.numel() != groups:
                got = f"shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
                raise LowbitError(f"QuantizedTensor {arg} must be a tensor of {groups} value(s) for group_size={g} "
                                  f"and {numel} values, got {got}")
            if t.device != self.packed.device:
                raise LowbitError(f"QuantizedTensor {arg} must be on the packed data's device "
                                  f"{self.packed.device}, got {t.device}")
        if self.scale is not None and not self.scale.is_floating_point():
            raise LowbitError(f"QuantizedTensor scale must be a floating-point tensor, got {self.scale.dtype}")

    def to(self, device) -> "QuantizedTensor":
        """The same record with every tensor on ``device``."""
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return QuantizedTensor(self.packed.to(device), move(self.scale), move(self.zero_point), self.group_size)


def bits_for_range(max_value, min_value=0) -> int:
    """The fewest bits (1..8) that hold every integer code in ``[min_value, max_value]``.

    ``max_value <= 2**bits - 1``: 3 needs 2 bits and 15 needs 4 (BitPack's guess gave 3 and
    5), 16 needs 5, and 0 still takes 1 bit. Codes are unsigned bytes: a negative bound or one
    above 255 is refused, never wrapped.

    >>> [bits_for_range(m) for m in (0, 1, 3, 4, 15, 16, 255)]
    [1, 1, 2, 3, 4, 5, 8]
    """
    values = {}
    for arg, v in (("max_value", max_value), ("min_value", min_value)):
        try:
            if isinstance(v, bool) or (isinstance(v, torch.Tensor) and v.is_floating_point()):
                raise TypeError
            values[arg] = operator.index(v)
        except TypeError:
            raise LowbitError(f"{arg} must be an integer, got {describe(v)}") from None
        if not 0 <= values[arg] <= 255:
            raise LowbitError(f"{arg} must be in 0..255 (codes are unsigned bytes), got {values[arg]}")
    if values["min_value"] > values["max_value"]:
        raise LowbitError(f"min_value must be <= max_value {values['max_value']}, got {values['min_value']}")
    return max(values["max_value"].bit_length(), 1)


def _group_shape(shape: torch.Size, group_size: int | None) -> tuple[int, ...]:
    """Shape of a per-group scale: ternary's for groups along the last dim, else flat."""
    if group_size is None:
        return ()
    if shape and shape[-1] % group_size == 0:
        return (*shape[:-1], shape[-1] // group_size)
    return (math.prod(shape) // group_size,)


def to_scale(scale: torch.Tensor, what: str = "weights") -> torch.Tensor:
    """float32 scales as float16, rounded UP (never below the float32 value, so no code that
    fitted overflows), refused when one is above float16's largest value, 65504."""
    s16 = scale.to(SCALE_DTYPE)
    low = s16.float() < scale
    s16 = torch.where(low, torch.nextafter(s16, torch.full_like(s16, math.inf)), s16)
    if not bool(torch.isfinite(s16).all()):
        raise LowbitError(f"{what}: a scale of {float(scale.max()):.4g} does not fit float16 (largest 65504); "
                          f"scales are stored as float16")
    return s16


def _check_weights(weights, group_size) -> int:
    if not isinstance(weights, torch.Tensor) or not weights.is_floating_point():
        got = weights.dtype if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise LowbitError(f"weights must be a floating-point tensor, got {got}")
    n = weights.numel()
    if n == 0:
        raise LowbitError(f"weights must have at least one element, got shape {tuple(weights.shape)}")
    if group_size is not None and (isinstance(group_size, bool) or not isinstance(group_size, int)
                                   or group_size < 1 or n % group_size):
        raise LowbitError(f"group_size must be None or a positive int dividing weights.numel() = {n}, "
                          f"got {describe(group_size)}")
    return n


def quantize_uint(weights: torch.Tensor, bits: int, *, group_size: int | None = None, dim: int = -1,
                  symmetric: bool = False) -> QuantizedTensor:
    """Quantize to unsigned codes ``0..2**bits - 1``, packed along ``dim``.

    Per tensor (``group_size=None``), per output channel (``group_size = weights[0].numel()``,
    the number of inputs of a linear layer) or per run of ``group_size`` consecutive elements
    (see ``QuantizedTensor``).

    - asymmetric (default): each group's range is widened to include 0, so 0.0 is exactly a code
      (padding, ReLU zeros) and the zero point fits a uint8; scale ``(max - min) / (2**bits - 1)``;
    - ``symmetric=True``: scale ``absmax / (2**(bits - 1) - 1)`` and the zero point fixed at
      ``2**(bits - 1)``, so codes run ``1..2**bits - 1`` around it (code 0 unused); needs bits >= 2.

    An all-zero group gets scale 1. Scales are float16 (``to_scale``). Pack along a long dim:
    every row along ``dim`` pads to whole bytes, so a 1x1 conv packed along its last dim (length
    1) would spend a byte per 4-bit code; ``dim=1`` (input channels) does not.

    >>> q = quantize_uint(torch.tensor([-1.0, 0.0, 2.0]), 2)
    >>> unpack(q.packed), q.scale, q.zero_point
    (tensor([0, 1, 3], dtype=torch.uint8), tensor(1., dtype=torch.float16), tensor(1, dtype=torch.uint8))
    >>> q = quantize_uint(torch.tensor([-1.0, 0.0, 2.0]), 3, symmetric=True)   # scale 2 / 3 (float16: 0.667), zero point 4
    >>> unpack(q.packed), q.zero_point, dequantize(q)
    (tensor([3, 4, 7], dtype=torch.uint8), tensor(4, dtype=torch.uint8), tensor([-0.6670,  0.0000,  2.0010]))
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise LowbitError(f"bits must be an int in 1..8, got {describe(bits)}")
    if not isinstance(symmetric, bool):
        raise LowbitError(f"symmetric must be True or False, got {describe(symmetric)}")
    if symmetric and bits < 2:
        raise LowbitError(f"bits must be at least 2 for symmetric quantization (1 bit has no code for 0 and "
                          f"one each side), got {bits}")
    n = _check_weights(weights, group_size)
    qmax = 2**bits - 1
    x = weights.detach().float().reshape(-1, group_size or n)  # (G, g)
    if symmetric:
        scale = x.abs().amax(dim=1) / (2 ** (bits - 1) - 1)  # (G,), NaN propagates
    else:
        lo, hi = x.amin(dim=1).clamp(max=0), x.amax(dim=1).clamp(min=0)  # (G,)
        scale = (hi - lo) / qmax
    # A NaN or inf weight makes its group's scale non-finite. Quantization runs once per weight,
    # offline: one host sync buys never packing NaN as a code.
    if not bool(torch.isfinite(scale).all()):
        raise LowbitError(f"weights must be finite (with max - min within float32), got a tensor of shape "
                          f"{tuple(weights.shape)} holding NaN or inf")
    scale = to_scale(torch.where(scale > 0, scale, torch.ones_like(scale)))  # all-zero group: any scale gives 0
    s = scale.float()
    if symmetric:
        zero_point = torch.full_like(s, 2 ** (bits - 1))
    else:
        zero_point = torch.round(-lo / s).clamp(0, qmax)  # (G,)
    codes = (torch.round(x / s[:, None]) + zero_point[:, None]).clamp(0, qmax).to(torch.uint8)  # (G, g)
    groups = _group_shape(weights.shape, group_size)
    return QuantizedTensor(pack(codes.reshape(weights.shape), bits, dim=dim), scale.reshape(groups),
                           zero_point.to(torch.uint8).reshape(groups), group_size)


def quantize_trits(weights: torch.Tensor, *, scheme: str = "ternary2", group_size: int | None = None,
                   dim: int = -1) -> QuantizedTensor:
    """Absmean ternary codes from ``ternary.quantize_ternary`` (groups along the last dim), their
    scale stored as float16, packed along ``dim`` as ``scheme``: "ternary2" (2 bits per trit) or
    "base3" (5 trits per byte, 1.6 bits).

    >>> q = quantize_trits(torch.tensor([0.5, 3.5, 0.0, -1.0]), scheme="base3")
    >>> unpack(q.packed), q.scale, q.packed.nbytes
    (tensor([ 0,  1,  0, -1], dtype=torch.int8), tensor(1.2500, dtype=torch.float16), 1)
    """
    if scheme not in ("ternary2", "base3"):
        raise LowbitError(f"scheme must be 'ternary2' or 'base3', got {describe(scheme)}")
    codes, scale = quantize_ternary(weights, group_size=group_size)
    packed = (pack_ternary if scheme == "ternary2" else pack_base3)(codes, dim=dim)
    return QuantizedTensor(packed, to_scale(scale.float()), None, group_size)


def dequantize(q: QuantizedTensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``(code - zero_point) * scale`` per group, in the packed tensor's shape.

    Computed in float32 (float64 for a float64 scale) and returned in ``dtype``, by default
    that same float32 (or float64).
    """
    if not isinstance(q, QuantizedTensor):
        raise LowbitError(f"q must be a QuantizedTensor, got {type(q).__name__}")
    acc = torch.float64 if q.scale is not None and q.scale.dtype == torch.float64 else torch.float32
    codes = unpack(q.packed)
    x = codes.to(acc).reshape(-1, q.group_size or max(codes.numel(), 1))  # (G, g)
    if q.zero_point is not None:
        x = x - q.zero_point.to(acc).reshape(-1, 1)
    if q.scale is not None:
        x = x * q.scale.to(acc).reshape(-1, 1)
    return x.reshape(codes.shape).to(dtype or acc)
