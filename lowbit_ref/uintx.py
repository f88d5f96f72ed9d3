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
of a group are read as one machine word: a multiply packs 2 and 4 bits (1 bit on the CPU is
NumPy's ``packbits``, the same layout), a 256-entry table unpacks 1 and 2 bits, and exact
shift-and-add steps on int16, int32 and int64 lanes do the rest. Otherwise each byte is built from whole slices of values with shifts and ORs. On
the CPU the work goes in chunks of about half a MiB: temporaries stay in cache, uint8 and int8
values are range-checked chunk by chunk while they are there, and the result is the only large
allocation, or none with ``out=``. ``python -m lowbit_ref.bench`` times all of it against a
copy of the same bytes.
"""

from __future__ import annotations

import math
import numbers
import sys

import numpy
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
_NUMPY_BIT_ORDER = {"lsb": "little", "msb": "big"}  # numpy.packbits at 1 bit is exactly our layout


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
    sharing no memory with ``values``. Reusing one buffer saves the allocation, which for large
    tensors costs about as much as packing (the operating system zeroes every new page). If
    ``pack`` raises, ``out`` may hold part of a result.

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
    dim = _check_dim(dim, values.shape)
    return PackedTensor(data, int(bits), values.shape, dim, order, "uint", values.dtype)


def unpack(packed: PackedTensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """The tensor that was packed: same shape, dtype and device, for every scheme.

    "uint" is unpacked here; "ternary2" and "base3" by ``lowbit_ref.ternary`` and
    ``lowbit_ref.base3``. ``out``, if given, receives the values and is returned: a contiguous
    tensor of ``packed.shape`` and ``packed.dtype`` on the packed device, sharing no memory with
    ``packed.data``.

    >>> x = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.int16)
    >>> unpack(pack(x, 3, dim=0)).equal(x)
    True
    >>> buffer = torch.empty(2, 3, dtype=torch.int16)
    >>> unpack(pack(x, 3), out=buffer) is buffer
    True
    """
    if not isinstance(packed, PackedTensor):
        raise LowbitError(f"packed must be a PackedTensor (from pack), got {type(packed).__name__}")
    if packed.scheme == "ternary2":
        from .ternary import unpack_ternary2

        return unpack_ternary2(packed) if out is None else unpack_ternary2(packed, out=out)
    if packed.scheme == "base3":
        from .base3 import unpack_base3

        return unpack_base3(packed) if out is None else unpack_base3(packed, out=out)
    n = packed.shape[packed.dim] if packed.shape else 1
    if out is not None:
        check_out(out, packed.shape, packed.dtype, packed.device, packed.data, "packed.data")
        rows = packed.data.shape[: packed.dim] + (n,) + packed.data.shape[packed.dim + 1 :]  # 0-d: (1,)
        _unpack_bits(packed.data, packed.bits, n, packed.dim, packed.order, packed.dtype, out.view(rows))
        return out
    values = _unpack_bits(packed.data, packed.bits, n, packed.dim, packed.order, packed.dtype)
    return values.reshape(packed.shape)


def pack_bits(
    values: torch.Tensor, bits: int, dim: int = -1, order: str = "lsb", *, out: torch.Tensor | None = None
) -> torch.Tensor:
    """The bytes of ``pack(values, bits, dim=dim, order=order)``, as a plain uint8 tensor.

    The lower-level half of ``pack`` for modules that keep their own metadata (ternary packing
    reuses it). Checks its input exactly like ``pack``, and writes into ``out`` like ``pack``.

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
    if out is not None:
        check_out(out, out_shape, torch.uint8, x.device, values, "values")
    if x.numel() == 0:
        return out if out is not None else torch.zeros(out_shape, dtype=torch.uint8, device=x.device)
    if bits == 8:
        _check_range(x, bits)
        if out is None:
            return x.to(torch.uint8, memory_format=torch.contiguous_format, copy=True)
        return out.copy_(x)

    per_group, group_bytes = _group(bits)
    groups = math.ceil(n / per_group)
    u = _uint8_view(x, outer, n, inner, groups * per_group)  # (outer, n, inner) or None
    top = (1 << bits) - 1
    if u is None:  # a converted copy: check before converting, which would wrap
        _check_range(x, bits)
        u = _uint8_rows(x, outer, n, inner, groups * per_group)  # (outer, groups * per_group, inner)
        top = None
    # Write straight into the result when no padding bytes have to be cut off.
    exact = groups * group_bytes == nbytes and (out is None or out.storage_offset() % 8 == 0)  # word views
    if out is not None and exact:
        dst = out
    else:
        dst = torch.empty(outer, groups * group_bytes, inner, dtype=torch.uint8, device=x.device)
    if inner == 1 and _LITTLE_ENDIAN:
        ok = _pack_words(u.view(-1, per_group), bits, order, dst.view(-1, group_bytes), top)
    else:
        ok = _pack_slices(u.view(-1, per_group, inner), bits, order, dst.view(-1, group_bytes, inner), top)
    if ok is None:
        _check_range(x, bits)  # a value is too large: raise with its index
    if dst is out:
        return out
    data = dst.view(outer, groups * group_bytes, inner)[:, :nbytes]
    if out is not None:
        out.view(outer, nbytes, inner).copy_(data)
        return out
    return data.contiguous().view(out_shape)


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
    _, d, n = _check_unpack_args(data, bits, n, dim, order)
    check_out(out, data.shape[:d] + (n,) + data.shape[d + 1 :], torch.uint8, data.device, data, "data")
    return _unpack_bits(data, bits, n, dim, order, torch.uint8, out)


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


