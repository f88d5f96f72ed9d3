"""Independent checks for lesson 05 (see grader/verify.py): run outside the student's kernel.

PRELUDE is what the solution cells may assume (the lesson's setup); BLOCKED are packages the
answers may not import; checks() maps each graded test cell to the calls whose outputs must
match lowbit_ref's exactly.

Lesson 05's exercises are built on ``lowbit_ref.checkpoint`` (quantize_uint, save, load,
dequantize): choosing and combining them is the exercise. So, unlike other lessons, its answers
may use that module, and what would answer an exercise outright is taken away before they run:
``checkpoint.bits_for_range`` (exercise 1), ``checkpoint.save_model`` and ``checkpoint.load_model``
(exercise 2: the lesson's fallbacks for save_mixed and load_mixed), ``checkpoint.size_report``
(exercise 3), ``uintx.unpack`` and ``uintx.unpack_bits`` (exercises 1 and 5 unpack by hand or not
at all), and ``lowbit_ref.widgets``, ``lowbit_ref.resnet`` and ``lowbit_ref.nn``. The sandbox
does not see an editable install, so PRELUDE loads ``lowbit_ref`` by path, from where this
process imported it.

A network or a file cannot travel to the sandbox as data, so PRELUDE also defines small drivers
(HARNESS): they rebuild a network from its layer sizes and a seed, write a file from its bytes,
call the student's function and return tensors, strings and numbers. Here, where no student code
runs, the same HARNESS describes lowbit_ref's own files to make the expected values.

The cases are the notebook's: its test cells' literals (``cases``, ``BITS``, ``NETS``, ``plan``, ...),
read from the solutions notebook by ``common.cell_literals``. The notebook's tests use its trained
model where these use a network of the same shape (``_grader_net``) with drawn weights; and
random inputs of the same shapes, from other seeds.
"""

import os
import tempfile
from pathlib import Path

import torch

from common import cell_literals
import lowbit_ref
from lowbit_ref import checkpoint, uintx
from lowbit_ref.nn import PackedLinear
from grader.bwrap import library_folder
from verify import call, raises

LESSON = "05_mixed_checkpoints"

PACKAGE = library_folder()  # the lowbit_ref the sandboxed check imports (not the course copy it hides)
BLOCKED = ()  # lowbit_ref is loaded by PRELUDE, then trimmed (see below)

HARNESS = '''
import json as _json


def _grader_net(sizes, seed=0, batchnorm=False):
    """Linear layers of `sizes` (ReLU between, BatchNorm1d before each ReLU with batchnorm), every
    parameter drawn from a generator seeded with `seed`: the same network in both processes."""
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        if layers:
            layers += [torch.nn.BatchNorm1d(a)] if batchnorm else []
            layers.append(torch.nn.ReLU())
        layers.append(torch.nn.Linear(a, b))
    net = torch.nn.Sequential(*layers)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
    return net


def _grader_state(state):
    """A loaded checkpoint as data: (its layout as JSON, its tensors), names sorted."""
    layout, tensors = {}, []
    for name in sorted(state):
        v = state[name]
        if isinstance(v, checkpoint.QuantizedTensor):
            p = v.packed
            layout[name] = [p.scheme, p.bits, list(p.shape), p.dim, p.order, str(p.dtype), v.group_size,
                            v.scale is None, v.zero_point is None]
            tensors += [p.data] + [t for t in (v.scale, v.zero_point) if t is not None]
        else:
            layout[name] = ["plain", list(v.shape), str(v.dtype)]
            tensors.append(v)
    return _json.dumps(layout, sort_keys=True), tuple(tensors)


def _grader_file(folder, data):
    path = os.path.join(folder, "model.safetensors")
    with open(path, "wb") as f:
        f.write(bytes(data.tolist()))
    return path


def _grader_save(sizes, seed, plan):
    """save_mixed on a network, then what lowbit_ref reads back from the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        save_mixed(_grader_net(sizes, seed), plan, path)
        return _grader_state(checkpoint.load(path))


def _grader_save_refused(sizes, plan, existing):
    """save_mixed with a bad plan, or onto an existing file: what it raised and what is left."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        if existing:
            with open(path, "wb") as f:
                f.write(b"someone else's file")
        try:
            save_mixed(_grader_net(sizes), plan, path)
            outcome = "no error"
        except ValueError:
            outcome = "ValueError"
        if existing:
            with open(path, "rb") as f:
                return outcome + (", file kept" if f.read() == b"someone else's file" else ", file changed")
        return outcome + (", a file written" if os.listdir(folder) else ", no file")


def _grader_load(sizes, data):
    """load_mixed of a file's bytes into a network of zeros: (it returned that network, its tensors)."""
    net = _grader_net(sizes)
    for p in net.parameters():
        p.data.zero_()
    with tempfile.TemporaryDirectory() as folder:
        got = load_mixed(_grader_file(folder, data), net)
    return got is net, tuple(net.state_dict().values())


def _grader_ratio(sizes, batchnorm, data):
    """compression_ratio of a file's bytes for a network of `sizes`."""
    with tempfile.TemporaryDirectory() as folder:
        return compression_ratio(_grader_file(folder, data), _grader_net(sizes, batchnorm=batchnorm))
'''

