"""lowbit_ref.checkpoint (lesson 05): mixed-bitwidth safetensors checkpoints, and the ResNet-50 table (the quantization records are tested in test_quantize.py)."""

import inspect
import json
import os
import struct
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from lowbit_ref import LowbitError, checkpoint, resnet
from lowbit_ref.checkpoint import (
    METADATA_KEY,
    QuantizedTensor,
    dequantize,
    load,
    load_model,
    quantize_trits,
    quantize_uint,
    save,
    save_model,
    size_report,
)
from lowbit_ref.uintx import pack, unpack

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- helpers


def header_of(path):
    """The safetensors header, read independently of the module under test."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)), 8 + n


def layout_of(path):
    header, _ = header_of(path)
    return json.loads(header["__metadata__"][METADATA_KEY])


def rewrite(path, edit_layout=None, edit_tensors=None):
    """Rewrite a checkpoint with its layout and/or tensors edited (checksums left as they were)."""
    header, _ = header_of(path)
    tensors = load_file(path)
    layout = json.loads(header["__metadata__"][METADATA_KEY])
    if edit_layout:
        edit_layout(layout)
    if edit_tensors:
        edit_tensors(tensors)
    os.remove(path)
    save_file(tensors, path, metadata={METADATA_KEY: json.dumps(layout)})


def assert_same(got, want):
    assert got.keys() == want.keys()
    for name, w in want.items():
        g = got[name]
        if isinstance(w, torch.Tensor):
            assert isinstance(g, torch.Tensor) and g.dtype == w.dtype and g.shape == w.shape, name
            assert torch.equal(g.cpu(), w.cpu()), name
            continue
        assert isinstance(g, QuantizedTensor), name
        gp, wp = g.packed, w.packed
        assert (gp.scheme, gp.bits, gp.shape, gp.dim, gp.order, gp.dtype) == (
            wp.scheme, wp.bits, wp.shape, wp.dim, wp.order, wp.dtype), name
        assert torch.equal(gp.data.cpu(), wp.data.cpu()), name
        assert g.group_size == w.group_size, name
        for part in ("scale", "zero_point"):
            a, b = getattr(g, part), getattr(w, part)
            assert (a is None) == (b is None), (name, part)
            if b is not None:
                assert a.dtype == b.dtype and torch.equal(a.cpu(), b.cpu()), (name, part)


def mixed_state(device):
    gen = torch.Generator().manual_seed(0)
    state = {}
    for bits in range(1, 9):  # every width; odd lengths so the last byte is padding
        codes = torch.randint(0, 2**bits, (3, 11), generator=gen, dtype=torch.uint8).to(device)
        state[f"codes{bits}"] = QuantizedTensor(pack(codes, bits))
    state["msb_dim0"] = QuantizedTensor(pack(torch.randint(0, 8, (7, 2), generator=gen, dtype=torch.uint8)
                                             .to(device), 3, dim=0, order="msb"))
    w = torch.randn(4, 3, 3, 3, generator=gen).to(device)
    state["conv.per_tensor"] = quantize_uint(w, 5)
    state["conv.per_channel"] = quantize_uint(w, 4, group_size=27)
    state["conv.groups_of_3"] = quantize_uint(w, 2, group_size=3)
    state["fc.ternary2"] = quantize_trits(torch.randn(5, 10, generator=gen).to(device), scheme="ternary2")
    state["fc.base3"] = quantize_trits(torch.randn(5, 10, generator=gen).to(device), scheme="base3", group_size=10)
    state["bn.weight"] = torch.randn(4, generator=gen).to(device)
    state["half"] = torch.randn(2, 3, generator=gen).half().to(device)
    state["bf16"] = torch.randn(3, generator=gen).bfloat16().to(device)
    state["steps"] = torch.tensor(7, dtype=torch.int64, device=device)  # 0-d, as num_batches_tracked
    state["mask"] = torch.tensor([True, False], device=device)
    state["empty"] = torch.zeros(0, 3, device=device)
    state["scalar.uint"] = quantize_uint(torch.tensor(2.5, device=device), 3)  # 0-d: one value, one byte
    state["scalar.base3"] = quantize_trits(torch.tensor(-0.7, device=device), scheme="base3")
    return state


# ---------------------------------------------------------------- save / load round trips


def test_mixed_round_trip(tmp_path, device):
    state = mixed_state(device)
    path = tmp_path / "mixed.safetensors"
    save(path, state)
    got = load(path, device=device)
    assert_same(got, state)
    for name, value in got.items():
        t = value if isinstance(value, torch.Tensor) else value.packed.data
        assert t.device.type == device.type, name
        if isinstance(value, QuantizedTensor):
            assert torch.equal(unpack(value.packed), unpack(state[name].packed)), name
            if value.scale is not None:
                assert torch.equal(dequantize(value), dequantize(state[name])), name


def test_empty_state_round_trip(tmp_path):
    save(tmp_path / "empty.safetensors", {})
    assert load(tmp_path / "empty.safetensors") == {}


def test_load_moves_to_the_requested_device(tmp_path, device):
    path = tmp_path / "m.safetensors"
    save(path, {"w": quantize_uint(torch.randn(2, 8), 3, group_size=8)})
    q = load(path, device=device)["w"]
    assert q.packed.device.type == q.scale.device.type == q.zero_point.device.type == device.type


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    bits=st.integers(1, 8),
    dim_seed=st.integers(0, 2),
    order=st.sampled_from(["lsb", "msb"]),
    seed=st.integers(0, 2**16),
)
def test_round_trip_property(tmp_path_factory, shape, bits, dim_seed, order, seed):
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 2**bits, shape, generator=gen, dtype=torch.uint8)
    dim = dim_seed % len(shape)
    w = torch.randn(shape, generator=gen)
    state = {"codes": QuantizedTensor(pack(codes, bits, dim=dim, order=order)),
             "q": quantize_uint(w, bits, group_size=shape[-1]),
             "t": quantize_trits(w, scheme="base3" if seed % 2 else "ternary2"),
             "plain": w}
    path = tmp_path_factory.mktemp("prop") / "p.safetensors"
    save(path, state)
    got = load(path)
    assert_same(got, state)
    assert torch.equal(unpack(got["codes"].packed), codes)


def test_layout_drawing_in_docstring_is_what_is_written(tmp_path):
    # The module docstring draws the header; pin its keys and one entry exactly.
    path = tmp_path / "drawn.safetensors"
    save(path, {"conv1.weight": quantize_uint(torch.randn(64, 3, 7, 7), 4, group_size=147),
                "fc.bias": torch.zeros(1000)})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert set(header) == {"__metadata__", "conv1.weight::packed", "conv1.weight::scale",
                           "conv1.weight::zero_point", "fc.bias"}
    assert set(header["__metadata__"]) == {METADATA_KEY}
    assert header["conv1.weight::packed"]["dtype"] == "U8" and header["conv1.weight::packed"]["shape"] == [64, 3, 7, 4]
    assert header["conv1.weight::scale"]["dtype"] == "F16" and header["conv1.weight::zero_point"]["dtype"] == "U8"
    layout = json.loads(header["__metadata__"][METADATA_KEY])
    assert (layout["format"], layout["version"]) == ("lowbit_ref.checkpoint", 2)
    conv = dict(layout["tensors"]["conv1.weight"])
    assert len(conv.pop("sha256")) == 64
    assert conv == {"kind": "quantized", "scheme": "uint", "bits": 4, "order": "lsb", "dim": 3,
                    "shape": [64, 3, 7, 7], "dtype": "uint8", "group_size": 147,
                    "stored": {"packed": "conv1.weight::packed", "scale": "conv1.weight::scale",
                               "zero_point": "conv1.weight::zero_point"}}
    bias = dict(layout["tensors"]["fc.bias"])
    bias.pop("sha256")
    assert bias == {"kind": "plain", "shape": [1000], "dtype": "float32", "stored": {"data": "fc.bias"}}
    for line in ('"conv1.weight::packed":', '"fc.bias":', '"kind": "quantized"', '"group_size": 147'):
        assert line in checkpoint.__doc__


def test_no_pickle_in_the_file(tmp_path):
    path = tmp_path / "m.safetensors"
    save(path, mixed_state("cpu"))
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert raw[8:9] == b"{" and json.loads(raw[8:8 + n])  # a length, JSON, then bytes: no pickle stream
    from lowbit_ref import quantize
    from lowbit_ref.checkpoint import format, model, report

    for module in (checkpoint, format, model, report, quantize):
        source = inspect.getsource(module)
        assert "import pickle" not in source and "torch.load" not in source, module.__name__


# ---------------------------------------------------------------- overwrite and atomic write


def test_overwrite_is_refused_and_the_old_file_kept(tmp_path):
    path = tmp_path / "m.safetensors"
    save(path, {"a": torch.ones(3)})
    before = path.read_bytes()
    with pytest.raises(LowbitError, match=r"m\.safetensors already exists; pass overwrite=True to replace it"):
        save(path, {"a": torch.zeros(3)})
    assert path.read_bytes() == before
    save(path, {"a": torch.zeros(3)}, overwrite=True)
    assert torch.equal(load(path)["a"], torch.zeros(3))
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind


def test_a_failed_save_leaves_nothing_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save(path, {"a": torch.ones(3)})
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.format, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save(path, {"a": torch.zeros(3)}, overwrite=True)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


@pytest.mark.parametrize(
    "state, match",
    [({"a": [1, 2]}, r"state\['a'\] must be a QuantizedTensor or a torch\.Tensor, got list"),
     ({"a": torch.zeros(2, dtype=torch.complex64)}, r"state\['a'\] data has dtype torch\.complex64"),
     ({"a": quantize_uint(torch.randn(4), 2), "a::packed": torch.zeros(1)},
      r"state\['a::packed'\] would be stored as 'a::packed', a name another entry already uses"),
     ({"": torch.zeros(1)}, r"state names must be non-empty strings other than '__metadata__' .*, got ''"),
     ({"__metadata__": torch.zeros(1)}, r"state names must be non-empty strings .*got '__metadata__'"),
     ([("a", torch.zeros(1))], r"state must be a mapping of names to tensors, got list")],
)
def test_save_refusals(tmp_path, state, match):
    with pytest.raises(LowbitError, match=match):
        save(tmp_path / "x.safetensors", state)
    assert os.listdir(tmp_path) == []


def test_save_refuses_a_missing_directory_and_a_directory(tmp_path):
    with pytest.raises(LowbitError, match=r"directory .*nowhere does not exist"):
        save(tmp_path / "nowhere" / "x.safetensors", {})
    with pytest.raises(LowbitError, match=r"path must be a file, got the directory"):
        save(tmp_path, {}, overwrite=True)


# ---------------------------------------------------------------- refusals on load


def saved(tmp_path, name="m.safetensors"):
    path = tmp_path / name
    state = {"layer1.conv.weight": quantize_uint(torch.randn(8, 16), 4, group_size=16),
             "layer1.bn.bias": torch.randn(8),
             "fc.weight": quantize_trits(torch.randn(4, 10), scheme="base3")}
    save(path, state)
    return path


def owner(key):
    return key.split("::")[0]


def test_truncated_file_names_the_tensor(tmp_path):
    path = saved(tmp_path)
    header, start = header_of(path)
    last = max((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][1])
    raw = path.read_bytes()
    path.write_bytes(raw[:-3])
    with pytest.raises(LowbitError, match=rf"tensor '{owner(last)}' in .*m\.safetensors: the file is truncated"):
        load(path)


def test_file_cut_inside_its_header_is_refused(tmp_path):
    path = saved(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(LowbitError, match=r"m\.safetensors is not a lowbit checkpoint: not a safetensors file"):
        load(path)


@pytest.mark.parametrize("key", ["layer1.conv.weight::packed", "layer1.conv.weight::scale",
                                 "layer1.conv.weight::zero_point", "layer1.bn.bias", "fc.weight::packed"])
def test_flipped_byte_fails_the_checksum_of_its_tensor(tmp_path, key):
    path = saved(tmp_path)
    header, start = header_of(path)
    begin, end = header[key]["data_offsets"]
    raw = bytearray(path.read_bytes())
    raw[start + (begin + end) // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(LowbitError, match=rf"tensor '{owner(key)}' in .*m\.safetensors: checksum mismatch"):
        load(path)


def test_edited_metadata_fails_the_checksum(tmp_path):
    path = saved(tmp_path)
    rewrite(path, lambda layout: layout["tensors"]["fc.weight"].update(order="msb"))
    with pytest.raises(LowbitError, match=r"tensor 'fc\.weight' in .*: checksum mismatch"):
        load(path)


def test_reshaped_scale_fails_the_checksum(tmp_path):
    # Same bytes, same count, another shape: only the checksum (which covers shapes) sees it.
    path = saved(tmp_path)
    key = "layer1.conv.weight::scale"
    rewrite(path, edit_tensors=lambda tensors: tensors.update({key: tensors[key].reshape(2, 4).contiguous()}))
    with pytest.raises(LowbitError, match=r"tensor 'layer1\.conv\.weight' in .*: checksum mismatch"):
        load(path)


def test_unknown_version_is_refused(tmp_path):
    path = saved(tmp_path)
    for version in (3, 0, "2", True):
        rewrite(path, lambda layout: layout.update(version=version))
        with pytest.raises(LowbitError, match=r"m\.safetensors: checkpoint format version .* is not supported; "
                                              r"this library reads versions 1, 2"):
            load(path)


def test_other_format_name_is_refused(tmp_path):
    path = saved(tmp_path)
    rewrite(path, lambda layout: layout.update(format="bitpack"))
    with pytest.raises(LowbitError, match=r"is not a lowbit checkpoint: format 'bitpack', expected"):
        load(path)


def test_packed_length_disagreeing_with_metadata_names_the_tensor(tmp_path):
    path = saved(tmp_path)
    key = "layer1.conv.weight::packed"
    rewrite(path, edit_tensors=lambda tensors: tensors.update({key: tensors[key][:, :-1].contiguous()}))
    with pytest.raises(LowbitError, match=r"tensor 'layer1\.conv\.weight' in .*: packed data is U8 of shape \[8, 7\], "
                                          r"but its metadata \(uint at 4 bits, shape \[8, 16\], dim 1\) "
                                          r"needs U8 of shape \[8, 8\]"):
        load(path)


def test_bits_disagreeing_with_packed_length_names_the_tensor(tmp_path):
    path = saved(tmp_path)
    rewrite(path, lambda layout: layout["tensors"]["layer1.conv.weight"].update(bits=5))
    with pytest.raises(LowbitError, match=r"tensor 'layer1\.conv\.weight' .* packed data .* at 5 bits"):
        load(path)


def test_plain_tensor_disagreeing_with_metadata_names_it(tmp_path):
    path = saved(tmp_path)
    rewrite(path, edit_tensors=lambda tensors: tensors.update({"layer1.bn.bias": torch.zeros(9)}))
    with pytest.raises(LowbitError, match=r"tensor 'layer1\.bn\.bias' .*: data is F32 of shape \[9\]"):
        load(path)


def test_missing_stored_tensor_names_it(tmp_path):
    path = saved(tmp_path)
    rewrite(path, edit_tensors=lambda tensors: tensors.pop("layer1.conv.weight::scale"))
    with pytest.raises(LowbitError, match=r"tensor 'layer1\.conv\.weight' .*: its scale "
                                          r"'layer1\.conv\.weight::scale' is missing from the file"):
        load(path)


def test_undescribed_tensor_is_refused(tmp_path):
    path = saved(tmp_path)
    rewrite(path, edit_tensors=lambda tensors: tensors.update(extra=torch.zeros(1)))
    with pytest.raises(LowbitError, match=r"holds tensors its metadata does not describe: \['extra'\]"):
        load(path)


def test_bytes_after_the_last_tensor_are_refused(tmp_path):
    path = saved(tmp_path)
    path.write_bytes(path.read_bytes() + b"\0" * 5)
    with pytest.raises(LowbitError, match=r"has 5 bytes after its last tensor"):
        load(path)


def test_plain_safetensors_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, path)
    with pytest.raises(LowbitError, match=r"plain\.safetensors is a safetensors file but not a lowbit checkpoint"):
        load(path)
    save_file({"w": torch.zeros(3)}, path, metadata={"format": "pt"})
    with pytest.raises(LowbitError, match=r"not a lowbit checkpoint: its header metadata has no"):
        load(path)


@pytest.mark.parametrize("content", [os.urandom(1000), b"", b"hello", b"\x08\0\0\0\0\0\0\0not json"])
def test_random_file_is_not_a_checkpoint(tmp_path, content):
    path = tmp_path / "random.bin"
    path.write_bytes(content)
    with pytest.raises(LowbitError, match=r"random\.bin is not a lowbit checkpoint"):
        load(path)


def test_missing_file_and_bad_device(tmp_path):
    with pytest.raises(LowbitError, match=r"checkpoint file not found: .*absent\.safetensors"):
        load(tmp_path / "absent.safetensors")
    path = saved(tmp_path)
    with pytest.raises(LowbitError, match=r"device must be an available torch device, got 'potato'"):
        load(path, device="potato")


# ---------------------------------------------------------------- sizes and the command line


def test_size_report_counts_every_byte(tmp_path):
    state = {"w": quantize_uint(torch.randn(8, 10), 4, group_size=10),  # 40 + 8*2 + 8 bytes
             "t": quantize_trits(torch.randn(3, 11), scheme="base3"),  # 3*3 + 2 bytes
             "b": torch.zeros(8)}  # 32 bytes
    report = size_report(state)
    assert [(r.name, r.scheme, r.bits, r.shape, r.stored_bytes) for r in report.rows] == [
        ("w", "uint", 4.0, (8, 10), 64), ("t", "base3", 1.6, (3, 11), 11), ("b", "plain", 32.0, (8,), 32)]
    assert report.fp32_bytes == (80 + 33 + 8) * 4 and report.stored_bytes == 107
    assert report.compression == pytest.approx(484 / 107)
    path = tmp_path / "m.safetensors"
    save(path, state)
    from_file = size_report(path)
    assert from_file.file_bytes == os.path.getsize(path) and from_file.rows == report.rows
    assert from_file.compression == pytest.approx(484 / os.path.getsize(path))


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "lowbit_ref.checkpoint", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_cli_inspect_prints_the_table(tmp_path):
    path = saved(tmp_path)
    done = run_cli("inspect", path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["name", "scheme", "bits", "shape", "stored", "bytes"]
    assert lines[1].split()[:3] == ["layer1.conv.weight", "uint", "4"]
    # 8x16 codes at 4 bits, then per row a float16 scale and a uint8 zero point
    assert lines[1].split()[-1] == f"{64 + 8 * 3:,}"
    assert lines[3].split()[:3] == ["fc.weight", "base3", "1.6"]
    assert "file (with header)" in done.stdout and "compression vs fp32" in done.stdout


def test_cli_inspect_bad_file_exits_2_without_traceback(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"garbage")
    done = run_cli("inspect", path)
    assert done.returncode == 2
    # (the last line: if lowbit_ref/__init__ imports this module, runpy warns first)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "bad.safetensors is not a lowbit checkpoint" in last
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_cli_main_in_process(tmp_path, capsys):
    # The other outcomes through main() itself: a subprocess costs seconds to import torch.
    assert checkpoint.main(["inspect", str(tmp_path / "absent.safetensors")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: checkpoint file not found:") and "absent.safetensors" in err
    path = saved(tmp_path)
    rewrite(path, lambda layout: layout.update(version=9))
    assert checkpoint.main(["inspect", str(path)]) == 2
    assert "format version 9 is not supported" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error, also exit code 2
        checkpoint.main(["frobnicate"])
    assert usage.value.code == 2


# ---------------------------------------------------------------- ResNet-50 and BitPack's table


def test_resnet50_parameter_count():
    layers = resnet.resnet50_layers()
    assert resnet.parameter_count(layers) == 25_557_032  # torchvision's resnet50
    assert len(layers) == 320  # entries in its state_dict, running statistics included
    shapes = {layer.name: layer.shape for layer in layers}
    assert shapes["conv1.weight"] == (64, 3, 7, 7)
    assert shapes["layer4.2.conv3.weight"] == (2048, 512, 1, 1)
    assert shapes["layer3.0.downsample.0.weight"] == (1024, 512, 1, 1)
    assert shapes["fc.weight"] == (1000, 2048) and shapes["fc.bias"] == (1000,)


@pytest.mark.parametrize("kwargs, match", [({"base_width": 0}, r"base_width must be a positive int, got 0"),
                                           ({"num_classes": 2.5}, r"num_classes must be a positive int, got 2\.5")])
def test_resnet50_layers_refusals(kwargs, match):
    with pytest.raises(LowbitError, match=match):
        resnet.resnet50_layers(**kwargs)


def test_bits_plan_and_unpacked():
    layers = resnet.resnet50_layers(base_width=4, num_classes=10)
    plan = resnet.bits_plan(layers, 2)
    assert plan["conv1.weight"] == plan["fc.weight"] == 8
    assert {bits for name, bits in plan.items() if name not in ("conv1.weight", "fc.weight")} == {2}
    assert len(plan) == 54  # 53 convolutions and fc
    state = resnet.quantized_state(resnet.fp32_state(layers), plan)
    wide = resnet.unpacked(state)
    for name, q in state.items():
        if isinstance(q, QuantizedTensor):
            assert wide[name].packed.bits == 8 and wide[name].packed.dim == q.packed.dim == 1
            assert torch.equal(unpack(wide[name].packed), unpack(q.packed)) and wide[name].scale is q.scale
        else:
            assert wide[name] is q


def test_bitpack_accounting_reproduces_its_figures():
    layers = resnet.resnet50_layers()
    fp32, mixed48 = resnet.bitpack_estimate(layers, resnet.bits_plan(layers, 4), 32)
    int8, mixed28 = resnet.bitpack_estimate(layers, resnet.bits_plan(layers, 2), 8)
    assert (round(fp32 / 1e6), round(mixed48 / 1e6, 1), round(fp32 / mixed48, 1)) == (102, 13.8, 7.4)
    assert (round(int8 / 1e6), round(mixed28 / 1e6, 1)) == (26, 7.9)
    assert round(26 / 7.9, 1) == 3.3 and round(int8 / mixed28, 2) == 3.22


def test_bitpack_rows_small_scale(tmp_path):
    rows = resnet.bitpack_rows(base_width=4, num_classes=10, workdir=tmp_path)
    assert [r.scenario for r in rows] == ["fp32 -> mixed 4/8-bit", "8-bit -> mixed 2/8-bit"]
    files = {f: os.path.getsize(tmp_path / f) for f in os.listdir(tmp_path)}
    for r in rows:
        assert r.original_bytes in files.values() and r.packed_bytes in files.values()
        assert r.packed_bytes < r.original_bytes
        assert sum(r.breakdown.values()) == r.packed_bytes
    layers = resnet.resnet50_layers(base_width=4, num_classes=10)
    for row, low in zip(rows, (4, 2)):
        plan = resnet.bits_plan(layers, low)
        # every row packs without padding along the input channels: the codes cost bits / 8 each
        assert row.breakdown["codes"] == sum(layer.numel * plan[layer.name] for layer in layers
                                             if layer.name in plan) // 8
    # the 8-bit original holds the same 2-bit codes a byte each: 3/4 of each such byte is saved
    low = sum(layer.numel for layer in layers if plan.get(layer.name) == 2)
    saved_bytes = rows[1].original_bytes - rows[1].packed_bytes
    assert abs(saved_bytes - low * 3 // 4) < 64  # the headers differ only in offsets' digits
    text = resnet.format_table(rows)
    assert "7.4x" in text and "3.3x" in text and "fp32 -> mixed 4/8-bit" in text


# ---------------------------------------------------------------- whole models: save_model, load_model


def small_net(seed=0, device="cpu"):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).to(device)


def test_save_model_stores_each_named_weight_at_its_width_one_scale_per_row(tmp_path, device):
    net = small_net(device=device)
    path = tmp_path / "net.safetensors"
    save_model(net, {"0.weight": 3, "2.weight": "ternary"}, path)
    state = load(path, device=device)
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    w0 = net.state_dict()["0.weight"]
    want = quantize_uint(w0, 3, group_size=12)
    got = state["0.weight"]
    assert got.packed.bits == 3 and got.group_size == 12 and got.scale.shape == (8, 1)
    assert torch.equal(got.packed.data, want.packed.data) and torch.equal(got.scale, want.scale)
    assert torch.equal(got.zero_point, want.zero_point)
    trits = state["2.weight"]
    want = quantize_trits(net.state_dict()["2.weight"], scheme="base3", group_size=8)
    assert trits.packed.scheme == "base3" and trits.zero_point is None and trits.group_size == 8
    assert torch.equal(trits.packed.data, want.packed.data) and torch.equal(trits.scale, want.scale)
    assert torch.equal(state["0.bias"], net.state_dict()["0.bias"])


def test_save_model_fp32_and_names_left_out_are_stored_as_they_are(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    path = tmp_path / "bn.safetensors"
    save_model(net, {"0.weight": "fp32", "2.weight": 5}, path)
    state = load(path)
    assert list(state) == list(net.state_dict())
    for name, t in net.state_dict().items():
        if name != "2.weight":
            assert not isinstance(state[name], QuantizedTensor) and torch.equal(state[name], t), name
    assert state["2.weight"].packed.bits == 5
    assert state["1.num_batches_tracked"].dtype == torch.int64  # a 0-d int buffer travels untouched


def test_load_model_fills_the_model_with_dequantized_weights(tmp_path, device):
    net, other = small_net(0, device), small_net(1, device)
    path = tmp_path / "net.safetensors"
    save_model(net, {"0.weight": 8, "2.weight": 2}, path)
    assert load_model(path, other) is other
    stored = load(path, device=device)
    assert other[0].weight.device.type == torch.device(device).type
    assert torch.equal(other[0].weight.data, dequantize(stored["0.weight"]))
    assert torch.equal(other[2].weight.data, dequantize(stored["2.weight"]))
    assert torch.equal(other[2].bias.data, net[2].bias.data)
    assert (other[0].weight - net[0].weight).abs().max() < 0.01  # 8 bits: close to the original


def test_save_model_overwrite_replaces_only_when_asked(tmp_path):
    net = small_net()
    path = tmp_path / "net.safetensors"
    path.write_bytes(b"keep me")
    with pytest.raises(LowbitError, match="already exists; pass overwrite=True"):
        save_model(net, {"0.weight": 4}, path)
    assert path.read_bytes() == b"keep me"
    save_model(net, {"0.weight": 4}, path, overwrite=True)
    assert load(path)["0.weight"].packed.bits == 4
    with pytest.raises(LowbitError, match="overwrite must be True or False, got 'yes'"):
        save_model(net, {"0.weight": 4}, path, overwrite="yes")


@pytest.mark.parametrize("model, plan, message", [
    (small_net(), {"1.weight": 4}, r"bits_per_layer names \['1.weight'\], which the model does not have; its entries"),
    (small_net(), {"0.weight": 4, "5.weight": 2}, r"bits_per_layer names \['5.weight'\]"),
    (small_net(), {"0.weight": 9}, r"bits_per_layer\['0.weight'\] must be one of \(8, 7, .*'fp32'\), got 9"),
    (small_net(), {"0.weight": 0}, r"bits_per_layer\['0.weight'\] must be one of .*got 0"),
    (small_net(), {"0.weight": True}, r"bits_per_layer\['0.weight'\] must be one of .*got True"),
    (small_net(), {"0.weight": 4.0}, r"bits_per_layer\['0.weight'\] must be one of .*got 4.0"),
    (small_net(), {"0.weight": "int4"}, r"bits_per_layer\['0.weight'\] must be one of .*got 'int4'"),
    (small_net(), [4, 4], r"bits_per_layer must be a dict of weight names to widths, got \[4, 4\]"),
    (torch.nn.BatchNorm1d(3), {"num_batches_tracked": 4},
     r"bits_per_layer\['num_batches_tracked'\] = 4 needs a floating-point tensor .* torch.int64 of shape \(\)"),
    ({"0.weight": torch.zeros(2, 2)}, {}, "model must be a torch.nn.Module, got dict"),
])
def test_save_model_refuses_bad_input_before_writing(tmp_path, model, plan, message):
    with pytest.raises(LowbitError, match=message):
        save_model(model, plan, tmp_path / "x.safetensors")
    assert os.listdir(tmp_path) == []


def test_load_model_refuses_a_model_the_file_does_not_fit(tmp_path):
    path = tmp_path / "net.safetensors"
    save_model(small_net(), {"0.weight": 4}, path)
    wider = torch.nn.Sequential(torch.nn.Linear(12, 9), torch.nn.ReLU(), torch.nn.Linear(9, 3))
    with pytest.raises(LowbitError, match=r"model must have the entries and shapes of the checkpoint .*net.safetensors"):
        load_model(path, wider)
    with pytest.raises(LowbitError, match="model must have the entries and shapes .*Missing key"):
        load_model(path, torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3),
                                             torch.nn.Linear(3, 3)))
    with pytest.raises(LowbitError, match="model must be a torch.nn.Module, got str"):
        load_model(path, "net")
    with pytest.raises(LowbitError, match="checkpoint file not found"):
        load_model(tmp_path / "missing.safetensors", small_net())


def test_a_version_1_file_still_loads(tmp_path):
    """Version 1 padded 2-bit ternary with field 0 (trit -1); version 2 pads with field 1 (trit 0).
    Padding is never unpacked, so a version-1 file (its padding fields zeroed, its layout saying
    version 1, its checksums its own) loads to the same trits."""
    from lowbit_ref.checkpoint.format import _digest

    trits = torch.tensor([[1, -1, 0, 1, -1], [0, 0, 1, -1, 1]], dtype=torch.int8)
    q = quantize_trits(trits.float(), scheme="ternary2")
    path = tmp_path / "v1.safetensors"
    save(path, {"t": q, "b": torch.ones(2)})

    def to_version_1(layout):
        layout["version"] = 1
        for name, entry in layout["tensors"].items():
            if name == "t":
                data = v1_data
                tensors = [data, q.scale]
            else:
                tensors = [torch.ones(2)]
            bare = {k: v for k, v in entry.items() if k != "sha256"}
            entry["sha256"] = _digest(bare, tensors)

    v1_data = q.packed.data.clone()
    v1_data[:, 1] &= 0b11  # the fifth trit stays, the three padding fields become 0
    rewrite(path, to_version_1, lambda tensors: tensors.update({"t::packed": v1_data}))
    assert layout_of(path)["version"] == 1
    loaded = load(path)
    assert torch.equal(loaded["t"].packed.data, v1_data)
    assert torch.equal(unpack(loaded["t"].packed), trits)
    assert torch.equal(dequantize(loaded["t"]), dequantize(q))
