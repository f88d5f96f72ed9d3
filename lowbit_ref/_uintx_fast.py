"""The fast paths of ``lowbit_ref.uintx``: the same bytes, sooner, when the packed dim is innermost.

``lowbit_ref.uintx`` is the reference: padded copies and one strided slice per value of a group.
When the packed dim is innermost (``dim=-1``, or only size-1 dims after it), the values of a group
are neighbours in memory, and this module reads them as one machine word:

- a multiply packs 1, 2 and 4 bits (1 bit on the CPU is NumPy's ``packbits``, the same layout);
- a 256-entry table unpacks 1 and 2 bits (and msb 4 bits), one word per byte;
- exact shift-and-add steps on int16, int32 and int64 lanes do 3, 5, 6 and 7 bits (``_merge``).

It also skips copies the reference makes: uint8 and int8 values are read in place, results are
written straight into ``out=`` buffers, and values are range-checked chunk by chunk while they are
in cache. Other dims go through the reference's slice path. Importing this module (``import
lowbit_ref`` does) registers it with ``lowbit_ref.uintx.register_fast_path``; its tests compare it
with ``lowbit_ref.uintx``'s plain path and with ``lowbit_ref.bitstream`` on random inputs.
"""

from __future__ import annotations

import math
import sys

import numpy
import torch

from .checks import in_range
from .uintx import (
    _chunk,
    _group,
    _pack_slices,
    _shift,
    _spans,
    _split_shape,
    _unpack_slices,
    register_fast_path,
)

_WORD = {1: torch.int64, 2: torch.int32, 4: torch.int16}  # one group of bytes as one word
_LANES = ((torch.int16, 8), (torch.int32, 16), (torch.int64, 32))  # (lane dtype, half its bits)
_LITTLE_ENDIAN = sys.byteorder == "little"  # the word path reads bytes as little-endian words
_NUMPY_BIT_ORDER = {"lsb": "little", "msb": "big"}  # numpy.packbits at 1 bit is exactly our layout


# --- word path: the packed dim is innermost, so a group of values is one machine word ----------


