"""The fast paths behind lowbit_ref.bench and the ``out=`` buffers, against slow references.

Fast paths: lowbit_ref._uintx_fast's word paths (NumPy's packbits at 1 bit, multiplies, tables,
lane merges); range checks done chunk by chunk (uintx, ternary, base3); ternary fields offset and
checked inside the 2-bit word path and decoded straight to trits; base-3 bytes built by partial
sums over whole rows. References: lowbit_ref.uintx's plain slice path, lowbit_ref.loop, the
one-bit-at-a-time oracle lowbit_ref.bitstream, and base3's powers / division references. Chunks
and tiles are shrunk so every test crosses many.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lowbit_ref._uintx_fast as fast
import lowbit_ref.base3 as base3
import lowbit_ref.uintx as uintx
from lowbit_ref import LowbitError, loop
from lowbit_ref.bitstream import stream_pack_reference, stream_unpack_reference
from lowbit_ref.base3 import pack_base3, pack_base3_powers, unpack_base3, unpack_base3_divmod
from lowbit_ref.packed import PackedTensor
from lowbit_ref.ternary import pack_ternary, unpack_ternary2
from lowbit_ref.uintx import check_out, pack, pack_bits, unpack, unpack_bits

FIXTURE_OK = [HealthCheck.function_scoped_fixture]


def reference_rows(x: torch.Tensor, bits: int, dim: int, order: str, offset: int = 0) -> torch.Tensor:
    """The oracle's bytes (lowbit_ref.bitstream, one bit at a time)."""
    return stream_pack_reference(x.cpu(), bits, dim, order, offset=offset)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 48 bytes of values and tiles of 7 packed bytes: every size below crosses many."""
    monkeypatch.setattr(uintx, "_CHUNK_BYTES", 48)
    monkeypatch.setattr(base3, "TILE", 7)


# --- uintx: fast paths against the plain path, the loop and the bit stream ----------------------------


def test_the_fast_path_is_registered():
    assert uintx._IMPL == {"pack": fast.pack_fast, "unpack": fast.unpack_fast}


@pytest.mark.parametrize("bits", range(1, 8))
@pytest.mark.parametrize("order", ["lsb", "msb"])
@pytest.mark.parametrize("chunk_bytes", [24, 1 << 19])
def test_word_and_slice_paths_agree(bits, order, chunk_bytes, monkeypatch):
    # The two share only the layout formula: words (packed dim innermost) use multiplies, tables
    # and shift/add steps on lanes; slices use per-byte shifts and ORs.
    monkeypatch.setattr(uintx, "_CHUNK_BYTES", chunk_bytes)  # 24: many chunks and a ragged last one
    per_group, group_bytes = uintx._group(bits)
    g = torch.Generator().manual_seed(bits)
    values = torch.randint(0, 2**bits, (1001, per_group), dtype=torch.uint8, generator=g)
    values[:7] = 2**bits - 1  # all ones: top bits of the words set
    by_words = fast._pack_words(values, bits, order)
    by_slices = uintx._pack_slices(values.unsqueeze(-1), bits, order).squeeze(-1)
    assert torch.equal(by_words, by_slices)
    assert torch.equal(by_words.view(-1), reference_rows(values.view(-1), bits, -1, order))

    data = torch.randint(0, 256, (1001, group_bytes), dtype=torch.uint8, generator=g)
    data[:7] = 255
    out_words, out_slices = torch.empty_like(values), torch.empty_like(values).unsqueeze(-1)
    assert fast._unpack_words(data, bits, order, out_words)
    assert uintx._unpack_slices(data.unsqueeze(-1), bits, order, out_slices)
    assert torch.equal(out_words, out_slices.squeeze(-1))
    assert torch.equal(out_words.view(-1), stream_unpack_reference(data.view(-1), bits, per_group * 1001, order=order))


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(bits=st.integers(1, 8), order=st.sampled_from(["lsb", "msb"]), shape=st.lists(st.integers(0, 40), max_size=3),
       dim=st.integers(-3, 2), dtype=st.sampled_from([torch.uint8, torch.int8, torch.int16, torch.int64]),
       offset=st.sampled_from([0, 1]), seed=st.integers(0, 2**16))
def test_fast_and_plain_paths_agree_on_random_input(bits, order, shape, dim, dtype, offset, seed, small_chunks):
    """``_uintx_fast`` against ``uintx``'s plain path, both through the same entry points."""
    ndim = max(len(shape), 1)
    dim = dim % ndim if -ndim <= dim < ndim else 0
    top = min((1 << bits) - 1, 127)
    low = 0 if dtype == torch.uint8 else -offset  # uint8 holds no negative value
    x = torch.randint(low, top + 1 - offset, shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    args = (x, bits, dim, order, None, offset, (1 << bits) - 1)
    fast_bytes, plain_bytes = fast.pack_fast(*args), uintx._pack_plain(*args)
    assert torch.equal(fast_bytes, plain_bytes)
    assert torch.equal(fast_bytes, reference_rows(x, bits, dim, order, offset))
    n = (list(x.shape) or [1])[dim]
    args = (fast_bytes, bits, n, dim, order, dtype, None, offset, None)
    fast_values, plain_values = fast.unpack_fast(*args), uintx._unpack_plain(*args)
    assert torch.equal(fast_values, plain_values) and torch.equal(fast_values, x.reshape(fast_values.shape))


def test_offset_never_wraps_a_value_into_a_field():
    # uint8 255 + 1 is 0 in uint8 arithmetic: it must be refused, not stored as the field 0
    for dtype, bad in ((torch.uint8, 255), (torch.int8, -2), (torch.int8, 127), (torch.int16, 3)):
        x = torch.zeros(64, dtype=dtype)
        x[9] = bad
        with pytest.raises(LowbitError, match=rf"values must be in -1\.\.2 to fit bits=2 with offset=1, got {bad} at index \(9,\)"):
            pack_bits(x, 2, offset=1)


def test_a_field_above_top_is_refused_by_both_paths():
    x = torch.tensor([0, 1, 2, 2, 1, 0, 1, 2], dtype=torch.int8)  # fields x + 1: a 3 where x is 2
    for impl in (fast.pack_fast, uintx._pack_plain):
        assert impl(x, 2, 0, "lsb", None, 1, 2) is None
        assert impl(x.clamp(max=1), 2, 0, "lsb", None, 1, 2) is not None
    data = torch.tensor([0b11_01_00_10], dtype=torch.uint8)
    for impl in (fast.unpack_fast, uintx._unpack_plain):
        assert impl(data, 2, 4, 0, "lsb", torch.int8, None, 1, 2) is None
        assert torch.equal(impl(data, 2, 4, 0, "lsb", torch.int8, None, 1, None), torch.tensor([1, -1, 0, 2], dtype=torch.int8))


@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("n_bytes", [1, 5, 6, 7, 64, 1001])
def test_word_paths_match_the_loop(bits, n_bytes, small_chunks, device):
    per_byte = 8 // bits
    g = torch.Generator().manual_seed(bits * 10_000 + n_bytes)
    x = torch.randint(0, 1 << bits, (n_bytes * per_byte,), dtype=torch.uint8, generator=g)
    want = loop.pack_weights(x, bits)  # lsb: lesson 01's layout
    got = pack(x.to(device), bits)
    assert torch.equal(got.data.cpu(), want)
    assert torch.equal(unpack(got).cpu(), loop.unpack_weights(want, bits))
    into = torch.empty(n_bytes, dtype=torch.uint8, device=device)
    assert pack(x.to(device), bits, out=into).data is into and torch.equal(into.cpu(), want)


@pytest.mark.parametrize("order", ["lsb", "msb"])
@pytest.mark.parametrize("groups", [1, 2, 3, 16, 17, 101])
def test_three_bits_across_chunks(order, groups, small_chunks):
    g = torch.Generator().manual_seed(groups)
    for rows in (1, 3):  # several rows: a chunk may end inside a row
        x = torch.randint(0, 8, (rows, 8 * groups), dtype=torch.uint8, generator=g)
        x[0, :8] = 7  # all ones: every bit of the first group set
        want = reference_rows(x, 3, -1, order)
        p = pack(x, 3, order=order)
        assert torch.equal(p.data, want)
        assert torch.equal(unpack(p), x)


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE_OK)
@given(bits=st.integers(1, 8), order=st.sampled_from(["lsb", "msb"]), shape=st.lists(st.integers(0, 13), max_size=3),
       dim=st.integers(-3, 2), dtype=st.sampled_from([torch.uint8, torch.int8, torch.int64]),
       seed=st.integers(0, 2**16))
