"""Independent checks for lesson 02 (see grader/verify.py): run outside the student's kernel.

PRELUDE is what the solution cells may assume (the lesson's setup, minus lowbit_ref), plus
small helpers with names no answer uses, so the checks can ask what the hidden tests ask
(``_answer(name)`` looks an answer up, NameError if missing):

- ``_on_transposed(name, x)`` calls ``name(x.t())``: the hidden tests give pack_2bit and
  unpack_2bit a transposed, non-contiguous tensor, and the sandbox only hands over contiguous ones;
- ``_input_after(name, x, *rest)`` calls ``name(x, *rest)`` and gives back ``x``: the hidden tests
  check that every exercise leaves its input alone (sample_partial's pack_4bit shifts a view of
  its input in place: its bytes are right, only this check sees the bug).

An answer could redefine these helpers, but that only skips the check they make, which no score
depends on; what the parent compares is still data. BLOCKED: all of lowbit_ref (the exercises
re-implement ``uintx``; the setup's demo helpers are not needed by any solution cell).
checks() maps each graded test cell to calls whose outputs must match lowbit_ref's exactly.
"""

import torch

from common import cell_literals
from lowbit_ref import uintx
from lowbit_ref.packed import PackedTensor
from verify import ANSWER, call, raises

PRELUDE = '''import time
import torch


''' + ANSWER + '''

def _on_transposed(name, x, *rest):
    return _answer(name)(x.t(), *rest)


def _input_after(name, x, *rest):
    _answer(name)(x, *rest)
    return x
'''
BLOCKED = ("lowbit_ref",)
LESSON = "02_vectorized_packing"


def u8(values):
    return torch.tensor(values, dtype=torch.uint8)


def checks():
    g = torch.Generator().manual_seed(2025)

    def rand(high, shape):
        return torch.randint(0, high, shape, dtype=torch.uint8, generator=g)

    def unpacked(p, bits, per_byte, order="lsb"):
        shape = (*p.shape[:-1], per_byte * p.shape[-1])
        return uintx.unpack(PackedTensor(p, bits, shape, p.dim() - 1, order=order))

    spec = {cell: cell_literals(LESSON, cell) for cell in (
        "test_pack_2bit", "test_unpack_2bit", "test_four_bit", "test_pack_bits", "test_unpack_bits", "test_pack_2bit_msb")}

    # pack_2bit: the visible worked examples, then random shapes (empty ones too), a transposed input
    pack2 = [call("pack_2bit", u8(v), expect=u8(w)) for v, w in spec["test_pack_2bit"]["cases"]]
    pack2.append(raises("pack_2bit", torch.zeros(2, 6, dtype=torch.uint8)))
    pack2.append(raises("pack_2bit", u8([1, 0, 4, 2])))
    pack2 += [raises("pack_2bit", u8(bad)) for bad in spec["test_pack_2bit"]["REFUSED"]]
    for shape in spec["test_pack_2bit"]["SHAPES"]:
        x = rand(4, shape)
        pack2 += [call("pack_2bit", x, expect=uintx.pack(x, 2).data), call("_input_after", "pack_2bit", x, expect=x)]
    x = rand(4, (16, 6))
    pack2.append(call("_on_transposed", "pack_2bit", x, expect=uintx.pack(x.t(), 2).data))

    unpack2 = [call("unpack_2bit", u8(p), expect=u8(w)) for p, w in spec["test_unpack_2bit"]["cases"]]
    for shape in spec["test_unpack_2bit"]["SHAPES"]:
        p = rand(256, shape)
        unpack2 += [call("unpack_2bit", p, expect=unpacked(p, 2, 4)), call("_input_after", "unpack_2bit", p, expect=p)]
    p = rand(256, (5, 3))
    unpack2.append(call("_on_transposed", "unpack_2bit", p, expect=unpacked(p.t(), 2, 4)))

    four = []
    for v, w in spec["test_four_bit"]["pack_cases"]:
        four += [call("pack_4bit", u8(v), expect=u8(w)), call("unpack_4bit", u8(w), expect=u8(v))]
    four.append(raises("pack_4bit", torch.zeros(3, dtype=torch.uint8)))
    for shape in spec["test_four_bit"]["SHAPES"]:
        x, p = rand(16, shape), rand(256, shape)
        four += [
            call("pack_4bit", x, expect=uintx.pack(x, 4).data),
            call("_input_after", "pack_4bit", x, expect=x),
            call("unpack_4bit", p, expect=unpacked(p, 4, 2)),
            call("_input_after", "unpack_4bit", p, expect=p),
        ]

    any_bits = [call("pack_bits", u8(v), bits, expect=u8(w)) for v, bits, w in spec["test_pack_bits"]["cases"]]
    for bits in spec["test_pack_bits"]["BITS"]:
        for n in spec["test_pack_bits"]["N_VALUES"]:
            x = rand(2**bits, (n,))
            any_bits += [
                call("pack_bits", x, bits, expect=uintx.pack(x, bits).data),
                call("_input_after", "pack_bits", x, bits, expect=x),
            ]
    full = torch.full((16,), 255, dtype=torch.uint8)  # every bit set, an int64's sign bit too
    any_bits.append(call("pack_bits", full, 8, expect=full))

    unpack_any = [call("unpack_bits", u8(d), bits, expect=u8(w)) for d, bits, w in spec["test_unpack_bits"]["cases"]]
    unpack_any.append(raises("unpack_bits", torch.zeros(4, dtype=torch.uint8), 3))
    unpack_any += [raises("unpack_bits", torch.zeros(n, dtype=torch.uint8), bits) for n, bits in spec["test_unpack_bits"]["REFUSED"]]
    for bits in spec["test_unpack_bits"]["BITS"]:
        for groups in spec["test_unpack_bits"]["N_GROUPS"]:
            data = rand(256, (groups * bits,))
            unpack_any += [
                call("unpack_bits", data, bits, expect=uintx.unpack_bits(data, bits, 8 * groups)),
                call("_input_after", "unpack_bits", data, bits, expect=data),
            ]

    msb = [call("pack_2bit_msb", u8(v), expect=u8(w)) for v, w in spec["test_pack_2bit_msb"]["cases"]]
    msb.append(raises("pack_2bit_msb", torch.zeros(5, dtype=torch.uint8)))
    for shape in spec["test_pack_2bit_msb"]["SHAPES"]:
        x = rand(4, shape)
        msb += [
            call("pack_2bit_msb", x, expect=uintx.pack(x, 2, order="msb").data),
            call("_input_after", "pack_2bit_msb", x, expect=x),
        ]

    return {
        "test_pack_2bit": pack2,
        "test_unpack_2bit": unpack2,
        "test_four_bit": four,
        "test_pack_bits": any_bits,
        "test_unpack_bits": unpack_any,
        "test_pack_2bit_msb": msb,
    }
