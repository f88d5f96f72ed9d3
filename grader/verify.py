"""Independent check of autograded answers, outside the student's kernel.

nbgrader runs the tests in the same Python process as the student's code, so a submission can
redefine ``torch.equal`` or the test helpers, return an object that equals everything, patch
``torch`` or answer an "implement X" exercise by calling lowbit_ref's X, and still pass. This
check does not trust that process:

1. ``grader/sandbox.py`` runs only the student's solution cells (read from the notebook file)
   in a fresh interpreter, with ``lowbit_ref`` unimportable and no submitted file on ``sys.path``,
   calls the functions named by ``grader/checks/<topic>.py`` and writes their outputs as data
   (safetensors and JSON; nothing is unpickled).
2. This process, where no student code ever ran, compares those outputs with lowbit_ref's
   answers: exact type, dtype, shape and bytes.
3. A graded test cell whose checks fail keeps no points, whatever the kernel said, and the
   exercise's feedback says why. A check never raises a score.

A lesson without a checks file is left as nbgrader graded it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from grader import bwrap
from grader.common import cell_source, load_module, nbgrader_meta, topic

HERE = Path(__file__).resolve().parent
NOT_RUN = "the independent check could not run"
SANDBOX = HERE / "sandbox.py"


@dataclass
class Call:
    """``name(*args)`` must return exactly ``expect`` (floats within rtol/atol)."""

    name: str
    args: tuple
    expect: object
    rtol: float = 0.0
    atol: float = 0.0
    call: bool = True


def call(name: str, *args, expect, rtol: float = 0.0, atol: float = 0.0) -> Call:
    return Call(name, args, expect, rtol, atol)


def value(name: str, expect) -> Call:
    """The variable ``name`` must hold exactly ``expect``."""
    return Call(name, (), expect, call=False)


@dataclass
class Raises:
    """``name(*args)`` must raise ``error`` (or a subclass)."""

    name: str
    args: tuple
    error: str = "ValueError"
    call: bool = field(default=True, init=False)


def raises(name: str, *args, error: str = "ValueError") -> Raises:
    return Raises(name, args, error)


# Prelude text the checks files share: a solution's name as the student's code left it, or the
# NameError the notebook would have raised.
ANSWER = '''def _answer(name):
    if name not in globals():
        raise NameError(f"name {name!r} is not defined")
    return globals()[name]
'''


# --- checks files ------------------------------------------------------------------------------


def load_checks(root: Path, lesson: str):
    path = root / "grader" / "checks" / f"{topic(lesson)}.py"
    # checks files write `from verify import call` (and `from common import ...`): the same modules
    from grader import common

    sys.modules.setdefault("verify", sys.modules[__name__])
    sys.modules.setdefault("common", common)
    return load_module(path, f"checks_{lesson}") if path.exists() else None


def exercise_of(source_nb: dict) -> dict[str, str]:
    """Test cell id -> id of the solution cell before it (where the feedback comment goes)."""
    owner, last = {}, None
    for cell in source_nb["cells"]:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            last = meta["grade_id"]
        elif meta.get("grade") and last:
            owner[meta["grade_id"]] = last
    return owner


# --- running the sandbox -----------------------------------------------------------------------


def _encode(value, key: str, tensors: dict):
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().cpu().contiguous().clone()
        return {"kind": "tensor", "key": key}
    if isinstance(value, (tuple, list)):
        return {"kind": type(value).__name__, "items": [_encode(v, f"{key}.{i}", tensors) for i, v in enumerate(value)]}
    return {"kind": "json", "value": value}


def _site_without_blocked(job_dir: Path, blocked) -> str:
    """A folder of links to this environment's packages, minus the blocked ones and every ``.pth``
    file or editable-install finder (which could bring them back), for the sandbox's sys.path."""
    site = job_dir / "site"
    site.mkdir()
    hidden = tuple(b.split(".")[0] for b in blocked)
    for folder in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        for entry in Path(folder).iterdir():
            name = entry.name
            if name.endswith(".pth") or name.startswith("__editable__") or name.startswith(hidden) or (site / name).exists():
                continue
            if any(name.lower().startswith(h.replace("_", "-")) or name.lower().startswith(h) for h in hidden):
                continue
            (site / name).symlink_to(entry)
    return str(site)


