"""Damaged and hostile variants of a real checkpoint, one family of damage per function.

Two kinds of family:

- "raw" damage (bit flips, byte changes, truncations, appended bytes, edits of the safetensors
  header) keeps the hashes as they were: a loader may refuse the file, or accept it only if what
  it reads means exactly what the original meant (a flip in the header's padding);
- "re-signed" edits change the embedded metadata or the tensors and recompute both SHA-256s, as
  anyone can: the hash cannot catch them, so the loader's own checks must. Such a file may load
  if it is a well-formed checkpoint, except the "hostile" ones, which name code to run and must
  always be refused.

`mutate(reference, seed, index)` gives case `index` deterministically, so a worker process and
the campaign that reruns a sample through the CLI build the same bytes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

# Names a hostile config gives to run a command, with the keyword arguments that make them do it.
# `{marker}` is replaced by a file the command would create: its existence proves code ran.
HOSTILE_TARGETS: list[tuple[str, dict[str, Any]]] = [
    ("subprocess:Popen", {"args": ["touch", "{marker}"]}),
    ("subprocess:run", {"args": ["touch", "{marker}"]}),
    ("subprocess:check_call", {"args": ["touch", "{marker}"]}),
    ("os:system", {"command": "touch {marker}"}),
    ("os:popen", {"cmd": "touch {marker}"}),
    ("builtins:eval", {}),
    ("builtins:exec", {}),
    ("pickle:loads", {}),
    ("builtins:open", {"file": "{marker}", "mode": "w"}),
]
DEEP_TOKEN = "@deep@"
HOSTILE_SECTIONS = ("model", "layers", "loss", "optimizer", "scheduler", "data", "metrics")
JUNK_VALUES: list[Any] = [None, "x", -1, 0, 2**70, 1.5, [], {}, True, float("nan"), float("inf"), [[[[1]]]], "1" * 10_000]


@dataclass
class Case:
    """One damaged file: its bytes, its family, and whether a loader may accept it."""

    family: str
    detail: str
    data: bytes
    kind: str  # "raw": accepted only if identical in meaning; "resigned": may load; "hostile": must be refused


@dataclass
class Layout:
    """The parts of the reference checkpoint that structural damage aims at."""

    raw: bytes
    header_length: int
    header: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def data_start(self) -> int:
        return 8 + self.header_length

    def boundaries(self) -> list[int]:
        """Byte positions where one part of the file ends and the next begins."""
        points = {0, 1, 4, 7, 8, 9, self.data_start - 1, self.data_start, self.data_start + 1, len(self.raw) - 1}
        text = self.raw[8:self.data_start]
        for needle in (b'"__metadata__"', b'"metadata"', b'"metadata_sha256"', b'"format"', b'"data_offsets"', b'"dtype"', b'"shape"'):
            start = text.find(needle)
            if start >= 0:
                points.update({8 + start, 8 + start + len(needle)})
        for name, info in self.header.items():
            if name != "__metadata__":
                for offset in info["data_offsets"]:
                    points.update({self.data_start + offset - 1, self.data_start + offset, self.data_start + offset + 1})
        return sorted(p for p in points if 0 <= p <= len(self.raw))


def parse(raw: bytes) -> Layout:
    """Split a checkpoint into its header length, header, metadata and data."""
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + length])
    metadata = json.loads(header["__metadata__"]["metadata"])
    return Layout(raw, length, header, metadata)


def assemble(header: Any, data: bytes, padding: bytes = b" ") -> bytes:
    """A safetensors file from a header (any JSON value) and data, the header padded to 8 bytes.

    A string `DEEP_TOKEN<n>` in the header becomes an array nested n levels deep.
    """
    text = json.dumps(header, separators=(",", ":")).encode()
    for levels in set(re.findall(rb'"' + DEEP_TOKEN.encode() + rb'(\d+)"', text)):
        text = text.replace(b'"' + DEEP_TOKEN.encode() + levels + b'"', b"[" * int(levels) + b"]" * int(levels))
    text += padding * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def resign(layout: Layout, metadata: dict[str, Any], tensors: dict[str, Any] | None = None) -> bytes:
    """A checkpoint with `metadata` (and `tensors`, if given) and both hashes recomputed."""
    from safetensors.numpy import save

    from ttrain.training.checkpoint import tensors_sha256

    metadata = dict(metadata)
    if tensors is not None:
        metadata["tensors_sha256"] = tensors_sha256(tensors)
    text = json.dumps(metadata, sort_keys=True)
    fields = dict(layout.header["__metadata__"], metadata=text, metadata_sha256=hashlib.sha256(text.encode()).hexdigest())
    if tensors is not None:
        return save(tensors, metadata=fields)
    header = dict(layout.header, __metadata__=fields)
    return assemble(header, layout.raw[layout.data_start:])


def reference_tensors(layout: Layout) -> dict[str, Any]:
    from safetensors.numpy import load

    return load(layout.raw)


# ---------------------------------------------------------------- raw damage


def bit_flip(layout: Layout, rng: random.Random, k: int) -> Case:
    data = bytearray(layout.raw)
    position, bit = rng.randrange(len(data)), rng.randrange(8)
    data[position] ^= 1 << bit
    return Case("bit flip", f"byte {position} bit {bit}", bytes(data), "raw")


def byte_change(layout: Layout, rng: random.Random, k: int) -> Case:
    data = bytearray(layout.raw)
    structural = k % 2 == 0
    position = rng.choice(layout.boundaries()) if structural else rng.randrange(len(data))
    position = min(position, len(data) - 1)
    value = rng.choice([0, 0xFF, ord(" "), ord('"'), ord("{"), ord("}"), ord("9"), ord("-"), (data[position] + 1) % 256,
                        (data[position] - 1) % 256, rng.randrange(256)])
    data[position] = value
    return Case("byte change" + (" (structural)" if structural else ""), f"byte {position} := {value}", bytes(data), "raw")


def span_overwrite(layout: Layout, rng: random.Random, k: int) -> Case:
    data = bytearray(layout.raw)
    start = rng.randrange(len(data))
    length = rng.choice([2, 4, 8, 16, 64, 512])
    fill = bytes([rng.randrange(256) for _ in range(length)]) if k % 2 else bytes(length)
    data[start:start + length] = fill[: len(data) - start]
    return Case("span overwrite", f"{length} bytes at {start}", bytes(data), "raw")


def truncation(layout: Layout, rng: random.Random, k: int) -> Case:
    points = layout.boundaries()
    cut = points[k % len(points)] if k % 3 else rng.randrange(len(layout.raw))
    return Case("truncation", f"first {cut} of {len(layout.raw)} bytes", layout.raw[:cut], "raw")


def appended(layout: Layout, rng: random.Random, k: int) -> Case:
    tails = [
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096))),
        lambda: bytes(rng.randint(1, 64)),
        lambda: layout.raw,
        lambda: b'{"__metadata__":{}}',
        lambda: b"\n",
    ]
    tail = tails[k % len(tails)]()
    return Case("appended bytes", f"{len(tail)} bytes (kind {k % len(tails)})", layout.raw + tail, "raw")


def _header_edits(layout: Layout, rng: random.Random) -> list[tuple[str, Callable[[dict[str, Any]], Any]]]:
    names = [n for n in layout.header if n != "__metadata__"]
    name = rng.choice(names)

    def entry(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], Any]:
        def apply(header: dict[str, Any]) -> Any:
            change(header[name])
            return header
        return apply

    def deep(levels: int) -> str:
        return f"{DEEP_TOKEN}{levels}"  # `assemble` splices in the nested text: too deep to build as objects

    def set_meta(value: Any) -> Callable[[dict[str, Any]], Any]:
        def apply(header: dict[str, Any]) -> Any:
            header["__metadata__"] = value
            return header
        return apply

    def set_field(key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
        def apply(header: dict[str, Any]) -> Any:
            header["__metadata__"][key] = value
            return header
        return apply

    def resigned_text(text: str) -> Callable[[dict[str, Any]], Any]:
        def apply(header: dict[str, Any]) -> Any:
            header["__metadata__"].update(metadata=text, metadata_sha256=hashlib.sha256(text.encode()).hexdigest())
            return header
        return apply

    return [
        (f"{name}: dtype F16", entry(lambda e: e.update(dtype="F16"))),
        (f"{name}: dtype F64", entry(lambda e: e.update(dtype="F64"))),
        (f"{name}: dtype F8_E4M3", entry(lambda e: e.update(dtype="F8_E4M3"))),
        (f"{name}: dtype 'X'", entry(lambda e: e.update(dtype="X"))),
        (f"{name}: dtype 5", entry(lambda e: e.update(dtype=5))),
        (f"{name}: dtype null", entry(lambda e: e.update(dtype=None))),
        (f"{name}: shape [2**62]", entry(lambda e: e.update(shape=[2**62]))),
        (f"{name}: shape [10**30]", entry(lambda e: e.update(shape=[10**30]))),
        (f"{name}: shape [2**32, 2**32]", entry(lambda e: e.update(shape=[2**32, 2**32]))),
        (f"{name}: shape [-1]", entry(lambda e: e.update(shape=[-1]))),
        (f"{name}: shape [1.5]", entry(lambda e: e.update(shape=[1.5]))),
        (f"{name}: shape ['3']", entry(lambda e: e.update(shape=["3"]))),
        (f"{name}: shape [[3]]", entry(lambda e: e.update(shape=[[3]]))),
        (f"{name}: shape 10,000 ones", entry(lambda e: e.update(shape=[1] * 10_000))),
        (f"{name}: shape nested 100,000 deep", entry(lambda e: e.update(shape=deep(100_000)))),
        (f"{name}: offsets [0, 2**64]", entry(lambda e: e.update(data_offsets=[0, 2**64]))),
        (f"{name}: offsets [-1, 3]", entry(lambda e: e.update(data_offsets=[-1, 3]))),
        (f"{name}: offsets swapped", entry(lambda e: e.update(data_offsets=e["data_offsets"][::-1]))),
        (f"{name}: offsets [0]", entry(lambda e: e.update(data_offsets=[0]))),
        (f"{name}: offsets '0'", entry(lambda e: e.update(data_offsets="0"))),
        (f"{name}: offsets shifted by 4", entry(lambda e: e.update(data_offsets=[o + 4 for o in e["data_offsets"]]))),
        (f"{name}: offsets [0, 0]", entry(lambda e: e.update(data_offsets=[0, 0]))),
        (f"{name}: entry removed", lambda h: {k: v for k, v in h.items() if k != name}),
        (f"{name}: entry a list", lambda h: {**h, name: [1, 2]}),
        (f"{name}: entry null", lambda h: {**h, name: None}),
        ("extra entry", lambda h: {**h, "extra": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}),
        ("header a list", lambda h: list(h.items())),
        ("header a string", lambda h: "x"),
        ("header null", lambda h: None),
        ("header nested 100,000 deep", lambda h: deep(100_000)),
        ("__metadata__ a list", set_meta([1, 2])),
        ("__metadata__ null", set_meta(None)),
        ("__metadata__ nested dict", set_meta({"format": {"a": {"b": 1}}})),
        ("__metadata__ empty", set_meta({})),
        ("format version '2'", set_field("format_version", "2")),
        ("format version '99999999999999999999'", set_field("format_version", "9" * 20)),
        ("format version '-1'", set_field("format_version", "-1")),
        ("format version 1 (a number)", set_field("format_version", 1)),
        ("format version '١' (Arabic-Indic digit)", set_field("format_version", "\u0661")),
        ("format 'other'", set_field("format", "other")),
        ("metadata a number", set_field("metadata", 5)),
        ("metadata 1 MB string", set_field("metadata", "x" * 1_000_000)),
        ("metadata_sha256 null", set_field("metadata_sha256", None)),
        ("metadata nested 100,000 deep", set_field("metadata", "[" * 100_000 + "]" * 100_000)),
        ("metadata nested 100,000 deep, hash recomputed", resigned_text("[" * 100_000 + "]" * 100_000)),
        ("metadata a JSON list, hash recomputed", resigned_text("[1, 2]")),
        ("metadata NaN, hash recomputed", resigned_text("NaN")),
        ("metadata with a 10,000-digit integer, hash recomputed",
         resigned_text(json.dumps(layout.metadata)[:-1] + ', "epoch": ' + "9" * 10_000 + "}")),
    ]


def header_edit(layout: Layout, rng: random.Random, k: int) -> Case:
    edits = _header_edits(layout, rng)
    label, edit = edits[k % len(edits)]
    header = edit(copy.deepcopy(layout.header))
    return Case("header edit", label, assemble(header, layout.raw[layout.data_start:]), "raw")


def header_syntax(layout: Layout, rng: random.Random, k: int) -> Case:
    """Header bytes that are no longer the same JSON: duplicate keys, padding, a length that lies."""
    text = layout.raw[8:layout.data_start]
    data = layout.raw[layout.data_start:]
    name = next(n for n in layout.header if n != "__metadata__")
    entry = json.dumps(layout.header[name], separators=(",", ":")).encode()
    variants = [
        ("padding with tabs", text.rstrip(b" ") + b"\t" * (len(text) - len(text.rstrip(b" ")))),
        ("padding with NULs", text.rstrip(b" ") + b"\0" * (len(text) - len(text.rstrip(b" ")))),
        ("duplicate tensor key", b"{" + json.dumps(name).encode() + b":" + entry + b"," + text[1:]),
        ("UTF-8 BOM", b"\xef\xbb\xbf" + text),
        ("length 1 short", text),
        ("length 1 long", text),
        ("length 2**63", text),
        ("length 0", text),
        ("length 100 MB + 1", text),
        ("trailing comma", text.rstrip(b" ")[:-1] + b",}"),
        ("two objects", text.rstrip(b" ") + b"{}"),
        ("NaN in offsets", text.replace(b'"data_offsets":[0', b'"data_offsets":[NaN', 1)),
        ("non-UTF-8 byte in a name", text.replace(name.encode(), name.encode()[:-1] + b"\xff", 1)),
        ("escaped name", text.replace(json.dumps(name).encode(), json.dumps(name, ensure_ascii=True).replace("m", "\\u006d", 1).encode(), 1)),
    ]
    label, body = variants[k % len(variants)]
    length = {"length 1 short": len(body) - 1, "length 1 long": len(body) + 1, "length 2**63": 2**63,
              "length 0": 0, "length 100 MB + 1": 100 * 1024 * 1024 + 1}.get(label, len(body))
    return Case("header syntax", label, length.to_bytes(8, "little") + body + data, "raw")


# ---------------------------------------------------------------- re-signed edits


def hostile_config(config: dict[str, Any], section: str, target: str, kwargs: dict[str, Any]) -> None:
    if section == "layers":
        config["model"] = {"layers": [{target: kwargs}, {"linear": {"out_features": 2}}]}
    elif section == "metrics":
        config["trainer"]["metrics"] = [target]
    else:
        config[section] = {"name": target, **kwargs}


def hostile(layout: Layout, rng: random.Random, k: int, marker: str) -> Case:
    section = HOSTILE_SECTIONS[k % len(HOSTILE_SECTIONS)]
    target, kwargs = HOSTILE_TARGETS[(k // len(HOSTILE_SECTIONS)) % len(HOSTILE_TARGETS)]
    kwargs = json.loads(json.dumps(kwargs).replace("{marker}", marker))
    metadata = copy.deepcopy(layout.metadata)
    hostile_config(metadata["config"], section, target, kwargs)
    return Case("hostile target (re-signed)", f"{section} = {target}", resign(layout, metadata), "hostile")


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _set(root: Any, path: tuple, value: Any, delete: bool = False) -> None:
    parent = root
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


def metadata_edit(layout: Layout, rng: random.Random, k: int) -> Case:
    """A key of the metadata (the embedded config included) removed or given a value of the wrong kind."""
    metadata = copy.deepcopy(layout.metadata)
    paths = [p for p in _leaves(metadata) if p and p[0] != "tensors_sha256"]
    path = paths[k % len(paths)]
    delete = rng.random() < 0.3 and not isinstance(path[-1], int)
    value = None if delete else copy.deepcopy(rng.choice(JUNK_VALUES))
    _set(metadata, path, value, delete)
    what = "removed" if delete else f"= {json.dumps(value)[:40]}"
    return Case("metadata edit (re-signed)", f"{'.'.join(map(str, path))} {what}", resign(layout, metadata), "resigned")


def data_source(layout: Layout, rng: random.Random, k: int, fifo: str) -> Case:
    """The embedded config's data read from a device, a FIFO, a folder or a file of the wrong kind."""
    sources = [
        {"name": "csv", "path": "/dev/zero"},
        {"name": "csv", "path": "/dev/urandom"},
        {"name": "npz", "path": "/dev/zero"},
        {"name": "csv", "path": fifo},
        {"name": "npz", "path": fifo},
        {"name": "csv", "path": "/"},
        {"name": "csv", "path": "/etc/hostname"},
        {"name": "spirals", "n_train": 2**62},
        {"name": "spirals", "n_test": 10**12},
        {"name": "mnist_full", "root": "/nonexistent", "mirrors": ["http://127.0.0.1:9/"]},
    ]
    metadata = copy.deepcopy(layout.metadata)
    metadata["config"]["data"] = sources[k % len(sources)]
    return Case("data source (re-signed)", json.dumps(sources[k % len(sources)]), resign(layout, metadata), "resigned")


