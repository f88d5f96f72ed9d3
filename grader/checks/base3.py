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
lowbit_ref's exactly. The visible "no division in unpack_trits_fast" test reads the source: it
is static and is not repeated here; its input/output behaviour is (every one of the 243 bytes).
"""

import torch

from lowbit_ref.base3 import pack_base3, unpack_base3, unpack_base3_divmod
from lowbit_ref.packed import PackedTensor
from lowbit_ref.ternary import pack_ternary
from verify import call, raises

PRELUDE = '''import math
import time
from fractions import Fraction

import torch


def _answer(name):
    if name not in globals():
        raise NameError(f"name {name!r} is not defined")
    return globals()[name]


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


def checks():
    g = torch.Generator().manual_seed(2027)

    def random_bytes(n):
        return torch.randint(0, 243, (n,), dtype=torch.uint8, generator=g)

    pack = [
        call("pack_trits", i8(t), expect=u8(b))
        for t, b in [
            ([1, 0, -1, -1, 1], [167]),
            ([-1, -1, -1, -1, -1], [0]),
            ([0, 0, 0, 0, 0], [121]),
            ([1, 1, 1, 1, 1], [242]),
            ([1, 0, -1, -1, 1, 1], [167, 122]),  # the sixth trit starts a byte padded with four 0 trits
        ]
    ]
    for bad in ([2, 0, 0, 0, 0], [0, 0, -2, 0, 0], [0, 1, 5], [-1, 0, 1, 1, 0, -3, 0]):
        pack.append(raises("pack_trits", i8(bad)))
    for n in (0, 1, 4, 5, 6, 99, 1000, 4099):
        x = torch.randint(-1, 2, (n,), dtype=torch.int8, generator=g)
        pack.append(call("pack_trits", x, expect=pack_base3(x).data))

    every = torch.arange(243, dtype=torch.uint8)
    visible = [
        ([167, 122], [1, 0, -1, -1, 1, 1, 0, 0, 0, 0]),
        ([0], [-1, -1, -1, -1, -1]),
        ([242], [1, 1, 1, 1, 1]),
    ]
    divmod_ = [call("unpack_trits_divmod", u8(b), expect=i8(t)) for b, t in visible]
    divmod_ += [
        raises("unpack_trits_divmod", u8([243])),
        raises("unpack_trits_divmod", u8([10, 255, 3])),
        call("unpack_trits_divmod", every, expect=unpack_base3_divmod(as_base3(every))),
    ]
    for n in (0, 1, 7, 500):
        p = random_bytes(n)
        divmod_.append(call("unpack_trits_divmod", p, expect=unpack_base3_divmod(as_base3(p))))

    visible = [
        ([167, 122], [1, 0, -1, -1, 1, 1, 0, 0, 0, 0]),
        ([0, 121, 242], [-1] * 5 + [0] * 5 + [1] * 5),
        ([1, 2, 80, 81], [0, -1, -1, -1, -1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1, -1, 0]),
    ]
    fast = [call("unpack_trits_fast", u8(b), expect=i8(t)) for b, t in visible]
    want = unpack_base3_divmod(as_base3(every))
    fast += [
        call("_wrong_bytes", "unpack_trits_fast", every, want, expect=[]),  # the feedback names the bytes
        call("unpack_trits_fast", every, expect=want),  # what decides, compared here
    ]
    for n in (0, 3, 1000):
        p = random_bytes(n)
        fast.append(call("unpack_trits_fast", p, expect=unpack_base3(as_base3(p))))

    sizes = [call("_sizes", n, expect=want) for n, want in [(2**20, (262144, 209716)), (5, (2, 1)), (0, (0, 0))]]
    for n in (1, 3, 4, 6, 9, 11, 1001, 999_999, 2**20 + 3):
        zeros = torch.zeros(n, dtype=torch.int8)
        sizes.append(call("_sizes", n, expect=(pack_ternary(zeros).nbytes, pack_base3(zeros).nbytes)))

    return {
        "test_pack_trits": pack,
        "test_unpack_trits_divmod": divmod_,
        "test_unpack_trits_fast": fast,
        "test_packed_sizes": sizes,
    }
