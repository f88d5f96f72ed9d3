"""nbgrader plugins for this course, switched on in nbgrader_config.py.

nbgrader stays the grading engine; this only closes a gap in it.

``ResilientExecute`` (autograde step): when a student's cell kills the kernel (``os._exit``, a
  signal, a crash) or hangs it past interrupting, nbgrader drops the whole submission. Here that
cell gets an error output saying what happened, the kernel is restarted, the cells before it are
replayed, and grading goes on; only the tests that needed the broken cell lose their points.
"""

from __future__ import annotations

import copy

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Integer

KERNEL_DIED = (
    "The Python kernel stopped while running this cell (os._exit, sys.exit in a thread, a signal "
    "or a crash). The kernel was restarted and the cells above were run again; this cell's work "
    "is lost, so tests that need it fail."
)
KERNEL_HUNG = (
    "This cell ran past the time limit and could not be interrupted. The kernel was restarted and "
    "the cells above were run again; tests that need this cell fail."
)


class ResilientExecute(Execute):
    """nbgrader's Execute, surviving a dead or unresponsive kernel (see the module docstring)."""

    max_restarts = Integer(3, help="Restarts allowed per notebook before the remaining cells are skipped.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._restarts = 0
        self._given_up = False
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if self._given_up:
            if cell.cell_type == "code":
                cell.outputs = [self._error("KernelGaveUp", "Not run: the kernel died too often above.")]
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError) as error:
            died = isinstance(error, DeadKernelError)
            self.log.warning("Cell %d: %s; restarting the kernel", index, "kernel died" if died else "unresponsive kernel")
            cell.outputs.append(self._error("KernelDied" if died else "CellTimeoutError", KERNEL_DIED if died else KERNEL_HUNG))
            self._restart(index)
            return cell, self.resources

    def _restart(self, index: int) -> None:
        self._restarts += 1
        if self._restarts > self.max_restarts:
            self._given_up = True
            return
        run_sync(self.km.restart_kernel)(now=True)
        run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
        for j, earlier in enumerate(self.nb.cells[:index]):
            if earlier.cell_type != "code" or any(o.get("ename") in ("KernelDied", "CellTimeoutError") for o in earlier.outputs):
                continue
            try:  # on a copy: the graded notebook keeps the outputs of the first run
                super().preprocess_cell(copy.deepcopy(earlier), self.resources, j)
            except (DeadKernelError, CellTimeoutError):
                self._given_up = True
                return

    @staticmethod
    def _error(ename: str, evalue: str):
        return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