def test_out_matches_a_new_tensor_and_the_reference(bits, order, shape, dim, dtype, seed, small_chunks):
    ndim = max(len(shape), 1)
    dim = dim % ndim if -ndim <= dim < ndim else 0
    top = min((1 << bits) - 1, 127)
    x = torch.randint(0, top + 1, shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    fresh = pack(x, bits, dim=dim, order=order)
    assert torch.equal(fresh.data, reference_rows(x, bits, dim, order))
    into = torch.full(fresh.data.shape, 0xA5, dtype=torch.uint8)  # stale bytes must all be overwritten
    p = pack(x, bits, dim=dim, order=order, out=into)
    assert p.data is into and torch.equal(into, fresh.data)
    back = torch.full(x.shape, 99, dtype=dtype)
    assert unpack(p, out=back) is back and torch.equal(back, x)
    if x.dim():
        n = x.shape[dim]
        values = torch.empty(x.movedim(dim, 0).shape, dtype=torch.uint8).movedim(0, dim).contiguous()
        assert unpack_bits(fresh.data, bits, n, dim, order, out=values) is values
        assert torch.equal(values, x.to(torch.uint8))


def test_out_at_an_odd_offset():
    # Word views need an aligned start; a buffer that is not gets the result by a copy.
    g = torch.Generator().manual_seed(3)
    for bits in (1, 2, 3, 4):
        x = torch.randint(0, 1 << bits, (4, 64), dtype=torch.uint8, generator=g)
        want = reference_rows(x, bits, -1, "lsb")
        into = torch.zeros(want.numel() + 1, dtype=torch.uint8)[1:].view(want.shape)
        assert pack(x, bits, out=into).data is into and torch.equal(into, want)
        values = torch.zeros(x.numel() + 3, dtype=torch.uint8)[3:].view(x.shape)
        assert unpack(pack(x, bits), out=values) is values and torch.equal(values, x)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8])
