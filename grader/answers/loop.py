"""Sample submissions for lesson 01 and the exact score nbgrader must give each (out of 8)."""

EXPECTED = {
    "sample_correct": 8.0,
    "sample_blank": 0.0,
    # pack_weights passes every visible test but crashes on an empty tensor (hidden test): 0 of 3;
    # unpack_weights and the 4-bit answer are right: 3 + 2.
    "sample_partial": 5.0,
}

ANSWERS = {
    "sample_partial": {
        "pack_weights": '''
def pack_weights(uint8tensor, bits):
    per_byte = 8 // bits
    if uint8tensor.shape[0] % per_byte:
        raise ValueError("length must be a multiple of 8 // bits")
    if int(uint8tensor.max()) >= 2**bits:  # .max() of an empty tensor raises
        raise ValueError("value too large")
    packed = torch.zeros(uint8tensor.shape[0] // per_byte, dtype=torch.uint8)
    for k in range(uint8tensor.shape[0]):
        packed[k // per_byte] |= uint8tensor[k] << (bits * (k % per_byte))
    return packed
''',
        "unpack_weights": '''
def unpack_weights(packed, bits):
    per_byte = 8 // bits
    out = []
    for byte in packed.tolist():
        out += [(byte >> (bits * j)) & (2**bits - 1) for j in range(per_byte)]
    return torch.tensor(out, dtype=torch.uint8)
''',
        "nibble_bytes": "nibble_bytes = [9 | 4 << 4, 15 | 2 << 4]",
    },
}

# --- robustness: each of these gets the right grade, an explanation, and never stops the batch --
# (lesson 01 only: the grading machinery is the same for every lesson)

EXPECTED.update({
    "sample_raises": 6.0,  # the 4-bit cell raises before assigning: that exercise only
    "sample_forever": 5.0,  # unpack's cell loops forever: interrupted at the time limit; pack and the 4-bit answer count
    "sample_os_exit": 6.0,  # os._exit in the 4-bit cell: kernel restarted, cells above replayed
    "sample_sys_exit": 6.0,  # sys.exit in the 4-bit cell: IPython turns it into an error
    "sample_kill": 5.0,  # SIGKILL to its own kernel in unpack's cell: unpack's work is lost, the rest counts
    "sample_noisy": 8.0,  # stderr output and warnings cost an honest student nothing
    "sample_malformed": 0.0,  # not JSON: feedback says so
    "sample_deleted_tests": 8.0,  # deleted test cells are put back and run
    "sample_edited_tests": 5.0,  # wrong pack with its test replaced by `assert True`: the real test runs
    "sample_missing": 0.0,  # no notebook, only a note: feedback says so
})

_WRONG_PACK = '''
def pack_weights(uint8tensor, bits):
    # MSB-first: the first value in the high bits (the wrong order for this course); the input
    # checks are right, so only a test that compares bytes can tell
    per_byte = 8 // bits
    if uint8tensor.shape[0] % per_byte or (uint8tensor.numel() and int(uint8tensor.max()) >= 2 ** bits):
        raise ValueError(f"cannot pack {uint8tensor.tolist()} at {bits} bits")
    packed = torch.zeros(uint8tensor.shape[0] // per_byte, dtype=torch.uint8)
    for k in range(uint8tensor.shape[0]):
        packed[k // per_byte] |= uint8tensor[k] << (bits * (per_byte - 1 - k % per_byte))
    return packed
'''

ANSWERS.update({
    "sample_raises": {"@solutions": True, "nibble_bytes": "raise RuntimeError('I will finish this later')"},
    "sample_forever": {"@solutions": True, "unpack_weights": "while True:\n    pass"},
    "sample_os_exit": {"@solutions": True, "nibble_bytes": "import os\nos._exit(1)"},
    "sample_sys_exit": {"@solutions": True, "nibble_bytes": "import sys\nsys.exit('done for today')"},
    "sample_kill": {
        "@solutions": True,
        "unpack_weights": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    },
    "sample_noisy": {
        "@solutions": True,
        "nibble_bytes": (
            "import sys, warnings\n"
            "print('debug: computing the nibbles', file=sys.stderr)\n"
            "warnings.warn('a library warning', UserWarning)\n"
            "torch.tensor([1.0]).numpy().astype('int8') // 0\n"
            "nibble_bytes = [9 | 4 << 4, 15 | 2 << 4]"
        ),
    },
    "sample_malformed": {"@raw": '{"cells": [{"cell_type": "code", "source": "pack_weights ='},
    "sample_deleted_tests": {"@solutions": True, "@delete": ["test_pack_weights", "test_unpack_weights", "test_four_bits"]},
    "sample_edited_tests": {"@solutions": True, "pack_weights": _WRONG_PACK, "test_pack_weights": "assert True"},
    "sample_missing": {"@missing": True, "@files": {"README.txt": "Sorry, my laptop died. I will send it tomorrow.\n"}},
})

