"""Grade every submission end to end: autograde -> independent check -> feedback -> CSV.

    python grader/grade.py                 # grade what is in grader/submitted/
    python grader/grade.py --samples       # first copy grader/samples/ in (what `make grade` runs)
    python grader/grade.py --jobs 1 01_bits_and_loops    # one lesson, serially

Run from anywhere; the course directory is this file's parent's parent. nbgrader does the
grading. This script runs its commands for every lesson, students in parallel, then:

- runs the independent check of grader/verify.py, which takes the points of any test whose
  answer does not hold up outside the student's kernel (cheating, or tests tampered with);
- writes a feedback page for a submission nbgrader could not grade at all (a notebook that is
  not valid JSON, or missing), so every student gets an explanation;
- never stops the batch because of one student, and never writes into grader/submitted/;
  grades.csv is always written, and the exit status (and the last line) say how many
  submissions could not be graded (exit 3 when any).

Every process that runs a student's code (nbgrader's kernels, the independent check) runs in
the OS sandbox of grader/bwrap.py (bubblewrap): see the README's "Security model". Without
bubblewrap this script refuses to grade and says what to install; `--no-sandbox` grades a
trusted class without it.

Parallel autograde and the gradebook: the students are split into `--jobs` shards, each graded
by one `nbgrader autograde` process (one kernel per notebook, as always). The processes share
the SQLite gradebook, whose file lock serialises writers; each writes only its own students' rows,
in short transactions. A student whose shard still met a locked database is graded again alone
afterwards. The independent checks run in parallel too, and their gradebook updates are
written by this process alone. SQLite locking needs a local disk: for a
gradebook on a network file system, or a very large class, point `c.CourseDirectory.db_url` at a
PostgreSQL server.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADER = ROOT / "grader"
SUBMITTED = GRADER / "submitted"
SAMPLES = GRADER / "samples"
CSV_PATH = GRADER / "grades.csv"
if __package__ in (None, ""):  # run as a script (python grader/grade.py): grader/ is a package in ROOT
    sys.path.insert(0, str(ROOT))
from grader import bwrap, gradebook  # noqa: E402  (gradebook: --db, --shard, --finish)

NO_SANDBOX_WARNING = ("WARNING: --no-sandbox: students' code runs with your user, files and network. "
                      "Only for a class whose code you trust completely.")


def lessons() -> list[str]:
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and not p.name.startswith("."))


def environment() -> dict:
    env = dict(os.environ)
    # nbgrader runs alembic in a subprocess: this interpreter's bin/ must come first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # Kernels must not import files a student put next to the notebook (a fake torch.py, say):
    # Python leaves the current directory off sys.path, and so does IPython (see nbgrader_config.py).
    env["PYTHONSAFEPATH"] = "1"
    env.pop("NBGRADER_EXECUTION", None)
    env[gradebook.ENV] = gradebook.url()  # the gradebook (--db), read by nbgrader_config.py
    return env


def nbgrader(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "nbgrader", *args]
    if not quiet:
        print("$ nbgrader " + " ".join(args), flush=True)
    result = subprocess.run(command, cwd=ROOT, env=environment(), capture_output=True, text=True)
    if check and result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"nbgrader {args[0]} failed (exit {result.returncode})")
    return result


def copy_samples() -> None:
    """Copy the sample submissions into grader/submitted/, replacing earlier copies of the samples only."""
    for student in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        for assignment in sorted(p for p in student.iterdir() if p.is_dir()):
            target = SUBMITTED / student.name / assignment.name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(assignment, target)


def students_for(lesson: str) -> list[str]:
    return sorted(p.name for p in SUBMITTED.iterdir() if (p / lesson).is_dir()) if SUBMITTED.is_dir() else []


def grade_lesson(lesson: str, students: list[str], jobs: int, time_limit: float) -> set[str]:
    """Autograde the students in `jobs` parallel shards, then check each one's answers independently.
    Returns the students whose independent check could not run (their checked cells get 0)."""
    from nbgrader.api import Gradebook

    from grader import verify

    # One long-lived nbgrader process per shard: starting one per student costs more than it saves.
    shards = [students[k::jobs] for k in range(min(jobs, len(students)))]

    def autograde(shard: list[str]) -> list[str]:
        others = ",".join(s for s in students_for(lesson) if s not in shard)  # every other submission (--shard: other machines' too)
        nbgrader("autograde", lesson, "--force", f"--CourseDirectory.student_id_exclude={others}", check=False, quiet=True)
        return shard

    def done(student: str) -> bool:
        return (GRADER / "autograded" / student / lesson / f"{lesson}.ipynb").exists()

    print(f"$ nbgrader autograde {lesson}  ({len(students)} students in {len(shards)} parallel shards)", flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(autograde, shards))
    for student in students:  # a shard that met a busy gradebook: that student again, alone
        if not done(student) and (SUBMITTED / student / lesson / f"{lesson}.ipynb").exists():
            nbgrader("autograde", lesson, f"--student={student}", "--force", check=False, quiet=True)

    try:
        checks = verify.load_checks(ROOT, lesson)
    except Exception as error:  # noqa: BLE001 (a broken checks file is the course's problem, not the students')
        print(f"  grader/checks/ file for {lesson} does not load ({type(error).__name__}: {error}): independent check skipped")
        return set()
    if checks is None:
        print(f"  (no grader/checks/ file for {lesson}: independent check skipped)")
        return set()
    owners = verify.exercise_of(json.loads((ROOT / "solutions" / lesson / f"{lesson}.ipynb").read_text()))
    graded = [s for s in students if done(s)]
    failed: set[str] = set()

    def check_one(student: str, sandbox) -> dict:
        try:
            notebook = json.loads((GRADER / "autograded" / student / lesson / f"{lesson}.ipynb").read_text())
            verdicts = verify.verify_notebook(notebook, checks, time_limit, sandbox)
        except Exception as error:  # noqa: BLE001 (one student never stops the batch)
            verdicts = {test_id: f"the independent check could not run ({type(error).__name__}: {error})" for test_id in checks.checks()}
        if any(reason and reason.startswith(verify.NOT_RUN) for reason in verdicts.values()):
            failed.add(student)
        return verdicts

    def check(shard: list[str]) -> dict:
        try:
            sandbox = verify.Sandbox(verify.blocked_of(checks))  # warm: torch is imported once per shard
        except Exception as error:  # noqa: BLE001
            print(f"  the independent check's sandbox did not start: {type(error).__name__}: {error}", flush=True)
            sandbox = None
        try:
            return {s: check_one(s, sandbox) for s in shard}
        finally:
            if sandbox is not None:
                sandbox.close()

    verdicts = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for part in pool.map(check, [graded[k::jobs] for k in range(min(jobs, len(graded)))]):
            verdicts.update(part)
    with Gradebook(gradebook.url()) as gb:
        for student in graded:
            zeroed = verify.apply_verdicts(gb, lesson, student, verdicts[student], owners)
            if student in failed:
                print(f"  {student}: the independent check could not run: {', '.join(zeroed) or 'no points'} removed", flush=True)
            elif zeroed:
                print(f"  {student}: independent check failed {', '.join(zeroed)}: points removed", flush=True)
    return failed


FAILED_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{lesson}: not graded</title></head>
<body style="font-family: sans-serif; max-width: 48em; margin: 2em auto">
<h1>{lesson}</h1>
<p><b>Score: 0 / {max_score:g}</b></p>
<p>{reason}</p>
<p>Ask your instructor to grade it again once the notebook is fixed and submitted again.</p>
</body></html>
"""