@pytest.mark.parametrize("where", [0, 333, 999])
def test_range_checked_chunk_by_chunk(bits, dtype, where, small_chunks):
    x = torch.zeros(1000, dtype=dtype)
    x[where] = 1 << bits if dtype == torch.uint8 else -1
    message = rf"values must be in 0..{(1 << bits) - 1} to fit bits={bits}, got {x[where].item()}"
    with pytest.raises(LowbitError, match=message + rf".* at index \({where},\)"):
        pack(x, bits)
    with pytest.raises(LowbitError, match=rf"at index \({where},\)"):
        pack(x, bits, out=torch.empty(math.ceil(1000 * bits / 8), dtype=torch.uint8))
    x[where] = 0
    assert torch.equal(unpack(pack(x, bits)), x)


@pytest.mark.parametrize(
    "make_out, message",
    [
        (lambda: torch.empty(3, dtype=torch.uint8),
         r"out must be a contiguous torch.uint8 tensor of shape \(2,\) on cpu, "
         r"got a contiguous torch.uint8 tensor of shape \(3,\) on cpu"),
        (lambda: torch.empty(2, dtype=torch.int8), r"got a contiguous torch.int8 tensor of shape \(2,\)"),
        (lambda: torch.empty(2, 2, dtype=torch.uint8)[:, 0],
         r"got a non-contiguous torch.uint8 tensor of shape \(2,\)"),
        (lambda: [0, 0], r"out must be None or a torch.Tensor, got list"),
    ],
)
def test_bad_out(make_out, message):
    with pytest.raises(LowbitError, match=message):
        pack(torch.zeros(8, dtype=torch.uint8), 2, out=make_out())


def test_out_sharing_memory_with_the_input_is_refused():
    x = torch.zeros(16, dtype=torch.uint8)
    with pytest.raises(LowbitError, match="out must not share memory with values"):
        pack(x, 2, out=x[:4])
    p = pack(x, 8)  # 8 bits: the packed bytes have the values' shape and dtype
    with pytest.raises(LowbitError, match=r"out must not share memory with packed.data"):
        unpack(p, out=p.data)
    with pytest.raises(LowbitError, match=r"out must not share memory with data"):
        unpack_bits(p.data, 8, 16, out=p.data)
    with pytest.raises(LowbitError, match=r"out must be a contiguous torch.uint8 tensor of shape \(16,\)"):
        unpack(p, out=torch.empty(15, dtype=torch.uint8))


def test_check_out_accepts_a_fitting_buffer():
    buf = torch.empty(2, 3, dtype=torch.int16)
    assert check_out(buf, (2, 3), torch.int16, torch.device("cpu"), torch.zeros(1), "x") is buf


# --- ternary ---------------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(shape=st.lists(st.integers(0, 30), min_size=1, max_size=3), dim=st.integers(0, 2),
       dtype=st.sampled_from([torch.int8, torch.int16]), seed=st.integers(0, 2**16))
