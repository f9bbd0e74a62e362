"""Campaign: bad data files are refused with exit 2 and a message naming the file, in bounded time and memory.

CSV files (/dev/zero, empty, ragged rows, NaN and inf, negative or huge labels, text, ...) and
`.npz` files (zip bombs, members whose header declares a huge shape, pickled object arrays,
missing arrays, NaN features, out-of-range labels, ...) are given as `data:` to `ttrain fit`;
`.npz` and IDX files (truncated, 0 samples, 255 dimensions, wrong magic, gzip bombs, ...) as the
inputs of `ttrain predict`. Bombs are small files with a large *declared* or compressed size,
never large files: a deflate block of a MiB of zeros is repeated, so a 4 GiB bomb is 4 MB.
Each child runs with a 20 s timeout and a 3 GiB address-space limit. Clean: exit 2, no
traceback, and the message names the file.

    python -m tests.campaigns.bad_data
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tests.campaigns.common import (
    TINY_CONFIG,
    Tally,
    campaign_parser,
    make_checkpoint,
    refusal_problem,
    run_campaign,
    run_child,
    ttrain_command,
    write_text,
)

TIMEOUT = 20.0
MIB = 1 << 20

# The model's classes come from the data, so a label of 10**9 asks for a layer of 10**9 outputs.
FIT_CONFIG = """\
name: data
model: {{name: mlp, hidden: [8]}}
data: {{name: {kind}, path: {path}}}
trainer: {{epochs: 1, batch_size: 16}}
"""


@dataclass
class BadFile:
    """One bad data file: a name, how to make it in a folder, and which commands get it."""

    name: str
    make: Callable[[Path], Path]
    kind: str  # "csv", "npz" or "idx"
    only: str | None = None  # "fit" or "predict" when the file is bad for one of them only

    @property
    def commands(self) -> tuple[str, ...]:
        if self.only is not None:
            return (self.only,)
        return {"csv": ("fit",), "npz": ("fit", "predict"), "idx": ("predict",)}[self.kind]


# ---------------------------------------------------------------- bombs, small on disk


def _zeros_deflate(mebibytes: int) -> bytes:
    """A raw deflate stream of `mebibytes` MiB of zeros: one fully flushed block, repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * mebibytes + compressor.flush(zlib.Z_FINISH)


def _zeros_crc(mebibytes: int, prefix: bytes = b"") -> int:
    crc = zlib.crc32(prefix)
    chunk = bytes(MIB)
    for _ in range(mebibytes):
        crc = zlib.crc32(chunk, crc)
    return crc


