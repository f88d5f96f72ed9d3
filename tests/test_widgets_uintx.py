"""lowbit_ref.widgets.uintx: lesson 02's layout viewer and timing plot."""

import ipywidgets as W
import matplotlib.pyplot as plt
import pytest
import torch
from IPython.display import HTML
from matplotlib.figure import Figure

from lowbit_ref.uintx import pack
from lowbit_ref.widgets.uintx import bit_owners, layout_html, layout_viewer, timing_plot


def owner_indices(owners):
    return [[None if o is None else o[0] for o in byte] for byte in owners]


def test_bit_owners_pins_the_drawings():
    # positions 0..7 of each byte (lowest bit first)
    assert owner_indices(bit_owners(4, 2)) == [[0, 0, 1, 1, 2, 2, 3, 3]]
    assert owner_indices(bit_owners(4, 2, "msb")) == [[3, 3, 2, 2, 1, 1, 0, 0]]
    assert owner_indices(bit_owners(8, 3)) == [
        [0, 0, 0, 1, 1, 1, 2, 2],
        [2, 3, 3, 3, 4, 4, 4, 5],
        [5, 5, 6, 6, 6, 7, 7, 7],
    ]
    # 3 values of 3 bits: 9 bits, so byte 1 is one bit of value 2 and seven padding bits
    assert owner_indices(bit_owners(3, 3)) == [[0, 0, 0, 1, 1, 1, 2, 2], [2] + [None] * 7]
    assert bit_owners(3, 3)[1][0] == (2, 2)  # value 2's top bit
    assert owner_indices(bit_owners(3, 3, "msb")) == [[2, 2, 1, 1, 1, 0, 0, 0], [None] * 7 + [2]]
    assert bit_owners(0, 5) == []


@pytest.mark.parametrize("order", ["lsb", "msb"])
@pytest.mark.parametrize("bits", range(1, 9))
def test_bit_owners_agree_with_pack(bits, order):
    # Pack one value at a time with all its bits set: exactly the bits the viewer gives that
    # value must light up, so the drawing cannot drift from the library.
    for n in (1, 5, 8, 11):
        owners = bit_owners(n, bits, order)
        one_hot = torch.eye(n, dtype=torch.uint8) * (2**bits - 1)  # (n, n): row i sets value i
        rows = pack(one_hot, bits, order=order).data  # (n, nbytes)
        assert len(owners) == rows.shape[1]
        for i in range(n):
            lit = {(b, p) for b, byte in enumerate(rows[i].tolist()) for p in range(8) if byte >> p & 1}
            owned = {(b, p) for b, byte in enumerate(owners) for p in range(8) if byte[p] and byte[p][0] == i}
            assert lit == owned, f"bits={bits} order={order} n={n} value {i}"


@pytest.mark.parametrize("order", ["lsb", "msb"])
@pytest.mark.parametrize("bits", range(1, 9))
def test_bit_owners_name_the_right_bit_of_each_value(bits, order):
    torch.manual_seed(bits)
    values = torch.randint(0, 2**bits, (13,), dtype=torch.uint8)
    data = pack(values, bits, order=order).data.tolist()
    rebuilt = [0] * 13
    for b, byte in enumerate(bit_owners(13, bits, order)):
        for p, owner in enumerate(byte):
            if owner is not None:
                i, q = owner
                rebuilt[i] |= (data[b] >> p & 1) << q
            else:
                assert data[b] >> p & 1 == 0, "padding bits are zero"
    assert rebuilt == values.tolist()


def test_layout_html_shows_bytes_splits_and_padding():
    page = layout_html([1, 0, 3, 2], 2)
    assert "= 177" in page and "lowest" in page and "split" not in page and "padding bit" not in page
    assert "= 78" in layout_html([1, 0, 3, 2], 2, "msb")
    page = layout_html("7, 0, 7", 3)  # 0b111 | 0b111 << 6 = 199, then value 2's top bit: 1
    assert "= 199" in page and "= 1<" in page
    assert (
        "value 2 is split across two bytes: its bits 0&ndash;1 in bits 6&ndash;7 of byte 0 "
        "and its bit 2 in bit 0 of byte 1." in page
    )
    assert "3 values &times; 3 bits = 9 bits &rarr; 2 bytes" in page and "7 padding bits (grey) fill up" in page
    page = layout_html([1, 0, 3, 2, 5], 3, "msb")  # msb: value 2's top bits come first, in byte 0
    assert "value 2 is split across two bytes: its bits 1&ndash;2 in bits 0&ndash;1 of byte 0 and its bit 0 in bit 7 of byte 1." in page
    assert "1 padding bit (grey) fills up" in page and "value 4 = 5 = 101" in page


def test_layout_html_shows_the_library_error_for_values_that_do_not_fit():
    page = layout_html([1, 0, 3, 2], 1)
    assert "values must be in 0..1 to fit bits=1" in page and "<table" not in page
    assert "integers separated by commas" in layout_html("1, x", 2)
    assert "1 to 16 integers" in layout_html("", 2)
    assert "0..255" in layout_html([300], 8)


def test_layout_viewer_redraws_on_every_control():
    box = layout_viewer([1, 0, 3, 2], 2)
    (values, width), order, out = box.children[0].children, box.children[1], box.children[2]
    assert "= 177" in out.value
    order.value = "msb"
    assert "= 78" in out.value and "highest" in out.value
    order.value = "lsb"
    width.value = 3
    assert "= 193" in out.value and "= 4<" in out.value and "value 2 is split" in out.value
    values.value = "0b111, 0, 0, 0, 0, 0, 0, 0"
    assert "= 7<" in out.value and "padding bit" not in out.value
    width.value = 1
    assert "to fit bits=1" in out.value


def test_layout_viewer_is_static_while_nbgrader_executes(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    view = layout_viewer([1, 0, 3, 2], 2, "msb")
    assert isinstance(view, HTML) and not isinstance(view, W.Widget)
    assert "= 78" in view.data


def test_timing_plot_draws_log_log_and_leaves_no_open_figure():
    before = plt.get_fignums()
    fig = timing_plot({"loop": ([64, 1024], [1e-4, 2e-3]), "vectorized": ([64, 1024, 65536], [1e-5, 2e-5, 1e-4])})
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["loop", "vectorized"]
    assert any("100x at 1,024 values" in t.get_text() for t in ax.texts)
    with pytest.raises(ValueError, match="series 'loop': 2 sizes but 1 timings"):
        timing_plot({"loop": ([1, 2], [0.1])})
