"""lowbit_ref.uintx: vectorized packing of 1..8-bit unsigned integers, any dim, both orders."""

import math
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lowbit_ref.uintx as uintx
from lowbit_ref import LowbitError
from lowbit_ref.loop import pack_weights, unpack_weights
from lowbit_ref.bitstream import stream_pack_reference, stream_unpack_reference
from lowbit_ref.packed import SCHEMES, UNPACKERS, PackedTensor
from lowbit_ref.uintx import bit_layout, pack, pack_bits, unpack, unpack_bits

ORDERS = ("lsb", "msb")
ALL_DTYPES = uintx.INTEGER_DTYPES
# `device` only names a device: sharing it across hypothesis examples is fine
FIXTURE_OK = [HealthCheck.function_scoped_fixture]


def u8(values, device="cpu"):
    return torch.tensor(values, dtype=torch.uint8, device=device)


# --- the oracle: lowbit_ref.bitstream, one bit at a time (the benchmark checks against it too) ----


def ref_pack(x, bits, dim=-1, order="lsb"):
    return stream_pack_reference(x.cpu(), bits, dim, order)


def ref_unpack(data, bits, n, dim=-1, order="lsb"):
    return stream_unpack_reference(data.cpu(), bits, n, dim, order)


def random_values(shape, bits, dtype=torch.uint8, seed=0, device="cpu"):
    top = min(2**bits - 1, torch.iinfo(dtype).max if dtype.is_signed else 2**bits - 1)
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, top + 1, shape, generator=g).to(dtype).to(device)


# --- the textbook strided-slice packer: the first value in the high bits (order="msb") ----------


