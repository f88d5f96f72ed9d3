"""lowbit_ref.bench: the smoke mode checks every implementation's result; timings never fail a test."""

import csv
import subprocess
import sys

import pytest
import torch

import lowbit_ref.bench as bench
import lowbit_ref.bench_gpu as bench_gpu
import lowbit_ref.uintx as uintx
from lowbit_ref import LowbitError
from lowbit_ref.base3 import pack_base3


def table_rows(out):
    """(format, op, implementation) of every row of a printed table."""
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| ") and "format" not in line]
    return {tuple(cell.strip() for cell in cells[:3]) for cells in rows}


def test_smoke_run_checks_every_format_and_implementation(capsys):
    assert bench.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    seen = table_rows(out)
    for fmt in bench.FORMATS:
        for op in bench.OPS:
            assert (fmt, op, "lowbit_ref") in seen and (fmt, op, "lowbit_ref out=") in seen, (fmt, op)
    for fmt in ("uint2", "uint4"):
        assert (fmt, "pack", "strided slices") in seen and (fmt, "unpack", "strided slices") in seen
    assert ("base3", "pack", "divmod") in seen and ("base3", "unpack", "divmod") in seen
    for fmt in ("uint1", "uint2", "uint4"):
        assert (fmt, "pack", "loop") in seen and (fmt, "unpack", "loop") in seen
    assert "copy bandwidth" in out


@pytest.mark.slow  # a fresh Python: torch import and the whole smoke run
def test_smoke_as_a_module_from_the_command_line():
    done = subprocess.run([sys.executable, "-m", "lowbit_ref.bench", "--smoke", "--formats", "uint3,base3"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = table_rows(done.stdout)
    assert ("uint3", "pack", "lowbit_ref out=") in seen and ("base3", "unpack", "divmod") in seen
    assert not any(fmt == "uint1" for fmt, _, _ in seen)


def test_csv_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    table, image = tmp_path / "bench.csv", tmp_path / "bench.png"
    assert bench.main(["--smoke", "--formats", "uint2,base3", "--csv", str(table), "--plot", str(image)]) == 0
    with open(table) as f:
        rows = list(csv.DictReader(f))
    assert {r["format"] for r in rows} == {"uint2", "base3"}
    for r in rows:
        moved, seconds, floor = int(r["bytes_moved"]), float(r["seconds"]), float(r["floor_seconds"])
        assert seconds > 0 and floor > 0
        assert float(r["ratio"]) == pytest.approx(seconds / floor, rel=1e-3)
        assert float(r["gbps"]) == pytest.approx(moved / seconds / 1e9, rel=1e-3)
    assert image.stat().st_size > 1000


def test_bytes_moved_follow_the_definition():
    rows = bench.run(log2_size=10, loop_log2_size=0, repeat=1, formats=("uint3", "base3"), baselines=False)
    n = 1 << 10
    for r in rows:
        packed = n * 3 // 8 if r.format == "uint3" else -(-n // 5)
        assert r.bytes_moved == n + packed, r  # uint8 values or int8 trits, plus the packed bytes
        assert r.values == n and r.target is None  # targets are stated at 2**26 values


def test_a_wrong_result_stops_the_benchmark(monkeypatch):
    real = uintx.unpack

    def off_by_one(packed, **kwargs):
        values = real(packed, **kwargs)
        return values ^ 1 if values.numel() > 64 else values

    monkeypatch.setattr(uintx, "unpack", off_by_one)
    with pytest.raises(LowbitError, match="uint2 unpack gave a wrong result"):
        bench.run(log2_size=10, loop_log2_size=0, repeat=1, formats=("uint2",))


def test_unknown_format_is_refused():
    with pytest.raises(LowbitError, match=r"formats must be some of .*got \['uint9'\]"):
        bench.run(log2_size=4, formats=("uint9",))


def test_threads_are_restored():
    before = torch.get_num_threads()
    bench.run(log2_size=8, loop_log2_size=0, repeat=1, formats=("uint1",), threads=1)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bits", [2, 4])
def test_strided_slices_are_the_msb_layout(bits):
    x = torch.randint(0, 1 << bits, (64, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(bits))
    packed = uintx.pack(x, bits, order="msb").data
    assert torch.equal(bench.strided_pack(x, bits), packed.view(-1))
    assert torch.equal(bench.strided_unpack(packed.view(-1), bits), x.view(-1))


def test_divmod_matches_base3_on_whole_bytes():
    t = torch.randint(-1, 2, (103,), dtype=torch.int8, generator=torch.Generator().manual_seed(4))
    ours = pack_base3(t).data
    baseline = bench.divmod_pack(t)
    assert torch.equal(baseline[:-1], ours[:-1])  # the last byte differs: the baseline pads with trit -1
    assert torch.equal(bench.divmod_unpack(baseline, 103), t)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present: the GPU benchmark would run")
def test_cuda_absent_skips_cleanly(capsys):
    assert bench.main(["--device", "cuda", "--smoke"]) == 0
    assert "CUDA is not available here; skipping the GPU benchmark" in capsys.readouterr().out


def test_kernel_benchmark_path_runs_under_the_triton_interpreter():
    pytest.importorskip("triton")
    from lowbit_ref import kernels

    if not kernels.interpreter_active():
        pytest.skip("kernels compile for a GPU here; the CPU interpreter path is not in use")
    rows = bench_gpu.run_kernels(log2_size=8, repeat=1, device="cpu")
    assert {(r.format, r.op) for r in rows} >= {("uint2", "unpack"), ("ternary2", "unpack"), ("uint4", "matvec")}
    assert all(r.seconds > 0 and r.floor_seconds > 0 for r in rows)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_kernel_benchmark_on_cuda():
    pytest.importorskip("triton")
    rows = bench_gpu.run_kernels(log2_size=16, repeat=1, device="cuda")
    assert all(r.device == "cuda" and r.gbps > 0 for r in rows)


def test_a_wrong_pack_is_caught_by_the_bit_stream_oracle(monkeypatch):
    real = uintx.pack

    def flipped(values, bits, **kwargs):
        p = real(values, bits, **kwargs)
        return uintx.PackedTensor(p.data ^ 1, p.bits, p.shape, p.dim, p.order, p.scheme, p.dtype)

    monkeypatch.setattr(uintx, "pack", flipped)
    with pytest.raises(LowbitError, match=r"uint2 pack \(prefix against the bit-stream oracle\) gave a wrong result"):
        bench.run(log2_size=10, loop_log2_size=0, repeat=1, formats=("uint2",))


def test_the_cli_help_explains_the_floor(capsys):
    """``--help`` opens with the module's first paragraph; the docstring defines the floor."""
    with pytest.raises(SystemExit) as done:
        bench.main(["--help"])
    assert done.value.code == 0 and "against a plain copy of the same bytes" in capsys.readouterr().out
    for phrase in ("bytes moved", "bytes read + bytes written", "copy bandwidth", "preallocated", "same run"):
        assert phrase in bench.__doc__, phrase