class Sandbox:
    """A warm sandbox server (grader/sandbox.py --serve): torch imported once, a fresh forked child
    per job. One per worker thread; ``close()`` it when done.

    The server runs inside the OS sandbox of grader/bwrap.py (unless grading was told not to,
    ``--no-sandbox``): it sees its own copy of sandbox.py, the environment's packages minus the
    blocked ones, and ``jobs/``, the one folder it shares with this process."""

    def __init__(self, blocked):
        self.blocked = tuple(blocked)
        self.isolated = bwrap.enabled()
        self.uid = bwrap.new_uid() if self.isolated else None
        self.home = tempfile.mkdtemp(prefix="lowbit-sandbox-")
        os.chmod(self.home, 0o755)
        site = _site_without_blocked(Path(self.home), self.blocked)
        shutil.copy(SANDBOX, Path(self.home, "sandbox.py"))
        self.jobs = Path(self.home, "jobs")
        self.jobs.mkdir()
        argv = [sys.executable, "-S", "-I", str(Path(self.home, "sandbox.py")), "--serve", site]
        if self.isolated:
            bwrap.prepare_shared(self.jobs, self.uid)
            argv = bwrap.command(argv + ["--isolated"], shared=self.jobs, readonly=(Path(self.home),), uid=self.uid)
        self.process = subprocess.Popen(
            argv, cwd=self.home, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, start_new_session=True,
        )

    def job_dir(self) -> tempfile.TemporaryDirectory:
        """A folder for one job, writable by the server's user."""
        folder = tempfile.TemporaryDirectory(prefix="job-", dir=self.jobs)
        bwrap.prepare_shared(Path(folder.name), self.uid)
        return folder

    def run(self, job_dir: str, budget: float) -> None:
        """Run one job; the server kills its child if it outlives ``budget`` seconds. A server that
        does not answer in time (or died) is killed and started again."""
        try:
            self.process.stdin.write(f"{job_dir} {budget}\n")
            self.process.stdin.flush()
            deadline = time.monotonic() + budget + 30
            for _ in range(2):  # "pid N", then "done"
                if not select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
                    raise TimeoutError
                if not self.process.stdout.readline():
                    raise EOFError
        except (OSError, TimeoutError, EOFError):
            old_homes = [*getattr(self, "old_homes", []), self.home]  # the caller's job folder is in it
            self.close(keep_home=True)
            self.__init__(self.blocked)
            self.old_homes = old_homes

    def close(self, keep_home: bool = False) -> None:
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if not keep_home:
            for home in [*getattr(self, "old_homes", []), self.home]:
                shutil.rmtree(home, ignore_errors=True)


def run_sandbox(cells: list[tuple[str, str]], prelude: str, sandbox: Sandbox, calls: list, time_limit: float) -> dict:
    """Run the student's cells and calls in a fresh, restricted process; return its report.

    Each cell and call may run ``time_limit`` seconds. When one kills the process (``os._exit``,
    a signal) or hangs past the limit, the job runs again without it, so it costs only the tests
    that need it.
    """
    from safetensors.torch import load_file, save_file

    skip_cells: list[int] = []
    skip_calls: list[int] = []
    for _attempt in range(len(cells) + len(calls) + 1):
        with sandbox.job_dir() as job_dir:
            tensors: dict = {}
            job = {
                "blocked": list(sandbox.blocked),
                "prelude": prelude,
                "cells": cells,
                "time_limit": time_limit,
                "skip_cells": skip_cells,
                "skip_calls": skip_calls,
                "calls": [
                    {"name": c.name, "call": c.call, "args": [_encode(a, f"in{i}.{j}", tensors) for j, a in enumerate(c.args)]}
                    for i, c in enumerate(calls)
                ],
            }
            save_file(tensors, f"{job_dir}/inputs.safetensors")
            os.chmod(f"{job_dir}/inputs.safetensors", 0o644)  # safetensors writes 0600: the sandbox's user reads it
            Path(job_dir, "job.json").write_text(json.dumps(job))
            # backstop for a time limit the student's code disarmed
            sandbox.run(job_dir, time_limit * (len(cells) + len(calls) + 2) + 30)
            try:
                report = json.loads(Path(job_dir, "results.json").read_text())
                report["outputs"] = load_file(f"{job_dir}/outputs.safetensors")
                return report
            except (OSError, ValueError):
                progress = Path(job_dir, "progress")
                if not progress.exists():
                    return {"failure": f"{NOT_RUN}: the checking process did not start"}
                stage, index = progress.read_text().split()
                if stage == "cell" and int(index) >= 0 and int(index) not in skip_cells:
                    skip_cells.append(int(index))
                elif stage == "call" and int(index) not in skip_calls:
                    skip_calls.append(int(index))
                else:
                    return {"failure": "the answers stopped the checking process"}
    return {"failure": "the answers stopped the checking process too often"}


# --- comparing ---------------------------------------------------------------------------------


