"""Vectorized packing of unsigned integers of any width from 1 to 8 bits, along any dim.

Lesson 02. ``pack(values, bits)`` stores ``n`` values of ``bits`` bits in ``ceil(n * bits / 8)``
bytes per row along ``dim``; ``unpack`` gives back exactly the original tensor (shape, dtype,
device), and is the one unpack for every ``PackedTensor`` scheme.

The layout
----------
Each row along ``dim`` is a bit stream in which value ``i`` occupies stream bits
``[i*bits, (i+1)*bits)``; the last byte is padded with zero bits.

- ``order="lsb"`` (default, lesson 01's convention): a little-endian bit stream. Stream bit ``k``
  is bit ``k % 8`` of byte ``k // 8``, so the first value sits in the low bits:
  ``[1, 0, 3, 2]`` at 2 bits is ``0b10110001 = 177``.
- ``order="msb"``: the mirror image, a big-endian bit stream. Stream bit ``k`` is bit
  ``7 - k % 8`` of byte ``k // 8`` and each value is written most significant bit first, so
  the first value sits in the high bits: ``[1, 0, 3, 2]`` is ``0b01001110 = 78``, seed 002's
  layout. Equivalently, msb reverses the values of each group and the bytes of its result.

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

How it runs: on the input's device, with no host round trip beyond the one sync of the range
check. When the packed dim is innermost (``dim=-1``, or only size-1 dims after it), the values
of a group are read as one machine word: a multiply packs 1, 2 and 4 bits, a 256-entry table
unpacks 1 and 2 bits, and exact shift-and-add steps on int16, int32 and int64 lanes do the
rest. Otherwise each byte is built from whole slices of values with shifts and ORs. On the CPU
the work goes in chunks of about half a MiB, so temporaries stay in cache and the result is
the only large allocation.
"""

from __future__ import annotations

import math
import numbers
import sys

import torch

from .errors import LowbitError, describe
from .packed import ORDERS, PackedTensor

#: Integer dtypes ``pack`` accepts; ``unpack`` returns the one it was given.
INTEGER_DTYPES = tuple(
    getattr(torch, name)
    for name in ("uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64")
    if hasattr(torch, name)
)
_SIGNED_VIEW = {  # torch has no comparisons for uint16/32/64; their same-size signed view has
    getattr(torch, f"uint{w}"): getattr(torch, f"int{w}")  # every out-of-range value below 0
    for w in (16, 32, 64)
    if hasattr(torch, f"uint{w}")
}
_WORD = {1: torch.int64, 2: torch.int32, 4: torch.int16}  # one group of bytes as one word
_LANES = ((torch.int16, 8), (torch.int32, 16), (torch.int64, 32))  # (lane dtype, half its bits)
_CHUNK_BYTES = 1 << 19  # CPU: unpacked bytes per chunk, so temporaries stay in cache
_LITTLE_ENDIAN = sys.byteorder == "little"  # the word path reads bytes as little-endian words


# --- public API -------------------------------------------------------------------------------


def pack(values: torch.Tensor, bits: int, *, dim: int = -1, order: str = "lsb") -> PackedTensor:
    """Pack integers in ``0 .. 2**bits - 1`` into bytes along ``dim`` (layout: module docstring).

    ``values`` may have any integer dtype and any shape; values outside the range are refused,
    never wrapped. The result remembers shape, dtype, dim and order, so ``unpack`` needs nothing
    else.

    >>> p = pack(torch.tensor([1, 0, 3, 2], dtype=torch.uint8), 2)
    >>> p.data
    tensor([177], dtype=torch.uint8)
    >>> pack(torch.tensor([1, 0, 3, 2]), 2, order="msb").data
    tensor([78], dtype=torch.uint8)
    >>> pack(torch.tensor([[7, 0, 0, 0, 0, 0, 0, 0, 5]]), 3).data
    tensor([[7, 0, 0, 5]], dtype=torch.uint8)
    >>> unpack(p)
    tensor([1, 0, 3, 2], dtype=torch.uint8)
    """
    data = pack_bits(values, bits, dim, order)
    dim = _check_dim(dim, values.shape)
    return PackedTensor(data, int(bits), values.shape, dim, order, "uint", values.dtype)


