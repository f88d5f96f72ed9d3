"""The operating-system sandbox every process that runs student code during grading starts in.

Grading runs a student's code twice: in nbgrader's kernel (the notebook's tests) and in the
independent check's process (grader/sandbox.py). Both start through ``command()`` here, which
puts bubblewrap (``bwrap``) and resource limits in front of the real command:

- the whole file system is read-only (``--ro-bind / /``);
- the course directory, the library's source checkout, the grader's home, ``/tmp`` and
  ``/var/tmp`` are replaced by empty folders; put back, read-only, are only the Python
  environment and the ``lowbit_ref`` package the lessons import (an editable install points into
  the course: the package folder is visible, read-only; the rest of the checkout is not);
- writable: a private working folder holding a copy of the one submission (for a kernel) and a
  private ``/tmp``, each a memory file system with a size limit, plus the small exchange folder
  the grader talks through (ZMQ ``ipc`` sockets, the check's job files);
- no network (an own, empty network namespace), own PID, IPC and UTS namespaces, and the
  sandbox dies with the process that started it: whatever the code started (``setsid``, double
  fork) dies with it;
- limits (``prlimit``): address space (memory), processes, file size, no core dumps;
- run as root, the code inside runs as an otherwise unused user id (``setpriv``), so it owns
  none of the files it can see, and the process limit counts only its own processes.

``Limits`` come from the environment (``LOWBIT_SANDBOX_MEMORY`` ... set by grade.py), so the
nbgrader processes grade.py starts and the kernels they start agree on them.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the course directory
MiB = 1 << 20

INSTALL_HELP = """\
Grading runs students' code, so it runs it inside a sandbox made with bubblewrap (`bwrap`),
which is not installed here. Install it, then grade again:

    Debian/Ubuntu:  sudo apt-get install bubblewrap      (or, in this repository: make system-deps)
    Fedora/RHEL:    sudo dnf install bubblewrap
    Arch:           sudo pacman -S bubblewrap

bubblewrap needs Linux. On macOS or Windows, grade inside a Linux container, e.g. from the
course directory:

    docker run --rm -it --privileged -v "$PWD":/course -w /course python:3.11 \\
        sh -c "apt-get update && apt-get install -y bubblewrap make && make grade"

(`--privileged` lets bubblewrap create its namespaces inside the container.)
For a class whose code you trust completely, `--no-sandbox` grades without it."""


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot start here."""