def tensor_edit(layout: Layout, rng: random.Random, k: int) -> Case:
    """Tensors changed, removed or added, with the tensor hash recomputed."""
    import numpy as np

    tensors = dict(reference_tensors(layout))
    metadata = copy.deepcopy(layout.metadata)
    name = sorted(n for n in tensors if n.startswith("model."))[k % 4]
    edits = [
        ("one row less", lambda: tensors.__setitem__(name, tensors[name][:-1])),
        ("float64", lambda: tensors.__setitem__(name, tensors[name].astype(np.float64))),
        ("int32", lambda: tensors.__setitem__(name, tensors[name].astype(np.int32))),
        ("transposed", lambda: tensors.__setitem__(name, np.ascontiguousarray(tensors[name].T))),
        ("NaN", lambda: tensors.__setitem__(name, np.full_like(tensors[name], np.nan))),
        ("removed", lambda: tensors.pop(name)),
        ("extra model tensor", lambda: tensors.__setitem__("model.extra", np.zeros(3, np.float32))),
        ("empty", lambda: tensors.__setitem__(name, np.zeros((0,), np.float32))),
        ("optimizer state removed", lambda: tensors.pop(sorted(n for n in tensors if n.startswith("optimizer."))[0])),
    ]
    label, edit = edits[(k // 4) % len(edits)]
    edit()
    return Case("tensor edit (re-signed)", f"{name}: {label}", resign(layout, metadata, tensors), "resigned")


def families(marker: str, fifo: str) -> list[tuple[Callable[[Layout, random.Random, int], Case], int | None]]:
    """The damage families, each with how many of its cases are worth making (None: unlimited).

    Bit flips are listed several times so they make up about a third of the cases; the enumerated
    families stop once each of their variants was made twice, and their turns go to bit flips.
    """
    return [
        (bit_flip, None), (bit_flip, None), (bit_flip, None), (bit_flip, None),
        (byte_change, None), (byte_change, None), (span_overwrite, None), (truncation, None), (appended, None),
        (header_edit, 200), (header_syntax, 2 * 14), (metadata_edit, 2000),
        (lambda layout, rng, k: hostile(layout, rng, k, marker), 2 * len(HOSTILE_SECTIONS) * len(HOSTILE_TARGETS)),
        (lambda layout, rng, k: data_source(layout, rng, k, fifo), 2 * 10),
        (tensor_edit, 2 * 4 * 9),
    ]


def mutate(layout: Layout, seed: int, index: int, marker: str, fifo: str) -> Case:
    """Case `index` of the campaign with `seed`: the same bytes every time."""
    chosen = families(marker, fifo)
    rng = random.Random(f"{seed}:{index}")
    family, limit = chosen[index % len(chosen)]
    k = index // len(chosen)
    if limit is not None and k >= limit:
        family = bit_flip
    return family(layout, rng, k)


def same_meaning(layout: Layout, tensors: dict[str, Any], metadata: dict[str, Any]) -> bool:
    """Whether what a loader read from a damaged file equals what the reference holds."""
    import numpy as np

    original = reference_tensors(layout)
    if set(original) != set(tensors) or metadata != layout.metadata:
        return False
    return all(original[n].dtype == tensors[n].dtype and original[n].shape == tensors[n].shape
               and np.array_equal(original[n].view(np.uint8), np.ascontiguousarray(tensors[n]).view(np.uint8))
               for n in original)


def read_reference(path: Path) -> Layout:
    return parse(Path(path).read_bytes())
