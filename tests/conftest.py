"""Shared fixtures: the device every library test runs on."""

import os

import pytest
import torch

# Widgets draw static HTML instead of waiting for clicks when this is set; tests check both ways.
os.environ.pop("NBGRADER_EXECUTION", None)


def _devices():
    yield "cpu"
    yield pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))
    yield pytest.param(
        "mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no Apple MPS device")
    )


@pytest.fixture(params=list(_devices()))
def device(request):
    """Each test that takes `device` runs on the CPU, and on CUDA / MPS where one exists."""
    return torch.device(request.param)
