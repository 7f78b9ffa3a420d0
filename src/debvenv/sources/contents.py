"""Python distributions named by a Debian ``Contents-*`` index.

Grammar accepted (Debian's ``dists/SUITE/COMPONENT/Contents-{all,ARCH}``,
Ubuntu's ``dists/SUITE/Contents-ARCH``), gzip-, xz- or un-compressed; the
compression is recognised by its magic bytes, not the file name::

    contents = *(line LF)
    line     = path 1*(SP / HTAB) location
    path     = file name relative to "/", no leading "/"; may contain spaces
    location = item *("," item)
    item     = [component "/"] section "/" package

Only lines whose path is ``usr/lib/python3/dist-packages/ENTRY`` or lies
inside ``ENTRY/`` are read, where::

    ENTRY    = NAME ["-" VERSION *("-" TAG)] (".dist-info" / ".egg-info")

NAME and VERSION contain no ``-`` (both wheel and setuptools escape it to
``_``); the TAGs are setuptools' ``py3.11``-style suffixes and are dropped;
an egg-info without a version (``cryptography.egg-info``) has version None.
Every other line is skipped without being split, which also covers the
free-text header that old-style files carry before their ``FILE LOCATION``
line. ``usr/lib/python3.N/dist-packages`` is ignored on purpose: it is not on
the sys.path of Debian's or Ubuntu's interpreters, and what bookworm ships
there is stray files from a handful of packaging bugs, never metadata.

A Contents index lists files, so each dist-info directory shows up once per
file inside it; the result has one entry per (metadata path, package).
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from debvenv.errors import EnvironmentFailure
from debvenv.sources import compression

KIND_DIST_INFO = "dist-info"
KIND_EGG_INFO = "egg-info"

SITE_DIR = "usr/lib/python3/dist-packages"

IndexInput = Union[str, "os.PathLike[str]", BinaryIO]

# 64 KiB of compressed input inflates to about 1 MiB of Contents: big enough
# that the per-call overhead vanishes, small enough to stay in the CPU cache
# while it is searched (bigger reads measured slower, not faster).
_READ_SIZE = 1 << 16
# What one decompression call may return: about what 64 KiB of real Contents inflates to.
_BLOCK_SIZE = 1 << 21


# Every interesting line starts with this; blocks without it are skipped by
# one substring search, which is what makes the scan cost next to nothing
# beside decompression.
_NEEDLE = b"\n" + SITE_DIR.encode() + b"/"
_LINE = re.compile(re.escape(_NEEDLE) + rb"([^/\s]+\.(?:dist|egg)-info)(?=[/\s])([^\n]*)")
_PACKAGE = re.compile(rb"[a-z0-9][a-z0-9+.-]*")
_PYTHON_TAG = re.compile(r"-py\d+(?:\.\d+)*$")


class ContentsError(EnvironmentFailure):
    """A Contents index that cannot be read: corrupt, truncated or malformed."""


@dataclass(frozen=True)
class ContentsDistribution:
    """One Python distribution's metadata in one Debian binary package."""

    name: str  # as the metadata directory spells it: "PyYAML", "python_dateutil"
    version: Optional[str]  # raw, may not be PEP 440; None for a versionless egg-info
    package: str  # Debian binary package: "python3-yaml"
    section: str  # "python", "zope", Ubuntu's "universe/python"
    kind: str  # KIND_DIST_INFO | KIND_EGG_INFO
    path: str  # "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info", no leading "/"


def parse_metadata_name(entry: str) -> Tuple[str, Optional[str], str]:
    """Split ``PyYAML-6.0.dist-info`` into ``("PyYAML", "6.0", "dist-info")``.

    ``foo-1.0-py3.11.egg-info`` drops the interpreter tag;
    ``cryptography.egg-info`` has no version. Raises ValueError on a name
    that is neither a dist-info nor an egg-info.
    """
    stem, dot, kind = entry.rpartition(".")
    if not dot or kind not in (KIND_DIST_INFO, KIND_EGG_INFO) or not stem:
        raise ValueError(f"not a .dist-info or .egg-info name: {entry!r}")
    if kind == KIND_EGG_INFO:
        stem = _PYTHON_TAG.sub("", stem)
    name, dash, rest = stem.partition("-")
    if not name:
        raise ValueError(f"no distribution name in {entry!r}")
    version = rest.split("-", 1)[0] if dash else None
    return name, version or None, kind


def iter_python_distributions(
    source: IndexInput, *, name: Optional[str] = None, limit: Optional[int] = None
) -> Iterator[ContentsDistribution]:
    """The distributions one Contents index names, in file order, each once.

    ``source`` is a path or a binary file object; ``name`` is what error
    messages call it (default: the path, or the file object's ``name``).
    ``limit``: the most bytes it may inflate to (the Release lists the
    uncompressed size); default compression.MAX_CONTENTS_BYTES.
    """
    label = name if name is not None else _label(source)
    seen: Set[Tuple[bytes, bytes]] = set()
    for offset, buf, end in _complete_lines(_blocks(source, label, limit)):
        for match in _LINE.finditer(buf, 0, end + 1):
            entry, rest = match.group(1, 2)
            location = _location(rest)
            if location is None:
                raise _malformed(source, label, offset, match, "no package field")
            if (entry, location) not in seen:
                seen.add((entry, location))
                yield from _distributions(source, label, offset, match, entry, location)


