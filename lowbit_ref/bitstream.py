"""The bit stream one bit at a time: the oracle every packer of a bit-stream scheme is checked against.

Row by row along ``dim``, value ``i`` owns stream bits ``[i*bits, (i+1)*bits)``; in "lsb" order
stream bit ``k`` is bit ``k % 8`` of byte ``k // 8``, in "msb" order bit ``7 - k % 8`` with each
value written most significant bit first (``lowbit_ref.uintx`` draws every width). Python ints
and loops, nothing vectorized, nothing clever: slow, and obviously the layout. The tests and
``python -m lowbit_ref.bench`` use these two functions and no other reference.
"""

from __future__ import annotations

import math

import torch

from .checks import check_bits, check_dim, check_order

def _stream_position(bits: int, order: str, i: int, q: int) -> tuple[int, int]:
    """(byte, bit in byte) of bit ``q`` of value ``i``: lsb fills each byte from bit 0, msb from bit 7."""
    k = bits * i + (q if order == "lsb" else bits - 1 - q)
    return k // 8, (k % 8 if order == "lsb" else 7 - k % 8)


def _rows(x: torch.Tensor, dim: int) -> tuple[list[list[int]], tuple[int, ...]]:
    moved = x.reshape(1).cpu() if x.dim() == 0 else x.cpu().movedim(dim, -1)
    return moved.reshape(math.prod(moved.shape[:-1]), moved.shape[-1]).tolist(), tuple(moved.shape[:-1])


def _unrows(rows: list[list[int]], lead: tuple[int, ...], width: int, dim: int, ndim: int, device) -> torch.Tensor:
    out = torch.tensor(rows, dtype=torch.int64).reshape(*lead, width)
    return (out if ndim == 0 else out.movedim(-1, dim)).to(torch.uint8).to(device)


def stream_pack_reference(values: torch.Tensor, bits: int, dim: int = -1, order: str = "lsb",
                          *, offset: int = 0) -> torch.Tensor:
    """``pack_bits`` the slowest, most obvious way: every bit of every value placed one at a time.

    Padding positions hold the field ``offset``, cut to the last byte.

    >>> stream_pack_reference(torch.tensor([1, 0, 3, 2]), 2)
    tensor([177], dtype=torch.uint8)
    >>> stream_pack_reference(torch.tensor([0, -1, 1]), 2, offset=1)
    tensor([97], dtype=torch.uint8)
    """
    bits, dim, order = check_bits(bits), check_dim(dim, values.shape), check_order(order)
    rows, lead = _rows(values, dim)
    n = len(rows[0]) if rows else (values.shape[dim] if values.dim() else 1)
    nbytes = math.ceil(n * bits / 8)
    packed = []
    for row in rows:
        out = [0] * nbytes
        for i in range(math.ceil(nbytes * 8 / bits)):
            field = row[i] + offset if i < n else offset
            for q in range(bits):
                byte, bit = _stream_position(bits, order, i, q)
                if byte < nbytes:
                    out[byte] |= ((field >> q) & 1) << bit
        packed.append(out)
    return _unrows(packed, lead, nbytes, dim, values.dim(), values.device)


def stream_unpack_reference(data: torch.Tensor, bits: int, n: int, dim: int = -1, order: str = "lsb") -> torch.Tensor:
    """Undo ``stream_pack_reference`` one bit at a time: the ``n`` fields of each row, as uint8.

    >>> stream_unpack_reference(torch.tensor([177], dtype=torch.uint8), 2, 4)
    tensor([1, 0, 3, 2], dtype=torch.uint8)
    """
    bits, dim, order = check_bits(bits), check_dim(dim, data.shape), check_order(order)
    rows, lead = _rows(data, dim)
    values = []
    for row in rows:
        out = [0] * n
        for i in range(n):
            for q in range(bits):
                byte, bit = _stream_position(bits, order, i, q)
                out[i] |= ((row[byte] >> bit) & 1) << q
        values.append(out)
    return _unrows(values, lead, n, dim, data.dim(), data.device)
