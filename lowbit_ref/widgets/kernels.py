"""Lesson 06's views: the memory roofline, time per token against bits per weight, and measured
bandwidth against a copy.

A batch-1 matrix-vector product reads every weight once and does 2 flops with it (a multiply
and an add), so its arithmetic intensity is ``2 / bytes_per_weight`` flops per byte. Far left
of a GPU's ridge point, the time is bytes over bandwidth. These views only draw that arithmetic
and the caller's measurements; the bytes per weight come from the notebook, which packs with
``lowbit_ref``, and the timings from the notebook's own CUDA events.
"""

from __future__ import annotations

import html
import math

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import HTML

from ..errors import LowbitError, describe
from ._draw import PALETTE, grading

#: H100 SXM: HBM3 bandwidth (bytes/s), dense fp16/bf16 tensor-core math and FP32 math on the CUDA
#: cores (flop/s, an FMA counted as 2), per the data sheet.
H100_BANDWIDTH = 3.35e12
H100_PEAK_FLOPS = 989e12
H100_FP32_FLOPS = 67e12

#: Data-sheet peaks of a few GPUs: (fragment of torch.cuda.get_device_name(), label, memory
#: bandwidth B/s, FP32 CUDA-core flop/s, dense fp16 tensor-core flop/s). First match wins, so a
#: more specific fragment comes before a shorter one.
KNOWN_GPUS = (
    ("H200", "H200 SXM", 4.8e12, 67e12, 989e12),
    ("H100 PCIe", "H100 PCIe", 2.0e12, 51e12, 756e12),
    ("H100", "H100 SXM", H100_BANDWIDTH, H100_FP32_FLOPS, H100_PEAK_FLOPS),
    ("A100-SXM4-80GB", "A100 SXM 80 GB", 2.039e12, 19.5e12, 312e12),
    ("A100 80GB PCIe", "A100 PCIe 80 GB", 1.935e12, 19.5e12, 312e12),
    ("A100", "A100 40 GB", 1.555e12, 19.5e12, 312e12),
    ("L4", "L4", 0.3e12, 30.3e12, 121e12),
    ("RTX 4090", "RTX 4090", 1.008e12, 82.6e12, 165e12),
)


def device_peaks(name: str) -> dict | None:
    """The data-sheet peaks of the GPU called ``name`` (as ``torch.cuda.get_device_name()`` spells
    it), or None when it is not in ``KNOWN_GPUS``: then measure, e.g. a large device copy.

    >>> device_peaks("NVIDIA H200")["bandwidth"], device_peaks("NVIDIA H100 80GB HBM3")["label"]
    (4800000000000.0, 'H100 SXM')
    >>> device_peaks("Some Future GPU") is None
    True
    """
    if not isinstance(name, str):
        raise LowbitError(f"name must be a device name (str), got {describe(name)}")
    for fragment, label, bandwidth, fp32, tensor in KNOWN_GPUS:
        if fragment.lower() in name.lower():
            return {"label": label, "bandwidth": bandwidth, "fp32_flops": fp32, "tensor_flops": tensor}
    return None
FLOPS_PER_WEIGHT = 2  # one multiply and one add per weight at batch 1


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise LowbitError(f"{name} must be a positive number, got {describe(value)}")
    return float(value)


def _formats(bytes_per_weight: dict) -> dict[str, float]:
    if not isinstance(bytes_per_weight, dict) or not bytes_per_weight:
        raise LowbitError(f"bytes_per_weight must be a non-empty dict of label: bytes, got {describe(bytes_per_weight)}")
    return {str(k): _positive(f"bytes_per_weight[{k!r}]", v) for k, v in bytes_per_weight.items()}


# --- the roofline -------------------------------------------------------------------------------


