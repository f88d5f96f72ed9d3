"""lowbit_ref.kernels: Triton unpack and fused matvec, against plain-torch references.

Kernel tests need Triton (an optional extra) and skip without it; the references, the checks
and the "import works without Triton" tests run everywhere. With no CUDA GPU the kernels run in
the Triton interpreter, and Triton's jitted functions read TRITON_INTERPRET when they are
defined, at import: so this module sets it before importing lowbit_ref.kernels (which imports
triton). If something in the
same process imported triton before, the kernel tests fail and say so (set the flag in
conftest.py then).
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"  # before `import triton`, which lowbit_ref.kernels does

import doctest
import importlib.util
import json
import math
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lowbit_ref
from lowbit_ref import kernels, ternary, uintx
from lowbit_ref.bitstream import stream_pack_reference
from lowbit_ref.errors import LowbitError
from lowbit_ref.kernels import matvec_packed, matvec_reference, unpack_triton
from lowbit_ref.packed import PackedTensor

TRITON_REASON = "Triton is an optional extra (pip install 'lowbit-ref[triton]'); the kernel tests need it"
FORMATS = [("uint", 1), ("uint", 2), ("uint", 4), ("ternary2", 2)]
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def kdevice(device):
    """``device`` for tests that launch kernels: skips without Triton, or where kernels cannot run."""
    pytest.importorskip("triton", reason=TRITON_REASON)
    if device.type == "mps":
        pytest.skip("Triton has no MPS backend")
    if device.type == "cpu" and not kernels.interpreter_active():
        if torch.cuda.is_available():
            pytest.skip("cpu tensors need the Triton interpreter, which this module leaves off where a GPU exists")
        pytest.fail(
            "no GPU and the Triton interpreter is off: triton was imported before this module set "
            "TRITON_INTERPRET=1; set it in tests/conftest.py before anything imports triton"
        )
    return device


# --- the references the kernels are tested against ----------------------------------------------


def pack_spec(values, bits, *, scheme="uint", order="lsb", dim=-1) -> PackedTensor:
    """The one layout, from the one oracle (lowbit_ref.bitstream, one bit at a time): ternary2
    stores trit + 1 and pads with trit 0."""
    dim = dim % max(values.dim(), 1)
    offset = 1 if scheme == "ternary2" else 0
    data = stream_pack_reference(values.to(torch.int64), bits, dim, order, offset=offset)
    return PackedTensor(data.to(values.device), bits, values.shape, dim, order, scheme, values.dtype)


def matvec_spec(codes, scale, x, group_size, zero=None) -> torch.Tensor:
    """y[r] = sum_c w[r, c] x[c], one weight at a time, in float64 (slow on purpose)."""
    out_features, in_features = codes.shape
    y = torch.zeros(out_features, dtype=torch.float64)
    for r in range(out_features):
        for c in range(in_features):
            g = c // group_size
            z = 0.0 if zero is None else float(zero if zero.dim() == 0 else zero[r, g])
            y[r] += (float(codes[r, c]) - z) * float(scale[r, g]) * float(x[c])
    return y


def random_values(shape, scheme, bits, dtype=None, generator=None):
    if scheme == "ternary2":
        return torch.randint(-1, 2, shape, generator=generator).to(dtype or torch.int8)
    return torch.randint(0, 2**bits, shape, generator=generator).to(dtype or torch.uint8)


def assert_matvec_close(got, want):
    tol = {torch.float32: 1e-4, torch.float16: 2e-3, torch.bfloat16: 2e-2}[want.dtype]
    torch.testing.assert_close(got.cpu(), want.cpu(), rtol=tol, atol=tol)


def test_pack_spec_draws_the_one_layout():
    """The reference packer, pinned to the layout drawn in kernels.unpack_triton."""
    u8 = torch.uint8
    assert torch.equal(pack_spec(torch.tensor([1, 0, 3, 2], dtype=u8), 2).data, torch.tensor([177], dtype=u8))
    msb = pack_spec(torch.tensor([1, 0, 3, 2], dtype=u8), 2, order="msb")
    assert torch.equal(msb.data, torch.tensor([78], dtype=u8))
    assert torch.equal(pack_spec(torch.tensor([1, 2, 3], dtype=u8), 4).data, torch.tensor([0x21, 0x03], dtype=u8))
    trits = pack_spec(torch.tensor([0, -1, 1, 1], dtype=torch.int8), 2, scheme="ternary2")
    assert torch.equal(trits.data, torch.tensor([161], dtype=u8))
    padded = pack_spec(torch.tensor([1], dtype=torch.int8), 2, scheme="ternary2")
    assert torch.equal(padded.data, torch.tensor([0b01_01_01_10], dtype=u8))  # padding: trit 0


def test_pack_spec_agrees_with_uintx_and_ternary():
    values = torch.randint(0, 16, (3, 37), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    for bits in (1, 2, 4):
        v = values % (1 << bits)
        assert torch.equal(uintx.pack(v, bits).data, pack_spec(v, bits).data), f"bits={bits}"
    t = values.to(torch.int8) % 3 - 1
    assert torch.equal(ternary.pack_ternary(t).data, pack_spec(t, 2, scheme="ternary2").data)


# --- unpack_triton ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, bits, scheme, order, byte",
    [
        ([1, 0, 3, 2], 2, "uint", "lsb", 177),  # the drawing in unpack_triton's docstring
        ([1, 0, 3, 2], 2, "uint", "msb", 78),
        ([1, 0, 0, 0, 1, 1, 0, 1], 1, "uint", "lsb", 0b10110001),
        ([1, 2], 4, "uint", "lsb", 0x21),
        ([0, -1, 1, 1], 2, "ternary2", "lsb", 161),
    ],
)
def test_unpack_golden_bytes(kdevice, values, bits, scheme, order, byte):
    dtype = torch.int8 if scheme == "ternary2" else torch.uint8
    data = torch.tensor([byte], dtype=torch.uint8, device=kdevice)
    packed = PackedTensor(data, bits, (len(values),), 0, order, scheme, dtype)
    assert torch.equal(unpack_triton(packed).cpu(), torch.tensor(values, dtype=dtype))


@pytest.mark.parametrize("scheme, bits", FORMATS)
@pytest.mark.parametrize("order", ["lsb", "msb"])
@pytest.mark.parametrize("n", [37, 256])  # odd rows with padding; rows that make one stream
def test_unpack_awkward_sizes(kdevice, scheme, bits, order, n):
    """Several rows, row lengths that are no multiple of the block, small blocks so many programs run."""
    gen = torch.Generator().manual_seed(n * bits)
    values = random_values((5, n), scheme, bits, generator=gen)
    packed = pack_spec(values, bits, scheme=scheme, order=order).to(kdevice)
    for block_bytes in (None, 8):
        got = unpack_triton(packed, block_bytes=block_bytes)
        assert got.device.type == kdevice.type and got.dtype == values.dtype
        assert torch.equal(got.cpu(), values), f"block_bytes={block_bytes}"


@st.composite
def packed_cases(draw):
    scheme, bits = draw(st.sampled_from(FORMATS))
    shape = tuple(draw(st.lists(st.integers(0, 7), min_size=0, max_size=3)))
    if len(shape) == 3:
        shape = shape[:2] + (draw(st.integers(0, 40)),)
    dim = draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    if scheme == "ternary2":
        dtypes = [torch.int8, torch.int32, torch.float32]
    else:
        dtypes = [torch.uint8, torch.int64, torch.float16]
    if scheme == "uint" and bits == 1:
        dtypes.append(torch.bool)
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**16))
    values = random_values(shape, scheme, bits, dtype, torch.Generator().manual_seed(seed))
    order = draw(st.sampled_from(["lsb", "msb"]))
    return values, pack_spec(values, bits, scheme=scheme, order=order, dim=dim), draw(st.sampled_from([None, 4, 16]))


@SLOW
@given(case=packed_cases())
def test_unpack_returns_the_original_tensor(case):
    """Any shape (0-d and empty included), any dim, both orders, several dtypes: exactly the input back."""
    values, packed, block_bytes = case
    if not kernels.triton_available():
        pytest.skip(TRITON_REASON)
    if not kernels.interpreter_active():
        pytest.skip("cpu tensors need the Triton interpreter; the GPU case is test_unpack_awkward_sizes")
    got = unpack_triton(packed, block_bytes=block_bytes)
    assert got.shape == values.shape and got.dtype == values.dtype
    assert torch.equal(got, values)


def test_unpack_reads_pack_ternary(kdevice):
    w = torch.randn(6, 40, generator=torch.Generator().manual_seed(3))
    codes, scale = ternary.quantize_ternary(w, group_size=8)
    packed = ternary.pack_ternary(codes).to(kdevice)
    assert torch.equal(unpack_triton(packed).cpu(), codes)
    x = torch.randn(40, generator=torch.Generator().manual_seed(4))
    want = matvec_spec(codes, scale, x, 8).float()
    assert_matvec_close(matvec_packed(packed, scale.to(kdevice), x.to(kdevice), group_size=8), want)


# --- matvec -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scheme, bits, zero_kind",
    [(s, b, z) for s, b in FORMATS for z in ("none", "number", "0-d", "per group") if s == "uint" or z == "none"],
)
def test_matvec_reference_matches_the_loop(scheme, bits, zero_kind):
    gen = torch.Generator().manual_seed(bits)
    codes = random_values((4, 11), scheme, bits, generator=gen)
    scale = torch.rand(4, 3, generator=gen) + 0.5  # group_size 4: groups of 4, 4, 3 columns
    x = torch.randn(11, generator=gen)
    zero = {
        "none": None,
        "number": 1,
        "0-d": torch.tensor(1.5),
        "per group": torch.randint(0, 2**bits, (4, 3), generator=gen).to(torch.uint8),
    }[zero_kind]
    got = matvec_reference(pack_spec(codes, bits, scheme=scheme), scale, x, group_size=4, zero=zero)
    z = torch.tensor(float(zero)) if isinstance(zero, int) else zero
    torch.testing.assert_close(got, matvec_spec(codes, scale, x, 4, z).float(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scheme, bits", FORMATS)
@pytest.mark.parametrize("order", ["lsb", "msb"])
def test_matvec_awkward_sizes(kdevice, scheme, bits, order):
    """Odd in_features (padding in each row's last byte), a short last group, 13 rows, small blocks."""
    gen = torch.Generator().manual_seed(7 + bits)
    out_features, in_features, group_size = 13, 77, 11
    codes = random_values((out_features, in_features), scheme, bits, generator=gen)
    scale = torch.rand(out_features, 7, generator=gen) + 0.1
    zero = None if scheme == "ternary2" else torch.rand(out_features, 7, generator=gen) * 2**bits
    x = torch.randn(in_features, generator=gen)
    want = matvec_spec(codes, scale, x, group_size, zero).float()
    packed = pack_spec(codes, bits, scheme=scheme, order=order).to(kdevice)
    to = lambda t: None if t is None else t.to(kdevice)  # noqa: E731
    for blocks in ({}, {"block_rows": 4, "block_bytes": 2}):
        got = matvec_packed(packed, to(scale), to(x), group_size=group_size, zero=to(zero), **blocks)
        assert got.device.type == kdevice.type
        assert_matvec_close(got, want)
        assert_matvec_close(matvec_reference(packed, to(scale), to(x), group_size=group_size, zero=to(zero)), want)


@st.composite
def matvec_cases(draw):
    scheme, bits = draw(st.sampled_from(FORMATS))
    out_features, in_features = draw(st.integers(1, 20)), draw(st.integers(1, 90))
    group_size = draw(st.integers(1, in_features + 3))
    n_groups = math.ceil(in_features / group_size)
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    codes = random_values((out_features, in_features), scheme, bits, generator=gen)
    dtype = draw(st.sampled_from([torch.float32, torch.float16, torch.bfloat16]))
    scale = (torch.rand(out_features, n_groups, generator=gen) + 0.1).to(dtype)
    x = torch.randn(in_features, generator=gen).to(dtype)
    zero = None
    if scheme == "uint":
        zero = draw(
            st.sampled_from(
                [
                    None,
                    2**bits // 2,
                    torch.tensor(0.5 * 2**bits),
                    torch.randint(0, 2**bits, (out_features, n_groups), generator=gen).to(torch.uint8),
                    torch.rand(out_features, n_groups, generator=gen) * 2**bits,
                ]
            )
        )
    blocks = draw(st.sampled_from([{}, {"block_rows": 2, "block_bytes": 4}, {"block_rows": 16, "block_bytes": 1}]))
    order = draw(st.sampled_from(["lsb", "msb"]))
    return pack_spec(codes, bits, scheme=scheme, order=order), scale, x, group_size, zero, blocks


@SLOW
@given(case=matvec_cases())
def test_matvec_matches_reference(case):
    packed, scale, x, group_size, zero, blocks = case
    if not kernels.triton_available():
        pytest.skip(TRITON_REASON)
    if not kernels.interpreter_active():
        pytest.skip("cpu tensors need the Triton interpreter; the GPU case is test_matvec_awkward_sizes")
    got = matvec_packed(packed, scale, x, group_size=group_size, zero=zero, **blocks)
    assert got.dtype == x.dtype and got.shape == (packed.shape[0],)
    assert_matvec_close(got, matvec_reference(packed, scale, x, group_size=group_size, zero=zero))


def test_matvec_ignores_ternary_padding(kdevice):
    """Padding fields must not reach the sum, whatever they hold: trit 0 (field 1, what pack_ternary
    writes), or field 0, trit -1 (how version-1 checkpoints padded)."""
    packed = pack_spec(torch.zeros(3, 5, dtype=torch.int8), 2, scheme="ternary2")
    old = packed.data.clone()
    old[:, 1] &= 0b11  # the last byte holds one real field; its three padding fields become 0
    for data in (packed.data, old):
        w = PackedTensor(data, 2, (3, 5), 1, scheme="ternary2", dtype=torch.int8).to(kdevice)
        y = matvec_packed(w, torch.ones(3, 1, device=kdevice), torch.ones(5, device=kdevice), group_size=5)
        assert torch.equal(y.cpu(), torch.zeros(3))
        assert torch.equal(unpack_triton(w).cpu(), torch.zeros(3, 5, dtype=torch.int8))


def test_matvec_per_tensor_scale_as_documented(kdevice):
    codes = random_values((6, 19), "uint", 4, generator=torch.Generator().manual_seed(5))
    packed = pack_spec(codes, 4).to(kdevice)
    scale = torch.tensor(0.25, device=kdevice).reshape(1, 1).expand(6, 1)  # stride 0: no copy
    x = torch.randn(19, generator=torch.Generator().manual_seed(6))
    got = matvec_packed(packed, scale, x.to(kdevice), group_size=19, zero=8)
    assert_matvec_close(got, ((codes.float() - 8) * 0.25) @ x)


def test_matvec_empty_shapes(kdevice):
    for out_features, in_features in [(0, 5), (4, 0)]:
        packed = pack_spec(torch.zeros(out_features, in_features, dtype=torch.uint8), 2).to(kdevice)
        scale = torch.ones(out_features, math.ceil(in_features / 3), device=kdevice)
        y = matvec_packed(packed, scale, torch.ones(in_features, device=kdevice), group_size=3)
        assert torch.equal(y.cpu(), torch.zeros(out_features))


# --- bad input: checked before any kernel runs, so these need no Triton -------------------------


def _w(scheme="uint", shape=(3, 8), dim=1, dtype=torch.uint8):
    """A 2-bit PackedTensor of zeros."""
    data_shape = list(shape)
    data_shape[dim] = math.ceil(shape[dim] / 4)
    return PackedTensor(torch.zeros(data_shape, dtype=torch.uint8), 2, shape, dim, scheme=scheme, dtype=dtype)


def _flat(bits, n, scheme="uint", dtype=torch.uint8):
    data = torch.zeros(math.ceil(n * bits / 8), dtype=torch.uint8)
    return PackedTensor(data, bits, (n,), 0, scheme=scheme, dtype=dtype)


ONES_1, ONES_8 = torch.ones(3, 1), torch.ones(8)
BAD_INPUT = [
    (lambda: unpack_triton(torch.zeros(4, dtype=torch.uint8)), r"packed must be a PackedTensor, got Tensor"),
    (
        lambda: unpack_triton(PackedTensor(torch.zeros(1, dtype=torch.uint8), 2, (5,), 0, scheme="base3")),
        r"scheme must be 'uint' or 'ternary2', got 'base3'",
    ),
    (lambda: unpack_triton(_flat(3, 8)), r"packed.bits must be one of \(1, 2, 4\), got 3"),
    (lambda: unpack_triton(_flat(4, 8, "ternary2", torch.int8)), r"packed.bits must be 2 for ternary2, got 4"),
    (lambda: unpack_triton(_flat(2, 8, "ternary2")), r"must be signed, got torch.uint8"),
    (lambda: unpack_triton(_flat(2, 8, dtype=torch.complex64)), r"packed.dtype must be one of .*, got torch.complex64"),
    (lambda: unpack_triton(_w(), block_bytes=3), r"block_bytes must be a power of two in 1..65536, got 3"),
    (
        lambda: matvec_packed(_w(), ONES_1, ONES_8, group_size=8, block_rows=0),
        r"block_rows must be a power of two in 1..256, got 0",
    ),
    (
        lambda: matvec_reference(_w(shape=(8,), dim=0), torch.ones(1, 1), ONES_8, group_size=8),
        r"shape \(out_features, in_features\) packed along dim 1, got shape \(8,\) packed along dim 0",
    ),
    (lambda: matvec_reference(_w(), ONES_1, ONES_8, group_size=0), r"group_size must be an int >= 1, got 0"),
    (lambda: matvec_reference(_w(), ONES_1, ONES_8, group_size=True), r"group_size must be an int >= 1, got True"),
    (
        lambda: matvec_reference(_w(), torch.ones(3, 2), ONES_8, group_size=3),
        r"scale must have shape \(3, 3\) for W \(3, 8\) and group_size=3, got \(3, 2\)",
    ),
    (
        lambda: matvec_reference(_w(), ONES_1.double(), ONES_8, group_size=8),
        r"scale.dtype must be one of .*, got torch.float64",
    ),
    (lambda: matvec_reference(_w(), ONES_1, torch.ones(7), group_size=8), r"x must have shape \(8,\) .* got \(7,\)"),
    (
        lambda: matvec_reference(_w(), ONES_1, torch.ones(8, device="meta"), group_size=8),
        r"x is on meta but packed is on cpu",
    ),
    (
        lambda: matvec_reference(_w("ternary2", dtype=torch.int8), ONES_1, ONES_8, group_size=8, zero=1),
        r"zero is only for unsigned codes .* got zero=1",
    ),
    (
        lambda: matvec_reference(_w(), ONES_1, ONES_8, group_size=8, zero=torch.ones(3, 2)),
        r"zero must be a scalar or have the shape of scale \(3, 1\), got \(3, 2\)",
    ),
    (
        lambda: matvec_reference(_w(), ONES_1, ONES_8, group_size=8, zero="2"),
        r"zero must be None, a real number or a real tensor, got '2'",
    ),
]


@pytest.mark.parametrize("call, match", BAD_INPUT)
def test_bad_input_names_argument_value_and_what_is_accepted(call, match):
    with pytest.raises(LowbitError, match=match):
        call()


# --- modes, and life without Triton --------------------------------------------------------------


def test_kernels_import_and_explain_without_triton(monkeypatch):
    """A copy of the package loaded with `import triton` failing: references work, kernels say how to install."""
    monkeypatch.setitem(sys.modules, "triton", None)  # makes `import triton` raise ImportError
    monkeypatch.setitem(sys.modules, "triton.language", None)
    name = "lowbit_ref._kernels_without_triton"
    folder = os.path.dirname(os.path.abspath(kernels.__file__))
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
    )
    probe = importlib.util.module_from_spec(spec)
    sys.modules[name] = probe  # the package's relative imports load fresh copies of its modules under it
    try:
        spec.loader.exec_module(probe)
        copies = sorted(m for m in sys.modules if m.startswith(name + "."))
        assert copies == [f"{name}.{m}" for m in ("matmul", "matvec", "mode", "unpack")], copies
        for public in kernels.__all__:  # every name comes from the copies, none from the real package
            assert getattr(probe, public).__module__.startswith(name), public
        assert probe.mode.triton is None and probe.mode.tl is None
        assert not probe.triton_available() and not probe.interpreter_active()
        packed = pack_spec(torch.tensor([[1, 0, 3, 2]], dtype=torch.uint8), 2)
        hint = r"unpack_triton needs Triton, which is not installed: pip install 'lowbit-ref\[triton\]'"
        with pytest.raises(ImportError, match=hint):
            probe.unpack_triton(packed)
        with pytest.raises(ImportError, match=r"matvec_packed needs Triton.*pip install triton"):
            probe.matvec_packed(packed, torch.ones(1, 1), torch.ones(4), group_size=4)
        with pytest.raises(ImportError, match=r"matmul_packed needs Triton.*pip install triton"):
            probe.matmul_packed(packed, torch.ones(1, 1), torch.ones(2, 4), group_size=4)
        y = probe.matvec_reference(packed, torch.ones(1, 1), torch.ones(4), group_size=4)
        assert torch.equal(y, torch.tensor([6.0]))
        Y = probe.matmul_reference(packed, torch.ones(1, 1), torch.ones(2, 4), group_size=4)
        assert torch.equal(Y, torch.tensor([[6.0], [6.0]]))
    finally:
        for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[m]


