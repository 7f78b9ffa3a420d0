"""``uv.lock`` (uv's universal lock file), read into pins.

The grammar read (uv's documented lock format; other keys ignored)::

    version = 1                       required; another major version is refused
    [manifest] members = ["NAME"...]  the workspace's members (absent: one project)
    [[package]]
    name = "NAME"   version = "V"
    source = { registry = URL } | { git = "URL?rev=..#COMMIT" } | { url = URL }
           | { path = P } | { directory = P } | { editable = P } | { virtual = P }
    resolution-markers = ["MARKER", ...]          the forks this version is for
    dependencies = [{ name, version?, source?, marker?, extra? = [..] }, ...]
    [package.optional-dependencies] EXTRA = [dependency, ...]
    [package.dev-dependencies] GROUP = [dependency, ...]
    sdist = { url | path, hash = "sha256:..." }   wheels = [{ url | path, hash }, ...]

A uv.lock records the dependency graph, not a marker per package, so the
marker of a package is worked out as ``uv export`` does: from the
projects (the workspace members, else the packages whose source is the
lock's own directory), along every dependency edge, AND-ing the edges'
markers along a path and OR-ing the paths, AND-ed with the package's own
``resolution-markers``. The projects themselves are the application, not
requirements. Selected: the projects' dependencies, the extras named by
``--extra`` and the dependency groups named by ``--group`` (none by
default: ``uv sync`` adds ``dev``, a deployment does not).
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement

from debvenv.lockfile import (
    Collector,
    LockContents,
    LockSelection,
    and_markers,
    checked_name,
    file_url,
    hash_from_text,
    invalid,
    is_string_list,
    load_toml,
    or_markers,
    package_lines,
    parse_marker,
    pin,
    selection_problems,
    shown,
    where,
)
from debvenv.names import normalize

_KIND = "[[package]]"
# Conditions are kept as a set of AND-ed marker sets; beyond this many, the package is judged everywhere.
MAX_CONDITION_TERMS = 64
_Term = FrozenSet[str]


class UvLockError(Exception):
    """A package table of a uv.lock that cannot be read (becomes a located problem)."""


def read_uv_lock(display: str, text: str, selection: LockSelection) -> LockContents:
    """The selected packages of a uv.lock as pins; LockFileError with every problem otherwise."""
    from debvenv.requirements import Origin

    collector = Collector(display)
    data = load_toml(display, text)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        collector.problem(1, "version must be an integer (a uv.lock starts with 'version = 1')")
    elif version != 1:
        collector.problem(1, f"version {version} is not a uv.lock version this reader knows (1)")
    packages = data.get("package", [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        collector.problem(1, "package must be an array of tables ([[package]])")
    collector.raise_if_any()
    lines = package_lines(text, "package", len(packages))
    by_name: Dict[str, List[int]] = {}
    for index, package in enumerate(packages):
        name = checked_name(package.get("name"))
        if name is None:
            collector.problem(lines[index], f"{where(_KIND, package.get('name'))}: name must be a project name")
            continue
        by_name.setdefault(normalize(name), []).append(index)
    collector.raise_if_any()
    roots = _roots(data, packages, collector)
    base = Path(display).parent
    extras_known = {e for r in roots for e in _table(packages[r], "optional-dependencies")}
    groups_known = {g for r in roots for g in _table(packages[r], "dev-dependencies")}
    selection_problems(collector, "extra", selection.extras, extras_known, 1)
    selection_problems(collector, "dependency group", selection.groups, groups_known, 1)
    collector.raise_if_any()
    conditions = _walk(packages, by_name, roots, selection, lines, collector)
    requirements = []
    hashed = False
    for index, package in enumerate(packages):
        if index in roots or index not in conditions:
            continue
        line = lines[index]
        label = where(_KIND, package.get("name"))
        try:
            requirement = _requirement(package, conditions[index], base, Origin(display, line or 1))
        except UvLockError as error:
            collector.problem(line, f"{label}: {error}")
            continue
        except (InvalidRequirement, InvalidMarker) as error:
            collector.problem(line, f"{label}: {invalid(error)}")
            continue
        if requirement is None:
            collector.note(line, f"{label}: a virtual package (nothing to install) is left out")
            continue
        if requirement.url is None and not requirement.hashes:
            collector.note(line, f"{label}: no sha256/sha384/sha512 hash recorded")
        hashed = hashed or bool(requirement.hashes)
        requirements.append(requirement)
    collector.raise_if_any()
    return LockContents(requirements=tuple(requirements), notes=tuple(collector.notes), hashed=hashed)


def _table(package: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = package.get(key, {})
    return value if isinstance(value, dict) else {}


def _source(package: Mapping[str, Any]) -> Mapping[str, Any]:
    source = package.get("source", {})
    return source if isinstance(source, dict) else {}


def _roots(data: Mapping[str, Any], packages: Sequence[Mapping[str, Any]], collector: Collector) -> Set[int]:
    """The projects of the lock: the workspace members, else the packages at the lock's own directory."""
    manifest = data.get("manifest", {})
    members = manifest.get("members") if isinstance(manifest, dict) else None
    if members is not None and not is_string_list(members):
        collector.problem(1, "[manifest] members must be an array of strings")
        members = None
    if members:
        wanted = {normalize(member) for member in members}
        return {i for i, p in enumerate(packages) if normalize(str(p.get("name"))) in wanted}
    return {
        i for i, p in enumerate(packages)
        if _source(p).get("editable") == "." or _source(p).get("virtual") == "."
    }  # fmt: skip


