"""lowbit_ref.quantize (lesson 05): bits_for_range; symmetric and asymmetric codes per tensor / row / group, float16 scales; trits."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit_ref import LowbitError
from lowbit_ref.quantize import (
    SCALE_DTYPE,
    QuantizedTensor,
    bits_for_range,
    dequantize,
    quantize_trits,
    quantize_uint,
    to_scale,
)
from lowbit_ref.ternary import dequantize_ternary, quantize_ternary
from lowbit_ref.uintx import pack, unpack


def test_golden_asymmetric_per_row():
    w = torch.tensor([[-1.0, 0.0, 0.9, 2.0], [0.0, 0.25, 0.5, 0.75]])
    q = quantize_uint(w, 2, group_size=4)
    # row 0: range [-1, 2], scale 1, zero point 1; row 1: range [0, 0.75], scale 0.25, zero point 0
    assert q.scale.dtype == torch.float16 and q.scale.tolist() == [[1.0], [0.25]]
    assert torch.equal(q.zero_point, torch.tensor([[1], [0]], dtype=torch.uint8))
    assert torch.equal(unpack(q.packed), torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3]], dtype=torch.uint8))
    assert torch.equal(dequantize(q), torch.tensor([[-1.0, 0.0, 1.0, 2.0], [0.0, 0.25, 0.5, 0.75]]))


def test_golden_symmetric_per_tensor_and_per_group():
    w = torch.tensor([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 4.0, -4.0])
    q = quantize_uint(w, 3, symmetric=True)  # absmax 4, scale 4/3 (1.334), zero point 4: -2 / 1.334 rounds to -1
    assert q.zero_point.item() == 4 and q.scale.item() == pytest.approx(4 / 3, rel=1e-3)
    assert torch.equal(unpack(q.packed), torch.tensor([3, 3, 4, 4, 5, 5, 7, 1], dtype=torch.uint8))
    g = quantize_uint(w, 4, symmetric=True, group_size=4)  # absmax 2 and 4: scale 2/7 and 4/7
    assert g.scale.shape == (2,) and g.zero_point.tolist() == [8, 8]
    assert unpack(g.packed).tolist() == [1, 5, 8, 10, 10, 11, 15, 1]  # -1 / 0.2858 = -3.4993: -3
    assert float(dequantize(g)[0]) == pytest.approx(-2.0, rel=1e-3)


def test_scales_are_float16_rounded_up():
    s = torch.tensor([0.1, 1 / 3, 1e-9, 70000 / 65504 * 1000])
    s16 = to_scale(s[:3])
    assert s16.dtype == SCALE_DTYPE and bool((s16.float() >= s[:3]).all())
    assert s16[2].item() == 2.0**-24  # below float16's range: its smallest positive number
    with pytest.raises(LowbitError, match=r"weights: a scale of 7e\+04 does not fit float16 \(largest 65504\)"):
        to_scale(torch.tensor([70000.0]))


@settings(max_examples=60, deadline=None)
@given(bits=st.integers(1, 8), rows=st.integers(1, 5), groups=st.integers(1, 4), g=st.integers(1, 8),
       symmetric=st.booleans(), seed=st.integers(0, 2**31), spread=st.sampled_from([1e-3, 1.0, 1e3]))
def test_every_value_comes_back_within_a_step(bits, rows, groups, g, symmetric, seed, spread):
    if symmetric and bits == 1:
        bits = 2
    w = torch.randn(rows, groups * g, generator=torch.Generator().manual_seed(seed)) * spread
    q = quantize_uint(w, bits, group_size=g, symmetric=symmetric)
    codes = unpack(q.packed).to(torch.int64)
    assert int(codes.max()) <= 2**bits - 1
    back = dequantize(q)
    step = q.scale.float().reshape(-1, 1)
    err = (back - w).abs().reshape(-1, g)
    # half a step, plus the float16 round-up of the scale at the ends of the range
    assert bool((err <= step / 2 + step * 2**-10 * 2**bits + 1e-6 * spread).all())
    if symmetric:
        assert bool((q.zero_point == 2 ** (bits - 1)).all()) and int(codes.min()) >= 1
    # 0.0 is exactly representable: zeros come back as zeros
    z = w.clone()
    z[:, 0] = 0
    assert bool((dequantize(quantize_uint(z, bits, group_size=g, symmetric=symmetric))[:, 0] == 0).all())


def test_reference_loop_agrees():
    """A plain loop over groups (numpy float16 for the scale) gives the same codes."""
    w = torch.randn(4, 6, generator=torch.Generator().manual_seed(3))
    for bits, g in ((3, 3), (5, 6), (8, None)):
        q = quantize_uint(w, bits, group_size=g)
        flat, size, qmax = w.reshape(-1).tolist(), g or 24, 2**bits - 1
        codes = []
        for start in range(0, 24, size):
            grp = flat[start:start + size]
            lo, hi = min(min(grp), 0.0), max(max(grp), 0.0)
            s32 = np.float32(np.float32(hi) - np.float32(lo)) / np.float32(qmax)
            s = np.float16(s32)
            if np.float32(s) < s32:
                s = np.nextafter(s, np.float16(np.inf))
            s = np.float32(s)
            zp = min(max(round(-lo / s), 0), qmax)
            codes += [min(max(int(np.round(np.float32(x) / s)) + zp, 0), qmax) for x in grp]
        assert unpack(q.packed).reshape(-1).tolist() == codes


@pytest.mark.parametrize("call, match", [
    (lambda: quantize_uint(torch.ones(4), 0), r"bits must be an int in 1\.\.8, got 0"),
    (lambda: quantize_uint(torch.ones(4), 9), r"bits must be an int in 1\.\.8, got 9"),
    (lambda: quantize_uint(torch.ones(4), 2.0), r"bits must be an int in 1\.\.8, got 2\.0"),
    (lambda: quantize_uint(torch.ones(4), 1, symmetric=True),
     r"bits must be at least 2 for symmetric quantization .*, got 1"),
    (lambda: quantize_uint(torch.ones(4), 4, symmetric=1), r"symmetric must be True or False, got 1"),
    (lambda: quantize_uint(torch.ones(6), 4, group_size=4),
     r"group_size must be None or a positive int dividing weights\.numel\(\) = 6, got 4"),
    (lambda: quantize_uint(torch.ones(4, dtype=torch.int32), 4), r"weights must be a floating-point tensor, got torch\.int32"),
    (lambda: quantize_uint(torch.tensor([1.0, float("nan")]), 4), r"weights must be finite"),
    (lambda: quantize_uint(torch.tensor([0.0, 1e6]), 1), r"does not fit float16"),
    (lambda: quantize_trits(torch.ones(4), scheme="base2"), r"scheme must be 'ternary2' or 'base3', got 'base2'"),
    (lambda: dequantize(torch.ones(3)), r"q must be a QuantizedTensor, got Tensor"),
])
def test_bad_input_is_refused(call, match):
    with pytest.raises(LowbitError, match=match):
        call()


def test_trits_store_a_float16_scale_and_dequantize_to_float32():
    q = quantize_trits(torch.tensor([[0.5, 3.5, 0.0, -1.0]]), scheme="ternary2", group_size=2)
    assert isinstance(q, QuantizedTensor) and q.scale.dtype == torch.float16 and q.scale.shape == (1, 2)
    assert dequantize(q).dtype == torch.float32
    assert torch.equal(unpack(q.packed), torch.tensor([[0, 1, 0, -1]], dtype=torch.int8))


# ---------------------------------------------------------------- bits_for_range


@pytest.mark.parametrize(
    "max_value, bits",
    [(0, 1), (1, 1), (2, 2), (3, 2), (4, 3), (7, 3), (8, 4), (15, 4), (16, 5), (31, 5), (32, 6),
     (63, 6), (64, 7), (127, 7), (128, 8), (255, 8)],
)
def test_bits_for_range_golden(max_value, bits):
    assert bits_for_range(max_value) == bits


def test_bits_for_range_fixes_bitpacks_off_by_one():
    # BitPack guessed 3 bits for a max of 3 and 5 for a max of 15: one bit wasted each time.
    assert bits_for_range(3) == 2
    assert bits_for_range(15) == 4


def test_bits_for_range_every_byte():
    for m in range(256):
        b = bits_for_range(m)
        assert m <= 2**b - 1 and (b == 1 or m > 2 ** (b - 1) - 1), m
        assert bits_for_range(m, min_value=m) == b  # min does not change an unsigned width
        assert torch.equal(unpack(pack(torch.tensor([m], dtype=torch.uint8), b)), torch.tensor([m], dtype=torch.uint8))


@pytest.mark.parametrize("m", [1, 3, 15, 16, 200])
def test_a_value_too_wide_for_its_width_is_refused_not_wrapped(m):
    b = bits_for_range(m)
    if b > 1:
        with pytest.raises(LowbitError):
            pack(torch.tensor([m], dtype=torch.uint8), b - 1)


@pytest.mark.parametrize(
    "args, match",
    [((-1,), r"max_value must be in 0\.\.255.*got -1"),
     ((256,), r"max_value must be in 0\.\.255.*got 256"),
     ((3.0,), r"max_value must be an integer, got 3\.0"),
     ((True,), r"max_value must be an integer, got True"),
     (("3",), r"max_value must be an integer, got '3'"),
     ((torch.tensor(3.0),), r"max_value must be an integer"),
     ((3, -1), r"min_value must be in 0\.\.255.*got -1"),
     ((3, 5), r"min_value must be <= max_value 3, got 5")],
)
def test_bits_for_range_refusals(args, match):
    with pytest.raises(LowbitError, match=match):
        bits_for_range(*args)


def test_bits_for_range_takes_integer_tensors():
    assert bits_for_range(torch.tensor(15)) == 4


# ---------------------------------------------------------------- quantization records


def reference_quantize_uint(w, bits, group_size):
    """Plain loop over groups, one element at a time: the obvious version."""
    qmax = 2**bits - 1
    flat = w.reshape(-1).tolist()
    g = group_size or len(flat)
    codes, scales, zeros = [], [], []
    for start in range(0, len(flat), g):
        group = torch.tensor(flat[start:start + g])
        lo, hi = min(group.min(), torch.tensor(0.0)), max(group.max(), torch.tensor(0.0))
        scale = (hi - lo) / qmax
        if scale <= 0:
            scale = torch.tensor(1.0)
        # stored as float16, rounded up so that no code that fitted overflows
        half = np.float16(float(scale))
        if float(half) < float(scale):
            half = np.nextafter(half, np.float16(np.inf))
        scale = torch.tensor(float(half))
        zero = torch.clamp(torch.round(-lo / scale), 0, qmax)
        for x in group:
            codes.append(int(torch.clamp(torch.round(x / scale) + zero, 0, qmax)))
        scales.append(float(scale))
        zeros.append(int(zero))
    return codes, scales, zeros


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("group_size", [None, 4, 12])
def test_quantize_uint_matches_reference(bits, group_size, device):
    w = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(bits)).to(device)
    q = quantize_uint(w, bits, group_size=group_size)
    codes, scales, zeros = reference_quantize_uint(w.cpu(), bits, group_size)
    assert q.packed.device.type == device.type and q.packed.bits == bits and q.packed.shape == w.shape
    assert unpack(q.packed).reshape(-1).tolist() == codes
    assert q.scale.reshape(-1).tolist() == scales
    assert q.zero_point.reshape(-1).tolist() == zeros
    assert q.scale.shape == {None: (), 4: (3, 2, 1), 12: (2,)}[group_size]  # ternary's shape, else flat
    # within range, every value comes back within half a step
    err = (dequantize(q) - w).abs().reshape(-1, group_size or 24)
    assert bool((err <= q.scale.reshape(-1, 1) / 2 + 1e-6).all())


def test_quantize_uint_packs_along_dim(device):
    w = torch.randn(8, 16, 1, 1, device=device)  # a 1x1 conv
    along_last = quantize_uint(w, 4, group_size=16)
    along_inputs = quantize_uint(w, 4, group_size=16, dim=1)
    assert along_last.packed.nbytes == 128  # one byte per 4-bit code: the last dim has length 1
    assert along_inputs.packed.nbytes == 64 and along_inputs.packed.dim == 1
    assert torch.equal(unpack(along_inputs.packed), unpack(along_last.packed))
    assert torch.equal(dequantize(along_inputs), dequantize(along_last))
    t = quantize_trits(torch.randn(6, 4, device=device), scheme="base3", dim=0)
    assert t.packed.dim == 0 and t.packed.data.shape == (2, 4)


def test_quantize_uint_keeps_zero_exact_and_constant_groups(device):
    w = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-3.0, 0.0, 1.0, 5.0]], device=device)
    q = quantize_uint(w, 4, group_size=4)
    back = dequantize(q)
    assert torch.equal(back[0], w[0])
    # 2.0 is the top code; the float16 scale (2 / 15 rounded up) brings it back within half a step
    assert bool(((back[1] - w[1]).abs() <= q.scale[1].float() / 2).all())
    assert back[2, 1] == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_quantize_trits_matches_ternary(device, dtype):
    w = torch.randn(4, 20, generator=torch.Generator().manual_seed(1)).to(device, dtype)
    for group_size in (None, 10):
        codes, scale = quantize_ternary(w, group_size=group_size)
        for scheme in ("ternary2", "base3"):
            q = quantize_trits(w, scheme=scheme, group_size=group_size)
            assert q.packed.scheme == scheme and q.zero_point is None and q.group_size == group_size
            assert torch.equal(unpack(q.packed), codes)
            # the scale is stored as float16, rounded up
            assert q.scale.dtype == torch.float16 and q.scale.shape == scale.shape
            assert bool((q.scale.float() >= scale.float()).all())
            assert bool(((q.scale.float() - scale.float()) <= scale.float().abs() * 2**-10).all())
            back = dequantize(q)
            assert back.dtype == torch.float32
            assert torch.equal(back, dequantize_ternary(codes, q.scale.float(), group_size=group_size))


@pytest.mark.parametrize(
    "call, match",
    [(lambda: quantize_uint(torch.randn(4), 9), r"bits must be an int in 1\.\.8, got 9"),
     (lambda: quantize_uint(torch.randn(4), 0), r"bits must be an int in 1\.\.8, got 0"),
     (lambda: quantize_uint(torch.arange(4), 2), r"weights must be a floating-point tensor, got torch\.int64"),
     (lambda: quantize_uint(torch.randn(6), 2, group_size=4),
      r"group_size must .* dividing weights\.numel\(\) = 6, got 4"),
     (lambda: quantize_uint(torch.tensor([1.0, float("nan")]), 2), r"weights must be finite"),
     (lambda: quantize_uint(torch.zeros(0), 2), r"weights must have at least one element"),
     (lambda: quantize_trits(torch.randn(5), scheme="uint"), r"scheme must be 'ternary2' or 'base3', got 'uint'"),
     (lambda: QuantizedTensor(pack(torch.zeros(6, dtype=torch.uint8), 2), torch.ones(2), None, 4),
      r"group_size must be None or a positive int dividing numel 6, got 4"),
     (lambda: QuantizedTensor(pack(torch.zeros(6, dtype=torch.uint8), 2), torch.ones(2)),
      r"scale must be a tensor of 1 value\(s\) for group_size=None and 6 values, got shape \(2,\)"),
     (lambda: quantize_trits(torch.randn(4, 6), group_size=4), r"group_size must divide the last dimension"),
     (lambda: QuantizedTensor(pack(torch.zeros(6, dtype=torch.uint8), 2), None, torch.zeros(())),
      r"zero_point needs a scale"),
     (lambda: QuantizedTensor(torch.zeros(3)), r"packed must be a PackedTensor, got Tensor"),
     (lambda: dequantize(torch.zeros(3)), r"q must be a QuantizedTensor, got Tensor")],
)
def test_quantization_refusals(call, match):
    with pytest.raises(LowbitError, match=match):
        call()
