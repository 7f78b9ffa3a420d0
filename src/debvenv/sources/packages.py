"""The binary packages of a Debian ``Packages`` index: name, version, architecture, source.

Grammar accepted (deb822, as ``dists/SUITE/COMPONENT/binary-ARCH/Packages``
carries it), xz-, gzip- or un-compressed; the compression is recognised by
its magic bytes, not the file name::

    packages     = *LF [paragraph *(1*LF paragraph)]
    paragraph    = 1*field                   ; one blank line or more between two
    field        = name ":" *(SP / HTAB) value LF *continuation
    continuation = (SP / HTAB) text LF

Only the fields debvenv needs are read, spelled with the archive's
capitalisation, and each must be well-formed where present::

    Package      = name                          ; mandatory
    Version      = [epoch ":"] version            ; mandatory, Debian's syntax
    Architecture = arch                          ; mandatory: "amd64", "all"
    Source       = name [SP "(" version ")"]      ; absent: the binary's name and version
    Provides     = name [ "(" op version ")" ] *("," name [...])
    name         = [a-z0-9] *[a-z0-9+.-]

Every other field is skipped unsplit, which is what makes this several times
faster than python-debian's deb822 iteration (measured on bookworm's main:
about 0.3 s against 6 s). Anything else — a paragraph missing a mandatory
field, a malformed value, a truncated download, an HTML error page — is a
PackagesError naming the paragraph's line.

A name appearing in several paragraphs keeps its highest version, ordered by
python-debian's pure-Python ``NativeVersion`` (never ``apt_pkg``, whose
import-time switch the rest of debvenv avoids).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import BinaryIO, Dict, Iterator, Mapping, Optional, Tuple, Union

from debian.deb822 import Deb822
from debian.debian_support import NativeVersion

from debvenv.errors import EnvironmentFailure
from debvenv.sources import compression

IndexInput = Union[str, "os.PathLike[str]", BinaryIO]

PYTHON3 = "python3"

_READ_SIZE = 1 << 18

# The grammar of the values debvenv reads, as bytes regexes.
_WS = rb"(?:[ \t]|\n[ \t])*"  # blanks, folded lines included
_NAME = rb"[a-z0-9][a-z0-9+.-]*"
_VERSION = rb"(?:[0-9]+:)?[0-9][A-Za-z0-9.+~:-]*"
_ARCH = rb"[a-z0-9][a-z0-9-]*"
_SOURCE_VALUE = _NAME + rb"(?:[ \t]+\([ \t]*" + _VERSION + rb"[ \t]*\))?"
_PROVIDES_ITEM = _NAME + rb"(?:" + _WS + rb"\(" + _WS + rb"[<>=]{0,2}" + _WS + _VERSION + _WS + rb"\))?"
_PROVIDES_VALUE = _PROVIDES_ITEM + rb"(?:" + _WS + rb"," + _WS + _PROVIDES_ITEM + rb")*"

# One match per paragraph, all of it in C. The three lookaheads find the
# mandatory fields wherever they sit (Debian writes Version before
# Architecture, Launchpad the other way round); the loop then consumes the
# paragraph line by line, capturing Source and Provides on its way, and must
# end at a blank line: a bad value in any of the five fields fails the whole
# match, and _diagnose says why. Matching per field instead costs five
# Python-level matches a paragraph and measured twice as slow.
_ANY_LINES = rb"(?:[^\n]+\n)*?"
_PARAGRAPH = re.compile(
    rb"(?=" + _ANY_LINES + rb"Package:[ \t]*(" + _NAME + rb")[ \t]*\n)"
    rb"(?=" + _ANY_LINES + rb"Version:[ \t]*(" + _VERSION + rb")[ \t]*\n)"
    rb"(?=" + _ANY_LINES + rb"Architecture:[ \t]*(" + _ARCH + rb")[ \t]*\n)"
    rb"(?:Source:[ \t]*(" + _SOURCE_VALUE + rb")[ \t]*\n"
    rb"|Provides:[ \t]*(" + _PROVIDES_VALUE + rb")[ \t]*\n"
    rb"|(?!Source:|Provides:)[^\s:#-][^\s:]*:[^\n]*\n"  # any other field
    rb"|[ \t][^\n]*\n)+"  # a continuation line
    rb"(?=\n|\Z)\n*"
)
_BLANK_LINES = re.compile(rb"\n*")
_FIELD_NAME = re.compile(rb"[^\s:#-][^\s:]*")
_FIELDS = (
    (b"Package", re.compile(_NAME), True),
    (b"Version", re.compile(_VERSION), True),
    (b"Architecture", re.compile(_ARCH), True),
    (b"Source", re.compile(_SOURCE_VALUE), False),
    (b"Provides", re.compile(_PROVIDES_VALUE), False),
)
# Splits a value _PARAGRAPH has already admitted.
_SOURCE_PARTS = re.compile(r"(\S+)(?:\s*\(\s*(\S+?)\s*\))?")
_PROVIDES_NAMES = re.compile(r"(?:^|,)\s*([a-z0-9][a-z0-9+.-]*)")

# package, version, architecture, source or None, provides or None: the
# checked but unconverted fields of one paragraph.
_Raw = Tuple[bytes, bytes, bytes, Optional[bytes], Optional[bytes]]


class PackagesError(EnvironmentFailure):
    """A Packages index that cannot be read: corrupt, truncated or malformed."""


@dataclass(frozen=True)
class PackageRecord:
    """One binary package of a Packages index, reduced to what debvenv uses."""

    package: str
    version: str  # Debian version, epoch included: "3:3.2.25-0+deb12u3"
    architecture: str  # "amd64", "all"
    source: str  # the source package; the binary's own name when Source is absent
    source_version: str  # Source's "(version)", else the binary's version (Debian's rule)
    provides: Tuple[str, ...] = ()  # virtual package names, without versions

    @classmethod
    def from_fields(cls, raw: _Raw) -> "PackageRecord":
        """The record of one paragraph's fields, as _PARAGRAPH captured and checked them."""
        package, version, architecture, source, provides = raw
        text_version = version.decode("ascii")
        source_name, source_version = package.decode("ascii"), text_version
        if source is not None:
            name, version_in_source = _SOURCE_PARTS.fullmatch(source.decode("ascii")).groups()
            source_name, source_version = name, version_in_source or text_version
        return cls(
            package=package.decode("ascii"),
            version=text_version,
            architecture=architecture.decode("ascii"),
            source=source_name,
            source_version=source_version,
            provides=tuple(_PROVIDES_NAMES.findall(provides.decode("ascii"))) if provides else (),
        )