def roofline_plot(
    bytes_per_weight: dict,
    *,
    peak_flops: float = H100_PEAK_FLOPS,
    bandwidth: float = H100_BANDWIDTH,
    device: str = "H100 SXM",
    core_flops: float | None = None,
):
    """Log-log roofline: attainable TFLOP/s = min(peak, intensity x bandwidth), with one point per
    weight format at its batch-1 matvec intensity ``2 / bytes_per_weight``.

    ``peak_flops`` is the tensor-core roof (what ``tl.dot`` / a GEMM can reach). With
    ``core_flops`` (the FP32 CUDA-core peak, e.g. ``H100_FP32_FLOPS``) a second, lower roof is
    drawn, and the points are capped by it: a batch-1 matrix-vector product has no matrix
    product to give the tensor cores, so it runs on the CUDA cores.

    >>> fig = roofline_plot({"fp16": 2.0, "int4": 0.5})
    >>> [line.get_label() for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    ['fp16: 1 flop/B -> 3.4 TFLOP/s', 'int4: 4 flop/B -> 13.4 TFLOP/s']
    """
    formats = _formats(bytes_per_weight)
    peak, bw = _positive("peak_flops", peak_flops), _positive("bandwidth", bandwidth)
    ridge = peak / bw  # flop/byte where the memory roof meets the compute roof
    intensities = {label: FLOPS_PER_WEIGHT / b for label, b in formats.items()}
    lo = min(0.25, min(intensities.values()) / 2)
    hi = max(ridge * 8, max(intensities.values()) * 2)
    xs = [lo * (hi / lo) ** (k / 200) for k in range(201)]

    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    ax.loglog(xs, [min(peak, x * bw) / 1e12 for x in xs], color="#333", lw=2, label="roofline")
    ax.axvline(ridge, color="#999", ls=":", lw=1)
    ax.text(ridge, peak / 1e12 * 1.15, f"ridge: {ridge:,.0f} flop/byte", ha="center", va="bottom", fontsize=9)
    cap = peak
    if core_flops is not None:
        cap = min(peak, _positive("core_flops", core_flops))
        ax.loglog(xs, [min(cap, x * bw) / 1e12 for x in xs], color="#333", lw=1.5, ls="--",
                  label=f"CUDA cores (FP32): {cap / 1e12:,.0f} TFLOP/s")  # fmt: skip
        ax.text(cap / bw, cap / 1e12 * 1.15, f"CUDA-core ridge: {cap / bw:,.0f} flop/byte", ha="center",
                va="bottom", fontsize=9)  # fmt: skip
    for k, (label, x) in enumerate(intensities.items()):
        y = min(cap, x * bw) / 1e12
        ax.plot([x], [y], "o", color=PALETTE[k % len(PALETTE)], ms=8, zorder=3,
                label=f"{label}: {x:g} flop/B -> {y:,.1f} TFLOP/s")  # fmt: skip
    ax.set_xlabel("arithmetic intensity (flops per byte read)")
    ax.set_ylabel("attainable TFLOP/s")
    cores = "" if core_flops is None else f" tensor, {cap / 1e12:,.0f} FP32"
    ax.set_title(f"Roofline, {device}: {bw / 1e12:g} TB/s, {peak / 1e12:,.0f} TFLOP/s{cores}")
    ax.set_ylim(top=peak / 1e12 * 20)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9, title="batch-1 matvec")
    fig.tight_layout()
    plt.close(fig)  # shown once, by the notebook's display of the returned figure
    return fig


# --- time per token -----------------------------------------------------------------------------


def token_time_html(bytes_per_weight: dict, n_weights: float, bandwidth: float) -> str:
    """One bar per format: the time to read ``n_weights`` weights once at ``bandwidth`` bytes/s,
    i.e. the fastest a memory-bound batch-1 token can be (and its tokens per second)."""
    formats = _formats(bytes_per_weight)
    n, bw = _positive("n_weights", n_weights), _positive("bandwidth", bandwidth)
    seconds = {label: n * b / bw for label, b in formats.items()}
    longest = max(seconds.values())
    rows = []
    for k, (label, s) in enumerate(seconds.items()):
        width = 100 * s / longest
        rows.append(
            "<tr>"
            f"<th style='text-align:right;padding-right:8px;font-weight:normal'>{html.escape(label)}</th>"
            f"<td style='width:320px'><div style='background:{PALETTE[k % len(PALETTE)]};width:{width:.1f}%;"
            "height:1.2em'></div></td>"
            f"<td style='padding-left:8px;font-family:monospace'>{formats[label]:g} B/weight, "
            f"{n * formats[label] / 1e9:,.2f} GB, <b>{s * 1e3:,.2f} ms</b> per token, "
            f"&le; {1 / s:,.0f} tokens/s</td>"
            "</tr>"
        )
    note = (
        f"{n / 1e9:g} billion weights read once per token at {bw / 1e12:g} TB/s. Real kernels reach "
        "70&ndash;90% of this; batch 1 cannot do better, whatever the flops."
    )
    return f"<table style='border-collapse:collapse'>{''.join(rows)}</table><div class='lowbit-note'>{note}</div>"


