"""Independent checks for lesson 06 (see grader/verify.py): run outside the student's kernel.

PRELUDE is what the solution cells may assume: the lesson's setup (Triton, in its interpreter on
the CPU when there is no CUDA GPU, as the notebook's first cell does; ``uintx``, ``base3``,
``pack_ternary``, ``quantize_ternary`` and the ``course`` helpers of ``lowbit_ref``, loaded by
path because the sandbox does not see an editable install) minus the exercise's reference:
``lowbit_ref.kernels`` (``unpack_triton``, ``matvec_packed``, ``matvec_reference``) and what imports
it (``bench``, ``widgets``) cannot be imported there.

Exercises 2 and 3 are kernels: the locked launchers ``unpack_2bit`` and ``ternary_matvec`` run
them, with their canary and NaN guards. The launchers' source is read from the lesson's solutions
notebook, so it is the notebook's, and the drivers below define them again before each call: in
the notebook the locked cells run after the answers, so an answer that redefines a launcher, or
``CANARY``, changes nothing there, and changes nothing here. Drivers (names no answer uses):

- ``_grader_bytes(*args)``: ``matvec_bytes(*args)``; a whole number of another numeric type
  (``432.0``, a numpy or 0-d tensor integer) comes back as an ``int``, since the notebook's test
  (``got == expected``) accepts it; anything else comes back as it is and fails;
- ``_grader_kernel(name)``: ``"a Triton kernel"`` when ``name`` is one (``@triton.jit``, or an
  autotuned one): an object with a ``__getitem__`` that unpacks in torch is not the exercise;
- ``_grader_unpack2(data, n_values, block)``: ``unpack_2bit`` on the device of the lesson;
- ``_grader_matvec(data, n_cols, scale, x, group_size, block)``: ``ternary_matvec`` of the
  ``PackedTensor`` made of ``pack_ternary``'s bytes ``data`` (rows, row bytes) and ``n_cols``;
- ``_grader_matmul(data, n_cols, scale, x, group_size, blocks)``: ``ternary_matmul`` likewise,
  ``x`` of shape (batch, n_cols), ``blocks`` = (block_b, block_n, block_k).

An answer could redefine a driver, but that only skips what it does; what the parent compares is
still data. checks() maps each graded test cell to calls mirroring its visible and hidden tests
(awkward sizes: values that end mid-byte, blocks that stick out past the data), whose outputs
must match lowbit_ref's: ``uintx.unpack_bits`` exactly, ``kernels.matvec_reference`` to the
notebook's ``close`` tolerance (visible rtol=1e-5, hidden rtol=1e-4; atol=1e-4),
``kernels.matmul_reference`` to rtol=atol=1e-4. The cases are the notebook's: its literals
(``cases``, ``HIDDEN``, ...) read from the solutions notebook by ``common.cell_literals``.
"""

import json
from pathlib import Path

import torch

from common import cell_literals, cell_source, nbgrader_meta
from lowbit_ref import uintx
from lowbit_ref.kernels import matmul_reference, matvec_reference
from lowbit_ref.ternary import pack_ternary
from grader.bwrap import library_folder
from verify import call

PACKAGE = library_folder()  # the lowbit_ref the sandboxed check imports (not the course copy it hides)
NOTEBOOK = Path(__file__).resolve().parents[2] / "solutions" / "06_gpu_unpacking" / "06_gpu_unpacking.ipynb"
LESSON = "06_gpu_unpacking"
LAUNCHER_CELLS = ("unpack_2bit_launcher", "ternary_matvec_launcher", "ternary_matmul_launcher")
BLOCKED = ()  # lowbit_ref is loaded by PRELUDE, minus kernels (see below)


