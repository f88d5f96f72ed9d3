"""nbgrader plugins for this course, switched on in nbgrader_config.py.

nbgrader stays the grading engine; this only closes a gap in it.

``ResilientExecute`` (autograde step): when a student's cell kills the kernel (``os._exit``, a
  signal, a crash) or hangs it past interrupting, nbgrader drops the whole submission. Here that
cell gets an error output saying what happened, the kernel is restarted, the cells before it are
replayed, and grading goes on; only the tests that needed the broken cell lose their points.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Integer

from grader import bwrap

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


# --- the kernel in the sandbox -------------------------------------------------------------------

class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts inside the sandbox of grader/bwrap.py.

    The kernel has no network, so it talks to nbgrader through ``ipc`` sockets in a private
    exchange folder; its working folder is a size-limited private copy of the submission folder
    (nbgrader's ``autograded/<student>/<lesson>``), so nothing it writes reaches the course. An
    interrupt is a message (ipykernel then signals itself): signals from outside would reach the
    sandbox's own processes instead of the kernel. Switched on in nbgrader_config.py.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._uid = bwrap.new_uid()
        self._exchange = Path(tempfile.mkdtemp(prefix="lowbit-kernel-"))
        bwrap.prepare_shared(self._exchange, self._uid)
        self.transport = "ipc"
        self.ip = str(self._exchange / "k")
        self.connection_file = str(self._exchange / "kernel.json")

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if self._uid is not None and os.path.exists(self.connection_file):
            os.chown(self.connection_file, self._uid, self._uid)  # the kernel's user reads it; nobody else

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        work = Path(kw.get("cwd") or os.getcwd()).resolve()
        sandboxed = bwrap.command(kernel_cmd, shared=self._exchange, work=work, submission=work, uid=self._uid)
        kw["cwd"] = str(self._exchange)
        return await super()._async_launch_kernel(sandboxed, **kw)

    async def _async_interrupt_kernel(self) -> None:
        if self.has_kernel:
            self._connect_control_socket()
            self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart:
            shutil.rmtree(self._exchange, ignore_errors=True)

    def __del__(self):
        shutil.rmtree(self._exchange, ignore_errors=True)
