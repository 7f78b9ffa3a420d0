"""debvenv.sources.compression: bounded blocks out of gzip, xz and plain index files."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import pytest

from debvenv.sources import compression

DATA = Path(__file__).parent / "data"
CONTENTS = (DATA / "Contents-amd64").read_bytes()

FORMATS = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "xz": lambda data: lzma.compress(data, format=lzma.FORMAT_XZ),
    "plain": lambda data: data,
    # Concatenated members or streams continue the same file, as gzip and xz read them.
    "gzip members": lambda data: gzip.compress(data[:999], mtime=0) + gzip.compress(data[999:], mtime=0),
    "xz streams": lambda data: lzma.compress(data[:999]) + lzma.compress(data[999:]),
}


def _inflate(data: bytes, limit: int, block: int = 4096) -> list:
    return list(compression.blocks(compression.bytes_reader(data), limit=limit, read_size=1000, block=block))


@pytest.mark.parametrize("name", FORMATS)
def test_the_real_contents_comes_back_whole_in_bounded_blocks(name):
    parts = _inflate(FORMATS[name](CONTENTS), limit=len(CONTENTS), block=4096)
    assert b"".join(parts) == CONTENTS
    assert max(len(p) for p in parts) <= 4096


@pytest.mark.parametrize("name", FORMATS)
def test_one_byte_past_the_limit_stops(name):
    with pytest.raises(compression.TooLarge):
        _inflate(FORMATS[name](CONTENTS), limit=len(CONTENTS) - 1)


@pytest.mark.parametrize("name", ["gzip", "xz"])
def test_a_bomb_stops_at_the_limit_with_one_block_in_memory(name):
    bomb = FORMATS[name](bytes(64 << 20))  # about 64 KiB (gzip) or 10 KiB (xz) on disk
    seen = 0
    with pytest.raises(compression.TooLarge) as raised:
        for part in compression.blocks(compression.bytes_reader(bomb), limit=1 << 20, read_size=1 << 16, block=1 << 16):
            assert len(part) <= 1 << 16
            seen += len(part)
    assert raised.value.limit == 1 << 20 and seen <= 1 << 20


@pytest.mark.parametrize("name", ["gzip", "xz"])
def test_a_cut_stream_is_corrupt(name):
    data = FORMATS[name](CONTENTS)
    with pytest.raises(compression.Corrupt):
        _inflate(data[:-20], limit=len(CONTENTS))