def _launchers() -> str:
    """The locked launcher cells of the lesson, in notebook order."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    found = {nbgrader_meta(c).get("grade_id"): cell_source(c) for c in cells}
    missing = [gid for gid in LAUNCHER_CELLS if gid not in found]
    if missing:
        raise LookupError(f"{NOTEBOOK} has no cell {missing}: the checks need the lesson's launchers")
    return "\n\n".join(found[gid] for gid in LAUNCHER_CELLS)


SETUP = f'''
import importlib.util
import os
import sys
import time

import torch

GPU = torch.cuda.is_available()
if not GPU:
    # @triton.jit reads this flag when it decorates a function; Triton's own helpers are decorated
    # when triton is imported: set it before `import triton`.
    os.environ["TRITON_INTERPRET"] = "1"

import triton
import triton.language as tl

_spec = importlib.util.spec_from_file_location(
    "lowbit_ref", {str(PACKAGE / "__init__.py")!r}, submodule_search_locations=[{str(PACKAGE)!r}])
sys.modules["lowbit_ref"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sys.modules["lowbit_ref"])
# The exercises' reference is not there while answers are checked (bench and widgets import it).
for _name in ("kernels", "bench", "widgets"):
    sys.modules["lowbit_ref." + _name] = None
from lowbit_ref import base3, uintx
from lowbit_ref.course import close, prefer, raises, report, same
from lowbit_ref.packed import PackedTensor as _grader_PackedTensor
from lowbit_ref.ternary import pack_ternary, quantize_ternary

_knobs = getattr(triton, "knobs", None)  # triton >= 3.4 parses the variable itself
INTERPRETER = bool(_knobs.runtime.interpret) if _knobs is not None else (
    os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "on", "yes"))
DEVICE = torch.device("cpu" if INTERPRETER else "cuda")
'''

DRIVERS = '''
import numbers as _grader_numbers

exec(_grader_launchers, globals())


def _grader_answer(name):
    if name not in globals():
        raise NameError(f"name {name!r} is not defined")
    return globals()[name]


def _grader_bytes(*args):
    got = _grader_answer("matvec_bytes")(*args)
    whole = isinstance(got, _grader_numbers.Real) or (isinstance(got, torch.Tensor) and got.numel() == 1)
    if type(got) is not int and not isinstance(got, bool) and whole and float(got).is_integer():
        return int(float(got))
    return got


def _grader_kernel(name):
    kernel = _grader_answer(name)
    if isinstance(kernel, triton.runtime.jit.KernelInterface):
        return "a Triton kernel"
    return f"a {type(kernel).__name__}, not a Triton kernel (@triton.jit)"


def _grader_unpack2(data, n_values, block):
    exec(_grader_launchers, globals())  # the locked cells run after the answers, as in the notebook
    return unpack_2bit(data.to(DEVICE), n_values, block=block)


def _grader_matvec(data, n_cols, scale, x, group_size, block):
    exec(_grader_launchers, globals())
    shape = torch.Size((data.shape[0], n_cols))
    packed = _grader_PackedTensor(data.to(DEVICE), 2, shape, 1, "lsb", "ternary2", torch.int8)
    return ternary_matvec(packed, scale.to(DEVICE), x.to(DEVICE), group_size, block=block)


def _grader_matmul(data, n_cols, scale, x, group_size, blocks):
    exec(_grader_launchers, globals())
    shape = torch.Size((data.shape[0], n_cols))
    packed = _grader_PackedTensor(data.to(DEVICE), 2, shape, 1, "lsb", "ternary2", torch.int8)
    return ternary_matmul(packed, scale.to(DEVICE), x.to(DEVICE), group_size, *blocks)
'''

PRELUDE = SETUP + f"\n_grader_launchers = {_launchers()!r}\n" + DRIVERS

KERNEL = "a Triton kernel"


def _counted(out_features, in_features, bits, group_size) -> int:
    """The bytes of the hidden test: lowbit_ref's packed W, the fp16 scales, x and y."""
    zeros = torch.zeros(out_features, in_features, dtype=torch.uint8)
    w = 2 * zeros.numel() if bits == 16 else uintx.pack(zeros, bits).data.nbytes
    groups = 0 if group_size is None else len(range(0, in_features, group_size))
    return w + 2 * out_features * groups + 2 * (in_features + out_features)


def _unpack(data: torch.Tensor, n_values: int, block: int):
    return call("_grader_unpack2", data, n_values, block, expect=uintx.unpack_bits(data, 2, n_values))


