"""lowbit_ref.quantize (lesson 05): symmetric and asymmetric codes per tensor / row / group, float16 scales."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit_ref import LowbitError
from lowbit_ref.quantize import SCALE_DTYPE, QuantizedTensor, dequantize, quantize_trits, quantize_uint, to_scale
from lowbit_ref.uintx import unpack


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
