"""Read this machine's apt sources: which archives, suites and keys apt uses.

Files are read the way apt reads them: ``ETC/sources.list`` first, then the
files of ``ETC/sources.list.d/`` in byte order of their names, taking only
names made of ``[A-Za-z0-9_.-]`` that end in ``.list`` (one-line format) or
``.sources`` (deb822 format). Anything else there (``*.disabled``, ``*.save``,
``*~``, ``*.dpkg-old``, ``README``) is ignored, as apt ignores it.

One-line format (``.list``), one entry per line::

    line     := ws* [entry] ws* ["#" comment]        ; "#" starts a comment anywhere
    entry    := type ws+ ["[" options "]" ws+] uri ws+ suite (ws+ component)*
    type     := "deb" | "deb-src"
    options  := ws* (option ws*)*
    option   := key ("=" | "+=" | "-=") value ("," value)*
    word     := run of non-space characters; "[...]" and "\"...\"" inside a
                word may hold spaces (``cdrom:[Debian 12 DVD]/``); quotes are dropped

deb822 format (``.sources``): stanzas separated by blank lines::

    stanza        := (field | "#" comment)+
    field         := Name ":" [value] NL (continuation NL)*
    continuation  := (" " | "\t") text      ; " ." stands for an empty line

Known fields (names are case-insensitive; others are accepted and ignored):
``Types``, ``URIs``, ``Suites``, ``Components`` (whitespace-separated lists;
one entry per type x URI x suite), ``Architectures``,
``Architectures-Add``, ``Architectures-Remove``, ``Signed-By`` (keyring
paths and/or fingerprints, or an inline ASCII-armored key block),
``Trusted`` and ``Enabled`` (apt's booleans).

A suite ending in ``/`` is an exact path (a "flat" repository) and takes no
components; any other suite needs at least one.

Errors: every malformed line or stanza in every file is collected and raised
together as one ``AptSourcesError`` naming ``file:line``. These files are the
machine's configuration, not something the user typed on the command line, so
the error is an ``EnvironmentFailure`` (exit 3); a CLI option that lets the
user point at another directory may re-raise it as an input error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from debvenv.errors import EnvironmentFailure, Problem
from debvenv.sources.credentials import mask_text

DEFAULT_ETC_DIR = Path("/etc/apt")

TYPES = ("deb", "deb-src")

# apt's StringToBool.
_TRUE = frozenset({"yes", "true", "with", "on", "enable", "1"})
_FALSE = frozenset({"no", "false", "without", "off", "disable", "0"})

_PART_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.(list|sources)$")
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_FIELD = re.compile(r"^([^\s:#][^\s:]*):(.*)$")
_INLINE_KEY_MARK = "-----BEGIN PGP PUBLIC KEY BLOCK-----"

# Codenames and aliases, to tell which distribution a suite belongs to when
# the sources name only one of its siblings (bookworm listed, trixie asked).
DEBIAN_SUITES = frozenset(
    {
        "buzz", "rex", "bo", "hamm", "slink", "potato", "woody", "sarge", "etch",
        "lenny", "squeeze", "wheezy", "jessie", "stretch", "buster", "bullseye",
        "bookworm", "trixie", "forky", "duke", "sid",
        "oldoldstable", "oldstable", "stable", "testing", "unstable",
        "experimental", "rc-buggy",
    }
)  # fmt: skip
UBUNTU_SUITES = frozenset(
    {
        "warty", "hoary", "breezy", "dapper", "edgy", "feisty", "gutsy", "hardy",
        "intrepid", "jaunty", "karmic", "lucid", "maverick", "natty", "oneiric",
        "precise", "quantal", "raring", "saucy", "trusty", "utopic", "vivid",
        "wily", "xenial", "yakkety", "zesty", "artful", "bionic", "cosmic",
        "disco", "eoan", "focal", "groovy", "hirsute", "impish", "jammy",
        "kinetic", "lunar", "mantic", "noble", "oracular", "plucky", "questing",
        "devel",
    }
)  # fmt: skip
DEBIAN = "debian"
UBUNTU = "ubuntu"


class AptSourcesError(EnvironmentFailure):
    """One or more malformed apt source files, each problem located at file:line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: Tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class SourceOrigin:
    """Where an entry was written: the file and the line (a deb822 stanza's first line)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class SourceEntry:
    """One (type, URI, suite) that apt fetches, with the options that apply to it."""

    type: str  # "deb" | "deb-src"
    uri: str
    suite: str  # codename/alias, or an exact path ending in "/" for a flat repository
    components: Tuple[str, ...]
    # Empty means apt's default (the machine's architectures); see _apply_arch_options.
    architectures: Tuple[str, ...]
    # Comma-separated keyring paths and/or fingerprints, or an inline armored key block.
    signed_by: Optional[str]
    trusted: bool
    origin: SourceOrigin
    # [check-valid-until=no] / Check-Valid-Until: no; None when the entry does not say.
    check_valid_until: Optional[bool] = None

    @property
    def is_flat(self) -> bool:
        return self.suite.endswith("/")

    @property
    def inline_key(self) -> Optional[str]:
        """The ASCII-armored key block when Signed-By embeds one, else None."""
        if self.signed_by is not None and _INLINE_KEY_MARK in self.signed_by:
            return self.signed_by
        return None


@dataclass(frozen=True)
class SigningKeys:
    """What apt would verify an entry's Release with.

    ``keyrings`` are files (binary or armored); ``inline_keys`` are armored
    key blocks from a deb822 Signed-By; ``fingerprints``, when given,
    restrict which of those keys may sign (a trailing ``!`` pins a subkey).
    """

    keyrings: Tuple[Path, ...]
    inline_keys: Tuple[str, ...] = ()
    fingerprints: Tuple[str, ...] = ()


# ---------------------------------------------------------------- reading files


def read_sources(etc_dir: Path = DEFAULT_ETC_DIR) -> Tuple[SourceEntry, ...]:
    """Every enabled entry of ``etc_dir``'s sources, in apt's order.

    Raises AptSourcesError listing every malformed line of every file.
    """
    entries: List[SourceEntry] = []
    problems: List[Problem] = []
    for path in source_files(etc_dir):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), None, f"cannot read apt sources: {exc}"))
            continue
        if path.suffix == ".sources":
            found, bad = parse_deb822_sources(text, str(path))
        else:
            found, bad = parse_one_line_sources(text, str(path))
        entries.extend(found)
        problems.extend(bad)
    if problems:
        raise AptSourcesError(problems)
    return tuple(entries)


def source_files(etc_dir: Path = DEFAULT_ETC_DIR) -> Tuple[Path, ...]:
    """The files apt reads under ``etc_dir``, in the order it reads them."""
    files: List[Path] = []
    main = etc_dir / "sources.list"
    if main.is_file():
        files.append(main)
    parts = etc_dir / "sources.list.d"
    if parts.is_dir():
        # apt sorts the names as plain strings; sorted() on str is the same byte order for ASCII.
        for name in sorted(p.name for p in parts.iterdir()):
            path = parts / name
            if _PART_NAME.match(name) and path.is_file():
                files.append(path)
    return tuple(files)


# ---------------------------------------------------------------- one-line format


def parse_one_line_sources(
    text: str, filename: str
) -> Tuple[Tuple[SourceEntry, ...], Tuple[Problem, ...]]:
    """Entries and problems of a one-line (``.list``) file."""
    entries: List[SourceEntry] = []
    problems: List[Problem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            entries.append(_parse_one_line(line, SourceOrigin(filename, number)))
        except _LineError as exc:
            problems.append(Problem(filename, number, str(exc)))
    return tuple(entries), tuple(problems)


class _LineError(Exception):
    def __init__(self, message: str, field: Optional[str] = None) -> None:
        # A message may quote the line, and its URI may carry a login: never show the password.
        super().__init__(mask_text(message))
        self.field = field  # deb822: the field at fault, to point at its line


_OPTION = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)(\+=|-=|=)(.+)$")


def _parse_one_line(line: str, origin: SourceOrigin) -> SourceEntry:
    type_, rest = (line.split(None, 1) + [""])[:2]
    if type_ not in TYPES:
        raise _LineError(f"unknown source type {type_!r} (expected deb or deb-src)")
    rest = rest.strip()
    architectures: Tuple[str, ...] = ()
    signed_by: Optional[str] = None
    trusted = False
    check_valid_until: Optional[bool] = None
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise _LineError("options '[' without closing ']'")
        for word in rest[1:end].split():
            match = _OPTION.match(word)
            if match is None:
                raise _LineError(f"malformed option {word!r} (expected key=value)")
            key, op, value = match.group(1).lower(), match.group(2), match.group(3)
            if key == "arch":
                architectures = _apply_arch_options(architectures, op, _comma_list(value))
            elif key in ("signed-by", "trusted", "check-valid-until") and op != "=":
                raise _LineError(f"option {key!r} does not take {op!r}")
            elif key == "signed-by":
                signed_by = ",".join(_comma_list(value)) or None
            elif key == "trusted":
                trusted = _parse_bool(key, value)
            elif key == "check-valid-until":
                check_valid_until = _parse_bool(key, value)
            # Other options (lang, target, pdiffs, by-hash, ...)
            # change how apt downloads, not what the entry is.
        rest = rest[end + 1 :].strip()
    words = _split_words(rest)
    if len(words) < 2:
        raise _LineError(f"expected '{type_} [options] URI SUITE [COMPONENT...]', got {line!r}")
    uri, suite, components = words[0], words[1], tuple(words[2:])
    _check_uri_suite(uri, suite, components)
    return SourceEntry(
        type=type_,
        uri=uri,
        suite=suite,
        components=components,
        architectures=architectures,
        signed_by=signed_by,
        trusted=trusted,
        origin=origin,
        check_valid_until=check_valid_until,
    )


def _split_words(text: str) -> List[str]:
    """apt's ParseQuoteWord: whitespace splits, except inside "..." or [...]; quotes dropped."""
    words: List[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        word: List[str] = []
        while i < n and not text[i].isspace():
            char = text[i]
            if char in "\"[":
                close = '"' if char == '"' else "]"
                end = text.find(close, i + 1)
                if end < 0:
                    raise _LineError(f"unterminated {char!r} in {text!r}")
                chunk = text[i : end + 1]
                word.append(chunk.strip('"') if char == '"' else chunk)
                i = end + 1
            else:
                word.append(char)
                i += 1
        words.append("".join(word))
    return words


# ---------------------------------------------------------------- deb822 format


def parse_deb822_sources(
    text: str, filename: str
) -> Tuple[Tuple[SourceEntry, ...], Tuple[Problem, ...]]:
    """Entries and problems of a deb822 (``.sources``) file."""
    entries: List[SourceEntry] = []
    problems: List[Problem] = []
    for stanza in _deb822_stanzas(text, filename):
        problems.extend(stanza.problems)
        if stanza.problems:
            continue
        try:
            origin = SourceOrigin(filename, stanza.start)
            entries.extend(_entries_from_stanza(stanza.fields, origin))
        except _LineError as exc:
            line = stanza.lines.get(exc.field or "", stanza.start)
            problems.append(Problem(filename, line, str(exc)))
    return tuple(entries), tuple(problems)


@dataclass
class _Stanza:
    start: int
    fields: Dict[str, str]  # lower-cased name -> unfolded value
    lines: Dict[str, int]  # lower-cased name -> line of its "Name:"
    problems: List[Problem]


def _deb822_stanzas(text: str, filename: str) -> List[_Stanza]:
    stanzas: List[_Stanza] = []
    stanza: Optional[_Stanza] = None
    current: Optional[str] = None  # the field that continuation lines extend
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            stanza, current = None, None
            continue
        if raw.startswith("#"):
            continue
        if stanza is None:
            stanza = _Stanza(start=number, fields={}, lines={}, problems=[])
            stanzas.append(stanza)
        if raw[0] in " \t":
            if current is None:
                stanza.problems.append(
                    Problem(filename, number, "continuation line outside a field")
                )
                continue
            part = raw.strip()
            # deb822 writes an empty line inside a value (an armored key's) as " .".
            stanza.fields[current] += "\n" + ("" if part == "." else part)
            continue
        match = _FIELD.match(raw)
        current = None
        if match is None:
            message = f"expected 'Field: value', got {raw!r}"
            stanza.problems.append(Problem(filename, number, message))
            continue
        name = match.group(1).lower()
        if name in stanza.fields:
            message = f"field {match.group(1)!r} given twice"
            stanza.problems.append(Problem(filename, number, message))
            continue
        stanza.fields[name] = match.group(2).strip()
        stanza.lines[name] = number
        current = name
    return stanzas


def _entries_from_stanza(fields: Dict[str, str], origin: SourceOrigin) -> List[SourceEntry]:
    if "enabled" in fields and not _parse_bool("Enabled", fields["enabled"], "enabled"):
        return []
    for required in ("types", "uris", "suites"):
        if not fields.get(required, "").split():
            raise _LineError(f"stanza has no {_FIELD_NAMES[required]} field", required)
    types = fields["types"].split()
    for type_ in types:
        if type_ not in TYPES:
            raise _LineError(f"unknown source type {type_!r} (expected deb or deb-src)", "types")
    components = tuple(fields.get("components", "").split())

    architectures: Tuple[str, ...] = ()
    for name, op in _ARCH_FIELDS:
        if name in fields:
            architectures = _apply_arch_options(architectures, op, fields[name].split())
    signed_by = _deb822_signed_by(fields.get("signed-by"))
    trusted = _parse_bool("Trusted", fields["trusted"], "trusted") if "trusted" in fields else False
    check_valid_until = (
        _parse_bool("Check-Valid-Until", fields["check-valid-until"], "check-valid-until")
        if "check-valid-until" in fields
        else None
    )

    entries = []
    for type_ in types:
        for uri in fields["uris"].split():
            for suite in fields["suites"].split():
                _check_uri_suite(uri, suite, components)
                entries.append(
                    SourceEntry(
                        type=type_,
                        uri=uri,
                        suite=suite,
                        components=components,
                        architectures=architectures,
                        signed_by=signed_by,
                        trusted=trusted,
                        origin=origin,
                        check_valid_until=check_valid_until,
                    )
                )
    return entries


_FIELD_NAMES = {"types": "Types", "uris": "URIs", "suites": "Suites"}
_ARCH_FIELDS = (("architectures", "="), ("architectures-add", "+="), ("architectures-remove", "-="))


def _deb822_signed_by(value: Optional[str]) -> Optional[str]:
    if value is None or not value.strip():
        return None
    if _INLINE_KEY_MARK in value:
        if "-----END PGP PUBLIC KEY BLOCK-----" not in value:
            raise _LineError("inline Signed-By key block has no END line", "signed-by")
        return value.strip() + "\n"
    # Paths/fingerprints, whitespace- or comma-separated: keep one spelling, apt's commas.
    return ",".join(v for v in re.split(r"[\s,]+", value) if v)


# ---------------------------------------------------------------- shared checks


def _check_uri_suite(uri: str, suite: str, components: Tuple[str, ...]) -> None:
    if not _URI_SCHEME.match(uri):
        raise _LineError(f"URI {uri!r} has no scheme (expected http:, https:, file:, ...)", "uris")
    if suite.endswith("/"):
        if components:
            message = f"suite {suite!r} is an exact path and takes no components"
            raise _LineError(message, "components")
    elif not components:
        raise _LineError(f"suite {suite!r} needs at least one component", "suites")


def _apply_arch_options(
    current: Tuple[str, ...], op: str, values: Sequence[str]
) -> Tuple[str, ...]:
    """Fold ``arch=``/``arch+=``/``arch-=`` into one tuple.

    The machine's default architectures are not known here, so ``+=`` adds
    to the explicit list (the default is assumed to be covered by whoever
    reads an empty tuple as "default"), and ``-=`` only removes from an
    explicit list.
    """
    if op == "=":
        return tuple(dict.fromkeys(values))
    if op == "+=":
        return tuple(dict.fromkeys(current + tuple(values)))
    return tuple(a for a in current if a not in values)


def _comma_list(value: str) -> List[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _parse_bool(name: str, value: str, field: Optional[str] = None) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _LineError(f"{name}: {value!r} is not a boolean (yes/no)", field)


# ---------------------------------------------------------------- choosing an entry


# Pockets a Debian or Ubuntu archive publishes next to the release itself.
_POCKETS = (
    "", "-updates", "-security", "-backports", "-backports-sloppy",
    "-proposed-updates", "-proposed", "/updates",
)  # fmt: skip
_SUITE = re.compile(r"^([a-z-]+?)(%s)$" % "|".join(re.escape(p) for p in _POCKETS if p))


def suite_distribution(suite: str) -> Optional[str]:
    """``"debian"``, ``"ubuntu"`` or None for a suite name such as ``bookworm-backports``.

    A codename or alias followed by a known pocket; ``bookworm-pgdg`` (a
    third-party suite named after a release) is None.
    """
    for base in _suite_bases(suite):
        if base in DEBIAN_SUITES:
            return DEBIAN
        if base in UBUNTU_SUITES:
            return UBUNTU
    return None


def _suite_bases(suite: str) -> List[str]:
    bases = [suite]
    match = _SUITE.match(suite)
    if match is not None:
        bases.append(match.group(1))
    return bases


def distribution_of(entry: SourceEntry) -> Optional[str]:
    """Whether ``entry`` is a Debian or Ubuntu archive (``"debian"``, ``"ubuntu"``) or neither.

    An archive entry is fetchable (not ``cdrom:``), has a ``main``
    component (third-party repositories named after a release, such as
    ``.../linux/debian bookworm stable``, do not) and a suite of a known
    release, or else a URI path of ``/debian``, ``/debian-security`` or
    ``/ubuntu``.
    """
    if entry.is_flat or "main" not in entry.components or entry.uri.startswith("cdrom:"):
        return None
    family = suite_distribution(entry.suite)
    if family is not None:
        return family
    last = entry.uri.rstrip("/").rsplit("/", 1)[-1]
    if last in ("debian", "debian-security", "debian-ports"):
        return DEBIAN
    if last in ("ubuntu", "ubuntu-ports"):
        return UBUNTU
    return None


def _is_security(suite: str) -> bool:
    # bookworm-security; buster and older used "buster/updates" on the security archive.
    return suite.endswith("-security") or suite.endswith("/updates")


def _is_security_archive(entry: SourceEntry) -> bool:
    return _is_security(entry.suite) or entry.uri.rstrip("/").endswith("-security")


def select_source(entries: Sequence[SourceEntry], suite: str) -> Optional[SourceEntry]:
    """The ``deb`` entry to fetch ``suite`` from, or None.

    First a ``deb`` entry listing exactly that suite (a Debian or Ubuntu
    archive entry before a third-party one). Otherwise the first archive
    entry (see ``distribution_of``) of the suite's distribution and of the
    same kind of archive: Debian publishes ``*-security`` suites on a
    separate archive (``debian-security``), so a security suite only falls
    back to an entry of the security archive, and any other suite only to an
    entry of the main archive. Ubuntu's main archive also carries
    ``*-security``, so there a security suite may fall back to a main
    entry. The entry keeps its own suite: callers take its URI, components
    and keys, and fetch the suite they asked for.
    """
    debs = [e for e in entries if e.type == "deb"]
    exact = [e for e in debs if e.suite == suite]
    if exact:
        archives = [e for e in exact if distribution_of(e) is not None]
        return (archives or exact)[0]
    family = suite_distribution(suite)
    if family is None:
        return None
    same_family = [e for e in debs if distribution_of(e) == family]
    security = _is_security(suite)
    for entry in same_family:
        if _is_security_archive(entry) == security:
            return entry
    if security and family == UBUNTU and same_family:
        return same_family[0]
    return None


def signing_keys(entry: SourceEntry, etc_dir: Path = DEFAULT_ETC_DIR) -> SigningKeys:
    """The keyrings apt would check ``entry``'s Release against.

    Signed-By with paths: those files. With an inline key: that key. With
    only fingerprints, or no Signed-By: ``trusted.gpg.d/*.gpg|*.asc`` and the
    legacy ``trusted.gpg``, restricted to the fingerprints if any.
    """
    inline = entry.inline_key
    if inline is not None:
        return SigningKeys(keyrings=(), inline_keys=(inline,))
    paths: List[Path] = []
    fingerprints: List[str] = []
    for item in _comma_list(entry.signed_by or ""):
        if item.startswith("/"):
            paths.append(Path(item))
        else:
            fingerprints.append(item)
    if not paths:
        paths = list(default_keyrings(etc_dir))
    return SigningKeys(keyrings=tuple(paths), fingerprints=tuple(fingerprints))


def default_keyrings(etc_dir: Path = DEFAULT_ETC_DIR) -> Tuple[Path, ...]:
    """apt's trusted keyrings when a source names none: trusted.gpg.d/*.{gpg,asc}, trusted.gpg."""
    found: List[Path] = []
    parts = etc_dir / "trusted.gpg.d"
    if parts.is_dir():
        for name in sorted(p.name for p in parts.iterdir()):
            if re.match(r"^[A-Za-z0-9_.-]+\.(gpg|asc)$", name) and (parts / name).is_file():
                found.append(parts / name)
    legacy = etc_dir / "trusted.gpg"
    if legacy.is_file():
        found.append(legacy)
    return tuple(found)
