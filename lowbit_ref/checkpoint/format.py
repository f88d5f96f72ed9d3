"""The checkpoint file format: ``save`` a state dict of ``QuantizedTensor`` records and plain
tensors to one safetensors file, ``load`` it back, checked (the layout is described in
``lowbit_ref.checkpoint``'s docstring).

Version 2 (this library writes it) differs from version 1 in one place: 2-bit ternary codes pad
their last byte with field 1 (trit 0) where version 1 padded with field 0. Padding is never
unpacked, so ``load`` reads both versions the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import struct
from collections.abc import Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import LowbitError, describe
from ..packed import ORDERS, SCHEMES, PackedTensor, packed_length
from ..quantize import QuantizedTensor

FORMAT = "lowbit_ref.checkpoint"
#: The version ``save`` writes.
VERSION = 2
#: The versions ``load`` reads.
READABLE_VERSIONS = (1, 2)
METADATA_KEY = "lowbit_ref.checkpoint"

#: dtypes a checkpoint holds, with safetensors' name for each.
_SAFETENSORS_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                      torch.uint8: "U8", torch.bool: "BOOL"}
#: The same dtypes by the name our metadata uses (``str(dtype)`` less "torch.").
DTYPES = {str(d).removeprefix("torch."): d for d in _SAFETENSORS_NAMES}
_MAX_HEADER = 100_000_000  # safetensors' own limit: a larger length is not a header


# ---------------------------------------------------------------- save


_PARTS = {"quantized": ("packed", "scale", "zero_point"), "plain": ("data",)}


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _digest(entry: dict, tensors: list[torch.Tensor]) -> str:
    """sha256 of the entry's JSON, then of each tensor's dtype, shape and raw CPU bytes."""
    h = hashlib.sha256(json.dumps(entry, sort_keys=True).encode())
    for t in tensors:
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def _entry(name: str, value) -> tuple[dict, dict[str, torch.Tensor]]:
    """The metadata entry of one state-dict value, and its tensors by stored name."""
    if isinstance(value, QuantizedTensor):
        p = value.packed
        parts = {"packed": p.data, "scale": value.scale, "zero_point": value.zero_point}
        entry = {"kind": "quantized", "scheme": p.scheme, "bits": p.bits, "order": p.order, "dim": p.dim,
                 "shape": list(p.shape), "dtype": _dtype_name(p.dtype), "group_size": value.group_size}
    elif isinstance(value, torch.Tensor):
        parts = {"data": value}
        entry = {"kind": "plain", "shape": list(value.shape), "dtype": _dtype_name(value.dtype)}
    else:
        raise LowbitError(f"state[{name!r}] must be a QuantizedTensor or a torch.Tensor, got {type(value).__name__}")
    entry["stored"], tensors = {}, {}
    for part, t in parts.items():
        if t is None:
            continue
        if t.dtype not in _SAFETENSORS_NAMES:
            raise LowbitError(f"state[{name!r}] {part} has dtype {t.dtype}; a checkpoint holds {sorted(DTYPES)}")
        # A plain tensor keeps its own name, so other safetensors tools read it as usual.
        key = name if part == "data" else f"{name}::{part}"
        entry["stored"][part], tensors[key] = key, t
    return entry, tensors


def save(path, state: Mapping, *, overwrite: bool = False) -> None:
    """Write ``state`` (names -> ``QuantizedTensor`` or plain tensor) to one safetensors file.

    Refuses to replace an existing file unless ``overwrite=True``. The file appears whole or
    not at all: it is written next to ``path`` under a temporary name, then renamed.
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise LowbitError(f"path must be a str or os.PathLike, got {type(path).__name__}") from None
    if not isinstance(state, Mapping):
        raise LowbitError(f"state must be a mapping of names to tensors, got {type(state).__name__}")
    if os.path.isdir(path):
        raise LowbitError(f"path must be a file, got the directory {path}")
    if os.path.lexists(path) and not overwrite:
        raise LowbitError(f"{path} already exists; pass overwrite=True to replace it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise LowbitError(f"path's directory {parent} does not exist")
    entries, tensors = {}, {}
    for name, value in state.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise LowbitError(f"state names must be non-empty strings other than '__metadata__' "
                              f"(safetensors' own key), got {describe(name)}")
        entry, stored = _entry(name, value)
        cpu = {key: t.detach().to("cpu", copy=True).contiguous() for key, t in stored.items()}
        for key in cpu:
            if key in tensors:
                raise LowbitError(f"state[{name!r}] would be stored as {key!r}, a name another entry already uses")
        entry["sha256"] = _digest(entry, list(cpu.values()))
        entries[name] = entry
        tensors.update(cpu)
    layout = json.dumps({"format": FORMAT, "version": VERSION, "tensors": entries}, separators=(",", ":"))
    tmp = os.path.join(parent, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # ours alone; the umask applies
    try:
        save_file(tensors, tmp, metadata={METADATA_KEY: layout})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---------------------------------------------------------------- load


def _read_header(path: str) -> tuple[dict, int, int]:
    """The safetensors JSON header, the offset where tensor bytes start, and the file size."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            if not 0 < n <= min(size - 8, _MAX_HEADER):
                raise LowbitError(f"{path} is not a lowbit checkpoint: not a safetensors file "
                                  f"({size} bytes, header length field {n})")
            raw = f.read(n)
    except FileNotFoundError:
        raise LowbitError(f"checkpoint file not found: {path}") from None
    except IsADirectoryError:
        raise LowbitError(f"path must be a checkpoint file, got the directory {path}") from None
    except OSError as e:
        raise LowbitError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict):
        raise LowbitError(f"{path} is not a lowbit checkpoint: its safetensors header is not a JSON object")
    return header, 8 + n, size


def _layout(path: str, header: dict) -> dict:
    """Our metadata, checked for format name and version: names -> entries."""
    meta = header.get("__metadata__")
    text = meta.get(METADATA_KEY) if isinstance(meta, dict) else None
    if not isinstance(text, str):
        raise LowbitError(f"{path} is a safetensors file but not a lowbit checkpoint: "
                          f"its header metadata has no {METADATA_KEY!r} key")
    try:
        layout = json.loads(text)
    except json.JSONDecodeError:
        raise LowbitError(f"{path}: its {METADATA_KEY!r} metadata is not valid JSON (corrupted header)") from None
    if not isinstance(layout, dict) or layout.get("format") != FORMAT:
        got = layout.get("format") if isinstance(layout, dict) else layout
        raise LowbitError(f"{path} is not a lowbit checkpoint: format {describe(got)}, expected {FORMAT!r}")
    version = layout.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise LowbitError(f"{path}: checkpoint format version {describe(version)} is not "
                          f"supported; this library reads versions {', '.join(map(str, READABLE_VERSIONS))}")
    if not isinstance(layout.get("tensors"), dict):
        raise LowbitError(f"{path}: its metadata has no 'tensors' table (corrupted header)")
    return layout["tensors"]


def _expected(entry: dict) -> dict[str, tuple[str | None, list | None]]:
    """For each stored part: the safetensors dtype and shape the entry promises (None: any)."""
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise LowbitError(f"shape must be a list of non-negative ints, got {describe(shape)}")
    if entry["dtype"] not in DTYPES:
        raise LowbitError(f"dtype must be one of {sorted(DTYPES)}, got {describe(entry['dtype'])}")
    if entry["kind"] == "plain":
        return {"data": (_SAFETENSORS_NAMES[DTYPES[entry["dtype"]]], shape)}
    if entry["scheme"] not in SCHEMES or entry["order"] not in ORDERS:
        raise LowbitError(f"scheme/order must be in {SCHEMES}/{ORDERS}, got {entry['scheme']!r}/{entry['order']!r}")
    dim, bits = entry["dim"], entry["bits"]
    if not (isinstance(bits, int) and 1 <= bits <= 8 and isinstance(dim, int) and 0 <= dim < max(len(shape), 1)):
        raise LowbitError(f"bits {describe(bits)} or dim {describe(dim)} out of range for shape {shape}")
    data = list(shape) or [1]
    data[dim] = packed_length(data[dim], entry["scheme"], bits)
    return {"packed": ("U8", data), "scale": (None, None), "zero_point": (None, None)}


def _check_entry(path: str, name: str, entry, header: dict, data_size: int) -> list[str]:
    """Check one entry against the safetensors header; return its stored keys in checksum order."""
    where = f"tensor {name!r} in {path}"
    try:
        if not isinstance(entry, dict) or entry.get("kind") not in _PARTS:
            raise LowbitError(f"kind must be one of {sorted(_PARTS)}, got {describe(entry)}")
        stored, expected = entry["stored"], _expected(entry)
        if not isinstance(stored, dict) or not set(stored) <= set(expected) or list(expected)[0] not in stored:
            raise LowbitError(f"stored must name {list(expected)}, got {describe(stored)}")
        keys = []
        for part in expected:
            if part not in stored:
                continue
            key = stored[part]
            info = header.get(key)
            if not isinstance(info, dict):
                raise LowbitError(f"its {part} {key!r} is missing from the file")
            begin, end = info["data_offsets"]
            if end > data_size:
                raise LowbitError(f"the file is truncated: its {part} {key!r} needs {end - begin} bytes at offset "
                                  f"{begin}, but only {max(data_size - begin, 0)} are there")
            dtype, shape = expected[part]
            if (dtype is not None and info["dtype"] != dtype) or (shape is not None and info["shape"] != shape):
                what = "packed data" if part == "packed" else part
                layout = (f"{entry['scheme']} at {entry['bits']} bits, shape {entry['shape']}, dim {entry['dim']}"
                          if part == "packed" else f"shape {entry['shape']}, dtype {entry['dtype']}")
                raise LowbitError(f"{what} is {info['dtype']} of shape {info['shape']}, but its metadata "
                                  f"({layout}) needs {dtype} of shape {shape}")
            keys.append(key)
        return keys
    except LowbitError as e:
        raise LowbitError(f"{where}: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise LowbitError(f"{where}: its metadata entry is malformed ({type(e).__name__}: {e})") from None


def _device(device) -> torch.device:
    try:
        device = torch.device(device)
        torch.empty(0, device=device)
    except (RuntimeError, TypeError, AssertionError) as e:
        raise LowbitError(f"device must be an available torch device, got {describe(device)} ({e})") from None
    return device


def load(path, *, device="cpu") -> dict:
    """Read a checkpoint written by ``save``: names -> ``QuantizedTensor`` or tensor, on ``device``.

    Everything is checked before anything is returned: the format name and version, every
    entry against the bytes in the file (present, not truncated, the length its layout needs)
    and every checksum. A failure raises ``LowbitError`` naming the tensor and the file.
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise LowbitError(f"path must be a str or os.PathLike, got {type(path).__name__}") from None
    device = _device(device)
    header, start, size = _read_header(path)
    entries = _layout(path, header)
    keys = {name: _check_entry(path, name, entry, header, size - start) for name, entry in entries.items()}
    described = {k for ks in keys.values() for k in ks}
    strays = sorted(set(header) - described - {"__metadata__"})
    if strays:
        raise LowbitError(f"{path}: holds tensors its metadata does not describe: {describe(strays)}")
    end = max((header[k]["data_offsets"][1] for k in described), default=0)
    if size - start != end:
        raise LowbitError(f"{path}: has {size - start - end} bytes after its last tensor; it was not written by save")
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError) as e:
        raise LowbitError(f"{path}: safetensors cannot read it: {e}") from None
    state = {}
    for name, entry in entries.items():
        bare = {k: v for k, v in entry.items() if k != "sha256"}
        digest = _digest(bare, [tensors[k] for k in keys[name]])
        if digest != entry.get("sha256"):
            raise LowbitError(f"tensor {name!r} in {path}: checksum mismatch (stored sha256 "
                              f"{str(entry.get('sha256'))[:12]}..., computed {digest[:12]}...): the file is corrupted")
        parts = {part: tensors[key].to(device) for part, key in entry["stored"].items()}
        if entry["kind"] == "plain":
            state[name] = parts["data"]
            continue
        try:
            packed = PackedTensor(parts["packed"], entry["bits"], entry["shape"], entry["dim"], entry["order"],
                                  entry["scheme"], DTYPES[entry["dtype"]])
            state[name] = QuantizedTensor(packed, parts.get("scale"), parts.get("zero_point"), entry["group_size"])
        except LowbitError as e:
            raise LowbitError(f"tensor {name!r} in {path}: {e}") from None
    return state


