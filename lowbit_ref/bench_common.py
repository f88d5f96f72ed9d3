"""What the benchmarks share: one row of results, the timing against a copy, and the reports.

``lowbit_ref.bench`` (the CPU packers) and ``lowbit_ref.bench_gpu`` (the Triton kernels) both
time each operation against ``dst.copy_(src)`` of the same number of bytes, measured in the same
run, and report rows of this module's ``Row``: time, GB/s, the copy's GB/s and their ratio.
"""

from __future__ import annotations

import contextlib
import csv
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from .errors import LowbitError


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """``torch.set_num_threads(threads)`` for the block (None: leave it), restored afterwards."""
    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)

#: The CPU targets: time / floor for ``lowbit_ref out=``, one thread, ``TARGET_VALUES`` values.
TARGETS = {"uint1": 3.0, "uint2": 3.0, "uint4": 3.0, "uint3": 4.0, "base3": 5.0}
#: The size the targets are set at.
TARGET_VALUES = 1 << 26
OPS = ("pack", "unpack")


@dataclass
class Row:
    """One timed implementation of one operation. Times in seconds, sizes in bytes."""

    device: str
    format: str
    op: str
    impl: str
    values: int
    bytes_moved: int
    seconds: float
    floor_seconds: float

    @property
    def gbps(self) -> float:
        return self.bytes_moved / self.seconds / 1e9

    @property
    def floor_gbps(self) -> float:
        """The copy bandwidth this row's floor was measured at."""
        return self.bytes_moved / self.floor_seconds / 1e9

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor_seconds

    @property
    def target(self) -> float | None:
        if self.impl != "lowbit_ref out=" or self.device != "cpu" or self.values != TARGET_VALUES:
            return None
        return TARGETS.get(self.format)


# --- timing -------------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(fn: Callable[[], object], device: torch.device, calls: int = 1) -> float:
    """Wall time of ``calls`` calls of ``fn``, per call (CUDA: between two events)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / calls
    sync(device)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / calls


def copy_of(nbytes: int, device: torch.device) -> Callable[[], object]:
    """``dst.copy_(src)`` moving ``nbytes`` in all: half read, half written into a preallocated dst."""
    half = max(nbytes // 2, 1)
    src = torch.randint(0, 256, (half,), dtype=torch.uint8, device=device)
    dst = torch.zeros_like(src)  # touched now, so the timed copies never pay for fresh pages
    return lambda: dst.copy_(src)


def measure(cases: list, device: torch.device, repeat: int, calls: int = 1) -> list[tuple[float, float]]:
    """Best time of each case and of its floor copy, over ``repeat`` interleaved rounds.

    ``cases``: (fn, bytes moved). Rounds alternate floor and case, so both see the same machine.
    """
    copies = {}
    for _, nbytes in cases:
        if nbytes not in copies:
            copies[nbytes] = copy_of(nbytes, device)
    best = [[math.inf, math.inf] for _ in cases]
    for fn, nbytes in cases:  # warm-up: tables, first touch of internal buffers
        fn()
        copies[nbytes]()
    for _ in range(repeat):
        for k, (fn, nbytes) in enumerate(cases):
            best[k][1] = min(best[k][1], seconds(copies[nbytes], device, calls))
            best[k][0] = min(best[k][0], seconds(fn, device, calls))
    return [tuple(b) for b in best]


# --- what is measured ---------------------------------------------------------------------------


def expect(name: str, got: torch.Tensor, want: torch.Tensor) -> None:
    if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want):
        raise LowbitError(
            f"bench: {name} gave a wrong result (got {got.dtype} {tuple(got.shape)}, "
            f"want {want.dtype} {tuple(want.shape)} with the reference's values)"
        )


# --- reporting ----------------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"2**{n.bit_length() - 1}" if n & (n - 1) == 0 else str(n)


def table(rows: list[Row]) -> str:
    """The rows as a plain-text table (also valid Markdown)."""
    head = ["format", "op", "implementation", "values", "MiB moved", "ms", "GB/s", "copy GB/s", "x floor", "target"]
    lines = []
    for r in rows:
        target = "" if r.target is None else f"<= {r.target:g}: {'met' if r.ratio <= r.target else 'MISSED'}"
        lines.append([r.format, r.op, r.impl, _size(r.values), f"{r.bytes_moved / 2**20:.1f}",
                      f"{r.seconds * 1e3:.3g}", f"{r.gbps:.2f}", f"{r.floor_gbps:.2f}", f"{r.ratio:.3g}", target])
    widths = [max(len(h), *(len(line[k]) for line in lines)) if lines else len(h) for k, h in enumerate(head)]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, lines)])


def write_csv(rows: list[Row], path) -> None:
    """One line per row: every field, plus gbps, floor_gbps (the copy's), ratio and target."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*Row.__dataclass_fields__, "gbps", "floor_gbps", "ratio", "target"])
        for r in rows:
            writer.writerow([*asdict(r).values(), f"{r.gbps:.4g}", f"{r.floor_gbps:.4g}", f"{r.ratio:.4g}",
                             "" if r.target is None else r.target])


def plot(rows: list[Row], *, title: str | None = None):
    """Time / memory floor of every row, one bar per implementation, log scale; targets in red.

    Returns the matplotlib figure (for the lessons; ``--plot PATH`` saves it).
    """
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r.format, r.op) for r in rows))
    impls = list(dict.fromkeys(r.impl for r in rows))
    colours = dict(zip(impls, ["#1b6ca8", "#7fb3dd", "#e07b39", "#9a9a9a", "#7a4fa3", "#3a9e5c", "#c9a227"]))
    most = max(sum((r.format, r.op) == key for r in rows) for key in groups)
    height = 0.8 / most
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(rows) + 1.5))
    labelled = set()
    for g, key in enumerate(groups):
        present = [r for r in rows if (r.format, r.op) == key]
        for k, row in enumerate(present):
            y = g + (k - (len(present) - 1) / 2) * height
            label = f"{row.impl} ({_size(row.values)} values)"
            ax.barh(y, row.ratio, height=height * 0.9, color=colours[row.impl],
                    label=None if label in labelled else label)
            labelled.add(label)
            if row.target is not None:
                ax.plot([row.target] * 2, [y - height / 2, y + height / 2], color="#c0392b", lw=2.5,
                        label=None if "target" in labelled else "target (2**26 values)")
                labelled.add("target")
    ax.axvline(1, color="#333", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(groups)), [f"{f} {op}" for f, op in groups])
    ax.invert_yaxis()
    ax.set_xlabel("time / memory floor (1 = as fast as a copy of the same bytes)")
    ax.set_title(title or f"{rows[0].device}: time against the copy floor")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
