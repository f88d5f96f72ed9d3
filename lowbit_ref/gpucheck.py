"""Every GPU figure and every CUDA test in one command: ``make gpu-check`` (``python -m lowbit_ref.gpucheck``).

For whoever has a CUDA GPU for a few minutes. It runs, in order:

1. every test marked ``cuda`` (``pytest -m cuda tests``: each library test on the ``cuda`` device,
   and the kernel benchmark's own test), when the repository's ``tests/`` folder is there;
2. the GPU benchmark (``lowbit_ref.bench_gpu``): Triton unpack at 1, 2, 4 bits and ternary2, and
   the fused unpack-dequantize-matvec, each against a device-to-device copy of the same bytes;

and prints one summary: the tests' outcome, then one row per kernel with its GB/s and the share
of the copy bandwidth it reaches (100 % = as fast as copying its bytes). It is sized to finish in
well under 5 minutes on one H100-class GPU. Without CUDA (or without Triton) it says so and exits
0; it exits 1 when a test fails or a kernel gives a wrong result.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import time

import torch

from .bench_common import Row
from .errors import LowbitError

#: Where the tests are when this runs from a checkout of the repository.
TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"


def run_cuda_tests(tests: pathlib.Path = TESTS, timeout: int = 240) -> tuple[str, bool]:
    """``pytest -m cuda`` in a fresh process; returns (its summary line, passed?)."""
    if not tests.is_dir():
        return f"no tests/ folder at {tests} (an installed package): tests not run", True
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # kernels compile for the GPU
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", str(tests), "-p", "no:cacheprovider"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tests.parent, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"pytest -m cuda did not finish in {timeout} s", False
    lines = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    summary = lines[-1].strip("= ") if lines else f"pytest exited {done.returncode}"
    if done.returncode not in (0, 5):  # 5: nothing selected
        sys.stdout.write(done.stdout[-6000:])
    return summary, done.returncode in (0, 5)


def summary_table(rows: list[Row]) -> str:
    """One line per kernel row: GB/s and the share of the copy bandwidth measured beside it."""
    head = ["format", "op", "implementation", "values", "ms", "GB/s", "copy GB/s", "% of copy"]
    lines = [[r.format, r.op, r.impl, f"2**{r.values.bit_length() - 1}", f"{r.seconds * 1e3:.3g}", f"{r.gbps:.0f}",
              f"{r.floor_gbps:.0f}", f"{100 / r.ratio:.0f} %"] for r in rows]
    widths = [max(len(h), *(len(line[k]) for line in lines)) if lines else len(h) for k, h in enumerate(head)]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lowbit_ref.gpucheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log2-size", type=int, default=26, help="values per benchmarked operation: 2**N")
    parser.add_argument("--repeat", type=int, default=5, help="benchmark rounds; the best counts")
    parser.add_argument("--no-tests", action="store_true", help="only the benchmark")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpucheck: no CUDA GPU here, nothing to check (run `make gpu-check` on a machine with an NVIDIA GPU).")
        return 0
    from . import bench_gpu  # imports Triton: only once a GPU is known to be there

    kernels = bench_gpu.kernels
    if not kernels.triton_available():
        print(f"gpucheck: Triton is not installed, so the kernels cannot run ({kernels.INSTALL_HINT}).")
        return 0
    if kernels.interpreter_active():
        print("gpucheck: TRITON_INTERPRET=1 is set, so Triton would interpret instead of compiling; unset it.")
        return 0
    name = torch.cuda.get_device_name()
    print(f"gpucheck: {name}, torch {torch.__version__}")
    start = time.perf_counter()
    tests, ok = ("skipped (--no-tests)", True) if args.no_tests else run_cuda_tests()
    print(f"  CUDA tests: {tests} ({time.perf_counter() - start:.0f} s)")
    try:
        rows = bench_gpu.run_kernels(log2_size=args.log2_size, repeat=args.repeat, device="cuda")
    except LowbitError as error:
        print(f"  benchmark: {error}")
        return 1
    print(f"\nSummary on {name}: {len(rows)} rows, 2**{args.log2_size} values each, best of {args.repeat}; "
          "copy = device-to-device copy of the same bytes")
    print(summary_table(rows))
    print(f"\nCUDA tests: {tests}. Total {time.perf_counter() - start:.0f} s.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
