"""What the lock file readers share: recognising a lock, locating its tables, making pins.

A lock file is recognised by its name (the formats' own rules)::

    pylock.toml, pylock.NAME.toml     PEP 751        debvenv.pylock
    uv.lock                           uv             debvenv.uvlock
    poetry.lock                       Poetry         debvenv.poetrylock
    Pipfile.lock                      Pipenv         debvenv.pipfilelock

and, where the name says nothing certain (another ``*.lock``, a ``*.toml``
that is not ``pyproject.toml``, a ``*.json``), by its content: a TOML
document with a top-level ``lock-version`` and ``packages`` is a pylock, one
with an integer ``version`` and ``[[package]]`` tables holding ``source`` is
a uv.lock, one with ``[metadata]`` holding ``lock-version`` or
``content-hash`` is a poetry.lock, a JSON object with ``_meta`` and
``default`` is a Pipfile.lock. Anything else keeps the reading its name
gives (pyproject.toml for ``*.toml``, pip's format for the rest).

Each locked package becomes one ``Requirement``: ``name==version`` (or
``name @ URL`` for a VCS, URL or path entry), its marker, its hashes, and
its origin: the lock file and the line of the package's table header
(``[[package]]`` / ``[[packages]]``), or for a Pipfile.lock the line of the
package's key. A lock's problems are located the same way, ``file:line:
[[package]] 'name': what``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.version import InvalidVersion, Version

from debvenv.errors import Problem, ProblemsError
from debvenv.names import normalize

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

PYLOCK = "pylock"
UV = "uv.lock"
POETRY = "poetry.lock"
PIPFILE = "Pipfile.lock"
FORMATS = (PYLOCK, UV, POETRY, PIPFILE)

EXACT = "exact"
COMPATIBLE = "compatible"
LOCK_POLICIES = (EXACT, COMPATIBLE)

_PYLOCK_NAME_RE = re.compile(r"^pylock\.([^.]+\.)?toml$")
# Strong hash algorithms pip accepts for --hash; a lock may record others (md5, blake2b).
STRONG_HASHES = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
_NAME_RE = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
# Where a requirement's marker is built from a lock's own, nested parentheses beyond this are hostile.
MAX_MARKER_DEPTH = 100
_SHOWN = 80


class LockFileError(ProblemsError):
    """A lock file is malformed; carries every problem found (exit 2)."""


def format_by_name(path: str) -> Optional[str]:
    """The lock format a file's name alone says, or None."""
    name = Path(path).name
    if _PYLOCK_NAME_RE.match(name):
        return PYLOCK
    return {UV: UV, POETRY: POETRY, PIPFILE: PIPFILE}.get(name)


def name_is_ambiguous(path: str) -> bool:
    """Whether a file's content must decide if it is a lock (a ``*.lock``, a non-pyproject ``*.toml``, ``*.json``)."""
    name = Path(path).name
    return name.endswith((".lock", ".json")) or (name.endswith(".toml") and name != "pyproject.toml")


