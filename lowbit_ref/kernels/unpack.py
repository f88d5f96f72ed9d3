"""``unpack_triton``: the values of a packed bit stream, one Triton program per block of bytes."""

from __future__ import annotations

import torch

from ..errors import LowbitError
from ..packed import PackedTensor
from .mode import FLOAT_DTYPES, _check_block, _check_packed, _jit, _launch_check, _pow2_at_least, tl

__all__ = ["unpack_triton"]

# dtypes a kernel stores directly; bool goes through uint8 (Triton has no 1-bit stores).
_STORE_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, *FLOAT_DTYPES, torch.float64)
_UNPACK_DTYPES = (torch.bool, *_STORE_DTYPES)
# 8192 outputs per program (32 per thread at 8 warps) keep enough bytes in flight per SM.
_UNPACK_VALUES_PER_PROGRAM = 8192
_MAX_BLOCK_BYTES = 65536


@_jit
def _unpack_rows_kernel(
    src, dst, row_bytes, row_len, blocks_per_row,
    BITS: tl.constexpr, OFFSET: tl.constexpr, MSB: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    PER_BYTE: tl.constexpr = 8 // BITS
    pid = tl.program_id(0)
    row = (pid // blocks_per_row).to(tl.int64)
    first = (pid % blocks_per_row).to(tl.int64) * BLOCK  # first byte of this program in its row
    byte = first + tl.arange(0, BLOCK)  # (BLOCK,)
    packed = tl.load(src + row * row_bytes + byte, mask=byte < row_bytes, other=0).to(tl.int32)
    slot = tl.arange(0, PER_BYTE)  # (PER_BYTE,)
    if MSB:
        slot = PER_BYTE - 1 - slot
    fields = (packed[:, None] >> (slot * BITS)[None, :]) & ((1 << BITS) - 1)  # (BLOCK, PER_BYTE)
    values = tl.reshape(fields - OFFSET, (BLOCK * PER_BYTE,))  # row-major: byte k -> values k*PER_BYTE...
    # Offsets from one arange (not from byte * PER_BYTE + slot) let Triton see BLOCK * PER_BYTE
    # contiguous outputs and emit wide vector stores.
    col = first * PER_BYTE + tl.arange(0, BLOCK * PER_BYTE)  # (BLOCK * PER_BYTE,)
    tl.store(dst + row * row_len + col, values.to(dst.dtype.element_ty), mask=col < row_len)


def unpack_triton(packed: PackedTensor, *, block_bytes: int | None = None) -> torch.Tensor:
    """Unpack ``packed`` with a Triton kernel: the original tensor (shape, dtype, device).

    Handles "uint" at 1, 2 or 4 bits and "ternary2", both bit orders, any packed ``dim`` (the
    fast path is the last dim; another dim costs a transpose on each side).

    The layout read (the library's one layout: LSB-first, value i of a row in byte i // per_byte)::

        one byte, 2 bits per value
                  bit  7 6   5 4   3 2   1 0
            177  =   [ 1 0 | 1 1 | 0 0 | 0 1 ]
            slot         3     2     1     0      field = (byte >> (slot * bits)) & 0b11
            field        2     3     0     1  ->  values [1, 0, 3, 2]   (ternary2: field - 1)

        one program: BLOCK bytes of one row -> BLOCK * per_byte contiguous values
            bytes    b[k .. k+BLOCK)                                     (BLOCK,)
            shifts   [0, bits, 2 bits, ...]    (msb: reversed)           (per_byte,)
            fields   (bytes[:, None] >> shifts[None, :]) & (2**bits - 1)  (BLOCK, per_byte)
            store    fields flattened row-major at values [k * per_byte, (k + BLOCK) * per_byte)

    Padding fields past the row's length are never stored. Rows with no padding
    (``n % per_byte == 0``) are one contiguous stream, so all of it is split into equal blocks.

    Args:
        packed: a ``PackedTensor`` with scheme "uint" (bits 1, 2, 4) or "ternary2".
        block_bytes: bytes per program, a power of two (default: 8192 values' worth).

    >>> data = torch.tensor([[177], [161]], dtype=torch.uint8)
    >>> unpack_triton(PackedTensor(data, bits=2, shape=(2, 4), dim=1))  # on a CPU: TRITON_INTERPRET=1
    tensor([[1, 0, 3, 2],
            [1, 0, 2, 2]], dtype=torch.uint8)
    """
    _check_packed(packed, "unpack_triton")
    if packed.dtype not in _UNPACK_DTYPES:
        raise LowbitError(f"unpack_triton: packed.dtype must be one of {_UNPACK_DTYPES}, got {packed.dtype}")
    if packed.scheme == "ternary2" and not packed.dtype.is_signed:
        raise LowbitError(
            f"unpack_triton: ternary2 values are -1, 0, 1, so packed.dtype must be signed, got {packed.dtype}"
        )
    _check_block("block_bytes", block_bytes, _MAX_BLOCK_BYTES)
    _launch_check(packed.device, "unpack_triton")

    per_byte = 8 // packed.bits
    shape = list(packed.shape) or [1]  # 0-d tensors pack as one value
    n = shape[packed.dim]
    out_dtype = packed.dtype if packed.dtype in _STORE_DTYPES else torch.uint8
    data = packed.data.movedim(packed.dim, -1).contiguous()  # (..., row_bytes)
    out = torch.empty(data.shape[:-1] + (n,), dtype=out_dtype, device=data.device)  # (..., n)
    if out.numel():
        rows, row_bytes, row_len = out.numel() // n, data.shape[-1], n
        if n % per_byte == 0:  # no padding: one stream, blocks need not stop at row ends
            rows, row_bytes, row_len = 1, data.numel(), out.numel()
        block = block_bytes or min(_UNPACK_VALUES_PER_PROGRAM // per_byte, _pow2_at_least(row_bytes))
        blocks_per_row = -(-row_bytes // block)
        _unpack_rows_kernel[(rows * blocks_per_row,)](
            data, out, row_bytes, row_len, blocks_per_row,
            BITS=packed.bits, OFFSET=int(packed.scheme == "ternary2"), MSB=packed.order == "msb", BLOCK=block,
            num_warps=max(1, min(8, block * per_byte // 1024)),
        )  # fmt: skip
    out = out.to(packed.dtype).movedim(-1, packed.dim)
    return out.contiguous().reshape(packed.shape)
