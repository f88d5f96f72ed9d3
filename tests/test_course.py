"""lowbit_ref.course: how the notebooks check answers and fall back to the reference."""

import torch

from lowbit_ref.course import close, divisions, prefer, raises, report, same
from lowbit_ref.loop import pack_weights


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
    def reference(w):
        return torch.sign(w).to(torch.int8), w.abs().mean()

    def student(w):  # the same answer, with a scale rounded differently
        return torch.sign(w).to(torch.int8), w.abs().sum() / w.numel() * (1 + 1e-7)

    w = torch.tensor([0.5, -3.5, 0.0, 1.0])
    assert prefer(student, reference, w) is reference  # `same` is exact: a tuple is never "same"
    assert prefer(student, reference, w, check=close) is student
    assert "use your" in capsys.readouterr().out.splitlines()[-1]


def test_divisions_finds_every_way_to_divide_and_nothing_else():
    t = torch

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
