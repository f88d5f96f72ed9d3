"""``matmul_packed``: ``Y = X W^T`` for a batch of inputs, the packed ``W`` unpacked and
dequantized in registers and multiplied by ``tl.dot`` (the tensor cores of a GPU); and
``matmul_reference``, the same product in plain torch with the operands ``tl.dot`` gets."""

from __future__ import annotations

import torch

from ..errors import LowbitError
from ..packed import PackedTensor
from .matvec import _check_matvec, _codes_torch
from .mode import _check_block, _jit, _launch_check, _pow2_at_least, tl

__all__ = ["matmul_packed", "matmul_reference"]


@_jit
def _matmul_kernel(
    w, scale, x, y, n_batch, n_rows, n_cols, row_bytes, group_size, s_row, s_group,
    BITS: tl.constexpr, OFFSET: tl.constexpr, MSB: tl.constexpr,
    BLOCK_B: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    PER_BYTE: tl.constexpr = 8 // BITS
    b = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)  # (BLOCK_B,) rows of X and Y
    n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)  # (BLOCK_N,) rows of W, columns of Y
    b_ok, n_ok = b < n_batch, n < n_rows
    b64, n64 = b.to(tl.int64)[:, None], n.to(tl.int64)[:, None]
    acc = tl.zeros((BLOCK_B, BLOCK_N), dtype=tl.float32)
    for start in range(0, n_cols, BLOCK_K):
        col = start + tl.arange(0, BLOCK_K)  # (BLOCK_K,) consecutive columns: coalesced loads of X
        col_ok = col < n_cols
        slot = col % PER_BYTE
        if MSB:
            slot = PER_BYTE - 1 - slot
        # Each byte is loaded PER_BYTE times (once per slot); the copies hit the cache.
        byte = tl.load(w + n64 * row_bytes + (col // PER_BYTE)[None, :], mask=n_ok[:, None] & col_ok[None, :], other=0)
        q = ((byte.to(tl.int32) >> (slot * BITS)[None, :]) & ((1 << BITS) - 1)).to(tl.float32) - OFFSET
        s = tl.load(scale + n64 * s_row + (col // group_size)[None, :] * s_group,
                    mask=n_ok[:, None] & col_ok[None, :], other=0.0).to(tl.float32)  # fmt: skip
        wt = q * s  # (BLOCK_N, BLOCK_K) dequantized weights, in registers only
        xt = tl.load(x + b64 * n_cols + col[None, :], mask=b_ok[:, None] & col_ok[None, :], other=0.0)
        # fp16 operands: the tensor cores' input; products accumulate in float32.
        acc += tl.dot(xt.to(tl.float16), tl.trans(wt.to(tl.float16)))
    tl.store(y + b64 * n_rows + n[None, :], acc.to(y.dtype.element_ty), mask=b_ok[:, None] & n_ok[None, :])


def matmul_packed(
    packed: PackedTensor,
    scale: torch.Tensor,
    x: torch.Tensor,
    *,
    group_size: int,
    block_b: int | None = None,
    block_n: int | None = None,
    block_k: int | None = None,
) -> torch.Tensor:
    """``Y = X W^T`` for a batch of inputs ``X`` (batch, in_features), read straight from the
    packed bytes of ``W`` (out_features, in_features): the batch > 1 sibling of ``matvec_packed``.

    Each program computes a (block_b, block_n) tile of ``Y``: for every block_k columns it
    unpacks and dequantizes a (block_n, block_k) tile of ``W`` in registers and multiplies it
    with the (block_b, block_k) tile of ``X`` by ``tl.dot``, which runs on the tensor cores of a
    GPU. Operands go to the dot in float16 (so results agree with ``matvec_reference`` row by
    row to about 1e-3 relative), products accumulate in float32; ``Y`` has ``X``'s dtype.
    Every weight read now serves ``batch`` multiply-adds instead of one: the intensity grows with
    the batch, and past the ridge point the kernel is compute-bound.

    ``packed``, ``scale`` and ``group_size`` are as for ``matvec_packed`` (no ``zero``);
    block sizes are powers of two, at least 16 (``tl.dot``'s smallest tile).

    >>> data = torch.tensor([[177], [161]], dtype=torch.uint8)        # codes [[1, 0, 3, 2], [1, 0, 2, 2]]
    >>> W = PackedTensor(data, bits=2, shape=(2, 4), dim=1)
    >>> scale = torch.tensor([[1.0, 10.0], [0.5, 0.5]])               # groups of 2 columns
    >>> matmul_packed(W, scale, torch.ones(3, 4), group_size=2)       # on a CPU: TRITON_INTERPRET=1
    tensor([[51.0000,  2.5000],
            [51.0000,  2.5000],
            [51.0000,  2.5000]])
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise LowbitError(f"matmul_packed: x must be a 2-D tensor (batch, in_features), got {shape}")
    in_features = packed.shape[-1] if isinstance(packed, PackedTensor) and len(packed.shape) == 2 else -1
    if x.shape[1] != in_features and in_features >= 0:
        raise LowbitError(f"matmul_packed: x must have shape (batch, {in_features}) for W {tuple(packed.shape)}, "
                          f"got {tuple(x.shape)}")  # fmt: skip
    probe = x[0] if x.shape[0] else x.new_empty(x.shape[1])
    _check_matvec(packed, scale, probe, group_size, None, "matmul_packed")
    for name, value in (("block_b", block_b), ("block_n", block_n), ("block_k", block_k)):
        _check_block(name, value, 256)
        if value is not None and value < 16:
            raise LowbitError(f"matmul_packed: {name} must be at least 16 (tl.dot's smallest tile), got {value}")
    _launch_check(packed.device, "matmul_packed")
    batch = x.shape[0]
    out_features, in_features = packed.shape
    y = torch.empty(batch, out_features, dtype=x.dtype, device=x.device)
    if batch == 0 or out_features == 0:
        return y
    if in_features == 0:
        return y.zero_()
    data = packed.data.contiguous()
    block_b = block_b or max(16, min(64, _pow2_at_least(batch)))
    block_n = block_n or max(16, min(64, _pow2_at_least(out_features)))
    block_k = block_k or max(16, min(64, _pow2_at_least(in_features)))
    grid = (-(-batch // block_b), -(-out_features // block_n))
    _matmul_kernel[grid](
        data, scale, x.contiguous(), y, batch, out_features, in_features, data.shape[1], group_size,
        scale.stride(0), scale.stride(1),
        BITS=packed.bits, OFFSET=int(packed.scheme == "ternary2"), MSB=packed.order == "msb",
        BLOCK_B=block_b, BLOCK_N=block_n, BLOCK_K=block_k,
    )  # fmt: skip
    return y


def matmul_reference(packed: PackedTensor, scale: torch.Tensor, x: torch.Tensor, *, group_size: int) -> torch.Tensor:
    """``Y = X W^T`` in plain torch with the operands ``matmul_packed`` gives ``tl.dot``: ``W``
    dequantized (code x scale) and ``X`` both rounded to float16, products summed in float32.
    ``Y`` has ``x``'s dtype. Same arguments and checks as ``matmul_packed``; needs no Triton.

    >>> W = PackedTensor(torch.tensor([[177], [161]], dtype=torch.uint8), bits=2, shape=(2, 4), dim=1)
    >>> matmul_reference(W, torch.tensor([[1.0, 10.0], [0.5, 0.5]]), torch.ones(1, 4), group_size=2)
    tensor([[51.0000,  2.5000]])
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise LowbitError(f"matmul_reference: x must be a 2-D tensor (batch, in_features), got {shape}")
    probe = x[0] if x.shape[0] else x.new_empty(x.shape[1])
    _check_matvec(packed, scale, probe, group_size, None, "matmul_reference")
    in_features = packed.shape[1]
    w = _codes_torch(packed).float() * scale.float().repeat_interleave(group_size, dim=1)[:, :in_features]
    return (x.half().float() @ w.half().float().T).to(x.dtype)
