"""Vectorized packing of unsigned integers of any width from 1 to 8 bits, along any dim.

Lesson 02. ``pack(values, bits)`` stores ``n`` values of ``bits`` bits in ``ceil(n * bits / 8)``
bytes per row along ``dim``; ``unpack`` gives back exactly the original tensor (shape, dtype,
device), and is the one unpack for every ``PackedTensor`` scheme.

The layout
----------
Each row along ``dim`` is a bit stream in which value ``i`` occupies stream bits
``[i*bits, (i+1)*bits)``; the last byte is padded with zero bits. ``pack_bits(..., offset=k)``
stores each value as the field ``value + k`` and pads with the field ``k`` (a zero value): 2-bit
ternary stores ``trit + 1`` with ``offset=1``, so its padding reads as trit 0.

- ``order="lsb"`` (default, lesson 01's convention): a little-endian bit stream. Stream bit ``k``
  is bit ``k % 8`` of byte ``k // 8``, so the first value sits in the low bits:
  ``[1, 0, 3, 2]`` at 2 bits is ``0b10110001 = 177``.
- ``order="msb"``: the mirror image, a big-endian bit stream. Stream bit ``k`` is bit
  ``7 - k % 8`` of byte ``k // 8`` and each value is written most significant bit first, so
  the first value sits in the high bits: ``[1, 0, 3, 2]`` is ``0b01001110 = 78``, the layout
  of the strided-slice packer of lesson 02. Equivalently, msb reverses the values of each group and
  the bytes of its result.

Widths that divide 8 fill whole bytes. 3, 5, 6 and 7 straddle bytes; their pattern repeats
every 8 values, which fill ``bits`` bytes. One group per width: letters name the group's values
(``a`` first), the digit under a letter is which bit of that value it is, bytes are drawn most
significant bit first::

    bits=1   byte 0
    lsb      hgfedcba
             00000000
    msb      abcdefgh
             00000000

    bits=2   byte 0
    lsb      ddccbbaa
             10101010
    msb      aabbccdd
             10101010

    bits=3   byte 0    byte 1    byte 2
    lsb      ccbbbaaa  feeedddc  hhhgggff
             10210210  02102102  21021021
    msb      aaabbbcc  cdddeeef  ffggghhh
             21021021  02102102  10210210

    bits=4   byte 0
    lsb      bbbbaaaa
             32103210
    msb      aaaabbbb
             32103210

    bits=5   byte 0    byte 1    byte 2    byte 3    byte 4
    lsb      bbbaaaaa  dcccccbb  eeeedddd  ggfffffe  hhhhhggg
             21043210  04321043  32104321  10432104  43210432
    msb      aaaaabbb  bbcccccd  ddddeeee  efffffgg  ggghhhhh
             43210432  10432104  32104321  04321043  21043210

    bits=6   byte 0    byte 1    byte 2    byte 3    byte 4    byte 5
    lsb      bbaaaaaa  ccccbbbb  ddddddcc  ffeeeeee  ggggffff  hhhhhhgg
             10543210  32105432  54321054  10543210  32105432  54321054
    msb      aaaaaabb  bbbbcccc  ccdddddd  eeeeeeff  ffffgggg  gghhhhhh
             54321054  32105432  10543210  54321054  32105432  10543210

    bits=7   byte 0    byte 1    byte 2    byte 3    byte 4    byte 5    byte 6
    lsb      baaaaaaa  ccbbbbbb  dddccccc  eeeedddd  fffffeee  ggggggff  hhhhhhhg
             06543210  10654321  21065432  32106543  43210654  54321065  65432106
    msb      aaaaaaab  bbbbbbcc  cccccddd  ddddeeee  eeefffff  ffgggggg  ghhhhhhh
             65432106  54321065  43210654  32106543  21065432  10654321  06543210

    bits=8   byte 0
    lsb      aaaaaaaa
             76543210
    msb      aaaaaaaa
             76543210

Shapes: ``data`` is the original shape with ``shape[dim]`` replaced by ``ceil(n * bits / 8)``.
A 0-d tensor packs as one value (``data`` of shape ``(1,)``, ``dim`` 0 or -1) and unpacks to a
0-d tensor. Empty tensors pack to empty ``data`` of that shape (``(0,)`` -> ``(0,)``,
``(3, 0)`` -> ``(3, 0)``; along dim 0, ``(3, 0)`` -> ``(ceil(3 * bits / 8), 0)``).

How it runs: this module is the reference, each byte built from whole slices of values with
shifts and ORs (``_pack_slices``, ``_unpack_slices``: the strided-slice packing of lesson 02, for
every width, dim and order), on the input's device, with no host round trip beyond the one sync
of the range check. When the packed dim is innermost, ``lowbit_ref._uintx_fast`` (imported with
``lowbit_ref``) reads each group of values as one machine word instead; it produces the same bytes
(its tests compare the two). On the CPU both work in chunks of about half a MiB, so temporaries
stay in cache and uint8 and int8 values are range-checked chunk by chunk while they are there.
``lowbit_ref.bitstream`` is the slowest and most obvious version of all, one bit at a time: the
oracle the tests and ``python -m lowbit_ref.bench`` check both against.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .checks import INTEGER_DTYPES  # noqa: F401  (uintx.INTEGER_DTYPES: the dtypes pack accepts)
from .checks import check_bits, check_dim, check_order, check_out, check_range, check_unpack_args, check_values, in_range
from .errors import LowbitError, describe
from .packed import PackedTensor, register_unpacker, unpack

__all__ = ["pack", "unpack", "pack_bits", "unpack_bits", "bit_layout", "check_out"]

_CHUNK_BYTES = 1 << 19  # CPU: unpacked bytes per chunk, so temporaries stay in cache
#: What packs and unpacks: the plain slice path below, or a faster one (``register_fast_path``).
_IMPL: dict[str, Callable] = {}


# --- public API -------------------------------------------------------------------------------


def pack(
    values: torch.Tensor, bits: int, *, dim: int = -1, order: str = "lsb", out: torch.Tensor | None = None
) -> PackedTensor:
    """Pack integers in ``0 .. 2**bits - 1`` into bytes along ``dim`` (layout: module docstring).

    ``values`` may have any integer dtype and any shape; values outside the range are refused,
    never wrapped. The result remembers shape, dtype, dim and order, so ``unpack`` needs nothing
    else.

    ``out``, if given, receives the packed bytes and becomes the result's ``data``: a contiguous
    uint8 tensor of the packed shape on the values' device (``PackedTensor.expected_data_shape``),
    sharing no memory with ``values``. Reusing one buffer saves the allocation (the operating
    system zeroes every new page). If ``pack`` raises, ``out`` may hold part of a result.

    >>> p = pack(torch.tensor([1, 0, 3, 2], dtype=torch.uint8), 2)
    >>> p.data
    tensor([177], dtype=torch.uint8)
    >>> pack(torch.tensor([1, 0, 3, 2]), 2, order="msb").data
    tensor([78], dtype=torch.uint8)
    >>> pack(torch.tensor([[7, 0, 0, 0, 0, 0, 0, 0, 5]]), 3).data
    tensor([[7, 0, 0, 5]], dtype=torch.uint8)
    >>> unpack(p)
    tensor([1, 0, 3, 2], dtype=torch.uint8)
    >>> buffer = torch.empty(1, dtype=torch.uint8)
    >>> pack(torch.tensor([1, 0, 3, 2]), 2, out=buffer).data is buffer
    True
    """
    data = pack_bits(values, bits, dim, order, out=out)
    dim = check_dim(dim, values.shape)
    return PackedTensor(data, int(bits), values.shape, dim, order, "uint", values.dtype)


def _unpack_uint(packed: PackedTensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """``unpack`` for scheme "uint" (registered with ``lowbit_ref.packed``).

    >>> x = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.int16)
    >>> unpack(pack(x, 3, dim=0)).equal(x)
    True
    >>> buffer = torch.empty(2, 3, dtype=torch.int16)
    >>> unpack(pack(x, 3), out=buffer) is buffer
    True
    """
    n = packed.shape[packed.dim] if packed.shape else 1
    if out is not None:
        check_out(out, packed.shape, packed.dtype, packed.device, packed.data, "packed.data")
        rows = packed.data.shape[: packed.dim] + (n,) + packed.data.shape[packed.dim + 1 :]  # 0-d: (1,)
        _unpack_bits(packed.data, packed.bits, n, packed.dim, packed.order, packed.dtype, out.view(rows))
        return out
    values = _unpack_bits(packed.data, packed.bits, n, packed.dim, packed.order, packed.dtype)
    return values.reshape(packed.shape)


register_unpacker("uint", _unpack_uint)


def pack_bits(
    values: torch.Tensor, bits: int, dim: int = -1, order: str = "lsb", *,
    out: torch.Tensor | None = None, offset: int = 0,
) -> torch.Tensor:
    """The bytes of ``pack(values, bits, dim=dim, order=order)``, as a plain uint8 tensor.

    The lower-level half of ``pack`` for modules that keep their own metadata. ``offset`` stores
    each value as the field ``value + offset`` and pads with the field ``offset``; values must then
    be in ``-offset .. 2**bits - 1 - offset`` (2-bit ternary: trits with ``offset=1``). Checks its
    input exactly like ``pack``, and writes into ``out`` like ``pack``.

    >>> pack_bits(torch.tensor([[1, 0, 3, 2, 3]]), 2)
    tensor([[177,   3]], dtype=torch.uint8)
    >>> pack_bits(torch.tensor([0, -1, 1]), 2, offset=1)  # fields 1, 0, 2 and a padding field 1
    tensor([97], dtype=torch.uint8)
    """
    check_values(values)
    bits = check_bits(bits)
    top = (1 << bits) - 1
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= top:
        raise LowbitError(f"offset must be an int in 0..{top} for bits={bits}, got {describe(offset)}")
    dim = check_dim(dim, values.shape)
    check_order(order)
    if out is not None:
        shape = list(values.shape) or [1]
        shape[dim] = math.ceil(shape[dim] * bits / 8)
        check_out(out, shape, torch.uint8, values.device, values, "values")
    data = _pack_fields(values, bits, dim, order, out, offset, top)
    if data is None:  # a value does not fit: raise with its index
        with_offset = f" with offset={offset}" if offset else ""
        check_range(values.reshape(-1) if values.dim() == 0 else values, -offset, top - offset,
                    f"to fit bits={bits}{with_offset}")
        raise AssertionError("a range check failed, then passed")  # pragma: no cover
    return data


def unpack_bits(
    data: torch.Tensor, bits: int, n: int, dim: int = -1, order: str = "lsb", *, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Undo ``pack_bits``: ``n`` values of ``bits`` bits per row along ``dim``, as uint8.

    ``data.shape[dim]`` must be ``ceil(n * bits / 8)``; padding bits are ignored. ``out``, if
    given, is a contiguous uint8 tensor of the result's shape; it receives the values and is
    returned.

    >>> unpack_bits(torch.tensor([177, 3], dtype=torch.uint8), 2, 5)
    tensor([1, 0, 3, 2, 3], dtype=torch.uint8)
    """
    if out is None:
        return _unpack_bits(data, bits, n, dim, order, torch.uint8)
    _, d, n = check_unpack_args(data, bits, n, dim, order)
    check_out(out, data.shape[:d] + (n,) + data.shape[d + 1 :], torch.uint8, data.device, data, "data")
    return _unpack_bits(data, bits, n, dim, order, torch.uint8, out)


