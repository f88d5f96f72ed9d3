"""Layers that store packed weights (lesson 05): ``PackedLinear``, ``pack_model`` and ``BitLinear``.

- ``PackedLinear`` keeps a linear layer's weight as packed bytes plus float16 scales (and uint8
  zero points): its ``state_dict`` IS the packed size. ``forward`` unpacks and dequantizes, then
  multiplies: through ``kernels.matvec_packed`` (one Triton kernel, the weight never leaves
  registers) for CUDA inputs when Triton is there and the scheme has a kernel, in torch elsewhere.
- ``pack_model`` swaps every ``nn.Linear`` named in a bits-per-layer plan (lesson 05's plan,
  ``{"0.weight": 4, "2.weight": "ternary"}``) for a ``PackedLinear``, in a copy of the model.
- ``BitLinear`` trains a ternary layer the BitNet b1.58 way: absmean ternary weights and 8-bit
  absmax activations per token in the forward pass, a straight-through estimator backward.
- ``save_packed``/``load_packed`` write a model with packed layers through ``lowbit_ref.checkpoint``
  and read it back into a model of the same architecture.

>>> torch.manual_seed(0) and None
>>> linear = torch.nn.Linear(8, 3)
>>> layer = PackedLinear.from_linear(linear, bits=4, group_size=4)
>>> layer
PackedLinear(in_features=8, out_features=3, scheme=uint, bits=4, group_size=4, groups=6, bytes=12+12+6)
>>> x = torch.randn(2, 8)
>>> bool((layer(x) - linear(x)).abs().max() < 0.05)
True
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint
from .base3 import pack_base3
from .errors import LowbitError, describe
from .packed import PackedTensor
from .quantize import QuantizedTensor, quantize_uint, to_scale
from .ternary import pack_ternary
from .uintx import unpack

#: Weight schemes a PackedLinear stores: unsigned codes, 2-bit trits, base-3 trits.
LAYER_SCHEMES = ("uint", "ternary2", "base3")
#: What a plan may give a weight: a width 1..8, "ternary" (base-3), "ternary2", or "fp32" (keep).
PLAN_WIDTHS = (8, 7, 6, 5, 4, 3, 2, 1, "ternary", "ternary2", "fp32")
#: BitNet's floor on a scale, so an all-zero weight or token never divides by zero.
EPS = 1e-5


def _check_group_size(group_size, in_features: int) -> int:
    if group_size is None:
        return in_features
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1 or in_features % group_size:
        raise LowbitError(f"group_size must be None (one group per output row) or a positive int dividing "
                          f"in_features {in_features}, got {describe(group_size)}")
    return group_size


def quantize_activations(x: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Fake-quantize ``x`` per token (last dim) to signed ``bits``-bit integers, absmax scale:
    ``round(x * Q / absmax).clamp(-Q - 1, Q) * absmax / Q`` with ``Q = 2**(bits-1) - 1``."""
    q = 2 ** (bits - 1) - 1
    s = x.detach().abs().amax(dim=-1, keepdim=True).clamp(min=EPS) / q
    return (x / s).round().clamp(-q - 1, q) * s