def gzip_bomb(prefix: bytes, mebibytes: int) -> bytes:
    """A gzip file holding `prefix` then `mebibytes` MiB of zeros (valid CRC and size)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = _zeros_deflate(mebibytes)
    size = len(prefix) + mebibytes * MIB
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head + body
            + struct.pack("<II", _zeros_crc(mebibytes, prefix), size & 0xFFFFFFFF))


def zip_bomb(name: str, prefix: bytes, mebibytes: int) -> bytes:
    """A zip file with one deflated member `name`: `prefix` then `mebibytes` MiB of zeros (under 4 GiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH) + _zeros_deflate(mebibytes)
    size = len(prefix) + mebibytes * MIB
    crc = _zeros_crc(mebibytes, prefix)
    encoded = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0) + encoded
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                          len(encoded), 0, 0, 0, 0, 0, 0) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """The header of a `.npy` file declaring `shape` (version 1.0, padded to 64 bytes)."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}"
    text += " " * (-(len(text) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode()


def idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape)


# ---------------------------------------------------------------- file makers


def file_with(name: str, content: bytes | Callable[[], bytes]) -> Callable[[Path], Path]:
    """A file of `content` (a callable is called only when the file is made: bombs take seconds)."""

    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content() if callable(content) else content)
        return path

    return make


def npz_with(name: str, **arrays: object) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        path.write_bytes(buffer.getvalue())
        return path

    return make


def npz_members(name: str, members: dict[str, bytes]) -> Callable[[Path], Path]:
    """An `.npz` whose members are given as raw bytes (e.g. a `.npy` header promising more than follows)."""

    def make(folder: Path) -> Path:
        path = folder / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, content in members.items():
                archive.writestr(member, content)
        return path

    return make


def csv_text(name: str, text: str) -> Callable[[Path], Path]:
    return file_with(name, text.encode())


def special(name: str, make_special: Callable[[Path], None]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        make_special(path)
        return path

    return make


def symlink(name: str, target: str) -> Callable[[Path], Path]:
    return special(name, lambda path: path.symlink_to(target))


def good_rows(n: int = 40) -> str:
    rng = np.random.default_rng(0)
    return "".join(f"{a:.3f},{b:.3f},{int(a > b)}\n" for a, b in rng.normal(size=(n, 2)))


def bad_files() -> list[BadFile]:
    """Every bad file of the campaign. `predict` reads only `x`: a file bad only in its labels is
    bad for `fit` only, a width the model does not take is bad for `predict` only."""
    x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    y = (x[:, 0] > x[:, 1]).astype(np.int64)
    nan_x = x.copy()
    nan_x[7, 1] = np.nan
    inf_x = x.copy()
    inf_x[3, 0] = np.inf
    rows = good_rows()
    csv = [
        BadFile("CSV: /dev/zero", symlink("zero.csv", "/dev/zero"), "csv"),
        BadFile("CSV: /dev/urandom", symlink("urandom.csv", "/dev/urandom"), "csv"),
        BadFile("CSV: FIFO", special("fifo.csv", os.mkfifo), "csv"),
        BadFile("CSV: a folder", special("folder.csv", os.mkdir), "csv"),
        BadFile("CSV: empty", csv_text("empty.csv", ""), "csv"),
        BadFile("CSV: header only", csv_text("header.csv", "a,b,label\n"), "csv"),
        BadFile("CSV: one row", csv_text("one.csv", "0.1,0.2,1\n"), "csv"),
        BadFile("CSV: ragged rows", csv_text("ragged.csv", rows + "1.0,2.0\n" + rows), "csv"),
        BadFile("CSV: NaN feature", csv_text("nan.csv", rows + "nan,0.5,1\n"), "csv"),
        BadFile("CSV: inf feature", csv_text("inf.csv", rows + "inf,0.5,1\n"), "csv"),
        BadFile("CSV: 1e999 feature", csv_text("huge.csv", rows + "1e999,0.5,0\n"), "csv"),
        BadFile("CSV: negative label", csv_text("negative.csv", rows + "0.1,0.5,-1\n"), "csv"),
        BadFile("CSV: label 10**9", csv_text("biglabel.csv", rows + "0.1,0.5,1000000000\n"), "csv"),
        BadFile("CSV: label 10**30", csv_text("hugelabel.csv", rows + "0.1,0.5,1e30\n"), "csv"),
        BadFile("CSV: NaN label", csv_text("nanlabel.csv", rows + "0.1,0.5,nan\n"), "csv"),
        BadFile("CSV: text in a row", csv_text("text.csv", rows + "0.1,abc,1\n"), "csv"),
        BadFile("CSV: one column", csv_text("column.csv", "".join(f"{i % 2}\n" for i in range(40))), "csv"),
        BadFile("CSV: NUL bytes", file_with("nul.csv", rows.encode() + b"\0" * 64 + b"\n"), "csv"),
        BadFile("CSV: non-UTF-8", file_with("latin1.csv", b"a,b\xe9,label\n" + rows.encode()), "csv"),
        BadFile("CSV: 1 MB line without a newline", csv_text("longline.csv", "1," * 500_000), "csv"),
        BadFile("CSV: quoted newline", csv_text("quoted.csv", rows + '"0.1\n0.2",0.5,1\n'), "csv"),
        BadFile("CSV: gzip bomb", file_with("bomb.csv", lambda: gzip_bomb(b"", 4000)), "csv"),
    ]
    npz = [
        BadFile("npz: zip bomb (x of 3.9 GiB of zeros)", file_with("bomb.npz", lambda: zip_bomb("x.npy", npy_header((1_000_000_000,)), 3900)), "npz"),
        BadFile("npz: x declares 10**10 x 2 floats", npz_members("declared.npz", {"x.npy": npy_header((10**10, 2)) + bytes(64),
                                                                                    "y.npy": npy_header((40,), "<i8") + y.tobytes()}), "npz"),
        BadFile("npz: x declares 2**62 rows", npz_members("declared62.npz", {"x.npy": npy_header((2**62, 2)),
                                                                                 "y.npy": npy_header((40,), "<i8") + y.tobytes()}), "npz"),
        BadFile("npz: x header with a negative shape", npz_members("negshape.npz", {"x.npy": npy_header((-5, 2)), "y.npy": npy_header((40,), "<i8") + y.tobytes()}), "npz"),
        BadFile("npz: pickled object array", npz_with("pickled.npz", x=np.array([{"a": 1}] * 40, dtype=object), y=y), "npz"),
        BadFile("npz: no x", npz_with("nox.npz", features=x, y=y), "npz"),
        BadFile("npz: no y", npz_with("noy.npz", x=x), "npz", only="fit"),
        BadFile("npz: NaN feature", npz_with("nan.npz", x=nan_x, y=y), "npz"),
        BadFile("npz: inf feature", npz_with("inf.npz", x=inf_x, y=y), "npz"),
        BadFile("npz: negative label", npz_with("negative.npz", x=x, y=np.where(np.arange(40) == 5, -1, y)), "npz", only="fit"),
        BadFile("npz: label 10**9", npz_with("biglabel.npz", x=x, y=np.where(np.arange(40) == 5, 10**9, y)), "npz", only="fit"),
        BadFile("npz: x and y of different lengths", npz_with("lengths.npz", x=x, y=y[:-3]), "npz", only="fit"),
        BadFile("npz: 0 samples", npz_with("empty.npz", x=np.zeros((0, 2), np.float32), y=np.zeros((0,), np.int64)), "npz"),
        BadFile("npz: x a scalar", npz_with("scalar.npz", x=np.float32(1), y=y), "npz"),
        BadFile("npz: x of strings", npz_with("strings.npz", x=np.array(["a"] * 40), y=y), "npz"),
        BadFile("npz: x complex", npz_with("complex.npz", x=x.astype(np.complex64), y=y), "npz"),
        BadFile("npz: x of the wrong width", npz_with("width.npz", x=np.zeros((40, 5), np.float32), y=y), "npz", only="predict"),
        BadFile("npz: not a zip", file_with("text.npz", b"x,y\n1,2\n"), "npz"),
        BadFile("npz: empty file", file_with("zero.npz", b""), "npz"),
        BadFile("npz: truncated zip", special("truncated.npz", lambda p: p.write_bytes(_npz_bytes(x=x, y=y)[:200])), "npz"),
        BadFile("npz: /dev/zero", symlink("devzero.npz", "/dev/zero"), "npz"),
        BadFile("npz: FIFO", special("fifo.npz", os.mkfifo), "npz"),
        BadFile("npz: a folder", special("folder.npz", os.mkdir), "npz"),
    ]
    idx = [
        BadFile("IDX: 3 bytes", file_with("short.idx", b"\0\0\x08"), "idx"),
        BadFile("IDX: truncated header", file_with("header.idx", idx_header(0x0D, (40, 2))[:9]), "idx"),
        BadFile("IDX: truncated data", file_with("data.idx", idx_header(0x0D, (40, 2)) + bytes(100)), "idx"),
        BadFile("IDX: 0 samples", file_with("zero.idx", idx_header(0x0D, (0, 2))), "idx"),
        BadFile("IDX: 255 dimensions", file_with("dims.idx", idx_header(0x0D, (1,) * 254 + (2,)) + bytes(8)), "idx"),
        BadFile("IDX: 0 dimensions", file_with("nodims.idx", idx_header(0x0D, ())), "idx"),
        BadFile("IDX: wrong magic", file_with("magic.idx", b"\x01\x02\x0d\x02" + bytes(400)), "idx"),
        BadFile("IDX: unknown dtype code", file_with("code.idx", idx_header(0x0F, (40, 2)) + bytes(320)), "idx"),
        BadFile("IDX: declares 2**32-1 x 2**32-1", file_with("declared.idx", idx_header(0x0D, (2**32 - 1, 2**32 - 1)) + bytes(64)), "idx"),
        BadFile("IDX: NaN feature", file_with("nan.idx", idx_header(0x0D, (40, 2)) + nan_x.astype(">f4").tobytes()), "idx"),
        BadFile("IDX: gzip bomb (4 GiB of zeros)", file_with("bomb.idx.gz", lambda: gzip_bomb(idx_header(0x08, (2_000_000_000, 2)), 4000)), "idx"),
        BadFile("IDX: gzip bomb within the limit of the header", file_with("bomb2.idx.gz", lambda: gzip_bomb(idx_header(0x08, (1_000_000_000, 2)), 1900)), "idx"),
        BadFile("IDX: damaged gzip", file_with("damaged.idx.gz", gzip_bomb(idx_header(0x0D, (40, 2)), 1)[:40]), "idx"),
        BadFile("IDX: /dev/zero", symlink("devzero.idx", "/dev/zero"), "idx"),
        BadFile("IDX: FIFO", special("fifo.idx", os.mkfifo), "idx"),
        BadFile("IDX: a folder", special("folder.idx", os.mkdir), "idx"),
    ]
    return csv + npz + idx


def _npz_bytes(**arrays: object) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def try_file(bad: BadFile, command: str, folder: Path, checkpoint: Path) -> str | None:
    """Give one bad file to one command; the problem or None."""
    folder.mkdir(parents=True, exist_ok=True)
    path = bad.make(folder)
    if command == "fit":
        config = write_text(folder / "data.yaml", FIT_CONFIG.format(kind=bad.kind, path=path))
        args = ttrain_command("fit", config, "-q", "--set", f"trainer.output_dir={folder / 'runs'}")
    else:
        args = ttrain_command("predict", checkpoint, path, "--output", folder / "predictions.npz")
    result = run_child(args, timeout=TIMEOUT)
    return refusal_problem(result, must_mention=path.name)


def campaign(workdir: Path, count: int | None, jobs: int = 1, only: dict[str, tuple[str, ...]] | None = None,
             checkpoint: Path | None = None) -> Tally:
    """Every bad file (the first `count`, or those named in `only`, each with the commands given there)."""
    checkpoint = checkpoint or make_checkpoint(workdir / "reference", TINY_CONFIG)
    files = bad_files()[:count] if only is None else [f for f in bad_files() if f.name in only]
    runs = [(bad, command, workdir / f"{number}-{command}") for number, bad in enumerate(files) for command in bad.commands
            if only is None or command in only[bad.name]]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        problems = list(pool.map(lambda run: try_file(*run, checkpoint), runs))
    tally = Tally()
    for (bad, command, _), problem in zip(runs, problems):
        tally.add(f"{command}: {bad.name}", problem)
    print(f"{len(files)} bad files, {len(runs)} runs (CSV and npz through fit, npz and IDX through predict)")
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = campaign_parser("Give bad data files to fit and predict; each must end in exit 2 naming the file.", None)
    parser.add_argument("--jobs", type=int, default=1, help="children run at once (default 1)")
    args = parser.parse_args(argv)
    return run_campaign("bad data", lambda folder: campaign(folder, args.count, args.jobs), args.workdir, args.shown)


if __name__ == "__main__":
    sys.exit(main())
