"""Argument checks shared by every packing module: one function, one message per mistake.

Each check raises ``LowbitError`` naming the argument, the value received and what is accepted,
and returns the value in the form the caller uses (a plain int, a non-negative dim). ``caller``,
where a check takes it, prefixes the message (``"pack_ternary: dim must be ..."``).

>>> check_dim(-1, (3, 4))
1
>>> check_dim(2, (3, 4), "pack_ternary")
Traceback (most recent call last):
...
lowbit_ref.errors.LowbitError: pack_ternary: dim must be an int in -2..1 for a tensor of shape (3, 4), got 2
"""

from __future__ import annotations

import math
import numbers

import torch

from .errors import LowbitError, describe

#: Orders of the bits in a byte: "lsb" puts the first value in the low bits, "msb" in the high.
ORDERS = ("lsb", "msb")
#: Integer dtypes ``pack`` accepts; ``unpack`` returns the one it was given.
INTEGER_DTYPES = tuple(
    getattr(torch, name)
    for name in ("uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64")
    if hasattr(torch, name)
)
#: Integer dtypes that hold trits; the packers remember which one and unpack to it.
TRIT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64)
_SIGNED_VIEW = {  # torch has no comparisons for uint16/32/64; their same-size signed view has
    getattr(torch, f"uint{w}"): getattr(torch, f"int{w}")  # every out-of-range value below 0
    for w in (16, 32, 64)
    if hasattr(torch, f"uint{w}")
}


def _prefix(caller: str | None) -> str:
    return f"{caller}: " if caller else ""


def check_dim(dim, shape, caller: str | None = None) -> int:
    """``dim`` as an index in ``0..ndim-1``; a 0-d tensor packs as one value along dim 0."""
    ndim = max(len(shape), 1)
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -ndim <= dim < ndim:
        raise LowbitError(
            f"{_prefix(caller)}dim must be an int in {-ndim}..{ndim - 1} for a tensor of shape "
            f"{tuple(shape)}, got {describe(dim)}"
        )
    return int(dim) % ndim


def check_bits(bits) -> int:
    """``bits`` as a plain int in 1..8."""
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 1 <= bits <= 8:
        raise LowbitError(f"bits must be an int in 1..8, got {describe(bits)}")
    return int(bits)


def check_order(order) -> str:
    if not isinstance(order, str) or order not in ORDERS:
        raise LowbitError(f"order must be one of {ORDERS}, got {describe(order)}")
    return order


def check_values(values) -> torch.Tensor:
    """A tensor of one of ``INTEGER_DTYPES`` (the values to pack)."""
    if not isinstance(values, torch.Tensor):
        raise LowbitError(f"values must be a torch.Tensor of integers, got {type(values).__name__}")
    if values.dtype not in INTEGER_DTYPES:
        names = ", ".join(str(t).removeprefix("torch.") for t in INTEGER_DTYPES)
        raise LowbitError(f"values must have an integer dtype ({names}), got {values.dtype}")
    return values


def check_range(x: torch.Tensor, low: int, high: int, what: str) -> None:
    """Refuse values outside ``low..high``: one reduction and one sync, no wrapping.

    ``what`` ends the message's first half: ``values must be in 0..3 {what}``.
    """
    v = x.view(_SIGNED_VIEW.get(x.dtype, x.dtype))  # uint16/32/64 >= 2**(w-1) read as < 0
    info = torch.iinfo(v.dtype)
    if x.numel() == 0 or (info.min >= low and info.max <= high):
        return  # every value of the dtype fits: uint8 at 8 bits
    # Compare as int64: torch casts a scalar to the tensor's dtype, so int8 > 255 is int8 > -1.
    lo, hi = (m.long() for m in torch.aminmax(v))
    if not bool((lo < low) | (hi > high)):
        return
    wide = v.long()  # error path only
    index = tuple(((wide < low) | (wide > high)).nonzero()[0].tolist())  # the first bad value
    if x.dtype in _SIGNED_VIEW:
        got = f"{int(v[index]) % (1 << 8 * x.element_size())} at index {index}"
    else:
        got = f"{int(v[index])} at index {index} (min {int(lo)}, max {int(hi)})"
    raise LowbitError(f"values must be in {low}..{high} {what}, got {got}")


def in_range(x: torch.Tensor, low: int, high: int) -> bool:
    """Whether every value of ``x`` is in ``low..high`` (``check_range`` without the message)."""
    try:
        check_range(x, low, high, "")
    except LowbitError:
        return False
    return True


