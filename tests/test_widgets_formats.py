"""lowbit_ref.widgets.formats (lesson 07's layout map) and the map it draws (lowbit_ref.formats.maps)."""

import ipywidgets as W
import pytest
import torch
from IPython.display import HTML

from lowbit_ref.errors import LowbitError
from lowbit_ref.formats import to_tq2_0
from lowbit_ref.formats.maps import FORMATS, layout_map
from lowbit_ref.widgets.formats import element_colour, layout_map_html, layout_map_viewer, where_is


def test_layout_map_pins_the_drawings_in_the_docstrings():
    tq2 = layout_map("TQ2_0 (llama.cpp)")
    assert len(tq2) == 64
    for c in range(2):
        for m in range(32):  # byte 32c + m holds 128c + m + 32n in bits 2n
            assert tq2[32 * c + m] == [(128 * c + m + 32 * n, f"bits {2 * n + 1}-{2 * n}") for n in (3, 2, 1, 0)]
    tq1 = layout_map("TQ1_0 (llama.cpp)")
    assert len(tq1) == 52
    assert tq1[5] == [(5 + 32 * j, f"digit {j}") for j in range(5)]
    assert tq1[32 + 3] == [(160 + 3 + 16 * j, f"digit {j}") for j in range(5)]
    assert tq1[48 + 1] == [(240 + 1 + 4 * j, f"digit {j}") for j in range(4)]
    assert layout_map("BitNet (Hugging Face)")[1] == [(13, "bits 7-6"), (9, "bits 5-4"), (5, "bits 3-2"), (1, "bits 1-0")]
    assert layout_map("AWQ 4-bit") == [
        [(2, "bits 7-4"), (0, "bits 3-0")], [(6, "bits 7-4"), (4, "bits 3-0")],
        [(3, "bits 7-4"), (1, "bits 3-0")], [(7, "bits 7-4"), (5, "bits 3-0")],
    ]
    assert layout_map("GPTQ 4-bit")[3] == [(7, "bits 7-4"), (6, "bits 3-0")]
    assert layout_map("NF4 (bitsandbytes)")[2] == [(4, "bits 7-4"), (5, "bits 3-0")]
    assert layout_map("torchao uint2")[0] == [(12, "bits 7-6"), (8, "bits 5-4"), (4, "bits 3-2"), (0, "bits 1-0")]
    assert layout_map("HQQ 2-bit")[0] == [(0, "bits 7-6"), (4, "bits 5-4"), (8, "bits 3-2"), (12, "bits 1-0")]
    assert layout_map("course 2-bit (lesson 03)")[0] == [(3, "bits 7-6"), (2, "bits 5-4"), (1, "bits 3-2"), (0, "bits 1-0")]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_element_has_exactly_one_place(fmt):
    n = FORMATS[fmt][0]
    seen = sorted(i for byte in layout_map(fmt) for i, _ in byte)
    assert seen == list(range(n))


def test_map_agrees_with_the_packer_bit_by_bit():
    # element 200 = 128 + 2 * 32 + 8 set to trit 1 (field 2) among trit 0 (field 1): byte 32 + 8, bits 5-4
    trits = torch.zeros(256, dtype=torch.int8)
    trits[200] = 1
    data = to_tq2_0(trits, torch.ones(1))[:64]
    assert where_is("TQ2_0 (llama.cpp)", 200) == [(40, "bits 5-4")]
    assert data[40].item() == 0b01100101 and (data[torch.arange(64) != 40] == 0b01010101).all()


def test_layout_map_bad_format():
    with pytest.raises(LowbitError, match=r"layout_map: fmt must be one of \[.*'TQ2_0 \(llama.cpp\)'.*\], got 'Q4_K'"):
        layout_map("Q4_K")


def test_layout_map_html_colours_and_names_byte_mates():
    page = layout_map_html("TQ2_0 (llama.cpp)", 33)
    assert "256 elements in 64 bytes" in page
    assert "Element 33 is in byte 1, bits 3-2; it shares its byte with elements [1, 65, 97]." in page
    assert page.count("class='mark'") == 1 and f"background:{element_colour(33, 256)}" in page
    assert "it shares its byte with elements [0, 1, 2]" in layout_map_html("course 2-bit (lesson 03)", 3)
    assert "element must be in 0..7, got 8" in layout_map_html("AWQ 4-bit", 8)
    assert "fmt must be one of" in layout_map_html("nope")
    assert element_colour(0, 256) == "hsl(0, 75%, 72%)" and element_colour(255, 256) == "hsl(300, 75%, 72%)"


def test_layout_map_viewer_redraws():
    box = layout_map_viewer("TQ2_0 (llama.cpp)", 255)
    (choice, element), out = box.children[0].children, box.children[1]
    assert "Element 255 is in byte 63, bits 7-6" in out.value
    choice.value = "AWQ 4-bit"  # 8 elements: the slider shrinks and the element follows
    assert element.max == 7 and "Element 7 is in byte 3, bits 7-4" in out.value
    element.value = 1
    assert "Element 1 is in byte 2, bits 3-0; it shares its byte with elements [3]." in out.value


def test_layout_map_viewer_is_static_while_nbgrader_executes(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    view = layout_map_viewer("TQ1_0 (llama.cpp)", 32)
    assert isinstance(view, HTML) and not isinstance(view, W.Widget)
    assert "Element 32 is in byte 0, digit 1" in view.data
