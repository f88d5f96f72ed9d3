"""Packing with a plain Python loop of shift and OR: slow on purpose, obvious by design.

This is lesson 01's algorithm and the reference every fast version is tested against. Each
packed byte holds ``8 // bits`` values; value ``i`` goes to byte ``i // per_byte`` at bit offset
``(i % per_byte) * bits`` (LSB-first). Packing ``[1, 0, 3, 2]`` at 2 bits::

    value     2     3     0     1        <- the last value ends up in the high bits
    bits    1 0 | 1 1 | 0 0 | 0 1
    byte    1 0   1 1   0 0   0 1   = 0b10110001 = 177
    offset    6     4     2     0

Only widths that divide 8 (1, 2, 4, 8) are handled here; ``lowbit_ref.uintx`` packs every
width from 1 to 8, vectorized.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .errors import LowbitError, describe

WIDTHS = (1, 2, 4, 8)


class Step(NamedTuple):
    """One iteration of the packing loop, recorded for the lesson's stepper widget."""

    byte_index: int  # which packed byte is being filled
    value_index: int  # which input value is coming in
    value: int  # the incoming value
    shift: int  # how far it moves left: bits * slot
    shifted: int  # value << shift
    before: int  # the packed byte before the OR
    after: int  # the packed byte after the OR


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in WIDTHS:
        raise LowbitError(f"bits must be one of {', '.join(map(str, WIDTHS))} (a width that divides 8), got {describe(bits)}")
    return bits


def _check_uint8_vector(tensor, name: str) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise LowbitError(f"{name} must be a torch.Tensor of dtype torch.uint8, got {type(tensor).__name__}")
    if tensor.dtype != torch.uint8:
        raise LowbitError(
            f"{name} must have dtype torch.uint8 (int8 spends its top bit on the sign), got {tensor.dtype}"
        )
    if tensor.dim() != 1:
        raise LowbitError(f"{name} must be 1-D, got shape {tuple(tensor.shape)}")
    return tensor


def pack_weights(uint8tensor: torch.Tensor, bits: int, *, trace: list | None = None) -> torch.Tensor:
    """Pack a 1-D uint8 tensor of ``bits``-bit values, ``8 // bits`` per byte, LSB-first.

    If ``trace`` is a list, one ``Step`` per iteration is appended to it (the lesson's stepper
    replays them). The result is on the input's device.

    >>> pack_weights(torch.tensor([1, 0, 3, 2], dtype=torch.uint8), 2)
    tensor([177], dtype=torch.uint8)
    >>> pack_weights(torch.tensor([1, 0, 3, 2, 3, 3, 3, 3], dtype=torch.uint8), 2)
    tensor([177, 255], dtype=torch.uint8)
    """
    bits = _check_bits(bits)
    uint8tensor = _check_uint8_vector(uint8tensor, "uint8tensor")
    per_byte = 8 // bits
    if uint8tensor.shape[0] % per_byte != 0:
        raise LowbitError(
            f"uint8tensor length must be a multiple of 8 / bits = {per_byte} at {bits} bits, "
            f"got {uint8tensor.shape[0]}"
        )
    too_big = uint8tensor > 2**bits - 1  # not `>= 2**bits`: 256 wraps to 0 as a uint8 scalar
    if too_big.any():
        i = int(too_big.nonzero()[0, 0])
        raise LowbitError(
            f"uint8tensor values must be in 0..{2**bits - 1} to fit {bits} bits, "
            f"got {int(uint8tensor[i])} at index {i}"
        )

    values = uint8tensor.tolist()  # one transfer; the loop itself runs on Python ints
    packed = []
    for byte_index in range(len(values) // per_byte):
        byte = 0
        for slot in range(per_byte):
            value_index = byte_index * per_byte + slot
            shift = bits * slot
            shifted = values[value_index] << shift
            if trace is not None:
                trace.append(Step(byte_index, value_index, values[value_index], shift, shifted, byte, byte | shifted))
            byte |= shifted
        packed.append(byte)
    return torch.tensor(packed, dtype=torch.uint8, device=uint8tensor.device)


def unpack_weights(packed: torch.Tensor, bits: int) -> torch.Tensor:
    """Undo ``pack_weights``: each byte gives back ``8 // bits`` values, low bits first.

    >>> unpack_weights(torch.tensor([177], dtype=torch.uint8), 2)
    tensor([1, 0, 3, 2], dtype=torch.uint8)
    """
    bits = _check_bits(bits)
    packed = _check_uint8_vector(packed, "packed")
    per_byte = 8 // bits
    mask = 2**bits - 1  # bits ones in the low positions: 0b11 at 2 bits
    values = []
    for byte in packed.tolist():
        for slot in range(per_byte):
            values.append((byte >> (bits * slot)) & mask)
    return torch.tensor(values, dtype=torch.uint8, device=packed.device)


def byte_views(bit_list) -> dict:
    """The byte whose bits (most significant first) are ``bit_list``, read as uint8 and as int8.

    The same eight bits mean 128..255 as uint8 and -128..-1 as int8 whenever the top bit is
    set: int8 spends that bit on the sign (two's complement subtracts 256).

    >>> byte_views([1, 0, 1, 1, 0, 0, 0, 1])
    {'bits': '10110001', 'uint8': 177, 'int8': -79}
    """
    if len(bit_list) != 8 or any(b not in (0, 1) for b in bit_list):
        raise LowbitError(f"bit_list must be eight 0/1 values, most significant first, got {describe(bit_list)}")
    byte = torch.tensor([int("".join(map(str, bit_list)), 2)], dtype=torch.uint8)
    return {"bits": "".join(map(str, bit_list)), "uint8": int(byte[0]), "int8": int(byte.view(torch.int8)[0])}
