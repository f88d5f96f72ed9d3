"""Lesson 05's views: where a mixed-width checkpoint's bytes go, what each width costs, and the
accuracy at each width and granularity (``bits_accuracy_view``).

Every number comes from ``lowbit_ref.checkpoint``: the explorer writes a model with
``save_model``, measures the file with ``size_report`` and reads it back with ``load_model``.
This module only draws.
"""

from __future__ import annotations

import base64
import copy
import html
import io
import os
import tempfile
from collections.abc import Mapping

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from ..checkpoint import MODEL_WIDTHS, SizeReport, load_model, save_model, size_report
from ..quantize import dequantize, quantize_uint
from ..errors import LowbitError, describe
from ._draw import PALETTE, grading

#: What the explorer offers per layer: the widths ``checkpoint.save_model`` takes.
WIDTHS = MODEL_WIDTHS
#: One colour per stored width, the same in every picture of the lesson (32: a float32 tensor).
WIDTH_COLOURS = {32: PALETTE[7], 8: PALETTE[4], 7: PALETTE[1], 6: PALETTE[2], 5: PALETTE[3], 4: PALETTE[0],
                 3: PALETTE[6], 2: PALETTE[5], 1: "#000000", 1.6: PALETTE[2]}


def _accuracy(model: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(inputs).argmax(dim=1) == labels).float().mean())


# --- size per layer ------------------------------------------------------------------------------


def _label(bits: float) -> str:
    return "float32" if bits == 32 else "trits, 1.6-bit" if bits == 1.6 else f"{bits:g}-bit"


def layer_sizes_plot(report: SizeReport, title: str | None = None) -> Figure:
    """One bar per tensor of a checkpoint: what it takes in float32 (outline) and in the file
    (filled, coloured by width; codes plus scales and zero points), and a bar for the header.

    ``report``: ``lowbit_ref.checkpoint.size_report(path)`` of a saved file (or of a state dict:
    then there is no header bar). Returns the Figure (the caller displays and closes it).
    """
    if not isinstance(report, SizeReport) or not report.rows:
        raise LowbitError(f"report must be a SizeReport with at least one tensor, got {describe(report)}")
    rows = list(report.rows)
    names = [r.name for r in rows]
    header = None if report.file_bytes is None else report.file_bytes - report.stored_bytes
    if header is not None:
        names.append("header")
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(names) + 1.3))
    y = list(range(len(names)))
    ax.barh(y[: len(rows)], [r.fp32_bytes for r in rows], color="none", edgecolor="#555", linewidth=1,
            label="float32")
    ax.barh(y[: len(rows)], [r.stored_bytes for r in rows], color=[WIDTH_COLOURS.get(r.bits, PALETTE[7]) for r in rows])
    if header is not None:
        ax.barh([y[-1]], [header], color="#bbbbbb", hatch="//", edgecolor="#555")
    widest = max([r.fp32_bytes for r in rows] + [header or 0])
    for i, r in enumerate(rows):
        ax.text(max(r.stored_bytes, r.fp32_bytes) + widest * 0.01, i,
                f"{_label(r.bits)}: {r.stored_bytes:,} B" + ("" if r.bits == 32 else f" (float32 {r.fp32_bytes:,} B)"),
                va="center", fontsize=8)
    if header is not None:
        ax.text(header + widest * 0.01, y[-1], f"names, layout, checksums: {header:,} B", va="center", fontsize=8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, widest * 1.6)  # room for the labels
    ax.set_xlabel("bytes   (outline: the tensor in float32; filled: what the file holds)")
    if title is None:
        total = report.file_bytes if report.file_bytes is not None else report.stored_bytes
        title = (f"{total:,} bytes in all, {report.fp32_bytes:,} in float32: "
                 f"{report.compression:.2f}x smaller")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    plt.close(fig)  # shown once, by the notebook's display of the return value
    return fig


# --- accuracy against file size ------------------------------------------------------------------


