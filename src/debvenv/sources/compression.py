"""Index files as gzip, xz or plain bytes, decompressed in bounded blocks, never past a limit.

A Release signs the compressed file, not what it inflates to: a validly
signed 6 MB gzip can hold 6 GiB of NULs. So every block handed out is at
most ``block`` bytes (memory stays bounded however the data compresses),
and the total stops at ``limit`` with ``TooLarge``: the Release lists the
uncompressed size of each index (``main/binary-amd64/Packages``), which the
callers pass; without it, a ceiling far above any real archive's.

The format is told apart by magic bytes, not by name: a cached file is
named by its hash. Concatenated gzip members and xz streams continue the
same file, as gzip and xz themselves read them.
"""

from __future__ import annotations

import lzma
import zlib
from typing import Callable, Iterator, Optional, Tuple, Type

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"

# Ceilings for a file whose uncompressed size the Release does not list: Debian
# sid's amd64 Packages is about 70 MB and Ubuntu's suite-wide Contents about 1.3 GB.
MAX_PACKAGES_BYTES = 1 << 30
MAX_CONTENTS_BYTES = 8 << 30


class TooLarge(Exception):
    """The data inflates past its limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"inflates to more than {limit} bytes")
        self.limit = limit


class Corrupt(Exception):
    """The compressed data is damaged, or ends before its stream does."""


def blocks(
    read: Callable[[int], bytes],
    *,
    limit: int,
    read_size: int,
    block: int,
) -> Iterator[bytes]:
    """The uncompressed bytes of what ``read`` returns, in blocks of at most ``block`` bytes.

    Raises TooLarge past ``limit`` uncompressed bytes, Corrupt for damaged or
    truncated compressed data; OSError from ``read`` passes through.
    """
    chunk = read(read_size)
    new = _decompressor_for(chunk)
    total = 0
    if new is None:
        while chunk:
            total += len(chunk)
            if total > limit:
                raise TooLarge(limit)
            yield chunk
            chunk = read(read_size)
        return
    make, errors = new
    decompressor = make()
    try:
        while chunk:
            data = chunk
            while True:
                out = decompressor.decompress(data, block)
                if out:
                    total += len(out)
                    if total > limit:
                        raise TooLarge(limit)
                    yield out
                if decompressor.eof:
                    data = decompressor.unused_data
                    if not data:
                        break
                    decompressor = make()  # the next member or stream of the same file
                    continue
                # zlib hands back the input it has not consumed; lzma keeps it, and says
                # whether it needs more before it can give more.
                data = getattr(decompressor, "unconsumed_tail", b"")
                if not data and getattr(decompressor, "needs_input", not out):
                    break
            chunk = read(read_size)
    except errors as error:
        raise Corrupt(f"corrupt compressed data: {error}") from error
    if not decompressor.eof:
        raise Corrupt("truncated: the compressed stream ends early")


def _decompressor_for(head: bytes) -> Optional[Tuple[Callable[[], object], Tuple[Type[BaseException], ...]]]:
    if head.startswith(GZIP_MAGIC):
        return (lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)), (zlib.error,)
    if head.startswith(XZ_MAGIC):
        return lzma.LZMADecompressor, (lzma.LZMAError, EOFError)
    return None


def bytes_reader(data: bytes) -> Callable[[int], bytes]:
    """``read(n)`` over bytes already in memory, without copying them."""
    view = memoryview(data)
    position = 0

    def read(size: int) -> bytes:
        nonlocal position
        piece = view[position : position + size]
        position += len(piece)
        return bytes(piece)

    return read