def test_ternary2_fast_and_slow_paths_agree(shape, dim, dtype, seed):
    dim = dim % len(shape)
    t = torch.randint(-1, 2, shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    want = reference_rows(t, 2, dim, "lsb", offset=1)  # fields are trit + 1, padding fields 1 (trit 0)
    p = pack_ternary(t, dim=dim)
    assert torch.equal(p.data, want)
    into = torch.full(want.shape, 0xFF, dtype=torch.uint8)
    assert pack_ternary(t, dim=dim, out=into).data is into and torch.equal(into, want)
    assert torch.equal(unpack_ternary2(p), t)
    back = torch.full(t.shape, 5, dtype=dtype)
    assert unpack(p, out=back) is back and torch.equal(back, t)


@pytest.mark.parametrize("where", [0, 401, 999])
def test_ternary2_checks_chunk_by_chunk(where, small_chunks):
    t = torch.zeros(1000, dtype=torch.int8)
    t[where] = 2
    with pytest.raises(LowbitError, match=rf"trits must be -1, 0 or 1, got 2 at index \({where},\)"):
        pack_ternary(t)
    t[where] = 0
    data = pack_ternary(t).data.clone()
    data[where // 4] |= 0b11 << (2 * (where % 4))
    bad = PackedTensor(data, 2, (1000,), 0, "lsb", "ternary2", torch.int8)
    byte = int(data[where // 4])
    with pytest.raises(LowbitError, match=rf"packed byte {byte} at index \({where // 4},\) holds the field 0b11"):
        unpack_ternary2(bad)
    with pytest.raises(LowbitError, match="holds the field 0b11"):
        unpack_ternary2(bad, out=torch.empty(1000, dtype=torch.int8))


# --- base 3 --------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(shape=st.lists(st.integers(0, 40), min_size=1, max_size=3), dim=st.integers(0, 2),
       dtype=st.sampled_from([torch.int8, torch.int32]), seed=st.integers(0, 2**16))
def test_base3_rows_against_powers_and_divmod(shape, dim, dtype, seed, small_chunks):
    dim = dim % len(shape)
    t = torch.randint(-1, 2, shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    want = pack_base3_powers(t, dim=dim).data
    p = pack_base3(t, dim=dim)
    assert torch.equal(p.data, want)
    into = torch.full(want.shape, 0xEE, dtype=torch.uint8)
    assert pack_base3(t, dim=dim, out=into).data is into and torch.equal(into, want)
    back = torch.full(t.shape, 7, dtype=dtype)
    assert unpack_base3(p, out=back) is back and torch.equal(back, unpack_base3_divmod(p))
    assert torch.equal(back, t)


def test_base3_long_rows_every_byte(small_chunks):
    every = torch.tensor([[d // 3**i % 3 - 1 for i in range(5)] for d in range(243)], dtype=torch.int8).view(-1)
    for reps in (1, 3):
        t = every.repeat(reps)
        assert torch.equal(pack_base3(t).data, torch.arange(243, dtype=torch.uint8).repeat(reps))
        assert torch.equal(unpack_base3(pack_base3(t)), t)


@pytest.mark.parametrize("where", [0, 36, 998])
def test_base3_checks_tile_by_tile(where, small_chunks):
    t = torch.zeros(1000, dtype=torch.int8)
    t[where] = -2
    with pytest.raises(LowbitError, match=rf"trits must be -1, 0 or 1, got -2 at index \({where},\)"):
        pack_base3(t)
    t[where] = 0
    data = pack_base3(t).data.clone()
    data[where // 5] = 250
    bad = PackedTensor(data, 2, (1000,), 0, "lsb", "base3", torch.int8)
    with pytest.raises(LowbitError, match=rf"packed byte 250 at index \({where // 5},\) is not a base-3 byte"):
        unpack_base3(bad)
    with pytest.raises(LowbitError, match="is not a base-3 byte"):
        unpack(bad, out=torch.empty(1000, dtype=torch.int8))


def test_base3_out_errors():
    t = torch.zeros(10, dtype=torch.int8)
    with pytest.raises(LowbitError, match=r"out must be a contiguous torch.uint8 tensor of shape \(2,\)"):
        pack_base3(t, out=torch.empty(3, dtype=torch.uint8))
    with pytest.raises(LowbitError, match=r"out must be a contiguous torch.int8 tensor of shape \(10,\)"):
        unpack_base3(pack_base3(t), out=torch.empty(10, dtype=torch.int16))
