"""What an application declares about itself, read without building it: console scripts, build requirements.

``debianize`` links the application's console scripts into ``/usr/bin``
and names its build requirements in Build-Depends. Both come from the
project's own files, never from running its build backend (debvenv runs
as root; a setup.py is code):

- ``pyproject.toml``: ``[project.scripts]`` and ``[project.gui-scripts]``
  (PEP 621), ``[build-system] requires`` and ``build-backend`` (PEP 518/517);
- ``setup.cfg`` when pyproject.toml has no ``[project]`` table:
  ``[options.entry_points]`` ``console_scripts`` and ``gui_scripts``;
- a wheel: ``*.dist-info/entry_points.txt``; a wheel needs no build.

Scripts the files cannot tell (``dynamic`` in PEP 621, a setup.py, a
``file:`` entry_points) are ``None``, not an empty tuple: the caller says
that it cannot know them.
"""

from __future__ import annotations

import configparser
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from debvenv.errors import EnvironmentFailure, InputError
from debvenv.files import MIB, InputRefused, read_bounded

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

MAX_FILE_SIZE = 16 * MIB
MAX_ENTRY_POINTS_SIZE = MIB
# pip's fallback for a project without [build-system] (PEP 517's "legacy" build).
LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0",)
_SETUPTOOLS_BACKENDS = ("setuptools.build_meta", "setuptools.build_meta:__legacy__")
# A script becomes /usr/bin/NAME: one path component, no option-like or hidden name.
SCRIPT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
_SCRIPT_GROUPS = ("console_scripts", "gui_scripts")


class ApplicationError(InputError):
    """The application's pyproject.toml, setup.cfg or wheel cannot be read (exit 2)."""


@dataclass(frozen=True)
class Application:
    """An application's declarations, as its files state them."""

    path: Path  # the project directory or wheel
    scripts: Optional[Tuple[str, ...]]  # sorted; None when only its build backend knows them
    build_requires: Tuple[str, ...]  # PEP 508 strings as written; () for a wheel
    refused_scripts: Tuple[str, ...] = ()  # names that cannot be a file in /usr/bin
    unknown_reason: str = ""  # why ``scripts`` is None


def read_application(path: Path) -> Application:
    """The declarations of the project directory or wheel at ``path`` (module docstring). Raises ApplicationError."""
    if path.is_file() and path.suffix == ".whl":
        return _read_wheel(path)
    if not path.is_dir():
        raise ApplicationError(f"--project {path}: neither a project directory nor a .whl file")
    pyproject = path / "pyproject.toml"
    data: Dict[str, Any] = _read_toml(pyproject) if pyproject.exists() else {}
    build_requires = _build_requires(pyproject, data)
    project = data.get("project")
    if isinstance(project, dict):
        return _from_pyproject(path, pyproject, project, build_requires)
    setup_cfg = path / "setup.cfg"
    if setup_cfg.exists():
        return _from_setup_cfg(path, setup_cfg, build_requires)
    if (path / "setup.py").exists():
        return Application(path, None, build_requires, unknown_reason="only its setup.py declares them")
    raise ApplicationError(f"--project {path}: no pyproject.toml [project], setup.cfg or setup.py")


