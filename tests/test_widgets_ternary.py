"""lowbit_ref.widgets.ternary: lesson 03's demo weights, threshold explorer and group-size plot."""

import ipywidgets as W
import matplotlib.pyplot as plt
import pytest
import torch
from IPython.display import HTML
from matplotlib.figure import Figure

from lowbit_ref.errors import LowbitError
from lowbit_ref.ternary import quantize_ternary
from lowbit_ref.widgets.ternary import (
    OUTLIER_FACTOR,
    demo_weights,
    group_size_plot,
    relative_error,
    threshold_explorer,
)


def test_demo_weights_are_reproducible_and_outliers_are_scaled_copies():
    w = demo_weights(8, 64, outlier_share=0.0, seed=1)
    assert w.shape == (8, 64) and w.dtype == torch.float32
    assert torch.equal(w, demo_weights(8, 64, outlier_share=0.0, seed=1))
    assert not torch.equal(w, demo_weights(8, 64, outlier_share=0.0, seed=2))
    heavy = demo_weights(8, 64, outlier_share=0.25, seed=1)
    moved = heavy != w
    assert 0 < moved.float().mean() < 0.5  # about a quarter of the values, the rest untouched
    assert torch.allclose(heavy[moved], w[moved] * OUTLIER_FACTOR)
    # every row has its own spread, as the lesson says
    spreads = w.std(dim=1)
    assert spreads.max() > 1.2 * spreads.min()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rows": 0}, r"rows must be a positive int, got 0"),
        ({"cols": 2.5}, r"cols must be a positive int, got 2\.5"),
        ({"outlier_share": 1.5}, r"outlier_share must be a number in \[0, 1\], got 1\.5"),
    ],
)
def test_demo_weights_refuses_bad_arguments(kwargs, message):
    with pytest.raises(LowbitError, match=message):
        demo_weights(**kwargs)


def test_relative_error():
    w = torch.tensor([3.0, 4.0])
    assert relative_error(w, torch.zeros(2)) == 1.0
    assert relative_error(w, w.clone()) == 0.0
    assert relative_error(w, torch.tensor([3.0, 3.0])) == pytest.approx(0.2)


def test_threshold_explorer_reports_what_the_library_computes():
    box = threshold_explorer(0.0, rows=8, cols=64, seed=3)
    slider, image, note = box.children
    assert isinstance(slider, W.FloatSlider) and isinstance(image, W.Image)
    assert image.value[:8] == b"\x89PNG\r\n\x1a\n"
    codes, scale = quantize_ternary(demo_weights(8, 64, outlier_share=0.0, seed=3))
    zeros = float((codes == 0).float().mean())
    assert f"scale = mean|w| = <b>{float(scale):.4f}</b>" in note.value
    assert f"<b>{zeros:.1%}</b> zeros" in note.value and "outliers 0.0%" in note.value

    before = image.value
    slider.value = 0.05  # more outliers: a larger scale, redrawn
    codes, scale = quantize_ternary(demo_weights(8, 64, outlier_share=0.05, seed=3))
    assert "outliers 5.0%" in note.value and f"<b>{float(scale):.4f}</b>" in note.value
    assert image.value != before


def test_threshold_explorer_is_static_while_nbgrader_executes(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    view = threshold_explorer(0.01, rows=8, cols=64)
    assert isinstance(view, HTML) and not isinstance(view, W.Widget)
    assert "data:image/png;base64," in view.data and "zeros" in view.data and "relative error" in view.data


def test_group_size_plot_draws_error_against_group_size_and_bits():
    results = [(16, 3.0, 0.60), (64, 2.25, 0.65), (4096, 2 + 16 / 4096, 0.70), (None, 2.0, 0.80)]
    before = plt.get_fignums()
    fig = group_size_plot(results)
    assert isinstance(fig, Figure) and plt.get_fignums() == before  # closed: shown once, by display
    left, right = fig.axes
    assert list(left.lines[0].get_ydata()) == [0.60, 0.65, 0.70, 0.80]
    assert [t.get_text() for t in left.get_xticklabels()] == ["16", "64", "4096", "tensor"]
    assert list(right.lines[0].get_xdata()) == [3.0, 2.25, 2 + 16 / 4096, 2.0]
    assert {t.get_text() for t in right.texts} == {"16", "64", "4096", "tensor"}


def test_group_size_plot_refuses_malformed_results():
    with pytest.raises(LowbitError, match=r"results must be a non-empty list of \(group_size, bits_per_weight, error\)"):
        group_size_plot([])
    with pytest.raises(LowbitError, match="got"):
        group_size_plot([(16, 3.0)])