_SUBPROCESS = r"""
import importlib, json, os, pkgutil, sys
os.environ.pop("TRITON_INTERPRET", None)
import torch, lowbit_ref
imported = []
for info in pkgutil.iter_modules(lowbit_ref.__path__):
    # kernels imports Triton, and bench_gpu imports kernels: the two that may
    if info.name not in ("kernels", "bench_gpu", "gpucheck"):
        importlib.import_module("lowbit_ref." + info.name)  # an ImportError fails the test
        imported.append(info.name)
result = {"imported": imported, "triton_imported": "triton" in sys.modules, "errors": []}
from lowbit_ref import kernels
from lowbit_ref.packed import PackedTensor
packed = PackedTensor(torch.tensor([177], dtype=torch.uint8), 2, (4,), 0)
for set_flag in (False, True):
    if set_flag:
        os.environ["TRITON_INTERPRET"] = "1"  # too late: triton is imported
    try:
        kernels.unpack_triton(packed)
        result["errors"].append(None)
    except Exception as e:
        result["errors"].append(type(e).__name__ + ": " + str(e))
result["interpreter_active"] = kernels.interpreter_active()
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def fresh_process():
    """One Python started without TRITON_INTERPRET (costs a torch import, so shared)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(lowbit_ref.__file__)))
    done = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS], capture_output=True, text=True, env=env, cwd=root, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # fresh_process: a new Python importing every module
