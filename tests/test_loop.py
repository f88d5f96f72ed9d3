"""lowbit_ref.loop: the slow, obvious reference of lesson 01."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit_ref import LowbitError
from lowbit_ref.loop import Step, byte_views, pack_weights, unpack_weights


def u8(values, device="cpu"):
    return torch.tensor(values, dtype=torch.uint8, device=device)


@pytest.mark.parametrize(
    "values, bits, packed",
    [
        ([1, 0, 3, 2], 2, [177]),  # the module docstring's drawing: 0b10110001
        ([1, 0, 3, 2, 3, 3, 3, 3], 2, [177, 255]),
        ([9, 4, 15, 2], 4, [73, 47]),  # 0b0100_1001, 0b0010_1111
        ([1, 0, 0, 0, 0, 0, 0, 1], 1, [129]),
        ([0, 1, 1, 0, 1, 0, 0, 0], 1, [22]),
        ([200, 7, 255], 8, [200, 7, 255]),
        ([], 2, []),
    ],
)
def test_golden(values, bits, packed, device):
    got = pack_weights(u8(values, device), bits)
    assert got.device.type == device.type
    assert torch.equal(got, u8(packed, device))
    assert torch.equal(unpack_weights(got, bits), u8(values, device))


@settings(max_examples=200, deadline=None)
@given(bits=st.sampled_from([1, 2, 4, 8]), data=st.data())
def test_round_trip(bits, data):
    per_byte = 8 // bits
    n = data.draw(st.integers(0, 12)) * per_byte
    values = data.draw(st.lists(st.integers(0, 2**bits - 1), min_size=n, max_size=n))
    x = u8(values)
    packed = pack_weights(x, bits)
    assert packed.shape == (n // per_byte,)
    assert torch.equal(unpack_weights(packed, bits), x)
    # independent check of the layout: value i sits at bit (i % per_byte) * bits of byte i // per_byte
    for i, v in enumerate(values):
        assert (packed[i // per_byte].item() >> ((i % per_byte) * bits)) & (2**bits - 1) == v


def test_trace_records_every_iteration():
    steps = []
    pack_weights(u8([1, 0, 3, 2]), 2, trace=steps)
    assert steps == [
        Step(0, 0, 1, 0, 1, 0, 1),
        Step(0, 1, 0, 2, 0, 1, 1),
        Step(0, 2, 3, 4, 48, 1, 49),
        Step(0, 3, 2, 6, 128, 49, 177),
    ]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pack_weights(u8([1, 0, 4, 2]), 2), r"uint8tensor values must be in 0\.\.3 to fit 2 bits, got 4 at index 2"),
        (lambda: pack_weights(u8([16, 0]), 4), r"must be in 0\.\.15 to fit 4 bits, got 16 at index 0"),
        (lambda: pack_weights(torch.tensor([1, 0, 3, 2], dtype=torch.int8), 2), r"uint8tensor must have dtype torch\.uint8.*got torch\.int8"),
        (lambda: pack_weights(torch.tensor([1.0, 0.0, 3.0, 2.0]), 2), r"dtype torch\.uint8.*got torch\.float32"),
        (lambda: pack_weights([1, 0, 3, 2], 2), r"uint8tensor must be a torch\.Tensor.*got list"),
        (lambda: pack_weights(u8([1, 2, 3]), 2), r"length must be a multiple of 8 / bits = 4 at 2 bits, got 3"),
        (lambda: pack_weights(u8([1, 2, 3]), 3), r"bits must be one of 1, 2, 4, 8 \(a width that divides 8\), got 3"),
        (lambda: pack_weights(u8([1]), True), r"bits must be one of 1, 2, 4, 8.*got True"),
        (lambda: pack_weights(u8([[1, 2, 3, 0]]), 2), r"uint8tensor must be 1-D, got shape \(1, 4\)"),
        (lambda: unpack_weights(u8([177]), 5), r"bits must be one of 1, 2, 4, 8.*got 5"),
        (lambda: unpack_weights(torch.tensor([177]), 2), r"packed must have dtype torch\.uint8.*got torch\.int64"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, message):
    with pytest.raises(LowbitError, match=message):
        call()


def test_byte_views():
    assert byte_views([1, 0, 1, 1, 0, 0, 0, 1]) == {"bits": "10110001", "uint8": 177, "int8": -79}
    assert byte_views([0, 1, 1, 1, 1, 1, 1, 1]) == {"bits": "01111111", "uint8": 127, "int8": 127}
    assert byte_views([1, 0, 0, 0, 0, 0, 0, 0])["int8"] == -128
    with pytest.raises(LowbitError, match=r"bit_list must be eight 0/1 values.*got \[1, 2\]"):
        byte_views([1, 2])