def unpack(packed: PackedTensor) -> torch.Tensor:
    """The tensor that was packed: same shape, dtype and device, for every scheme.

    "uint" is unpacked here; "ternary2" and "base3" by ``lowbit_ref.ternary`` and
    ``lowbit_ref.base3``.

    >>> x = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.int16)
    >>> unpack(pack(x, 3, dim=0)).equal(x)
    True
    """
    if not isinstance(packed, PackedTensor):
        raise LowbitError(f"packed must be a PackedTensor (from pack), got {type(packed).__name__}")
    if packed.scheme == "ternary2":
        from .ternary import unpack_ternary2

        return unpack_ternary2(packed)
    if packed.scheme == "base3":
        from .base3 import unpack_base3

        return unpack_base3(packed)
    n = packed.shape[packed.dim] if packed.shape else 1
    out = _unpack_bits(packed.data, packed.bits, n, packed.dim, packed.order, packed.dtype)
    return out.reshape(packed.shape)


def pack_bits(values: torch.Tensor, bits: int, dim: int = -1, order: str = "lsb") -> torch.Tensor:
    """The bytes of ``pack(values, bits, dim=dim, order=order)``, as a plain uint8 tensor.

    The lower-level half of ``pack`` for modules that keep their own metadata (ternary packing
    reuses it). Checks its input exactly like ``pack``.

    >>> pack_bits(torch.tensor([[1, 0, 3, 2, 3]]), 2)
    tensor([[177,   3]], dtype=torch.uint8)
    """
    _check_values(values)
    bits = _check_bits(bits)
    dim = _check_dim(dim, values.shape)
    _check_order(order)
    x = values.reshape(1) if values.dim() == 0 else values
    outer, n, inner = _split_shape(x.shape, dim)
    nbytes = math.ceil(n * bits / 8)
    out_shape = x.shape[:dim] + (nbytes,) + x.shape[dim + 1 :]
    if x.numel() == 0:
        return torch.zeros(out_shape, dtype=torch.uint8, device=x.device)
    _check_range(x, bits)
    if bits == 8:
        return x.to(torch.uint8, memory_format=torch.contiguous_format, copy=True)

    per_group, group_bytes = _group(bits)
    groups = math.ceil(n / per_group)
    u = _uint8_rows(x, outer, n, inner, groups * per_group)  # (outer, groups * per_group, inner)
    if inner == 1 and _LITTLE_ENDIAN:
        data = _pack_words(u.view(-1, per_group), bits, order)
    else:
        data = _pack_slices(u.view(-1, per_group, inner), bits, order)
    data = data.view(outer, groups * group_bytes, inner)[:, :nbytes]
    return data.contiguous().view(out_shape)


def unpack_bits(data: torch.Tensor, bits: int, n: int, dim: int = -1, order: str = "lsb") -> torch.Tensor:
    """Undo ``pack_bits``: ``n`` values of ``bits`` bits per row along ``dim``, as uint8.

    ``data.shape[dim]`` must be ``ceil(n * bits / 8)``; padding bits are ignored.

    >>> unpack_bits(torch.tensor([177, 3], dtype=torch.uint8), 2, 5)
    tensor([1, 0, 3, 2, 3], dtype=torch.uint8)
    """
    return _unpack_bits(data, bits, n, dim, order, torch.uint8)


def bit_layout(bits: int, order: str = "lsb") -> list[list[tuple[int, int]]]:
    """Who owns each bit of one group: per byte, ``(value index, bit of that value)`` from bit 7 to 0.

    This is the drawing in the module docstring, as data (the lesson's layout viewer uses it).

    >>> bit_layout(2)
    [[(3, 1), (3, 0), (2, 1), (2, 0), (1, 1), (1, 0), (0, 1), (0, 0)]]
    """
    bits = _check_bits(bits)
    _check_order(order)
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


# --- word path: the packed dim is innermost, so a group of values is one machine word ----------


