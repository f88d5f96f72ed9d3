"""lowbit_ref.nn (lesson 05): PackedLinear, pack_model, BitLinear, save_packed/load_packed."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lowbit_ref import LowbitError, checkpoint
from lowbit_ref.nn import BitLinear, PackedLinear, load_packed, model_bytes, pack_model, quantize_activations, save_packed
from lowbit_ref.quantize import dequantize, quantize_uint


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 5))


def test_golden_packed_bytes_and_repr():
    linear = nn.Linear(4, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[-1.0, 0.0, 1.0, 2.0], [0.0, 0.25, 0.5, 0.75]]))
        linear.bias.copy_(torch.tensor([0.5, -0.5]))
    layer = PackedLinear.from_linear(linear, bits=2)
    # row 0: scale 1, zero point 1, codes 0 1 2 3 -> 0b11100100; row 1: scale 0.25, zero point 0, the same
    assert torch.equal(layer.packed, torch.tensor([[0b11100100], [0b11100100]], dtype=torch.uint8))
    assert layer.scale.dtype == torch.float16 and layer.scale.tolist() == [[1.0], [0.25]]
    assert torch.equal(layer.zero_point, torch.tensor([[1], [0]], dtype=torch.uint8))
    assert torch.equal(layer.weight(), linear.weight.detach())
    assert repr(layer) == ("PackedLinear(in_features=4, out_features=2, scheme=uint, bits=2, group_size=4, "
                           "groups=2, bytes=2+4+2)")
    assert sorted(layer.state_dict()) == ["bias", "packed", "scale", "zero_point"]
    x = torch.randn(3, 4)
    assert torch.allclose(layer(x), linear(x))


@settings(max_examples=40, deadline=None)
@given(bits=st.integers(1, 8), out_f=st.integers(1, 9), groups=st.integers(1, 3), g=st.integers(1, 9),
       bias=st.booleans(), seed=st.integers(0, 2**31), batch=st.sampled_from([(), (1,), (3,), (2, 3)]))
def test_forward_matches_f_linear_with_the_dequantized_weight(bits, out_f, groups, g, bias, seed, batch):
    torch.manual_seed(seed)
    linear = nn.Linear(groups * g, out_f, bias=bias)
    layer = PackedLinear.from_linear(linear, bits=bits, group_size=g)
    w = dequantize(quantize_uint(linear.weight.detach(), bits, group_size=g, dim=1))
    x = torch.randn(*batch, groups * g)
    assert torch.allclose(layer(x), F.linear(x, w, linear.bias), atol=1e-5, rtol=1e-5)
    # the state is the packed size: row bytes + float16 scales + uint8 zero points (+ float32 bias)
    row_bytes = -(-groups * g * bits // 8)
    assert model_bytes(layer) == out_f * row_bytes + out_f * groups * 3 + 4 * out_f * bias


@pytest.mark.parametrize("scheme", ["base3", "ternary2"])
def test_from_trits(scheme):
    trits = torch.tensor([[1, -1, 0, 1, -1, 0, 1], [0, 0, 1, -1, 1, 1, -1]], dtype=torch.int8)
    layer = PackedLinear.from_trits(trits, 0.5, torch.tensor([1.0, 2.0]), scheme=scheme)
    assert layer.packed.shape == (2, 2) and layer.zero_point is None
    assert torch.equal(layer.codes(), trits)
    assert torch.equal(layer.weight(), trits.float() * 0.5)
    x = torch.randn(4, 7)
    assert torch.allclose(layer(x), F.linear(x, trits.float() * 0.5, torch.tensor([1.0, 2.0])))
    per_group = PackedLinear.from_trits(trits[:, :6], torch.tensor([[1.0, 2.0], [3.0, 4.0]]), scheme=scheme,
                                        group_size=3)
    assert torch.equal(per_group.weight(), trits[:, :6].float() * torch.tensor([[1.0] * 3 + [2.0] * 3,
                                                                                [3.0] * 3 + [4.0] * 3]))


@pytest.mark.parametrize("call, match", [
    (lambda: PackedLinear.from_linear(nn.Conv1d(2, 2, 1), bits=4), r"linear must be a torch\.nn\.Linear, got Conv1d"),
    (lambda: PackedLinear.from_linear(nn.Linear(4, 2), bits=0), r"bits must be an int in 1\.\.8, got 0"),
    (lambda: PackedLinear.from_linear(nn.Linear(4, 2), bits=9), r"bits must be an int in 1\.\.8, got 9"),
    (lambda: PackedLinear.from_linear(nn.Linear(4, 2), bits=True), r"bits must be an int in 1\.\.8, got True"),
    (lambda: PackedLinear.from_linear(nn.Linear(6, 2), bits=4, group_size=4),
     r"group_size must be None \(one group per output row\) or a positive int dividing in_features 6, got 4"),
    (lambda: PackedLinear.from_trits(torch.zeros(2, 4, dtype=torch.int8), 1.0, scheme="uint"),
     r"scheme must be 'base3' or 'ternary2', got 'uint'"),
    (lambda: PackedLinear.from_trits(torch.zeros(2, 4, dtype=torch.int8), torch.ones(3)),
     r"scale must hold 1, 2 or 2x1 values for trits of shape \(2, 4\) and group_size 4, got shape \(3,\)"),
    (lambda: PackedLinear.from_trits(torch.zeros(4, dtype=torch.int8), 1.0),
     r"trits must be a 2-D tensor \(out_features, in_features\)"),
    (lambda: PackedLinear.from_trits(torch.full((2, 4), 2, dtype=torch.int8), 1.0), r"2"),
    (lambda: PackedLinear.from_bitlinear(nn.Linear(2, 2)), r"layer must be a BitLinear, got Linear"),
    (lambda: PackedLinear.from_linear(nn.Linear(4, 2), bits=4)(torch.ones(3)),
     r"x must be a tensor whose last dim is in_features 4, got \(3,\)"),
    (lambda: pack_model(mlp(), {"1.weight": 4}), r"bits_per_layer names '1\.weight', the weight of a ReLU"),
    (lambda: pack_model(mlp(), {"5.weight": 4}),
     r"bits_per_layer names '5\.weight', which the model does not have; its linear weights are \['0\.weight', '2\.weight'\]"),
    (lambda: pack_model(mlp(), {"0.weight": 9}), r"bits_per_layer\['0\.weight'\] must be one of \(8, 7, .*got 9"),
    (lambda: pack_model(mlp(), {"0.weight": 4.0}), r"bits_per_layer\['0\.weight'\] must be one of .*got 4\.0"),
    (lambda: pack_model(mlp(), [4, 4]), r"bits_per_layer must be a dict of weight names to widths, got \[4, 4\]"),
    (lambda: pack_model("model", {}), r"model must be a torch\.nn\.Module, got str"),
    (lambda: BitLinear(4, 2, activation_bits=1), r"activation_bits must be an int in 2\.\.16, got 1"),
])
def test_bad_input_is_refused(call, match):
    with pytest.raises(LowbitError, match=match):
        call()


def test_pack_model_follows_the_plan_and_leaves_the_model_alone():
    net = mlp()
    x = torch.randn(5, 12)
    before = net(x)
    packed = pack_model(net, {"0.weight": 8, "2.weight": "fp32"})
    assert isinstance(packed[0], PackedLinear) and packed[0].bits == 8 and type(packed[2]) is nn.Linear
    assert type(net[0]) is nn.Linear and torch.equal(net(x), before)
    assert (packed(x) - before).abs().max() < 0.05
    tern = pack_model(net, {"0.weight": "ternary", "2.weight": "ternary2"})
    assert (tern[0].scheme, tern[2].scheme) == ("base3", "ternary2")
    assert tern[0].packed.shape == (10, 3) and tern[2].packed.shape == (5, 3)


def test_bitlinear_forward_is_ternary_weights_and_8_bit_activations():
    torch.manual_seed(0)
    layer = BitLinear(6, 3)
    x = torch.randn(4, 6)
    trits, gamma = layer.ternary()
    assert set(trits.unique().tolist()) <= {-1, 0, 1} and gamma.dtype == torch.float16
    want = F.linear(quantize_activations(x), trits.float() * gamma.float(), layer.bias)
    assert torch.allclose(layer(x), want, atol=1e-6)
    # activations: per token, 8 bits, absmax
    xq = quantize_activations(x)
    step = x.abs().amax(dim=1, keepdim=True) / 127
    assert torch.allclose(torch.round(xq / step), xq / step, atol=1e-4)


def test_bitlinear_gradient_passes_straight_through():
    torch.manual_seed(0)
    layer = BitLinear(5, 2, bias=False)
    x = torch.randn(3, 5, requires_grad=True)
    layer(x).sum().backward()
    # straight through: d(sum(x_q W_q^T))/dW = sum over the batch of x_q, as if W_q were W
    assert torch.allclose(layer.weight.grad, quantize_activations(x.detach()).sum(0).expand(2, 5), atol=1e-6)
    trits, gamma = layer.ternary()
    assert torch.allclose(x.grad, (trits.float() * gamma.float()).sum(0).expand(3, 5), atol=1e-6)


def test_a_trained_bitlinear_packs_to_the_same_outputs():
    torch.manual_seed(0)
    net = nn.Sequential(BitLinear(8, 6), nn.ReLU(), BitLinear(6, 3))
    x = torch.randn(32, 8)
    packed = pack_model(net, {"0.weight": "ternary", "2.weight": "ternary2"})
    assert packed[0].activation_bits == 8
    assert torch.equal(packed(x), net(x))


def test_save_and_load_through_checkpoint_bit_for_bit(tmp_path):
    net = nn.Sequential(BitLinear(12, 10), nn.ReLU(), nn.Linear(10, 5))
    packed = pack_model(net, {"0.weight": "ternary", "2.weight": 4})
    path = tmp_path / "packed.safetensors"
    save_packed(packed, path)
    state = checkpoint.load(path)
    assert isinstance(state["0.weight"], checkpoint.QuantizedTensor) and state["0.weight"].packed.scheme == "base3"
    assert state["2.weight"].packed.bits == 4 and state["2.weight"].scale.dtype == torch.float16
    fresh = load_packed(path, nn.Sequential(BitLinear(12, 10), nn.ReLU(), nn.Linear(10, 5)))
    x = torch.randn(7, 12)
    assert isinstance(fresh[0], PackedLinear) and fresh[0].activation_bits == 8 and fresh[2].activation_bits is None
    assert torch.equal(fresh(x), packed(x))
    with pytest.raises(LowbitError, match=r"holds a packed '0\.weight' of shape \(10, 12\), but the model's '0' is ReLU"):
        load_packed(path, nn.Sequential(nn.ReLU(), nn.Linear(12, 10), nn.Linear(10, 5)))


def test_state_dict_round_trip_through_torch(tmp_path):
    layer = PackedLinear.from_linear(nn.Linear(16, 4), bits=3, group_size=8)
    other = PackedLinear.from_linear(nn.Linear(16, 4), bits=3, group_size=8)
    other.load_state_dict(layer.state_dict())
    x = torch.randn(2, 16)
    assert torch.equal(other(x), layer(x))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("bits, scheme", [(2, "uint"), (4, "uint"), (None, "ternary2")])
def test_cuda_forward_through_the_kernel_matches_the_torch_path(bits, scheme):
    torch.manual_seed(0)
    linear = nn.Linear(64, 32)
    if scheme == "uint":
        layer = PackedLinear.from_linear(linear, bits=bits, group_size=16)
    else:
        layer = PackedLinear.from_trits(torch.randint(-1, 2, (32, 64)), torch.rand(32) + 0.1, linear.bias,
                                        scheme=scheme)
    x = torch.randn(3, 64)
    want = layer(x)
    cuda = layer.to("cuda")
    assert cuda._use_kernel(x.cuda())
    assert torch.allclose(cuda(x.cuda()).cpu(), want, atol=1e-4, rtol=1e-4)
