"""Independent checks for lesson 03 (see grader/verify.py): run outside the student's kernel.

PRELUDE is what the solution cells may assume (the lesson's setup, minus lowbit_ref: the setup's
``reference_pack``/``reference_unpack`` wrap lowbit_ref and no solution cell needs them), plus
helpers with names no answer uses (``_answer(name)`` looks an answer up, NameError if missing):

- ``_as_tuple(name, *args)`` gives ``name(*args)`` with a list (or a namedtuple) made a tuple: the notebook's
  ``close`` accepts ``[codes, scale]`` as well as ``(codes, scale)``, the parent's comparison does
  not, and a list is not a wrong answer;
- ``_codes_and_scale_ok(name, *args)`` gives ``(codes, ok, scale.dim())`` where ``ok`` says every
  scale is a finite, positive tensor value: for an all-zero tensor (or group) the tests accept any
  such scale, not one exact value, so the sandbox reports the property and the parent compares it.

An answer could redefine these helpers, but that only skips the check they make; what the parent
compares is still data. checks() maps each graded test cell to calls whose outputs must match
lowbit_ref's (codes exactly; float scales and values to the tests' tolerance: ``close``'s
rtol=1e-5 for quantize and quantize_groups, exact for dequantize, which the notebook tests with
``same``). The cases are the notebook's literals (``cases``, ``SHAPES``, ...), read from the
solutions notebook by ``common.cell_literals`` (one spec).
"""

import torch

from common import cell_literals
from lowbit_ref import uintx
from lowbit_ref.packed import PackedTensor
from lowbit_ref.ternary import dequantize_ternary, pack_ternary, quantize_ternary
from verify import ANSWER, call, raises

LESSON = "03_ternary_quantization"

PRELUDE = '''import math
import torch


''' + ANSWER + '''

def _as_tuple(name, *args):
    got = _answer(name)(*args)
    return tuple(got) if isinstance(got, (tuple, list)) else got


def _codes_and_scale_ok(name, *args):
    codes, scale = _answer(name)(*args)
    if not isinstance(scale, torch.Tensor):
        return codes, False, None
    return codes, bool(torch.isfinite(scale).all()) and bool((scale > 0).all()), scale.dim()
'''
BLOCKED = ("lowbit_ref",)
RTOL = 1e-5  # lowbit_ref.course.close's default, which the quantize tests use


def i8(values):
    return torch.tensor(values, dtype=torch.int8)


def u8(values):
    return torch.tensor(values, dtype=torch.uint8)


def f32(values):
    return torch.tensor(values, dtype=torch.float32)


def quantized(name, *args, expect):
    return call("_as_tuple", name, *args, expect=expect, rtol=RTOL)


def unpack_reference(packed):
    return uintx.unpack(PackedTensor(packed, 2, (4 * packed.numel(),), 0, scheme="ternary2", dtype=torch.int8))


def checks():
    g = torch.Generator().manual_seed(2026)

    def randn(shape, dtype=torch.float32):
        return torch.randn(shape, generator=g, dtype=dtype)

    def codes(n):
        return torch.randint(-1, 2, (n,), dtype=torch.int8, generator=g)

    spec = {cell: cell_literals(LESSON, cell) for cell in (
        "test_quantize", "test_dequantize", "test_pack_trits_2bit", "test_unpack_trits_2bit", "test_quantize_groups")}
    quantize = [quantized("quantize", f32(w), expect=(i8(c), torch.tensor(s))) for w, c, s in spec["test_quantize"]["cases"]]
    quantize += [
        call("_codes_and_scale_ok", "quantize", torch.zeros(2, 3), expect=(torch.zeros(2, 3, dtype=torch.int8), True, 0)),
        raises("quantize", f32([1.0, float("nan")])),
        raises("quantize", f32([[float("inf"), 0.0]])),
        raises("quantize", f32([[0.5, -float("inf")], [0.0, 1.0]])),
    ]
    for shape in spec["test_quantize"]["SHAPES"]:
        for magnitude in spec["test_quantize"]["MAGNITUDES"]:  # the scale must follow w's size, however small
            w = randn(shape) * magnitude
            quantize.append(quantized("quantize", w, expect=quantize_ternary(w)))
    w = randn((40, 24), torch.float64)
    quantize.append(quantized("quantize", w, expect=quantize_ternary(w)))

    dequantize = [
        call("dequantize", i8([1, 0, -1, 1]), torch.tensor(2.5), expect=f32([2.5, 0.0, -2.5, 2.5])),
        call("dequantize", i8([[0, 1], [-1, 0]]), torch.tensor(0.5, dtype=torch.float64),
             expect=torch.tensor([[0.0, 0.5], [-0.5, 0.0]], dtype=torch.float64)),
    ]
    for shape in spec["test_dequantize"]["SHAPES"]:
        for dtype in (torch.float32, torch.float64):
            c = torch.randint(-1, 2, shape, dtype=torch.int8, generator=g)
            scale = torch.rand((), dtype=dtype, generator=g) + 0.01
            dequantize.append(call("dequantize", c, scale, expect=dequantize_ternary(c, scale)))

    pack_spec, unpack_spec = spec["test_pack_trits_2bit"], spec["test_unpack_trits_2bit"]
    pack = [call("pack_trits_2bit", i8(c), expect=u8(b)) for c, b in pack_spec["cases"]]
    pack += [raises("pack_trits_2bit", i8(bad)) for bad in pack_spec["REFUSED"]]
    pack.append(raises("pack_trits_2bit", torch.zeros(2, 4, dtype=torch.int8)))
    unpack = [call("unpack_trits_2bit", u8(b), expect=i8(c)) for b, c in unpack_spec["cases"]]
    unpack.append(raises("unpack_trits_2bit", u8([97, 0b00110000])))
    unpack += [raises("unpack_trits_2bit", u8([85, bad])) for bad in unpack_spec["BAD_BYTES"]]
    for n in pack_spec["N_CODES"]:
        c = codes(n)
        pack.append(call("pack_trits_2bit", c, expect=pack_ternary(c).data))
    for n in unpack_spec["N_CODES"]:
        packed = pack_ternary(codes(n)).data
        unpack.append(call("unpack_trits_2bit", packed, expect=unpack_reference(packed)))

    visible = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))  # the visible test's own tensor
    groups = [
        quantized("quantize_groups", f32([[2.0, -0.1, 0.1, 0.1]]), 2, expect=(i8([[1, 0, 1, 1]]), f32([[1.05, 0.1]]))),
        quantized("quantize_groups", visible, 4, expect=quantize_ternary(visible, group_size=4)),
        raises("quantize_groups", torch.ones(2, 4), 3),
        raises("quantize_groups", f32([[1.0, float("nan"), 0.0, 0.0]]), 2),
        raises("quantize_groups", torch.ones(4, 6), 4),
    ]
    for shape, size in spec["test_quantize_groups"]["GROUPED"]:
        w = randn(shape) * 0.05
        groups.append(quantized("quantize_groups", w, size, expect=quantize_ternary(w, group_size=size)))
    w = randn((3, 8))
    w[1, 4:] = 0.0  # one all-zero group
    groups.append(call("_codes_and_scale_ok", "quantize_groups", w, 4, expect=(quantize_ternary(w, group_size=4)[0], True, 2)))

    return {
        "test_quantize": quantize,
        "test_dequantize": dequantize,
        "test_pack_trits_2bit": pack,
        "test_unpack_trits_2bit": unpack,
        "test_quantize_groups": groups,
    }
