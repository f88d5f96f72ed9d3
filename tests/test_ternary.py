"""lowbit_ref.ternary: absmean quantization against an exact per-element spec, 2-bit packing."""

from fractions import Fraction

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies

from lowbit_ref.bitstream import stream_pack_reference
from lowbit_ref.errors import LowbitError
from lowbit_ref.packed import PackedTensor
from lowbit_ref.ternary import (
    FLOAT_DTYPES,
    TRIT_DTYPES,
    check_trits,
    dequantize_ternary,
    pack_ternary,
    quantize_ternary,
    unpack_ternary2,
)
from lowbit_ref.uintx import unpack

u8 = torch.uint8
pytestmark = pytest.mark.filterwarnings("error")  # e.g. torch resizing an `out=` of the wrong shape


# ---------------------------------------------------------------- the spec: one element at a time, exactly


def scale_spec(w: torch.Tensor, group_size=None) -> torch.Tensor:
    """mean |w| per group in exact rational arithmetic, rounded once to w.dtype, floored at tiny."""
    values = [Fraction(v) for v in w.detach().cpu().double().reshape(-1).tolist()]
    groups = [values] if group_size is None else [values[i : i + group_size] for i in range(0, len(values), group_size)]
    tiny = torch.finfo(w.dtype).tiny
    scales = []
    for group in groups:
        mean = sum(abs(v) for v in group) / len(group) if group else Fraction(0)  # an empty tensor's mean: 0
        scales.append(max(torch.tensor(float(mean), dtype=torch.float64).to(w.dtype).item(), tiny))
    shape = () if group_size is None else (*w.shape[:-1], w.shape[-1] // group_size)
    return torch.tensor(scales, dtype=w.dtype).reshape(shape)


def codes_spec(w: torch.Tensor, scale: torch.Tensor, group_size=None) -> torch.Tensor:
    """clip(round(w / scale), -1, 1) per element, exactly (Python rounds half to even, as torch.round)."""
    values = w.detach().cpu().double().reshape(-1).tolist()
    scales = scale.detach().cpu().double().reshape(-1).tolist()
    size = group_size or max(len(values), 1)
    codes = [max(-1, min(1, round(Fraction(v) / Fraction(scales[i // size])))) for i, v in enumerate(values)]
    return torch.tensor(codes, dtype=torch.int8).reshape(w.shape)


@st.composite
def dyadic_weights(draw):
    """Weights k * 2**e with |k| <= 127: exact in every float dtype, with exact float32 sums, so the
    library and the spec must agree bit for bit; ties (|w| = scale / 2) happen often."""
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    lead = draw(st.lists(st.integers(0, 3), max_size=2))
    group_size = draw(st.none() | st.integers(1, 6))
    last = (group_size or draw(st.integers(1, 6))) * draw(st.integers(0, 4))
    k = torch.randint(-127, 128, (*lead, last), generator=torch.Generator().manual_seed(draw(st.integers(0, 2**31))))
    if draw(st.booleans()):
        k = k * (torch.rand(k.shape, generator=torch.Generator().manual_seed(1)) < 0.5)  # many zeros
    return (k * 2.0 ** draw(st.integers(-10, 4))).to(dtype), group_size


# ---------------------------------------------------------------- quantize


def test_quantize_golden():
    codes, scale = quantize_ternary(torch.tensor([0.5, 3.5, 0.0, -1.0]))
    assert torch.equal(codes, torch.tensor([0, 1, 0, -1], dtype=torch.int8)) and scale.item() == 1.25
    # ties round half to even: w / scale = +-0.5 -> 0 and 1.5 -> 2 -> clipped to 1
    codes, scale = quantize_ternary(torch.tensor([0.5, -0.5, 1.5, -1.5]))
    assert scale.item() == 1.0 and torch.equal(codes, torch.tensor([0, 0, 1, -1], dtype=torch.int8))
    assert torch.equal(codes, torch.round(torch.tensor([0.5, -0.5, 1.5, -1.5])).clamp(-1, 1).to(torch.int8))
    codes, scale = quantize_ternary(torch.tensor([[2.0, -0.1, 0.1, 0.1], [0.0, 0.0, -4.0, 1.0]]), group_size=2)
    assert torch.equal(codes, torch.tensor([[1, 0, 1, 1], [0, 0, -1, 0]], dtype=torch.int8))
    assert torch.equal(scale, torch.tensor([[1.05, 0.1], [torch.finfo().tiny, 2.5]]))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_quantize_shapes_and_dtypes(device, dtype):
    w = torch.randn(3, 4, 12, generator=torch.Generator().manual_seed(0)).to(device, dtype)
    codes, scale = quantize_ternary(w)
    assert codes.dtype == torch.int8 and codes.shape == w.shape and codes.device.type == device.type
    assert scale.dtype == dtype and scale.shape == () and scale.device.type == device.type
    codes, scale = quantize_ternary(w, group_size=4)
    assert codes.shape == w.shape and scale.shape == (3, 4, 3) and scale.dtype == dtype


@settings(max_examples=300, deadline=None)
@given(dyadic_weights())
def test_quantize_matches_exact_spec(case):
    w, group_size = case
    codes, scale = quantize_ternary(w, group_size=group_size)
    want_scale = scale_spec(w, group_size)
    assert scale.dtype == w.dtype and torch.equal(scale, want_scale)
    assert torch.equal(codes, codes_spec(w, want_scale, group_size))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dyadic_weights())
def test_quantize_device_matches_spec(device, case):
    w, group_size = case
    codes, scale = quantize_ternary(w.to(device), group_size=group_size)
    want_scale = scale_spec(w, group_size)
    assert torch.equal(scale.cpu(), want_scale) and torch.equal(codes.cpu(), codes_spec(w, want_scale, group_size))


@pytest.mark.parametrize("group_size", [None, 1, 7, 64])
@pytest.mark.parametrize("seed", range(3))
def test_quantize_gaussian_matches_spec(device, group_size, seed):
    # Float32 sums of random floats are rounded (differently per device), so the scale is compared
    # within rounding and the codes exactly, given that scale.
    w = torch.randn(8, 448, generator=torch.Generator().manual_seed(seed)) * 0.02
    codes, scale = quantize_ternary(w.to(device), group_size=group_size)
    torch.testing.assert_close(scale.cpu(), scale_spec(w, group_size), rtol=1e-6, atol=0)
    assert torch.equal(codes.cpu(), codes_spec(w, scale.cpu(), group_size))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("group_size", [None, 3])
def test_all_zero_weights_give_zero_codes_and_finite_scale(device, dtype, group_size):
    w = torch.zeros(2, 6, dtype=dtype, device=device)
    codes, scale = quantize_ternary(w, group_size=group_size)
    assert torch.equal(codes, torch.zeros(2, 6, dtype=torch.int8, device=device))
    assert torch.isfinite(scale).all() and (scale > 0).all()
    assert torch.equal(scale, torch.full_like(scale, torch.finfo(dtype).tiny))
    assert torch.equal(dequantize_ternary(codes, scale, group_size=group_size), w)
    _, empty_scale = quantize_ternary(torch.zeros(0, dtype=dtype, device=device))
    assert torch.isfinite(empty_scale) and empty_scale.item() == torch.finfo(dtype).tiny


def test_half_precision_sum_does_not_overflow():
    # 2**17 ones sum to 131072 > float16's max 65504: the mean must still be exactly 1
    codes, scale = quantize_ternary(torch.ones(2**17, dtype=torch.float16))
    assert scale.item() == 1.0 and bool((codes == 1).all())


def test_groups_are_quantized_independently():
    """Quantizing with group_size g is quantizing each group of g alone: a group's codes and scale
    depend on that group only (so changing one group changes no other)."""
    w = torch.randn(3, 24, generator=torch.Generator().manual_seed(0))
    codes, scale = quantize_ternary(w, group_size=6)
    for r in range(3):
        for g in range(4):
            alone_codes, alone_scale = quantize_ternary(w[r, 6 * g : 6 * g + 6])
            assert torch.equal(codes[r, 6 * g : 6 * g + 6], alone_codes) and scale[r, g] == alone_scale
    w2 = w.clone()
    w2[1, :6] *= 100
    codes2, scale2 = quantize_ternary(w2, group_size=6)
    keep = torch.ones(3, 24, dtype=torch.bool)
    keep[1, :6] = False
    other_groups = torch.ones(3, 4, dtype=torch.bool)
    other_groups[1, 0] = False
    assert torch.equal(codes2[keep], codes[keep]) and torch.equal(scale2[other_groups], scale[other_groups])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_groups_of_one_and_constant_magnitude_groups_are_exact(dtype):
    """Two cases where the error is provably 0: a group of one value (its own scale), and groups
    whose values share one magnitude (scale = that magnitude, every code +-1). A per-tensor scale
    over groups of different magnitudes is not exact: per-group scales pay off there."""
    w = torch.randn(8, 16, generator=torch.Generator().manual_seed(1), dtype=dtype)
    codes, scale = quantize_ternary(w, group_size=1)
    assert torch.equal(dequantize_ternary(codes, scale, group_size=1), w)
    signs = torch.randint(0, 2, (8, 16), generator=torch.Generator().manual_seed(2)).to(dtype) * 2 - 1
    magnitudes = 2.0 ** torch.arange(-4, 4, dtype=dtype)  # one power of two per row: exact sums
    rows = signs * magnitudes[:, None]
    codes, scale = quantize_ternary(rows, group_size=16)
    assert torch.equal(dequantize_ternary(codes, scale, group_size=16), rows)
    codes, scale = quantize_ternary(rows)
    assert not torch.equal(dequantize_ternary(codes, scale), rows)


def test_dequantize_golden(device):
    codes = torch.tensor([[1, 0, -1, 1]], dtype=torch.int8, device=device)
    got = dequantize_ternary(codes, torch.tensor([[2.0, 0.5]], device=device), group_size=2)
    assert torch.equal(got, torch.tensor([[2.0, 0.0, -0.5, 0.5]], device=device))
    got = dequantize_ternary(codes, torch.tensor(3.0, dtype=torch.float64, device=device))
    assert got.dtype == torch.float64 and torch.equal(got, torch.tensor([[3.0, 0, -3, 3]], dtype=torch.float64, device=device))


@settings(max_examples=100, deadline=None)
@given(dyadic_weights())
def test_dequantize_is_codes_times_scale(case):
    w, group_size = case
    codes, scale = quantize_ternary(w, group_size=group_size)
    got = dequantize_ternary(codes, scale, group_size=group_size)
    size = group_size or max(w.numel(), 1)
    want = [c * scale.reshape(-1)[i // size].item() for i, c in enumerate(codes.reshape(-1).tolist())]
    assert got.dtype == w.dtype and torch.equal(got, torch.tensor(want, dtype=w.dtype).reshape(w.shape))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: quantize_ternary([1.0, 2.0]), r"weights must be a torch\.Tensor, got list"),
        (lambda: quantize_ternary(torch.arange(4)), r"weights must be a float16, bfloat16, float32 or float64 tensor, got torch\.int64"),
        (lambda: quantize_ternary(torch.ones(4, dtype=torch.complex64)), r"got torch\.complex64"),
        (lambda: quantize_ternary(torch.tensor([[1.0, 2.0], [float("nan"), 0.0]])), r"weights must be finite, got nan at index \(1, 0\)"),
        (lambda: quantize_ternary(torch.tensor([1.0, float("-inf")]), group_size=1), r"weights must be finite, got -inf at index \(1,\)"),
        (lambda: quantize_ternary(torch.tensor([3e38, 3e38])), r"sum of \|weights\| overflows torch\.float32"),
        (lambda: quantize_ternary(torch.ones(2, 6), group_size=4), r"group_size must divide the last dimension of weights \(6\), got 4"),
        (lambda: quantize_ternary(torch.ones(6), group_size=0), r"group_size must be None or a positive int, got 0"),
        (lambda: quantize_ternary(torch.ones(6), group_size=-2), r"group_size must be None or a positive int, got -2"),
        (lambda: quantize_ternary(torch.ones(6), group_size=2.0), r"group_size must be None or a positive int, got 2\.0"),
        (lambda: quantize_ternary(torch.ones(6), group_size=True), r"group_size must be None or a positive int, got True"),
        (lambda: quantize_ternary(torch.tensor(1.0), group_size=1), r"group_size needs weights with at least one dimension"),
        (lambda: dequantize_ternary(torch.ones(4), torch.tensor(1.0)), r"codes must have a signed integer dtype .* got torch\.float32"),
        (lambda: dequantize_ternary(torch.tensor([0, 2]), torch.tensor(1.0)), r"codes must be -1, 0 or 1, got 2 at index \(1,\)"),
        (lambda: dequantize_ternary(torch.tensor([0, 1]), torch.tensor(1)), r"scale must be a float16, .* tensor, got torch\.int64"),
        (lambda: dequantize_ternary(torch.tensor([0, 1]), 1.0), r"scale must be a float16, .* tensor, got float"),
        (lambda: dequantize_ternary(torch.tensor([0, 1]), torch.ones(1)), r"scale must be 0-d for group_size=None, got shape \(1,\)"),
        (lambda: dequantize_ternary(torch.zeros(2, 4, dtype=torch.int8), torch.ones(2, 3), group_size=2),
         r"scale must have shape \(2, 2\) for codes of shape \(2, 4\) and group_size=2, got \(2, 3\)"),
        (lambda: dequantize_ternary(torch.zeros(4, dtype=torch.int8), torch.ones(1), group_size=3), r"group_size must divide .* codes \(4\), got 3"),
    ],
)
def test_quantize_errors(call, match):
    with pytest.raises(LowbitError, match=match):
        call()


# ---------------------------------------------------------------- trits and 2-bit packing


def test_check_trits():
    for dtype in TRIT_DTYPES:
        t = torch.tensor([-1, 0, 1], dtype=dtype)
        assert check_trits(t) is t
    assert check_trits(torch.zeros(0, dtype=torch.int8)).numel() == 0
    with pytest.raises(LowbitError, match=r"trits must be -1, 0 or 1, got -2 at index \(0, 2\)"):
        check_trits(torch.tensor([[1, 0, -2], [5, 0, 0]]))
    with pytest.raises(LowbitError, match=r"trits must be -1, 0 or 1, got 7 at index \(\)"):
        check_trits(torch.tensor(7))
    with pytest.raises(LowbitError, match=r"signed integer dtype .* got torch\.uint8 \(trits are signed: pass t, not t \+ 1\)"):
        check_trits(torch.tensor([0, 1, 2], dtype=u8))
    for bad in (torch.tensor([0.0, 1.0]), torch.tensor([True, False])):
        with pytest.raises(LowbitError, match=rf"trits must have a signed integer dtype .* got {bad.dtype}"):
            check_trits(bad)
    with pytest.raises(LowbitError, match=r"trits must be a torch\.Tensor of -1, 0, 1, got list"):
        check_trits([0, 1])


def test_ternary2_layout_drawing():
    # The drawing in pack_ternary's docstring: [0, -1, 1, 0] -> fields 01 00 10 01 -> 0b01_10_00_01
    p = pack_ternary(torch.tensor([0, -1, 1, 0], dtype=torch.int8))
    assert torch.equal(p.data, torch.tensor([0b01100001], dtype=u8)) and p.data.item() == 97
    assert (p.scheme, p.bits, p.order, p.dtype, p.dim, tuple(p.shape)) == ("ternary2", 2, "lsb", torch.int8, 0, (4,))
    # padding fields are 1, trit 0 (as base-3 pads): [1] -> 0b01_01_01_10, [1, 1, 1, 1, -1] -> 0b10101010, 0b01010100
    assert torch.equal(pack_ternary(torch.tensor([1])).data, torch.tensor([0b01010110], dtype=u8))
    assert torch.equal(pack_ternary(torch.tensor([1, 1, 1, 1, -1])).data, torch.tensor([0b10101010, 0b01010100], dtype=u8))
    assert torch.equal(pack_ternary(torch.tensor([[0, -1], [1, 0]]), dim=0).data, torch.tensor([[0b01011001, 0b01010100]], dtype=u8))


def test_padding_reads_as_trit_0_and_old_padding_still_unpacks():
    """Every field of a padded byte decodes to a trit; the padding ones to 0. Bytes whose padding
    fields are 0 (trit -1, how version-1 checkpoints padded) unpack to the same trits."""
    t = torch.tensor([[1, -1, 1, 0, -1], [0, 0, 1, 1, 1]], dtype=torch.int8)
    p = pack_ternary(t)
    fields = (p.data.long()[..., None] >> torch.tensor([0, 2, 4, 6])) & 0b11  # (2, 2, 4)
    assert torch.equal(fields.flatten(1)[:, 5:], torch.ones(2, 3, dtype=torch.long))
    old = p.data.clone()
    old[:, 1] &= 0b11  # keep the one real field of the last byte, padding fields 0
    assert torch.equal(unpack_ternary2(PackedTensor(old, 2, p.shape, p.dim, p.order, "ternary2", p.dtype)), t)




@settings(max_examples=300, deadline=None)
@given(strategies.trits_and_dim())
def test_ternary2_round_trip(case):
    t, dim = case
    p = pack_ternary(t, dim=dim)
    assert p.scheme == "ternary2" and p.dtype == t.dtype and p.shape == t.shape
    assert torch.equal(p.data, stream_pack_reference(t, 2, dim, offset=1))  # fields trit + 1, padding trit 0
    for back in (unpack_ternary2(p), unpack(p)):
        assert back.dtype == t.dtype and torch.equal(back, t)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(strategies.trits_and_dim())
def test_ternary2_round_trip_on_device(device, case):
    t, dim = case
    p = pack_ternary(t.to(device), dim=dim)
    assert p.device.type == device.type and torch.equal(p.data.cpu(), pack_ternary(t, dim=dim).data)
    back = unpack_ternary2(p)
    assert back.device.type == device.type and torch.equal(back.cpu(), t)


def test_quantize_then_pack(device):
    w = torch.randn(4, 30, generator=torch.Generator().manual_seed(3)).to(device)
    codes, scale = quantize_ternary(w, group_size=10)
    assert torch.equal(unpack(pack_ternary(codes)), codes)


def test_unpack_ternary2_rejects_field_3():
    p = pack_ternary(torch.tensor([[0, 1, -1, 0, 1], [1, 1, 1, 1, 1]], dtype=torch.int8))
    for byte in (0b11, 0b1100, 0b110000, 0b11000000, 0xFF):
        data = p.data.clone()
        data[1, 0] = byte
        bad = PackedTensor(data, 2, p.shape, p.dim, p.order, "ternary2", p.dtype)
        with pytest.raises(LowbitError, match=rf"packed byte {byte} at index \(1, 0\) holds the field 0b11"):
            unpack_ternary2(bad)
    # 0b10 in every field is the largest legal byte
    ok = PackedTensor(torch.tensor([0b10101010], dtype=u8), 2, (4,), 0, scheme="ternary2", dtype=torch.int8)
    assert torch.equal(unpack_ternary2(ok), torch.ones(4, dtype=torch.int8))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pack_ternary(torch.tensor([0, 1, 2])), r"trits must be -1, 0 or 1, got 2 at index \(2,\)"),
        (lambda: pack_ternary(torch.tensor([0.0, 1.0])), r"trits must have a signed integer dtype"),
        (lambda: pack_ternary(torch.zeros(3, dtype=torch.int8), dim=1), r"pack_ternary: dim must be an int in -1\.\.0 for a tensor of shape \(3,\), got 1"),
        (lambda: pack_ternary(torch.zeros(3, dtype=torch.int8), dim=None), r"dim must be an int .* got None"),
        (lambda: unpack_ternary2(torch.zeros(3, dtype=u8)), r"unpack_ternary2: packed must be a PackedTensor, got Tensor"),
        (lambda: unpack_ternary2(PackedTensor(torch.zeros(1, dtype=u8), 2, (4,), 0)), r"packed\.scheme must be 'ternary2', got 'uint'"),
        (lambda: unpack_ternary2(PackedTensor(torch.zeros(1, dtype=u8), 2, (4,), 0, scheme="ternary2", dtype=u8)),
         r"packed\.dtype must be one of \(int8, int16, int32, int64\), got torch\.uint8"),
        (lambda: unpack_ternary2(PackedTensor(torch.zeros(2, dtype=u8), 4, (4,), 0, scheme="ternary2", dtype=torch.int8)),
         r"packed\.bits must be 2 for scheme 'ternary2', got 4"),
    ],
)
def test_pack_ternary_errors(call, match):
    with pytest.raises(LowbitError, match=match):
        call()