def _split(names: List[str]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    good = sorted({name for name in names if SCRIPT_RE.fullmatch(name)})
    refused = sorted({name for name in names if not SCRIPT_RE.fullmatch(name)})
    return tuple(good), tuple(refused)


def _read_text(path: Path, limit: int = MAX_FILE_SIZE) -> str:
    try:
        data = read_bounded(path, limit, regular_only=True)
    except InputRefused as error:
        raise ApplicationError(f"{path}: {error}") from error
    except OSError as error:
        raise ApplicationError(f"{path}: cannot read: {error.strerror or error}") from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApplicationError(f"{path}: not UTF-8 (byte {error.start})") from error


def _read_toml(path: Path) -> Dict[str, Any]:
    if tomllib is None:
        raise EnvironmentFailure(f"{path}: reading pyproject.toml needs the tomli module on Python < 3.11")
    try:
        return tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as error:
        raise ApplicationError(f"{path}: invalid TOML: {error}") from error
    except (ValueError, RecursionError) as error:
        raise ApplicationError(f"{path}: invalid TOML: {error}") from error


def _build_requires(pyproject: Path, data: Dict[str, Any]) -> Tuple[str, ...]:
    build_system = data.get("build-system")
    if build_system is None:
        requires: List[str] = list(LEGACY_BUILD_REQUIRES)
        backend: Optional[str] = None
    else:
        if not isinstance(build_system, dict):
            raise ApplicationError(f"{pyproject}: [build-system] must be a table")
        raw = build_system.get("requires", [])
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise ApplicationError(f"{pyproject}: [build-system] requires must be a list of strings")
        requires = list(raw)
        backend = build_system.get("build-backend")
        if backend is not None and not isinstance(backend, str):
            raise ApplicationError(f"{pyproject}: [build-system] build-backend must be a string")
    # setuptools before 70.1 asks for wheel too (get_requires_for_build_wheel); a build
    # without isolation, from the Build-Depends, then needs it installed.
    if backend is None or backend in _SETUPTOOLS_BACKENDS:
        if not any(re.match(r"\s*wheel\b", item, re.I) for item in requires):
            requires.append("wheel")
    return tuple(requires)


def _from_pyproject(
    path: Path, pyproject: Path, project: Dict[str, Any], build_requires: Tuple[str, ...]
) -> Application:
    dynamic = project.get("dynamic", [])
    if isinstance(dynamic, list) and ({"scripts", "gui-scripts"} & set(dynamic)):
        return Application(path, None, build_requires, unknown_reason="pyproject.toml declares them dynamic")
    names: List[str] = []
    for key in ("scripts", "gui-scripts"):
        table = project.get(key, {})
        if not isinstance(table, dict):
            raise ApplicationError(f"{pyproject}: [project.{key}] must be a table")
        names += [str(name) for name in table]
    good, refused = _split(names)
    return Application(path, good, build_requires, refused)


def _from_setup_cfg(path: Path, setup_cfg: Path, build_requires: Tuple[str, ...]) -> Application:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(_read_text(setup_cfg), source=str(setup_cfg))
    except configparser.Error as error:
        raise ApplicationError(f"{setup_cfg}: {error}") from error
    if parser.has_option("options", "entry_points"):
        return Application(path, None, build_requires, unknown_reason="setup.cfg reads its entry points from a file")
    names = [name for group in _SCRIPT_GROUPS for name in _cfg_group(parser, group)]
    if not names and (path / "setup.py").exists():
        return Application(path, None, build_requires, unknown_reason="setup.cfg names none, and setup.py may")
    good, refused = _split(names)
    return Application(path, good, build_requires, refused)


def _cfg_group(parser: configparser.ConfigParser, group: str) -> List[str]:
    if not parser.has_option("options.entry_points", group):
        return []
    lines = parser.get("options.entry_points", group).splitlines()
    return [line.split("=", 1)[0].strip() for line in lines if "=" in line]


def _read_wheel(path: Path) -> Application:
    try:
        with zipfile.ZipFile(path) as wheel:
            members = [
                info for info in wheel.infolist()
                if re.fullmatch(r"[^/]+\.dist-info/entry_points\.txt", info.filename)
            ]  # fmt: skip
            if len(members) > 1:
                raise ApplicationError(f"--project {path}: more than one *.dist-info/entry_points.txt")
            if not members:
                return Application(path, (), ())
            if members[0].file_size > MAX_ENTRY_POINTS_SIZE:
                raise ApplicationError(f"--project {path}: {members[0].filename} is too large")
            text = wheel.read(members[0]).decode("utf-8")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, UnicodeDecodeError, OSError, ValueError) as error:
        raise ApplicationError(f"--project {path}: not a readable wheel: {error}") from error
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # script names keep their case
    try:
        parser.read_string(text, source=f"{path}:{members[0].filename}")
    except configparser.Error as error:
        raise ApplicationError(f"--project {path}: {members[0].filename}: {error}") from error
    names = [name for group in _SCRIPT_GROUPS if parser.has_section(group) for name in parser.options(group)]
    good, refused = _split(names)
    return Application(path, good, (), refused)
