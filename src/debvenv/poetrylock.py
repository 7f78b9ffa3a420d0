"""``poetry.lock`` (Poetry's lock file), read into pins.

The grammar read (Poetry's lock format 1.1 to 2.1; other keys ignored)::

    [metadata] lock-version = "2.1"
    [[package]]
    name = "NAME"   version = "V"
    optional = false                  true: installed only for an extra that names it
    category = "main" | "dev"         lock-version < 2.1 (older Poetry)
    groups = ["main", ...]            lock-version 2.1
    markers = "MARKER" | { GROUP = "MARKER", ... }    lock-version 2.1
    files = [{ file = "NAME", hash = "sha256:..." }, ...]
    [package.source] type = "git" | "url" | "file" | "directory" | "legacy"
                     url, reference, resolved_reference, subdirectory
    [extras] EXTRA = ["NAME", "NAME (>=1)", ...]
    [metadata.files] NAME = [{ file, hash }, ...]     lock-version 1.x

Selected: the packages of group ``main`` and of the groups named by
``--group`` (``poetry install --only main`` plus those), leaving out
optional packages unless an ``--extra`` names them. Where the lock records
neither ``groups`` nor ``category`` (Poetry 1.5 to 1.8), every package is
taken. A package's marker is its ``markers`` (for a table, the markers of
its selected groups OR-ed); a lock older than 2.1 records none, and its
packages are judged on every target (a note says so). A ``legacy`` source
is an index: the package is pinned as any other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Set, Tuple, Union

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement

from debvenv.lockfile import (
    Collector,
    LockContents,
    LockSelection,
    checked_name,
    file_url,
    hash_from_text,
    invalid,
    is_string_list,
    LockMarkerError,
    load_toml,
    lock_marker,
    or_markers,
    package_lines,
    pin,
    selection_problems,
    shown,
    where,
)
from debvenv.names import normalize

_KIND = "[[package]]"
MAIN = "main"
_EXTRA_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class PoetryLockError(Exception):
    """A package table of a poetry.lock that cannot be read (becomes a located problem)."""


def read_poetry_lock(display: str, text: str, selection: LockSelection) -> LockContents:
    """The selected packages of a poetry.lock as pins; LockFileError with every problem otherwise."""
    from debvenv.requirements import Origin

    collector = Collector(display)
    data = load_toml(display, text)
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        collector.problem(None, "[metadata] must be a table")
        metadata = {}
    lock_version = metadata.get("lock-version", "1.0")
    if not isinstance(lock_version, str) or not re.fullmatch(r"[0-9]+(\.[0-9]+)*", lock_version):
        collector.problem(None, "[metadata] lock-version must be a version string such as '2.1'")
        lock_version = "1.0"
    packages = data.get("package", [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        collector.problem(1, "package must be an array of tables ([[package]])")
        collector.raise_if_any()
    collector.raise_if_any()
    lines = package_lines(text, "package", len(packages))
    extras = data.get("extras", {})
    if not isinstance(extras, dict) or not all(is_string_list(v) for v in extras.values()):
        collector.problem(None, "[extras] must map each extra to an array of package names")
        extras = {}
    extras_by_name = {normalize(k): v for k, v in extras.items()}
    selection_problems(collector, "extra", selection.extras, extras, None)
    wanted_optional: Set[str] = set()
    for extra in selection.extras:
        for entry in extras_by_name.get(extra, []):
            match = _EXTRA_NAME_RE.match(entry)
            if match:
                wanted_optional.add(normalize(match.group(1)))
    groups = {MAIN, *selection.groups}
    known_groups: Set[str] = set()
    grouped = False
    for package in packages:
        found = package.get("groups")
        if is_string_list(found):
            known_groups.update(normalize(g) for g in found)
            grouped = True
        elif isinstance(package.get("category"), str):
            known_groups.add(normalize(package["category"]))
            grouped = True
    if grouped:
        selection_problems(collector, "group", selection.groups, known_groups, None)
    else:
        collector.note(None, "no groups or categories recorded (Poetry 1.5 to 1.8): every package is taken")
    collector.raise_if_any()
    old_files = metadata.get("files", {})
    old_files = old_files if isinstance(old_files, dict) else {}
    markers_recorded = tuple(int(part) for part in lock_version.split(".")[:2]) >= (2, 1)
    if not markers_recorded:
        collector.note(
            None, f"lock-version {lock_version} records no markers per package: every package is judged "
            "on every target",
        )  # fmt: skip
    base = Path(display).parent
    requirements = []
    hashed = False
    for package, line in zip(packages, lines):
        label = where(_KIND, package.get("name"))
        name = checked_name(package.get("name"))
        if name is None:
            collector.problem(line, f"{label}: name must be a project name")
            continue
        try:
            chosen = _selected_groups(package, groups, grouped)
            optional = package.get("optional", False)
            if not isinstance(optional, bool):
                raise PoetryLockError("optional must be true or false")
            if chosen is None or (optional and normalize(name) not in wanted_optional):
                continue
            marker = _marker(package, chosen, selection.extras) if markers_recorded else None
            if marker is False:
                continue
            url, editable = _source(package, base)
            hashes = _hashes(package.get("files", old_files.get(name, old_files.get(normalize(name), []))))
            version = package.get("version")
            if url is None and not isinstance(version, str):
                raise PoetryLockError("version must be a string")
            requirement = pin(
                name=name, version=version if url is None else None, url=url, marker=marker,
                hashes=hashes if url is None or url.startswith(("http", "file")) and not editable else (),
                editable=editable, origin=Origin(display, line or 1),
            )
        except PoetryLockError as error:
            collector.problem(line, f"{label}: {error}")
            continue
        except (InvalidRequirement, InvalidMarker) as error:
            collector.problem(line, f"{label}: {invalid(error)}")
            continue
        if url is None and not requirement.hashes:
            collector.note(line, f"{label}: no sha256/sha384/sha512 hash recorded")
        hashed = hashed or bool(requirement.hashes)
        requirements.append(requirement)
    collector.raise_if_any()
    return LockContents(requirements=tuple(requirements), notes=tuple(collector.notes), hashed=hashed)


def _selected_groups(package: Mapping[str, Any], groups: Set[str], grouped: bool) -> Optional[Tuple[str, ...]]:
    """The package's groups among the selected ones; None when it is in none of them."""
    if not grouped:
        return (MAIN,)
    found = package.get("groups")
    if found is None:
        category = package.get("category", MAIN)
        if not isinstance(category, str):
            raise PoetryLockError("category must be a string")
        found = [category]
    if not is_string_list(found):
        raise PoetryLockError("groups must be an array of strings")
    chosen = tuple(normalize(g) for g in found if normalize(g) in groups)
    return chosen or None