def accuracy_size_plot(results, baseline: tuple[int, float]) -> Figure:
    """Test accuracy against file size, one labelled point per configuration.

    ``results``: ``(label, file_bytes, accuracy)`` tuples, accuracy in [0, 1]; ``baseline``:
    ``(file_bytes, accuracy)`` of the float32 model, drawn as a point and a dashed line.
    """
    results = list(results)
    if not results or any(len(r) != 3 for r in results):
        raise LowbitError(f"results must be a non-empty list of (label, file_bytes, accuracy), got {describe(results)}")
    if len(baseline) != 2:
        raise LowbitError(f"baseline must be (file_bytes, accuracy), got {describe(baseline)}")
    fig, ax = plt.subplots(figsize=(8, 4.2))
    base_kb, base_acc = baseline[0] / 1e3, 100 * baseline[1]
    ax.axhline(base_acc, color="#555", linestyle="--", linewidth=1)
    ax.scatter([base_kb], [base_acc], color="#555", marker="s", zorder=3,
               label=f"float32: {base_kb:.1f} kB, {base_acc:.1f} %")
    markers = "ovD^<>pP*hX"
    colours = [PALETTE[i] for i in (0, 1, 2, 4, 5, 6, 3)]  # the pale yellow last: it is hard to see on white
    for i, (label, size, acc) in enumerate(results):
        ax.scatter([size / 1e3], [100 * acc], color=colours[i % len(colours)], marker=markers[i % len(markers)],
                   s=45, zorder=3, label=f"{label}: {size / 1e3:.1f} kB, {100 * acc:.1f} %")
    ax.set_xscale("log")
    sizes = [base_kb] + [r[1] / 1e3 for r in results]
    ax.set_xlim(min(sizes) / 1.3, max(sizes) * 1.3)
    # plain numbers on the log axis: 5, 10, 20, 50 kB read better than powers of ten
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if min(sizes) / 1.3 <= t <= max(sizes) * 1.3]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=8, loc="lower right", frameon=True)
    ax.set_xlabel("file size (kB = 1000 bytes, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("accuracy after a trip through the file, against its size", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    plt.close(fig)
    return fig


# --- choosing a width per layer ------------------------------------------------------------------


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


def _measure(model, inputs, labels, plan) -> tuple[SizeReport, float]:
    with tempfile.TemporaryDirectory(prefix="lowbit-explorer-") as folder:
        path = os.path.join(folder, "model.safetensors")
        save_model(model, plan, path)
        report = size_report(path)
        restored = load_model(path, copy.deepcopy(model))
    return report, _accuracy(restored, inputs, labels)


def plan_explorer(model: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor, plan: Mapping | None = None):
    """Pick a width for each weight matrix of ``model``; see the file's size per layer and the
    model's accuracy on ``(inputs, labels)`` after a trip through the file.

    ``plan``: the starting widths (weight name -> one of ``WIDTHS``); weights it leaves out start at 4.
    """
    weights = [name for name, t in model.state_dict().items() if t.is_floating_point() and t.dim() == 2]
    if not weights:
        raise LowbitError(f"model must have at least one 2-D weight matrix, got entries {describe(list(model.state_dict()))}")
    start = {name: 4 for name in weights}
    if plan is not None:
        if not isinstance(plan, Mapping):
            raise LowbitError(f"plan must be a dict of weight names to widths, got {describe(plan)}")
        start.update(plan)  # save_model, in the first draw, refuses a bad plan before anything is shown
    baseline = _accuracy(model, inputs, labels)

    def draw(current: dict) -> tuple[bytes, str]:
        report, acc = _measure(model, inputs, labels, current)
        fig = layer_sizes_plot(report)
        png = _png(fig)
        plt.close(fig)
        widths = ", ".join(f"{html.escape(n)}: {b}" for n, b in current.items())
        note = (f"<div class='lowbit-note'>{widths} &rarr; file <b>{report.file_bytes:,}</b> bytes, "
                f"<b>{report.compression:.2f}x</b> smaller than float32; test accuracy <b>{100 * acc:.1f} %</b> "
                f"(float32: {100 * baseline:.1f} %)</div>")
        return png, note

    png, note = draw(dict(start))
    if grading():
        data = base64.b64encode(png).decode("ascii")
        return HTML(f"<img src='data:image/png;base64,{data}' alt='size per layer'/>{note}")

    pickers = [W.Dropdown(options=WIDTHS, value=start[name], description=name,
                          layout=W.Layout(width="180px")) for name in weights]
    image = W.Image(value=png, format="png")
    out = W.HTML(note)

    def redraw(_change):
        image.value, out.value = draw({name: p.value for name, p in zip(weights, pickers)})

    for p in pickers:
        p.observe(redraw, names="value")
    return W.VBox([W.HBox(pickers), image, out])


# --- accuracy against bits, live ----------------------------------------------------------------

#: Granularities the accuracy view offers: label -> group size of a weight of shape (out, in).
GRANULARITIES = {"per tensor": lambda w: None, "per output row": lambda w: w.shape[1],
                 "groups of 16": lambda w: 16 if w.shape[1] % 16 == 0 else w.shape[1]}


def accuracy_by_bits(model: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *,
                     symmetric: bool = False) -> dict[str, list[float]]:
    """Accuracy of ``model`` on ``(inputs, labels)`` with every 2-D weight quantized (``quantize_uint``,
    then dequantized) to 1..8 bits, for each of ``GRANULARITIES``: label -> 8 accuracies (symmetric
    quantization has no 1-bit code: its first entry is NaN)."""
    weights = [name for name, t in model.state_dict().items() if t.is_floating_point() and t.dim() == 2]
    if not weights:
        raise LowbitError(f"model must have at least one 2-D weight matrix, got entries {describe(list(model.state_dict()))}")
    curves = {}
    for label, group in GRANULARITIES.items():
        curves[label] = []
        for bits in range(1, 9):
            if symmetric and bits == 1:
                curves[label].append(float("nan"))
                continue
            net = copy.deepcopy(model)
            state = net.state_dict()
            for name in weights:
                w = state[name]
                q = quantize_uint(w, bits, group_size=group(w), symmetric=symmetric)
                state[name] = dequantize(q).to(w.dtype)
            net.load_state_dict(state)
            curves[label].append(_accuracy(net, inputs, labels))
    return curves


def _curves_figure(curves: dict, baseline: float, bits: int, granularity: str, title: str) -> Figure:
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    ax.axhline(100 * baseline, color="#555", linestyle="--", linewidth=1, label=f"float32: {100 * baseline:.1f} %")
    for i, (label, accs) in enumerate(curves.items()):
        ax.plot(range(1, 9), [100 * a for a in accs], marker="o", color=PALETTE[i], label=label,
                linewidth=2.5 if label == granularity else 1, alpha=1 if label == granularity else 0.6)
    ax.scatter([bits], [100 * curves[granularity][bits - 1]], s=160, facecolor="none", edgecolor="#000",
               linewidth=2, zorder=4)
    ax.set_xlabel("bits per weight (every layer)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def bits_accuracy_view(model: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *, bits: int = 4,
                       granularity: str = "per output row"):
    """A slider for the width and a choice of granularity: the model's accuracy with every weight
    quantized that way, on the curves of all widths and granularities (computed once, up front)."""
    if type(bits) is not int or not 1 <= bits <= 8:
        raise LowbitError(f"bits must be an int in 1..8, got {describe(bits)}")
    if granularity not in GRANULARITIES:
        raise LowbitError(f"granularity must be one of {list(GRANULARITIES)}, got {describe(granularity)}")
    curves = accuracy_by_bits(model, inputs, labels)
    baseline = _accuracy(model, inputs, labels)

    def draw(b: int, g: str) -> tuple[bytes, str]:
        acc = curves[g][b - 1]
        png = _png(_curves_figure(curves, baseline, b, g, f"{b} bits, {g}: {100 * acc:.1f} % "
                                                           f"(float32 {100 * baseline:.1f} %)"))
        note = (f"<div class='lowbit-note'>every weight at <b>{b} bits</b>, one scale and zero point "
                f"<b>{html.escape(g)}</b>: test accuracy <b>{100 * acc:.1f} %</b></div>")
        return png, note

    png, note = draw(bits, granularity)
    if grading():
        data = base64.b64encode(png).decode("ascii")
        return HTML(f"<img src='data:image/png;base64,{data}' alt='accuracy against bits'/>{note}")
    slider = W.IntSlider(value=bits, min=1, max=8, description="bits")
    choice = W.Dropdown(options=list(GRANULARITIES), value=granularity, description="scales")
    image, out = W.Image(value=png, format="png"), W.HTML(note)

    def redraw(_change):
        image.value, out.value = draw(slider.value, choice.value)

    slider.observe(redraw, names="value")
    choice.observe(redraw, names="value")
    return W.VBox([W.HBox([slider, choice]), image, out])