# --- cheating: no credit for the cheated exercise ----------------------------------------------
# Each cheats on pack_weights (3 points) with a wrong or borrowed answer, and answers the rest
# honestly; the 4-bit exercise grades only nibble_bytes (issue 15): 3 + 2 points remain.

EXPECTED.update({
    "sample_cheat_helpers": 5.0,  # redefines the test helpers `same` and `report`
    "sample_cheat_equal": 5.0,  # monkeypatches torch.equal and numpy.testing
    "sample_cheat_object": 5.0,  # returns an object that equals everything
    "sample_cheat_shadow": 5.0,  # ships lowbit_ref/course.py next to the notebook to fake `same`
    "sample_cheat_reference": 5.0,  # answers "implement pack_weights" with lowbit_ref's own
})

ANSWERS.update({
    "sample_cheat_helpers": {
        "@solutions": True,
        "pack_weights": _WRONG_PACK + "\nsame = lambda got, want: True\nreport = lambda *args: ''\n",
    },
    "sample_cheat_equal": {
        "@solutions": True,
        "pack_weights": _WRONG_PACK + (
            "\nimport numpy.testing\n"
            "torch.equal = lambda a, b: True\n"
            "torch.Tensor.__eq__ = lambda self, other: True\n"
            "numpy.testing.assert_array_equal = lambda *args, **kwargs: None\n"
        ),
    },
    "sample_cheat_object": {
        "@solutions": True,
        "pack_weights": (
            "class Anything(torch.Tensor):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "    @classmethod\n"
            "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
            "        return True if func is torch.equal else super().__torch_function__(func, types, args, kwargs or {})\n"
            "\n"
            "def pack_weights(uint8tensor, bits):\n"
            "    want = len(uint8tensor) * bits // 8\n"
            "    return torch.zeros(want, dtype=torch.uint8).as_subclass(Anything)\n"
        ),
    },
    "sample_cheat_shadow": {
        "@solutions": True,
        "pack_weights": _WRONG_PACK + "\nimport importlib, lowbit_ref.course\nimportlib.reload(lowbit_ref.course)\nfrom lowbit_ref.course import same\n",
        "@files": {
            "lowbit_ref/__init__.py": "",
            "lowbit_ref/course.py": "def same(got, want):\n    return True\n\ndef report(*args):\n    return ''\n",
        },
    },
    "sample_cheat_reference": {
        "@solutions": True,
        "pack_weights": "from lowbit_ref.loop import pack_weights",
    },
})

# --- hostile: code that attacks the grading machine, not the tests (see README "Security model") -
# Each runs its attack in the 4-bit cell (2 points) and then answers it honestly, so inside the
# sandbox it gets full marks and harms nothing; tests/test_grading.py checks that nothing outside
# the submission changed. Written so that, were the sandbox missing, it could only touch a
# throw-away copy of the course in the temporary folder (what the tests grade): anywhere else it
# does nothing. Loops are bounded in count and time.

_GUARD = '''
import os, sys, tempfile, time
from pathlib import Path
# Only ever attack a throw-away course in the temporary folder (the tests' copy); never a real one.
_here = Path.cwd()
_course = _here.parents[3] if len(_here.parents) > 3 and _here.parents[2].name == "grader" else None
if _course is not None and not str(_course).startswith(tempfile.gettempdir().rstrip("/") + "/"):
    _course = None
'''
_NIBBLES = "\nnibble_bytes = [9 | 4 << 4, 15 | 2 << 4]"


def _hostile(attack: str, **cells) -> dict:
    return {"@solutions": True, "nibble_bytes": _GUARD + attack.strip("\n") + _NIBBLES, **cells}


EXPECTED.update({
    "sample_hostile_grader": 8.0,  # rewrites grader/ files: not visible, the batch goes on
    "sample_hostile_library": 8.0,  # rewrites lowbit_ref's source: read-only
    "sample_hostile_gradebook": 8.0,  # writes the gradebook with sqlite3: not visible
    "sample_hostile_daemon": 8.0,  # a detached process that keeps writing the gradebook: dies with the sandbox
    "sample_hostile_classmate": 8.0,  # deletes and reads sample_correct's submission: not visible
    "sample_hostile_network": 8.0,  # connects to a loopback port the test opened: no network
    "sample_hostile_solutions": 5.0,  # copies pack_weights from solutions/: not visible, its own wrong pack loses 3
    "sample_hostile_forkbomb": 8.0,  # forks until refused: the process limit stops it
    "sample_hostile_memory": 6.0,  # allocates 16 GiB: that cell fails (memory limit), nothing else
    "sample_hostile_disk": 8.0,  # writes until the disk is full: the size limit stops it
})