def _pack_words(u: torch.Tensor, bits: int, order: str, out: torch.Tensor | None = None,
                top: int | None = None, offset: int = 0) -> torch.Tensor | None:
    """(groups, per_group) uint8 values -> (groups, group_bytes) packed bytes, in ``out`` if given.

    ``offset`` (1, 2, 4 bits) is added to each value first, in uint8 arithmetic (ternary packing
    stores trit + 1). With ``top``, each chunk's values are checked while they are in cache: the
    first chunk holding a value above ``top`` stops the work and the result is None.
    """
    per_group, group_bytes = _group(bits)
    groups = u.shape[0]
    if out is None:
        out = torch.empty(groups, group_bytes, dtype=torch.uint8, device=u.device)
    chunk = _chunk(groups, per_group, u.device)
    if bits == 1 and order in _NUMPY_BIT_ORDER and u.device.type == "cpu" and not offset:
        # NumPy's packbits is this exact layout (bitorder="little" is lsb), and in C it beats
        # the int64 multiply below (11 ms against 16 ms for 2**26 values, one thread). It reads
        # any nonzero as 1, so the range check stays ours.
        for s, e in _spans(groups, chunk):
            if top is not None and u[s:e].amax() > top:
                return None
            packed = numpy.packbits(u[s:e].reshape(-1).numpy(), bitorder=_NUMPY_BIT_ORDER[order])  # (chunk,)
            out[s:e, 0].copy_(torch.from_numpy(packed))
        return out
    if group_bytes == 1:
        # 1, 2, 4 bits: one multiply copies every value of the word to its place in the top
        # byte. The copies never overlap (their offsets 8k + c_j are distinct multiples of
        # gcd(8, 8 -+ bits) >= bits), so nothing carries and the top byte is the packed byte.
        word, word_bits = _WORD[bits], 8 * per_group
        multiplier = sum(1 << (word_bits - 8 + _shift(bits, order, j, 0) - 8 * j) for j in range(per_group))
        multiplier -= (1 << word_bits) if multiplier >= 1 << (word_bits - 1) else 0
        buf = torch.empty(chunk, 1, dtype=word, device=u.device)  # (chunk, 1): a group per word
        moved = torch.empty(chunk, per_group, dtype=torch.uint8, device=u.device) if offset else None
        for s, e in _spans(groups, chunk):
            src = torch.add(u[s:e], offset, out=moved[: e - s]) if offset else u[s:e]  # (chunk, per_group)
            if top is not None and src.amax() > top:
                return None
            w = buf[: e - s]
            torch.mul(src.view(word), multiplier, out=w)
            w.bitwise_right_shift_(word_bits - 8)  # sign copies fill the bits above 7: dropped next
            out[s:e].copy_(w)  # a cast keeps the low byte, and unlike a strided copy it vectorizes
        return out
    # 3, 5, 6, 7 bits: merge neighbouring fields in the group's 8 bytes read as int16, int32,
    # then int64 lanes (see _merge); the stream ends in the low bytes of the int64.
    w = torch.empty(chunk, 8, dtype=torch.uint8, device=u.device)  # (chunk, 8): a group per row
    hi = torch.empty_like(w)  # the high fields of the current step
    mirrored = torch.empty(chunk, group_bytes, dtype=torch.uint8, device=u.device) if order == "msb" else None
    for s, e in _spans(groups, chunk):
        if top is not None and u[s:e].amax() > top:
            return None
        v, h = w[: e - s], hi[: e - s]
        src = u[s:e] if order == "lsb" else _reversed(u[s:e])
        for step, (dtype, half) in enumerate(_LANES):
            _merge(src if step == 0 else v, dtype, half, bits * half // 8, v, h)
        dst = out[s:e] if order == "lsb" else mirrored[: e - s]
        _copy_columns(v, dst, group_bytes)
        if order == "msb":
            out[s:e].copy_(_reversed(dst))
    return out


def _unpack_words(d: torch.Tensor, bits: int, order: str, out: torch.Tensor, offset: int = 0) -> bool:
    """(groups, group_bytes) packed bytes -> ``out``, (groups, per_group) uint8 values.

    With ``offset`` (1 and 2 bits only), each value comes out as ``value - offset`` in int8, and a
    chunk holding a value above ``1`` returns False (ternary fields hold trit + 1, never 3).
    """
    per_group, group_bytes = _group(bits)
    groups = d.shape[0]
    chunk = _chunk(groups, per_group, d.device)
    if bits in (1, 2) or (bits == 4 and order == "msb"):
        # 256 possible bytes: look each one's values up as one little-endian word (cheaper
        # than shift steps at 8 or 4 values a byte, and than flipping msb nibbles).
        table = _table(bits, order, d.device, offset)
        idx = torch.empty(chunk, dtype=torch.int32, device=d.device)  # index_select takes int32, not uint8
        words = out.view(_WORD[bits]).view(-1)
        for s, e in _spans(groups, chunk):
            i = idx[: e - s]
            i.copy_(d[s:e, 0])
            torch.index_select(table, 0, i, out=words[s:e])
            if offset and out[s:e].view(torch.int8).amax() > 1:
                return False
        return True
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
    return True


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


def _table(bits: int, order: str, device: torch.device, offset: int = 0) -> torch.Tensor:
    """(256,) words: entry ``b`` holds the values packed in byte ``b`` minus ``offset``, one per byte."""
    key = (bits, order, device, offset)
    if key not in _TABLES:
        per_byte = 8 // bits
        rows = [
            [((byte >> _shift(bits, order, j, 0)) & ((1 << bits) - 1)) - offset for j in range(per_byte)]
            for byte in range(256)
        ]
        table = torch.tensor(rows, dtype=torch.int16).to(torch.uint8).view(_WORD[bits]).view(256)
        _TABLES[key] = table.to(device)
    return _TABLES[key]


# --- slice path: values of a group are whole slices, each byte is a few shifts and ORs --------


def _pack_slices(u: torch.Tensor, bits: int, order: str, out: torch.Tensor | None = None,
                 top: int | None = None) -> torch.Tensor | None:
    """(groups, per_group, inner) uint8 values -> (groups, group_bytes, inner) packed bytes.

    ``out`` and ``top`` work as in ``_pack_words``.
    """
    per_group, group_bytes = _group(bits)
    groups, _, inner = u.shape
    if out is None:
        out = torch.empty(groups, group_bytes, inner, dtype=torch.uint8, device=u.device)
    chunk = _chunk(groups, per_group * inner, u.device)
    tmp = torch.empty(chunk, inner, dtype=torch.uint8, device=u.device)
    for s, e in _spans(groups, chunk):
        if top is not None and u[s:e].amax() > top:
            return None
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


def _check_unpack_args(data, bits, n, dim, order) -> tuple[int, int, int]:
    """``(bits, dim, n)`` as plain ints, or ``LowbitError``."""
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
    nbytes = data.shape[dim]
    if nbytes != math.ceil(n * bits / 8):
        raise LowbitError(
            f"data has {nbytes} bytes along dim {dim}, but n={n} values of {bits} bits need "
            f"ceil({n} * {bits} / 8) = {math.ceil(n * bits / 8)}"
        )
    return bits, dim, n


def _unpack_bits(data, bits, n, dim, order, dtype, out=None, offset=0) -> torch.Tensor:
    """The values of ``data`` as ``dtype``, written into ``out`` (already checked) if given.

    ``offset`` is ``_unpack_words``': ternary fields come out as ``field - 1`` (int8), and a
    field 3 makes this return None.
    """
    bits, dim, n = _check_unpack_args(data, bits, n, dim, order)
    outer, nbytes, inner = _split_shape(data.shape, dim)
    out_shape = data.shape[:dim] + (n,) + data.shape[dim + 1 :]
    if outer * n * inner == 0:
        return out if out is not None else torch.zeros(out_shape, dtype=dtype, device=data.device)
    if bits == 8:
        if out is not None:
            return out.copy_(data)
        return data.to(dtype, memory_format=torch.contiguous_format, copy=True)

    per_group, group_bytes = _group(bits)
    groups = math.ceil(n / per_group)
    d = _uint8_rows(data, outer, nbytes, inner, groups * group_bytes)
    words = inner == 1 and _LITTLE_ENDIAN
    # Values below 128 have the same bytes in uint8 and int8: either can be written in place.
    direct = (out is not None and out.dtype in (torch.uint8, torch.int8) and groups * per_group == n
              and out.storage_offset() % 8 == 0)  # word views
    if direct:
        values = out.view(torch.uint8).view(outer, n, inner)
    else:
        values = torch.empty(outer, groups * per_group, inner, dtype=torch.uint8, device=data.device)
    if words:
        ok = _unpack_words(d.view(-1, group_bytes), bits, order, values.view(-1, per_group), offset)
    else:
        _unpack_slices(d.view(-1, group_bytes, inner), bits, order, values.view(-1, per_group, inner))
        ok = True
        if offset:
            v = values.view(torch.int8).sub_(offset)
            ok = not bool(v.amax() > 1)
    if not ok:
        return None
    if direct:
        return out
    values = values[:, :n]
    if offset:
        values = values.view(torch.int8)
    if out is not None:
        out.view(outer, n, inner).copy_(values)
        return out
    return values.to(dtype, memory_format=torch.contiguous_format).view(out_shape)


def _uint8_view(x: torch.Tensor, outer: int, n: int, inner: int, padded: int) -> torch.Tensor | None:
    """``x`` as a (outer, n, inner) uint8 view, when packing can read it in place; else None.

    int8 qualifies: its negative values read as 128..255, above every ``top`` below 8 bits, so
    the range check still refuses them. Word views also need an 8-byte aligned start.
    """
    if x.dtype in (torch.uint8, torch.int8) and padded == n and x.is_contiguous() and x.storage_offset() % 8 == 0:
        return x.view(torch.uint8).view(outer, n, inner)
    return None


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
