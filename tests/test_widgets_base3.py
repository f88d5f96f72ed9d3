"""lowbit_ref.widgets.base3: the byte <-> five-trit viewer and the size / speed chart."""

import ipywidgets as W
import matplotlib.pyplot as plt
import pytest
from IPython.display import HTML
from matplotlib.figure import Figure

from lowbit_ref import LowbitError
from lowbit_ref.widgets.base3 import size_speed_chart, trit_byte_viewer


def parts(box):
    columns, slider, out = box.children
    return [column.children[1] for column in columns.children], slider, out


def test_viewer_shows_the_worked_example_as_a_sum_of_powers_of_three():
    pickers, slider, out = parts(trit_byte_viewer((1, 0, -1, -1, 1)))
    assert [p.value for p in pickers] == [1, 0, -1, -1, 1]
    assert slider.value == 167 and (slider.min, slider.max) == (0, 242)
    assert "2\u00b71 + 1\u00b73 + 0\u00b79 + 0\u00b727 + 2\u00b781 = <b>167</b> = 0b10100111" in out.value
    # five trits at 2 bits: [1, 0, -1, -1] -> fields 2, 1, 0, 0 -> 0b00000110 = 6, and a second byte
    # for trit 4: field 2, then three padding fields 1 (trit 0) -> 0b01010110 = 86
    assert "= 6</th>" in out.value and "= 86</th>" in out.value and "needs <b>2</b> bytes" in out.value


def test_trits_drive_the_slider_and_the_slider_drives_the_trits():
    pickers, slider, out = parts(trit_byte_viewer())
    pickers[4].value = 0  # t4 from +1 to 0: the byte drops by 81
    assert slider.value == 167 - 81 and "<b>86</b>" in out.value
    slider.value = 122  # [1, 0, 0, 0, 0]: the padding byte of a lone +1
    assert [p.value for p in pickers] == [1, 0, 0, 0, 0]
    assert "<b>122</b> = 0b01111010" in out.value
    slider.value = 0
    assert [p.value for p in pickers] == [-1] * 5 and slider.value == 0


def test_viewer_starts_from_a_byte_too():
    pickers, slider, _ = parts(trit_byte_viewer(242))
    assert [p.value for p in pickers] == [1] * 5 and slider.value == 242


@pytest.mark.parametrize("start, match", [
    (243, r"start must be a byte in 0\.\.242 .*got 243"),
    ((1, 0, 2, 0, 0), r"start must be five trits, each -1, 0 or 1, or a byte in 0\.\.242, got \[1, 0, 2, 0, 0\]"),
    ((1, 0, 0), r"start must be five trits.*got \[1, 0, 0\]"),
])
def test_viewer_refuses_bad_starts(start, match):
    with pytest.raises(LowbitError, match=match):
        trit_byte_viewer(start)


def test_viewer_is_static_while_nbgrader_executes(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    view = trit_byte_viewer((1, 0, -1, -1, 1))
    assert isinstance(view, HTML) and not isinstance(view, W.Widget)
    assert "<b>167</b>" in view.data


def test_size_speed_chart_draws_one_bar_per_format_and_the_ideal():
    rows = [("2-bit", 2.0, 0.2, 0.5), ("base-3, table", 1.6, 0.4, 0.3), ("base-3, divmod", 1.6, 0.4, 25.0)]
    before = plt.get_fignums()
    fig = size_speed_chart(rows)
    try:
        assert isinstance(fig, Figure)
        size, speed = fig.axes
        assert [round(p.get_width(), 3) for p in size.patches] == [2.0, 1.6, 1.6]
        assert [p.get_width() for p in speed.patches] == [0.5, 0.3, 25.0]
        assert [t.get_text() for t in size.get_yticklabels()] == ["2-bit", "base-3, table", "base-3, divmod"]
        assert any(round(line.get_xdata()[0], 3) == 1.585 for line in size.get_lines())  # log2 3
    finally:
        plt.close(fig)
    assert plt.get_fignums() == before
    with pytest.raises(LowbitError, match="rows must hold at least one"):
        size_speed_chart([])