def _walk(
    packages: Sequence[Mapping[str, Any]],
    by_name: Mapping[str, List[int]],
    roots: Set[int],
    selection: LockSelection,
    lines: Sequence[Optional[int]],
    collector: Collector,
) -> Dict[int, Set[_Term]]:
    """Each reachable package's condition: the set of marker conjunctions under which it is installed."""
    conditions: Dict[int, Set[_Term]] = {}
    too_complex: Set[int] = set()
    # (package, extra or None): an extra's dependencies are walked as their own node.
    node_conditions: Dict[Tuple[int, Optional[str]], Set[_Term]] = {}
    pending: List[Tuple[int, Optional[str]]] = []

    def reach(node: Tuple[int, Optional[str]], terms: Set[_Term]) -> None:
        known = node_conditions.setdefault(node, set())
        if frozenset() in known:
            return
        new = terms - known
        if not new:
            return
        known |= new
        if frozenset() in known or len(known) > MAX_CONDITION_TERMS:
            if len(known) > MAX_CONDITION_TERMS:
                too_complex.add(node[0])
            known.clear()
            known.add(frozenset())
        pending.append(node)

    def edges(index: int, dependencies: object, where_: str) -> List[Tuple[int, Optional[str], List[str]]]:
        """(package, marker, extras) of each dependency entry."""
        label = where(_KIND, packages[index].get("name"))
        if not isinstance(dependencies, list) or not all(isinstance(d, dict) for d in dependencies):
            raise UvLockError(f"{label}: {where_} must be an array of tables")
        found = []
        for dependency in dependencies:
            target = _dependency_target(dependency, packages, by_name)
            if target is None:
                raise UvLockError(f"{label}: {where_} names {shown(dependency.get('name'))}, which is not locked")
            marker = dependency.get("marker")
            if marker is not None:
                try:
                    parse_marker(marker)
                except InvalidMarker as error:
                    raise UvLockError(f"{label}: invalid marker {shown(marker)}: {invalid(error)}") from None
            extras = dependency.get("extra", [])
            if not is_string_list(extras):
                raise UvLockError(f"{label}: extra of {shown(dependency.get('name'))} must be an array of strings")
            found.append((target, marker, [normalize(extra) for extra in extras]))
        return found

    for root in sorted(roots):
        reach((root, None), {frozenset()})
        for extra in selection.extras:
            if extra in {normalize(e) for e in _table(packages[root], "optional-dependencies")}:
                reach((root, extra), {frozenset()})
    while pending:
        index, extra = pending.pop()
        terms = set(node_conditions[(index, extra)])
        package = packages[index]
        try:
            if extra is None:
                lists = [("dependencies", package.get("dependencies", []))]
                if index in roots:
                    dev = {normalize(g): v for g, v in _table(package, "dev-dependencies").items()}
                    lists += [(f"dev-dependencies {g!r}", dev[g]) for g in selection.groups if g in dev]
            else:
                optional = {normalize(e): v for e, v in _table(package, "optional-dependencies").items()}
                lists = [(f"optional-dependencies {extra!r}", optional.get(extra, []))]
            found = [edge for what, dependencies in lists for edge in edges(index, dependencies, what)]
        except UvLockError as error:
            collector.problem(lines[index], str(error))
            continue
        for target, marker, extras in found:
            child = {term | {marker} if marker else term for term in terms}
            reach((target, None), child)
            for child_extra in extras:
                reach((target, child_extra), child)
    for (index, _extra), terms in node_conditions.items():
        conditions.setdefault(index, set()).update(terms)
    for index in sorted(too_complex):
        collector.note(
            lines[index],
            f"{where(_KIND, packages[index].get('name'))}: reached under more than {MAX_CONDITION_TERMS} "
            "marker combinations; judged on every target",
        )
    return conditions