def strided_pack(x, bits):
    """Whole tensor flattened, slot s of every byte taken with a stride, first slot highest."""
    per_byte = 8 // bits
    flat = x.contiguous().view(-1)
    out = torch.zeros(flat.numel() // per_byte, dtype=torch.uint8, device=x.device)
    for slot in range(per_byte):
        out |= flat[slot::per_byte] << (bits * (per_byte - 1 - slot))
    return out.view(*x.shape[:-1], x.shape[-1] // per_byte)


def strided_unpack(packed, bits):
    per_byte = 8 // bits
    slots = [(packed >> (bits * (per_byte - 1 - slot))) & (2**bits - 1) for slot in range(per_byte)]
    return torch.stack(slots, dim=-1).view(*packed.shape[:-1], packed.shape[-1] * per_byte)


# --- golden examples ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, bits, order, packed",
    [
        ([1, 0, 3, 2], 2, "lsb", [177]),  # lesson 01's example: 0b10110001
        ([1, 0, 3, 2], 2, "msb", [78]),  # the strided-slice layout: 0b01001110
        ([1, 0, 3, 2, 3, 3, 3, 3], 2, "lsb", [177, 255]),
        ([1, 0, 3], 2, "lsb", [0b110001]),  # padded with a zero value
        ([1, 0, 3], 2, "msb", [0b01001100]),
        ([7, 0, 0, 0, 0, 0, 0, 0], 3, "lsb", [7, 0, 0]),
        ([0, 0, 0, 1, 0, 0, 0, 0], 3, "lsb", [0, 2, 0]),
        ([0, 0, 5, 0, 0, 0, 0, 0], 3, "lsb", [0b01000000, 0b00000001, 0]),  # value 2 straddles
        ([0, 0, 5, 0, 0, 0, 0, 0], 3, "msb", [0b00000010, 0b10000000, 0]),
        ([5], 3, "msb", [0b10100000]),
        ([1, 1, 0, 0, 0, 0, 0, 0], 1, "lsb", [3]),
        ([1, 1, 0, 0, 0, 0, 0, 0], 1, "msb", [192]),
        ([1, 0, 1], 1, "lsb", [5]),
        ([9, 4, 15, 2], 4, "lsb", [0x49, 0x2F]),
        ([9, 4, 15, 2], 4, "msb", [0x94, 0xF2]),
        ([31], 5, "lsb", [31]),
        ([31], 5, "msb", [0b11111000]),
        ([1, 31], 5, "lsb", [0b11100001, 0b11]),
        ([63, 0, 63], 6, "lsb", [63, 0b11110000, 0b11]),
        ([127, 1], 7, "lsb", [255, 0]),
        ([127, 1], 7, "msb", [254, 4]),
        ([200, 7, 255], 8, "lsb", [200, 7, 255]),
        ([200, 7, 255], 8, "msb", [200, 7, 255]),
        ([], 3, "lsb", []),
    ],
)
def test_golden(values, bits, order, packed, device):
    x = u8(values, device)
    p = pack(x, bits, order=order)
    assert p.data.device.type == device.type
    assert torch.equal(p.data, u8(packed, device))
    assert torch.equal(unpack(p), x)
    assert torch.equal(unpack_bits(p.data, bits, len(values), order=order), x)
    assert torch.equal(ref_pack(x, bits, order=order), u8(packed))  # the oracle, pinned by hand
    assert torch.equal(ref_unpack(u8(packed), bits, len(values), order=order), x.cpu())


def test_golden_along_dim_0(device):
    x = u8([[1, 2], [0, 3], [3, 0], [2, 1], [1, 1]], device)  # columns [1, 0, 3, 2, 1] and [2, 3, 0, 1, 1]
    p = pack(x, 2, dim=0)
    assert torch.equal(p.data, u8([[177, 0b01001110], [1, 1]], device))
    assert p.dim == 0 and p.shape == (5, 2)
    assert torch.equal(unpack(p), x)


# --- the layout drawings in the module docstring, pinned ------------------------------------------


def parse_drawings(doc):
    """{(bits, order): one group's bytes as [(value index, value bit)] from bit 7 to bit 0}."""
    drawings = {}
    lines = doc.splitlines()
    for k, line in enumerate(lines):
        header = re.match(r"\s+bits=(\d)\s+byte 0", line)
        if not header:
            continue
        for order, names, digits in ((lines[k + 1], lines[k + 1], lines[k + 2]), (lines[k + 3], lines[k + 3], lines[k + 4])):
            order = order.split()[0]
            groups = list(zip(names.split()[1:], digits.split()))
            drawings[int(header.group(1)), order] = [
                [("abcdefgh".index(a), int(b)) for a, b in zip(letters, bits)] for letters, bits in groups
            ]
    return drawings


DRAWINGS = parse_drawings(uintx.__doc__)


def test_every_width_and_order_is_drawn():
    assert sorted(DRAWINGS) == [(b, o) for b in range(1, 9) for o in ORDERS]


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("order", ORDERS)
def test_docstring_drawing_is_the_layout(bits, order):
    drawing = DRAWINGS[bits, order]
    per_group = len({j for byte in drawing for j, _ in byte})
    assert len(drawing) * 8 == per_group * bits  # a group fills whole bytes
    assert bit_layout(bits, order) == drawing
    for seed in range(20):
        values = random_values((per_group,), bits, seed=seed)
        expected = [
            sum(((int(values[j]) >> q) & 1) << (7 - pos) for pos, (j, q) in enumerate(byte)) for byte in drawing
        ]
        assert pack_bits(values, bits, order=order).tolist() == expected


# --- agreement with independent implementations ---------------------------------------------------


@settings(deadline=None, max_examples=300)
@given(bits=st.sampled_from([1, 2, 4, 8]), groups=st.integers(0, 40), seed=st.integers(0, 2**31))
def test_agrees_with_loop_reference(bits, groups, seed):
    x = random_values((groups * (8 // bits),), bits, seed=seed)
    assert torch.equal(pack_bits(x, bits), pack_weights(x, bits))
    assert torch.equal(unpack_bits(pack_weights(x, bits), bits, x.numel()), unpack_weights(pack_weights(x, bits), bits))


@pytest.mark.parametrize("bits", [2, 4])
@pytest.mark.parametrize("shape", [(8,), (3, 16), (1024, 16, 8), (2, 3, 4, 24)])
def test_agrees_with_strided_slices_under_msb(bits, shape, device):
    x = random_values(shape, bits, seed=len(shape), device=device)
    packed = pack_bits(x, bits, order="msb")
    assert torch.equal(packed, strided_pack(x, bits))
    assert torch.equal(strided_unpack(packed, bits), x)
    assert torch.equal(unpack(pack(x, bits, order="msb")), x)


def test_every_byte_unpacks_like_the_reference(device):
    # every byte value in every byte of a group: each slot, straddling or not, sees every bit pattern
    data = torch.arange(256, dtype=torch.uint8).repeat_interleave(8).view(-1, 8)
    for bits in range(1, 9):
        for order in ORDERS:
            rows = data[:, :bits].contiguous() if 8 % bits else data[:, :1].contiguous()
            n = rows.shape[1] * 8 // bits
            got = unpack_bits(rows.to(device), bits, n, order=order)
            assert torch.equal(got.cpu(), ref_unpack(rows, bits, n, order=order)), (bits, order)
            assert torch.equal(pack_bits(got, bits, order=order).cpu(), rows)


@pytest.mark.parametrize("bits", [1, 3, 4, 7])
def test_chunked_public_round_trip(bits, monkeypatch):
    monkeypatch.setattr(uintx, "_CHUNK_BYTES", 40)
    for shape, dim in [((3, 101), -1), ((101, 3), 0), ((5, 37, 2), 1)]:
        x = random_values(shape, bits, seed=bits)
        data = pack_bits(x, bits, dim)
        assert torch.equal(data, ref_pack(x, bits, dim))
        assert torch.equal(unpack(pack(x, bits, dim=dim)), x)


# --- property tests: width x dim x order x shape x dtype ------------------------------------------


@st.composite
def layouts(draw, max_side=9):
    bits = draw(st.integers(1, 8))
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=ndim, max_size=ndim)))
    dim = draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1))
    return dict(
        bits=bits,
        shape=shape,
        dim=dim,
        order=draw(st.sampled_from(ORDERS)),
        dtype=draw(st.sampled_from(ALL_DTYPES)),
        seed=draw(st.integers(0, 2**31)),
    )