def explain_ungraded(lesson: str, students: list[str]) -> set[str]:
    """A feedback page for each submission nbgrader could not grade at all. Returns those whose
    notebook was readable (so grading itself failed, not the student's file)."""
    import nbformat
    from nbgrader.api import Gradebook

    with Gradebook(gradebook.url()) as gb:
        max_score = gb.find_assignment(lesson).max_score
    failed = set()
    for student in students:
        if (GRADER / "autograded" / student / lesson / f"{lesson}.ipynb").exists():
            continue
        with Gradebook(gradebook.url()) as gb:
            # nbgrader skips a submission with no notebook entirely: record it, at 0, so it is in the CSV
            gb.update_or_create_student(student)
            for notebook in gb.update_or_create_submission(lesson, student).notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0 if grade.auto_score is None else grade.auto_score
                    grade.needs_manual_grade = False
            gb.db.commit()
        submitted = SUBMITTED / student / lesson / f"{lesson}.ipynb"
        if not submitted.exists():
            found = sorted(str(p.relative_to(SUBMITTED / student / lesson)) for p in (SUBMITTED / student / lesson).rglob("*") if p.is_file())
            reason = (f"No notebook named <code>{lesson}.ipynb</code> was submitted"
                      + (f" (the submission holds: {html.escape(', '.join(found))})." if found else " (the submission is empty)."))
        else:
            try:
                nbformat.read(submitted, as_version=4)
                reason = ("The notebook could not be graded: its kernel did not start or stopped grading "
                          "(for instance a sandbox limit it ran into). Your instructor has the grading log.")
                failed.add(student)
            except Exception as error:  # noqa: BLE001 (any reason the file is not a notebook)
                reason = f"The submitted file is not a readable notebook, so none of it could be run: {html.escape(str(error)[:300])}"
        page = GRADER / "feedback" / student / lesson / f"{lesson}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(FAILED_PAGE.format(lesson=lesson, max_score=max_score, reason=reason))
        print(f"  {student}: not gradable: {reason.split(':')[0]}", flush=True)
    return failed


