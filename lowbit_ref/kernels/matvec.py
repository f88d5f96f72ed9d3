"""``matvec_packed``: ``y = W x`` read straight from the packed bytes of ``W`` in one Triton kernel,
and ``matvec_reference``, the same sum in plain torch (unpack, dequantize, ``@``)."""

from __future__ import annotations

import torch

from ..errors import LowbitError, describe
from ..packed import PackedTensor
from .mode import FLOAT_DTYPES, _check_block, _check_packed, _jit, _launch_check, _pow2_at_least, tl

__all__ = ["matvec_packed", "matvec_reference"]

_MATVEC_BLOCK_ROWS = 8
_MATVEC_COLS_PER_STEP = 512


@_jit
def _matvec_kernel(
    w, scale, zero, x, y, n_rows, n_cols, row_bytes, group_size, s_row, s_group, z_row, z_group,
    BITS: tl.constexpr, OFFSET: tl.constexpr, MSB: tl.constexpr, HAS_ZERO: tl.constexpr,
    BLOCK_ROWS: tl.constexpr, BLOCK_BYTES: tl.constexpr,
):  # fmt: skip
    PER_BYTE: tl.constexpr = 8 // BITS
    BLOCK_COLS: tl.constexpr = BLOCK_BYTES * PER_BYTE
    rows = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)  # (BLOCK_ROWS,)
    row_ok = rows < n_rows
    r64 = rows.to(tl.int64)[:, None]  # (BLOCK_ROWS, 1): row * row_bytes overflows int32 on big W
    slot = tl.arange(0, PER_BYTE)  # (PER_BYTE,)
    if MSB:
        slot = PER_BYTE - 1 - slot
    shifts = slot * BITS
    # Products are summed elementwise across steps and reduced once at the end.
    acc = tl.zeros((BLOCK_ROWS, BLOCK_COLS), dtype=tl.float32)
    for start in range(0, row_bytes, BLOCK_BYTES):
        byte = start + tl.arange(0, BLOCK_BYTES)  # (BLOCK_BYTES,)
        tile = tl.load(
            w + r64 * row_bytes + byte[None, :], mask=row_ok[:, None] & (byte < row_bytes)[None, :], other=0
        ).to(tl.int32)  # (BLOCK_ROWS, BLOCK_BYTES)
        fields = (tile[:, :, None] >> shifts[None, None, :]) & ((1 << BITS) - 1)  # (BLOCK_ROWS, BLOCK_BYTES, PER_BYTE)
        q = tl.reshape(fields, (BLOCK_ROWS, BLOCK_COLS)).to(tl.float32) - OFFSET  # codes, column-ordered
        col = start * PER_BYTE + tl.arange(0, BLOCK_COLS)  # (BLOCK_COLS,)
        col_ok = col < n_cols
        ok = row_ok[:, None] & col_ok[None, :]
        group = (col // group_size)[None, :]  # (1, BLOCK_COLS); repeated scale loads hit the cache
        # Padding fields must not count, whatever they hold (ternary2 pads with trit 0; files of
        # format version 1 padded with trit -1): their scale loads as 0, and x as 0.
        s = tl.load(scale + r64 * s_row + group * s_group, mask=ok, other=0.0).to(tl.float32)
        if HAS_ZERO:
            q = q - tl.load(zero + r64 * z_row + group * z_group, mask=ok, other=0).to(tl.float32)
        xv = tl.load(x + col, mask=col_ok, other=0.0).to(tl.float32)  # (BLOCK_COLS,)
        acc += q * s * xv[None, :]
    tl.store(y + rows, tl.sum(acc, axis=1).to(y.dtype.element_ty), mask=row_ok)


def matvec_packed(
    packed: PackedTensor,
    scale: torch.Tensor,
    x: torch.Tensor,
    *,
    group_size: int,
    zero: torch.Tensor | float | None = None,
    block_rows: int | None = None,
    block_bytes: int | None = None,
) -> torch.Tensor:
    """``y = W x`` computed from the packed bytes of ``W`` in one Triton kernel.

    ``W`` has shape (out_features, in_features) and is packed along in_features (``dim=1``).
    Column ``c`` of row ``r`` belongs to group ``g = c // group_size``, and its weight is::

        ternary2:            w[r, c] = trit[r, c] * scale[r, g]              trit = field - 1
        uint, no zero:       w[r, c] = q[r, c] * scale[r, g]
        uint, with zero:     w[r, c] = (q[r, c] - zero[r, g]) * scale[r, g]   (asymmetric)

    ``scale`` has shape (out_features, n_groups) with ``n_groups = ceil(in_features / group_size)``
    (``in_features // group_size`` when it divides; a last, shorter group otherwise). For one
    scale per tensor pass ``scale.reshape(1, 1).expand(out_features, 1)`` and
    ``group_size=in_features``. ``zero`` (uint only) is either per group, a tensor shaped like
    ``scale`` (float or integer), or one scalar for the whole matrix (a number or a 0-d tensor),
    e.g. ``2`` to centre 2-bit codes {0..3}.

    How one program walks ``W`` (BLOCK_ROWS rows; each step reads BLOCK_BYTES bytes per row)::

        packed W (out, row_bytes)          x (in,)
        rows r..r+BLOCK_ROWS  [ step 0 | step 1 | ... ]
                                 |  fields: (BLOCK_ROWS, BLOCK_BYTES, per_byte) -> (BLOCK_ROWS, BLOCK_COLS)
                                 |  w = (q - zero[g]) * scale[g]     columns c = byte * per_byte + slot
                                 +- acc += w * x[c]   ...   y[r..] = acc.sum(axis=1)

    The weights exist only in registers: the kernel reads ``bits / 8`` bytes per weight.
    Products accumulate in float32; ``y`` has ``x``'s dtype.

    Args:
        packed: W as a PackedTensor, scheme "uint" (bits 1, 2, 4) or "ternary2", shape (out, in), dim 1.
        scale: (out, n_groups), float16 / bfloat16 / float32.
        x: (in,), float16 / bfloat16 / float32.
        group_size: columns per scale, >= 1.
        zero: None, or the zero point of uint codes (see above).
        block_rows, block_bytes: rows per program and bytes per row per step, powers of two.

    >>> data = torch.tensor([[177], [161]], dtype=torch.uint8)        # codes [[1, 0, 3, 2], [1, 0, 2, 2]]
    >>> W = PackedTensor(data, bits=2, shape=(2, 4), dim=1)
    >>> scale = torch.tensor([[1.0, 10.0], [0.5, 0.5]])               # groups of 2 columns
    >>> matvec_packed(W, scale, torch.ones(4), group_size=2, zero=1)  # on a CPU: TRITON_INTERPRET=1
    tensor([29.0000,  0.5000])
    """
    n_groups, zero = _check_matvec(packed, scale, x, group_size, zero, "matvec_packed")
    _check_block("block_rows", block_rows, 256)
    _check_block("block_bytes", block_bytes, 4096)
    _launch_check(packed.device, "matvec_packed")
    out_features, in_features = packed.shape
    y = torch.empty(out_features, dtype=x.dtype, device=x.device)  # (out,)
    if out_features == 0:
        return y
    data = packed.data.contiguous()  # (out, row_bytes)
    row_bytes = data.shape[1]
    per_byte = 8 // packed.bits
    block_rows = block_rows or min(_MATVEC_BLOCK_ROWS, _pow2_at_least(out_features))
    block_bytes = block_bytes or min(_MATVEC_COLS_PER_STEP // per_byte, _pow2_at_least(row_bytes))
    z = zero if zero is not None else scale  # never read when HAS_ZERO is False
    z = z.expand(out_features, n_groups)  # a scalar zero becomes stride 0
    _matvec_kernel[(-(-out_features // block_rows),)](
        data, scale, z, x.contiguous(), y, out_features, in_features, row_bytes, group_size,
        scale.stride(0), scale.stride(1), z.stride(0), z.stride(1),
        BITS=packed.bits, OFFSET=int(packed.scheme == "ternary2"), MSB=packed.order == "msb",
        HAS_ZERO=zero is not None, BLOCK_ROWS=block_rows, BLOCK_BYTES=block_bytes, num_warps=4,
    )  # fmt: skip
    return y


def matvec_reference(
    packed: PackedTensor,
    scale: torch.Tensor,
    x: torch.Tensor,
    *,
    group_size: int,
    zero: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """``y = W x`` in plain torch: unpack, dequantize to a float32 W, then ``W @ x``.

    Same arguments, checks and result dtype as ``matvec_packed``; needs no Triton and runs on
    any device. It materializes W in float32, which the kernel exists to avoid.

    >>> data = torch.tensor([[177], [161]], dtype=torch.uint8)        # codes [[1, 0, 3, 2], [1, 0, 2, 2]]
    >>> W = PackedTensor(data, bits=2, shape=(2, 4), dim=1)
    >>> scale = torch.tensor([[1.0, 10.0], [0.5, 0.5]])               # groups of 2 columns
    >>> matvec_reference(W, scale, torch.ones(4), group_size=2, zero=1)
    tensor([29.0000,  0.5000])
    """
    n_groups, zero = _check_matvec(packed, scale, x, group_size, zero, "matvec_reference")
    out_features, in_features = packed.shape
    q = _codes_torch(packed).float()  # (out, in)
    if zero is not None:
        q = q - zero.float().expand(out_features, n_groups).repeat_interleave(group_size, dim=1)[:, :in_features]
    w = q * scale.float().repeat_interleave(group_size, dim=1)[:, :in_features]  # (out, in)
    return (w @ x.float()).to(x.dtype)


def _codes_torch(packed: PackedTensor) -> torch.Tensor:
    """The codes of a 2-D PackedTensor packed along dim 1, as int32 (ternary2: trits)."""
    per_byte = 8 // packed.bits
    slot = torch.arange(per_byte, device=packed.device)
    if packed.order == "msb":
        slot = per_byte - 1 - slot
    fields = (packed.data.to(torch.int32)[..., None] >> (slot * packed.bits)) & ((1 << packed.bits) - 1)
    codes = fields.flatten(-2)[:, : packed.shape[1]]  # (out, in): drop the padding fields
    return codes - 1 if packed.scheme == "ternary2" else codes


def _check_matvec(packed, scale, x, group_size, zero, what: str):
    """Check the arguments of a matvec; returns ``(n_groups, zero as a tensor or None)``."""
    _check_packed(packed, what)
    if len(packed.shape) != 2 or packed.dim != 1:
        raise LowbitError(
            f"{what}: packed must be W of shape (out_features, in_features) packed along dim 1, "
            f"got shape {tuple(packed.shape)} packed along dim {packed.dim}"
        )
    out_features, in_features = packed.shape
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise LowbitError(f"{what}: group_size must be an int >= 1, got {describe(group_size)}")
    n_groups = -(-in_features // group_size)
    for name, t, shape in (("scale", scale, (out_features, n_groups)), ("x", x, (in_features,))):
        if not isinstance(t, torch.Tensor):
            raise LowbitError(f"{what}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in FLOAT_DTYPES:
            raise LowbitError(f"{what}: {name}.dtype must be one of {FLOAT_DTYPES}, got {t.dtype}")
        if tuple(t.shape) != shape:
            raise LowbitError(
                f"{what}: {name} must have shape {shape} for W {tuple(packed.shape)} and "
                f"group_size={group_size}, got {tuple(t.shape)}"
            )
        if t.device != packed.device:
            raise LowbitError(f"{what}: {name} is on {t.device} but packed is on {packed.device}")
    if zero is None:
        return n_groups, None
    if packed.scheme == "ternary2":
        raise LowbitError(
            f"{what}: zero is only for unsigned codes (scheme 'uint'); ternary2 codes are already "
            f"signed, got zero={describe(zero)}"
        )
    if isinstance(zero, (int, float)) and not isinstance(zero, bool):
        zero = torch.tensor(float(zero), device=packed.device)
    if not isinstance(zero, torch.Tensor) or zero.dtype == torch.bool or zero.is_complex():
        raise LowbitError(f"{what}: zero must be None, a real number or a real tensor, got {describe(zero)}")
    if zero.dim() != 0 and tuple(zero.shape) != (out_features, n_groups):
        raise LowbitError(
            f"{what}: zero must be a scalar or have the shape of scale {(out_features, n_groups)}, "
            f"got {tuple(zero.shape)}"
        )
    if zero.device != packed.device:
        raise LowbitError(f"{what}: zero is on {zero.device} but packed is on {packed.device}")
    return n_groups, zero