@settings(deadline=None, max_examples=1500, suppress_health_check=FIXTURE_OK)
@given(case=layouts())
def test_round_trip_matches_reference(case, device):
    bits, dim, order = case["bits"], case["dim"], case["order"]
    x = random_values(case["shape"], bits, case["dtype"], case["seed"], device)
    p = pack(x, bits, dim=dim, order=order)
    assert p.data.shape == p.expected_data_shape()
    assert p.data.device == x.device and p.data.is_contiguous()
    assert (p.bits, p.order, p.scheme, p.dtype, p.shape) == (bits, order, "uint", x.dtype, x.shape)
    assert torch.equal(p.data.cpu(), ref_pack(x.cpu(), bits, dim, order).reshape(p.data.shape))
    back = unpack(p)
    assert back.dtype == x.dtype and back.shape == x.shape and back.device == x.device
    assert torch.equal(back, x)


@settings(deadline=None, max_examples=300)
@given(bits=st.integers(1, 8), order=st.sampled_from(ORDERS), rows=st.integers(1, 3),
       n=st.integers(0, 3000), seed=st.integers(0, 2**31))
def test_round_trip_long_rows(bits, order, rows, n, seed):
    x = random_values((rows, n), bits, seed=seed)
    for dim in (1, 0):
        y = x if dim == 1 else x.t().contiguous()
        p = pack(y, bits, dim=dim, order=order)
        assert p.data.shape[dim] == math.ceil(n * bits / 8)
        assert torch.equal(unpack(p), y)


# --- shapes at the edges --------------------------------------------------------------------------


def test_zero_d_packs_as_one_value(device):
    x = torch.tensor(5, dtype=torch.int16, device=device)
    for dim in (0, -1):
        p = pack(x, 3, dim=dim, order="msb")
        assert p.data.shape == (1,) and p.dim == 0 and p.shape == ()
        assert torch.equal(p.data, u8([0b10100000], device))
        back = unpack(p)
        assert back.shape == () and back.dtype == torch.int16 and torch.equal(back, x)
    with pytest.raises(LowbitError, match=r"dim must be an int in -1\.\.0 for a tensor of shape \(\), got 1"):
        pack(x, 3, dim=1)


@pytest.mark.parametrize(
    "shape, dim, data_shape",
    [((0,), -1, (0,)), ((3, 0), -1, (3, 0)), ((3, 0), 0, (2, 0)), ((0, 3), 1, (0, 2)), ((2, 0, 5), 1, (2, 0, 5))],
)
def test_empty_tensors(shape, dim, data_shape, device):
    x = torch.zeros(shape, dtype=torch.int32, device=device)
    p = pack(x, 5, dim=dim)
    assert p.data.shape == data_shape and p.data.device == x.device
    back = unpack(p)
    assert back.shape == shape and back.dtype == torch.int32 and back.device == x.device


@pytest.mark.parametrize("bits", range(1, 9))
def test_one_element(bits, device):
    x = torch.tensor([2**bits - 1], dtype=torch.int64, device=device)
    p = pack(x, bits)
    assert p.data.shape == (1,)
    assert torch.equal(unpack(p), x)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_every_integer_dtype(dtype, device):
    x = random_values((4, 9), 7, dtype, seed=3, device=device)
    for bits in (7, 8):
        back = unpack(pack(x, bits, dim=0))
        assert back.dtype == dtype and torch.equal(back, x)


