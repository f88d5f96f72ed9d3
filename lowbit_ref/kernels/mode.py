"""Whether the kernels can run, and where: Triton's presence, the interpreter, and the checks
every launcher makes before it starts a kernel.

This is the one module of ``lowbit_ref`` that imports Triton (the other modules of this package
take ``triton`` and ``tl`` from here). It imports without Triton: ``triton`` and ``tl`` are then
None, ``@_jit`` leaves functions undecorated and the launchers raise an ImportError that says how
to install it.
"""

from __future__ import annotations

import os

import torch

from ..errors import LowbitError, describe
from ..packed import PackedTensor

try:
    import triton
    import triton.language as tl
except ImportError:  # the optional extra is absent: the references still work
    triton = None
    tl = None

__all__ = ["FLOAT_DTYPES", "INSTALL_HINT", "KERNEL_BITS", "interpreter_active", "triton_available"]

INSTALL_HINT = "pip install 'lowbit-ref[triton]' (or: pip install triton)"
#: Widths the kernels read: a value never straddles two bytes.
KERNEL_BITS = (1, 2, 4)
#: dtypes of x and scale in matvec and matmul (accumulation is always float32).
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


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


@_jit
def _mode_probe(x):
    """Never launched: decorated like the package's kernels, in the same import, so its type says
    which mode they were decorated in (``unpack``, ``matvec`` and ``matmul`` import this module
    first, then decorate theirs)."""
    pass


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
    return triton is not None and _is_interpreted(_mode_probe)


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


def _check_packed(packed, what: str) -> None:
    """Raise unless ``packed`` is a PackedTensor the kernels read (a bit stream of 1, 2 or 4 bits)."""
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
