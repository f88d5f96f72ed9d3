"""Helpers the lesson notebooks share: comparing answers, explaining failures, picking demos.

Kept out of the exercises so a test cell reads as one line per check, and every failure says
what was called, what was expected and what came back.
"""

from __future__ import annotations

import threading

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
    """A tensor as a student reads it: values, dtype, shape and device when it is not the CPU.
    A tuple (say ``(codes, scale)``) shows each of its parts that way."""
    if isinstance(x, tuple):
        return "(" + ", ".join(show(part) for part in x) + ")"
    if not isinstance(x, torch.Tensor):
        return f"{type(x).__name__}: {x!r}"
    text = f"tensor({x.tolist()}, dtype={x.dtype}, shape={tuple(x.shape)}"
    return text + (")" if x.device.type == "cpu" else f", device={x.device})")


def report(call: str, want, got) -> str:
    """The failure message of a visible test: the call, what it should give, what it gave."""
    return f"\n  call:     {call}\n  expected: {show(want)}\n  got:      {show(got)}"


def prefer(student, reference, *probe, name: str | None = None, check=None):
    """Use the student's function for demos when it already gives the reference's answer on
    ``probe``; otherwise say so and use the reference, so the lesson can be explored before the
    exercises are done. ``check(got, want)`` decides "gives the answer" (default ``same``; use
    ``close`` for float results or tuples)."""
    label = name or getattr(reference, "__name__", "function")
    check = check or same
    try:
        if check(student(*probe), reference(*probe)):
            print(f"Demos below use your {label}.")
            return student
        reason = "it does not give the expected answer yet"
    except NotImplementedError:
        reason = "it is not written yet"
    except Exception as error:  # a half-written exercise may raise anything
        # Triton's interpreter re-raises a kernel's exception as its own InterpreterError, with
        # the original as the cause: a stub inside a kernel is still just "not written yet".
        if isinstance(error.__cause__, NotImplementedError):
            reason = "it is not written yet"
        else:
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


def close(got, want, *, rtol: float = 1e-5, atol: float = 0.0) -> bool:
    """Like ``same``, but float tensors may differ by ``rtol``/``atol`` (``torch.allclose``).

    Integer and bool tensors are still compared exactly. Tuples and lists are compared item by
    item, so ``close(quantize(w), (codes, scale))`` checks both parts of a result.

    >>> codes = torch.tensor([1, 0], dtype=torch.int8)
    >>> close((codes, torch.tensor(0.1)), (codes, torch.tensor(0.1000001)))
    True
    >>> close(torch.tensor([1, 0]), torch.tensor([1, 1]))
    False
    """
    if isinstance(want, (tuple, list)):
        return (
            isinstance(got, (tuple, list))
            and len(got) == len(want)
            and all(close(g, w, rtol=rtol, atol=atol) for g, w in zip(got, want))
        )
    if not (
        isinstance(got, torch.Tensor)
        and got.dtype == want.dtype
        and got.shape == want.shape
        and got.device == want.device
    ):
        return False
    if want.is_floating_point() or want.is_complex():
        return torch.allclose(got, want, rtol=rtol, atol=atol)
    return torch.equal(got, want)


_DIVIDING_CALLS = ("div", "divide", "floor_divide", "true_divide", "remainder", "fmod", "divmod")


def divisions(fn) -> list[str]:
    """The divisions and remainders written in ``fn``'s source, as code snippets (empty: none).

    Lets a test check that a "no division" exercise keeps its promise. Counted: ``//``, ``/`` and
    ``%`` (and their ``=`` forms), and calls named div, divide, floor_divide, true_divide,
    remainder, fmod or divmod. Not counted: a division of two number literals such as
    ``256 / 243``, which is a constant, and ``%`` string formatting.

    >>> def f(x):
    ...     return (x * (256 / 243)) // 3
    >>> divisions(f)
    ['x * (256 / 243) // 3']
    """
    import inspect
    import textwrap

    return divisions_in(textwrap.dedent(inspect.getsource(fn)))


def divisions_in(source: str, function: str | None = None) -> list[str]:
    """``divisions`` on source text: of the function ``function`` defined in it (every one of that
    name), or of the whole text when ``function`` is None. The grader uses it on a submitted
    cell, where a redefined ``divisions`` cannot change the answer. Source that does not parse
    raises SyntaxError.

    >>> cell = "TABLE = [v // 3 for v in range(9)]; f = lambda x: x"
    >>> divisions_in(cell), divisions_in(cell, "f")
    (['v // 3'], [])
    """
    import ast

    with _PARSE_LOCK:  # CPython 3.11's parser is not thread-safe (gh-106905); the grader checks in threads
        tree = ast.parse(source)
    if function is not None:
        roots = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == function]
    else:
        roots = [tree]

    def number(node) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, (int, float))

    found = []
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
                left = node.left if isinstance(node, ast.BinOp) else node.target
                right = node.right if isinstance(node, ast.BinOp) else node.value
                if number(left) and number(right):
                    continue
                if isinstance(node.op, ast.Mod) and isinstance(left, (ast.Constant, ast.JoinedStr)) and isinstance(getattr(left, "value", ""), str):
                    continue
                found.append(ast.unparse(node))
            elif isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name.rstrip("_") in _DIVIDING_CALLS:
                    found.append(ast.unparse(node))
    return found


_PARSE_LOCK = threading.Lock()