def _pack_words(u: torch.Tensor, bits: int, order: str, out: torch.Tensor | None = None,
                top: int | None = None, offset: int = 0) -> torch.Tensor | None:
    """(groups, per_group) uint8 values -> (groups, group_bytes) packed bytes, in ``out`` if given.

    ``offset`` is added to each value first, in uint8 arithmetic (ternary packing stores trit + 1).
    With ``top``, each chunk's fields are checked while they are in cache: the first chunk holding
    a field above ``top`` stops the work and the result is None.
    """
    per_group, group_bytes = _group(bits)
    groups = u.shape[0]
    if out is None:
        out = torch.empty(groups, group_bytes, dtype=torch.uint8, device=u.device)
    chunk = _chunk(groups, per_group, u.device)
    if bits == 1 and order in _NUMPY_BIT_ORDER and u.device.type == "cpu" and not offset:
        # NumPy's packbits is this exact layout (bitorder="little" is lsb), and in C it beats
        # the int64 multiply below. It reads any nonzero as 1, so the range check stays ours.
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
    moved = torch.empty(chunk, per_group, dtype=torch.uint8, device=u.device) if offset else None
    for s, e in _spans(groups, chunk):
        fields = torch.add(u[s:e], offset, out=moved[: e - s]) if offset else u[s:e]  # (chunk, per_group)
        if top is not None and fields.amax() > top:
            return None
        v, h = w[: e - s], hi[: e - s]
        src = fields if order == "lsb" else _reversed(fields)
        for step, (dtype, half) in enumerate(_LANES):
            _merge(src if step == 0 else v, dtype, half, bits * half // 8, v, h)
        dst = out[s:e] if order == "lsb" else mirrored[: e - s]
        _copy_columns(v, dst, group_bytes)
        if order == "msb":
            out[s:e].copy_(_reversed(dst))
    return out


def _unpack_words(d: torch.Tensor, bits: int, order: str, out: torch.Tensor, offset: int = 0,
                  top: int | None = None) -> bool:
    """(groups, group_bytes) packed bytes -> ``out``, (groups, per_group) uint8 values.

    As ``uintx._unpack_slices``: each field comes out as ``field - offset`` (uint8 arithmetic), and
    with ``top`` a chunk holding a field above it returns False.
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
            if top is not None and (out[s:e].view(torch.int8) if offset else out[s:e]).amax() > top - offset:
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
        if top is not None and out[s:e].amax() > top:
            return False
        if offset:
            out[s:e].sub_(offset)
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

# --- plumbing: in-place reads, direct writes ------------------------------------------------


def pack_fast(values, bits, dim, order, out, offset, top) -> torch.Tensor | None:
    """``uintx._pack_plain``, faster: same arguments, same bytes, same None."""
    x = values.reshape(1) if values.dim() == 0 else values
    outer, n, inner = _split_shape(x.shape, dim)
    nbytes = math.ceil(n * bits / 8)
    out_shape = x.shape[:dim] + (nbytes,) + x.shape[dim + 1 :]
    if x.numel() == 0:
        return out if out is not None else torch.zeros(out_shape, dtype=torch.uint8, device=x.device)
    if bits == 8 and not offset:
        if not in_range(x, 0, top):
            return None
        return x.to(torch.uint8, memory_format=torch.contiguous_format, copy=True) if out is None else out.copy_(x)

    per_group, group_bytes = _group(bits)
    groups = math.ceil(n / per_group)
    # In place: uint8 values, or int8 ones (-1 reads as 255 and wraps to the field 0 when offset
    # is 1). A uint8 255 would wrap too, to a field that looks valid: with an offset, uint8 is copied.
    in_place = not offset or x.dtype == torch.int8
    u = _uint8_view(x, outer, n, inner, groups * per_group) if in_place else None  # (outer, n, inner) or None
    rows_top, rows_offset = top, offset
    if u is None:  # a converted copy: check before converting, which would wrap
        if not in_range(x, -offset, top - offset):
            return None
        u = _uint8_rows(x, outer, n, inner, groups * per_group, offset)  # fields, padded with offset
        rows_top, rows_offset = None, 0
    # Write straight into the result when no padding bytes have to be cut off.
    exact = groups * group_bytes == nbytes and (out is None or out.storage_offset() % 8 == 0)  # word views
    if out is not None and exact:
        dst = out
    else:
        dst = torch.empty(outer, groups * group_bytes, inner, dtype=torch.uint8, device=x.device)
    if inner == 1 and bits < 8:
        ok = _pack_words(u.view(-1, per_group), bits, order, dst.view(-1, group_bytes), rows_top, rows_offset)
    else:
        ok = _pack_slices(u.view(-1, per_group, inner), bits, order, dst.view(-1, group_bytes, inner),
                          rows_top, rows_offset)
    if ok is None:
        return None
    if dst is out:
        return out
    data = dst.view(outer, groups * group_bytes, inner)[:, :nbytes]
    if out is not None:
        out.view(outer, nbytes, inner).copy_(data)
        return out
    return data.contiguous().view(out_shape)


def unpack_fast(data, bits, n, dim, order, dtype, out=None, offset=0, top=None) -> torch.Tensor | None:
    """``uintx._unpack_plain``, faster: same arguments, same values, same None."""
    outer, nbytes, inner = _split_shape(data.shape, dim)
    out_shape = data.shape[:dim] + (n,) + data.shape[dim + 1 :]
    if outer * n * inner == 0:
        return out if out is not None else torch.zeros(out_shape, dtype=dtype, device=data.device)
    if bits == 8 and not offset and top is None:
        if out is not None:
            return out.copy_(data)
        return data.to(dtype, memory_format=torch.contiguous_format, copy=True)

    per_group, group_bytes = _group(bits)
    groups = math.ceil(n / per_group)
    d = _uint8_rows(data, outer, nbytes, inner, groups * group_bytes)
    # Values below 128 have the same bytes in uint8 and int8: either can be written in place.
    direct = (out is not None and out.dtype in (torch.uint8, torch.int8) and groups * per_group == n
              and out.storage_offset() % 8 == 0)  # word views
    if direct:
        values = out.view(torch.uint8).view(outer, n, inner)
    else:
        values = torch.empty(outer, groups * per_group, inner, dtype=torch.uint8, device=data.device)
    if inner == 1 and bits < 8:
        ok = _unpack_words(d.view(-1, group_bytes), bits, order, values.view(-1, per_group), offset, top)
    else:
        ok = _unpack_slices(d.view(-1, group_bytes, inner), bits, order, values.view(-1, per_group, inner), offset, top)
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


def _uint8_rows(x: torch.Tensor, outer: int, n: int, inner: int, padded: int, offset: int = 0) -> torch.Tensor:
    """``x + offset`` as a contiguous (outer, padded, inner) uint8 tensor, padded along the middle
    with ``offset``. No copy when ``x`` is already that (word views also need an 8-byte aligned start).
    """
    if x.dtype == torch.uint8 and padded == n and not offset and x.is_contiguous() and x.storage_offset() % 8 == 0:
        return x.view(outer, n, inner)
    u = torch.empty(outer, padded, inner, dtype=torch.uint8, device=x.device)
    u[:, n:].fill_(offset)
    u[:, :n].copy_(x.reshape(outer, n, inner))
    if offset:
        u[:, :n].add_(offset)  # uint8 arithmetic: -1 was copied as 255 and becomes the field 0
    return u


if _LITTLE_ENDIAN:  # word views read bytes as little-endian integers
    register_fast_path(pack_fast, unpack_fast)
