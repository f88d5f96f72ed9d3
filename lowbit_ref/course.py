"""Helpers the lesson notebooks share: comparing answers, explaining failures, picking demos.

Kept out of the exercises so a test cell reads as one line per check, and every failure says
what was called, what was expected and what came back.
"""

from __future__ import annotations

import torch


def same(got, want: torch.Tensor) -> bool:
    """True when ``got`` is a tensor equal to ``want`` in dtype, shape, device and every value.

    Exact, never approximate: packed bytes are integers, so ``torch.equal`` is the right test.
    """
    return (
        isinstance(got, torch.Tensor)
        and got.dtype == want.dtype
        and got.shape == want.shape
        and got.device == want.device
        and torch.equal(got, want)
    )


def show(x) -> str:
    """A tensor as a student reads it: values, dtype, shape and device when it is not the CPU."""
    if not isinstance(x, torch.Tensor):
        return f"{type(x).__name__}: {x!r}"
    text = f"tensor({x.tolist()}, dtype={x.dtype}, shape={tuple(x.shape)}"
    return text + (")" if x.device.type == "cpu" else f", device={x.device})")


def report(call: str, want, got) -> str:
    """The failure message of a visible test: the call, what it should give, what it gave."""
    return f"\n  call:     {call}\n  expected: {show(want)}\n  got:      {show(got)}"


def prefer(student, reference, *probe, name: str | None = None):
    """Use the student's function for demos when it already gives the reference's answer on
    ``probe``; otherwise say so and use the reference, so the lesson can be explored before the
    exercises are done."""
    label = name or getattr(reference, "__name__", "function")
    try:
        if same(student(*probe), reference(*probe)):
            print(f"Demos below use your {label}.")
            return student
        reason = "it does not give the expected answer yet"
    except NotImplementedError:
        reason = "it is not written yet"
    except Exception as error:  # a half-written exercise may raise anything
        reason = f"it raised {type(error).__name__}: {error}"
    print(f"Demos below use lowbit_ref's {label}: {reason}.")
    return reference


def raises(error: type[BaseException], fn, *args, **kwargs) -> bool:
    """True when ``fn(*args, **kwargs)`` raises ``error`` (lets a test cell end with ``assert``)."""
    try:
        fn(*args, **kwargs)
    except error:
        return True
    return False