def test_only_kernels_imports_triton(fresh_process):
    assert {"packed", "uintx", "bench", "checkpoint", "widgets"} <= set(fresh_process["imported"])
    assert not fresh_process["triton_imported"], f"one of {fresh_process['imported']} imports triton"


@pytest.mark.slow
def test_cpu_without_interpreter_says_how_to_turn_it_on(fresh_process):
    if not kernels.triton_available():
        pytest.skip(TRITON_REASON)
    if torch.cuda.is_available():
        pytest.skip("the message is for machines without a GPU")
    never_set, set_too_late = fresh_process["errors"]
    assert fresh_process["interpreter_active"] is False
    assert never_set.startswith("LowbitError: unpack_triton: tensors are on device cpu, but Triton compiles")
    assert "set TRITON_INTERPRET=1 before triton is imported" in never_set
    assert "TRITON_INTERPRET=1 is set, but after triton was imported" in set_too_late


def test_interpreter_active_reports_the_mode():
    """False without Triton; otherwise whether TRITON_INTERPRET was on when Triton was imported:
    conftest.py and this module set it (before any import of triton) exactly when there is no GPU."""
    if not kernels.triton_available():
        assert kernels.interpreter_active() is False
    else:
        flag = os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "on", "yes")
        if not torch.cuda.is_available():
            assert flag, "this module sets TRITON_INTERPRET=1 before importing triton"
        assert kernels.interpreter_active() is flag