def python_distributions(
    *sources: IndexInput, limits: Sequence[Optional[int]] = ()
) -> List[ContentsDistribution]:
    """The distributions named by all ``sources`` (e.g. Contents-all and Contents-amd64).

    The sources are decompressed concurrently, one thread each (zlib and
    lzma release the GIL, and decompression is nearly all the work); the
    result is in source order, one entry per (metadata path, package).
    ``limits``: each source's ``limit`` (see iter_python_distributions).
    """
    bounded = [(s, limits[i] if i < len(limits) else None) for i, s in enumerate(sources)]
    if len(sources) <= 1:
        lists = [list(iter_python_distributions(s, limit=limit)) for s, limit in bounded]
    else:
        with ThreadPoolExecutor(max_workers=len(sources)) as pool:
            lists = list(pool.map(lambda pair: list(iter_python_distributions(pair[0], limit=pair[1])), bounded))
    if len(lists) == 1:
        return lists[0]
    merged: List[ContentsDistribution] = []
    seen: Set[Tuple[str, str]] = set()
    for found in lists:
        for dist in found:
            if (dist.path, dist.package) not in seen:
                seen.add((dist.path, dist.package))
                merged.append(dist)
    return merged


def _location(rest: bytes) -> Optional[bytes]:
    """The location field at the end of a line's remainder, or None if it has none."""
    rest = rest.rstrip()
    cut = max(rest.rfind(b" "), rest.rfind(b"\t"))
    return rest[cut + 1 :] if cut >= 0 else None


def _distributions(
    source: IndexInput, label: str, offset: int, match: "re.Match[bytes]", entry: bytes, location: bytes
) -> Iterator[ContentsDistribution]:
    entry_text = entry.decode("utf-8", "replace")
    try:
        name, version, kind = parse_metadata_name(entry_text)
    except ValueError as error:
        raise _malformed(source, label, offset, match, str(error)) from None
    path = f"{SITE_DIR}/{entry_text}"
    for item in location.split(b","):
        section, slash, package = item.rpartition(b"/")
        if not slash or not section or not _PACKAGE.fullmatch(package):
            what = f"location {item.decode('utf-8', 'replace')!r} is not SECTION/PACKAGE"
            raise _malformed(source, label, offset, match, what)
        yield ContentsDistribution(
            name=name,
            version=version,
            package=package.decode("ascii"),
            section=section.decode("utf-8", "replace"),
            kind=kind,
            path=path,
        )


def _malformed(
    source: IndexInput, label: str, offset: int, match: "re.Match[bytes]", what: str
) -> ContentsError:
    position = offset + match.start() + 1  # the line's start: just past its "\n"
    line = match.group(0)[1:].decode("utf-8", "replace")
    number = _line_number(source, label, position)
    where = f"{label}:{number}" if number else f"{label} (byte {position} uncompressed)"
    return ContentsError(f"{where}: {what}: {line!r}")


def _line_number(source: IndexInput, label: str, position: int) -> Optional[int]:
    """The 1-based line starting at uncompressed ``position``, found by reading the file again.

    Counting lines as we go would cost a fifth of the scan for a number only
    an error message needs; a file object cannot be read twice, so it gets None.
    """
    if not isinstance(source, (str, os.PathLike)):
        return None
    lines, seen = 1, 0
    try:
        for block in _blocks(source, label, None):
            if seen + len(block) >= position:
                return lines + block.count(b"\n", 0, position - seen)
            lines += block.count(b"\n")
            seen += len(block)
    except ContentsError:
        return None
    return None


def _complete_lines(blocks: Iterable[bytes]) -> Iterator[Tuple[int, bytes, int]]:
    """(offset, buffer, end) for the blocks that may hold an interesting line.

    ``buffer[:end + 1]`` is a run of complete lines, each preceded by its
    "\\n" (the first line of the file gets a made-up one) and the last one
    ending at ``buffer[end]``; ``offset`` is where ``buffer[0]`` is in the
    uncompressed file (-1 for the made-up "\\n"). Blocks that cannot hold
    the needle are only searched, never copied.
    """
    tail = b"\n"  # the incomplete last line so far, with the "\n" before it
    start = -1  # uncompressed offset of tail[0]
    span = len(_NEEDLE) - 1
    for block in blocks:
        if _NEEDLE in block or _NEEDLE in tail + block[:span]:
            buf = tail + block
            end = buf.rfind(b"\n")
            if end > 0:
                yield start, buf, end
                start += end
                tail = buf[end:]
            else:
                tail = buf
            continue
        end = block.rfind(b"\n")
        if end >= 0:
            start += len(tail) - 1 + end + 1
            tail = block[end:]
        else:
            tail += block
    if len(tail) > 1:
        yield start, tail + b"\n", len(tail)


def _blocks(source: IndexInput, label: str, limit: Optional[int]) -> Iterator[bytes]:
    """Uncompressed blocks of ``source``: gzip, xz or plain, told apart by magic bytes."""
    limit = compression.MAX_CONTENTS_BYTES if limit is None else limit
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as stream:
                yield from compression.blocks(stream.read, limit=limit, read_size=_READ_SIZE, block=_BLOCK_SIZE)
        else:
            yield from compression.blocks(source.read, limit=limit, read_size=_READ_SIZE, block=_BLOCK_SIZE)
    except OSError as error:
        raise ContentsError(f"{label}: cannot read: {error}") from error
    except compression.TooLarge:
        raise ContentsError(f"{label}: too large: it inflates to more than {limit} bytes") from None
    except compression.Corrupt as error:
        raise ContentsError(f"{label}: {error}") from error


def _label(source: IndexInput) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", "<stream>"))