def _dependency_target(
    dependency: Mapping[str, Any], packages: Sequence[Mapping[str, Any]], by_name: Mapping[str, List[int]]
) -> Optional[int]:
    """The locked package a dependency entry names: by name, then version and source where uv wrote them."""
    name = dependency.get("name")
    if not isinstance(name, str):
        return None
    candidates = by_name.get(normalize(name), [])
    if "version" in dependency:
        candidates = [c for c in candidates if packages[c].get("version") == dependency["version"]]
    if "source" in dependency:
        candidates = [c for c in candidates if packages[c].get("source") == dependency["source"]]
    return candidates[0] if len(candidates) == 1 else None


def _marker(terms: Set[_Term], package: Mapping[str, Any]) -> Optional[str]:
    if frozenset() in terms:
        paths = None
    else:
        paths = or_markers(and_markers(sorted(term)) for term in sorted(terms, key=sorted))
    forks = package.get("resolution-markers")
    if forks is not None and not is_string_list(forks):
        raise UvLockError("resolution-markers must be an array of strings")
    for fork in forks or ():
        try:
            parse_marker(fork)
        except InvalidMarker as error:
            raise UvLockError(f"invalid resolution marker {shown(fork)}: {invalid(error)}") from None
    return and_markers([paths, or_markers(forks) if forks else None])


def _requirement(package: Mapping[str, Any], terms: Set[_Term], base: Path, origin: Any) -> Any:
    name = package["name"]
    source = package.get("source")
    if not isinstance(source, dict) or len(source) != 1:
        raise UvLockError("source must be a table with one key (registry, git, url, path, directory, editable)")
    (kind, location), = source.items()
    if not isinstance(location, str) or not location:
        raise UvLockError(f"source {kind} must be a non-empty string")
    marker = _marker(terms, package)
    hashes = _hashes(package)
    version = package.get("version")
    if kind == "registry":
        if not isinstance(version, str):
            raise UvLockError("version must be a string")
        return pin(name=name, version=version, url=None, marker=marker, hashes=hashes, origin=origin)
    if kind == "virtual":
        return None
    if kind == "git":
        url = _git_url(location)
        return pin(name=name, version=None, url=url, marker=marker, origin=origin)
    if kind == "url":
        if any(character.isspace() for character in location):
            raise UvLockError(f"source url {shown(location)} holds white space")
        return pin(name=name, version=None, url=location, marker=marker, hashes=hashes, origin=origin)
    if kind in ("path", "directory", "editable"):
        url = file_url(base, location)
        return pin(
            name=name, version=None, url=url, marker=marker, hashes=hashes if kind == "path" else (),
            editable=kind == "editable", origin=origin,
        )
    raise UvLockError(f"unknown source kind {shown(kind)}")


def _git_url(location: str) -> str:
    """uv's ``https://host/repo?rev=REF&subdirectory=D#COMMIT`` as pip's ``git+https://host/repo@COMMIT#subdirectory=D``."""
    split = urllib.parse.urlsplit(location)
    commit = split.fragment
    if not commit or any(character.isspace() for character in location):
        raise UvLockError(f"source git {shown(location)} must end with '#' and the commit")
    query = urllib.parse.parse_qs(split.query)
    subdirectory = query.get("subdirectory", [None])[0]
    bare = urllib.parse.urlunsplit((split.scheme, split.netloc, split.path, "", ""))
    return f"git+{bare}@{commit}" + (f"#subdirectory={subdirectory}" if subdirectory else "")


def _hashes(package: Mapping[str, Any]) -> Tuple[str, ...]:
    files: List[object] = []
    sdist = package.get("sdist")
    if sdist is not None:
        files.append(sdist)
    wheels = package.get("wheels", [])
    if not isinstance(wheels, list):
        raise UvLockError("wheels must be an array of tables")
    files.extend(wheels)
    hashes = []
    for entry in files:
        if not isinstance(entry, dict):
            raise UvLockError("sdist and wheels entries must be tables")
        if "hash" in entry:
            checked = hash_from_text(entry["hash"])
            if checked is None and str(entry["hash"]).split(":", 1)[0].lower() in ("sha256", "sha384", "sha512"):
                raise UvLockError(f"hash {shown(entry['hash'])} is not a sha256/sha384/sha512 digest")
            if checked is not None:
                hashes.append(checked)
    return tuple(dict.fromkeys(hashes))