def print_table(path: Path) -> None:
    with open(path, newline="") as f:
        # nbgrader lists every student for every lesson; show the lessons each one submitted
        rows = [r for r in csv.DictReader(f) if (SUBMITTED / r["student_id"] / r["assignment"]).is_dir()]
    rows.sort(key=lambda r: (r["student_id"], r["assignment"]))
    print(f"\n{'student':<28} {'lesson':<28} {'score':>7} / max")
    for r in rows:
        print(f"{r['student_id']:<28} {r['assignment']:<28} {float(r['score']):>7.1f} / {float(r['max_score']):.0f}")
    print(f"\n{len(rows)} grades written to {path.relative_to(ROOT)}")


def finish(lessons: list[str]) -> int:
    """After every shard: feedback for every graded submission, then the CSV of the whole class."""
    for lesson in lessons:
        nbgrader("generate_feedback", lesson, "--force", check=False)
    export_csv()
    print_table(CSV_PATH)
    gradebook.clear_shards(gradebook.url())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", action="store_true", help="grade the sample submissions in grader/samples/ too")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="students graded at once (default: CPU cores)")
    parser.add_argument("--timeout", type=int, help="seconds a cell may run before it is interrupted (default: nbgrader_config.py)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run students' code without the OS sandbox (only for a class you trust completely)")
    limits = bwrap.Limits()
    parser.add_argument("--memory", type=int, metavar="MB", default=limits.memory // bwrap.MiB,
                        help="memory (address space) of each sandboxed process, MiB (default: %(default)s)")
    parser.add_argument("--processes", type=int, metavar="N", default=limits.processes,
                        help="processes and threads a sandbox may run (default: %(default)s)")
    parser.add_argument("--disk", type=int, metavar="MB", default=limits.disk // bwrap.MiB,
                        help="size of a sandbox's working folder and of its /tmp, MiB each (default: %(default)s)")
    parser.add_argument("--file-size", type=int, metavar="MB", default=limits.file_size // bwrap.MiB,
                        help="largest file a sandboxed process may write, MiB (default: %(default)s)")
    parser.add_argument("--db", metavar="URL", help=f"gradebook URL (default: ${gradebook.ENV}, else grader/gradebook.db), e.g. postgresql+psycopg://user@host/db")
    parser.add_argument("--shard", metavar="K/N", help="grade only share K of N of the students; no feedback or CSV (see --finish)")
    parser.add_argument("--finish", action="store_true", help="after every --shard K/N has run: feedback for everyone and the CSV")
    parser.add_argument("lessons", nargs="*", help="lessons to grade (default: every lesson in solutions/)")
    args = parser.parse_args(argv)
    for name in ("memory", "processes", "disk", "file_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    shard = None
    try:
        if args.shard is not None:
            shard = gradebook.parse_shard(args.shard)
        if args.shard is not None and args.finish:
            raise ValueError("--shard and --finish are separate steps: run every shard, then --finish once")
    except ValueError as error:
        print(f"grade.py: error: {error}", file=sys.stderr)
        return 2
    gradebook.use(args.db)  # nbgrader's commands get it through environment(), nothing else does
    try:
        gradebook.check(gradebook.url())
        if args.finish:
            return finish(gradebook.complete_run(gradebook.url())[1])
    except gradebook.GradebookError as error:
        print(f"grade.py: error: {error}", file=sys.stderr)
        return 2
    chosen = args.lessons or lessons()
    unknown = sorted(set(chosen) - set(lessons()))
    if unknown:
        parser.error(f"unknown lesson(s) {unknown}; lessons are {lessons()}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.timeout is not None:
        os.environ["LOWBIT_CELL_TIMEOUT"] = str(args.timeout)
    if args.no_sandbox:
        os.environ["LOWBIT_NO_SANDBOX"] = "1"
        print(NO_SANDBOX_WARNING, flush=True)
    else:
        os.environ.pop("LOWBIT_NO_SANDBOX", None)
        os.environ.update(bwrap.Limits(memory=args.memory * bwrap.MiB, processes=args.processes,
                                       disk=args.disk * bwrap.MiB, file_size=args.file_size * bwrap.MiB).to_env())
        problem = bwrap.self_test()
        if problem:
            print(problem, file=sys.stderr)
            return 2
    if args.samples:
        copy_samples()
    if not SUBMITTED.is_dir() or not any(SUBMITTED.iterdir()):
        print("No submissions in grader/submitted/. Collect some (see README), or run `make grade` for the samples.")
        return 1

    start, graded, failed, done = time.monotonic(), 0, [], []
    for lesson in chosen:
        students = students_for(lesson)
        if shard:
            students = gradebook.share(students, *shard)
        if not students:
            continue
        # Registers the lesson and its graded cells in the gradebook. The release goes to a scratch
        # folder so lessons/ (the committed student version) is never rewritten by grading.
        with gradebook.lock(gradebook.url()):  # shards on other machines register it too
            nbgrader("generate_assignment", lesson, "--force", "--CourseDirectory.release_directory=grader/release")
        trouble = grade_lesson(lesson, students, args.jobs, args.timeout or 60)
        trouble |= explain_ungraded(lesson, students)
        if not shard:
            nbgrader("generate_feedback", lesson, "--force", check=False)
        failed += [f"{student}/{lesson}" for student in sorted(trouble)]
        graded += len(students)
        done.append(lesson)
    elapsed = time.monotonic() - start
    if shard:
        gradebook.record_shard(gradebook.url(), *shard, done, graded)
        print(f"shard {shard[0]}/{shard[1]}: feedback and CSV come with grade.py --finish once every shard has run")
    else:
        export_csv()
        print_table(CSV_PATH)
    if args.no_sandbox:
        print(NO_SANDBOX_WARNING)
    print(f"{graded} notebooks graded in {elapsed:.0f} s ({graded / max(elapsed, 1e-9) * 60:.1f} per minute, {args.jobs} at a time)")
    if failed:
        print(f"{len(failed)} submission(s) could not be graded (0 on the cells affected; their feedback says why): {', '.join(failed)}")
        return 3
    print("0 submissions could not be graded")
    return 0


def export_csv() -> None:
    """grades.csv from nbgrader's export; should that fail, the same columns straight from the gradebook."""
    result = nbgrader("export", f"--to={CSV_PATH}", check=False)
    if result.returncode == 0 and CSV_PATH.exists():
        return
    print("  nbgrader export failed; writing grades.csv from the gradebook directly", flush=True)
    from nbgrader.api import Gradebook

    with Gradebook(gradebook.url()) as gb, open(CSV_PATH, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                      "raw_score", "late_submission_penalty", "score", "max_score"])
        for assignment in gb.assignments:
            for student in gb.students:
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                    row = [sub.timestamp, sub.score + sub.late_submission_penalty, sub.late_submission_penalty, sub.score]
                except Exception:  # noqa: BLE001 (no submission: 0, as nbgrader exports it)
                    row = ["", 0.0, 0.0, 0.0]
                out.writerow([assignment.name, assignment.duedate or "", row[0], student.id, student.last_name or "",
                              student.first_name or "", student.email or "", *row[1:], assignment.max_score])


if __name__ == "__main__":
    sys.exit(main())