ANSWERS.update({
    "sample_hostile_grader": _hostile('''
for _name in ("grader/checks/loop.py", "grader/grade.py", "grader/verify.py"):
    if _course is None:
        break
    try:
        (_course / _name).write_text("raise SystemExit('rewritten by a student')\\n")
        print("rewrote", _name)
    except OSError as _error:
        print("could not rewrite", _name, type(_error).__name__)
'''),
    "sample_hostile_library": _hostile('''
import importlib.util
_targets = [_course / "lowbit_ref" / "loop.py"] if _course else []
_spec = importlib.util.find_spec("lowbit_ref") if _course else None  # (the independent check blocks it)
if _spec and _spec.origin.startswith(tempfile.gettempdir().rstrip("/") + "/"):
    _targets.append(Path(_spec.origin).parent / "loop.py")  # the installed library, if it is a throw-away copy
for _target in _targets:
    try:
        with open(_target, "a") as _f:
            _f.write("\\ndef pack_weights(*args, **kwargs):\\n    raise RuntimeError('sabotaged')\\n")
        print("rewrote", _target.name)
    except OSError as _error:
        print("could not rewrite the library:", type(_error).__name__)
'''),
    "sample_hostile_gradebook": _hostile('''
import sqlite3
if _course is not None:
    try:
        _db = sqlite3.connect(f"file:{_course / 'grader' / 'gradebook.db'}?mode=rw", uri=True)
        _db.execute("UPDATE grade SET extra_credit = 25")
        _db.execute("INSERT INTO student (id) VALUES ('intruder')")
        _db.commit()
        print("wrote the gradebook")
    except sqlite3.Error as _error:
        print("gradebook not writable:", _error)
'''),
    "sample_hostile_daemon": _hostile('''
import subprocess
_daemon = (
    "import sqlite3, sys, time\\n"
    "for _ in range(60):\\n"
    "    time.sleep(1)\\n"
    "    if sys.argv[1]:\\n"
    "        try:\\n"
    "            db = sqlite3.connect('file:' + sys.argv[1] + '?mode=rw', uri=True)\\n"
    "            db.execute('UPDATE grade SET extra_credit = 25'); db.commit(); db.close()\\n"
    "        except Exception:\\n"
    "            pass\\n"
)
_gradebook = str(_course / "grader" / "gradebook.db") if _course else ""
subprocess.Popen([sys.executable, "-c", _daemon, _gradebook, "lowbit-hostile-daemon"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("started a background process")
'''),
    "sample_hostile_classmate": _hostile('''
import shutil
if _course is not None:
    _classmate = _course / "grader" / "submitted" / "sample_correct" / "01_bits_and_loops"
    try:
        print("classmate's notebook:", len((_classmate / "01_bits_and_loops.ipynb").read_bytes()), "bytes read")
    except OSError as _error:
        print("classmate's notebook: not visible", type(_error).__name__)
    shutil.rmtree(_classmate.parent, ignore_errors=True)
    print("classmate's folder still there:", _classmate.exists())
'''),
    "sample_hostile_network": _hostile('''
import socket
_port = int(os.environ.get("LOWBIT_HOSTILE_PORT", "0"))
if _port:
    try:
        with socket.create_connection(("127.0.0.1", _port), timeout=2) as _s:
            _s.sendall(b"stolen answers")
        print("connected to the grader's port")
    except OSError as _error:
        print("no connection:", type(_error).__name__)
'''),
    "sample_hostile_solutions": {
        "@solutions": True,
        "pack_weights": _GUARD + _WRONG_PACK + '''
import json
try:
    _source = json.loads((_course / "solutions" / "01_bits_and_loops" / "01_bits_and_loops.ipynb").read_text())
    exec(next("".join(c["source"]) for c in _source["cells"] if "def pack_weights" in "".join(c["source"])))
    print("solutions/: copied pack_weights")
except (OSError, TypeError, StopIteration) as _error:
    print("solutions/: not visible", type(_error).__name__)
''',
    },
    "sample_hostile_forkbomb": _hostile('''
_children = []
try:
    for _ in range(400):  # at most 400 processes, each gone after 20 s
        _children.append(os.posix_spawn("/bin/sleep", ["sleep", "20"], {}))
    print(f"started all {len(_children)} processes")
except OSError as _error:
    print(f"fork refused after {len(_children)} processes ({type(_error).__name__})")
finally:
    for _pid in _children:
        os.kill(_pid, 9)
        os.waitpid(_pid, 0)
'''),
    "sample_hostile_memory": _hostile('''
_hog = torch.empty(16 << 30, dtype=torch.uint8)  # 16 GiB, four times the sandbox's memory limit
'''),
    "sample_hostile_disk": _hostile('''
_written = 0
try:
    for _i in range(8 if _course else 0):  # at most 1 GiB, in the working folder, removed below
        with open(f"filler-{_i}.bin", "wb") as _f:
            for _ in range(8):
                _f.write(bytes(16 << 20))
                _written += 16
    print(f"wrote {_written} MiB")
except OSError as _error:
    print(f"disk full after {_written} MiB ({_error.strerror})")
finally:
    for _i in range(8):
        Path(f"filler-{_i}.bin").unlink(missing_ok=True)
'''),
})