def check_unpack_args(data, bits, n, dim, order) -> tuple[int, int, int]:
    """The arguments of a bit-stream unpack: ``(bits, dim, n)`` as plain ints, or ``LowbitError``.

    ``data`` must be uint8 packed bytes with ``ceil(n * bits / 8)`` bytes along ``dim``.
    """
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8:
        got = data.dtype if isinstance(data, torch.Tensor) else type(data).__name__
        raise LowbitError(f"data must be a torch.uint8 tensor of packed bytes, got {got}")
    if data.dim() == 0:
        raise LowbitError("data must have at least one dimension (a 0-d tensor packs to shape (1,)), got a 0-d tensor")
    bits = check_bits(bits)
    check_order(order)
    dim = check_dim(dim, data.shape)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise LowbitError(f"n must be a non-negative int (values per row along dim), got {describe(n)}")
    nbytes = data.shape[dim]
    if nbytes != math.ceil(n * bits / 8):
        raise LowbitError(
            f"data has {nbytes} bytes along dim {dim}, but n={n} values of {bits} bits need "
            f"ceil({n} * {bits} / 8) = {math.ceil(n * bits / 8)}"
        )
    return bits, dim, int(n)


def check_out(
    out, shape, dtype: torch.dtype, device: torch.device, source: torch.Tensor, source_name: str
) -> torch.Tensor:
    """Raise ``LowbitError`` unless ``out`` can receive a result of ``shape`` and ``dtype``.

    It must be a contiguous tensor of exactly that shape and dtype on ``device`` that shares no
    memory with ``source`` (the input it is computed from: writing one while reading the other
    would corrupt both). Returns ``out``.

    >>> buffer = torch.empty(2, dtype=torch.uint8)
    >>> check_out(buffer, (2,), torch.uint8, torch.device("cpu"), torch.zeros(8), "values") is buffer
    True
    """
    if not isinstance(out, torch.Tensor):
        raise LowbitError(f"out must be None or a torch.Tensor, got {type(out).__name__}")
    want = f"a contiguous {dtype} tensor of shape {tuple(shape)} on {device}"
    if out.dtype != dtype or tuple(out.shape) != tuple(shape) or out.device != device or not out.is_contiguous():
        layout = "contiguous" if out.is_contiguous() else "non-contiguous"
        got = f"a {layout} {out.dtype} tensor of shape {tuple(out.shape)} on {out.device}"
        raise LowbitError(f"out must be {want}, got {got}")
    if out.numel() and source.numel() and out.untyped_storage().data_ptr() == source.untyped_storage().data_ptr():
        raise LowbitError(f"out must not share memory with {source_name}, got a view of the same storage")
    return out


def first_bad(mask: torch.Tensor, values: torch.Tensor) -> tuple[tuple[int, ...], object]:
    """Index and value of the first True in ``mask`` (error paths only: it syncs with the device)."""
    if mask.dim() == 0:
        return (), values.item()
    index = tuple(torch.nonzero(mask)[0].tolist())
    return index, values[index].item()


def check_trit_dtype(trits, name: str = "trits") -> torch.Tensor:
    """The type half of ``check_trits``: packers that check values chunk by chunk call this first."""
    if not isinstance(trits, torch.Tensor):
        raise LowbitError(f"{name} must be a torch.Tensor of -1, 0, 1, got {type(trits).__name__}")
    if trits.dtype not in TRIT_DTYPES:
        hint = " (trits are signed: pass t, not t + 1)" if trits.dtype == torch.uint8 else ""
        raise LowbitError(
            f"{name} must have a signed integer dtype (int8, int16, int32 or int64), got {trits.dtype}{hint}"
        )
    return trits


def check_trits(trits, *, name: str = "trits") -> torch.Tensor:
    """Raise ``LowbitError`` unless ``trits`` is a signed integer tensor of -1, 0 and 1; return it.

    One pass over the values (``aminmax``) and one bool back to the host; the slow search for the
    offending element runs only when there is one.

    >>> check_trits(torch.tensor([1, 0, -1]))
    tensor([ 1,  0, -1])
    """
    check_trit_dtype(trits, name)
    if trits.numel():
        lo, hi = torch.aminmax(trits)
        if (lo < -1) | (hi > 1):
            index, value = first_bad((trits < -1) | (trits > 1), trits)
            raise LowbitError(f"{name} must be -1, 0 or 1, got {value} at index {index}")
    return trits