#: Model sizes offered by the explorer, in billions of weights.
MODEL_SIZES = (0.5, 1, 3, 7, 8, 13, 34, 70, 175, 405)
#: Memory bandwidths offered by the explorer, bytes/s (vendors' data sheets; a laptop: dual-channel DDR5).
BANDWIDTHS = {
    "laptop, DDR5 (0.1 TB/s)": 0.1e12,
    "Apple M2 Max (0.4 TB/s)": 0.4e12,
    "RTX 4090 (1.0 TB/s)": 1.008e12,
    "A100 80 GB SXM (2.0 TB/s)": 2.039e12,
    "H100 SXM (3.35 TB/s)": 3.35e12,
    "H200 (4.8 TB/s)": 4.8e12,
}


def token_time_explorer(bytes_per_weight: dict, n_weights: float = 7e9, bandwidth: float = H100_BANDWIDTH):
    """A model-size slider (billions of weights) and a memory picker over ``token_time_html``.
    Static HTML of the first state while nbgrader executes."""
    first = token_time_html(bytes_per_weight, n_weights, bandwidth)
    if grading():
        return HTML(first)
    sizes = sorted({float(v) for v in MODEL_SIZES} | {n_weights / 1e9})
    size = W.SelectionSlider(
        options=[(f"{v:g}", v) for v in sizes], value=n_weights / 1e9, description="billions", continuous_update=True
    )
    memories = dict(BANDWIDTHS)
    if bandwidth not in memories.values():
        memories[f"{bandwidth / 1e12:g} TB/s"] = bandwidth
    memory = W.Dropdown(options=list(memories.items()), value=bandwidth, description="memory")
    out = W.HTML(first)

    def redraw(_change=None):
        out.value = token_time_html(bytes_per_weight, size.value * 1e9, memory.value)

    size.observe(redraw, names="value")
    memory.observe(redraw, names="value")
    return W.VBox([W.HBox([size, memory]), out])


# --- measured bandwidth -------------------------------------------------------------------------


def bandwidth_plot(series: dict, *, bandwidth: float | None = None, bandwidth_label: str = "spec", title: str = ""):
    """Achieved GB/s (bytes moved / seconds) against bytes moved, one line per
    ``label: (bytes_moved, seconds)``; a dashed line at ``bandwidth`` bytes/s when given.

    >>> fig = bandwidth_plot({"copy": ([1e6, 1e8], [1e-5, 4e-5])}, bandwidth=3.35e12)
    >>> [round(v) for v in fig.axes[0].get_lines()[0].get_ydata()]
    [100, 2500]
    """
    if not isinstance(series, dict) or not series:
        raise LowbitError(f"series must be a non-empty dict of label: (bytes_moved, seconds), got {describe(series)}")
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    for k, (label, pair) in enumerate(series.items()):
        moved, seconds = pair
        if len(moved) != len(seconds) or not moved:
            raise LowbitError(f"series {label!r}: {len(moved)} sizes but {len(seconds)} timings")
        for b, s in zip(moved, seconds):
            _positive(f"series {label!r}: bytes_moved", b)
            _positive(f"series {label!r}: seconds", s)
        ax.plot(moved, [b / s / 1e9 for b, s in zip(moved, seconds)], "o-", color=PALETTE[(4, 5, 2, 6, 0)[k % 5]], label=label)
    if bandwidth is not None:
        bw = _positive("bandwidth", bandwidth)
        ax.axhline(bw / 1e9, color="#333", ls="--", lw=1.2, label=f"{bandwidth_label}: {bw / 1e12:g} TB/s")
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("bytes moved per call (read + written)")
    ax.set_ylabel("achieved GB/s")
    ax.set_title(title or "Bandwidth: bytes moved / time")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    plt.close(fig)  # shown once, by the notebook's display of the returned figure
    return fig
