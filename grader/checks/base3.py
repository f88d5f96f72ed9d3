"""Independent checks for lesson 04 (see grader/verify.py): run outside the student's kernel.

PRELUDE is what the solution cells may assume (the lesson's setup, minus lowbit_ref and the
plotting imports: the setup's ``as_base3`` wraps lowbit_ref only to feed its unpackers, and no
solution cell needs it), plus helpers with names no answer uses:

- ``_answer(name)`` looks an answer up (NameError if it is missing);
- ``_sizes(n)`` gives ``packed_sizes(n)`` as a tuple of plain ints where the notebook's test would
  accept it: that test compares ``tuple(got) == expected``, so a list, a tensor or numpy numbers,
  and ``2.0`` for ``2``, are right answers there, while the parent's comparison wants exact types;
- ``_wrong_bytes(name, packed, want)`` lists the bytes of ``packed`` whose five trits ``name``
  gets wrong (or gives back a result of the wrong type or shape), as the hidden test's message
  does: the feedback then names them. Only a message: the same call is also compared here.

An answer could redefine these helpers, but that only skips the check they make; what the parent
compares is still data. checks() maps each graded test cell to calls whose outputs must match
lowbit_ref's exactly; the cases are the notebook's literals (``cases``, ``N_TRITS``, ...), read
from the solutions notebook by ``common.cell_literals``. The "no division in unpack_trits_fast"
rule is checked by ``static_checks`` on the submitted cell's source, in the grading process
(``lowbit_ref.course.divisions_in``): an answer that redefines ``divisions`` in its notebook
passes the visible test there, and still loses the points here.
"""

import torch

from common import cell_literals
from lowbit_ref.base3 import pack_base3, unpack_base3, unpack_base3_divmod
from lowbit_ref.packed import PackedTensor
from lowbit_ref.ternary import pack_ternary
from lowbit_ref.course import divisions_in
from verify import ANSWER, call, raises

LESSON = "04_base3_packing"

PRELUDE = '''import math
import time
from fractions import Fraction

import torch


''' + ANSWER + '''

def _plain(v):
    if not isinstance(v, (int, float)) and hasattr(v, "item"):
        v = v.item()  # a one-element tensor or a numpy number
    if isinstance(v, float) and v.is_integer() or isinstance(v, int):
        return int(v)
    return v


def _sizes(n):
    return tuple(_plain(v) for v in _answer("packed_sizes")(n))


def _wrong_bytes(name, packed, want):
    got = _answer(name)(packed)
    if type(got) is not torch.Tensor or got.dtype != want.dtype or got.shape != want.shape:
        return got
    return sorted(set((got != want).nonzero().flatten().div(5, rounding_mode="floor").tolist()))
'''
BLOCKED = ("lowbit_ref",)


def i8(values):
    return torch.tensor(values, dtype=torch.int8)


def u8(values):
    return torch.tensor(values, dtype=torch.uint8)


def as_base3(data):
    return PackedTensor(data, 2, (5 * data.shape[0],), 0, "lsb", "base3", torch.int8)


def static_checks(cells: dict) -> dict:
    """Test cell id -> why it fails, from the answers' source alone (run in the grading process)."""
    source = cells.get("unpack_trits_fast", "")
    try:
        found = divisions_in(source, "unpack_trits_fast")
    except SyntaxError as error:
        return {"test_unpack_trits_fast": f"the cell of unpack_trits_fast does not parse ({error.msg})"}
    if found:
        return {"test_unpack_trits_fast": f"unpack_trits_fast divides, which the exercise rules out: {found}"}
    return {}


def checks():
    g = torch.Generator().manual_seed(2027)
    pack_spec, divmod_spec, fast_spec, sizes_spec = (cell_literals(LESSON, cell) for cell in (
        "test_pack_trits_base3", "test_unpack_trits_divmod", "test_unpack_trits_fast", "test_packed_sizes"))

    def random_bytes(n):
        return torch.randint(0, 243, (n,), dtype=torch.uint8, generator=g)

    pack = [call("pack_trits_base3", i8(t), expect=u8(b)) for t, b in pack_spec["cases"]]
    pack += [raises("pack_trits_base3", i8(bad)) for bad in pack_spec["REFUSED"]]
    for n in pack_spec["N_TRITS"]:
        x = torch.randint(-1, 2, (n,), dtype=torch.int8, generator=g)
        pack.append(call("pack_trits_base3", x, expect=pack_base3(x).data))

    every = torch.arange(243, dtype=torch.uint8)
    divmod_ = [call("unpack_trits_divmod", u8(b), expect=i8(t)) for b, t in divmod_spec["cases"]]
    divmod_ += [raises("unpack_trits_divmod", u8(bad)) for bad in divmod_spec["REFUSED"]]
    divmod_.append(call("unpack_trits_divmod", every, expect=unpack_base3_divmod(as_base3(every))))
    for n in divmod_spec["N_BYTES"]:
        p = random_bytes(n)
        divmod_.append(call("unpack_trits_divmod", p, expect=unpack_base3_divmod(as_base3(p))))

    fast = [call("unpack_trits_fast", u8(b), expect=i8(t)) for b, t in fast_spec["cases"]]
    want = unpack_base3_divmod(as_base3(every))
    fast += [
        call("_wrong_bytes", "unpack_trits_fast", every, want, expect=[]),  # the feedback names the bytes
        call("unpack_trits_fast", every, expect=want),  # what decides, compared here
    ]
    for n in fast_spec["N_BYTES"]:
        p = random_bytes(n)
        fast.append(call("unpack_trits_fast", p, expect=unpack_base3(as_base3(p))))

    sizes = [call("_sizes", n, expect=tuple(want)) for n, want in sizes_spec["cases"]]
    for n in sizes_spec["N_TRITS"]:
        zeros = torch.zeros(n, dtype=torch.int8)
        sizes.append(call("_sizes", n, expect=(pack_ternary(zeros).nbytes, pack_base3(zeros).nbytes)))

    return {
        "test_pack_trits_base3": pack,
        "test_unpack_trits_divmod": divmod_,
        "test_unpack_trits_fast": fast,
        "test_packed_sizes": sizes,
    }