def _decode(spec, outputs):
    kind = spec["kind"]
    if kind == "tensor":
        return outputs[spec["key"]]
    if kind in ("tuple", "list"):
        items = [_decode(s, outputs) for s in spec["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "object":
        return _Opaque(spec["type"])
    return spec["value"]


class _Opaque:
    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<a {self.type_name} object>"


def _matches(got, want, rtol, atol) -> bool:
    if isinstance(want, torch.Tensor):
        if not isinstance(got, torch.Tensor) or got.dtype != want.dtype or got.shape != want.shape:
            return False
        if want.is_floating_point() and (rtol or atol):
            return bool(torch.allclose(got, want.cpu(), rtol=rtol, atol=atol, equal_nan=True))
        return torch.equal(got, want.cpu())
    if isinstance(want, (tuple, list)):  # a list where a tuple is expected is fine, as in the notebooks' tests
        return isinstance(got, (tuple, list)) and len(got) == len(want) and all(_matches(g, w, rtol, atol) for g, w in zip(got, want))
    if isinstance(want, float):
        return type(got) in (float, int) and abs(got - want) <= atol + rtol * abs(want)
    return type(got) is type(want) and got == want


def _short(x) -> str:
    if isinstance(x, torch.Tensor):
        values = x.flatten()[:8].tolist()
        more = ", ..." if x.numel() > 8 else ""
        return f"tensor({values}{more}, dtype={x.dtype}, shape={tuple(x.shape)})"
    text = repr(x)
    return text if len(text) < 120 else text[:117] + "..."


def _describe(check) -> str:
    if not check.call:
        return check.name
    return f"{check.name}({', '.join(_short(a) for a in check.args)})"


def judge(check, result: dict, outputs) -> str | None:
    """None when ``result`` satisfies ``check``; otherwise what went wrong, for the feedback."""
    if isinstance(check, Raises):
        if not result["ok"] and check.error in result.get("mro", []):
            return None
        got = "returned normally" if result["ok"] else f"raised {result['error']}"
        return f"{_describe(check)} should raise {check.error}, but {got}"
    if not result["ok"]:
        return f"{_describe(check)} raised {result['error']}: {result['message'][:200]}"
    got = _decode(result["value"], outputs)
    want = check.expect
    if _matches(got, want, check.rtol, check.atol):
        return None
    where = ""
    if isinstance(got, torch.Tensor) and isinstance(want, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype:
        index = tuple((got != want.cpu()).nonzero()[0].tolist())
        where = f" (first difference at index {index}: expected {want[index].item()}, got {got[index].item()})"
    return f"{_describe(check)}: expected {_short(want)}, got {_short(got)}{where}"


def blocked_of(checks_module) -> tuple:
    return tuple(getattr(checks_module, "BLOCKED", ("lowbit_ref",)))


def verify_notebook(notebook: dict, checks_module, time_limit: float = 60, sandbox: Sandbox | None = None) -> dict[str, str | None]:
    """Test cell id -> None (passed) or the reason it failed, for one submitted notebook.

    Pass a ``Sandbox`` to reuse a warm one (its blocked list must be the checks module's)."""
    own = sandbox is None
    sandbox = sandbox or Sandbox(blocked_of(checks_module))
    try:
        return _verify(notebook, checks_module, time_limit, sandbox)
    finally:
        if own:
            sandbox.close()


def _verify(notebook: dict, checks_module, time_limit: float, sandbox: Sandbox) -> dict[str, str | None]:
    plan = checks_module.checks()
    cells = [(nbgrader_meta(c)["grade_id"], cell_source(c)) for c in notebook["cells"] if c["cell_type"] == "code" and nbgrader_meta(c).get("solution")]
    flat = [(test_id, check) for test_id, test_checks in plan.items() for check in test_checks]
    report = run_sandbox(cells, checks_module.PRELUDE, sandbox, [c for _, c in flat], time_limit)
    verdicts: dict[str, str | None] = {test_id: None for test_id in plan}
    for index, (test_id, check) in enumerate(flat):
        if verdicts[test_id] is not None:
            continue
        if "failure" in report:
            verdicts[test_id] = report["failure"]
        else:
            verdicts[test_id] = judge(check, report["results"][index], report["outputs"])
    # Checks on the answers' source, made here where no student code runs (e.g. "no division").
    for test_id, reason in getattr(checks_module, "static_checks", lambda _cells: {})(dict(cells)).items():
        if reason and verdicts.get(test_id) is None:
            verdicts[test_id] = reason
    return verdicts


def apply_verdicts(gradebook, lesson: str, student: str, verdicts: dict, owners: dict) -> list[str]:
    """Zero the test cells whose independent check failed; explain on the exercise. Returns the zeroed ids."""
    zeroed, notes = [], {}
    for test_id, reason in verdicts.items():
        if reason is None:
            continue
        grade = gradebook.find_grade(test_id, lesson, lesson, student)
        if grade.auto_score:
            zeroed.append(test_id)
            grade.auto_score = 0
            notes.setdefault(owners.get(test_id), []).append(
                f"**{test_id}: 0 points.** The tests passed inside your notebook, but the independent "
                f"check, which runs your answers on their own in a fresh Python process (without the "
                f"notebook's test helpers, and without the reference answer to this exercise), found: {reason}."
            )
    for solution_id, lines in notes.items():
        if solution_id:
            comment = gradebook.find_comment(solution_id, lesson, lesson, student)
            comment.auto_comment = "\n\n".join(lines)
    gradebook.db.commit()
    return zeroed
