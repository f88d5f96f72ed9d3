"""The grading sandbox (grader/bwrap.py) on its own: what code inside it can and cannot do.

Each test runs a few lines of Python inside ``bwrap.command(...)``, as grading runs a student's
code, and checks the effect from outside. The limits are made small so the tests stay fast.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from course import ROOT

from grader import bwrap  # noqa: E402

needs_bwrap = pytest.mark.skipif(bwrap.bwrap_path() is None, reason="bubblewrap is not installed (make system-deps)")


def sandboxed(code: str, tmp_path: Path, limits: bwrap.Limits | None = None, work: Path | None = None, timeout: float = 60):
    exchange = Path(tempfile.mkdtemp(prefix="lowbit-test-exchange-"))
    uid = bwrap.new_uid()
    bwrap.prepare_shared(exchange, uid)
    argv = bwrap.command([sys.executable, "-c", textwrap.dedent(code)], shared=exchange, work=work, submission=work,
                         limits=limits, uid=uid)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(exchange, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_limits_come_from_the_environment_and_are_checked(monkeypatch):
    monkeypatch.setenv("LOWBIT_SANDBOX_MEMORY_MB", "1024")
    monkeypatch.setenv("LOWBIT_SANDBOX_PROCESSES", "32")
    limits = bwrap.Limits.from_env()
    assert (limits.memory, limits.processes, limits.disk) == (1024 * bwrap.MiB, 32, bwrap.Limits().disk)
    assert bwrap.Limits.from_env() == bwrap.Limits(**{k: getattr(limits, k) for k in ("memory", "processes", "file_size", "disk")})
    monkeypatch.setenv("LOWBIT_SANDBOX_PROCESSES", "0")
    with pytest.raises(ValueError, match="LOWBIT_SANDBOX_PROCESSES must be a positive integer, got '0'"):
        bwrap.Limits.from_env()


def test_grade_refuses_without_bubblewrap_and_says_what_to_install(tmp_path):
    bin_only = tmp_path / "bin"
    bin_only.mkdir()
    (bin_only / "python").symlink_to(sys.executable)
    env = {"PATH": str(bin_only), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, str(ROOT / "grader" / "grade.py"), "01_bits_and_loops"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    for hint in ("apt-get install bubblewrap", "dnf install bubblewrap", "docker run", "--no-sandbox"):
        assert hint in result.stderr, hint


@needs_bwrap
def test_the_course_is_invisible_and_the_system_read_only(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2")
    monkeypatch.setenv("LOWBIT_CELL_TIMEOUT", "7")
    out = sandboxed(f"""
        import os, lowbit_ref
        root = {str(ROOT)!r}
        print("grader", os.path.exists(root + "/grader/grade.py"), "solutions", os.path.exists(root + "/solutions"))
        print("library", os.path.exists(os.path.dirname(lowbit_ref.__file__) + "/loop.py"))
        for target in (os.path.dirname(lowbit_ref.__file__) + "/loop.py", "/etc/hosts", __import__("sys").prefix + "/x"):
            try:
                open(target, "a").close()
                print("wrote", target)
            except OSError as error:
                print("refused", type(error).__name__)
        print("uid", os.getuid())
        print("env", os.environ.get("GRADER_SECRET_TOKEN"), os.environ.get("LOWBIT_CELL_TIMEOUT"), os.environ["HOME"])
    """, tmp_path)
    assert "env None 7 /tmp" in out  # the grader's own variables stay outside
    assert "grader False solutions False" in out
    assert "library True" in out  # importable, read-only
    assert "wrote" not in out and out.count("refused") == 3
    if os.geteuid() == 0:
        assert "uid 0" not in out


@needs_bwrap
def test_no_network_even_to_loopback(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    out = sandboxed(f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            print("connected")
        except OSError as error:
            print("refused", type(error).__name__)
    """, tmp_path)
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()
    assert out.startswith("refused")


@needs_bwrap
def test_disk_processes_and_memory_are_limited(tmp_path):
    small = bwrap.Limits(memory=1024 * bwrap.MiB, processes=24, file_size=4 * bwrap.MiB, disk=8 * bwrap.MiB)
    work = tmp_path / "submission"
    work.mkdir()
    (work / "answer.txt").write_text("mine")
    out = sandboxed("""
        import os
        print("copy", open("answer.txt").read())
        for path in ("big.bin", "/tmp/big.bin"):
            try:
                with open(path, "wb") as f:
                    for _ in range(16):
                        f.write(bytes(1 << 20))
                print("wrote 16 MiB")
            except OSError as error:
                print("disk", error.strerror)
        children = []
        try:
            for _ in range(64):
                children.append(os.posix_spawn("/bin/sleep", ["sleep", "5"], {}))
        except OSError:
            print("processes refused after", len(children))
        for pid in children:
            os.kill(pid, 9)
        try:
            bytearray(2 << 30)
        except MemoryError:
            print("memory refused")
    """, tmp_path, limits=small, work=work)
    assert "copy mine" in out and "wrote 16 MiB" not in out
    assert "File too large" in out  # 4 MiB file size limit
    assert "processes refused after" in out and int(out.split("processes refused after ")[1].split()[0]) < 24
    assert "memory refused" in out
    assert sorted(p.name for p in work.iterdir()) == ["answer.txt"]  # the private copy was written, not this folder


@needs_bwrap
def test_a_detached_process_dies_with_the_sandbox(tmp_path):
    marker = f"lowbit-test-daemon-{os.getpid()}"
    sandboxed(f"""
        import subprocess
        subprocess.Popen(["/bin/sh", "-c", "sleep 30; : {marker}"], start_new_session=True)
        print("started")
    """, tmp_path)
    time.sleep(0.5)
    alive = [p for p in Path("/proc").iterdir() if p.name.isdigit() and marker.encode() in _cmdline(p)]
    assert alive == []


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""