@dataclass(frozen=True)
class Limits:
    memory: int = 4096 * MiB  # address space of each process (RLIMIT_AS)
    processes: int = 256  # processes and threads of the sandboxed user (RLIMIT_NPROC)
    file_size: int = 256 * MiB  # largest file it can write (RLIMIT_FSIZE)
    disk: int = 512 * MiB  # size of the writable working folder and of /tmp, each

    ENV = {"memory": "LOWBIT_SANDBOX_MEMORY_MB", "processes": "LOWBIT_SANDBOX_PROCESSES",
           "file_size": "LOWBIT_SANDBOX_FILE_MB", "disk": "LOWBIT_SANDBOX_DISK_MB"}

    @classmethod
    def from_env(cls) -> Limits:
        values = {}
        for name, var in cls.ENV.items():
            raw = os.environ.get(var)
            if raw:
                number = int(raw)
                if number < 1:
                    raise ValueError(f"{var} must be a positive integer, got {raw!r}")
                values[name] = number if name == "processes" else number * MiB
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        return {var: str(getattr(self, name) if name == "processes" else getattr(self, name) // MiB)
                for name, var in self.ENV.items()}


def enabled() -> bool:
    """False only when grading was asked to run without the sandbox (grade.py --no-sandbox)."""
    return os.environ.get("LOWBIT_NO_SANDBOX", "") not in ("1", "true", "yes")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def require() -> str:
    path = bwrap_path()
    if path is None:
        raise SandboxUnavailable(INSTALL_HELP)
    return path


KEEP_ENV = {"PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONSAFEPATH", "PYTHONHASHSEED", "PYTHONWARNINGS",
            "NBGRADER_EXECUTION", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES"}
KEEP_ENV_PREFIXES = ("LC_", "LOWBIT_", "TRITON_")
# ...except the gradebook's URL, which may hold a password (grader/gradebook.py ENV).
DROP_ENV = {"LOWBIT_DB_URL"}

_uids = itertools.count()


def _sandbox_uid() -> int:
    # one unused user id per sandbox, so one sandbox's processes never count against another's limit
    return 200_000 + (os.getpid() % 10_000) * 16 + next(_uids) % 16


def _library_dirs() -> tuple[list[Path], list[Path]]:
    """(folders to hide, folders to show read-only) for the Python environment and lowbit_ref."""
    show = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    hide = set()
    package = _kernel_library()
    if package is not None:
        show.add(package)
        if (package.parent / "pyproject.toml").exists():  # an editable install: hide its checkout
            hide.add(package.parent)
    return sorted(hide), sorted(p.resolve() for p in show if p.exists())


def library_folder() -> Path:
    """The lowbit_ref package folder that sandboxed processes import (shown read-only inside the
    sandbox). A check that loads parts of the library by path must use this one: the copy that
    grade.py itself imports may live in the course directory, which the sandbox hides."""
    import lowbit_ref

    return _kernel_library() or Path(lowbit_ref.__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def _kernel_library() -> Path | None:
    """The lowbit_ref folder that this environment's Python imports when started as the sandbox
    starts it: isolated (-I: no PYTHONPATH, no current folder), so an editable install resolves to
    its own checkout, wherever that is (under /tmp for a CI clone), never to a course copy that
    grade.py put first on its own sys.path."""
    found = subprocess.run(
        [sys.executable, "-I", "-c",
         "import importlib.util as u; s = u.find_spec('lowbit_ref'); "
         "print(next(iter(s.submodule_search_locations)) if s and s.submodule_search_locations else '')"],
        cwd="/", capture_output=True, text=True, timeout=60)
    location = found.stdout.strip()
    return Path(location).resolve() if found.returncode == 0 and location else None


def command(argv: list[str], *, shared: Path, work: Path | None = None, submission: Path | None = None,
            readonly: tuple[Path, ...] = (), limits: Limits | None = None, uid: int | None = None) -> list[str]:
    """``argv`` wrapped in the sandbox.

    shared: a host folder bound read-write at the same path (sockets, job files); it must be
        usable by ``uid`` (see ``prepare_shared``).
    work: the working folder inside (a size-limited memory file system); with ``submission``,
        the submission's files are copied into it before ``argv`` starts. Without: ``/tmp``.
    readonly: host folders shown read-only at the same path (bound before ``shared``).
    """
    bwrap = require()
    limits = limits or Limits.from_env()
    root_user = os.geteuid() == 0
    home = Path(os.path.expanduser("~"))
    hide_lib, show = _library_dirs()
    hidden = {ROOT, *hide_lib, Path("/var/tmp")}
    if home != Path("/"):
        hidden.add(home)
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", str(limits.disk), "--tmpfs", "/tmp"]
    empty = [Path("/tmp")]  # folders replaced by an empty file system
    for folder in sorted({p.resolve() for p in hidden if p.exists()}, key=lambda p: len(p.parts)):
        if not any(folder == e or e in folder.parents for e in empty):
            args += ["--perms", "0755", "--tmpfs", str(folder)]
            empty.append(folder)
    made: set[Path] = set()

    def reach(target: Path) -> list[str]:
        # the folders leading to a mount point inside an empty file system: bwrap would make them 0700
        steps = []
        for parent in reversed(target.parents):
            if parent not in made and any(e in parent.parents for e in empty):
                made.add(parent)
                steps += ["--perms", "0755", "--dir", str(parent)]
        return steps

    for folder in [*sorted(show, key=lambda p: len(p.parts)), *readonly]:
        args += [*reach(folder), "--ro-bind", str(folder), str(folder)]
    args += [*reach(shared), "--bind", str(shared), str(shared)]
    inner: list[str] = []
    if work is None:
        args += ["--chdir", "/tmp"]
    if work is not None:
        args += [*reach(work), "--perms", "0777", "--size", str(limits.disk), "--tmpfs", str(work), "--chdir", str(work)]
        if submission is not None:
            args += ["--ro-bind", str(submission), "/tmp/.submission"]
            inner = ["sh", "-c", 'cp -R /tmp/.submission/. . && exec "$@"', "sandbox"]
    args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--hostname", "sandbox"]
    # A clean environment: the grader's variables (tokens, passwords) would otherwise be one
    # print() away from a student's feedback page. Kept: locale, paths, and the course's settings.
    args += ["--clearenv"]
    kept = {var: value for var, value in os.environ.items()
            if (var in KEEP_ENV or var.startswith(KEEP_ENV_PREFIXES)) and var not in DROP_ENV}
    kept.update({"HOME": "/tmp", "TMPDIR": "/tmp", "IPYTHONDIR": "/tmp/.ipython",
                 "MPLCONFIGDIR": "/tmp/.matplotlib", "XDG_CACHE_HOME": "/tmp/.cache"})
    for var, value in sorted(kept.items()):
        args += ["--setenv", var, value]
    if root_user:
        # bwrap keeps only these two capabilities for setpriv, which drops them with the user id
        uid = uid if uid is not None else _sandbox_uid()
        args += ["--cap-add", "CAP_SETUID,CAP_SETGID", "--"]
        args += [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--"]
    else:
        args += ["--unshare-user-try", "--"]
    limit = [shutil.which("prlimit") or "prlimit", f"--as={limits.memory}", f"--nproc={limits.processes}",
             f"--fsize={limits.file_size}", "--core=0", "--"]
    return limit + args + inner + list(argv)


def self_test() -> str | None:
    """None when a sandbox starts here; otherwise what to do about it (for the user)."""
    import subprocess
    import tempfile

    if bwrap_path() is None:
        return INSTALL_HELP
    with tempfile.TemporaryDirectory(prefix="lowbit-sandbox-test-") as folder:
        uid = new_uid()
        prepare_shared(Path(folder), uid)
        try:
            result = subprocess.run(command(["true"], shared=Path(folder), uid=uid), capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"The grading sandbox (bubblewrap) does not start here: {error}"
    if result.returncode != 0:
        return (f"The grading sandbox (bubblewrap) does not start here (exit {result.returncode}): "
                f"{result.stderr.strip()[-500:]}\nIn a container, bubblewrap needs user namespaces or "
                f"`--privileged`; for a class you trust completely, grade with --no-sandbox.")
    return None


def prepare_shared(folder: Path, uid: int | None) -> None:
    """Let the sandbox's user write into ``folder`` (created by this process)."""
    if uid is not None and os.geteuid() == 0:
        os.chown(folder, uid, uid)
    else:
        os.chmod(folder, 0o700)


def new_uid() -> int | None:
    """The user id a new sandbox runs as (None when grading does not run as root)."""
    return _sandbox_uid() if os.geteuid() == 0 else None
