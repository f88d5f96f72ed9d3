"""lowbit_ref.base3: five trits per byte, against a Python spec, the slow references and every byte."""

import contextlib
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies

from lowbit_ref import base3
from lowbit_ref.base3 import pack_base3, pack_base3_powers, unpack_base3, unpack_base3_divmod
from lowbit_ref.errors import LowbitError
from lowbit_ref.packed import PackedTensor
from lowbit_ref.uintx import unpack

u8, i8 = torch.uint8, torch.int8
pytestmark = pytest.mark.filterwarnings("error")  # e.g. torch resizing an `out=` of the wrong shape
on_device = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def base3_spec(t: torch.Tensor, dim: int) -> torch.Tensor:
    """The packed bytes, one digit at a time: sum of (trit + 1) * 3**i, rows padded with trits 0."""
    x = t.reshape(t.shape or (1,)).movedim(dim, -1)  # (..., n)
    lead, n = x.shape[:-1], x.shape[-1]
    length = -(-n // 5)
    out = []
    for row in x.reshape(math.prod(lead), n).tolist():
        row = row + [0] * (5 * length - n)
        out.append([sum((row[5 * j + i] + 1) * 3**i for i in range(5)) for j in range(length)])
    return torch.tensor(out, dtype=u8).reshape(*lead, length).movedim(-1, dim)


@contextlib.contextmanager
def tile(size):
    """Run with base3.TILE = size, so that small tensors cross tile boundaries too."""
    saved, base3.TILE = base3.TILE, size
    try:
        yield
    finally:
        base3.TILE = saved


def trits_and_dim():
    return strategies.trits_and_dim(max_side=6, max_length=40)


ALL_TRITS = torch.tensor([[b // 3**i % 3 - 1 for i in range(5)] for b in range(243)], dtype=i8)  # (243, 5), row b: byte b


# ---------------------------------------------------------------- layout


def test_layout_drawing():
    # The module docstring: [1, 0, -1, -1, 1] -> digits [2, 1, 0, 0, 2] -> 2 + 3 + 0 + 0 + 162 = 167
    p = pack_base3(torch.tensor([1, 0, -1, -1, 1], dtype=i8))
    assert torch.equal(p.data, torch.tensor([167], dtype=u8))
    assert (p.scheme, p.bits, p.order, p.dtype, p.dim, tuple(p.shape)) == ("base3", 2, "lsb", i8, 0, (5,))
    assert p.bits_per_value == 1.6
    # padding is trit 0 (digit 1): [1] -> 2 + 3 + 9 + 27 + 81 = 122; all -1 -> 0, all 1 -> 242
    assert torch.equal(pack_base3(torch.tensor([1, 0, -1, -1, 1, 1])).data, torch.tensor([167, 122], dtype=u8))
    assert torch.equal(pack_base3(-torch.ones(5, dtype=i8)).data, torch.tensor([0], dtype=u8))
    assert torch.equal(pack_base3(torch.ones(5, dtype=i8)).data, torch.tensor([242], dtype=u8))
    # first trit least significant: a lone +1 at position i adds 3**i to the all -1 byte
    for i in range(5):
        t = -torch.ones(5, dtype=i8)
        t[i] = 0
        assert pack_base3(t).data.item() == 3**i
    # along dim 0, each column is a row of its own: [-1, -1, -1, -1, 0] -> 81, then [1] + padding -> 122
    t = torch.tensor([[1, -1], [0, -1], [-1, -1], [-1, -1], [1, 0], [1, 1]], dtype=i8)
    assert torch.equal(pack_base3(t, dim=0).data, torch.tensor([[167, 81], [122, 122]], dtype=u8))


def test_every_byte():
    # all 243 groups of five trits, in order, pack to the bytes 0..242 and back
    data = torch.arange(243, dtype=u8).reshape(243, 1)
    for packer in (pack_base3, pack_base3_powers):
        assert torch.equal(packer(ALL_TRITS).data, data)
    p = PackedTensor(data, 2, (243, 5), 1, "lsb", "base3", i8)
    for unpacker in (unpack_base3, unpack_base3_divmod, unpack):
        assert torch.equal(unpacker(p), ALL_TRITS)
    # and the table of the fast unpack is exactly the division-and-modulo digits
    assert torch.equal(base3._table(torch.device("cpu")), ALL_TRITS)


@pytest.mark.parametrize("unpacker", [unpack_base3, unpack_base3_divmod])
def test_bytes_243_to_255_are_rejected(unpacker):
    for byte in range(243, 256):
        data = torch.tensor([[7, 0], [242, byte], [byte, 1]], dtype=u8)
        p = PackedTensor(data, 2, (3, 10), 1, "lsb", "base3", i8)
        with pytest.raises(LowbitError, match=rf"packed byte {byte} at index \(1, 1\) is not a base-3 byte; .* 0\.\.242"):
            unpacker(p)
    with pytest.raises(LowbitError, match=r"packed byte 243 at index \(0,\)"):
        unpacker(PackedTensor(torch.tensor([243], dtype=u8), 2, (), 0, "lsb", "base3", i8))


# ---------------------------------------------------------------- round trips


@settings(max_examples=400, deadline=None)
@given(trits_and_dim(), st.sampled_from([1, 2, 3, 7, 64, base3.TILE]))
def test_round_trip_matches_spec(case, tile_size):
    t, dim = case
    with tile(tile_size):
        p = pack_base3(t, dim=dim)
        want = base3_spec(t, dim)
        assert torch.equal(p.data, want) and p.data.is_contiguous()
        assert p.shape == t.shape and p.dtype == t.dtype and p.dim == dim % max(t.dim(), 1)
        assert torch.equal(pack_base3_powers(t, dim=dim).data, want)
        for unpacker in (unpack_base3, unpack_base3_divmod, unpack):
            back = unpacker(p)
            assert back.dtype == t.dtype and back.is_contiguous() and torch.equal(back, t)


@on_device
@given(trits_and_dim())
def test_round_trip_on_device(device, case):
    t, dim = case
    p = pack_base3(t.to(device), dim=dim)
    assert p.device.type == device.type and torch.equal(p.data.cpu(), base3_spec(t, dim))
    for unpacker in (unpack_base3, unpack_base3_divmod):
        back = unpacker(p)
        assert back.device.type == device.type and torch.equal(back.cpu(), t)


@pytest.mark.parametrize("shape, dim", [((5 * base3.TILE + 3,), 0), ((3, 2 * base3.TILE + 7), 1), ((11, 3, base3.TILE + 1), 0),
                                        ((7, 4096), 0), ((base3.TILE + 2, 2), 0)])
def test_round_trip_across_default_tiles(device, shape, dim):
    t = torch.randint(-1, 2, shape, dtype=i8, generator=torch.Generator().manual_seed(len(shape))).to(device)
    p = pack_base3(t, dim=dim)
    assert torch.equal(p.data, pack_base3_powers(t, dim=dim).data)
    assert torch.equal(unpack_base3(p), t)


def test_sizes():
    p = pack_base3(torch.zeros(4, 11, dtype=i8))
    assert p.data.shape == (4, 3) and p.nbytes == 12
    assert pack_base3(torch.zeros(4, 11, dtype=i8), dim=0).data.shape == (1, 11)
    assert pack_base3(torch.tensor(1)).data.shape == (1,)  # a 0-d tensor packs as one value
    assert torch.equal(unpack_base3(pack_base3(torch.tensor(-1))), torch.tensor(-1))
    empty = pack_base3(torch.zeros(3, 0, dtype=i8))
    assert empty.data.shape == (3, 0) and unpack_base3(empty).shape == (3, 0)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("packer", [pack_base3, pack_base3_powers])
@pytest.mark.parametrize(
    "args, match",
    [
        ((torch.tensor([[0, 1], [-1, -3]]),), r"trits must be -1, 0 or 1, got -3 at index \(1, 1\)"),
        ((torch.tensor([0, 2], dtype=i8),), r"trits must be -1, 0 or 1, got 2 at index \(1,\)"),
        ((torch.tensor([0.0, 1.0]),), r"trits must have a signed integer dtype \(int8, int16, int32 or int64\), got torch\.float32"),
        ((torch.tensor([0, 2], dtype=u8),), r"got torch\.uint8 \(trits are signed: pass t, not t \+ 1\)"),
        ((torch.tensor([True]),), r"got torch\.bool"),
        (([0, 1],), r"trits must be a torch\.Tensor of -1, 0, 1, got list"),
        ((torch.zeros(2, 3, dtype=i8), 2), r"dim must be an int in -2\.\.1 for a tensor of shape \(2, 3\), got 2"),
        ((torch.zeros(2, 3, dtype=i8), -3), r"dim must be an int in -2\.\.1 for a tensor of shape \(2, 3\), got -3"),
        ((torch.zeros(2, 3, dtype=i8), 1.0), r"dim must be an int .* got 1\.0"),
    ],
)
def test_pack_errors(packer, args, match):
    with pytest.raises(LowbitError, match=match):
        packer(args[0], dim=args[1]) if len(args) > 1 else packer(args[0])


@pytest.mark.parametrize("unpacker", [unpack_base3, unpack_base3_divmod])
@pytest.mark.parametrize(
    "packed, match",
    [
        (torch.zeros(1, dtype=u8), r"packed must be a PackedTensor, got Tensor"),
        (PackedTensor(torch.zeros(2, dtype=u8), 2, (5,), 0), r"packed\.scheme must be 'base3', got 'uint'"),
        (PackedTensor(torch.zeros(1, dtype=u8), 2, (4,), 0, scheme="ternary2", dtype=i8), r"packed\.scheme must be 'base3', got 'ternary2'"),
        (PackedTensor(torch.zeros(1, dtype=u8), 4, (5,), 0, scheme="base3", dtype=i8), r"packed\.bits must be 2 for scheme 'base3', got 4"),
        (PackedTensor(torch.zeros(1, dtype=u8), 2, (5,), 0, scheme="base3", dtype=torch.float32),
         r"packed\.dtype must be one of \(int8, int16, int32, int64\), got torch\.float32"),
    ],
)
def test_unpack_errors(unpacker, packed, match):
    with pytest.raises(LowbitError, match=match):
        unpacker(packed)


def test_base3_is_smaller_than_ternary2():
    from lowbit_ref.ternary import pack_ternary

    t = torch.randint(-1, 2, (64, 1000), dtype=i8, generator=torch.Generator().manual_seed(0))
    assert pack_base3(t).nbytes == 64 * 200 and pack_ternary(t).nbytes == 64 * 250