def format_by_content(text: str) -> Optional[str]:
    """The lock format a document's content says (module docstring), or None."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None
        return PIPFILE if isinstance(data, dict) and "_meta" in data and "default" in data else None
    if tomllib is None:
        return None
    try:
        data = tomllib.loads(text)
    except (ValueError, RecursionError):
        return None
    if "lock-version" in data and isinstance(data.get("packages"), list):
        return PYLOCK
    packages = data.get("package")
    if isinstance(data.get("version"), int) and isinstance(packages, list) and any(
        isinstance(p, dict) and "source" in p for p in packages
    ):
        return UV
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and ("lock-version" in metadata or "content-hash" in metadata):
        return POETRY
    return None


@dataclass(frozen=True)
class LockSelection:
    """What to take from a lock: optional groups by name, and how to judge the pins."""

    extras: tuple[str, ...] = ()  # normalized
    groups: tuple[str, ...] = ()  # normalized
    policy: str = EXACT


@dataclass(frozen=True)
class LockContents:
    """What one lock file gives a run."""

    requirements: tuple[Any, ...]  # requirements.Requirement, in the lock's order
    notes: tuple[Problem, ...]
    hashed: bool  # some selected package carries hashes: pip must check them all


def shown(text: object) -> str:
    value = str(text)
    return repr(value) if len(value) <= _SHOWN else f"{value[:_SHOWN]!r}... ({len(value)} characters)"


class Collector:
    """The problems and notes of one lock file, each located at a line."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: List[Problem] = []
        self.notes: List[Problem] = []

    def problem(self, line: Optional[int], message: str) -> None:
        self.problems.append(Problem(self.display, line, message))

    def note(self, line: Optional[int], message: str) -> None:
        self.notes.append(Problem(self.display, line, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise LockFileError(self.problems)


def load_toml(display: str, text: str) -> Dict[str, Any]:
    """The TOML document, or LockFileError at the line tomllib names."""
    # Imported here: requirements imports the lock readers, and these helpers are its.
    from debvenv.requirements import _toml_error_location, _toml_limit

    if tomllib is None:
        from debvenv.errors import EnvironmentFailure

        raise EnvironmentFailure(f"{display}: reading a TOML lock file needs the tomli module on Python < 3.11")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line, reason = _toml_error_location(str(error), text)
    except (ValueError, RecursionError) as error:  # Python's int digit limit, tomllib's recursion
        line, reason = _toml_limit(error, text)
    raise LockFileError([Problem(display, line, f"invalid TOML: {reason}")])


def table_header_lines(text: str, key: str) -> List[int]:
    """The line numbers of the top-level ``[[key]]`` headers, in order.

    tomllib gives no positions, so the text is scanned: a header is a line
    whose first non-blank characters are ``[[key]]`` (spaces and quotes
    around the key allowed, a comment after), outside every string. Basic
    and literal strings, their multi-line forms and comments are skipped,
    so a ``[[package]]`` inside a description or a comment is not counted.
    """
    header = re.compile(r"\[\[\s*(?:%s|\"%s\"|'%s')\s*\]\]\s*(?:#.*)?$" % ((re.escape(key),) * 3))
    lines: List[int] = []
    in_multiline: Optional[str] = None  # '"""' or "'''" while inside one
    for number, line in enumerate(text.split("\n"), start=1):
        position = 0
        if in_multiline is None:
            stripped = line.lstrip(" \t")
            if stripped.startswith("[[") and header.match(stripped.rstrip("\r")):
                lines.append(number)
                continue
        length = len(line)
        while position < length:
            if in_multiline is not None:
                end = _multiline_end(line, position, in_multiline)
                if end < 0:
                    break
                position, in_multiline = end, None
                continue
            character = line[position]
            if character == "#":
                break
            if line.startswith('"""', position) or line.startswith("'''", position):
                in_multiline = line[position : position + 3]
                position += 3
                continue
            if character == '"':
                position = _basic_string_end(line, position + 1)
                continue
            if character == "'":
                end = line.find("'", position + 1)
                position = length if end < 0 else end + 1
                continue
            position += 1
    return lines


def _multiline_end(line: str, start: int, delimiter: str) -> int:
    """Just past the closing delimiter (and up to two quotes TOML lets it absorb), or -1."""
    position = start
    while True:
        found = line.find(delimiter, position)
        if found < 0:
            return -1
        if delimiter == '"""':
            backslashes = 0
            while found - 1 - backslashes >= start and line[found - 1 - backslashes] == "\\":
                backslashes += 1
            if backslashes % 2:
                position = found + 1
                continue
        end = found + 3
        while end < len(line) and line[end] == delimiter[0] and end - found < 5:
            end += 1
        return end


def _basic_string_end(line: str, position: int) -> int:
    while position < len(line):
        character = line[position]
        if character == "\\":
            position += 2
            continue
        if character == '"':
            return position + 1
        position += 1
    return len(line)


def package_lines(text: str, key: str, count: int) -> List[Optional[int]]:
    """The header line of each of ``count`` array-of-tables entries, None where they cannot be told.

    Where the headers found are not exactly one per entry (the array was
    written inline, ``package = [{...}]``), no line is claimed: a wrong
    line is worse than none.
    """
    lines = table_header_lines(text, key)
    if len(lines) != count:
        return [None] * count
    return list(lines)


def where(kind: str, name: object) -> str:
    """How a message names a lock's package: ``[[package]] 'requests'``."""
    return f"{kind} {shown(name)}" if isinstance(name, str) else f"{kind} (no name)"


def checked_name(value: object) -> Optional[str]:
    return value if isinstance(value, str) and _NAME_RE.match(value) else None


def strong_hash(algorithm: str, digest: object) -> Optional[str]:
    """``algo:hex`` for pip's --hash, or None for an algorithm pip does not take or a malformed digest."""
    length = STRONG_HASHES.get(algorithm.lower())
    if length is None or not isinstance(digest, str) or len(digest) != length or not _HEX_RE.match(digest):
        return None
    return f"{algorithm.lower()}:{digest.lower()}"


def hash_from_text(value: object) -> Optional[str]:
    """``sha256:hex`` as uv, Poetry and Pipenv write one, checked; None when malformed or weak."""
    if not isinstance(value, str):
        return None
    algorithm, colon, digest = value.partition(":")
    return strong_hash(algorithm, digest) if colon else None


def parse_marker(text: object) -> Marker:
    """A lock's marker string as packaging parses it; InvalidMarker (with a short reason) otherwise."""
    if not isinstance(text, str):
        raise InvalidMarker("a marker must be a string")
    if text.count("(") > MAX_MARKER_DEPTH:
        raise InvalidMarker(f"more than {MAX_MARKER_DEPTH} parentheses")
    try:
        return Marker(text)
    except InvalidMarker as error:
        raise InvalidMarker(str(error).splitlines()[0] if str(error) else "invalid marker") from None
    except (ValueError, RecursionError) as error:
        raise InvalidMarker(str(error) or type(error).__name__) from None


def and_markers(markers: Iterable[Optional[str]]) -> Optional[str]:
    """The conjunction of marker strings (None is "always"), each parenthesised where it needs it."""
    parts = list(dict.fromkeys(m for m in markers if m))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({part})" for part in parts)


def or_markers(markers: Iterable[Optional[str]]) -> Optional[str]:
    """The disjunction of marker strings; None ("always") when any of them is None."""
    parts: List[str] = []
    for marker in markers:
        if marker is None:
            return None
        if marker not in parts:
            parts.append(marker)
    if len(parts) == 1:
        return parts[0]
    return " or ".join(f"({part})" for part in parts)


def pin(
    *,
    name: str,
    version: Optional[str],
    url: Optional[str],
    marker: Optional[str],
    extras: Sequence[str] = (),
    hashes: Sequence[str] = (),
    editable: bool = False,
    origin: Any,
) -> Any:
    """One locked package as a Requirement: ``name[extras]==version ; marker`` or ``name @ url ; marker``.

    A version that is not PEP 440 is pinned with ``===`` (pip's arbitrary
    equality), as a lock written from a legacy release says it. Raises
    InvalidRequirement (or InvalidMarker) for what cannot be a requirement.
    """
    from debvenv.requirements import _pep508

    extras_text = f"[{','.join(sorted(set(extras)))}]" if extras else ""
    if url is not None:
        text = f"{name}{extras_text} @ {url}" + (f" ; {marker}" if marker else "")
    else:
        assert version is not None
        try:
            Version(version)
            operator = "=="
        except InvalidVersion:
            operator = "==="
        text = f"{name}{extras_text}{operator}{version}" + (f"; {marker}" if marker else "")
    requirement = _pep508(text, origin)
    return replace(requirement, hashes=tuple(dict.fromkeys(hashes)), editable=editable)


def file_url(base: Path, path: str) -> str:
    """A lock's relative path (from the lock's directory) as the file: URL pip takes."""
    return (base / path).resolve().as_uri() if not Path(path).is_absolute() else Path(path).as_uri()


def selection_problems(
    collector: Collector, what: str, asked: Sequence[str], available: Iterable[str], line: Optional[int]
) -> None:
    """An --extra or --group the lock does not define is an error, with what it does define."""
    known = {normalize(name): name for name in available}
    for name in asked:
        if name not in known:
            listed = ", ".join(sorted(known.values())) or "none"
            collector.problem(line, f"unknown {what} {name!r}; the lock defines: {listed}")


def is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def invalid(error: Exception) -> str:
    """packaging's message, first line only."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if len(text) <= 2 * _SHOWN else f"{text[: 2 * _SHOWN]}..."


# ---- PEP 751 markers -----------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""\s*(?:(?P<string>'[^']*'|"[^"]*")|(?P<op>===|==|!=|<=|>=|~=|<|>|\(|\))|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"""
)
_LOCK_VARIABLES = ("extras", "dependency_groups")


class LockMarkerError(Exception):
    """A marker the lock's grammar does not allow (becomes a located problem)."""

_Node = Union[bool, str, Tuple[str, list]]  # constant | atom text | ("and"|"or", children)


def lock_marker(
    text: object, extras: Sequence[str], groups: Sequence[str], *, extra_variable: bool = False
) -> Union[None, bool, str]:
    """A lock's marker with the selection decided: None (always), False (never), or what is left.

    PEP 751's ``'x' in extras`` and ``'x' in dependency_groups`` hold when
    x is selected; with ``extra_variable`` (Poetry writes an optional
    package's marker so), ``extra == 'x'`` holds when x is an extra
    selected. What names none of those is left for each target. Raises
    LockMarkerError or InvalidMarker for what is not a marker.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise LockMarkerError("a marker must be a string")
    tokens = _tokens(text)
    node, position = _or(tokens, 0, 0, set(extras), set(groups), extra_variable)
    if position != len(tokens):
        raise LockMarkerError(f"unexpected {tokens[position][1]!r}")
    if node is True:
        return None
    if node is False:
        return False
    rest = _render(node)
    parse_marker(rest)  # what is left must be a marker packaging can evaluate
    return rest


def _tokens(text: str) -> List[Tuple[str, str]]:
    tokens = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN_RE.match(text, position)
        if match is None or match.end() == position:
            raise LockMarkerError(f"unexpected character {text[position:].lstrip()[:1]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _or(tokens, position, depth, extras, groups, extra_variable) -> Tuple[_Node, int]:
    children = []
    node, position = _and(tokens, position, depth, extras, groups, extra_variable)
    children.append(node)
    while position < len(tokens) and tokens[position] == ("word", "or"):
        node, position = _and(tokens, position + 1, depth, extras, groups, extra_variable)
        children.append(node)
    if any(child is True for child in children):
        return True, position
    children = [child for child in children if child is not False]
    if not children:
        return False, position
    return (children[0] if len(children) == 1 else ("or", children)), position


def _and(tokens, position, depth, extras, groups, extra_variable) -> Tuple[_Node, int]:
    children = []
    node, position = _atom(tokens, position, depth, extras, groups, extra_variable)
    children.append(node)
    while position < len(tokens) and tokens[position] == ("word", "and"):
        node, position = _atom(tokens, position + 1, depth, extras, groups, extra_variable)
        children.append(node)
    if any(child is False for child in children):
        return False, position
    children = [child for child in children if child is not True]
    if not children:
        return True, position
    return (children[0] if len(children) == 1 else ("and", children)), position


def _atom(tokens, position, depth, extras, groups, extra_variable) -> Tuple[_Node, int]:
    if position >= len(tokens):
        raise LockMarkerError("the marker ends too early")
    if tokens[position] == ("op", "("):
        if depth >= MAX_MARKER_DEPTH:
            raise LockMarkerError(f"parentheses nested more than {MAX_MARKER_DEPTH} deep")
        node, position = _or(tokens, position + 1, depth + 1, extras, groups, extra_variable)
        if position >= len(tokens) or tokens[position] != ("op", ")"):
            raise LockMarkerError("a '(' is not closed")
        return node, position + 1
    left = tokens[position]
    position += 1
    if position < len(tokens) and tokens[position] == ("word", "not"):
        if position + 1 >= len(tokens) or tokens[position + 1] != ("word", "in"):
            raise LockMarkerError("'not' must be followed by 'in'")
        operator, position = "not in", position + 2
    elif position < len(tokens) and (tokens[position][0] == "op" and tokens[position][1] not in "()"
                                     or tokens[position] == ("word", "in")):
        operator, position = tokens[position][1], position + 1
    else:
        raise LockMarkerError(f"expected a comparison after {left[1]!r}")
    if position >= len(tokens) or tokens[position][0] not in ("string", "word"):
        raise LockMarkerError("the marker ends too early")
    right = tokens[position]
    position += 1
    for variable, value in ((right, left), (left, right)):
        if variable == ("word", variable[1]) and variable[1] in _LOCK_VARIABLES:
            if value[0] != "string" or operator not in ("in", "not in") or variable is left:
                raise LockMarkerError(f"{variable[1]} is only compared as 'NAME' in {variable[1]}")
            chosen = extras if variable[1] == "extras" else groups
            found = normalize(value[1][1:-1]) in chosen
            return (found if operator == "in" else not found), position
        if extra_variable and variable == ("word", "extra") and value[0] == "string" and operator in ("==", "!="):
            found = normalize(value[1][1:-1]) in extras
            return (found if operator == "==" else not found), position
    return f"{left[1]} {operator} {right[1]}", position


def _render(node: _Node) -> str:
    if isinstance(node, str):
        return node
    assert isinstance(node, tuple)
    kind, children = node
    parts = []
    for child in children:
        text = _render(child)
        parts.append(f"({text})" if isinstance(child, tuple) and child[0] == "or" and kind == "and" else text)
    return f" {kind} ".join(parts)
