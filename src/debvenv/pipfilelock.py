"""``Pipfile.lock`` (Pipenv's JSON lock file), read into pins.

The grammar read (pipfile-spec 6; other keys ignored)::

    { "_meta": { ... },
      "default": { NAME: ENTRY, ... },     always installed
      "develop": { NAME: ENTRY, ... },     with --group develop
      CATEGORY: { NAME: ENTRY, ... } }     Pipenv's other categories, with --group CATEGORY
    ENTRY = { "version": "==V", "hashes": ["sha256:..."], "markers": "MARKER",
              "extras": ["x"], "index": "pypi" }
          | { "git": URL, "ref": COMMIT, "subdirectory": D, "editable": true }
          | { "path": P, "editable": true } | { "file": URL-or-PATH }

Selected: ``default``, plus the categories named by ``--group``
(``pipenv install --deploy`` installs ``default`` alone). Pipenv resolves
extras into the lock, so ``--extra`` has nothing to choose (a note says
so). A package's origin is the line of its key in its section.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement

from debvenv.lockfile import (
    Collector,
    LockContents,
    LockFileError,
    LockSelection,
    checked_name,
    file_url,
    hash_from_text,
    invalid,
    is_string_list,
    parse_marker,
    pin,
    selection_problems,
    shown,
)
from debvenv.errors import Problem
from debvenv.names import normalize

DEFAULT = "default"
_META = "_meta"
_TOKEN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\]:]')
_VERSION_RE = re.compile(r"^\s*(===|==)\s*(\S+)\s*$")


class PipfileLockError(Exception):
    """A package entry of a Pipfile.lock that cannot be read (becomes a located problem)."""


def read_pipfile_lock(display: str, text: str, selection: LockSelection) -> LockContents:
    """The selected packages of a Pipfile.lock as pins; LockFileError with every problem otherwise."""
    from debvenv.requirements import Origin

    collector = Collector(display)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LockFileError([Problem(display, error.lineno, f"invalid JSON: {error.msg} (column {error.colno})")])
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise LockFileError([Problem(display, None, f"invalid JSON: {reason}")]) from None
    if not isinstance(data, dict):
        raise LockFileError([Problem(display, 1, "a Pipfile.lock is a JSON object")])
    sections = [key for key, value in data.items() if key != _META and isinstance(value, dict)]
    selection_problems(collector, "group", selection.groups, sections, None)
    if selection.extras:
        collector.note(None, "--extra ignored: Pipenv locks extras into the packages")
    collector.raise_if_any()
    lines = _key_lines(text)
    base = Path(display).parent
    requirements = []
    hashed = False
    chosen = [DEFAULT] + [s for s in sections if normalize(s) in selection.groups and s != DEFAULT]
    for section in chosen:
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            collector.problem(lines.get((section,)), f"{shown(section)} must be an object of packages")
            continue
        for key, entry in entries.items():
            line = lines.get((section, key))
            label = f"[{section}] {shown(key)}"
            name = checked_name(key)
            try:
                if name is None:
                    raise PipfileLockError("not a project name")
                if not isinstance(entry, dict):
                    raise PipfileLockError("must be an object")
                requirement = _requirement(name, entry, base, Origin(display, line or 1))
            except PipfileLockError as error:
                collector.problem(line, f"{label}: {error}")
                continue
            except (InvalidRequirement, InvalidMarker) as error:
                collector.problem(line, f"{label}: {invalid(error)}")
                continue
            if requirement.url is None and not requirement.hashes:
                collector.note(line, f"{label}: no sha256/sha384/sha512 hash recorded")
            hashed = hashed or bool(requirement.hashes)
            requirements.append(requirement)
    collector.raise_if_any()
    return LockContents(requirements=tuple(requirements), notes=tuple(collector.notes), hashed=hashed)


def _requirement(name: str, entry: Mapping[str, Any], base: Path, origin: Any) -> Any:
    marker = entry.get("markers")
    if marker is not None:
        parse_marker(marker)
    extras = entry.get("extras", [])
    if not is_string_list(extras):
        raise PipfileLockError("extras must be an array of strings")
    hashes = entry.get("hashes", [])
    if not is_string_list(hashes):
        raise PipfileLockError("hashes must be an array of strings")
    checked = []
    for value in hashes:
        digest = hash_from_text(value)
        if digest is None and value.split(":", 1)[0].lower() in ("sha256", "sha384", "sha512"):
            raise PipfileLockError(f"hash {shown(value)} is not a {value.split(':', 1)[0]} digest")
        if digest is not None:
            checked.append(digest)
    editable = entry.get("editable", False)
    if not isinstance(editable, bool):
        raise PipfileLockError("editable must be true or false")
    url = _url(entry, base)
    version = None
    if url is None:
        match = _VERSION_RE.match(entry["version"]) if isinstance(entry.get("version"), str) else None
        if match is None:
            raise PipfileLockError("version must be '==V' (or a git, path or file entry)")
        version = match.group(2)
    return pin(
        name=name, version=version, url=url, marker=marker, extras=[normalize(e) for e in extras],
        hashes=checked, editable=editable and url is not None, origin=origin,
    )


def _url(entry: Mapping[str, Any], base: Path) -> Optional[str]:
    for key in ("git", "hg", "svn", "bzr"):
        if key in entry:
            location = entry[key]
            if not isinstance(location, str) or not location or any(c.isspace() for c in location):
                raise PipfileLockError(f"{key} must be a URL")
            ref = entry.get("ref")
            if ref is not None and (not isinstance(ref, str) or not ref):
                raise PipfileLockError("ref must be a string")
            scheme = location if location.startswith(f"{key}+") else f"{key}+{location}"
            url = scheme + (f"@{ref}" if ref else "")
            subdirectory = entry.get("subdirectory")
            if subdirectory is not None:
                if not isinstance(subdirectory, str) or not re.fullmatch(r"[A-Za-z0-9._/-]+", subdirectory):
                    raise PipfileLockError(f"subdirectory {shown(subdirectory)} must be a relative path")
                url += f"#subdirectory={subdirectory}"
            return url
    for key in ("file", "path"):
        if key in entry:
            location = entry[key]
            if not isinstance(location, str) or not location or any(c.isspace() for c in location):
                raise PipfileLockError(f"{key} must be a URL or a path")
            if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", location) or location.startswith("file:"):
                return location
            return file_url(base, location)
    return None


def _key_lines(text: str) -> Dict[Tuple[str, ...], int]:
    """The line of each section key and of each package key in its section.

    json gives no positions, so the text is scanned: strings and the
    structural characters, with the stack of open objects and arrays.
    A key at depth 1 is a section, one at depth 2 a package (its line).
    """
    lines: Dict[Tuple[str, ...], int] = {}
    stack: List[str] = []
    section: Optional[str] = None
    previous: Optional[Tuple[str, int]] = None  # a string just seen: (its text, its offset)
    newline_count = 0
    last_offset = 0
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        if token == ":" and previous is not None and stack and stack[-1] == "{":
            try:
                key = json.loads(previous[0])
            except ValueError:
                key = None
            if isinstance(key, str):
                newline_count += text.count("\n", last_offset, previous[1])
                last_offset = previous[1]
                if len(stack) == 1:
                    section = key
                    lines[(key,)] = newline_count + 1
                elif len(stack) == 2 and section is not None:
                    lines.setdefault((section, key), newline_count + 1)
        previous = (token, match.start()) if token.startswith('"') else None
        if token in "{[":
            stack.append(token)
        elif token in "}]" and stack:
            stack.pop()
    return lines
