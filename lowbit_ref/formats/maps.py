"""Which elements share a byte, per format: the data behind lesson 07's layout map.

Nothing here restates a layout. ``layout_map`` packs with the format's own packer, changes one
element at a time, and records which bits of which byte moved (for TQ1_0, which base-3 digit),
so the map is whatever the packer does; tests pin it against the drawings in the docstrings.
"""

from __future__ import annotations

import functools

import torch

from ..errors import LowbitError
from ..ternary import pack_ternary
from .bitnet import to_hf_bitnet
from .ggml import to_tq1_0, to_tq2_0, tq1_0_digits
from .intn import to_awq, to_gptq, to_hqq, to_nf4, to_torchao_uintx


def _words(words: torch.Tensor) -> torch.Tensor:
    """(k, w) int32 words as (k, 4w) bytes, little-endian: byte 0 is bits 0-7 of word 0."""
    return words.reshape(-1).clone().view(torch.uint8).view(words.shape[0], 4 * words.shape[1])


def _i8(v: torch.Tensor) -> torch.Tensor:
    return v.to(torch.int8)


#: format name -> (elements shown, lowest and highest value, base-3?, packer: (k, n) int64 values
#: -> (k, bytes) uint8, one row per row of values, so a whole map is one call)
FORMATS = {
    "course 2-bit (lesson 03)": (16, -1, 1, False, lambda v: pack_ternary(_i8(v)).data),
    "TQ2_0 (llama.cpp)": (256, -1, 1, False, lambda v: to_tq2_0(_i8(v), torch.ones(len(v), 1))[:, :64]),
    "TQ1_0 (llama.cpp)": (256, -1, 1, True, lambda v: to_tq1_0(_i8(v), torch.ones(len(v), 1))[:, :52]),
    "BitNet (Hugging Face)": (16, -1, 1, False, lambda v: to_hf_bitnet(_i8(v).T).T),
    "AWQ 4-bit": (8, 0, 15, False, lambda v: _words(to_awq(v))),
    "GPTQ 4-bit": (8, 0, 15, False, lambda v: _words(to_gptq(v.T).T)),
    "NF4 (bitsandbytes)": (16, 0, 15, False, lambda v: to_nf4(v).view(len(v), -1)),
    "torchao uint2": (16, 0, 3, False, lambda v: to_torchao_uintx(v, 2)[0]),
    "HQQ 2-bit": (16, 0, 3, False, lambda v: to_hqq(v.T, 2).T),
}


def layout_map(fmt: str) -> list[list[tuple[int, str]]]:
    """Per packed byte, the ``(element, where)`` pairs it holds, highest bits first; ``where`` is
    ``"bits 7-6"`` style, or ``"digit j"`` for base-3 bytes (digit 0 the most significant).

    >>> layout_map("TQ2_0 (llama.cpp)")[0]
    [(96, 'bits 7-6'), (64, 'bits 5-4'), (32, 'bits 3-2'), (0, 'bits 1-0')]
    >>> layout_map("AWQ 4-bit")[0]   # byte 0 of the int32 word: nibbles 1 and 0
    [(2, 'bits 7-4'), (0, 'bits 3-0')]
    """
    if fmt not in FORMATS:
        raise LowbitError(f"layout_map: fmt must be one of {sorted(FORMATS)}, got {fmt!r}")
    return [list(byte) for byte in _layout_map(fmt)]



@functools.lru_cache(maxsize=None)
def _layout_map(fmt: str) -> tuple[tuple[tuple[int, str], ...], ...]:
    """The map of the format, computed once (a few tenths of a second for the TQ types)."""
    n, lo, hi, base3, packer = FORMATS[fmt]
    base = 0 if lo < 0 else lo
    values = torch.arange(lo, hi + 1)
    # row (i, value): every element at base, element i at value; one packer call for the map
    v = torch.full((n, len(values), n), base, dtype=torch.int64)
    v[torch.arange(n), :, torch.arange(n)] = values
    got = packer(v.view(-1, n)).view(n, len(values), -1)  # (element, value, byte)
    ref = packer(torch.full((1, n), base, dtype=torch.int64))[0]  # (byte,)
    if base3:
        moved = tq1_0_digits(got) != tq1_0_digits(ref).view(5, 1, 1, -1)  # (digit, element, value, byte)
        moved = moved.any(2).permute(2, 1, 0)  # (byte, element, digit)
    else:
        flips = torch.zeros_like(got[:, 0])  # (element, byte): the bits any value of the element moves
        for k in range(len(values)):
            flips |= got[:, k] ^ ref
        moved = ((flips.T.unsqueeze(-1) >> torch.arange(8)) & 1).bool()  # (byte, element, bit)
    places: list[dict[int, tuple[int, int]]] = [{} for _ in range(ref.numel())]  # byte -> element -> (lo, hi)
    for b, i, p in moved.nonzero().tolist():
        old = places[b].get(i, (99, -1))
        places[b][i] = (min(old[0], p), max(old[1], p))
    result = []
    for byte in places:
        if base3:
            result.append(tuple([(i, f"digit {j}") for i, (j, _) in sorted(byte.items(), key=lambda kv: kv[1][0])]))
        else:
            fields = sorted(byte.items(), key=lambda kv: -kv[1][1])
            result.append(tuple((i, f"bits {b_hi}-{b_lo}" if b_hi != b_lo else f"bit {b_lo}") for i, (b_lo, b_hi) in fields))
    return tuple(result)
