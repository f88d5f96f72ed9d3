"""A throw-away PostgreSQL server for tests and benchmarks: initdb + pg_ctl on a temporary folder.

    with PgServer() as server:
        url = server.new_database()   # postgresql+psycopg://grader@/gradebook0?host=/tmp/...

Listens on a unix socket in its folder only (no TCP). As root it runs as the `postgres` user of
Debian's `postgresql` package (initdb refuses root). Stopped and deleted on exit.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def bindir() -> Path | None:
    """Where initdb and pg_ctl are: Debian keeps them off PATH, in /usr/lib/postgresql/<major>/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PgServer:
    def __init__(self):
        self.bin = bindir()
        if self.bin is None:
            raise FileNotFoundError("PostgreSQL's initdb/pg_ctl not found: `make system-deps` (apt-get install postgresql)")
        self.base = None
        self.names = itertools.count()
        self.user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] if os.geteuid() == 0 else []

    def _run(self, *args, check=True):
        return subprocess.run([*self.user, *map(str, args)], capture_output=True, text=True, timeout=120, check=check)

    def start(self) -> "PgServer":
        self.base = Path(tempfile.mkdtemp(prefix="lowbit-pg-"))  # short: a socket path has ~100 bytes
        if self.user:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(self.bin / "initdb", "-D", self.base / "data", "-A", "trust", "-U", "grader", "--no-sync")
        self._run(self.bin / "pg_ctl", "-D", self.base / "data", "-l", self.base / "log", "-w",
                  "-o", f"-k {self.base} -c listen_addresses='' -c fsync=off -c max_connections=200", "start")
        return self

    def new_database(self) -> str:
        name = f"gradebook{next(self.names)}"
        self._run(self.bin / "createdb", "-h", self.base, "-U", "grader", name)
        return f"postgresql+psycopg://grader@/{name}?host={self.base}"

    def stop(self) -> None:
        if self.base is not None:
            self._run(self.bin / "pg_ctl", "-D", self.base / "data", "-m", "immediate", "stop", check=False)
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
