"""lowbit_ref.widgets and lowbit_ref.course: what the notebooks show and how they check answers."""

import ipywidgets as W
import pytest
import torch
from IPython.display import HTML

from lowbit_ref import widgets
from lowbit_ref.course import prefer, raises, report, same
from lowbit_ref.loop import pack_weights


def test_byte_explorer_is_interactive_and_explains_the_sign_bit():
    box = widgets.byte_explorer(177)
    toggles, out = box.children[0].children, box.children[1]
    assert [int(t.value) for t in toggles] == [1, 0, 1, 1, 0, 0, 0, 1]
    assert "uint8 <b>177</b>" in out.value and "int8 <b>-79</b>" in out.value
    toggles[0].value = False  # clear the sign bit: both readings agree
    assert "uint8 <b>49</b>" in out.value and "int8 <b>49</b>" in out.value and "agree" in out.value


def test_loop_stepper_replays_each_iteration():
    box = widgets.loop_stepper([1, 0, 3, 2], 2)
    (back, forward, slider), out = box.children[0].children, box.children[1]
    assert slider.max == 4 and "Press <b>next</b>" in out.value
    forward.click()
    forward.click()
    forward.click()  # after iteration 3: 3 shifted by 4 = 48, ORed into 1 gives 49
    assert slider.value == 3
    assert "= 48" in out.value and "= 49" in out.value and "slot 2" in out.value
    forward.click()
    forward.click()  # stays at the last step
    assert slider.value == 4 and "= 177" in out.value and "Done" in out.value
    back.click()
    assert slider.value == 3


def test_widgets_are_static_while_nbgrader_executes(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    for view in (widgets.byte_explorer(177), widgets.loop_stepper([1, 0, 3, 2], 2)):
        assert isinstance(view, HTML) and not isinstance(view, W.Widget)
        assert "177" in view.data


def test_byte_explorer_refuses_a_value_that_is_not_a_byte():
    with pytest.raises(ValueError, match=r"value must be an int in 0\.\.255, got 256"):
        widgets.byte_explorer(256)


def test_same_is_exact_about_dtype_shape_and_values():
    a = torch.tensor([177], dtype=torch.uint8)
    assert same(a.clone(), a)
    assert not same(a.to(torch.int64), a)
    assert not same(torch.tensor([[177]], dtype=torch.uint8), a)
    assert not same(torch.tensor([178], dtype=torch.uint8), a)
    assert not same([177], a)


def test_report_shows_call_expected_and_got():
    text = report("pack_weights(tensor([1, 0, 3, 2]), bits=2)", torch.tensor([177], dtype=torch.uint8), None)
    assert "call:     pack_weights" in text and "expected: tensor([177], dtype=torch.uint8" in text and "got:      NoneType" in text


def test_prefer_falls_back_until_the_student_version_works(capsys):
    def stub(x, bits):
        raise NotImplementedError

    x = torch.tensor([1, 0, 3, 2], dtype=torch.uint8)
    assert prefer(stub, pack_weights, x, 2) is pack_weights
    assert "not written yet" in capsys.readouterr().out
    wrong = lambda x, bits: torch.tensor([78], dtype=torch.uint8)  # noqa: E731 (MSB-first)
    assert prefer(wrong, pack_weights, x, 2) is pack_weights
    right = lambda x, bits: pack_weights(x, bits)  # noqa: E731
    assert prefer(right, pack_weights, x, 2) is right
    assert "use your" in capsys.readouterr().out.splitlines()[-1]


def test_raises():
    assert raises(ValueError, int, "x")
    assert not raises(ValueError, int, "3")


def test_close_is_exact_on_integers_and_tolerant_on_floats():
    from lowbit_ref.course import close

    codes = torch.tensor([1, 0, -1], dtype=torch.int8)
    assert close((codes, torch.tensor(0.25)), (codes.clone(), torch.tensor(0.25 * (1 + 1e-7))))
    assert not close((codes, torch.tensor(0.25)), (codes, torch.tensor(0.26)))
    assert not close((codes, torch.tensor(0.25)), (torch.tensor([1, 0, 0], dtype=torch.int8), torch.tensor(0.25)))
    assert not close((codes,), (codes, torch.tensor(0.25)))  # a missing part
    assert not close(torch.tensor(0.25, dtype=torch.float64), torch.tensor(0.25))  # dtype matters
    assert not close(torch.tensor([0.25]), torch.tensor(0.25))  # so does shape
    assert not close(0.25, torch.tensor(0.25))
    assert not close(torch.tensor(float("nan")), torch.tensor(float("nan")))


def test_prefer_takes_a_check_for_float_and_tuple_results(capsys):
    from lowbit_ref.course import close

    def reference(w):
        return torch.sign(w).to(torch.int8), w.abs().mean()

    def student(w):  # the same answer, with a scale rounded differently
        return torch.sign(w).to(torch.int8), w.abs().sum() / w.numel() * (1 + 1e-7)

    w = torch.tensor([0.5, -3.5, 0.0, 1.0])
    assert prefer(student, reference, w) is reference  # `same` is exact: a tuple is never "same"
    assert prefer(student, reference, w, check=close) is student
    assert "use your" in capsys.readouterr().out.splitlines()[-1]


def test_divisions_finds_every_way_to_divide_and_nothing_else():
    import torch as t
    from lowbit_ref.course import divisions

    def fast(v):
        q = t.ceil(v.float() * (256 / 243)).to(t.int32)  # a constant ratio is not a division
        return [(q * 3) >> 8, f"{q}", "%d" % 3]

    def slow(v):
        v //= 3
        return [v % 3, v / 2, t.div(v, 3, rounding_mode="floor"), v.remainder(3), t.fmod(v, 3), divmod(7, 3), v.floor_divide(3)]

    assert divisions(fast) == []
    assert divisions(slow) == [
        "v //= 3", "v % 3", "v / 2", "t.div(v, 3, rounding_mode='floor')", "v.remainder(3)", "t.fmod(v, 3)",
        "divmod(7, 3)", "v.floor_divide(3)",
    ]


def test_report_shows_each_part_of_a_tuple():
    codes, scale = torch.tensor([1, 0], dtype=torch.int8), torch.tensor(0.5)
    text = report("quantize(w)", (codes, scale), (codes, None))
    assert "expected: (tensor([1, 0], dtype=torch.int8, shape=(2,)), tensor(0.5, dtype=torch.float32, shape=()))" in text
    assert "got:      (tensor([1, 0], dtype=torch.int8, shape=(2,)), NoneType: None)" in text


def test_prefer_sees_a_stub_behind_a_wrapping_error(capsys):
    """Triton's interpreter raises InterpreterError from the kernel's NotImplementedError."""

    class InterpreterError(RuntimeError):
        pass

    def kernel_stub(x, bits):
        try:
            raise NotImplementedError()
        except NotImplementedError as error:
            raise InterpreterError(repr(error)) from error

    def broken(x, bits):
        raise InterpreterError("IndexError()")

    x = torch.tensor([1, 0, 3, 2], dtype=torch.uint8)
    assert prefer(kernel_stub, pack_weights, x, 2) is pack_weights
    assert capsys.readouterr().out.strip().endswith("it is not written yet.")
    assert prefer(broken, pack_weights, x, 2) is pack_weights
    assert "it raised InterpreterError: IndexError()" in capsys.readouterr().out
