"""grader/plugins.py and nbgrader_config.py: the kernel-side grading plugins on small notebooks,
the way nbgrader tests its own preprocessors (a notebook in, the executed notebook out)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from course import ROOT

from grader import bwrap  # noqa: E402
from grader.plugins import ResilientExecute, SandboxedKernelManager  # noqa: E402

pytestmark = pytest.mark.slow  # starts kernels: a few seconds


def notebook(*sources: str):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def execute(nb, folder: Path, **traits):
    executor = ResilientExecute(timeout=traits.pop("timeout", 30), interrupt_on_timeout=True, **traits)
    executor.preprocess(nb, {"metadata": {"path": str(folder)}})
    return nb


def errors(cell) -> list[str]:
    return [o["ename"] for o in cell.outputs if o["output_type"] == "error"]


def text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


def test_a_dead_kernel_costs_only_its_cell(tmp_path):
    nb = execute(notebook("x = 41", "import os\nos._exit(1)", "print(x + 1)"), tmp_path)
    assert errors(nb.cells[1]) == ["KernelDied"]
    assert text(nb.cells[2]) == "42\n"  # the kernel was restarted and the cell above replayed


def test_the_config_swaps_only_execute_in_nbgraders_own_autograde_steps():
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(ROOT / "nbgrader_config.py")}
    exec(compile((ROOT / "nbgrader_config.py").read_text(), "nbgrader_config.py", "exec"), namespace)
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    assert config.Autograde.autograde_preprocessors == [ResilientExecute if p is Execute else p for p in default]
    if bwrap.enabled():
        assert config.ResilientExecute.kernel_manager_class is SandboxedKernelManager
    assert "kernel_manager_class" not in config.Execute  # a student's Validate runs unsandboxed


@pytest.mark.skipif(bwrap.bwrap_path() is None, reason="bubblewrap is not installed (make system-deps)")
def test_the_sandboxed_kernel_runs_cells_and_nothing_else(tmp_path):
    work = tmp_path / "autograded"
    work.mkdir()
    (work / "data.txt").write_text("given")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    nb = notebook(
        "print(open('data.txt').read())\nopen('out.txt', 'w').write('mine')",
        f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=2)\n"
        "    print('connected')\nexcept OSError as e:\n    print('no network')",
        f"import os\nprint(os.path.exists({str(ROOT / 'grader')!r}))",
        "while True:\n    pass",
        "print('after the interrupt')",
    )
    execute(nb, work, timeout=5, kernel_manager_class=SandboxedKernelManager)
    server.close()
    assert text(nb.cells[0]).startswith("given")
    assert text(nb.cells[1]) == "no network\n"
    assert text(nb.cells[2]) == "False\n"  # grader/ is hidden
    assert errors(nb.cells[3]) == ["CellTimeoutError"] or "KeyboardInterrupt" in str(nb.cells[3].outputs)
    assert text(nb.cells[4]) == "after the interrupt\n"  # interrupted (a message), not restarted
    assert sorted(p.name for p in work.iterdir()) == ["data.txt"]  # it wrote its private copy only
