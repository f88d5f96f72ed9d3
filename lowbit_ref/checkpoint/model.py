"""The model-level API: ``save_model`` writes a ``torch.nn.Module``'s state dict with a width per
weight (a plan), ``load_model`` reads such a file back into a model."""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from ..errors import LowbitError, describe
from ..quantize import QuantizedTensor, dequantize, quantize_trits, quantize_uint
from .format import load, save

#: What ``save_model`` stores a weight as: unsigned codes of 8 down to 1 bits, base-3 trits, or
#: the tensor as it is.
MODEL_WIDTHS = (8, 7, 6, 5, 4, 3, 2, 1, "ternary", "fp32")


def _model_state(model) -> dict:
    if not isinstance(model, torch.nn.Module):
        raise LowbitError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model.state_dict()


def _check_plan(state: Mapping, bits_per_layer) -> None:
    """Refuse a plan before anything is quantized or written: a typo must not leave a layer at full size."""
    if not isinstance(bits_per_layer, Mapping):
        raise LowbitError(f"bits_per_layer must be a dict of weight names to widths, got {describe(bits_per_layer)}")
    unknown = [name for name in bits_per_layer if name not in state]
    if unknown:
        raise LowbitError(f"bits_per_layer names {describe(unknown)}, which the model does not have; "
                          f"its entries are {describe(list(state))}")
    for name, bits in bits_per_layer.items():
        # bool and float compare equal to 1 and 4: only the exact types are widths
        if type(bits) not in (int, str) or bits not in MODEL_WIDTHS:
            raise LowbitError(f"bits_per_layer[{name!r}] must be one of {MODEL_WIDTHS}, got {describe(bits)}")
        t = state[name]
        if bits != "fp32" and (not t.is_floating_point() or t.dim() == 0):
            raise LowbitError(f"bits_per_layer[{name!r}] = {bits!r} needs a floating-point tensor with at least "
                              f"one dim; the model's {name!r} is {t.dtype} of shape {tuple(t.shape)}")


def save_model(model: torch.nn.Module, bits_per_layer: Mapping, path, *, overwrite: bool = False) -> None:
    """Save ``model``'s state dict to ``path`` with ``save``, each weight named in ``bits_per_layer``
    quantized, one scale per output row (``group_size = weight.shape[-1]``, codes packed along the
    last dim):

    - an int width 1..8: ``quantize_uint`` (scale and zero point per row);
    - ``"ternary"``: ``quantize_trits``, base-3 packed (1.6 bits), one scale per row;
    - ``"fp32"``, or a name left out: the tensor as it is (biases, batchnorm statistics).

    The plan is checked before anything is quantized; an existing file is refused unless
    ``overwrite=True``. ``load_model`` reads the file back into a model.

    >>> import os, tempfile
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "net.safetensors")
    >>> save_model(net, {"0.weight": 4, "2.weight": "ternary"}, path)
    >>> state = load(path)
    >>> {name: (v.packed.scheme, v.packed.bits) if isinstance(v, QuantizedTensor) else "plain" for name, v in state.items()}
    {'0.weight': ('uint', 4), '0.bias': 'plain', '2.weight': ('base3', 2), '2.bias': 'plain'}
    >>> state["0.weight"].scale.shape     # one scale per output row
    torch.Size([4, 1])
    >>> folder.cleanup()
    """
    state = _model_state(model)
    _check_plan(state, bits_per_layer)
    if not isinstance(overwrite, bool):
        raise LowbitError(f"overwrite must be True or False, got {describe(overwrite)}")
    stored = {}
    for name, tensor in state.items():
        bits = bits_per_layer.get(name, "fp32")
        if bits == "fp32":
            stored[name] = tensor
        elif bits == "ternary":
            stored[name] = quantize_trits(tensor, scheme="base3", group_size=tensor.shape[-1])
        else:
            stored[name] = quantize_uint(tensor, bits, group_size=tensor.shape[-1])
    save(path, stored, overwrite=overwrite)


def load_model(path, model: torch.nn.Module) -> torch.nn.Module:
    """Load the checkpoint at ``path`` (checked by ``load``) into ``model`` and return ``model``.

    Every ``QuantizedTensor`` is dequantized, then copied into the model's own tensor (its dtype
    and device). The file must hold exactly the model's entries, at its shapes.

    >>> import os, tempfile
    >>> make = lambda: torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> net = make()
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "net.safetensors")
    >>> save_model(net, {"0.weight": 8, "2.weight": 8}, path)
    >>> other = load_model(path, make())
    >>> torch.equal(other[0].bias, net[0].bias), bool((other[0].weight - net[0].weight).abs().max() < 0.01)
    (True, True)
    >>> folder.cleanup()
    """
    _model_state(model)
    state = load(path)
    try:
        model.load_state_dict({name: dequantize(v) if isinstance(v, QuantizedTensor) else v
                               for name, v in state.items()})
    except RuntimeError as e:
        raise LowbitError(f"model must have the entries and shapes of the checkpoint {os.fspath(path)}; "
                          f"loading it failed: {' '.join(str(e).split())}") from None
    return model
