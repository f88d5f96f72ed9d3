"""Lesson 03's views: where absmean puts the ternary thresholds, and what smaller groups buy.

The quantization itself is ``lowbit_ref.ternary``'s; these functions make demo weights, draw, and
report what the library produced.
"""

from __future__ import annotations

import base64
import io
import numbers

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import LowbitError, describe
from ..ternary import dequantize_ternary, quantize_ternary
from ._draw import PALETTE, grading

# One colour per code, the same in every picture of this lesson.
CODE_COLOURS = {-1: PALETTE[4], 0: PALETTE[7], 1: PALETTE[0]}
OUTLIER_FACTOR = 8.0


def _positive_int(name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise LowbitError(f"{name} must be a positive int, got {describe(value)}")
    return int(value)


def demo_weights(rows: int = 128, cols: int = 4096, *, outlier_share: float = 0.01, seed: int = 0) -> torch.Tensor:
    """A float32 ``(rows, cols)`` matrix shaped like a trained linear layer's weights, from a seed.

    Values are Gaussian; each row (one output unit) has its own spread, log-normal around 0.02,
    as rows of real layers do; and a share ``outlier_share`` of the values is ``OUTLIER_FACTOR``
    times larger, the heavy tails real weights have. Same arguments, same tensor.
    """
    rows, cols = _positive_int("rows", rows), _positive_int("cols", cols)
    if not isinstance(outlier_share, numbers.Real) or not 0 <= outlier_share <= 1:
        raise LowbitError(f"outlier_share must be a number in [0, 1], got {describe(outlier_share)}")
    g = torch.Generator().manual_seed(seed)
    spread = 0.02 * torch.exp(0.5 * torch.randn(rows, 1, generator=g))  # (rows, 1)
    w = torch.randn(rows, cols, generator=g)  # (rows, cols)
    outlier = torch.rand(rows, cols, generator=g) < outlier_share
    return torch.where(outlier, w * OUTLIER_FACTOR, w) * spread


def relative_error(weights: torch.Tensor, approx: torch.Tensor) -> float:
    """``||weights - approx|| / ||weights||``: 0 is perfect, 1 is as bad as storing all zeros."""
    return float((weights - approx).norm() / weights.norm())


# --- the threshold explorer ----------------------------------------------------------------------


def _explorer_state(weights: torch.Tensor) -> dict:
    codes, scale = quantize_ternary(weights)
    approx = dequantize_ternary(codes, scale)
    return {
        "weights": weights,
        "codes": codes,
        "scale": float(scale),
        "zeros": float((codes == 0).float().mean()),
        "error": relative_error(weights, approx),
    }


def _histogram_png(state: dict, edge: float) -> bytes:
    """The histogram on ``[-edge, edge]``; weights beyond it are counted in the two edge bins."""
    w, codes, s = state["weights"].flatten(), state["codes"].flatten(), state["scale"]
    fig = Figure(figsize=(7.5, 3.0), dpi=80)  # no pyplot: nothing global to close
    ax = fig.add_subplot()
    bins = torch.linspace(-edge, edge, 97).tolist()
    shown = w.clamp(-edge, edge)
    for code, label in ((-1, "becomes -1"), (0, "becomes 0"), (1, "becomes +1")):
        ax.hist(shown[codes == code].tolist(), bins=bins, color=CODE_COLOURS[code], label=label)
    ax.axvspan(-s / 2, s / 2, color=CODE_COLOURS[0], alpha=0.15)
    for x in (-s / 2, s / 2):
        ax.axvline(x, color="black", linestyle="--", linewidth=1)
    for x in (-s, s):
        ax.axvline(x, color="black", linewidth=1)
    beyond = int((w.abs() > edge).sum())
    ax.set_xlim(-edge, edge)
    ax.set_xlabel("weight   (dashed: thresholds \u00b1scale/2, solid: levels \u00b1scale)")
    ax.set_ylabel("count")
    ax.set_title(f"{beyond} weights beyond \u00b1{edge:.3f} are counted in the edge bins", fontsize=9)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


def _explorer_note(state: dict, share: float) -> str:
    return (
        f"<div class='lowbit-note'>outliers {share:.1%} &rarr; scale = mean|w| = <b>{state['scale']:.4f}</b>; "
        f"weights in (&minus;{state['scale'] / 2:.4f}, {state['scale'] / 2:.4f}) become 0: "
        f"<b>{state['zeros']:.1%}</b> zeros; relative error <b>{state['error']:.3f}</b></div>"
    )


def threshold_explorer(outlier_share: float = 0.01, *, rows: int = 64, cols: int = 1024, seed: int = 0):
    """Histogram of ``demo_weights`` coloured by the code each weight gets from per-tensor
    ``quantize_ternary``, with the thresholds ±scale/2 and the levels ±scale drawn; a slider sets
    the share of outliers and the note reports the scale, the share of zeros and the relative error.
    """
    rows, cols = _positive_int("rows", rows), _positive_int("cols", cols)

    # One x range for every slider position, so the thresholds are seen to move.
    edge = 4 * _explorer_state(demo_weights(rows, cols, outlier_share=0.0, seed=seed))["scale"]

    def draw(share: float) -> tuple[bytes, str]:
        state = _explorer_state(demo_weights(rows, cols, outlier_share=share, seed=seed))
        return _histogram_png(state, edge), _explorer_note(state, share)

    png, note = draw(outlier_share)
    if grading():
        data = base64.b64encode(png).decode("ascii")
        return HTML(f"<img src='data:image/png;base64,{data}' alt='weight histogram'/>{note}")

    slider = W.FloatSlider(
        value=outlier_share, min=0.0, max=0.1, step=0.005, description="outliers",
        readout_format=".1%", continuous_update=False,
    )
    image = W.Image(value=png, format="png")
    out = W.HTML(note)

    def redraw(change):
        image.value, out.value = draw(change["new"])

    slider.observe(redraw, names="value")
    return W.VBox([slider, image, out])


# --- error against group size --------------------------------------------------------------------


def group_size_plot(results) -> Figure:
    """Two panels from ``results``, a list of ``(group_size, bits_per_weight, error)`` with
    ``group_size`` None for one scale per tensor: the error against the group size, and the error
    against what each choice costs in bits per weight."""
    results = list(results)
    if not results or any(len(r) != 3 for r in results):
        raise LowbitError(f"results must be a non-empty list of (group_size, bits_per_weight, error), got {describe(results)}")
    labels = ["tensor" if g is None else str(g) for g, _, _ in results]
    bits = [b for _, b, _ in results]
    errors = [e for _, _, e in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    left.plot(range(len(results)), errors, marker="o", color=PALETTE[4])
    left.set_xticks(range(len(results)), labels, rotation=45)
    left.set_xlabel("group size (weights sharing one scale)")
    left.set_ylabel("relative error")
    left.set_title("smaller groups: lower error")
    right.plot(bits, errors, marker="o", color=PALETTE[5])
    last = None
    for label, b, e in sorted(zip(labels, bits, errors), key=lambda r: r[1]):
        # large groups crowd together just above 2 bits: label the tensor, the largest group,
        # then one point per 0.1 bit
        if label == "tensor" or last is None or b - last >= 0.1:
            right.annotate(label, (b, e), textcoords="offset points", xytext=(4, 4), fontsize=8)
            last = b if label != "tensor" else last
    right.margins(x=0.08, y=0.12)  # room for the labels of the outermost points inside the axes
    right.set_xlabel("bits per weight (2-bit code + fp16 scale share)")
    right.set_ylabel("relative error")
    right.set_title("...at a price in storage")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)  # shown once, by the notebook's display of the return value
    return fig
