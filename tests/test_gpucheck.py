"""lowbit_ref.gpucheck (make gpu-check): without CUDA it says so and succeeds; its table is right."""

import subprocess
import sys

import pytest
import torch

import lowbit_ref.gpucheck as gpucheck
from lowbit_ref.bench_common import Row


def test_without_cuda_it_says_so_and_exits_0(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpucheck.main([]) == 0
    assert "no CUDA GPU here, nothing to check" in capsys.readouterr().out


def test_make_gpu_check_runs_it(tmp_path):
    done = subprocess.run(["make", "-n", "gpu-check"], capture_output=True, text=True, cwd=gpucheck.TESTS.parent)
    assert done.returncode == 0 and "-m lowbit_ref.gpucheck" in done.stdout


def test_summary_gives_gbps_and_share_of_the_copy():
    rows = [Row("cuda", "uint2", "unpack", "unpack_triton", 1 << 26, 10**9, 0.002, 0.001)]
    table = gpucheck.summary_table(rows)
    assert "| uint2  | unpack | unpack_triton  | 2**26  | 2  | 500  | 1000      | 50 %      |" in table


def test_missing_tests_folder_is_reported_not_failed(tmp_path):
    summary, ok = gpucheck.run_cuda_tests(tmp_path / "nowhere")
    assert ok and "no tests/ folder" in summary


@pytest.mark.slow  # a fresh Python
def test_the_no_cuda_path_from_the_command_line():
    if torch.cuda.is_available():
        return  # the real check would run: that is make gpu-check's job, not a unit test's
    done = subprocess.run([sys.executable, "-m", "lowbit_ref.gpucheck"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "no CUDA GPU here" in done.stdout