@dataclass(frozen=True)
class TargetPython:
    """The interpreter a suite's ``python3`` package depends on."""

    debian_version: str  # "3.11.2-1+b1"
    full_version: str  # "3.11.2": what PEP 508's python_full_version is
    version: str  # "3.11": what PEP 508's python_version is


class PackagesIndex(Mapping[str, PackageRecord]):
    """Package name -> PackageRecord, each record built on its first lookup.

    Every paragraph has been checked when the index is made, so a lookup
    cannot fail; building all 63,000 records of bookworm's main up front
    would cost more than the parse itself, and a suite index looks up only
    the few thousand packages its Contents names.
    """

    def __init__(self, raw: Dict[str, _Raw]) -> None:
        self._raw = raw
        self._records: Dict[str, PackageRecord] = {}

    def __getitem__(self, package: str) -> PackageRecord:
        record = self._records.get(package)
        if record is None:
            record = self._records[package] = PackageRecord.from_fields(self._raw[package])
        return record

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, package: object) -> bool:
        return package in self._raw


def read_packages(
    source: IndexInput, *, name: Optional[str] = None, limit: Optional[int] = None
) -> PackagesIndex:
    """Package name -> its record (the highest version when it appears more than once).

    ``source`` is a path or a binary file object; ``name`` is what error
    messages call it (default: the path, or the file object's ``name``).
    ``limit``: the most bytes it may inflate to (the Release lists the
    uncompressed size); default compression.MAX_PACKAGES_BYTES.
    """
    label = name if name is not None else _label(source)
    return parse_packages(_read(source, label, limit), label)


def parse_packages(data: bytes, label: str = "<Packages>") -> PackagesIndex:
    """Like read_packages, over the uncompressed bytes of an index."""
    if not data.endswith(b"\n"):
        data += b"\n"
    raw: Dict[str, _Raw] = {}
    match_paragraph = _PARAGRAPH.match
    pos = _BLANK_LINES.match(data).end()
    size = len(data)
    while pos < size:
        match = match_paragraph(data, pos)
        if match is None:
            raise PackagesError(f"{label}:{_line(data, pos)}: {_diagnose(data, pos)}")
        fields = match.groups()
        package = fields[0].decode("ascii")
        known = raw.get(package)
        if known is None or _newer(fields[1], known[1]):
            raw[package] = fields
        pos = match.end()
    return PackagesIndex(raw)


@dataclass(frozen=True)
class PoolFile:
    """Where a binary package's .deb lies in the archive, and how to check it."""

    package: str
    version: str
    filename: str  # relative to the mirror's base: pool/main/d/dh-python/dh-python_6.2_all.deb
    size: int
    sha256: str


