"""Triton kernels: unpack packed rows, and a fused unpack -> dequantize -> matrix-vector product.

Lesson 06. Two kernels, each next to the pure-torch path it is tested against:

- ``unpack_triton(packed)``: the values of a ``PackedTensor`` (1, 2, 4-bit "uint" and "ternary2");
  tested against the original values and against ``lowbit_ref.uintx`` / ``lowbit_ref.ternary``.
- ``matvec_packed(packed, scale, x, group_size=...)``: ``y = W x`` read straight from the packed
  bytes of ``W``, never materializing the float weights; ``matvec_reference`` is the same sum in
  plain torch (unpack, dequantize, ``@``).

Where they run:

- on a CUDA GPU: tensors on ``cuda``, kernels compiled by Triton;
- on the CPU: tensors on ``cpu``, kernels executed by the Triton interpreter (numpy, one program
  at a time: slow, but the same code). Set ``os.environ["TRITON_INTERPRET"] = "1"`` before
  ``triton`` is first imported: ``@triton.jit`` reads the flag when it decorates a function, and
  Triton's own jitted library functions (``tl.zeros``, ...) and this module's kernels are all
  decorated at import. ``interpreter_active()`` says which mode is in force.

Triton is an optional extra (``pip install 'lowbit-ref[triton]'``). This module imports without
it (the references work); only the kernels need it. No other module of ``lowbit_ref`` imports
Triton.
"""

from __future__ import annotations

import os

import torch

from .errors import LowbitError, describe
from .packed import PackedTensor

try:
    import triton
    import triton.language as tl
except ImportError:  # the optional extra is absent: the references below still work
    triton = None
    tl = None

__all__ = ["interpreter_active", "matmul_packed", "matmul_reference", "matvec_packed", "matvec_reference", "triton_available", "unpack_triton"]

INSTALL_HINT = "pip install 'lowbit-ref[triton]' (or: pip install triton)"
#: Widths the kernels read: a value never straddles two bytes.
KERNEL_BITS = (1, 2, 4)
#: dtypes of x and scale in matvec (accumulation is always float32).
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
# dtypes a kernel stores directly; bool goes through uint8 (Triton has no 1-bit stores).
_STORE_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, *FLOAT_DTYPES, torch.float64)
_UNPACK_DTYPES = (torch.bool, *_STORE_DTYPES)
# 8192 outputs per program (32 per thread at 8 warps) keep enough bytes in flight per SM.
_UNPACK_VALUES_PER_PROGRAM = 8192
_MATVEC_BLOCK_ROWS = 8
_MATVEC_COLS_PER_STEP = 512
_MAX_BLOCK_BYTES = 65536


# --- mode -------------------------------------------------------------------------------------


def triton_available() -> bool:
    """True when Triton is installed, so the kernels can run (on a GPU or in the interpreter)."""
    return triton is not None


def _interpret_flag() -> bool:
    knobs = getattr(triton, "knobs", None)
    if knobs is not None:  # triton >= 3.4 parses the variable itself
        return bool(knobs.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "on", "yes")


def _jit(fn):
    # triton.jit reads TRITON_INTERPRET when it decorates, here at import; Triton's own jitted
    # helpers (tl.zeros, ...) are decorated when triton is imported: set the flag before both.
    return fn if triton is None else triton.jit(fn)


def _is_interpreted(fn) -> bool:
    return type(fn).__name__ == "InterpretedFunction"


def interpreter_active() -> bool:
    """True when the kernels run in the Triton interpreter (CPU tensors), False when they compile
    for a GPU or Triton is not installed.

    ``@triton.jit`` reads ``TRITON_INTERPRET`` when it decorates a function, which for these
    kernels and for Triton's own library happens at import: set it before the first ``import
    triton`` or ``import lowbit_ref.kernels`` (in a notebook, in the first cell; changing it later
    needs a restart).

    >>> isinstance(interpreter_active(), bool)
    True
    """
    return triton is not None and _is_interpreted(_unpack_rows_kernel)


def _launch_check(device: torch.device, what: str) -> None:
    """Raise unless the kernels can run on ``device`` in this process."""
    if triton is None:
        raise ImportError(f"{what} needs Triton, which is not installed: {INSTALL_HINT}")
    restart = "restart Python (in a notebook: the kernel) and set it before the first import of triton"
    library = type(tl.zeros).__name__  # Triton's own jitted helpers carry its import-time mode
    if library in ("JITFunction", "InterpretedFunction") and _is_interpreted(tl.zeros) != interpreter_active():
        raise LowbitError(
            f"{what}: TRITON_INTERPRET changed between `import triton` and `import lowbit_ref.kernels`; {restart}"
        )
    if interpreter_active():
        if device.type not in ("cpu", "cuda"):
            raise LowbitError(f"{what}: the Triton interpreter takes cpu or cuda tensors, got device {device}")
    elif device.type != "cuda":
        gpu = "" if torch.cuda.is_available() else " (and no CUDA GPU is available here)"
        if _interpret_flag():
            how = f"TRITON_INTERPRET=1 is set, but after triton was imported (its jitted functions read it when they were defined, at import): {restart}"
        else:
            how = (
                "to run them in the Triton interpreter on the CPU, set TRITON_INTERPRET=1 before triton is "
                "imported: os.environ['TRITON_INTERPRET'] = '1' in a notebook's first cell"
            )
        raise LowbitError(
            f"{what}: tensors are on device {device}, but Triton compiles kernels for CUDA GPUs only{gpu}; {how}"
        )


def _check_block(name: str, value, limit: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value & (value - 1) or value > limit:
        raise LowbitError(f"{name} must be a power of two in 1..{limit}, got {describe(value)}")


def _pow2_at_least(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


# --- unpack -----------------------------------------------------------------------------------


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


def _check_packed(packed, what: str) -> None:
    if not isinstance(packed, PackedTensor):
        raise LowbitError(f"{what}: packed must be a PackedTensor, got {type(packed).__name__}")
    if packed.scheme not in ("uint", "ternary2"):
        raise LowbitError(
            f"{what}: packed.scheme must be 'uint' or 'ternary2', got {packed.scheme!r} "
            "(base-3 bytes are not a bit stream; unpack them with lowbit_ref.base3)"
        )
    if packed.bits not in KERNEL_BITS or (packed.scheme == "ternary2" and packed.bits != 2):
        accepted = "2 for ternary2" if packed.scheme == "ternary2" else f"one of {KERNEL_BITS}"
        raise LowbitError(f"{what}: packed.bits must be {accepted}, got {packed.bits}")


# --- fused unpack -> dequantize -> matrix-vector product --------------------------------------


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


# --- batch > 1: unpack -> dequantize -> tl.dot (tensor cores) ----------------------------------


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
