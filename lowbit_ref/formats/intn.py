"""The n-bit integer layouts of AWQ, GPTQ, bitsandbytes NF4, torchao uintx and HQQ.

Every one is the course's shift-and-OR packing with a different answer to "which elements
share a container, and in which bits". Codes here are plain unsigned integers (``uint8``
tensors of 0 .. 2**bits - 1); scales and zero points stay with the caller.

AWQ (``WQLinear_GEMM``): codes ``(in, out)``, 4 bits, 8 *columns* per int32 word, in the order
0, 2, 4, 6, 1, 3, 5, 7 (so a GPU thread's dequantize lands pairs in the right half2 lanes)::

    word (row i, word c)   bits 31-28  27-24  23-20  19-16  15-12  11-8   7-4    3-0
    column 8c + ...        7           5      3      1      6      4      2      0

GPTQ (AutoGPTQ ``QuantLinear.pack``, 2/4/8 bits): 32/bits *rows* per int32 word, the first row
in the low bits; zero points are packed the same way along columns and stored **minus one**::

    word (row r, col j)    bits 31-28 ... 7-4       3-0          (4 bits)
                           w[8r+7, j] ... w[8r+1, j] w[8r, j]

bitsandbytes NF4: the flattened tensor two codes per byte, the **first in the high nibble** (the
course's ``order="msb"``), codes indexing ``NF4_CODE`` and one absmax per 64 values.

torchao uintx (``prototype/dtypes/uintx/bitpacking.pack``): along ``dim`` (a multiple of 8),
widths 3, 5, 6, 7 are split into planes of 4, 2 and 1 bits (3 = 2 + 1, 5 = 4 + 1, 6 = 4 + 2,
7 = 4 + 2 + 1, low bits first); each plane of b bits cuts ``dim`` into 8/b equal slices and
stores slice k in bits ``b*k`` of every byte (planar: element j shares a byte with j + n*b/8).

HQQ (``hqq/core/bitpack.py``): along dim 0, planar like torchao but the **first slice in the
high bits**; 1, 2 and 4 bits in uint8, 3 bits in int32 words of ten 3-bit slices, with dim 0
padded with zeros to a multiple of 10.
"""

from __future__ import annotations

import torch

from ..errors import LowbitError, describe

AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)

#: bitsandbytes' NF4 code table: the 16 values a 4-bit code stands for (times the block's absmax).
NF4_CODE = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
)

_TORCHAO_PLANES = {1: ((1, 0),), 2: ((2, 0),), 3: ((2, 0), (1, 2)), 4: ((4, 0),), 5: ((4, 0), (1, 4)),
                   6: ((4, 0), (2, 4)), 7: ((4, 0), (2, 4), (1, 6))}  # (plane bits, shift) per plane


def _check_codes(codes, bits: int, caller: str, *, ndim: int | None = None) -> torch.Tensor:
    if not isinstance(codes, torch.Tensor) or codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
        got = codes.dtype if isinstance(codes, torch.Tensor) else type(codes).__name__
        raise LowbitError(f"{caller}: codes must be an integer torch.Tensor of 0..{2**bits - 1}, got {got}")
    if ndim is not None and codes.dim() != ndim:
        raise LowbitError(f"{caller}: codes must have {ndim} dimensions, got shape {tuple(codes.shape)}")
    if codes.numel() and (codes.min() < 0 or codes.max() >= 2**bits):
        bad = codes[(codes < 0) | (codes >= 2**bits)][0].item()
        raise LowbitError(f"{caller}: codes must be in 0..{2**bits - 1} ({bits} bits), got {bad}")
    return codes.to(torch.int64)


def _check_words(words, caller: str) -> torch.Tensor:
    if not isinstance(words, torch.Tensor) or words.dtype != torch.int32 or words.dim() != 2:
        got = f"{words.dtype} with shape {tuple(words.shape)}" if isinstance(words, torch.Tensor) else type(words).__name__
        raise LowbitError(f"{caller}: words must be a 2-D torch.int32 tensor, got {got}")
    return words.to(torch.int64) & 0xFFFFFFFF  # the 32 bits as an unsigned number


def _int32(u: torch.Tensor) -> torch.Tensor:
    """Unsigned 32-bit words held in int64 as the int32 tensors the checkpoints store (bit 31 = sign)."""
    return torch.where(u >= 2**31, u - 2**32, u).to(torch.int32)


def _check_multiple(n: int, k: int, what: str, caller: str) -> None:
    if n % k:
        raise LowbitError(f"{caller}: {what} must be a multiple of {k}, got {n}")


