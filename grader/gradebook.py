"""Where the grades live, and grading one class in shards on several machines.

The gradebook is nbgrader's (SQLAlchemy). By default it is the SQLite file
grader/gradebook.db; the environment variable LOWBIT_DB_URL (set by `grade.py --db URL`, or by
you for nbgrader's own commands: nbgrader_config.py reads it) points it anywhere SQLAlchemy
reaches, such as a PostgreSQL server through psycopg:

    postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE
    postgresql+psycopg://USER@/DATABASE?host=/path/to/socket/dir

Shards: `grade.py --shard K/N` grades the students whose id falls in share K of N (a hash of
the id, so every machine agrees without talking to the others) and, when it is done, records
that in the table `lowbit_shards` of the same gradebook. `grade.py --finish` refuses to run
until shards 1..N have all recorded; then it writes feedback and the CSV, and clears the records
so the next sharded run starts afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from datetime import datetime, timezone
from pathlib import Path

ENV = "LOWBIT_DB_URL"
ROOT = Path(__file__).resolve().parent.parent


class GradebookError(RuntimeError):
    """A gradebook that cannot be used, or a sharded run that is not complete: one line for the user."""


def default_url(root: Path = ROOT) -> str:
    return "sqlite:///" + str(root / "grader" / "gradebook.db")


_chosen: str | None = None


def use(db_url: str | None = None) -> str:
    """Fix this process's gradebook: db_url, else LOWBIT_DB_URL, else grader/gradebook.db.

    The variable is then removed from os.environ: processes that run student code (the
    independent check's sandbox) inherit this environment and must not learn the URL, which may
    hold a password. nbgrader's commands get it back through environment() of grade.py.
    """
    global _chosen
    _chosen = db_url or os.environ.get(ENV) or default_url()
    os.environ.pop(ENV, None)
    return _chosen


def url(root: Path = ROOT) -> str:
    """The gradebook URL every grading step uses: use()'s choice, LOWBIT_DB_URL, else grader/gradebook.db."""
    return _chosen or os.environ.get(ENV) or default_url(root)


def shown(db_url: str) -> str:
    """The URL with any password hidden, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", db_url)


def _engine(db_url: str):
    import sqlalchemy

    try:
        return sqlalchemy.create_engine(db_url)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError, ValueError) as error:
        hint = " (PostgreSQL needs the driver: pip install 'psycopg[binary]', URL postgresql+psycopg://...)" if "psycopg" in str(error) or "postgres" in db_url else ""
        raise GradebookError(f"gradebook URL {shown(db_url)!r} is not usable: {str(error).splitlines()[0]}{hint}") from None


def check(db_url: str) -> None:
    """Connect once and run a query; a GradebookError (one line) says why not. Writes nothing."""
    import sqlalchemy

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).parent.is_dir():
        raise GradebookError(f"gradebook URL {shown(db_url)!r}: folder {Path(db_url[len('sqlite:///'):]).parent} does not exist")
    engine = _engine(db_url)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise GradebookError(f"cannot reach the gradebook {shown(db_url)!r}: {reason[0] if reason else type(error).__name__}") from None
    finally:
        engine.dispose()


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 <= K <= N; ValueError naming the value otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"--shard must be K/N with 1 <= K <= N (say 1/4), got {text!r}")
    return int(match[1]), int(match[2])


def shard_of(student: str, n: int) -> int:
    """The shard (1..n) that grades this student: stable across machines, runs and Python versions."""
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % n + 1


def share(students: list[str], k: int, n: int) -> list[str]:
    return [s for s in students if shard_of(s, n) == k]


@contextlib.contextmanager
def lock(db_url: str, name: str = "lowbit-grading"):
    """Hold a lock across processes and machines while registering a lesson in the gradebook.

    On PostgreSQL an advisory lock (held by a connection of this process, so by a running shard
    only); SQLite serialises writers itself and is on one machine.
    """
    if not db_url.startswith("postgresql"):
        yield
        return
    import sqlalchemy

    key = int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)
    engine = _engine(db_url)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


def _table():
    import sqlalchemy as sa

    meta = sa.MetaData()
    return sa.Table(
        "lowbit_shards", meta,
        sa.Column("shard", sa.Integer, primary_key=True),
        sa.Column("of", sa.Integer, primary_key=True),
        sa.Column("lessons", sa.Text, nullable=False),
        sa.Column("students", sa.Integer, nullable=False),
        sa.Column("finished", sa.Text, nullable=False),
    )


def record_shard(db_url: str, k: int, n: int, lessons: list[str], students: int) -> None:
    """Shard K of N finished grading `lessons` (one transaction)."""
    table = _table()
    engine = _engine(db_url)
    try:
        with lock(db_url, "lowbit-shards"):
            table.metadata.create_all(engine)
            with engine.begin() as connection:
                connection.execute(table.delete().where((table.c.shard == k) & (table.c.of == n)))
                connection.execute(table.insert().values(
                    shard=k, of=n, lessons=",".join(lessons), students=students,
                    finished=datetime.now(timezone.utc).isoformat(timespec="seconds")))
    finally:
        engine.dispose()


def finished_shards(db_url: str) -> list[dict]:
    import sqlalchemy as sa

    table = _table()
    engine = _engine(db_url)
    try:
        if not sa.inspect(engine).has_table("lowbit_shards"):
            return []
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(sa.select(table).order_by(table.c.of, table.c.shard))]
    finally:
        engine.dispose()


def complete_run(db_url: str) -> tuple[int, list[str]]:
    """(N, lessons) of a sharded run whose N shards have all finished; GradebookError otherwise."""
    rows = finished_shards(db_url)
    if not rows:
        raise GradebookError("--finish: no shard has finished yet (run grade.py --shard K/N for K = 1..N first)")
    sizes = sorted({r["of"] for r in rows})
    if len(sizes) > 1:
        raise GradebookError(f"--finish: the gradebook holds shards of runs split {sizes} ways; grade again with one N")
    n = sizes[0]
    missing = sorted(set(range(1, n + 1)) - {r["shard"] for r in rows})
    if missing:
        raise GradebookError(f"--finish: shard(s) {', '.join(f'{k}/{n}' for k in missing)} have not finished; run them, then --finish again")
    lessons = sorted({lesson for r in rows for lesson in r["lessons"].split(",") if lesson})
    return n, lessons


def clear_shards(db_url: str) -> None:
    table = _table()
    engine = _engine(db_url)
    try:
        import sqlalchemy as sa

        if sa.inspect(engine).has_table("lowbit_shards"):
            with engine.begin() as connection:
                connection.execute(table.delete())
    finally:
        engine.dispose()