def _matvec(trits, scale, x, group_size, block, rtol):
    packed = pack_ternary(trits)
    want = matvec_reference(packed, scale, x, group_size=group_size)
    return call("_grader_matvec", packed.data, trits.shape[1], scale, x, group_size, block, expect=want, rtol=rtol, atol=1e-4)


def _matmul(trits, scale, x, group_size, blocks):
    packed = pack_ternary(trits)
    want = matmul_reference(packed, scale, x, group_size=group_size)
    return call("_grader_matmul", packed.data, trits.shape[1], scale, x, group_size, tuple(blocks),
                expect=want, rtol=1e-4, atol=1e-4)


def checks():
    g = torch.Generator().manual_seed(2406)
    u8 = lambda values: torch.tensor(values, dtype=torch.uint8)  # noqa: E731
    spec = {cell: cell_literals(LESSON, cell) for cell in (
        "test_matvec_bytes", "test_unpack2_kernel", "test_ternary_matvec_kernel", "test_ternary_matmul_kernel")}

    byte_cases = [tuple(args) for args, _ in spec["test_matvec_bytes"]["cases"]] + spec["test_matvec_bytes"]["HIDDEN"]

    unpacks = [_unpack(u8(data), n_values, block) for data, n_values, block, _ in spec["test_unpack2_kernel"]["cases"]]
    unpacks.append(_unpack(u8([177, 255, 3]), 9, 64))  # the lesson's probe
    for n_values, block in spec["test_unpack2_kernel"]["HIDDEN"]:
        unpacks.append(_unpack(torch.randint(0, 256, (-(-n_values // 4),), dtype=torch.uint8, generator=g), n_values, block))

    mv = spec["test_ternary_matvec_kernel"]
    visible = torch.tensor(mv["TRITS"], dtype=torch.int8)
    matvecs = [_matvec(visible, torch.tensor(scale), torch.arange(1.0, 17.0), group_size, 2, 1e-5) for group_size, scale in mv["SCALES"]]
    matvecs += [
        _matvec(torch.randint(-1, 2, (2, 64), dtype=torch.int8, generator=g), torch.rand(2, 4, generator=g),
                torch.randn(64, generator=g), 16, 4, 1e-5),
        _matvec(torch.tensor([[1, 0, -1, -1, 0, 1, 1]], dtype=torch.int8), torch.tensor([[2.0, -1.0]]),
                torch.arange(7.0), 4, 64, 1e-5),  # the lesson's probe: one padding field
    ]
    for rows, cols, group_size, block in mv["HIDDEN"]:
        trits = torch.randint(-1, 2, (rows, cols), dtype=torch.int8, generator=g)
        scale = torch.rand(rows, -(-cols // group_size), generator=g) + 0.5
        matvecs.append(_matvec(trits, scale, torch.randn(cols, generator=g), group_size, block, 1e-4))

    mm = spec["test_ternary_matmul_kernel"]
    matmuls = []
    for n_batch, n_rows, n_cols, group_size, *blocks in [(*case, (16, 16, 16)) for case in mm["cases"]] + mm["HIDDEN"]:
        trits = torch.randint(-1, 2, (n_rows, n_cols), dtype=torch.int8, generator=g)
        scale = torch.rand(n_rows, -(-n_cols // group_size), generator=g) + 0.5
        matmuls.append(_matmul(trits, scale, torch.randn(n_batch, n_cols, generator=g), group_size, blocks[0]))

    return {
        "test_matvec_bytes": [call("_grader_bytes", *args, expect=_counted(*args)) for args in byte_cases],
        "test_unpack2_kernel": [call("_grader_kernel", "unpack2_kernel", expect=KERNEL), *unpacks],
        "test_ternary_matvec_kernel": [call("_grader_kernel", "ternary_matvec_kernel", expect=KERNEL), *matvecs],
        "test_ternary_matmul_kernel": [call("_grader_kernel", "ternary_matmul_kernel", expect=KERNEL), *matmuls],
    }