def to_awq(codes: torch.Tensor) -> torch.Tensor:
    """AWQ ``qweight``/``qzeros``: 4-bit codes ``(rows, cols)``, cols a multiple of 8 -> int32 ``(rows, cols // 8)``.

    >>> hex(to_awq(torch.arange(8).view(1, 8))[0, 0].item() & 0xFFFFFFFF)   # nibbles, high to low: 7 5 3 1 6 4 2 0
    '0x75316420'
    """
    c = _check_codes(codes, 4, "to_awq", ndim=2)
    _check_multiple(c.shape[1], 8, "codes.shape[1] (columns)", "to_awq")
    c = c.view(c.shape[0], c.shape[1] // 8, 8)[..., list(AWQ_ORDER)]  # (rows, words, 8): nibble i holds column AWQ_ORDER[i]
    shifts = torch.arange(0, 32, 4, device=c.device)
    return _int32((c << shifts).sum(-1))


def from_awq(words: torch.Tensor) -> torch.Tensor:
    """The uint8 codes ``(rows, 8 * words)`` of AWQ int32 words (inverse of ``to_awq``).

    >>> from_awq(torch.tensor([[0x75316420]], dtype=torch.int32)).tolist()
    [[0, 1, 2, 3, 4, 5, 6, 7]]
    """
    u = _check_words(words, "from_awq")
    nibbles = (u.unsqueeze(-1) >> torch.arange(0, 32, 4, device=u.device)) & 15  # (rows, words, 8)
    codes = torch.empty_like(nibbles)
    codes[..., list(AWQ_ORDER)] = nibbles
    return codes.reshape(u.shape[0], 8 * u.shape[1]).to(torch.uint8)


def to_gptq(codes: torch.Tensor, bits: int = 4) -> torch.Tensor:
    """GPTQ ``qweight``: codes ``(in, out)``, ``in`` a multiple of 32 // bits -> int32 ``(in * bits // 32, out)``.

    >>> hex(to_gptq(torch.arange(8).view(8, 1))[0, 0].item())   # row 0 in the low nibble
    '0x76543210'
    """
    if bits not in (2, 4, 8):
        raise LowbitError(f"to_gptq: bits must be 2, 4 or 8, got {describe(bits)}")
    c = _check_codes(codes, bits, "to_gptq", ndim=2)
    per = 32 // bits
    _check_multiple(c.shape[0], per, f"codes.shape[0] (rows) at {bits} bits", "to_gptq")
    c = c.view(c.shape[0] // per, per, c.shape[1])  # (words, per, out): row per*r + j at bits bits*j
    shifts = torch.arange(0, 32, bits, device=c.device).view(per, 1)
    return _int32((c << shifts).sum(1))


def from_gptq(words: torch.Tensor, bits: int = 4) -> torch.Tensor:
    """The uint8 codes ``(words.shape[0] * 32 // bits, out)`` of GPTQ ``qweight`` (inverse of ``to_gptq``)."""
    if bits not in (2, 4, 8):
        raise LowbitError(f"from_gptq: bits must be 2, 4 or 8, got {describe(bits)}")
    u = _check_words(words, "from_gptq")
    shifts = torch.arange(0, 32, bits, device=u.device).view(-1, 1)
    return ((u.unsqueeze(1) >> shifts) & (2**bits - 1)).reshape(u.shape[0] * (32 // bits), u.shape[1]).to(torch.uint8)


def to_gptq_zeros(zeros: torch.Tensor, bits: int = 4) -> torch.Tensor:
    """GPTQ ``qzeros``: zero points ``(groups, out)`` in 1..2**bits - 1, stored minus one, 32 // bits
    columns per int32 word, the first in the low bits. A zero point 0 cannot be stored (AutoGPTQ's
    ``zeros - 1`` would wrap to all ones and spill into the neighbouring fields) and is refused.

    >>> hex(to_gptq_zeros(torch.full((1, 8), 8))[0, 0].item())
    '0x77777777'
    """
    if bits not in (2, 4, 8):
        raise LowbitError(f"to_gptq_zeros: bits must be 2, 4 or 8, got {describe(bits)}")
    z = _check_codes(zeros, bits, "to_gptq_zeros", ndim=2)
    if z.numel() and z.min() == 0:
        raise LowbitError(f"to_gptq_zeros: zeros must be in 1..{2**bits - 1} (GPTQ stores zero - 1), got 0")
    per = 32 // bits
    _check_multiple(z.shape[1], per, f"zeros.shape[1] (columns) at {bits} bits", "to_gptq_zeros")
    z = (z - 1).view(z.shape[0], z.shape[1] // per, per)
    return _int32((z << torch.arange(0, 32, bits, device=z.device)).sum(-1))


def from_gptq_zeros(words: torch.Tensor, bits: int = 4) -> torch.Tensor:
    """Zero points ``(groups, words.shape[1] * 32 // bits)`` of GPTQ ``qzeros``, plus one again (uint8)."""
    if bits not in (2, 4, 8):
        raise LowbitError(f"from_gptq_zeros: bits must be 2, 4 or 8, got {describe(bits)}")
    u = _check_words(words, "from_gptq_zeros")
    fields = (u.unsqueeze(-1) >> torch.arange(0, 32, bits, device=u.device)) & (2**bits - 1)
    return (fields.reshape(u.shape[0], u.shape[1] * (32 // bits)) + 1).to(torch.int16 if bits == 8 else torch.uint8)


def to_nf4(codes: torch.Tensor) -> torch.Tensor:
    """bitsandbytes NF4 byte order: the flattened codes two per byte, the first in the high nibble.

    >>> to_nf4(torch.tensor([1, 2, 15, 0])).tolist()
    [18, 240]
    """
    c = _check_codes(codes, 4, "to_nf4").flatten()
    _check_multiple(c.numel(), 2, "codes.numel()", "to_nf4")
    c = c.view(c.numel() // 2, 2)
    return ((c[:, 0] << 4) | c[:, 1]).to(torch.uint8)


def from_nf4(data: torch.Tensor) -> torch.Tensor:
    """The uint8 codes (two per byte, high nibble first) of NF4 bytes; reshape them to the weight's shape."""
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8:
        got = data.dtype if isinstance(data, torch.Tensor) else type(data).__name__
        raise LowbitError(f"from_nf4: data must be a torch.uint8 tensor, got {got}")
    d = data.flatten()
    return torch.stack([d >> 4, d & 15], dim=1).flatten()


def quantize_nf4(weights: torch.Tensor, blocksize: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """``(bytes, absmax)``: NF4 codes of ``weights`` (the nearest ``NF4_CODE`` value of ``w / absmax``
    per block of ``blocksize`` flattened values), in NF4 byte order; absmax float32 per block."""
    if not isinstance(weights, torch.Tensor) or not weights.is_floating_point():
        got = weights.dtype if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise LowbitError(f"quantize_nf4: weights must be a floating-point torch.Tensor, got {got}")
    if not isinstance(blocksize, int) or blocksize < 2 or blocksize % 2:
        raise LowbitError(f"quantize_nf4: blocksize must be an even int >= 2, got {describe(blocksize)}")
    w = weights.detach().float().flatten()
    _check_multiple(w.numel(), blocksize, f"weights.numel() at blocksize {blocksize}", "quantize_nf4")
    w = w.view(w.numel() // blocksize, blocksize)
    absmax = w.abs().amax(1)  # (blocks,)
    x = w / torch.where(absmax == 0, 1.0, absmax).unsqueeze(1)
    code = torch.tensor(NF4_CODE, device=w.device)
    codes = (x.unsqueeze(-1) - code).abs().argmin(-1)  # nearest code value
    return to_nf4(codes), absmax


def dequantize_nf4(data: torch.Tensor, absmax: torch.Tensor, shape, blocksize: int = 64) -> torch.Tensor:
    """float32 weights of ``shape`` from NF4 bytes and one absmax per ``blocksize`` values."""
    codes = from_nf4(data).long()
    n = codes.numel()
    if n != torch.Size(shape).numel() or n % blocksize or absmax.numel() != n // blocksize:
        raise LowbitError(
            f"dequantize_nf4: {data.numel()} bytes ({n} codes) and {absmax.numel()} absmax values do not make "
            f"shape {tuple(shape)} in blocks of {blocksize}"
        )
    code = torch.tensor(NF4_CODE, device=data.device)
    return (code[codes].view(n // blocksize, blocksize) * absmax.float().view(n // blocksize, 1)).view(shape)


def to_torchao_uintx(codes: torch.Tensor, bits: int, dim: int = -1) -> tuple[torch.Tensor, ...]:
    """torchao's uintx shards (one uint8 tensor per plane) of ``codes`` along ``dim`` (a multiple of 8).

    >>> [s.tolist() for s in to_torchao_uintx(torch.tensor([1, 2, 3, 4, 5, 6, 7, 0]), 3)]
    [[221, 34], [120]]
    """
    if bits not in _TORCHAO_PLANES:
        raise LowbitError(f"to_torchao_uintx: bits must be in 1..7, got {describe(bits)}")
    c = _check_codes(codes, bits, "to_torchao_uintx").to(torch.uint8)
    if not isinstance(dim, int) or not -c.dim() <= dim < c.dim():
        raise LowbitError(f"to_torchao_uintx: dim must be in {-c.dim()}..{c.dim() - 1}, got {describe(dim)}")
    _check_multiple(c.shape[dim], 8, f"codes.shape[{dim}]", "to_torchao_uintx")
    shards = []
    for width, shift in _TORCHAO_PLANES[bits]:
        plane = (c >> shift) & (2**width - 1)
        slices = plane.chunk(8 // width, dim)  # slice k goes to bits width*k
        shards.append(sum(s << (width * k) for k, s in enumerate(slices)).to(torch.uint8))
    return tuple(shards)


def from_torchao_uintx(shards, bits: int, dim: int = -1) -> torch.Tensor:
    """uint8 codes from torchao uintx shards (inverse of ``to_torchao_uintx``)."""
    if bits not in _TORCHAO_PLANES:
        raise LowbitError(f"from_torchao_uintx: bits must be in 1..7, got {describe(bits)}")
    planes = _TORCHAO_PLANES[bits]
    if not isinstance(shards, (tuple, list)) or len(shards) != len(planes) or not all(
        isinstance(s, torch.Tensor) and s.dtype == torch.uint8 for s in shards
    ):
        raise LowbitError(
            f"from_torchao_uintx: shards must be {len(planes)} uint8 tensor(s) for {bits} bits "
            f"(planes of {[w for w, _ in planes]} bits), got {describe(shards)}"
        )
    out = 0
    for (width, shift), shard in zip(planes, shards):
        plane = torch.cat([(shard >> (width * k)) & (2**width - 1) for k in range(8 // width)], dim)
        out = out | (plane << shift)
    return out.to(torch.uint8)


def to_hqq(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """HQQ's packed weight: codes ``(rows, ...)`` planar along dim 0, the first slice in the high bits.

    1, 2, 4 bits: uint8 ``(rows * bits // 8, ...)``; 3 bits: int32 ``(ceil(rows / 10), ...)``.

    >>> to_hqq(torch.tensor([[1], [2]]), 4).tolist()
    [[18]]
    """
    if bits not in (1, 2, 3, 4):
        raise LowbitError(f"to_hqq: bits must be 1, 2, 3 or 4, got {describe(bits)}")
    c = _check_codes(codes, bits, "to_hqq")
    if c.dim() == 0:
        raise LowbitError("to_hqq: codes must have at least 1 dimension, got a 0-d tensor")
    if bits == 3:
        per = 10
        pad = -c.shape[0] % per
        c = torch.cat([c, c.new_zeros((pad, *c.shape[1:]))])
    else:
        per = 8 // bits
        _check_multiple(c.shape[0], per, f"codes.shape[0] at {bits} bits", "to_hqq")
    step = c.shape[0] // per
    top = 8 - bits if bits != 3 else 27
    packed = sum(c[k * step : (k + 1) * step] << (top - bits * k) for k in range(per))
    return packed.to(torch.int32) if bits == 3 else packed.to(torch.uint8)


def from_hqq(packed: torch.Tensor, bits: int) -> torch.Tensor:
    """uint8 codes from HQQ's packed weight (for 3 bits including the zero padding rows)."""
    if bits not in (1, 2, 3, 4):
        raise LowbitError(f"from_hqq: bits must be 1, 2, 3 or 4, got {describe(bits)}")
    want = torch.int32 if bits == 3 else torch.uint8
    if not isinstance(packed, torch.Tensor) or packed.dtype != want or packed.dim() == 0:
        got = f"{packed.dtype} with shape {tuple(packed.shape)}" if isinstance(packed, torch.Tensor) else type(packed).__name__
        raise LowbitError(f"from_hqq: packed must be a {want} tensor with at least 1 dimension at {bits} bits, got {got}")
    per, top = (10, 27) if bits == 3 else (8 // bits, 8 - bits)
    p = packed.to(torch.int64)
    return torch.cat([(p >> (top - bits * k)) & (2**bits - 1) for k in range(per)]).to(torch.uint8)
