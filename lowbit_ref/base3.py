"""Base-3 packing: five trits per byte, 1.6 bits per trit.

A trit has 3 values, so 5 trits have 3**5 = 243 combinations, and 243 <= 256 fits a byte: the
five trits, as digits ``d = t + 1`` in {0, 1, 2}, form a base-3 number. 2-bit packing
("ternary2") spends 2 bits per trit; base 3 spends 8/5 = 1.6, within 1% of log2(3) = 1.585.

Layout (``pack_base3``), along ``dim``; the first trit is the least significant digit::

    trits        t0    t1    t2    t3    t4  | t5  ...
    digits       d0    d1    d2    d3    d4  | d5  ...       d = t + 1
    byte 0  =    d0 + 3*d1 + 9*d2 + 27*d3 + 81*d4           in 0..242
    byte 1  =    d5 + 3*d6 + ...

    [1, 0, -1, -1, 1]  ->  digits [2, 1, 0, 0, 2]  ->  2 + 3 + 0 + 0 + 162 = 167

A row whose length is not a multiple of 5 is padded with trits 0 (digit 1), so a kernel that
reads the padding anyway multiplies by 0: ``[1]`` packs to ``2 + 3 + 9 + 27 + 81 = 122``.
Bytes 243..255 never occur; the unpackers reject them instead of decoding garbage.

Fast unpack: a 243-entry table maps each byte to its 5 trits, so unpacking is one table lookup
per byte and no per-digit division. (llama.cpp's TQ1_0 decodes instead by storing
``ceil(v * 256 / 243)`` so that ``(q * 3) >> 8`` reads the most significant digit; on the CPU the
table was faster here, and both beat division and modulo by far: ``python -m lowbit_ref.bench``
measures the table against division.) Packing along the last dim builds partial sums over whole
rows and keeps every fifth (``_bytes_of_rows``); along other dims, five uint8 multiply-adds per
byte. On the CPU both work in tiles of ``TILE`` packed bytes, so temporaries stay in cache and the
trits are checked while they are there.

``pack_base3_powers`` and ``unpack_base3_divmod`` are the slow, obvious references (digits times
powers of three, summed; division and modulo per digit) that tests and benchmarks compare with.
"""

from __future__ import annotations

import functools
import math

import torch

from .checks import TRIT_DTYPES, check_dim, check_out, check_trit_dtype, check_trits, first_bad
from .errors import LowbitError
from .packed import PackedTensor, check_packed, register_unpacker

#: Packed bytes per tile on the CPU (the fastest of 2**14 .. 2**18 on a 2-core x86 machine).
TILE = 1 << 17
#: Digit weights of the five trits of a byte, first trit first.
POWERS = (1, 3, 9, 27, 81)