def test_non_contiguous_and_offset_inputs(device):
    base = random_values((6, 41), 3, seed=5, device=device)
    for x in (base[:, 1:], base.t(), base[1:, 1:].t(), base.view(-1)[1:], base[::2, ::3], base[:1].expand(4, 41)):
        for dim in (0, -1):
            assert torch.equal(pack_bits(x, 3, dim), pack_bits(x.contiguous(), 3, dim))
            assert torch.equal(unpack(pack(x, 3, dim=dim)), x)
    odd = unpack_bits(pack_bits(base.view(-1), 3)[3:], 3, 6 * 41 - 8)  # packed bytes at an odd offset
    assert torch.equal(odd, base.view(-1)[8:])


def test_results_never_alias_inputs(device):
    x = u8([1, 2, 3, 250], device)
    data = pack_bits(x, 8)
    x[0] = 9
    assert data[0].item() == 1
    back = unpack_bits(data, 8, 4)
    data[1] = 7
    assert back[1].item() == 2


def test_matches_cpu(device):
    for bits in range(1, 9):
        for order in ORDERS:
            x = random_values((5, 67, 3), bits, seed=bits)
            for dim in (0, 1, 2):
                on_device = pack_bits(x.to(device), bits, dim, order)
                assert on_device.device.type == device.type
                assert torch.equal(on_device.cpu(), pack_bits(x, bits, dim, order))
                assert torch.equal(unpack(pack(x.to(device), bits, dim=dim, order=order)).cpu(), x)


# --- one unpack for every scheme ----------------------------------------------------------------------


def test_every_scheme_registers_its_unpacker():
    import lowbit_ref.base3 as base3
    import lowbit_ref.ternary as ternary

    assert UNPACKERS == {"uint": uintx._unpack_uint, "ternary2": ternary.unpack_ternary2, "base3": base3.unpack_base3}
    assert set(UNPACKERS) == set(SCHEMES)
    t = torch.tensor([1, 0, -1, 1, 1, 0], dtype=torch.int8)
    for p in (ternary.pack_ternary(t), base3.pack_base3(t)):
        assert torch.equal(unpack(p), t)
        into = torch.empty_like(t)
        assert unpack(p, out=into) is into and torch.equal(into, t)


def test_unpack_sends_each_scheme_to_its_registered_unpacker(monkeypatch):
    calls = []
    monkeypatch.setitem(UNPACKERS, "base3", lambda packed, out=None: calls.append((packed, out)) or "unpacked")
    packed = PackedTensor(torch.zeros(2, dtype=torch.uint8), 2, (10,), 0, "lsb", "base3", torch.int8)
    assert unpack(packed) == "unpacked" and calls == [(packed, None)]
    monkeypatch.delitem(UNPACKERS, "base3")
    with pytest.raises(LowbitError, match=r"packed.scheme 'base3' has no unpacker registered \(registered: \['ternary2', 'uint'\]\)"):
        unpack(packed)


