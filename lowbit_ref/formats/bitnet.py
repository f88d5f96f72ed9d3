"""Hugging Face transformers' BitNet layout (``transformers/integrations/bitnet.py``).

A ternary weight of shape ``(out, *rest)`` is packed along dim 0, four trits per byte, into
``(R, *rest)`` with ``R = ceil(out / 4)``. Rows are not grouped with their neighbours, as the
course does, but in four planes of R rows: row ``i*R + r`` goes to bits ``2i`` of row ``r``,
stored as ``trit + 1``::

    packed row r    bits 7-6        bits 5-4        bits 3-2      bits 1-0
                    w[3R + r] + 1   w[2R + r] + 1   w[R + r] + 1  w[r] + 1

So one packed row unpacks, with one shift and mask per plane, into four whole weight rows.
When ``out`` is not a multiple of 4 the missing rows of the last plane are 2-bit fields 0
(transformers leaves them so; they would read as trit -1), and ``from_hf_bitnet`` drops them.
"""

from __future__ import annotations

import torch

from ..errors import LowbitError, describe
from ..ternary import check_trits


def to_hf_bitnet(trits: torch.Tensor) -> torch.Tensor:
    """Pack trits ``(out, *rest)`` as transformers' ``pack_weights`` does, without changing them.

    Returns:
        uint8 tensor ``(ceil(out / 4), *rest)``, byte-identical to
        ``transformers.integrations.bitnet.pack_weights(trits.clone())``.

    >>> to_hf_bitnet(torch.tensor([[1], [0], [-1], [1]], dtype=torch.int8)).tolist()   # 2 | 1<<2 | 0<<4 | 2<<6
    [[134]]
    """
    check_trits(trits)
    if trits.dim() == 0:
        raise LowbitError("to_hf_bitnet: trits must have at least 1 dimension (out, ...), got a 0-d tensor")
    out = trits.shape[0]
    r = -(-out // 4)
    fields = (trits + 1).to(torch.uint8)  # a new tensor: the caller's trits stay as they were
    packed = torch.zeros((r, *trits.shape[1:]), dtype=torch.uint8, device=trits.device)
    for i in range(4):
        plane = fields[i * r : (i + 1) * r]  # rows i*R .. i*R + R - 1 (fewer in the last plane)
        packed[: plane.shape[0]] |= plane << (2 * i)
    return packed


def from_hf_bitnet(packed: torch.Tensor, out_features: int) -> torch.Tensor:
    """The int8 trits ``(out_features, *rest)`` of a transformers BitNet packed weight.

    ``out_features`` says how many of the ``4 * packed.shape[0]`` rows are real: it must satisfy
    ``ceil(out_features / 4) == packed.shape[0]``. A 2-bit field 3 in a real row is not a trit.

    >>> from_hf_bitnet(torch.tensor([[134]], dtype=torch.uint8), 4).flatten().tolist()
    [1, 0, -1, 1]
    """
    if not isinstance(packed, torch.Tensor) or packed.dtype != torch.uint8 or packed.dim() == 0:
        got = f"{packed.dtype} with shape {tuple(packed.shape)}" if isinstance(packed, torch.Tensor) else type(packed).__name__
        raise LowbitError(f"from_hf_bitnet: packed must be a torch.uint8 tensor with at least 1 dimension, got {got}")
    r = packed.shape[0]
    if not isinstance(out_features, int) or isinstance(out_features, bool) or -(-out_features // 4) != r or out_features < 1:
        raise LowbitError(
            f"from_hf_bitnet: out_features must be an int in {4 * r - 3}..{4 * r} for {r} packed rows, "
            f"got {describe(out_features)}"
        )
    fields = torch.cat([(packed >> (2 * i)) & 3 for i in range(4)])[:out_features]  # (out, *rest)
    if (fields == 3).any():
        row = (fields == 3).nonzero()[0].tolist()
        raise LowbitError(f"from_hf_bitnet: packed must hold 2-bit fields 0, 1, 2 (trit + 1), got 3 for weight {row}")
    return fields.to(torch.int8) - 1
