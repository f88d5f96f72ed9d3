"""ResNet-50 written down as shapes, and BitPack's compression table reproduced with it.

BitPack (seed 003) reports, for ResNet-50:

====================  ==========================  =========  ===========  =====
original              packed as                   original   packed       ratio
====================  ==========================  =========  ===========  =====
fp32                  mixed 4/8-bit               102 MB     13.8 MB      7.4x
8-bit                 mixed 2/8-bit               26 MB      7.9 MB       3.3x
====================  ==========================  =========  ===========  =====

This module rebuilds both rows with ``lowbit_ref.checkpoint``: it writes ResNet-50's state
dict in code (the torchvision layout: conv weights ``(out, in, k, k)``, batchnorm weight,
bias and running statistics, ``fc`` 2048 -> 1000 with a bias; nothing is downloaded), fills
it with seeded random weights, quantizes it, saves real files and measures them.

Which layers get 8 bits: the first convolution (``conv1``, it sees raw pixels) and the
classifier (``fc``, it makes the logits), as HAWQ-V3's mixed-precision ResNet-50 does; every
other convolution gets the low width (4 or 2). Weights are quantized per output channel
(one float16 scale and one uint8 zero point per channel) and packed along the input
channels (dim 1: a 1x1 conv's last dim has length 1, and packing along it would pad each
code to a byte); batchnorm parameters and statistics and the ``fc`` bias stay as they are
(float32; ``num_batches_tracked`` int64). The result on this model (MB = 1e6 bytes)::

    fp32 102.54 MB -> mixed 4/8-bit 14.41 MB: 7.12x   (BitPack: 102 -> 13.8 MB, 7.4x)
    8-bit 26.13 MB -> mixed 2/8-bit  8.55 MB: 3.06x   (BitPack:  26 ->  7.9 MB, 3.3x)

Counted BitPack's way, parameters x bits / 8 and nothing else, the same model gives exactly
its 13.8 MB and 7.9 MB (``bitpack_estimate``); the files add the scales and zero points
(0.08 MB), batchnorm and its running statistics in float32 (0.43 MB) and the header (0.12 MB):
4.4 % of the 4/8-bit file, 7.4 % of the 2/8-bit one.

>>> layers = resnet50_layers()
>>> parameter_count(layers)
25557032
>>> layers[0]
Layer(name='conv1.weight', shape=(64, 3, 7, 7), kind='conv')

Run ``python -m lowbit_ref.resnet`` for the table; ``bitpack_rows()`` returns its rows.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass

import torch

from . import checkpoint
from .errors import LowbitError, describe
from .uintx import pack, unpack

#: Bottleneck blocks per stage and each stage's inner width, in units of ``base_width``.
STAGES = ((3, 1), (4, 2), (6, 4), (3, 8))
EXPANSION = 4

#: BitPack's ResNet-50 table (seed 003): original MB, packed MB, ratio, as printed there.
BITPACK = {
    "fp32 -> mixed 4/8-bit": (102.0, 13.8, 7.4),
    "8-bit -> mixed 2/8-bit": (26.0, 7.9, 3.3),
}

MB = 1e6
MIB = 2**20


@dataclass(frozen=True)
class Layer:
    """One state-dict entry. ``kind``: "conv", "fc" (weights), "bias", "bn" (a parameter)
    or "bn_buffer" (running statistics, not a parameter)."""

    name: str
    shape: tuple[int, ...]
    kind: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def _batchnorm(prefix: str, channels: int) -> list[Layer]:
    return [
        Layer(f"{prefix}.weight", (channels,), "bn"),
        Layer(f"{prefix}.bias", (channels,), "bn"),
        Layer(f"{prefix}.running_mean", (channels,), "bn_buffer"),
        Layer(f"{prefix}.running_var", (channels,), "bn_buffer"),
        Layer(f"{prefix}.num_batches_tracked", (), "bn_buffer"),
    ]


def resnet50_layers(base_width: int = 64, num_classes: int = 1000) -> list[Layer]:
    """Every state-dict entry of torchvision's ``resnet50``, in its order.

    ``base_width`` scales every channel count (64 is the real network; 8 makes a toy one for
    tests) and ``num_classes`` the classifier.
    """
    for arg, value in (("base_width", base_width), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LowbitError(f"{arg} must be a positive int, got {describe(value)}")
    layers = [Layer("conv1.weight", (base_width, 3, 7, 7), "conv"), *_batchnorm("bn1", base_width)]
    inplanes = base_width
    for stage, (blocks, widen) in enumerate(STAGES, start=1):
        width = base_width * widen
        out = width * EXPANSION
        for block in range(blocks):
            p = f"layer{stage}.{block}"
            layers += [
                Layer(f"{p}.conv1.weight", (width, inplanes, 1, 1), "conv"),
                *_batchnorm(f"{p}.bn1", width),
                Layer(f"{p}.conv2.weight", (width, width, 3, 3), "conv"),
                *_batchnorm(f"{p}.bn2", width),
                Layer(f"{p}.conv3.weight", (out, width, 1, 1), "conv"),
                *_batchnorm(f"{p}.bn3", out),
            ]
            if block == 0:  # the first block changes the channel count (and stride): a 1x1 shortcut
                layers += [
                    Layer(f"{p}.downsample.0.weight", (out, inplanes, 1, 1), "conv"),
                    *_batchnorm(f"{p}.downsample.1", out),
                ]
            inplanes = out
    layers += [Layer("fc.weight", (num_classes, inplanes), "fc"), Layer("fc.bias", (num_classes,), "bias")]
    return layers


def parameter_count(layers: list[Layer]) -> int:
    """Trainable parameters (running statistics excluded), as ``sum(p.numel() for p in model.parameters())``."""
    return sum(layer.numel for layer in layers if layer.kind != "bn_buffer")


def make_weight(layer: Layer, generator: torch.Generator) -> torch.Tensor:
    """A plausible random value for one entry: He-initialised weights, batchnorm near identity."""
    if layer.kind in ("conv", "fc"):
        fan_in = math.prod(layer.shape[1:])
        return torch.randn(layer.shape, generator=generator) * math.sqrt(2 / fan_in)
    if layer.name.endswith("num_batches_tracked"):
        return torch.tensor(0, dtype=torch.int64)
    noise = 0.1 * torch.randn(layer.shape, generator=generator)
    if layer.name.endswith("running_var"):
        return 1 + noise.abs()
    return 1 + noise if layer.name.endswith("weight") else noise


def fp32_state(layers: list[Layer], seed: int = 0) -> dict[str, torch.Tensor]:
    """The whole float32 state dict, seeded: the same seed gives the same weights."""
    generator = torch.Generator().manual_seed(seed)
    return {layer.name: make_weight(layer, generator) for layer in layers}


def bits_plan(layers: list[Layer], low_bits: int) -> dict[str, int]:
    """Width of every weight: 8 for the first conv and the classifier, ``low_bits`` elsewhere."""
    first_conv = next(layer.name for layer in layers if layer.kind == "conv")
    return {layer.name: 8 if layer.name in (first_conv, "fc.weight") else low_bits
            for layer in layers if layer.kind in ("conv", "fc")}


def quantized_state(state: dict[str, torch.Tensor], plan: dict[str, int]) -> dict:
    """Quantize the planned weights, one scale per output channel; keep everything else as it is."""
    # Packed along the input channels: a 1x1 conv's last dim has length 1, and packing along
    # it would pad every code to a whole byte.
    return {name: checkpoint.quantize_uint(t, plan[name], group_size=t[0].numel(), dim=1) if name in plan else t
            for name, t in state.items()}


def unpacked(state: dict) -> dict:
    """The same codes one per byte, as an integer checkpoint that was never packed stores them
    (BitPack's "8-bit" original)."""
    out = {}
    for name, q in state.items():
        if isinstance(q, checkpoint.QuantizedTensor):
            q = checkpoint.QuantizedTensor(pack(unpack(q.packed), 8, dim=q.packed.dim), q.scale, q.zero_point,
                                           q.group_size)
        out[name] = q
    return out


def bitpack_estimate(layers: list[Layer], plan: dict[str, int], original_bits: int) -> tuple[int, int]:
    """BitPack's accounting: parameters only, each at its width, nothing else (bytes before, after).

    Its figures match this exactly when conv1 and fc (weight and bias) have 8 bits and every
    other parameter, batchnorm included, the low width: no scales, no float batchnorm, no
    header (HAWQ-V3 folds batchnorm into the convolutions).
    """
    low = min(plan.values())
    params = [layer for layer in layers if layer.kind != "bn_buffer"]
    wide = {name for name, bits in plan.items() if bits == 8} | {"fc.bias"}
    packed_bits = sum(layer.numel * (8 if layer.name in wide else low) for layer in params)
    return sum(layer.numel for layer in params) * original_bits // 8, packed_bits // 8


@dataclass(frozen=True)
class Row:
    """One scenario: measured file sizes, BitPack's accounting of the same model, BitPack's figures."""

    scenario: str
    original_bytes: int
    packed_bytes: int
    estimate_original_bytes: int
    estimate_packed_bytes: int
    breakdown: dict  # packed file: "codes", "scales" (+ zero points), "plain" (batchnorm, bias), "header" bytes
    bitpack: tuple[float, float, float]

    @property
    def ratio(self) -> float:
        return self.original_bytes / self.packed_bytes

    @property
    def estimate_ratio(self) -> float:
        return self.estimate_original_bytes / self.estimate_packed_bytes


def _file_bytes(path: str, state: dict) -> tuple[int, dict]:
    checkpoint.save(path, state, overwrite=True)
    report = checkpoint.size_report(path)  # loads it back: every checksum is checked too
    parts = {"codes": 0, "scales": 0, "plain": 0}
    for name, value in state.items():
        if isinstance(value, checkpoint.QuantizedTensor):
            parts["codes"] += value.packed.nbytes
            parts["scales"] += sum(t.numel() * t.element_size() for t in (value.scale, value.zero_point)
                                   if t is not None)
        else:
            parts["plain"] += value.numel() * value.element_size()
    parts["header"] = report.file_bytes - report.stored_bytes
    return report.file_bytes, parts


def bitpack_rows(base_width: int = 64, num_classes: int = 1000, *, seed: int = 0, workdir=None) -> list[Row]:
    """Build, save and measure both of BitPack's ResNet-50 scenarios (files go to ``workdir``,
    a temporary directory by default)."""
    layers = resnet50_layers(base_width, num_classes)
    state = fp32_state(layers, seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = tmp if workdir is None else os.fspath(workdir)
        at = lambda name: os.path.join(folder, name)  # noqa: E731
        plan4, plan2 = bits_plan(layers, 4), bits_plan(layers, 2)
        mixed4, mixed2 = quantized_state(state, plan4), quantized_state(state, plan2)
        for scenario, plan, original, packed, original_bits in (
            ("fp32 -> mixed 4/8-bit", plan4, state, mixed4, 32),
            ("8-bit -> mixed 2/8-bit", plan2, unpacked(mixed2), mixed2, 8),
        ):
            original_bytes, _ = _file_bytes(at(f"original_{original_bits}.safetensors"), original)
            packed_bytes, breakdown = _file_bytes(at(f"packed_{min(plan.values())}_8.safetensors"), packed)
            est = bitpack_estimate(layers, plan, original_bits)
            rows.append(Row(scenario, original_bytes, packed_bytes, *est, breakdown, BITPACK[scenario]))
    return rows


def format_table(rows: list[Row]) -> str:
    """The rows as text, next to BitPack's figures, with the packed files' byte breakdown."""
    head = (f"{'scenario':<24}{'original':>20}{'packed':>20}{'ratio':>8}   "
            f"{'BitPack accounting':>26}   {'BitPack README':>22}")
    sub = (f"{'':<24}{'MB':>10}{'MiB':>10}{'MB':>10}{'MiB':>10}{'':>8}   "
           f"{'MB':>9}{'MB':>9}{'ratio':>8}   {'MB':>7}{'MB':>7}{'ratio':>8}")
    lines = [head, sub]
    for r in rows:
        lines.append(f"{r.scenario:<24}{r.original_bytes / MB:>10.2f}{r.original_bytes / MIB:>10.2f}"
                     f"{r.packed_bytes / MB:>10.2f}{r.packed_bytes / MIB:>10.2f}{r.ratio:>7.2f}x   "
                     f"{r.estimate_original_bytes / MB:>9.2f}{r.estimate_packed_bytes / MB:>9.2f}"
                     f"{r.estimate_ratio:>7.2f}x   {r.bitpack[0]:>7g}{r.bitpack[1]:>7g}{r.bitpack[2]:>7g}x")
    lines.append("")
    for r in rows:
        b = {k: v / MB for k, v in r.breakdown.items()}
        lines += [f"{r.scenario}: packed file {r.packed_bytes / MB:.3f} MB = codes {b['codes']:.3f} MB",
                  f"    + scales and zero points {b['scales']:.3f} + float batchnorm and fc.bias {b['plain']:.3f}"
                  f" + header {b['header']:.3f}; BitPack counts {r.estimate_packed_bytes / MB:.3f} (codes only)"]
    lines += [
        "",
        "MB = 1e6 bytes (BitPack's unit: 25,557,032 parameters x 4 bytes = 102.2 MB, = 97.5 MiB);",
        "MiB = 2**20 bytes. 'original' and 'packed' are real files written by lowbit_ref.checkpoint.save",
        "and loaded back; the 8-bit original holds the 2/8-bit codes one per byte, unpacked.",
        "Which layers get 8 bits: conv1 and fc (as HAWQ-V3's mixed-precision ResNet-50); every other",
        "conv the low width, per-channel float16 scales and uint8 zero points.",
        "Why the ratios differ from BitPack's: 'BitPack accounting' is parameters x bits / 8 and",
        "nothing else (batchnorm as low-bit codes, as if folded into the convs as HAWQ-V3 does; no",
        "scales; no header), and it reproduces 102 MB -> 13.8 MB (7.4x) and 26 MB -> 7.9 MB. Our files",
        "add what a loadable checkpoint needs: the scales and zero points, batchnorm and its running",
        "statistics in float32 (the originals hold the running statistics too), and the header.",
        "BitPack's 3.3x is 26 / 7.9 of rounded figures; unrounded, its own accounting gives 3.22x.",
    ]
    return "\n".join(lines)


def main() -> int:
    start = time.perf_counter()
    print(format_table(bitpack_rows()))
    print(f"\n(built, saved, reloaded and measured in {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