class PackedLinear(nn.Module):
    """A linear layer whose weight is stored packed: ``y = x W^T + b`` with
    ``W[r, c] = (code[r, c] - zero_point[r, g]) * scale[r, g]``, ``g = c // group_size``.

    Buffers (the whole state): ``packed`` (uint8, ``(out, row_bytes)``, codes packed along the
    input dim, LSB first), ``scale`` (float16, ``(out, in // group_size)``), ``zero_point``
    (uint8, same shape; "uint" only) and ``bias`` (float32, or absent). Build one with
    ``from_linear``, ``from_trits``, ``from_bitlinear`` or ``from_quantized``.

    ``activation_bits=8`` fake-quantizes the input per token first, as ``BitLinear`` does, so a
    trained BitLinear packed with ``from_bitlinear`` answers as it did.
    """

    def __init__(self, in_features: int, out_features: int, *, scheme: str, bits: int, group_size: int,
                 packed: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | None = None,
                 bias: torch.Tensor | None = None, activation_bits: int | None = None):
        super().__init__()
        if scheme not in LAYER_SCHEMES:
            raise LowbitError(f"scheme must be one of {LAYER_SCHEMES}, got {describe(scheme)}")
        if activation_bits is not None and (type(activation_bits) is not int or not 2 <= activation_bits <= 16):
            raise LowbitError(f"activation_bits must be None or an int in 2..16, got {describe(activation_bits)}")
        self.in_features, self.out_features = in_features, out_features
        self.scheme, self.bits, self.group_size = scheme, bits, _check_group_size(group_size, in_features)
        self.activation_bits = activation_bits
        groups = (out_features, in_features // self.group_size)
        # checks the bytes' shape against the layout
        PackedTensor(packed, bits, (out_features, in_features), 1, "lsb", scheme, self._code_dtype())
        if tuple(scale.shape) != groups or scale.dtype != torch.float16:
            raise LowbitError(f"scale must be float16 of shape {groups}, got {scale.dtype} of shape {tuple(scale.shape)}")
        if (zero_point is not None) != (scheme == "uint"):
            raise LowbitError(f"zero_point is needed for scheme 'uint' and only for it; got scheme {scheme!r} "
                              f"with zero_point {'set' if zero_point is not None else 'None'}")
        if zero_point is not None and (tuple(zero_point.shape) != groups or zero_point.dtype != torch.uint8):
            raise LowbitError(f"zero_point must be uint8 of shape {groups}, got {zero_point.dtype} "
                              f"of shape {tuple(zero_point.shape)}")
        if bias is not None and tuple(bias.shape) != (out_features,):
            raise LowbitError(f"bias must have shape ({out_features},), got {tuple(bias.shape)}")
        self.register_buffer("packed", packed)
        self.register_buffer("scale", scale)
        self.register_buffer("zero_point", zero_point)
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    def _code_dtype(self) -> torch.dtype:
        return torch.uint8 if self.scheme == "uint" else torch.int8

    # ------------------------------------------------------------ building

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, bits: int, group_size: int | None = None,
                    symmetric: bool = False) -> "PackedLinear":
        """Quantize ``linear``'s weight to ``bits``-bit unsigned codes (``quantize.quantize_uint``),
        one scale (and zero point) per ``group_size`` inputs of each output row; ``None``: one per row."""
        if not isinstance(linear, nn.Linear):
            raise LowbitError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
            raise LowbitError(f"bits must be an int in 1..8, got {describe(bits)}")
        g = _check_group_size(group_size, linear.in_features)
        q = quantize_uint(linear.weight.detach(), bits, group_size=g, dim=1, symmetric=symmetric)
        return cls.from_quantized(q, linear.bias)

    @classmethod
    def from_trits(cls, trits: torch.Tensor, scale, bias: torch.Tensor | None = None, *, scheme: str = "base3",
                   group_size: int | None = None, activation_bits: int | None = None) -> "PackedLinear":
        """A layer of ternary codes ``trits`` (int, ``(out, in)``, values -1, 0, 1) times ``scale``:
        one number (per tensor), ``(out,)`` or ``(out, 1)`` (per row), or ``(out, in // group_size)``.
        ``scheme``: "base3" (five trits per byte) or "ternary2" (four, 2 bits each)."""
        if scheme not in ("base3", "ternary2"):
            raise LowbitError(f"scheme must be 'base3' or 'ternary2', got {describe(scheme)}")
        if not isinstance(trits, torch.Tensor) or trits.dim() != 2:
            raise LowbitError(f"trits must be a 2-D tensor (out_features, in_features), got {describe(trits)}")
        out_features, in_features = trits.shape
        g = _check_group_size(group_size, in_features)
        groups = (out_features, in_features // g)
        if isinstance(scale, (int, float)) and not isinstance(scale, bool):
            scale = torch.tensor(float(scale))
        if not isinstance(scale, torch.Tensor) or not scale.is_floating_point():
            raise LowbitError(f"scale must be a float or a floating-point tensor, got {describe(scale)}")
        if scale.numel() == 1:
            scale = scale.reshape(1, 1).expand(groups)
        elif scale.numel() == groups[0] and groups[1] == 1:
            scale = scale.reshape(groups)
        elif tuple(scale.shape) != groups:
            raise LowbitError(f"scale must hold 1, {out_features} or {groups[0]}x{groups[1]} values for trits of "
                              f"shape {tuple(trits.shape)} and group_size {g}, got shape {tuple(scale.shape)}")
        pack_fn = pack_base3 if scheme == "base3" else pack_ternary
        packed = pack_fn(trits.to(trits.device), dim=1)
        return cls(in_features, out_features, scheme=scheme, bits=2, group_size=g, packed=packed.data,
                   scale=to_scale(scale.detach().float().contiguous(), "scale"), bias=bias,
                   activation_bits=activation_bits)

    @classmethod
    def from_bitlinear(cls, layer: "BitLinear", *, scheme: str = "base3") -> "PackedLinear":
        """Pack a (trained) ``BitLinear``: its ternary weight, its scale, 8-bit activations."""
        if not isinstance(layer, BitLinear):
            raise LowbitError(f"layer must be a BitLinear, got {type(layer).__name__}")
        trits, scale = layer.ternary()
        return cls.from_trits(trits, scale, layer.bias, scheme=scheme, activation_bits=layer.activation_bits)

    @classmethod
    def from_quantized(cls, q: QuantizedTensor, bias: torch.Tensor | None = None, *,
                       activation_bits: int | None = None) -> "PackedLinear":
        """A layer from a ``QuantizedTensor`` of shape ``(out, in)`` packed along dim 1, LSB first,
        with a float16 scale per group of each row (as ``checkpoint.load`` returns what
        ``save_packed`` wrote)."""
        if not isinstance(q, QuantizedTensor):
            raise LowbitError(f"q must be a QuantizedTensor, got {type(q).__name__}")
        p = q.packed
        if len(p.shape) != 2 or p.dim != 1 or p.order != "lsb" or p.scheme not in LAYER_SCHEMES:
            raise LowbitError(f"q must be a weight of shape (out, in) packed along dim 1, LSB first, got {p!r}")
        out_features, in_features = p.shape
        g = q.group_size if q.group_size is not None else in_features * out_features
        if q.scale is None or g > in_features or in_features % g:
            raise LowbitError(f"q must have a scale per group of inputs within each row, got group_size "
                              f"{q.group_size} for shape {tuple(p.shape)}")
        groups = (out_features, in_features // g)
        zero = None if q.zero_point is None else q.zero_point.reshape(groups)
        return cls(in_features, out_features, scheme=p.scheme, bits=p.bits, group_size=g, packed=p.data,
                   scale=to_scale(q.scale.float(), "scale").reshape(groups), zero_point=zero, bias=bias,
                   activation_bits=activation_bits)

    # ------------------------------------------------------------ reading

    def packed_tensor(self) -> PackedTensor:
        """The packed weight as a ``PackedTensor`` (the layout ``unpack`` reads)."""
        return PackedTensor(self.packed, self.bits, (self.out_features, self.in_features), 1, "lsb",
                            self.scheme, self._code_dtype())

    def quantized(self) -> QuantizedTensor:
        """The weight as a ``QuantizedTensor``, what ``checkpoint.save`` stores."""
        return QuantizedTensor(self.packed_tensor(), self.scale, self.zero_point, self.group_size)

    def codes(self) -> torch.Tensor:
        """The unpacked codes, ``(out, in)``: uint8 0..2**bits-1, or int8 trits."""
        return unpack(self.packed_tensor())

    def weight(self) -> torch.Tensor:
        """The dequantized weight, float32 ``(out, in)``: unpack, subtract the zero point, scale."""
        w = self.codes().float().reshape(self.out_features, -1, self.group_size)  # (out, groups, g)
        if self.zero_point is not None:
            w = w - self.zero_point.float()[..., None]
        return (w * self.scale.float()[..., None]).reshape(self.out_features, self.in_features)

    @property
    def nbytes(self) -> int:
        """Bytes of the state: packed weight, scales, zero points and bias."""
        return sum(t.numel() * t.element_size() for t in self.state_dict().values())

    def extra_repr(self) -> str:
        sizes = [self.packed.numel(), self.scale.numel() * 2]
        if self.zero_point is not None:
            sizes.append(self.zero_point.numel())
        text = (f"in_features={self.in_features}, out_features={self.out_features}, scheme={self.scheme}, "
                f"bits={1.6 if self.scheme == 'base3' else self.bits}, group_size={self.group_size}, "
                f"groups={self.scale.numel()}, bytes={'+'.join(map(str, sizes))}")
        if self.bias is None:
            text += ", bias=False"
        if self.activation_bits is not None:
            text += f", activation_bits={self.activation_bits}"
        return text

    # ------------------------------------------------------------ forward

    def _use_kernel(self, x: torch.Tensor) -> bool:
        if x.device.type != "cuda" or self.scheme == "base3" or (self.scheme == "uint" and self.bits not in (1, 2, 4)):
            return False
        # Imported here, not at the top: kernels imports Triton (seconds, and optional), which only a
        # CUDA input needs. kernels imports nothing of nn, so this adds no cycle.
        from . import kernels

        return kernels.triton_available()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.shape[-1:] != (self.in_features,):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise LowbitError(f"x must be a tensor whose last dim is in_features {self.in_features}, got {got}")
        if self.activation_bits is not None:
            x = quantize_activations(x, self.activation_bits)
        if self._use_kernel(x):
            from .kernels import matvec_packed

            rows = x.reshape(-1, self.in_features)
            scale = self.scale.to(x.dtype) if x.dtype in (torch.float16, torch.bfloat16) else self.scale.float()
            y = torch.stack([matvec_packed(self.packed_tensor(), scale, r, group_size=self.group_size,
                                           zero=self.zero_point) for r in rows]) if len(rows) else rows[:, :0]
            y = y.reshape(*x.shape[:-1], self.out_features)
            return y if self.bias is None else y + self.bias.to(y.dtype)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.weight().to(x.dtype), bias)


class BitLinear(nn.Linear):
    """A linear layer trained ternary, the BitNet b1.58 recipe.

    Forward: the weight is quantized to trits times one absmean scale (``gamma = mean|W|``,
    rounded to float16 as it will be stored; ``W_q = clamp(round(W / gamma), -1, 1) * gamma``) and
    the input to ``activation_bits`` integers per token (absmax); backward passes the gradient
    straight through both roundings to the float ("latent") weight. Scales are floored at
    ``EPS`` (1e-5), as BitNet's code does, so an all-zero weight or token never divides by zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, activation_bits: int = 8):
        super().__init__(in_features, out_features, bias)
        if type(activation_bits) is not int or not 2 <= activation_bits <= 16:
            raise LowbitError(f"activation_bits must be an int in 2..16, got {describe(activation_bits)}")
        self.activation_bits = activation_bits

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, activation_bits: int = 8) -> "BitLinear":
        """A BitLinear starting from ``linear``'s float weights (to fine-tune ternary)."""
        if not isinstance(linear, nn.Linear):
            raise LowbitError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, activation_bits=activation_bits)
        with torch.no_grad():
            layer.weight.copy_(linear.weight)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    def ternary(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The weight's trits (int8, ``(out, in)``) and its float16 scale (0-d)."""
        w = self.weight.detach()
        gamma = to_scale(w.abs().mean().float().clamp(min=EPS).reshape(()), "weight")
        return (w / gamma.float()).round().clamp(-1, 1).to(torch.int8), gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        gamma = to_scale(w.detach().abs().mean().float().clamp(min=EPS).reshape(()), "weight").float()
        w_q = (w / gamma).round().clamp(-1, 1) * gamma
        w_ste = w + (w_q - w).detach()  # forward: w_q; backward: the identity
        x_ste = x + (quantize_activations(x, self.activation_bits) - x).detach()
        return F.linear(x_ste, w_ste.to(x.dtype), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", weights=ternary, activation_bits={self.activation_bits}"


# ---------------------------------------------------------------- whole models


def _plan_layers(model: nn.Module, bits_per_layer) -> dict[str, object]:
    """Check a plan (weight names -> widths) against ``model``; return module names -> widths."""
    if not isinstance(model, nn.Module):
        raise LowbitError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(bits_per_layer, Mapping):
        raise LowbitError(f"bits_per_layer must be a dict of weight names to widths, got {describe(bits_per_layer)}")
    modules = dict(model.named_modules())
    linears = [f"{n}.weight" for n, m in modules.items() if isinstance(m, nn.Linear)]
    out = {}
    for name, bits in bits_per_layer.items():
        owner = name.removesuffix(".weight") if isinstance(name, str) and name.endswith(".weight") else None
        if owner not in modules:
            raise LowbitError(f"bits_per_layer names {describe(name)}, which the model does not have; "
                              f"its linear weights are {describe(linears, 200)}")
        if not isinstance(modules[owner], nn.Linear):
            raise LowbitError(f"bits_per_layer names {name!r}, the weight of a {type(modules[owner]).__name__}; "
                              f"only nn.Linear layers are packed: {describe(linears, 200)}")
        if type(bits) not in (int, str) or bits not in PLAN_WIDTHS:
            raise LowbitError(f"bits_per_layer[{name!r}] must be one of {PLAN_WIDTHS}, got {describe(bits)}")
        out[owner] = bits
    return out


def _set_module(model: nn.Module, name: str, layer: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, layer)


def pack_model(model: nn.Module, bits_per_layer: Mapping, *, group_size: int | None = None) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` whose weight the plan names swapped for a
    ``PackedLinear``: an int width 1..8 with ``from_linear`` (``group_size`` inputs per scale,
    ``None``: one per row), ``"ternary"``/``"ternary2"`` as absmean trits with one scale per row
    (a ``BitLinear`` keeps its own scale and 8-bit activations), ``"fp32"`` left as it is.
    The whole plan is checked first; ``model`` itself is not changed.

    >>> net = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> packed = pack_model(net, {"0.weight": 4, "2.weight": "ternary"})
    >>> [type(m).__name__ for m in packed], type(net[0]).__name__
    (['PackedLinear', 'ReLU', 'PackedLinear'], 'Linear')
    """
    layers = _plan_layers(model, bits_per_layer)
    model = copy.deepcopy(model)
    for name, bits in layers.items():
        layer = model.get_submodule(name)
        if bits == "fp32":
            continue
        if isinstance(bits, int):
            new = PackedLinear.from_linear(layer, bits=bits, group_size=group_size)
        else:
            scheme = "base3" if bits == "ternary" else "ternary2"
            if isinstance(layer, BitLinear):
                new = PackedLinear.from_bitlinear(layer, scheme=scheme)
            else:
                w = layer.weight.detach()
                gamma = w.abs().mean(dim=1, keepdim=True).clamp(min=EPS)  # (out, 1): one scale per row
                trits = (w / gamma).round().clamp(-1, 1).to(torch.int8)
                new = PackedLinear.from_trits(trits, gamma, layer.bias, scheme=scheme)
        _set_module(model, name, new)
    return model


def save_packed(model: nn.Module, path, *, overwrite: bool = False) -> None:
    """Save ``model`` with ``checkpoint.save``: each ``PackedLinear`` as a ``QuantizedTensor``
    ("<layer>.weight") and its bias, every other state entry as the tensor it is."""
    if not isinstance(model, nn.Module):
        raise LowbitError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    state = {}
    packed = {n: m for n, m in model.named_modules() if isinstance(m, PackedLinear)}
    for name, tensor in model.state_dict().items():
        owner, _, leaf = name.rpartition(".")
        if owner in packed:
            if leaf == "packed":
                state[f"{owner}.weight"] = packed[owner].quantized()
            elif leaf == "bias":
                state[name] = tensor
        else:
            state[name] = tensor
    checkpoint.save(path, state, overwrite=overwrite)


def load_packed(path, model: nn.Module) -> nn.Module:
    """Read a file written by ``save_packed`` into ``model`` (the same architecture, float,
    BitLinear or packed layers) and return it: each packed weight in the file replaces its
    layer by a ``PackedLinear`` (8-bit activations where the layer is a ``BitLinear`` or a
    PackedLinear that had them); the rest is loaded with ``load_state_dict``."""
    if not isinstance(model, nn.Module):
        raise LowbitError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    state = checkpoint.load(path)
    modules = dict(model.named_modules())
    rest = {}
    for name, value in state.items():
        if not isinstance(value, QuantizedTensor):
            continue
        owner = name.removesuffix(".weight")
        layer = modules.get(owner)
        if not isinstance(layer, (nn.Linear, PackedLinear)) or (layer.out_features, layer.in_features) != tuple(
                value.packed.shape):
            raise LowbitError(f"{path}: holds a packed {name!r} of shape {tuple(value.packed.shape)}, but the "
                              f"model's {owner!r} is {type(layer).__name__ if layer is not None else 'missing'}")
        act = layer.activation_bits if isinstance(layer, (BitLinear, PackedLinear)) else None
        _set_module(model, owner, PackedLinear.from_quantized(value, state.get(f"{owner}.bias"), activation_bits=act))
    for name, value in state.items():
        if not isinstance(value, QuantizedTensor):
            rest[name] = value
    try:
        model.load_state_dict(rest, strict=False)
    except RuntimeError as e:
        raise LowbitError(f"model must have the entries and shapes of {path}: {' '.join(str(e).split())}") from None
    missing = [n for n in model.state_dict() if n not in rest and n.rpartition(".")[0] not in
               {k.removesuffix(".weight") for k, v in state.items() if isinstance(v, QuantizedTensor)}]
    if missing:
        raise LowbitError(f"{path}: has no entry for the model's {describe(missing, 200)}")
    return model


def model_bytes(model: nn.Module) -> int:
    """Bytes of ``model``'s state dict (what ``save_packed`` stores, header not counted)."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


__all__ = ["PackedLinear", "BitLinear", "pack_model", "save_packed", "load_packed", "quantize_activations",
           "model_bytes", "LAYER_SCHEMES", "PLAN_WIDTHS", "EPS"]