def _chunk(groups: int, bytes_per_group: int, device: torch.device) -> int:
    """Groups per chunk: about ``_CHUNK_BYTES`` of values on the CPU, all at once elsewhere."""
    return max(1, min(groups, _CHUNK_BYTES // bytes_per_group) if device.type == "cpu" else groups)


def _spans(total: int, chunk: int):
    return ((s, min(total, s + chunk)) for s in range(0, total, chunk))


def _pack_words(u: torch.Tensor, bits: int, order: str) -> torch.Tensor:
    """(groups, per_group) uint8 values -> (groups, group_bytes) packed bytes."""
    per_group, group_bytes = _group(bits)
    groups = u.shape[0]
    out = torch.empty(groups, group_bytes, dtype=torch.uint8, device=u.device)
    chunk = _chunk(groups, per_group, u.device)
    if group_bytes == 1:
        # 1, 2, 4 bits: one multiply copies every value of the word to its place in the top
        # byte. The copies never overlap (their offsets 8k + c_j are distinct multiples of
        # gcd(8, 8 -+ bits) >= bits), so nothing carries and the top byte is the packed byte.
        word, word_bits = _WORD[bits], 8 * per_group
        multiplier = sum(1 << (word_bits - 8 + _shift(bits, order, j, 0) - 8 * j) for j in range(per_group))
        multiplier -= (1 << word_bits) if multiplier >= 1 << (word_bits - 1) else 0
        buf = torch.empty(chunk, 1, dtype=word, device=u.device)  # (chunk, 1): a group per word
        for s, e in _spans(groups, chunk):
            w = buf[: e - s]
            torch.mul(u[s:e].view(word), multiplier, out=w)
            w.bitwise_right_shift_(word_bits - 8)  # sign copies fill the bits above 7: dropped next
            out[s:e].copy_(w)  # a cast keeps the low byte, and unlike a strided copy it vectorizes
        return out
    # 3, 5, 6, 7 bits: merge neighbouring fields in the group's 8 bytes read as int16, int32,
    # then int64 lanes (see _merge); the stream ends in the low bytes of the int64.
    w = torch.empty(chunk, 8, dtype=torch.uint8, device=u.device)  # (chunk, 8): a group per row
    hi = torch.empty_like(w)  # the high fields of the current step
    mirrored = torch.empty(chunk, group_bytes, dtype=torch.uint8, device=u.device) if order == "msb" else None
    for s, e in _spans(groups, chunk):
        v, h = w[: e - s], hi[: e - s]
        src = u[s:e] if order == "lsb" else _reversed(u[s:e])
        for step, (dtype, half) in enumerate(_LANES):
            _merge(src if step == 0 else v, dtype, half, bits * half // 8, v, h)
        dst = out[s:e] if order == "lsb" else mirrored[: e - s]
        _copy_columns(v, dst, group_bytes)
        if order == "msb":
            out[s:e].copy_(_reversed(dst))
    return out


def _unpack_words(d: torch.Tensor, bits: int, order: str, out: torch.Tensor) -> None:
    """(groups, group_bytes) packed bytes -> ``out``, (groups, per_group) uint8 values."""
    per_group, group_bytes = _group(bits)
    groups = d.shape[0]
    chunk = _chunk(groups, per_group, d.device)
    if bits in (1, 2) or (bits == 4 and order == "msb"):
        # 256 possible bytes: look each one's values up as one little-endian word (cheaper
        # than shift steps at 8 or 4 values a byte, and than flipping msb nibbles).
        table = _table(bits, order, d.device)
        idx = torch.empty(chunk, dtype=torch.int32, device=d.device)  # index_select takes int32, not uint8
        words = out.view(_WORD[bits]).view(-1)
        for s, e in _spans(groups, chunk):
            i = idx[: e - s]
            i.copy_(d[s:e, 0])
            torch.index_select(table, 0, i, out=words[s:e])
        return
    # lsb 4 bits, and 3, 5, 6, 7: _pack_words' merges run backwards (_split), widest lane first.
    steps = [(dtype, half) for dtype, half in reversed(_LANES) if dtype.itemsize <= per_group]
    loaded = torch.zeros(chunk, per_group, dtype=torch.uint8, device=d.device)  # (chunk, per_group)
    w = torch.empty_like(loaded)  # loaded's bytes past group_bytes stay 0: steps write to w
    hi = torch.empty_like(loaded)
    for s, e in _spans(groups, chunk):
        src, v, h = loaded[: e - s], w[: e - s], hi[: e - s]
        packed = d[s:e] if order == "lsb" else _reversed(d[s:e])
        if group_bytes == 1:  # 4 bits: a cast zero-extends each byte to its int16 word
            src.view(torch.int16).copy_(packed)
        else:
            _copy_columns(packed, src, group_bytes)
        for step, (dtype, half) in enumerate(steps):
            last = step == len(steps) - 1 and order == "lsb"
            _split(src if step == 0 else v, dtype, half, bits * half // 8, out[s:e] if last else v, h)
        if order == "msb":
            out[s:e].copy_(_reversed(v))


def _copy_columns(src: torch.Tensor, dst: torch.Tensor, width: int) -> None:
    """``dst[:, :width] = src[:, :width]`` for byte rows of different lengths.

    A column at a time, two bytes at a time when ``width`` is even: long strided loops are
    faster than one (rows, width) copy, whose inner loop is only ``width`` long.
    """
    if width % 2 == 0:
        src, dst, width = src.view(torch.int16), dst.view(torch.int16), width // 2
    for m in range(width):
        dst[:, m].copy_(src[:, m])


def _merge(v, dtype, half, f, out, tmp):
    """Per lane (one ``dtype`` element): fields lo + hi << half -> lo + hi << f, exactly.

    Adding hi * (2**f - 2**half) moves the high field down next to the low one, with no masks,
    as long as the lane is zero outside the two f-bit fields.
    """
    v, out, tmp = v.view(dtype), out.view(dtype), tmp.view(dtype)
    if dtype == torch.int64 and 2 * f <= half:
        # int64 multiplies are slow without AVX-512. At 3 bits the low field shifts out whole;
        # the high one stays above the stream, never read (int64 is the last step).
        torch.bitwise_right_shift(v, half - f, out=tmp)
        torch.bitwise_or(v, tmp, out=out)
    else:
        torch.bitwise_right_shift(v, half, out=tmp)
        torch.add(v, tmp, alpha=(1 << f) - (1 << half), out=out)


def _split(v, dtype, half, f, out, tmp):
    """Undo ``_merge``: per lane lo + hi << f -> lo + hi << half (lane zero above 2f bits)."""
    v, out, tmp = v.view(dtype), out.view(dtype), tmp.view(dtype)
    if dtype == torch.int64 and 2 * f <= half:  # as in _merge: no int64 multiply at 3 bits
        torch.bitwise_left_shift(v, half - f, out=tmp)
        tmp.bitwise_or_(v)
        torch.bitwise_and(tmp, ((1 << f) - 1) * (1 + (1 << half)), out=out)
    else:
        torch.bitwise_right_shift(v, f, out=tmp)
        torch.add(v, tmp, alpha=(1 << half) - (1 << f), out=out)


def _reversed(rows: torch.Tensor) -> torch.Tensor:
    """A run of whole groups with its bytes in reverse order (a fast 1-D flip).

    msb is lsb mirrored: reversing a run of groups reverses the values in each group (and the
    group order); lsb-packing that and reversing the bytes again gives each group's msb bytes
    in the original group order. Unpacking mirrors the same way.
    """
    return rows.reshape(-1).flip(0).view(rows.shape)


_TABLES: dict = {}


def _table(bits: int, order: str, device: torch.device) -> torch.Tensor:
    """(256,) words: entry ``b`` holds the values packed in byte ``b``, one per byte."""
    key = (bits, order, device)
    if key not in _TABLES:
        per_byte = 8 // bits
        rows = [
            [(byte >> _shift(bits, order, j, 0)) & ((1 << bits) - 1) for j in range(per_byte)]
            for byte in range(256)
        ]
        table = torch.tensor(rows, dtype=torch.uint8).view(_WORD[bits]).view(256)
        _TABLES[key] = table.to(device)
    return _TABLES[key]


# --- slice path: values of a group are whole slices, each byte is a few shifts and ORs --------


def _pack_slices(u: torch.Tensor, bits: int, order: str) -> torch.Tensor:
    """(groups, per_group, inner) uint8 values -> (groups, group_bytes, inner) packed bytes."""
    per_group, group_bytes = _group(bits)
    groups, _, inner = u.shape
    out = torch.empty(groups, group_bytes, inner, dtype=torch.uint8, device=u.device)
    chunk = _chunk(groups, per_group * inner, u.device)
    tmp = torch.empty(chunk, inner, dtype=torch.uint8, device=u.device)
    for s, e in _spans(groups, chunk):
        for m in range(group_bytes):
            byte = out[s:e, m]
            for k, (j, shift) in enumerate(_pieces_of_byte(bits, order, m)):
                _shift_into(u[s:e, j], shift, byte if k == 0 else tmp[: e - s])
                if k:
                    byte.bitwise_or_(tmp[: e - s])
    return out


def _unpack_slices(d: torch.Tensor, bits: int, order: str, out: torch.Tensor) -> None:
    """(groups, group_bytes, inner) packed bytes -> ``out``, (groups, per_group, inner) uint8."""
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


def _shift_into(x: torch.Tensor, shift: int, out: torch.Tensor) -> None:
    """``out = x << shift`` in uint8 (bits pushed past bit 7 drop out), ``>>`` when negative."""
    if shift >= 0:
        torch.bitwise_left_shift(x, shift, out=out)
    else:
        torch.bitwise_right_shift(x, -shift, out=out)


# --- shared plumbing --------------------------------------------------------------------------


def _unpack_bits(data, bits, n, dim, order, dtype) -> torch.Tensor:
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8:
        got = data.dtype if isinstance(data, torch.Tensor) else type(data).__name__
        raise LowbitError(f"data must be a torch.uint8 tensor of packed bytes, got {got}")
    if data.dim() == 0:
        raise LowbitError("data must have at least one dimension (a 0-d tensor packs to shape (1,)), got a 0-d tensor")
    bits = _check_bits(bits)
    _check_order(order)
    dim = _check_dim(dim, data.shape)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise LowbitError(f"n must be a non-negative int (values per row along dim), got {describe(n)}")
    n = int(n)
    outer, nbytes, inner = _split_shape(data.shape, dim)
    if nbytes != math.ceil(n * bits / 8):
        raise LowbitError(
            f"data has {nbytes} bytes along dim {dim}, but n={n} values of {bits} bits need "
            f"ceil({n} * {bits} / 8) = {math.ceil(n * bits / 8)}"
        )
    out_shape = data.shape[:dim] + (n,) + data.shape[dim + 1 :]
    if outer * n * inner == 0:
        return torch.zeros(out_shape, dtype=dtype, device=data.device)
    if bits == 8:
        return data.to(dtype, memory_format=torch.contiguous_format, copy=True)

    per_group, group_bytes = _group(bits)
    groups = math.ceil(n / per_group)
    d = _uint8_rows(data, outer, nbytes, inner, groups * group_bytes)
    out = torch.empty(outer, groups * per_group, inner, dtype=torch.uint8, device=data.device)
    if inner == 1 and _LITTLE_ENDIAN:
        _unpack_words(d.view(-1, group_bytes), bits, order, out.view(-1, per_group))
    else:
        _unpack_slices(d.view(-1, group_bytes, inner), bits, order, out.view(-1, per_group, inner))
    out = out[:, :n]
    return out.to(dtype, memory_format=torch.contiguous_format).view(out_shape)


def _uint8_rows(x: torch.Tensor, outer: int, n: int, inner: int, padded: int) -> torch.Tensor:
    """``x`` as a contiguous (outer, padded, inner) uint8 tensor, zero-padded along the middle.

    No copy when ``x`` is already that (word views also need an 8-byte aligned start).
    """
    if x.dtype == torch.uint8 and padded == n and x.is_contiguous() and x.storage_offset() % 8 == 0:
        return x.view(outer, n, inner)
    u = torch.empty(outer, padded, inner, dtype=torch.uint8, device=x.device)
    u[:, n:].zero_()
    u[:, :n].copy_(x.reshape(outer, n, inner))
    return u


def _split_shape(shape, dim: int) -> tuple[int, int, int]:
    return math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1 :])


def _check_values(values) -> None:
    if not isinstance(values, torch.Tensor):
        raise LowbitError(f"values must be a torch.Tensor of integers, got {type(values).__name__}")
    if values.dtype not in INTEGER_DTYPES:
        names = ", ".join(str(t).removeprefix("torch.") for t in INTEGER_DTYPES)
        raise LowbitError(f"values must have an integer dtype ({names}), got {values.dtype}")


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 1 <= bits <= 8:
        raise LowbitError(f"bits must be an int in 1..8, got {describe(bits)}")
    return int(bits)


def _check_dim(dim, shape) -> int:
    ndim = max(len(shape), 1)  # a 0-d tensor packs as one value along dim 0
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -ndim <= dim < ndim:
        raise LowbitError(
            f"dim must be an int in {-ndim}..{ndim - 1} for a tensor of shape {tuple(shape)}, got {describe(dim)}"
        )
    return int(dim) % ndim


def _check_order(order) -> None:
    if not isinstance(order, str) or order not in ORDERS:
        raise LowbitError(f"order must be one of {ORDERS}, got {describe(order)}")


def _check_range(x: torch.Tensor, bits: int) -> None:
    """Refuse values outside ``0 .. 2**bits - 1``: one reduction and one sync, no wrapping."""
    top = (1 << bits) - 1
    v = x.view(_SIGNED_VIEW.get(x.dtype, x.dtype))  # uint16/32/64 >= 2**(w-1) read as < 0
    info = torch.iinfo(v.dtype)
    if info.min >= 0 and info.max <= top:
        return  # every value of the dtype fits: uint8 at 8 bits
    # Compare as int64: torch casts a scalar to the tensor's dtype, so int8 > 255 is int8 > -1.
    low, high = (m.long() for m in torch.aminmax(v))
    if not bool((low < 0) | (high > top)):
        return
    wide = v.long()  # error path only
    index = tuple(((wide < 0) | (wide > top)).nonzero()[0].tolist())  # the first bad value
    if x.dtype in _SIGNED_VIEW:
        got = f"{int(v[index]) % (1 << 8 * x.element_size())} at index {index}"
    else:
        got = f"{int(v[index])} at index {index} (min {int(low)}, max {int(high)})"
    raise LowbitError(f"values must be in 0..{top} to fit bits={bits}, got {got}")
