"""``pylock.toml`` (PEP 751, the packaging specification "pylock.toml"), read into pins.

The grammar read (other keys are the format's too, and ignored)::

    lock-version = "1.x"             required; a major version other than 1 is refused
    extras = ["NAME", ...]           the extras the lock can install
    dependency-groups = ["NAME", ...]
    default-groups = ["NAME", ...]   the groups installed when none is asked for
    [[packages]]
    name = "NAME"                    required
    version = "V"                    required unless vcs / directory / archive says where
    marker = "MARKER"                PEP 508, plus PEP 751's  'x' in extras,
                                     'x' in dependency_groups  (and "not in")
    vcs = {type, url | path, requested-revision, commit-id, subdirectory}
    directory = {path, editable, subdirectory}
    archive = {url | path, hashes, subdirectory}
    sdist = {url | path, hashes},  wheels = [{url | path, hashes}, ...]

Selection is PEP 751's: a package is installed when its marker holds with
``extras`` the ``--extra`` names given (none by default) and
``dependency_groups`` the ``--group`` names given (the lock's
``default-groups`` when none is given). Those two are decided here, from
the selection; what remains of the marker is the package's marker, judged
on each target. Hashes (sha256/384/512) come from the wheels, the sdist
and the archive; a VCS entry becomes ``name @ git+URL@commit-id``, a
directory ``name @ file:///...`` (editable when it says so), an archive
``name @ URL``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement

from debvenv.lockfile import (
    Collector,
    LockMarkerError,
    LockContents,
    LockSelection,
    checked_name,
    file_url,
    invalid,
    is_string_list,
    load_toml,
    lock_marker,
    package_lines,
    pin,
    selection_problems,
    shown,
    strong_hash,
    where,
)
from debvenv.names import normalize

_KIND = "[[packages]]"
_VCS_SCHEMES = {"git": "git+", "hg": "hg+", "svn": "svn+", "bzr": "bzr+"}


class PylockError(Exception):
    """A package table that cannot be read (becomes a located problem)."""


def read_pylock(display: str, text: str, selection: LockSelection) -> LockContents:
    """The selected packages of a pylock.toml as pins; LockFileError with every problem otherwise."""
    from debvenv.requirements import Origin

    collector = Collector(display)
    data = load_toml(display, text)
    version = data.get("lock-version")
    if not isinstance(version, str) or not re.fullmatch(r"[0-9]+(\.[0-9]+)*", version):
        collector.problem(1, "lock-version must be a version string such as '1.0'")
        collector.raise_if_any()
    elif version.split(".")[0] != "1":
        collector.problem(1, f"lock-version {version} is not one this reader knows (1.x)")
        collector.raise_if_any()
    lists = {}
    for key in ("extras", "dependency-groups", "default-groups"):
        value = data.get(key, [])
        if not is_string_list(value):
            collector.problem(1, f"{key} must be an array of strings")
            value = []
        lists[key] = [normalize(item) for item in value]
    selection_problems(collector, "extra", selection.extras, lists["extras"], 1)
    selection_problems(collector, "dependency group", selection.groups, lists["dependency-groups"], 1)
    groups = selection.groups or tuple(lists["default-groups"])
    packages = data.get("packages")
    if not isinstance(packages, list):
        collector.problem(1, "packages must be an array of tables ([[packages]])")
        collector.raise_if_any()
    assert isinstance(packages, list)
    lines = package_lines(text, "packages", len(packages))
    base = Path(display).parent
    requirements = []
    hashed = False
    for package, line in zip(packages, lines):
        origin = Origin(display, line or 1)
        if not isinstance(package, dict):
            collector.problem(line, f"{_KIND} entries must be tables")
            continue
        name = checked_name(package.get("name"))
        label = where(_KIND, package.get("name"))
        if name is None:
            collector.problem(line, f"{label}: name must be a project name")
            continue
        try:
            marker = lock_marker(package.get("marker"), selection.extras, groups)
        except (LockMarkerError, InvalidMarker) as error:
            collector.problem(line, f"{label}: invalid marker {shown(package.get('marker'))}: {invalid(error)}")
            continue
        if marker is False:
            continue  # for an extra or a group not selected
        try:
            url, editable, hashes = _source(package, base)
        except PylockError as error:
            collector.problem(line, f"{label}: {error}")
            continue
        version = package.get("version")
        if url is None and not isinstance(version, str):
            collector.problem(line, f"{label}: version must be a string (it is required for wheels and sdists)")
            continue
        try:
            requirement = pin(
                name=name, version=version if url is None else None, url=url, marker=marker,
                hashes=hashes, editable=editable, origin=origin,
            )
        except (InvalidRequirement, InvalidMarker) as error:
            collector.problem(line, f"{label}: {invalid(error)}")
            continue
        if url is None and not hashes:
            collector.note(line, f"{label}: no sha256/sha384/sha512 hash recorded")
        hashed = hashed or bool(hashes)
        requirements.append(requirement)
    collector.raise_if_any()
    return LockContents(requirements=tuple(requirements), notes=tuple(collector.notes), hashed=hashed)


def _source(package: Mapping[str, Any], base: Path) -> Tuple[Optional[str], bool, Tuple[str, ...]]:
    """(direct URL or None, editable, hashes) from the package's vcs/directory/archive/sdist/wheels."""
    vcs, directory, archive = package.get("vcs"), package.get("directory"), package.get("archive")
    given = [key for key in ("vcs", "directory", "archive") if key in package]
    if len(given) > 1:
        raise PylockError(f"only one of vcs, directory, archive may be given (found {', '.join(given)})")
    if vcs is not None:
        if not isinstance(vcs, dict):
            raise PylockError("vcs must be a table")
        kind, commit = vcs.get("type"), vcs.get("commit-id")
        if kind not in _VCS_SCHEMES:
            raise PylockError(f"vcs type must be one of {', '.join(_VCS_SCHEMES)}")
        if not isinstance(commit, str) or not commit:
            raise PylockError("vcs commit-id is required")
        location = _location(vcs, base, "vcs")
        url = f"{_VCS_SCHEMES[kind]}{location}@{commit}" + _subdirectory(vcs, "#")
        return url, False, ()
    if directory is not None:
        if not isinstance(directory, dict) or not isinstance(directory.get("path"), str):
            raise PylockError("directory must be a table with a path")
        editable = directory.get("editable", False)
        if not isinstance(editable, bool):
            raise PylockError("directory editable must be true or false")
        return file_url(base, directory["path"]) + _subdirectory(directory, "#"), editable, ()
    if archive is not None:
        if not isinstance(archive, dict):
            raise PylockError("archive must be a table")
        hashes = _hashes(archive.get("hashes"), "archive")
        if not hashes:
            raise PylockError("archive hashes must name at least one of sha256, sha384, sha512")
        return _location(archive, base, "archive") + _subdirectory(archive, "#"), False, hashes
    hashes: List[str] = []
    sdist = package.get("sdist")
    if sdist is not None:
        if not isinstance(sdist, dict):
            raise PylockError("sdist must be a table")
        hashes += _hashes(sdist.get("hashes"), "sdist")
    wheels = package.get("wheels", [])
    if not isinstance(wheels, list) or not all(isinstance(wheel, dict) for wheel in wheels):
        raise PylockError("wheels must be an array of tables")
    for wheel in wheels:
        hashes += _hashes(wheel.get("hashes"), "wheels")
    return None, False, tuple(dict.fromkeys(hashes))