PRELUDE = f'''
import copy
import importlib.util
import os
import sys
import tempfile
import time

import torch
from torch import nn

_spec = importlib.util.spec_from_file_location(
    "lowbit_ref", {str(PACKAGE / "__init__.py")!r}, submodule_search_locations=[{str(PACKAGE)!r}])
sys.modules["lowbit_ref"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sys.modules["lowbit_ref"])
from lowbit_ref import checkpoint, uintx
import lowbit_ref.checkpoint.model, lowbit_ref.checkpoint.report, lowbit_ref.quantize
from lowbit_ref.quantize import to_scale as half_up

# What would answer an exercise outright is not there while answers are checked: not in the
# package, nor in the modules it re-exports from.
for _module, _names in ((checkpoint, ("bits_for_range", "size_report", "save_model", "load_model")),
                        (lowbit_ref.quantize, ("bits_for_range",)),
                        (lowbit_ref.checkpoint.report, ("size_report",)),
                        (lowbit_ref.checkpoint.model, ("save_model", "load_model", "_check_plan")),
                        (uintx, ("unpack", "unpack_bits"))):  # quantize_uint, dequantize, unpack_weight
    for _name in _names:
        delattr(_module, _name)
for _name in ("widgets", "resnet", "loop", "course", "kernels", "bench", "nn"):
    sys.modules["lowbit_ref." + _name] = None
''' + HARNESS

_HERE = {"checkpoint": checkpoint, "torch": torch, "os": os, "tempfile": tempfile}
exec(compile(HARNESS, "<harness>", "exec"), _HERE)


def _library_file(net, plan) -> torch.Tensor:
    """The bytes of lowbit_ref's file of `net`: weights in `plan` at their width (or "ternary"),
    one scale per output row; the rest as it is."""
    state = {}
    for name, t in net.state_dict().items():
        if plan.get(name) == "ternary":
            state[name] = checkpoint.quantize_trits(t, scheme="base3", group_size=t.shape[1])
        elif name in plan:
            state[name] = checkpoint.quantize_uint(t, plan[name], group_size=t.shape[1])
        else:
            state[name] = t
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "reference.safetensors")
        checkpoint.save(path, state)
        return torch.tensor(list(Path(path).read_bytes()), dtype=torch.uint8)


def _from_bytes(data: torch.Tensor) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        return checkpoint.load(_HERE["_grader_file"](folder, data))


def _tensor(kind, shape, factor, dtype, g) -> torch.Tensor:
    """``torch.<kind>(shape) * factor`` as ``dtype``: a tensor of the notebook's ``OTHERS``."""
    base = getattr(torch, kind)(shape, generator=g) if kind in ("rand", "randn") else getattr(torch, kind)(shape)
    return (base * factor).to(getattr(torch, dtype))


