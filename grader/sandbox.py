"""The untrusted half of the independent check: run a student's answers, report their outputs as data.

Started by grader/verify.py as ``python -S -I sandbox.py --serve SITE``: no site initialisation
(so an editable install of lowbit_ref is invisible), no current directory or script directory on
sys.path (so a file in the submission cannot shadow a module), only SITE (the environment's
packages minus the blocked ones) added, and an import hook that refuses the modules the job
lists (``lowbit_ref``: an exercise must not be answered by calling the reference).

The server imports torch once, then forks one child per job directory read from stdin: every
student's code runs in a fresh copy of that clean process and never in the server itself, which
reports ``pid N`` when a child starts and ``done`` when it ends.

It reads ``job.json`` and ``inputs.safetensors``, executes the prelude and the student's solution
cells, calls what the job asks for, and writes ``results.json`` plus ``outputs.safetensors``.
Each cell and call gets a time limit; before each one starts, ``progress`` names it, so when
a cell kills the process the parent can run the job again without that cell.
It never sees an expected answer and decides nothing: the comparison happens in the parent
process, which no student code ever ran in. Whatever this process writes is only data.
"""

import json
import linecache
import signal
import sys
import traceback


class TimeLimit(BaseException):
    """Raised in a cell or call that runs past its limit (a BaseException: `except Exception` can't swallow it)."""


def limited(seconds: float, run):
    def alarm(signum, frame):
        raise TimeLimit(f"ran longer than {seconds:g} s")

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def main(job_dir: str) -> None:
    with open(f"{job_dir}/job.json") as f:
        job = json.load(f)
    blocked = tuple(job["blocked"])

    class Refuse:
        """Import hook: the blocked packages do not exist for the student's code."""

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in blocked:
                raise ModuleNotFoundError(f"{name} is not available to solutions when grading (blocked)", name=name)
            return None

    sys.meta_path.insert(0, Refuse())

    import torch
    from safetensors.torch import load_file, save_file

    inputs = load_file(f"{job_dir}/inputs.safetensors")

    def decode(spec):
        kind = spec["kind"]
        if kind == "tensor":
            return inputs[spec["key"]].clone()
        if kind in ("tuple", "list"):
            items = [decode(s) for s in spec["items"]]
            return tuple(items) if kind == "tuple" else items
        return spec["value"]

    tensors = {}

    def encode(value, key):
        if type(value) is torch.Tensor:  # exactly a tensor: subclasses can lie through __torch_function__
            tensors[key] = value.detach().to("cpu").contiguous().clone()
            return {"kind": "tensor", "key": key}
        if type(value) in (tuple, list):
            return {"kind": type(value).__name__, "items": [encode(v, f"{key}.{i}") for i, v in enumerate(value)]}
        if type(value) in (bool, int, float, str) or value is None:
            return {"kind": "json", "value": value}
        return {"kind": "object", "type": type(value).__name__}

    def mark(stage: str, index: int) -> None:
        with open(f"{job_dir}/progress", "w") as f:
            f.write(f"{stage} {index}")

    limit = job["time_limit"]
    namespace = {"__name__": "__main__"}
    cell_errors = {}
    for index, (gid, source) in enumerate([("prelude", job["prelude"])] + job["cells"]):
        if index - 1 in job["skip_cells"]:
            continue
        mark("cell", index - 1)
        filename = f"<cell {gid}>"
        # inspect.getsource reads a cell from here, as in IPython: @triton.jit needs a kernel's source.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            limited(limit, lambda: exec(compile(source, filename, "exec"), namespace))
        except BaseException as error:  # noqa: BLE001 (a student's cell may raise anything, SystemExit too)
            cell_errors[gid] = f"{type(error).__name__}: {error}"

    results = []
    for i, call in enumerate(job["calls"]):
        name = call["name"]
        entry = {"ok": False}
        if i in job["skip_calls"]:
            results.append({"ok": False, "error": "Stopped", "mro": ["Stopped"], "message": "it stopped the checking process"})
            continue
        mark("call", i)
        try:
            target = namespace[name]
            value = limited(limit, lambda: target(*[decode(a) for a in call["args"]]) if call["call"] else target)
            entry = {"ok": True, "value": encode(value, f"out{i}")}
        except BaseException as error:  # noqa: BLE001
            entry["error"] = type(error).__name__ if not isinstance(error, KeyError) or name in namespace else "NameError"
            entry["mro"] = [c.__name__ for c in type(error).__mro__] if name in namespace else ["NameError"]
            entry["message"] = f"{error}" if name in namespace else f"name {name!r} is not defined"
            entry["trace"] = traceback.format_exc(limit=-2)[-600:]
        results.append(entry)

    save_file(tensors, f"{job_dir}/outputs.safetensors")
    with open(f"{job_dir}/results.json", "w") as f:
        json.dump({"results": results, "cell_errors": cell_errors}, f)


def wait(pid: int, budget: float) -> None:
    """Wait for the child; kill it once it has run ``budget`` seconds."""
    import os
    import select

    fd = os.pidfd_open(pid)
    try:
        if not select.select([fd], [], [], budget)[0]:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    finally:
        os.close(fd)


def sweep() -> None:
    """Kill every process left in this sandbox but this one (a student's background process).
    Only ever called with ``--isolated``: in its own PID namespace, where that is all there is."""
    import os

    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass  # nothing left to kill


def serve(site: str, isolated: bool) -> None:
    import os

    sys.path[:0] = [site]
    import safetensors.torch  # noqa: F401  (imported once here, inherited by every child)
    import torch

    torch.set_num_threads(1)  # one student per core; also no thread pool alive across fork()
    for line in sys.stdin:
        job_dir, budget = line.split()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                main(job_dir)
            except BaseException:  # noqa: BLE001 (the parent reads results.json, or its absence)
                code = 1
            finally:
                os._exit(code)
        print(f"pid {pid}", flush=True)
        wait(pid, float(budget))
        if isolated:
            sweep()
        print("done", flush=True)


if __name__ == "__main__":
    serve(sys.argv[2], "--isolated" in sys.argv[3:])
