"""Shared fixtures: the device every library test runs on."""

import os

import torch

# Triton reads this once, at import: without a GPU its kernels run in the interpreter. It must be
# set before anything imports triton, and notebook kernels started by the tests inherit it.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402

# Widgets draw static HTML instead of waiting for clicks when this is set; tests check both ways.
os.environ.pop("NBGRADER_EXECUTION", None)


def _devices():
    yield "cpu"
    no_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    yield pytest.param("cuda", marks=[pytest.mark.cuda, no_cuda])  # `pytest -m cuda` (make gpu-check) runs these
    yield pytest.param(
        "mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no Apple MPS device")
    )


@pytest.fixture(params=list(_devices()))
def device(request):
    """Each test that takes `device` runs on the CPU, and on CUDA / MPS where one exists."""
    return torch.device(request.param)