def test_docstring_examples():
    names = ["matvec_reference", "matmul_reference", "interpreter_active"]
    if kernels.interpreter_active():  # the other examples launch kernels on cpu tensors
        names += ["unpack_triton", "matvec_packed", "matmul_packed"]
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for name in names:
        fn = getattr(kernels, name)
        globs = vars(sys.modules[fn.__module__]).copy()  # the module of the package that defines it
        for test in doctest.DocTestFinder().find(fn, name, globs=globs):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= len(names)


# --- batch > 1: matmul_packed (tl.dot) ----------------------------------------------------------


def _matmul_case(n_batch, n_rows, n_cols, group_size, scheme, bits, seed, device):
    from lowbit_ref import ternary, uintx

    g = torch.Generator().manual_seed(seed)
    if scheme == "ternary2":
        packed = ternary.pack_ternary(torch.randint(-1, 2, (n_rows, n_cols), dtype=torch.int8, generator=g))
    else:
        packed = uintx.pack(torch.randint(0, 2**bits, (n_rows, n_cols), dtype=torch.uint8, generator=g), bits, dim=1)
    scale = torch.rand(n_rows, -(-n_cols // group_size), generator=g) + 0.5
    x = torch.randn(n_batch, n_cols, generator=g)
    return packed.to(device), scale.to(device), x.to(device)


@pytest.mark.parametrize("scheme, bits", [("ternary2", 2), ("uint", 4), ("uint", 1)])
@pytest.mark.parametrize("n_batch, n_rows, n_cols, group_size", [(3, 5, 7, 4), (17, 20, 33, 8), (16, 16, 64, 64)])
def test_matmul_packed_agrees_with_its_reference_and_with_matvec(kdevice, scheme, bits, n_batch, n_rows, n_cols, group_size):
    packed, scale, x = _matmul_case(n_batch, n_rows, n_cols, group_size, scheme, bits, 7, kdevice)
    got = kernels.matmul_packed(packed, scale, x, group_size=group_size)
    want = kernels.matmul_reference(packed, scale, x, group_size=group_size)
    assert got.shape == (n_batch, n_rows) and got.dtype == x.dtype
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    # row by row it is the batch-1 product, up to the fp16 rounding of the operands
    rows = torch.stack([kernels.matvec_reference(packed, scale, row, group_size=group_size) for row in x])
    torch.testing.assert_close(got, rows, rtol=2e-2, atol=5e-2)


def test_matmul_packed_tiles_and_empty_shapes(kdevice):
    packed, scale, x = _matmul_case(40, 33, 70, 16, "ternary2", 2, 3, kdevice)
    want = kernels.matmul_reference(packed, scale, x, group_size=16)
    for blocks in [dict(block_b=16, block_n=16, block_k=16), dict(block_b=32, block_n=64, block_k=32)]:
        torch.testing.assert_close(kernels.matmul_packed(packed, scale, x, group_size=16, **blocks), want, rtol=1e-4, atol=1e-4)
    assert kernels.matmul_packed(packed, scale, x[:0], group_size=16).shape == (0, 33)


def test_matmul_packed_checks_its_arguments():
    packed, scale, x = _matmul_case(2, 3, 8, 4, "ternary2", 2, 1, "cpu")
    with pytest.raises(LowbitError, match=r"x must be a 2-D tensor \(batch, in_features\), got \(8,\)"):
        kernels.matmul_packed(packed, scale, x[0], group_size=4)
    with pytest.raises(LowbitError, match=r"x must have shape \(batch, 8\)"):
        kernels.matmul_packed(packed, scale, x[:, :4], group_size=4)
    with pytest.raises(LowbitError, match="block_k must be at least 16"):
        kernels.matmul_packed(packed, scale, x, group_size=4, block_k=8)
    with pytest.raises(LowbitError, match="scale must have shape"):
        kernels.matmul_reference(packed, scale[:, :1], x, group_size=4)
