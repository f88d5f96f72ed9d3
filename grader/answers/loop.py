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
    # MSB-first: the first value in the high bits (the wrong order for this course)
    per_byte = 8 // bits
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