def checks():
    spec = {cell: cell_literals(LESSON, cell) for cell in (
        "test_quantize_uint", "test_dequantize", "test_bits_needed", "test_save_mixed", "test_load_mixed",
        "test_compression_ratio", "test_unpack_weight")}
    mlp = (64, 128, 64, 10)  # make_mlp(): the notebook's trained model; here, a network of its shape
    net = _HERE["_grader_net"]

    save = spec["test_save_mixed"]
    saves = []
    nets = [(mlp, save["plan"])] + [(mlp, plan) for plan in save["MODEL_PLANS"]] + save["NETS"]
    for seed, (sizes, plan) in enumerate(nets):
        want = _HERE["_grader_state"](_from_bytes(_library_file(net(list(sizes), seed), plan)))
        saves.append(call("_grader_save", list(sizes), seed, plan, expect=want))
    saves.append(call("_grader_save_refused", list(mlp), save["plan"], True, expect="ValueError, file kept"))
    saves += [call("_grader_save_refused", list(mlp), bad, False, expect="ValueError, no file")
              for bad in [save["TYPO"], *save["BAD_PLANS"]]]

    loads = []
    for seed, (sizes, plan) in enumerate([(mlp, spec["test_load_mixed"]["plan"]), *spec["test_load_mixed"]["NETS"]]):
        data = _library_file(net(list(sizes), seed), plan)
        stored = _from_bytes(data)
        want = tuple(checkpoint.dequantize(v) if isinstance(v, checkpoint.QuantizedTensor) else v for v in stored.values())
        loads.append(call("_grader_load", list(sizes), data, expect=(True, want)))

    ratio = spec["test_compression_ratio"]
    ratios = []
    for sizes, batchnorm, plan in [*((mlp, False, dict.fromkeys(["0.weight", "2.weight", "4.weight"], b)) for b in ratio["WIDTHS"]),
                                   *((mlp, False, plan) for plan in ratio["MODEL_PLANS"]),
                                   *((sizes, True, plan) for sizes, plan in ratio["BATCHNORM_NETS"])]:
        model = net(list(sizes), batchnorm=batchnorm)
        data = _library_file(model, plan)
        want = 4 * sum(p.numel() for p in model.parameters()) / data.numel()  # parameters, not running statistics
        ratios.append(call("_grader_ratio", list(sizes), batchnorm, data, expect=want, rtol=1e-12))

    g = torch.Generator().manual_seed(56)
    q_spec = spec["test_quantize_uint"]
    layer0 = net(list(mlp), 56)[0].weight.detach()
    w_small = torch.tensor(q_spec["W_SMALL"])
    cases = [(w_small, 2, 4, False), (w_small, 3, None, True)]  # the visible ones
    cases += [(layer0, b, grp, s) for b in q_spec["BITS"] for grp in q_spec["GROUP_SIZES"] for s in (False, True) if b > 1 or not s]
    cases += [(_tensor(*made, g), *rest) for made, *rest in q_spec["OTHERS"]]
    quantized = []
    for w, bits, grp, symmetric in cases:
        q = checkpoint.quantize_uint(w, bits, group_size=grp, symmetric=symmetric)
        want = (uintx.unpack(q.packed), q.scale.reshape(-1), q.zero_point.reshape(-1))
        quantized.append(call("quantize_uint", w, bits, grp, symmetric, expect=want))
    quantized += [raises("quantize_uint", w_small, bad["bits"], bad.get("group_size"), bad.get("symmetric", False))
                  for bad in q_spec["REFUSED"]]
    quantized += [raises("quantize_uint", torch.ones(8, 8), *bad) for bad in q_spec["HIDDEN_REFUSED"]]

    d_spec = spec["test_dequantize"]
    dequantized = [call("dequantize", torch.tensor(c, dtype=torch.uint8), torch.tensor(s, dtype=torch.float16),
                        torch.tensor(z, dtype=torch.uint8), grp, expect=torch.tensor(want))
                   for c, s, z, grp, want in d_spec["cases"]]
    layers = net(list(mlp), 54)
    for w, bits, grp, symmetric in [(layers[i].weight.detach(), *rest) for i, *rest in d_spec["LAYERS"]] + \
                                   [(torch.randn(shape, generator=g), *rest) for shape, *rest in d_spec["SHAPES"]]:
        q = checkpoint.quantize_uint(w, bits, group_size=grp, symmetric=symmetric)
        dequantized.append(call("dequantize", uintx.unpack(q.packed), q.scale.reshape(-1), q.zero_point.reshape(-1), grp,
                                expect=checkpoint.dequantize(q), rtol=1e-6))

    u_spec = spec["test_unpack_weight"]
    unpacked = [call("unpack_weight", torch.tensor(p, dtype=torch.uint8), bits, n, torch.tensor(s, dtype=torch.float16),
                     torch.tensor(z, dtype=torch.uint8), expect=torch.tensor(want))
                for p, bits, n, s, z, want in u_spec["cases"]]
    torch.manual_seed(57)
    for bits in u_spec["BITS"]:
        for in_features, grp in u_spec["LAYOUTS"]:
            layer = PackedLinear.from_linear(torch.nn.Linear(in_features, u_spec["OUT_FEATURES"]), bits=bits, group_size=grp)
            unpacked.append(call("unpack_weight", layer.packed, bits, in_features, layer.scale, layer.zero_point,
                                 expect=layer.weight(), rtol=1e-6))

    b_spec = spec["test_bits_needed"]
    needed = [call("bits_needed", m, expect=want) for m, want in b_spec["cases"]]
    needed += [call("bits_needed", m, expect=checkpoint.bits_for_range(m)) for m in range(b_spec["N_CODES"])]
    needed += [raises("bits_needed", m) for m in (*b_spec["REFUSED"], *b_spec["HIDDEN_REFUSED"])]

    return {
        "test_quantize_uint": quantized,
        "test_dequantize": dequantized,
        "test_unpack_weight": unpacked,
        "test_bits_needed": needed,
        "test_save_mixed": saves,
        "test_load_mixed": loads,
        "test_compression_ratio": ratios,
    }
