"""llama.cpp's ternary block types TQ2_0 and TQ1_0, and a GGUF file writer for them.

Both types cut the last dimension into blocks of 256 values; each block stores its trits and,
*after* them, one float16 scale ``d`` (little-endian), so a block decodes to ``trit * d``.

TQ2_0 (66 bytes a block): 64 bytes of 2-bit fields ``trit + 1``, then ``d``. The course's
layout (lesson 02) puts neighbours in one byte; TQ2_0 interleaves: byte ``32*c + m`` holds
elements ``128*c + m + 32*n`` for n = 0..3, element n in bits ``2n``::

    byte      bits 7-6    bits 5-4    bits 3-2    bits 1-0
    0         e96         e64         e32         e0
    1         e97         e65         e33         e1
    ...
    31        e127        e95         e63         e31
    32        e224        e192        e160        e128
    ...
    63        e255        e223        e191        e159
    64, 65    d (float16)

so one 32-byte load, shifted by 0, 2, 4 or 6 and masked, gives 32 *consecutive* elements.

TQ1_0 (54 bytes a block): five trits per byte as base-3 digits ``trit + 1``, the *first* trit
the most significant digit, stored as ``ceil(v * 256 / 243)`` (lesson 04's fixed-point
fraction, so that ``(q * 3**j mod 256) * 3 >> 8`` reads digit j without dividing), in three
strided groups; then ``d``::

    bytes 0..31   (qs)   byte m      holds e[m], e[32+m], e[64+m], e[96+m], e[128+m]  (e[m] most significant)
    bytes 32..47  (qs)   byte 32+m   holds e[160+m], e[176+m], e[192+m], e[208+m], e[224+m]
    bytes 48..51  (qh)   byte 48+m   holds e[240+m], e[244+m], e[248+m], e[252+m], digit 0
    bytes 52, 53         d (float16)

Reference: ggml's ``block_tq2_0``/``block_tq1_0`` and gguf-py's ``gguf/quants.py`` (classes
``TQ2_0``/``TQ1_0``); tests/test_formats.py checks every byte against that package.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from pathlib import Path

import torch

from ..errors import LowbitError, describe
from ..ternary import check_trits

BLOCK = 256
TQ2_0_BYTES = 66
TQ1_0_BYTES = 54
#: GGML type ids (ggml.h ``enum ggml_type``) of the types save_gguf writes.
GGML_TYPES = {"TQ1_0": 34, "TQ2_0": 35}
_GGUF_ALIGNMENT = 32
_POW3 = (81, 27, 9, 3, 1)
_TQ2_SHIFTS = torch.tensor([0, 2, 4, 6], dtype=torch.uint8).view(4, 1)


def _check_blocks(trits, scales, caller: str) -> tuple[torch.Tensor, torch.Tensor]:
    """trits as (..., B, 256) int16 digits 0..2 and scales as (..., B) float16, or LowbitError."""
    check_trits(trits)
    if trits.dim() == 0 or trits.shape[-1] % BLOCK:
        last = trits.shape[-1] if trits.dim() else "none (a 0-d tensor)"
        raise LowbitError(
            f"{caller}: trits' last dimension must be a multiple of {BLOCK} (whole blocks), got {last} "
            f"in shape {tuple(trits.shape)}"
        )
    want = (*trits.shape[:-1], trits.shape[-1] // BLOCK)
    if not isinstance(scales, torch.Tensor) or not scales.is_floating_point():
        got = scales.dtype if isinstance(scales, torch.Tensor) else type(scales).__name__
        raise LowbitError(f"{caller}: scales must be a floating-point torch.Tensor of shape {want}, got {got}")
    if tuple(scales.shape) != want:
        raise LowbitError(
            f"{caller}: scales must have shape {want} (one per block of {BLOCK}), got {tuple(scales.shape)}"
        )
    d = scales.to(torch.float16)
    if not torch.isfinite(d).all():
        bad = scales[~torch.isfinite(d)][0].item()
        raise LowbitError(f"{caller}: scales must be finite in float16 (|scale| <= 65504), got {bad}")
    digits = (trits.to(torch.int16) + 1).reshape(*want, BLOCK)  # (..., B, 256)
    return digits, d.to(trits.device)


def _scale_bytes(d: torch.Tensor) -> torch.Tensor:
    """float16 scales (..., B) as their little-endian bytes (..., B, 2)."""
    raw = d.contiguous().view(torch.uint8).reshape(*d.shape, 2)
    return raw if _LITTLE_ENDIAN else raw.flip(-1)


def _scales_from(raw: torch.Tensor) -> torch.Tensor:
    raw = raw if _LITTLE_ENDIAN else raw.flip(-1)
    return raw.contiguous().view(torch.float16).squeeze(-1)


_LITTLE_ENDIAN = torch.tensor([1], dtype=torch.int16).view(torch.uint8)[0].item() == 1


def _check_data(data, block_bytes: int, caller: str) -> torch.Tensor:
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8:
        got = data.dtype if isinstance(data, torch.Tensor) else type(data).__name__
        raise LowbitError(f"{caller}: data must be a torch.uint8 tensor of {block_bytes}-byte blocks, got {got}")
    if data.dim() == 0 or data.shape[-1] % block_bytes:
        last = data.shape[-1] if data.dim() else "none (a 0-d tensor)"
        raise LowbitError(
            f"{caller}: data's last dimension must be a multiple of {block_bytes} (whole blocks), got {last} "
            f"in shape {tuple(data.shape)}"
        )
    return data.reshape(*data.shape[:-1], data.shape[-1] // block_bytes, block_bytes)


def to_tq2_0(trits: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """ggml TQ2_0 blocks of ``trits * scales`` (layout: module docstring).

    Args:
        trits: signed integer tensor of -1, 0, 1 whose last dimension is a multiple of 256.
        scales: float tensor of shape ``(*trits.shape[:-1], trits.shape[-1] // 256)``, one per
            block, any float dtype; stored as float16.

    Returns:
        uint8 tensor of shape ``(*trits.shape[:-1], blocks * 66)``.

    >>> data = to_tq2_0(torch.ones(256, dtype=torch.int8), torch.tensor([0.5]))
    >>> data.shape, data[:2].tolist(), data[64:].tolist()   # 0b10101010: four 1s (field 2) per byte
    (torch.Size([66]), [170, 170], [0, 56])
    """
    digits, d = _check_blocks(trits, scales, "to_tq2_0")
    u = digits.reshape(*d.shape, 2, 4, 32)  # (..., B, c, n, m): element 128c + 32n + m
    shifts = torch.tensor([0, 2, 4, 6], dtype=torch.int16, device=u.device).view(4, 1)
    qs = (u << shifts).sum(-2).to(torch.uint8).reshape(*d.shape, 64)  # (..., B, 64): byte 32c + m
    blocks = torch.cat([qs, _scale_bytes(d)], dim=-1)  # (..., B, 66)
    return blocks.reshape(*trits.shape[:-1], d.shape[-1] * TQ2_0_BYTES)


def from_tq2_0(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(trits int8, scales float16)`` of TQ2_0 blocks, from any writer (llama.cpp, gguf).

    Args:
        data: uint8 tensor whose last dimension is whole 66-byte blocks.

    Returns:
        trits of shape ``(*data.shape[:-1], blocks * 256)`` and scales ``(*data.shape[:-1], blocks)``.
        A 2-bit field 3 is not a trit (ggml would read it as 2): LowbitError names the byte.

    >>> t, d = from_tq2_0(to_tq2_0(torch.ones(256, dtype=torch.int8), torch.tensor([0.5])))
    >>> t.unique().tolist(), d.tolist()
    ([1], [0.5])
    """
    blocks = _check_data(data, TQ2_0_BYTES, "from_tq2_0")  # (..., B, 66)
    qs = blocks[..., :64]
    if (qs & (qs >> 1) & 0b01010101).any():  # a field 0b11: both of its bits set (one pass over the bytes)
        fields = (qs.reshape(*blocks.shape[:-1], 2, 1, 32) >> _TQ2_SHIFTS.to(data.device)) & 3
        where = (fields == 3).nonzero()[0].tolist()
        c, m = where[-3], where[-1]
        raise LowbitError(
            f"from_tq2_0: data must hold 2-bit fields 0, 1, 2 (trit + 1), got field 3 in byte {32 * c + m} "
            f"of block {tuple(where[:-3])}"
        )
    qs = qs.reshape(*blocks.shape[:-1], 2, 1, 32)  # (..., B, c, 1, m)
    trits = ((qs >> _TQ2_SHIFTS.to(data.device)) & 3).view(torch.int8)  # (..., B, c, n, m): 0, 1, 2
    trits -= 1  # in place: the fields become trits without another tensor
    trits = trits.reshape(*data.shape[:-1], blocks.shape[-2] * BLOCK)
    return trits, _scales_from(blocks[..., 64:])


def to_tq1_0(trits: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """ggml TQ1_0 blocks of ``trits * scales`` (layout: module docstring); arguments as ``to_tq2_0``.

    Returns:
        uint8 tensor of shape ``(*trits.shape[:-1], blocks * 54)``.

    >>> to_tq1_0(torch.ones(256, dtype=torch.int8), torch.tensor([0.5]))[:2].tolist()   # 22222 base 3 = 242
    [255, 255]
    """
    digits, d = _check_blocks(trits, scales, "to_tq1_0")
    pow3 = torch.tensor(_POW3, dtype=torch.int32, device=digits.device).view(5, 1)
    lead = (*d.shape, 5)
    v = torch.cat(
        [
            (digits[..., :160].reshape(*lead, 32) * pow3).sum(-2),  # (..., B, 32)
            (digits[..., 160:240].reshape(*lead, 16) * pow3).sum(-2),  # (..., B, 16)
            (digits[..., 240:].reshape(*d.shape, 4, 4) * pow3[:4]).sum(-2),  # (..., B, 4), last digit 0
        ],
        dim=-1,
    )
    q = ((v * 256 + 242) // 243).to(torch.uint8)  # ceil(v * 256 / 243), at most 255
    blocks = torch.cat([q, _scale_bytes(d)], dim=-1)  # (..., B, 54)
    return blocks.reshape(*trits.shape[:-1], d.shape[-1] * TQ1_0_BYTES)


def tq1_0_digits(q: torch.Tensor, places: int = 5) -> torch.Tensor:
    """Base-3 digits of fixed-point TQ1_0 bytes by the multiply trick, no division.

    Digit j (0 = most significant) is ``((q * 3**j) mod 256) * 3 >> 8``. Returns int16 of shape
    ``(places, *q.shape)``.

    >>> tq1_0_digits(torch.tensor([255, 0], dtype=torch.uint8))[:, 0].tolist()
    [2, 2, 2, 2, 2]
    """
    q = q.to(torch.int16)
    return torch.stack([(((q * 3**j) & 255) * 3) >> 8 for j in range(places)])


_TQ1_TABLES: dict = {}


def _tq1_0_table(device) -> torch.Tensor:
    """(256, 5) int8: the trits of every TQ1_0 byte value, digit 0 (most significant) first."""
    key = str(device)
    if key not in _TQ1_TABLES:
        digits = tq1_0_digits(torch.arange(256, dtype=torch.uint8))  # (5, 256)
        _TQ1_TABLES[key] = (digits.T - 1).to(torch.int8).contiguous().to(device)
    return _TQ1_TABLES[key]


def from_tq1_0(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(trits int8, scales float16)`` of TQ1_0 blocks; see ``from_tq2_0``.

    Every byte decodes to digits 0..2 (that is what the rounding up buys), so no byte is refused.

    >>> t, d = from_tq1_0(to_tq1_0(torch.ones(256, dtype=torch.int8), torch.tensor([0.5])))
    >>> t.unique().tolist(), d.tolist()
    ([1], [0.5])
    """
    blocks = _check_data(data, TQ1_0_BYTES, "from_tq1_0")  # (..., B, 54)
    lead = blocks.shape[:-1]
    # One lookup per byte: the five trits of every byte value, made once by the multiply trick
    # (tq1_0_digits) rather than per byte. Row v, column j: digit j of byte v, minus 1.
    five = _tq1_0_table(data.device)[blocks[..., :52].to(torch.int32)]  # (..., B, 52, 5)
    five = five.transpose(-1, -2)  # (..., B, 5, 52): digit j of byte k
    trits = torch.cat(
        [
            five[..., :, :32].reshape(*lead, 160),  # element 32j + m
            five[..., :, 32:48].reshape(*lead, 80),  # element 160 + 16j + m
            five[..., :4, 48:52].reshape(*lead, 16),  # element 240 + 4j + m
        ],
        dim=-1,
    ).reshape(*data.shape[:-1], blocks.shape[-2] * BLOCK)
    return trits, _scales_from(blocks[..., 52:])


def _gguf_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def save_gguf(
    path, tensors: Mapping[str, tuple[torch.Tensor, torch.Tensor]], *, ternary_type: str = "TQ2_0",
    overwrite: bool = False,
) -> Path:
    """Write ternary tensors to a GGUF (version 3) file that llama.cpp's gguf-py reads.

    Each ``tensors[name] = (trits, scales)`` is stored as one tensor of ``ternary_type``
    ("TQ2_0" or "TQ1_0"), shaped like ``trits`` (1 to 4 dimensions, the last whole 256-value
    blocks), whose data dequantizes to ``trits * scales`` (scales rounded to float16). GGUF lists
    dimensions innermost first, so a ``(rows, cols)`` tensor is stored as ``[cols, rows]``.

    File layout: magic ``GGUF``, version 3, tensor count, key-value count; the key-values
    (``general.architecture = "lowbit"``, ``general.alignment = 32``); one info per tensor (name,
    dims, type id, data offset); zero padding to 32 bytes; the tensors' blocks, each padded to 32.

    An existing file is never replaced unless ``overwrite=True``; the file is written beside the
    target and renamed into place, so a failure leaves no half-written file under ``path``.

    Returns:
        the path written.
    """
    if ternary_type not in GGML_TYPES:
        raise LowbitError(f"save_gguf: ternary_type must be one of {sorted(GGML_TYPES)}, got {ternary_type!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise LowbitError(f"save_gguf: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise LowbitError(f"save_gguf: {str(path)!r} already exists; pass overwrite=True to replace it")
    if not isinstance(tensors, Mapping) or not tensors:
        raise LowbitError(f"save_gguf: tensors must be a non-empty mapping name -> (trits, scales), got {describe(tensors)}")
    encode = to_tq2_0 if ternary_type == "TQ2_0" else to_tq1_0
    infos, blobs, offset = [], [], 0
    for name, pair in tensors.items():
        if not isinstance(name, str) or not 0 < len(name.encode("utf-8")) <= 63:
            raise LowbitError(f"save_gguf: tensor names must be strings of 1..63 UTF-8 bytes (GGML_MAX_NAME), got {name!r}")
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise LowbitError(f"save_gguf: tensors[{name!r}] must be a (trits, scales) pair, got {describe(pair)}")
        trits, scales = pair
        if isinstance(trits, torch.Tensor) and not 1 <= trits.dim() <= 4:
            raise LowbitError(f"save_gguf: tensors[{name!r}] trits must have 1 to 4 dimensions, got shape {tuple(trits.shape)}")
        try:
            blob = encode(trits, scales).cpu().contiguous().numpy().tobytes()
        except LowbitError as error:
            raise LowbitError(f"save_gguf: tensors[{name!r}]: {error}") from None
        dims = list(reversed(trits.shape))
        infos.append(
            _gguf_string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
            + struct.pack("<IQ", GGML_TYPES[ternary_type], offset)
        )
        blob += b"\0" * (-len(blob) % _GGUF_ALIGNMENT)
        blobs.append(blob)
        offset += len(blob)
    kv = [
        _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string("lowbit"),  # 8: string
        _gguf_string("general.alignment") + struct.pack("<II", 4, _GGUF_ALIGNMENT),  # 4: uint32
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(kv)) + b"".join(kv) + b"".join(infos)
    head += b"\0" * (-len(head) % _GGUF_ALIGNMENT)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as f:
            f.write(head)
            for blob in blobs:
                f.write(blob)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
