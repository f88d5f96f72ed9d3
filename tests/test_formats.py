"""lowbit_ref.formats against the deployed projects' own code.

Expected bytes come from the projects' packages where they run on the CPU: llama.cpp's gguf-py
(``gguf.quants``, ``GGUFReader``), transformers (``integrations.bitnet``), torchao
(``prototype.dtypes.uintx.bitpacking``) and bitsandbytes (``functional.quantize_4bit``). AWQ's
and GPTQ's packages need CUDA, and HQQ's is not in the test extra, so their published packing
loops are rewritten below from their source (file, commit and lines cited at each) and checked
on worked examples first.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit_ref.errors import LowbitError
from lowbit_ref.formats import (
    AWQ_ORDER, NF4_CODE, dequantize_nf4, from_awq, from_gptq, from_gptq_zeros, from_hf_bitnet, from_hqq, from_nf4,
    from_torchao_uintx, from_tq1_0, from_tq2_0, quantize_nf4, save_gguf, to_awq, to_gptq, to_gptq_zeros, to_hf_bitnet,
    to_hqq, to_nf4, to_torchao_uintx, to_tq1_0, to_tq2_0,
)

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType, GGUFReader  # noqa: E402
from gguf.quants import dequantize, quantize  # noqa: E402

TYPES = {"TQ2_0": (to_tq2_0, from_tq2_0, 66), "TQ1_0": (to_tq1_0, from_tq1_0, 54)}


def random_blocks(shape, seed):
    """Trits with at least one nonzero per block (so ggml's block absmax is the scale) and
    positive float16-exact scales: ggml's quantize of ``trits * scales`` must give these bytes."""
    g = torch.Generator().manual_seed(seed)
    trits = torch.randint(-1, 2, shape, dtype=torch.int8, generator=g)
    trits.view(-1, 256)[:, 0] = 1
    scales = (torch.rand((*shape[:-1], shape[-1] // 256), generator=g) * 2 + 1e-3).half()
    return trits, scales


def weights_of(trits, scales):
    """``trits * scales`` as the float32 weights ggml would be handed, shape (..., blocks * 256)."""
    w = trits.float().view(*scales.shape, 256) * scales.float().unsqueeze(-1)
    return w.view(trits.shape)


# ---------------------------------------------------------------- llama.cpp TQ2_0 / TQ1_0


@pytest.mark.parametrize("qtype", sorted(TYPES))
@pytest.mark.parametrize("shape", [(256,), (3, 512), (2, 2, 768)])
def test_ternary_blocks_are_ggml_bytes(qtype, shape):
    to_fmt, from_fmt, block = TYPES[qtype]
    trits, scales = random_blocks(shape, seed=len(shape))
    ours = to_fmt(trits, scales)
    theirs = quantize(weights_of(trits, scales).numpy(), GGMLQuantizationType[qtype])
    assert ours.shape == (*shape[:-1], shape[-1] // 256 * block)
    assert np.array_equal(ours.numpy(), theirs)
    back, back_scales = from_fmt(ours)
    assert torch.equal(back, trits) and torch.equal(back_scales, scales)


@pytest.mark.parametrize("qtype", sorted(TYPES))
def test_reads_gguf_quantized_real_weights(qtype):
    """Blocks that gguf made from real-valued weights (not from trits) decode to exactly what
    gguf's own dequantize gives, including all-zero blocks and negative weights."""
    _, from_fmt, _ = TYPES[qtype]
    w = torch.randn(5, 1024, generator=torch.Generator().manual_seed(7)) * 0.02
    w[1, 256:512] = 0  # an all-zero block: scale 0
    data = quantize(w.numpy(), GGMLQuantizationType[qtype])
    trits, scales = from_fmt(torch.from_numpy(data))
    want = dequantize(data, GGMLQuantizationType[qtype])
    assert np.array_equal(weights_of(trits, scales).numpy(), want)
    assert trits.dtype == torch.int8 and scales.dtype == torch.float16
    assert (trits != 0).any() and scales[1, 1] == 0


@pytest.mark.parametrize("qtype", sorted(TYPES))
def test_dequantize_of_our_blocks_is_trits_times_scales(qtype):
    to_fmt, _, _ = TYPES[qtype]
    g = torch.Generator().manual_seed(3)
    trits = torch.randint(-1, 2, (4, 512), dtype=torch.int8, generator=g)
    trits[0, :256] = 0  # an all-zero block with any scale
    scales = torch.randn(4, 2, generator=g, dtype=torch.float64)  # negative scales and float64 too
    got = dequantize(to_fmt(trits, scales).numpy(), GGMLQuantizationType[qtype])
    assert np.array_equal(got, weights_of(trits, scales.half()).numpy())


def test_tq2_0_layout_drawing():
    """The module docstring's drawing: byte 32c + m holds elements 128c + m + 32n in bits 2n."""
    for element, (byte, shift) in [(0, (0, 0)), (32, (0, 2)), (96, (0, 6)), (1, (1, 0)), (127, (31, 6)),
                                   (128, (32, 0)), (255, (63, 6))]:
        trits = torch.zeros(256, dtype=torch.int8)
        trits[element] = 1  # field 2 among fields 1
        data = to_tq2_0(trits, torch.ones(1))
        expected = torch.full((64,), 0b01010101, dtype=torch.uint8)
        expected[byte] = 0b01010101 + (1 << shift)
        assert torch.equal(data[:64], expected), element
    assert to_tq2_0(torch.zeros(256, dtype=torch.int8), torch.tensor([1.0]))[64:].tolist() == [0, 60]  # fp16 1.0


def test_tq1_0_worked_example():
    """Byte 0 holds elements 0, 32, 64, 96, 128 (element 0 most significant); trits 1, 0, -1, -1, 1
    are digits 2, 1, 0, 0, 2 = 2*81 + 27 + 2 = 191, stored as ceil(191 * 256 / 243) = 202."""
    trits = torch.zeros(256, dtype=torch.int8)
    trits[[0, 32, 64, 96, 128]] = torch.tensor([1, 0, -1, -1, 1], dtype=torch.int8)
    data = to_tq1_0(trits, torch.ones(1))
    assert data[0].item() == math.ceil(191 * 256 / 243) == 202
    assert data[1].item() == math.ceil(121 * 256 / 243)  # five 0 trits: 11111 in base 3 = 121
    assert data[48].item() == math.ceil(120 * 256 / 243)  # qh: four 0 trits and a digit 0: 11110 = 120
    assert torch.equal(from_tq1_0(data)[0], trits)


@pytest.mark.parametrize("qtype", sorted(TYPES))
@settings(max_examples=25, deadline=None)
@given(lead=st.lists(st.integers(0, 3), max_size=2), blocks=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_round_trip_random_shapes(qtype, lead, blocks, seed):
    to_fmt, from_fmt, _ = TYPES[qtype]
    g = torch.Generator().manual_seed(seed)
    trits = torch.randint(-1, 2, (*lead, blocks * 256), dtype=torch.int8, generator=g)
    scales = torch.randn((*lead, blocks), generator=g)
    back, back_scales = from_fmt(to_fmt(trits, scales))
    assert torch.equal(back, trits) and torch.equal(back_scales, scales.half())


@pytest.mark.parametrize("qtype", sorted(TYPES))
def test_ternary_blocks_bad_input(qtype):
    to_fmt, from_fmt, block = TYPES[qtype]
    name = to_fmt.__name__
    ok = torch.zeros(2, 256, dtype=torch.int8)
    with pytest.raises(LowbitError, match=rf"{name}: trits' last dimension must be a multiple of 256 \(whole blocks\), got 100 in shape \(2, 100\)"):
        to_fmt(torch.zeros(2, 100, dtype=torch.int8), torch.ones(2, 0))
    with pytest.raises(LowbitError, match=r"trits must be -1, 0 or 1, got 2 at index \(1, 5\)"):
        bad = ok.clone()
        bad[1, 5] = 2
        to_fmt(bad, torch.ones(2, 1))
    with pytest.raises(LowbitError, match=r"trits must have a signed integer dtype .* got torch.uint8"):
        to_fmt(ok.to(torch.uint8), torch.ones(2, 1))
    with pytest.raises(LowbitError, match=rf"{name}: scales must have shape \(2, 1\) \(one per block of 256\), got \(2,\)"):
        to_fmt(ok, torch.ones(2))
    with pytest.raises(LowbitError, match=rf"{name}: scales must be a floating-point torch.Tensor of shape \(2, 1\), got torch.int64"):
        to_fmt(ok, torch.ones(2, 1, dtype=torch.int64))
    with pytest.raises(LowbitError, match=rf"{name}: scales must be finite in float16 \(\|scale\| <= 65504\), got 100000.0"):
        to_fmt(ok, torch.tensor([[1.0], [1e5]]))
    reader = from_fmt.__name__
    with pytest.raises(LowbitError, match=rf"{reader}: data must be a torch.uint8 tensor of {block}-byte blocks, got torch.int8"):
        from_fmt(torch.zeros(block, dtype=torch.int8))
    with pytest.raises(LowbitError, match=rf"{reader}: data's last dimension must be a multiple of {block} \(whole blocks\), got {block + 1}"):
        from_fmt(torch.zeros(block + 1, dtype=torch.uint8))


def test_tq2_0_refuses_field_3():
    data = to_tq2_0(torch.zeros(2, 256, dtype=torch.int8), torch.ones(2, 1))
    data[1, 33] |= 0b11000000  # element 128 + 1 + 96 of row 1
    with pytest.raises(LowbitError, match=r"from_tq2_0: data must hold 2-bit fields 0, 1, 2 \(trit \+ 1\), got field 3 in byte 33 of block \(1, 0\)"):
        from_tq2_0(data)


# ---------------------------------------------------------------- GGUF files


@pytest.mark.parametrize("qtype", sorted(TYPES))
def test_save_gguf_reads_back_with_gguf_reader(tmp_path, qtype):
    tensors = {
        "blk.0.ffn_up.weight": random_blocks((6, 512), seed=1),
        "blk.0.ffn_down.weight": random_blocks((3, 256), seed=2),
        "output.weight": random_blocks((2, 2, 256), seed=3),
        "vector": random_blocks((768,), seed=4),
    }
    path = save_gguf(tmp_path / "model.gguf", tensors, ternary_type=qtype)
    reader = GGUFReader(path)
    assert [t.name for t in reader.tensors] == list(tensors)
    assert reader.fields["general.architecture"].contents() == "lowbit"
    for tensor in reader.tensors:
        trits, scales = tensors[tensor.name]
        assert tensor.tensor_type == GGMLQuantizationType[qtype]
        assert list(tensor.shape) == list(reversed(trits.shape))  # GGUF lists the innermost dimension first
        got = dequantize(tensor.data, tensor.tensor_type)
        assert got.shape == tuple(trits.shape)
        assert np.array_equal(got, weights_of(trits, scales).numpy()), tensor.name
        back = TYPES[qtype][1](torch.from_numpy(np.array(tensor.data)).reshape(*trits.shape[:-1], -1))
        assert torch.equal(back[0], trits) and torch.equal(back[1], scales)


def test_save_gguf_never_overwrites_without_asking(tmp_path):
    path = tmp_path / "mine.gguf"
    path.write_bytes(b"my own work")
    tensors = {"w": random_blocks((1, 256), seed=0)}
    with pytest.raises(LowbitError, match=r"save_gguf: '.*mine.gguf' already exists; pass overwrite=True to replace it"):
        save_gguf(path, tensors)
    assert path.read_bytes() == b"my own work"
    save_gguf(path, tensors, overwrite=True)
    assert len(GGUFReader(path).tensors) == 1


def test_save_gguf_bad_input_writes_nothing(tmp_path):
    path = tmp_path / "x.gguf"
    good = random_blocks((1, 256), seed=0)
    with pytest.raises(LowbitError, match=r"save_gguf: ternary_type must be one of \['TQ1_0', 'TQ2_0'\], got 'Q4_0'"):
        save_gguf(path, {"w": good}, ternary_type="Q4_0")
    with pytest.raises(LowbitError, match=r"save_gguf: tensors must be a non-empty mapping name -> \(trits, scales\), got \{\}"):
        save_gguf(path, {})
    with pytest.raises(LowbitError, match=r"save_gguf: tensor names must be strings of 1..63 UTF-8 bytes \(GGML_MAX_NAME\), got 'x{64}'"):
        save_gguf(path, {"x" * 64: good})
    with pytest.raises(LowbitError, match=r"save_gguf: tensors\['w'\] must be a \(trits, scales\) pair, got"):
        save_gguf(path, {"w": good[0]})
    with pytest.raises(LowbitError, match=r"save_gguf: tensors\['b'\]: to_tq2_0: scales must have shape \(1, 1\)"):
        save_gguf(path, {"a": good, "b": (good[0], torch.ones(3))})
    with pytest.raises(LowbitError, match=r"save_gguf: tensors\['w'\] trits must have 1 to 4 dimensions, got shape \(1, 1, 1, 1, 256\)"):
        save_gguf(path, {"w": (good[0].view(1, 1, 1, 1, 256), good[1].view(1, 1, 1, 1, 1))})
    with pytest.raises(LowbitError, match=r"save_gguf: path must be a str or os.PathLike, got int"):
        save_gguf(3, {"w": good})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- Hugging Face BitNet

bitnet = pytest.importorskip("transformers.integrations.bitnet")
# transformers wraps unpack_weights in torch.compile, which compiles once per shape (a minute on a
# busy 2-core machine): the test calls the same Python function without the compiler.
hf_unpack_weights = getattr(bitnet.unpack_weights, "_torchdynamo_orig_callable", bitnet.unpack_weights)


@pytest.mark.parametrize("shape", [(4, 3), (5, 2), (6, 7), (9, 1), (1, 4), (16, 16), (7,), (10, 3, 2)])
def test_hf_bitnet_is_transformers_bytes(shape):
    trits = torch.randint(-1, 2, shape, dtype=torch.int8, generator=torch.Generator().manual_seed(shape[0]))
    before = trits.clone()
    ours = to_hf_bitnet(trits)
    theirs = bitnet.pack_weights(trits.clone())  # transformers adds 1 to its argument in place
    assert torch.equal(trits, before), "to_hf_bitnet changed its input"
    assert torch.equal(ours, theirs)
    assert torch.equal(from_hf_bitnet(ours, shape[0]), trits)
    unpacked = hf_unpack_weights(ours, torch.float32)[: shape[0]]
    assert torch.equal(unpacked, trits.float())


def test_hf_bitnet_worked_example():
    """out = 5: R = 2 packed rows; row r holds weights r, 2 + r, 4 + r in bits 0, 2, 4; the
    missing weight 6 + r is field 0 (bits 7-6 stay 0), as transformers leaves it."""
    w = torch.tensor([1, -1, 0, 1, -1], dtype=torch.int8).view(5, 1)
    # row 0: w0 + 1 = 2, w2 + 1 = 1, w4 + 1 = 0 -> 2 | 1 << 2 | 0 << 4 = 6
    # row 1: w1 + 1 = 0, w3 + 1 = 2            -> 0 | 2 << 2         = 8
    assert to_hf_bitnet(w).flatten().tolist() == [6, 8]
    assert from_hf_bitnet(torch.tensor([[6], [8]], dtype=torch.uint8), 5).flatten().tolist() == [1, -1, 0, 1, -1]


@settings(max_examples=25, deadline=None)
@given(out=st.integers(1, 40), cols=st.integers(0, 5), seed=st.integers(0, 2**16))
def test_hf_bitnet_round_trip(out, cols, seed):
    trits = torch.randint(-1, 2, (out, cols), dtype=torch.int8, generator=torch.Generator().manual_seed(seed))
    packed = to_hf_bitnet(trits)
    assert packed.shape == (math.ceil(out / 4), cols)
    assert torch.equal(from_hf_bitnet(packed, out), trits)


def test_hf_bitnet_bad_input():
    with pytest.raises(LowbitError, match=r"trits must be -1, 0 or 1, got 3 at index \(1,\)"):
        to_hf_bitnet(torch.tensor([0, 3], dtype=torch.int8))
    with pytest.raises(LowbitError, match=r"to_hf_bitnet: trits must have at least 1 dimension \(out, ...\), got a 0-d tensor"):
        to_hf_bitnet(torch.tensor(1, dtype=torch.int8))
    packed = torch.zeros(2, 3, dtype=torch.uint8)
    with pytest.raises(LowbitError, match=r"from_hf_bitnet: out_features must be an int in 5..8 for 2 packed rows, got 9"):
        from_hf_bitnet(packed, 9)
    with pytest.raises(LowbitError, match=r"from_hf_bitnet: packed must be a torch.uint8 tensor with at least 1 dimension, got torch.int32 with shape \(2, 3\)"):
        from_hf_bitnet(packed.int(), 8)
    packed[1, 2] = 0b00110000  # weight 2R + 1 = 5, column 2
    with pytest.raises(LowbitError, match=r"from_hf_bitnet: packed must hold 2-bit fields 0, 1, 2 \(trit \+ 1\), got 3 for weight \[5, 2\]"):
        from_hf_bitnet(packed, 8)


# ---------------------------------------------------------------- AWQ, reimplemented from its source


def awq_pack_reference(intweight):
    """AutoAWQ's packing loop, rewritten from casper-hansen/AutoAWQ awq/modules/linear/gemm.py,
    ``WQLinear_GEMM.from_linear`` (commit 030fe2a, lines ~106-113 for qweight, ~123-130 for
    qzeros, the same loop): for each word ``col`` and nibble i, OR column ``col*8 + order_map[i]``
    shifted by ``4*i`` into an int32 word, ``order_map = [0, 2, 4, 6, 1, 3, 5, 7]``."""
    order_map = [0, 2, 4, 6, 1, 3, 5, 7]
    intweight = intweight.to(torch.int32)
    qweight = torch.zeros((intweight.shape[0], intweight.shape[1] // 8), dtype=torch.int32)
    for col in range(intweight.shape[1] // 8):
        for i in range(8):
            qweight[:, col] |= intweight[:, col * 8 + order_map[i]] << (i * 4)
    return qweight


def test_awq_worked_example():
    codes = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])  # columns 0..7
    # nibbles from bit 0 up hold columns 0, 2, 4, 6, 1, 3, 5, 7: values 1, 3, 5, 7, 2, 4, 6, 8
    assert awq_pack_reference(codes).item() == 0x86427531 - 2**32
    assert to_awq(codes).item() == 0x86427531 - 2**32
    assert from_awq(to_awq(codes)).tolist() == [[1, 2, 3, 4, 5, 6, 7, 8]]
    assert AWQ_ORDER == (0, 2, 4, 6, 1, 3, 5, 7)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(0, 6), words=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_awq_matches_reference_and_round_trips(rows, words, seed):
    codes = torch.randint(0, 16, (rows, 8 * words), generator=torch.Generator().manual_seed(seed))
    packed = to_awq(codes)
    assert torch.equal(packed, awq_pack_reference(codes))
    assert torch.equal(from_awq(packed), codes.to(torch.uint8))


def test_awq_bad_input():
    with pytest.raises(LowbitError, match=r"to_awq: codes must be in 0..15 \(4 bits\), got 16"):
        to_awq(torch.tensor([[0, 16, 0, 0, 0, 0, 0, 0]]))
    with pytest.raises(LowbitError, match=r"to_awq: codes.shape\[1\] \(columns\) must be a multiple of 8, got 6"):
        to_awq(torch.zeros(2, 6, dtype=torch.uint8))
    with pytest.raises(LowbitError, match=r"to_awq: codes must have 2 dimensions, got shape \(8,\)"):
        to_awq(torch.zeros(8, dtype=torch.uint8))
    with pytest.raises(LowbitError, match=r"to_awq: codes must be an integer torch.Tensor of 0..15, got torch.float32"):
        to_awq(torch.zeros(1, 8))
    with pytest.raises(LowbitError, match=r"from_awq: words must be a 2-D torch.int32 tensor, got torch.int64 with shape \(1, 1\)"):
        from_awq(torch.zeros(1, 1, dtype=torch.int64))


# ---------------------------------------------------------------- GPTQ, reimplemented from its source


def gptq_pack_reference(intweight, zeros, bits):
    """AutoGPTQ's packing loops, rewritten from AutoGPTQ/AutoGPTQ
    auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py, ``QuantLinear.pack`` (commit 179776b, the
    ``while row < qweight.shape[0]`` loop for 2/4/8 bits and the ``zeros -= 1`` /
    ``while col < qzeros.shape[1]`` loop after it): 32 // bits consecutive input rows per uint32
    word, row ``i + j`` at bits ``bits * j``; zero points minus one, 32 // bits consecutive columns
    per word; both then viewed as int32."""
    intweight = intweight.numpy().astype(np.uint32)
    per = 32 // bits
    qweight = np.zeros((intweight.shape[0] // per, intweight.shape[1]), dtype=np.uint32)
    i = row = 0
    while row < qweight.shape[0]:
        for j in range(i, i + per):
            qweight[row] |= intweight[j] << (bits * (j - i))
        i += per
        row += 1
    zeros = (zeros - 1).numpy().astype(np.uint32)
    qzeros = np.zeros((zeros.shape[0], zeros.shape[1] // per), dtype=np.uint32)
    i = col = 0
    while col < qzeros.shape[1]:
        for j in range(i, i + per):
            qzeros[:, col] |= zeros[:, j] << (bits * (j - i))
        i += per
        col += 1
    return torch.from_numpy(qweight.astype(np.int32)), torch.from_numpy(qzeros.astype(np.int32))


def test_gptq_worked_example():
    codes = torch.arange(16).view(8, 2)  # rows 0..7 of two columns: column 0 is 0, 2, ..., 14
    qweight, qzeros = gptq_pack_reference(codes, torch.full((1, 8), 8), 4)
    # column 0: rows 0..7 = 0, 2, 4, 6, 8, 10, 12, 14 from the low nibble up
    assert qweight[0, 0].item() == 0xECA86420 - 2**32
    assert torch.equal(to_gptq(codes), qweight)
    assert qzeros.item() == 0x77777777  # zero point 8 is stored as 7
    assert torch.equal(to_gptq_zeros(torch.full((1, 8), 8)), qzeros)


@pytest.mark.parametrize("bits", [2, 4, 8])
@settings(max_examples=15, deadline=None)
@given(words=st.integers(1, 3), cols=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_gptq_matches_reference_and_round_trips(bits, words, cols, seed):
    per = 32 // bits
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 2**bits, (per * words, per * cols), generator=g)
    zeros = torch.randint(1, 2**bits, (2, per * cols), generator=g)
    qweight, qzeros = gptq_pack_reference(codes, zeros, bits)
    assert torch.equal(to_gptq(codes, bits), qweight)
    assert torch.equal(to_gptq_zeros(zeros, bits), qzeros)
    assert torch.equal(from_gptq(qweight, bits), codes.to(torch.uint8))
    assert torch.equal(from_gptq_zeros(qzeros, bits).long(), zeros)


def test_gptq_bad_input():
    with pytest.raises(LowbitError, match=r"to_gptq: bits must be 2, 4 or 8, got 3"):
        to_gptq(torch.zeros(32, 1, dtype=torch.uint8), 3)
    with pytest.raises(LowbitError, match=r"to_gptq: codes.shape\[0\] \(rows\) at 4 bits must be a multiple of 8, got 12"):
        to_gptq(torch.zeros(12, 1, dtype=torch.uint8))
    with pytest.raises(LowbitError, match=r"to_gptq_zeros: zeros must be in 1..15 \(GPTQ stores zero - 1\), got 0"):
        to_gptq_zeros(torch.zeros(1, 8, dtype=torch.uint8))
    with pytest.raises(LowbitError, match=r"from_gptq: words must be a 2-D torch.int32 tensor, got torch.uint8 with shape \(3,\)"):
        from_gptq(torch.zeros(3, dtype=torch.uint8))


# ---------------------------------------------------------------- bitsandbytes NF4

bnb = pytest.importorskip("bitsandbytes")


@pytest.mark.parametrize("shape", [(4, 64), (3, 128), (64,), (2, 2, 96)])
def test_nf4_is_bitsandbytes_bytes(shape):
    w = torch.randn(shape, generator=torch.Generator().manual_seed(11))
    theirs, state = bnb.functional.quantize_4bit(w, blocksize=64, quant_type="nf4")
    ours, absmax = quantize_nf4(w, 64)
    assert torch.equal(ours, theirs.flatten())
    assert torch.equal(absmax, state.absmax.float())
    if len(shape) <= 2:
        # bitsandbytes 0.50.2's CPU dequantize_4bit misreads the (2, 2, 96) tensor (errors up to
        # 0.64 against a quantization error of 0.42 elsewhere) though its bytes and absmax agree
        # with ours, so its dequantize is the reference for 1-D and 2-D weights only.
        back = bnb.functional.dequantize_4bit(theirs, state)
        assert torch.equal(dequantize_nf4(ours, absmax, shape).flatten(), back.flatten())
    assert torch.equal(torch.tensor(NF4_CODE), state.code.float().cpu()[: len(NF4_CODE)])


def test_nf4_order_is_msb_order():
    from lowbit_ref import pack

    codes = torch.randint(0, 16, (10, 6), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    assert torch.equal(to_nf4(codes), pack(codes.flatten(), 4, order="msb").data)
    assert torch.equal(from_nf4(to_nf4(codes)).view(10, 6), codes)
    assert to_nf4(torch.tensor([1, 2, 15, 0])).tolist() == [0x12, 0xF0]


def test_nf4_bad_input():
    with pytest.raises(LowbitError, match=r"to_nf4: codes.numel\(\) must be a multiple of 2, got 3"):
        to_nf4(torch.zeros(3, dtype=torch.uint8))
    with pytest.raises(LowbitError, match=r"quantize_nf4: weights.numel\(\) at blocksize 64 must be a multiple of 64, got 10"):
        quantize_nf4(torch.zeros(10))
    with pytest.raises(LowbitError, match=r"dequantize_nf4: 2 bytes \(4 codes\) and 1 absmax values do not make shape \(5,\) in blocks of 4"):
        dequantize_nf4(torch.zeros(2, dtype=torch.uint8), torch.ones(1), (5,), 4)
    with pytest.raises(LowbitError, match=r"from_nf4: data must be a torch.uint8 tensor, got torch.int32"):
        from_nf4(torch.zeros(2, dtype=torch.int32))


# ---------------------------------------------------------------- torchao uintx

bitpacking = pytest.importorskip("torchao.prototype.dtypes.uintx.bitpacking")


@pytest.mark.parametrize("bits", range(1, 8))
@pytest.mark.parametrize("shape, dim", [((16,), -1), ((3, 8), 1), ((8, 5), 0), ((2, 24, 3), 1)])
def test_torchao_uintx_is_torchao_bytes(bits, shape, dim):
    codes = torch.randint(0, 2**bits, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(bits))
    theirs = bitpacking.pack(codes, bits, dim)
    ours = to_torchao_uintx(codes, bits, dim)
    assert len(ours) == len(theirs)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert torch.equal(from_torchao_uintx(ours, bits, dim), codes)
    assert torch.equal(bitpacking.unpack(list(ours), bits, dim), codes)


def test_torchao_uintx_bad_input():
    with pytest.raises(LowbitError, match=r"to_torchao_uintx: codes.shape\[-1\] must be a multiple of 8, got 6"):
        to_torchao_uintx(torch.zeros(6, dtype=torch.uint8), 2)
    with pytest.raises(LowbitError, match=r"to_torchao_uintx: bits must be in 1..7, got 8"):
        to_torchao_uintx(torch.zeros(8, dtype=torch.uint8), 8)
    with pytest.raises(LowbitError, match=r"from_torchao_uintx: shards must be 2 uint8 tensor\(s\) for 3 bits \(planes of \[2, 1\] bits\)"):
        from_torchao_uintx((torch.zeros(2, dtype=torch.uint8),), 3)


# ---------------------------------------------------------------- HQQ, reimplemented from its source


def hqq_pack_reference(w, bits):
    """HQQ's BitPack, rewritten from mobiusml/hqq hqq/core/bitpack.py (commit 0dbf39a):
    ``pack_4bit_u8`` (lines ~24-27), ``pack_2bit_u8`` (~45-48) and ``pack_3bit_32`` (~68-73):
    dim 0 cut into 8 / bits (3 bits: 10, after zero padding to a multiple of 10) equal slices,
    the first slice shifted highest."""
    if bits == 4:
        step = len(w) // 2
        return (w[:step] << 4 | w[step:]).to(torch.uint8)
    if bits == 2:
        step = len(w) // 4
        return (w[:step] << 6 | w[step : 2 * step] << 4 | w[2 * step : 3 * step] << 2 | w[3 * step :]).to(torch.uint8)
    padded = torch.zeros((10 * math.ceil(w.shape[0] / 10), *w.shape[1:]), dtype=torch.int32)
    padded[: len(w)] = w
    step = len(padded) // 10
    out = torch.zeros_like(padded[:step])
    for k in range(10):
        out |= padded[k * step : (k + 1) * step] << (27 - 3 * k)
    return out


def test_hqq_worked_example():
    w = torch.tensor([[1], [2], [3], [0]])  # 2 bits: rows 0..3 from the high bits down
    assert to_hqq(w, 2).tolist() == [[0b01101100]] == hqq_pack_reference(w, 2).tolist()


@pytest.mark.parametrize("bits", [2, 3, 4])
@pytest.mark.parametrize("rows", [8, 16, 24, 40])
def test_hqq_matches_reference_and_round_trips(bits, rows):
    w = torch.randint(0, 2**bits, (rows, 5), generator=torch.Generator().manual_seed(rows))
    packed = to_hqq(w, bits)
    assert torch.equal(packed, hqq_pack_reference(w, bits))
    assert torch.equal(from_hqq(packed, bits)[:rows], w.to(torch.uint8))


def test_hqq_bad_input():
    with pytest.raises(LowbitError, match=r"to_hqq: codes.shape\[0\] at 4 bits must be a multiple of 2, got 3"):
        to_hqq(torch.zeros(3, 2, dtype=torch.uint8), 4)
    with pytest.raises(LowbitError, match=r"from_hqq: packed must be a torch.int32 tensor with at least 1 dimension at 3 bits, got torch.uint8"):
        from_hqq(torch.zeros(2, 2, dtype=torch.uint8), 3)
    with pytest.raises(LowbitError, match=r"to_hqq: bits must be 1, 2, 3 or 4, got 5"):
        to_hqq(torch.zeros(8, dtype=torch.uint8), 5)


# ---------------------------------------------------------------- benchmark rows


def test_bench_rows_check_and_time_every_decoder():
    from lowbit_ref import bench_formats

    rows = bench_formats.run(log2_size=9, repeat=1)
    assert [(r.format, r.impl) for r in rows] == [
        (f, impl) for f in ("tq2_0", "tq1_0") for impl in ("lowbit_ref", "lowbit_ref float32", "gguf (numpy)")
    ]
    assert all(r.values == 512 and r.seconds > 0 and r.floor_seconds > 0 for r in rows)
    assert rows[0].bytes_moved == 2 * 66 + 512 + 2 * 2 and rows[1].bytes_moved == 2 * 66 + 4 * 512
    with pytest.raises(LowbitError, match=r"formats must be some of \('tq2_0', 'tq1_0'\), got \['q4_0'\]"):
        bench_formats.run(log2_size=9, formats=("q4_0",))
    with pytest.raises(LowbitError, match=r"log2_size must be at least 8 \(whole 256-value blocks\), got 4"):
        bench_formats.run(log2_size=4)


@pytest.mark.parametrize("call, message", [
    (lambda: from_gptq(torch.zeros(1, 1, dtype=torch.int32), 3), r"from_gptq: bits must be 2, 4 or 8, got 3"),
    (lambda: to_gptq_zeros(torch.ones(1, 8), 5), r"to_gptq_zeros: bits must be 2, 4 or 8, got 5"),
    (lambda: from_gptq_zeros(torch.zeros(1, 1, dtype=torch.int32), 1), r"from_gptq_zeros: bits must be 2, 4 or 8, got 1"),
    (lambda: to_gptq_zeros(torch.ones(1, 6, dtype=torch.uint8)), r"to_gptq_zeros: zeros.shape\[1\] \(columns\) at 4 bits must be a multiple of 8, got 6"),
    (lambda: quantize_nf4([1.0]), r"quantize_nf4: weights must be a floating-point torch.Tensor, got list"),
    (lambda: quantize_nf4(torch.zeros(64), 3), r"quantize_nf4: blocksize must be an even int >= 2, got 3"),
    (lambda: to_torchao_uintx(torch.zeros(8, dtype=torch.uint8), 2, dim=1), r"to_torchao_uintx: dim must be in -1..0, got 1"),
    (lambda: to_torchao_uintx(torch.full((8,), 4), 2), r"to_torchao_uintx: codes must be in 0..3 \(2 bits\), got 4"),
    (lambda: from_torchao_uintx((torch.zeros(2, dtype=torch.uint8),), 9), r"from_torchao_uintx: bits must be in 1..7, got 9"),
    (lambda: from_hqq(torch.zeros(2, dtype=torch.uint8), 6), r"from_hqq: bits must be 1, 2, 3 or 4, got 6"),
    (lambda: to_hqq(torch.tensor(1), 2), r"to_hqq: codes must have at least 1 dimension, got a 0-d tensor"),
    (lambda: to_hqq(torch.full((4,), -1), 2), r"to_hqq: codes must be in 0..3 \(2 bits\), got -1"),
    (lambda: save_gguf("/nonexistent-dir/x.gguf", [("w", None)]), r"save_gguf: tensors must be a non-empty mapping name -> \(trits, scales\), got \[\('w', None\)\]"),
])
def test_other_bad_input_messages(call, message):
    with pytest.raises(LowbitError, match=message):
        call()