def find_pool_file(
    source: IndexInput, package: str, *, name: Optional[str] = None, limit: Optional[int] = None
) -> Optional[PoolFile]:
    """The .deb of ``package``'s highest version in a Packages index, or None when it is absent.

    Off the hot path (only when Contents cannot be had), so the one paragraph
    is read with python-debian's deb822 rather than the fast parser above.
    """
    label = name if name is not None else _label(source)
    data = _read(source, label, limit)
    best: Optional[PoolFile] = None
    start = re.compile(rb"(?:\A|\n)Package:[ \t]*" + re.escape(package.encode("ascii")) + rb"[ \t]*\n")
    for match in start.finditer(data):
        begin = match.start() + (1 if data[match.start() : match.start() + 1] == b"\n" else 0)
        end = data.find(b"\n\n", begin)
        fields = Deb822(data[begin : end if end >= 0 else len(data)])
        try:
            found = PoolFile(
                package=package,
                version=fields["Version"],
                filename=fields["Filename"],
                size=int(fields["Size"]),
                sha256=fields["SHA256"].lower(),
            )
        except (KeyError, ValueError):
            raise PackagesError(f"{label}:{_line(data, begin)}: {package}: no Filename, Size or SHA256") from None
        if best is None or NativeVersion(found.version) > NativeVersion(best.version):
            best = found
    return best


def target_python(records: Mapping[str, PackageRecord]) -> TargetPython:
    """The suite's Python, from its ``python3`` package: ``3.11.2-1+b1`` -> 3.11.2 and 3.11."""
    record = records.get(PYTHON3)
    if record is None:
        raise PackagesError("no python3 package in the index: cannot tell the target's Python")
    upstream = record.version.split(":", 1)[-1].rsplit("-", 1)[0]
    # 3.12.0~rc1 sorts before 3.12.0 in Debian and is spelled 3.12.0rc1 by Python.
    full = upstream.replace("~", "")
    match = re.match(r"(\d+)\.(\d+)", full)
    if match is None:
        raise PackagesError(f"python3 {record.version}: not a Python version")
    return TargetPython(debian_version=record.version, full_version=full, version=match.group(0))


def _newer(version: bytes, than: bytes) -> bool:
    return NativeVersion(version.decode("ascii")) > NativeVersion(than.decode("ascii"))


def _line(data: bytes, pos: int) -> int:
    """The 1-based line at ``pos``: counted only on the error path, where speed does not matter."""
    return data.count(b"\n", 0, pos) + 1


def _diagnose(data: bytes, pos: int) -> str:
    """Why the paragraph at ``pos`` did not match: an error path, so plain and slow."""
    end = data.find(b"\n\n", pos)
    paragraph = data[pos : end if end >= 0 else len(data)].rstrip(b"\n")
    fields: Dict[bytes, bytes] = {}
    name = b""
    for line in paragraph.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if name in fields:
                fields[name] += b"\n" + line
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            return f"line {_text(line)!r} is not 'Field: value'"
        fields.setdefault(name, value.strip(b" \t"))
    for name, grammar, mandatory in _FIELDS:
        if name not in fields:
            if mandatory:
                return f"paragraph with no {name.decode()} field"
        elif not grammar.fullmatch(fields[name].rstrip(b" \t")):
            return f"bad {name.decode()} field {_text(fields[name])!r}"
    return "malformed paragraph"


def _text(value: bytes) -> str:
    return value[:80].decode("utf-8", "replace")


def _read(source: IndexInput, label: str, limit: Optional[int]) -> bytes:
    limit = compression.MAX_PACKAGES_BYTES if limit is None else limit
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as stream:
                raw = stream.read()
        else:
            raw = source.read()
    except OSError as error:
        raise PackagesError(f"{label}: cannot read: {error}") from error
    if not raw.startswith((compression.XZ_MAGIC, compression.GZIP_MAGIC)):
        if len(raw) > limit:
            raise PackagesError(f"{label}: too large: more than {limit} bytes")
        return raw
    # Fed in slices, liblzma runs about a fifth faster than lzma.decompress()
    # on the whole file, which keeps regrowing one output buffer.
    try:
        return b"".join(
            compression.blocks(compression.bytes_reader(raw), limit=limit, read_size=_READ_SIZE, block=4 * _READ_SIZE)
        )
    except compression.TooLarge:
        raise PackagesError(f"{label}: too large: it inflates to more than {limit} bytes") from None
    except compression.Corrupt as error:
        raise PackagesError(f"{label}: {error}") from error


def _label(source: IndexInput) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", "<stream>"))