def bit_layout(bits: int, order: str = "lsb") -> list[list[tuple[int, int]]]:
    """Who owns each bit of one group: per byte, ``(value index, bit of that value)`` from bit 7 to 0.

    This is the drawing in the module docstring, as data (the lesson's layout viewer uses it).

    >>> bit_layout(2)
    [[(3, 1), (3, 0), (2, 1), (2, 0), (1, 1), (1, 0), (0, 1), (0, 0)]]
    """
    bits = check_bits(bits)
    check_order(order)
    layout = []
    for m in range(_group(bits)[1]):
        pieces = _pieces_of_byte(bits, order, m)
        layout.append([(j, bit - s) for bit in range(7, -1, -1) for j, s in pieces if 0 <= bit - s < bits])
    return layout


# --- layout arithmetic ------------------------------------------------------------------------


def _group(bits: int) -> tuple[int, int]:
    """(values, bytes) of the smallest repeating unit: (8 // bits, 1) or (8, bits)."""
    return (8 // bits, 1) if 8 % bits == 0 else (8, bits)


def _shift(bits: int, order: str, j: int, m: int) -> int:
    """Where bit 0 of value ``j`` of a group lands in byte ``m`` (negative: below bit 0).

    Value bit ``q`` is byte bit ``q + shift`` when that is in 0..7. lsb: stream bit ``bits*j + q``
    is byte bit ``bits*j + q - 8m``. msb: value bit ``q`` is stream bit ``bits*j + bits-1 - q``,
    byte bit ``7 - (that - 8m)``.
    """
    return bits * j - 8 * m if order == "lsb" else 8 * (m + 1) - bits * (j + 1)


def _pieces_of_byte(bits: int, order: str, m: int) -> list[tuple[int, int]]:
    """(value j, shift) for every value with bits in byte ``m`` of a group."""
    return [(j, s) for j in range(_group(bits)[0]) if -bits < (s := _shift(bits, order, j, m)) < 8]


def _pieces_of_value(bits: int, order: str, j: int) -> list[tuple[int, int]]:
    """(byte m, shift) for every byte holding bits of value ``j`` of a group."""
    return [(m, s) for m in range(_group(bits)[1]) if -bits < (s := _shift(bits, order, j, m)) < 8]


def _chunk(groups: int, bytes_per_group: int, device: torch.device) -> int:
    """Groups per chunk: about ``_CHUNK_BYTES`` of values on the CPU, all at once elsewhere."""
    return max(1, min(groups, _CHUNK_BYTES // bytes_per_group) if device.type == "cpu" else groups)


def _spans(total: int, chunk: int):
    return ((s, min(total, s + chunk)) for s in range(0, total, chunk))


# --- slice path: values of a group are whole slices, each byte is a few shifts and ORs --------


def _pack_slices(u: torch.Tensor, bits: int, order: str, out: torch.Tensor | None = None,
                 top: int | None = None, offset: int = 0) -> torch.Tensor | None:
    """(groups, per_group, inner) uint8 values -> (groups, group_bytes, inner) packed bytes.

    Each value is stored as the field ``value + offset`` (uint8 arithmetic). With ``top``, each
    chunk's fields are checked while they are in cache: a field above ``top`` stops the work and
    the result is None.
    """
    per_group, group_bytes = _group(bits)
    groups, _, inner = u.shape
    if out is None:
        out = torch.empty(groups, group_bytes, inner, dtype=torch.uint8, device=u.device)
    chunk = _chunk(groups, per_group * inner, u.device)
    tmp = torch.empty(chunk, inner, dtype=torch.uint8, device=u.device)
    moved = torch.empty(chunk, per_group, inner, dtype=torch.uint8, device=u.device) if offset else None
    for s, e in _spans(groups, chunk):
        fields = torch.add(u[s:e], offset, out=moved[: e - s]) if offset else u[s:e]
        if top is not None and fields.amax() > top:
            return None
        for m in range(group_bytes):
            byte = out[s:e, m]
            for k, (j, shift) in enumerate(_pieces_of_byte(bits, order, m)):
                _shift_into(fields[:, j], shift, byte if k == 0 else tmp[: e - s])
                if k:
                    byte.bitwise_or_(tmp[: e - s])
    return out


def _unpack_slices(d: torch.Tensor, bits: int, order: str, out: torch.Tensor,
                   offset: int = 0, top: int | None = None) -> bool:
    """(groups, group_bytes, inner) packed bytes -> ``out``, (groups, per_group, inner) uint8.

    Each field comes out as ``field - offset`` (uint8 arithmetic: -1 is 255, int8 views read it
    back). With ``top``, a field above it returns False.
    """
    per_group, group_bytes = _group(bits)
    groups, _, inner = d.shape
    chunk = _chunk(groups, per_group * inner, d.device)
    tmp = torch.empty(chunk, inner, dtype=torch.uint8, device=d.device)
    for s, e in _spans(groups, chunk):
        for j in range(per_group):
            value = out[s:e, j]
            for k, (m, shift) in enumerate(_pieces_of_value(bits, order, j)):
                _shift_into(d[s:e, m], -shift, value if k == 0 else tmp[: e - s])
                if k:
                    value.bitwise_or_(tmp[: e - s])
            value.bitwise_and_((1 << bits) - 1)
        if top is not None and out[s:e].amax() > top:
            return False
        if offset:
            out[s:e].sub_(offset)
    return True


def _shift_into(x: torch.Tensor, shift: int, out: torch.Tensor) -> None:
    """``out = x << shift`` in uint8 (bits pushed past bit 7 drop out), ``>>`` when negative."""
    if shift >= 0:
        torch.bitwise_left_shift(x, shift, out=out)
    else:
        torch.bitwise_right_shift(x, -shift, out=out)


# --- the plain implementation, and where a faster one plugs in --------------------------------


def register_fast_path(pack_impl: Callable, unpack_impl: Callable) -> None:
    """Let ``pack_impl``/``unpack_impl`` do the work of ``_pack_plain``/``_unpack_plain`` (same
    arguments, same bytes). lowbit_ref._uintx_fast registers itself here when lowbit_ref is imported."""
    _IMPL["pack"], _IMPL["unpack"] = pack_impl, unpack_impl


def _pack_plain(values, bits, dim, order, out, offset, top) -> torch.Tensor | None:
    """``pack_bits`` after its checks, the plain way: pad, then pack by slices.

    None when a field would exceed ``top`` (the caller raises, naming the value).
    """
    x = values.reshape(1) if values.dim() == 0 else values
    outer, n, inner = _split_shape(x.shape, dim)
    out_shape = x.shape[:dim] + (math.ceil(n * bits / 8),) + x.shape[dim + 1 :]
    if not in_range(x, -offset, top - offset):
        return None
    if x.numel() == 0:
        return out if out is not None else torch.zeros(out_shape, dtype=torch.uint8, device=x.device)
    per_group, group_bytes = _group(bits)
    groups = math.ceil(n / per_group)
    fields = torch.full((outer, groups * per_group, inner), offset, dtype=torch.uint8, device=x.device)
    fields[:, :n] = x.reshape(outer, n, inner)  # in range, so the cast to uint8 keeps every value...
    fields[:, :n] += offset  # ...but -1's 255: + 1 wraps it to the field 0
    data = _pack_slices(fields.view(-1, per_group, inner), bits, order)  # (outer * groups, group_bytes, inner)
    data = data.view(outer, groups * group_bytes, inner)[:, : out_shape[dim]].reshape(out_shape)
    return data.contiguous() if out is None else out.copy_(data)


def _unpack_plain(data, bits, n, dim, order, dtype, out, offset, top) -> torch.Tensor | None:
    """``_unpack_bits`` after its checks, the plain way: pad, unpack by slices, cut."""
    outer, nbytes, inner = _split_shape(data.shape, dim)
    out_shape = data.shape[:dim] + (n,) + data.shape[dim + 1 :]
    if outer * n * inner == 0:
        return out if out is not None else torch.zeros(out_shape, dtype=dtype, device=data.device)
    per_group, group_bytes = _group(bits)
    groups = math.ceil(n / per_group)
    padded = torch.zeros(outer, groups * group_bytes, inner, dtype=torch.uint8, device=data.device)
    padded[:, :nbytes] = data.reshape(outer, nbytes, inner)
    values = torch.empty(outer * groups, per_group, inner, dtype=torch.uint8, device=data.device)
    if not _unpack_slices(padded.view(-1, group_bytes, inner), bits, order, values, offset, top):
        return None
    values = values.view(outer, groups * per_group, inner)[:, :n]
    values = (values.view(torch.int8) if offset else values).reshape(out_shape)
    return values.to(dtype) if out is None else out.copy_(values)


def _pack_fields(values, bits, dim, order, out, offset, top) -> torch.Tensor | None:
    """The bytes of ``values + offset`` as ``bits``-bit fields, arguments already checked; None
    when a field would exceed ``top`` (the caller raises, naming the value)."""
    return _IMPL["pack"](values, bits, dim, order, out, offset, top)


def _unpack_bits(data, bits, n, dim, order, dtype, out=None, offset=0, top=None) -> torch.Tensor | None:
    """The fields of ``data`` minus ``offset``, as ``dtype``, written into ``out`` (already checked) if given.

    With ``offset`` the values come out as int8 before the cast to ``dtype`` (a field 0 minus 1 is
    -1). With ``top``, a field above it makes this return None.
    """
    bits, dim, n = check_unpack_args(data, bits, n, dim, order)
    return _IMPL["unpack"](data, bits, n, dim, order, dtype, out, offset, top)


def _split_shape(shape, dim: int) -> tuple[int, int, int]:
    return math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1 :])


register_fast_path(_pack_plain, _unpack_plain)  # until a faster path registers
