"""Triton kernels: unpack packed rows, and fused unpack -> dequantize -> matrix products.

Lesson 06. Three kernels, each next to the pure-torch path it is tested against, one module each:

- ``unpack.py``, ``unpack_triton(packed)``: the values of a ``PackedTensor`` (1, 2, 4-bit "uint"
  and "ternary2"); tested against the original values and against ``lowbit_ref.uintx`` /
  ``lowbit_ref.ternary``.
- ``matvec.py``, ``matvec_packed(packed, scale, x, group_size=...)``: ``y = W x`` read straight
  from the packed bytes of ``W``, never materializing the float weights; ``matvec_reference`` is
  the same sum in plain torch (unpack, dequantize, ``@``).
- ``matmul.py``, ``matmul_packed(packed, scale, X, group_size=...)``: ``Y = X W^T`` for a batch,
  the batch > 1 sibling of ``matvec_packed`` on ``tl.dot``; ``matmul_reference`` in plain torch.
- ``mode.py``: whether Triton is installed (``triton_available``), which mode the kernels run in
  (``interpreter_active``), and the checks every launcher makes before it starts a kernel.

Where they run:

- on a CUDA GPU: tensors on ``cuda``, kernels compiled by Triton;
- on the CPU: tensors on ``cpu``, kernels executed by the Triton interpreter (numpy, one program
  at a time: slow, but the same code). Set ``os.environ["TRITON_INTERPRET"] = "1"`` before
  ``triton`` is first imported: ``@triton.jit`` reads the flag when it decorates a function, and
  Triton's own jitted library functions (``tl.zeros``, ...) and this package's kernels are all
  decorated at import. ``interpreter_active()`` says which mode is in force.

Triton is an optional extra (``pip install 'lowbit-ref[triton]'``). This package imports without
it (the references work); only the kernels need it. No module of ``lowbit_ref`` outside this
package imports Triton, and inside it only ``mode`` does.
"""

from .matmul import matmul_packed, matmul_reference
from .matvec import matvec_packed, matvec_reference
from .mode import FLOAT_DTYPES, INSTALL_HINT, KERNEL_BITS, interpreter_active, triton_available
from .unpack import unpack_triton

__all__ = ["interpreter_active", "matmul_packed", "matmul_reference", "matvec_packed", "matvec_reference", "triton_available", "unpack_triton"]