def _marker(package: Mapping[str, Any], groups: Sequence[str], extras: Sequence[str]) -> Union[None, bool, str]:
    """The package's marker for the selected groups and extras: None (always), False (never) or a marker."""
    markers = package.get("markers")
    if markers is None:
        return None
    if isinstance(markers, str):
        markers = {group: markers for group in groups}
    if not isinstance(markers, dict) or not all(isinstance(v, str) for v in markers.values()):
        raise PoetryLockError("markers must be a string or a table of strings by group")
    by_group = {normalize(k): v for k, v in markers.items()}
    chosen: List[Optional[str]] = []
    for group in groups:
        if group not in by_group:
            return None  # a group without a marker: always
        try:
            decided = lock_marker(by_group[group], extras, (), extra_variable=True)
        except LockMarkerError as error:
            raise PoetryLockError(f"invalid marker {shown(by_group[group])}: {error}") from None
        if decided is None:
            return None
        if decided is not False:
            chosen.append(decided)
    return or_markers(chosen) if chosen else False


def _source(package: Mapping[str, Any], base: Path) -> Tuple[Optional[str], bool]:
    source = package.get("source")
    if source is None:
        return None, False
    if not isinstance(source, dict):
        raise PoetryLockError("[package.source] must be a table")
    kind, url = source.get("type"), source.get("url")
    if kind in (None, "legacy", "pypi"):
        return None, False
    if not isinstance(url, str) or not url or any(character.isspace() for character in url):
        raise PoetryLockError(f"[package.source] url must be a URL or path (type {shown(kind)})")
    subdirectory = source.get("subdirectory")
    if subdirectory is not None and (not isinstance(subdirectory, str) or not re.fullmatch(r"[A-Za-z0-9._/-]+", subdirectory)):
        raise PoetryLockError(f"[package.source] subdirectory {shown(subdirectory)} must be a relative path")
    suffix = f"#subdirectory={subdirectory}" if subdirectory else ""
    if kind == "git":
        commit = source.get("resolved_reference") or source.get("reference")
        if not isinstance(commit, str) or not commit:
            raise PoetryLockError("[package.source] of type git needs resolved_reference")
        scheme = url if url.startswith("git+") else f"git+{url}"
        return f"{scheme}@{commit}{suffix}", False
    if kind == "url":
        return url + suffix, False
    if kind in ("file", "directory"):
        location = url if url.startswith("file:") else file_url(base, url)
        develop = package.get("develop", False)
        if not isinstance(develop, bool):
            raise PoetryLockError("develop must be true or false")
        return location + suffix, kind == "directory" and develop
    raise PoetryLockError(f"[package.source] type {shown(kind)} is not one Poetry writes")


def _hashes(files: object) -> Tuple[str, ...]:
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise PoetryLockError("files must be an array of tables ({file = ..., hash = ...})")
    hashes: List[str] = []
    for entry in files:
        value = entry.get("hash")
        checked = hash_from_text(value)
        if checked is None and isinstance(value, str) and value.split(":", 1)[0].lower() in ("sha256", "sha384", "sha512"):
            raise PoetryLockError(f"hash {shown(value)} is not a {value.split(':', 1)[0]} digest")
        if checked is not None:
            hashes.append(checked)
    return tuple(dict.fromkeys(hashes))