def _location(table: Mapping[str, Any], base: Path, what: str) -> str:
    url, path = table.get("url"), table.get("path")
    if isinstance(url, str) and url:
        if any(character.isspace() for character in url):
            raise PylockError(f"{what} url {shown(url)} holds white space")
        return url
    if isinstance(path, str) and path:
        return file_url(base, path)
    raise PylockError(f"{what} needs a url or a path")


def _subdirectory(table: Mapping[str, Any], separator: str) -> str:
    subdirectory = table.get("subdirectory")
    if subdirectory is None:
        return ""
    if not isinstance(subdirectory, str) or not re.fullmatch(r"[A-Za-z0-9._/-]+", subdirectory):
        raise PylockError(f"subdirectory {shown(subdirectory)} must be a relative path")
    return f"{separator}subdirectory={subdirectory}"


def _hashes(value: object, what: str) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise PylockError(f"{what} hashes must be a table such as {{sha256 = \"...\"}}")
    hashes = []
    for algorithm, digest in value.items():
        checked = strong_hash(algorithm, digest)
        if checked is None and algorithm.lower() in ("sha256", "sha384", "sha512"):
            raise PylockError(f"{what} hash {algorithm} {shown(digest)} is not a {algorithm} digest")
        if checked is not None:
            hashes.append(checked)
    return hashes