def _around(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``x`` as ``(A, N, C)``: the dims before ``dim``, ``dim`` itself, the dims after.

    A view for contiguous tensors, so packing along any ``dim`` needs no transpose: the trits
    of one byte are 5 rows of ``C`` contiguous values.
    """
    shape = x.shape or torch.Size([1])
    return x.reshape(math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1 :]))


def _packed_shape(shape: torch.Size, dim: int, length: int) -> tuple[int, ...]:
    out = list(shape) or [1]
    out[dim] = length
    return tuple(out)


def _tiles(a: int, f: int, c: int, device: torch.device):
    """Index triples covering an ``a x f x c`` grid of bytes: about ``TILE`` bytes each on the
    CPU, so temporaries stay in cache; one tile elsewhere, for fewer kernel launches."""
    if device.type != "cpu":
        yield slice(None), slice(None), slice(None)
        return
    wc = max(min(c, TILE), 1)
    wf = max(min(f, TILE // wc), 1)
    wa = max(TILE // (wc * wf), 1)
    for i in range(0, a, wa):
        for j in range(0, f, wf):
            for k in range(0, c, wc):
                yield slice(i, i + wa), slice(j, j + wf), slice(k, k + wc)


def _check_bytes(data: torch.Tensor, caller: str) -> None:
    """Bytes 243..255 hold no 5 trits: refuse them (one pass over the packed bytes)."""
    if data.numel() and data.amax() > 242:
        _raise_bad_byte(data, caller)


def _raise_bad_byte(data: torch.Tensor, caller: str) -> None:
    index, byte = first_bad(data > 242, data)
    raise LowbitError(
        f"{caller}: packed byte {byte} at index {index} is not a "
        "base-3 byte; five trits make 0..242 (3**5 = 243 values)"
    )


def _check_unpack(packed, caller: str) -> tuple[torch.Tensor, int]:
    """The packed bytes as ``(A, L, C)`` and the original length ``n`` along the packed dim."""
    check_packed(packed, "base3", caller, TRIT_DTYPES)
    _check_bytes(packed.data, caller)
    return _around(packed.data, packed.dim), (list(packed.shape) or [1])[packed.dim]  # (A, L, C), n


def _byte_of(g: torch.Tensor, out: torch.Tensor) -> None:
    """Write into ``out`` (..., C) the bytes of ``g`` (..., 5, C): trits viewed as uint8 (-1 is 255).

    uint8 arithmetic is exact modulo 256, and ``sum t_i 3**i + 121 = sum (t_i + 1) 3**i = byte``
    lies in 0..242, so the wrapped result is the byte itself.
    """
    torch.add(g[..., 0, :], 1 + 3 + 9 + 27 + 81, out=out)
    out.add_(g[..., 1, :], alpha=3).add_(g[..., 2, :], alpha=9).add_(g[..., 3, :], alpha=27)
    out.add_(g[..., 4, :], alpha=81)


def _bytes_of_rows(t: torch.Tensor, out: torch.Tensor, acc: torch.Tensor, check: bool) -> bool:
    """Write into ``out`` (h, w) the bytes of the trit rows ``t`` (h, 5w), viewed as uint8.

    The five trits of a byte are neighbours in a row, and reading them as five strided columns
    is slow. Instead the digits ``d = t + 1`` (uint8: -1 wraps to 0) go to a contiguous buffer,
    and two passes over it, on views shifted by 1 and 2 elements, build partial sums for every
    position ``p``::

        pair[p] = d[p] + 3*d[p+1]
        quad[p] = pair[p] + 9*pair[p+2]          = d[p] + 3*d[p+1] + 9*d[p+2] + 27*d[p+3]
        byte k  = quad[5k] + 81*d[5k+4]          (one strided pass, at p = 5k only)

    With ``check``, a digit above 2 (a value that was no trit) stops it before any sum: False.
    """
    h, n = t.shape
    d = acc[0, : h * n].view(h, n)  # (h, 5w)
    torch.add(t, 1, out=d)
    if check and d.amax() > 2:  # while the digits are in cache
        return False
    pair = acc[1, : h * (n - 1)].view(h, n - 1)  # (h, 5w - 1)
    quad = acc[2, : h * (n - 3)].view(h, n - 3)  # (h, 5w - 3)
    torch.add(d[:, :-1], d[:, 1:], alpha=3, out=pair)
    torch.add(pair[:, :-2], pair[:, 2:], alpha=9, out=quad)
    torch.add(quad[:, ::5], d[:, 4::5], alpha=81, out=out)
    return True


def pack_base3(trits: torch.Tensor, *, dim: int = -1, out: torch.Tensor | None = None) -> PackedTensor:
    """Pack trits five per byte along ``dim`` as base-3 numbers, first trit least significant.

    Layout (drawn in the module docstring)::

        byte = (t0+1) + 3*(t1+1) + 9*(t2+1) + 27*(t3+1) + 81*(t4+1)        in 0..242

    A partial last group is padded with trits 0. The packed dimension becomes ``ceil(n / 5)``
    bytes long, and the ``PackedTensor`` remembers the shape and dtype to unpack to.

    Args:
        trits: signed integer tensor (int8, int16, int32 or int64) of -1, 0, 1, any shape.
        dim: the dimension to pack along.
        out: optional contiguous uint8 tensor of the packed shape, sharing no memory with
            ``trits``: it receives the bytes and becomes the result's ``data`` (if packing
            raises, it may hold part of a result).

    Returns:
        ``PackedTensor(scheme="base3", bits=2, order="lsb", dtype=trits.dtype)``, contiguous
        bytes on ``trits.device``.

    >>> p = pack_base3(torch.tensor([1, 0, -1, -1, 1, 1], dtype=torch.int8))
    >>> p.data
    tensor([167, 122], dtype=torch.uint8)
    >>> unpack_base3(p)
    tensor([ 1,  0, -1, -1,  1,  1], dtype=torch.int8)
    """
    check_trit_dtype(trits)
    d = check_dim(dim, trits.shape, "pack_base3")
    length = -(-(list(trits.shape) or [1])[d] // 5)
    shape = _packed_shape(trits.shape, d, length)
    if out is not None:
        check_out(out, shape, torch.uint8, trits.device, trits, "trits")
    checked = trits.dtype != torch.int8
    if checked:  # before the cast to int8, which would wrap
        check_trits(trits)
    t = _around(trits.to(torch.int8), d)  # (A, n, C)
    a, n, c = t.shape
    full, rest = divmod(n, 5)
    data = out if out is not None else torch.empty(shape, dtype=torch.uint8, device=trits.device)
    res = data.view(a, length, c)  # (A, L, C)
    u = t.view(torch.uint8)  # two's complement: -1 reads as 255
    acc = torch.empty(3, 5 * TILE if c == 1 else 0, dtype=torch.uint8, device=trits.device)  # (3, 5 * TILE)
    if c == 1 and rest == 0 and t.is_contiguous() and trits.device.type == "cpu":
        # Whole groups never straddle rows: one long row, in spans of TILE bytes, few calls each.
        flat, dst = u.view(-1), res.view(-1)
        for s in range(0, dst.numel(), TILE):
            seg = flat[5 * s : 5 * (s + TILE)]  # (5w,)
            if not _bytes_of_rows(seg.view(1, -1), dst[s : s + TILE].view(1, -1), acc, not checked):
                check_trits(trits)  # raises, naming the first value that is not a trit
        return PackedTensor(data, 2, trits.shape, d, "lsb", "base3", trits.dtype)
    groups = u[:, : 5 * full].view(a, full, 5, c)  # (A, full, 5, C)
    body = res[:, :full]  # (A, full, C): bytes of whole groups (a tile may not reach the tail)
    for i, j, k in _tiles(a, full, c, trits.device):
        g = groups[i, j, :, k]  # (h, w, 5, cw)
        if g.numel() == 0:
            continue
        if c == 1 and acc.shape[1] >= g.numel():
            ok = _bytes_of_rows(g.reshape(g.shape[0], -1), body[i, j, k].view(g.shape[0], -1), acc, not checked)
        else:
            ok = True
            if not checked:  # while the tile is in cache
                lo, hi = torch.aminmax(g.view(torch.int8))
                ok = not bool((lo < -1) | (hi > 1))
            if ok:
                _byte_of(g, body[i, j, k])
        if not ok:
            check_trits(trits)  # raises, naming the first value that is not a trit
    if rest:
        left = t[:, 5 * full :]  # (A, rest, C)
        if not checked and left.numel() and ((left < -1) | (left > 1)).any():
            check_trits(trits)  # raises, naming the first value that is not a trit
        tail = u.new_zeros(a, 5, c)  # (A, 5, C): trits 0 pad the last byte
        tail[:, :rest] = u[:, 5 * full :]
        _byte_of(tail, res[:, full])
    return PackedTensor(data, 2, trits.shape, d, "lsb", "base3", trits.dtype)


@functools.lru_cache(maxsize=None)
def _table(device: torch.device) -> torch.Tensor:
    """(243, 5) int8: row ``b`` is the five trits of byte ``b``, first trit first."""
    return _divmod_digits(torch.arange(243, dtype=torch.int16)).to(torch.int8).sub_(1).to(device)


def unpack_base3(packed: PackedTensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """The trits of a "base3" ``PackedTensor``: the original tensor, its shape, dtype and device.

    Each byte selects one row of a 243-entry table of 5 trits (no per-digit division); the
    padding trits of a partial last group are dropped. Bytes 243..255 raise ``LowbitError``.
    ``out``, if given, receives the trits and is returned: a contiguous tensor of
    ``packed.shape`` and ``packed.dtype``, sharing no memory with ``packed.data``.

    >>> unpack_base3(pack_base3(torch.tensor([[1, -1, 0], [0, 1, -1]]), dim=0))
    tensor([[ 1, -1,  0],
            [ 0,  1, -1]])
    """
    check_packed(packed, "base3", "unpack_base3", TRIT_DTYPES)
    if out is not None:
        check_out(out, packed.shape, packed.dtype, packed.device, packed.data, "packed.data")
    data, n = _around(packed.data, packed.dim), (list(packed.shape) or [1])[packed.dim]  # (A, L, C)
    table = _table(data.device)  # (243, 5)
    a, _, c = data.shape
    full, rest = divmod(n, 5)
    if out is not None and out.dtype == torch.int8:
        trits = out.view(a, n, c)
    else:
        trits = torch.empty(a, n, c, dtype=torch.int8, device=data.device)  # (A, n, C)
    index = torch.empty(min(TILE, data.numel()), dtype=torch.int32, device=data.device)  # index_select: int32
    if c == 1 and rest == 0 and data.is_contiguous() and data.device.type == "cpu":
        # One long row of bytes, each to 5 contiguous trits: spans of TILE bytes, few calls each.
        flat, dst = data.view(-1), trits.view(-1, 5)
        for s in range(0, flat.numel(), TILE):
            b = flat[s : s + TILE]
            if b.amax().item() > 242:  # while the span is in cache
                _raise_bad_byte(packed.data, "unpack_base3")
            i = index[: b.numel()]
            i.copy_(b)
            torch.index_select(table, 0, i, out=dst[s : s + TILE])
    else:
        groups = trits[:, : 5 * full].view(a, full, 5, c)  # (A, full, 5, C)
        body = data[:, :full]  # (A, full, C): bytes of whole groups (a tile may not reach the tail)
        for i, j, k in _tiles(a, full, c, data.device):
            b = body[i, j, k]  # (h, w, cw)
            if b.numel() == 0:
                continue
            if b.amax() > 242:  # while the tile is in cache
                _raise_bad_byte(packed.data, "unpack_base3")
            on_cpu = data.device.type == "cpu"
            idx = index[: b.numel()] if on_cpu else torch.empty(b.shape, dtype=torch.int32, device=b.device)
            idx.view(b.shape).copy_(b)
            dst = groups[i, j, :, k]  # (h, w, 5, cw)
            if c == 1 and dst.is_contiguous():  # packed along the last dim: the table rows land in place
                torch.index_select(table, 0, idx.view(-1), out=dst.view(-1, 5))
            else:
                dst.copy_(table.index_select(0, idx.view(-1)).view(*dst.shape[:2], -1, 5).movedim(-1, -2))
    if rest:
        last = data[:, full]  # (A, C)
        if last.numel() and last.amax() > 242:
            _raise_bad_byte(packed.data, "unpack_base3")
        row = table.index_select(0, last.reshape(-1).to(torch.int32)).view(a, c, 5)  # (A, C, 5)
        trits[:, 5 * full :] = row[..., :rest].movedim(-1, -2)
    if out is None:
        return trits.reshape(packed.shape).to(packed.dtype)
    if trits.data_ptr() != out.data_ptr():
        out.copy_(trits.view(out.shape))
    return out


def pack_base3_powers(trits: torch.Tensor, *, dim: int = -1) -> PackedTensor:
    """Slow, obvious ``pack_base3``: digits times powers of three, summed. Same bytes.

    >>> pack_base3_powers(torch.tensor([1, 0, -1, -1, 1, 1])).data
    tensor([167, 122], dtype=torch.uint8)
    """
    check_trits(trits)
    d = check_dim(dim, trits.shape, "pack_base3_powers")
    t = _around(trits, d)  # (A, n, C)
    a, n, c = t.shape
    length = -(-n // 5)
    digits = torch.ones(a, 5 * length, c, dtype=torch.int64, device=trits.device)  # padding: trit 0 is digit 1
    digits[:, :n] = t + 1
    powers = torch.tensor(POWERS, dtype=torch.int64, device=trits.device).view(5, 1)
    data = (digits.view(a, length, 5, c) * powers).sum(2).to(torch.uint8)  # (A, L, C)
    return PackedTensor(data.reshape(_packed_shape(trits.shape, d, length)), 2, trits.shape, d, "lsb", "base3",
                        trits.dtype)


def _divmod_digits(v: torch.Tensor) -> torch.Tensor:
    """(..., 5) base-3 digits of ``v`` (...), least significant first, by division and modulo."""
    return torch.stack([(v // p) % 3 for p in POWERS], dim=-1)


def unpack_base3_divmod(packed: PackedTensor) -> torch.Tensor:
    """Slow, obvious ``unpack_base3``: each digit by division and modulo. Same trits.

    >>> unpack_base3_divmod(pack_base3(torch.tensor([1, 0, -1, -1, 1, 1])))
    tensor([ 1,  0, -1, -1,  1,  1])
    """
    data, n = _check_unpack(packed, "unpack_base3_divmod")  # (A, L, C)
    a, length, c = data.shape
    digits = _divmod_digits(data.to(torch.int16))  # (A, L, C, 5)
    trits = digits.movedim(-1, 2).reshape(a, 5 * length, c)[:, :n] - 1  # (A, n, C)
    return trits.contiguous().reshape(packed.shape).to(packed.dtype)


register_unpacker("base3", unpack_base3)