# --- bad input: LowbitError naming the argument, the value and what is accepted ---------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pack([1, 0, 3, 2], 2), r"values must be a torch\.Tensor of integers, got list"),
        (lambda: pack(torch.tensor([1.0, 2.0]), 2), r"values must have an integer dtype \(uint8, int8, int16, int32, int64.*\), got torch\.float32"),
        (lambda: pack(torch.tensor([True]), 1), r"integer dtype .* got torch\.bool"),
        (lambda: pack(torch.tensor([1j]), 2), r"integer dtype .* got torch\.complex64"),
        (lambda: pack(u8([1, 0, 4, 2]), 2), r"values must be in 0\.\.3 to fit bits=2, got 4 at index \(2,\) \(min 0, max 4\)"),
        (lambda: pack(torch.tensor([[1, 2, 3], [0, 1, 9]]), 3), r"values must be in 0\.\.7 to fit bits=3, got 9 at index \(1, 2\)"),
        (lambda: pack(torch.tensor([3, -1], dtype=torch.int8), 4), r"values must be in 0\.\.15 to fit bits=4, got -1 at index \(1,\) \(min -1, max 3\)"),
        (lambda: pack(torch.tensor([255, 256], dtype=torch.int16), 8), r"values must be in 0\.\.255 to fit bits=8, got 256 at index \(1,\)"),
        (lambda: pack(torch.tensor(2), 1), r"values must be in 0\.\.1 to fit bits=1, got 2 at index \(0,\)"),
        (lambda: pack(u8([1]), 0), r"bits must be an int in 1\.\.8, got 0"),
        (lambda: pack(u8([1]), 9), r"bits must be an int in 1\.\.8, got 9"),
        (lambda: pack(u8([1]), True), r"bits must be an int in 1\.\.8, got True"),
        (lambda: pack(u8([1]), 2.0), r"bits must be an int in 1\.\.8, got 2\.0"),
        (lambda: pack(u8([1]), "2"), r"bits must be an int in 1\.\.8, got '2'"),
        (lambda: pack(u8([1, 2]), 2, dim=1), r"dim must be an int in -1\.\.0 for a tensor of shape \(2,\), got 1"),
        (lambda: pack(u8([[1, 2]]), 2, dim=-3), r"dim must be an int in -2\.\.1 for a tensor of shape \(1, 2\), got -3"),
        (lambda: pack(u8([1, 2]), 2, dim=False), r"dim must be an int in -1\.\.0 .* got False"),
        (lambda: pack(u8([1, 2]), 2, order="big"), r"order must be one of \('lsb', 'msb'\), got 'big'"),
        (lambda: pack(u8([1, 2]), 2, order=None), r"order must be one of \('lsb', 'msb'\), got None"),
        (lambda: pack_bits(u8([1, 0, 4, 2]), 2), r"values must be in 0\.\.3 to fit bits=2, got 4 at index \(2,\)"),
        (lambda: unpack(u8([177])), r"packed must be a PackedTensor \(from pack\), got Tensor"),
        (lambda: unpack_bits(u8([1, 2]), 2, 9), r"data has 2 bytes along dim 0, but n=9 values of 2 bits need ceil\(9 \* 2 / 8\) = 3"),
        (lambda: unpack_bits(torch.tensor([1, 2]), 2, 8), r"data must be a torch\.uint8 tensor of packed bytes, got torch\.int64"),
        (lambda: unpack_bits([1, 2], 2, 8), r"data must be a torch\.uint8 tensor of packed bytes, got list"),
        (lambda: unpack_bits(u8(5), 2, 1), r"data must have at least one dimension .* got a 0-d tensor"),
        (lambda: unpack_bits(u8([1]), 2, -1), r"n must be a non-negative int \(values per row along dim\), got -1"),
        (lambda: unpack_bits(u8([1]), 2, True), r"n must be a non-negative int .* got True"),
        (lambda: unpack_bits(u8([1]), 2, 4, order="MSB"), r"order must be one of \('lsb', 'msb'\), got 'MSB'"),
        (lambda: unpack_bits(u8([1]), 10, 4), r"bits must be an int in 1\.\.8, got 10"),
        (lambda: unpack_bits(u8([[1]]), 2, 4, dim=2), r"dim must be an int in -2\.\.1 for a tensor of shape \(1, 1\), got 2"),
        (lambda: bit_layout(9), r"bits must be an int in 1\.\.8, got 9"),
        (lambda: PackedTensor(u8([1, 2]), 3, (8,), 0), r"PackedTensor data has shape \(2,\), but uint at 3 bits for shape \(8,\) along dim 0 needs \(3,\)"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(LowbitError, match=message):
        call()


def test_unsigned_dtypes_report_the_unsigned_value():
    wide = [t for t in (getattr(torch, "uint16", None), getattr(torch, "uint32", None), getattr(torch, "uint64", None)) if t]
    if not wide:
        pytest.skip("this torch has no uint16/32/64")
    for dtype in wide:
        x = torch.tensor([3, 40000, 1], dtype=torch.int64).to(dtype)
        with pytest.raises(LowbitError, match=r"values must be in 0\.\.255 to fit bits=8, got 40000 at index \(1,\)"):
            pack(x, 8)
    big = torch.tensor([2**63 + 5], dtype=torch.uint64) if hasattr(torch, "uint64") else None
    if big is not None:
        with pytest.raises(LowbitError, match=rf"got {2**63 + 5} at index \(0,\)"):
            pack(big, 8)


def test_range_check_never_wraps():
    # 256 as uint8 would be 0: the check runs in the input's own dtype
    x = torch.tensor([0, 256, 512], dtype=torch.int64)
    with pytest.raises(LowbitError, match=r"got 256 at index \(1,\)"):
        pack(x, 8)
    assert torch.equal(unpack(pack(torch.tensor([0, 255]), 8)), torch.tensor([0, 255]))
