"""Requirement files, parsed once into typed values.

A file's grammar follows from its name: a lock file (``lockfile`` says
which names, and when content decides) is read by its format's reader
(``pylock``, ``uvlock``, ``poetrylock``, ``pipfilelock``), ``*.toml`` is a
pyproject.toml, ``*.cfg`` a setup.cfg, anything else pip's requirements
format. Files named by ``-r``/``-c`` or by setup.cfg's ``file:`` are always
pip's format.

pip's requirements format, as pip's ``req_file.py`` reads it::

    physical line   text ["\\"]        a final backslash joins the next line; the
                                       logical line keeps the first line's number
    comment         "#" at the start of a line or after whitespace, to its end
                                       ("#egg=", "#sha256=" inside a URL are not comments)
    logical line    [ARGS] [OPTIONS]   ARGS end at the first word starting with "-"
    ARGS            PEP 508 requirement               Django>=4.2,<5.0; python_version>="3.8"
                  | URL ["; " MARKER]                 https://, http://, ftp://, file: or
                                                      git+ / hg+ / svn+ / bzr+ URLs
                  | PATH ["[" EXTRAS "]"] [";" MARKER]  holds "/", starts with ".",
                                                      or is an archive (.whl, .tar.gz, ...)
    OPTIONS         shell-quoted words, pip's spellings (-rFILE, -r FILE,
                    --requirement=FILE, unique prefixes of long options):
        -r/--requirement FILE, -c/--constraint FILE   read FILE (relative to this file)
        -e/--editable PATH-OR-VCS-URL                 an editable requirement
        --hash ALGO:HEX                               attached to the line's requirement
        --global-option, --install-option, -C/--config-settings   noted, ignored
        -i/--index-url, --extra-index-url, --no-index, -f/--find-links, --pre,
        --trusted-host, --prefer-binary, --require-hashes, --only-binary,
        --no-binary, --use-feature, --use-pep517, --no-use-pep517
                                                      global: kept in pip_options, noted
    ${NAME}         NAME in [A-Z0-9_]: replaced from the environment when set
                    and not empty, otherwise left as written (pip's rule)

A requirement's URL, egg fragment, wheel or sdist file name, or local
project (its pyproject.toml/setup.cfg) names it; failing those, the last
segment of its path does, and a note says the name was guessed. Relative
paths are taken from the requirement file's directory (pip takes them from
its working directory, which is the same directory in the usual
``pip install -r requirements.txt`` run).

pyproject.toml (PEP 621): ``[project] dependencies``, plus the
``[project.optional-dependencies]`` groups selected by ``extras``; an
entry naming the project itself (``myproj[a,b]``) selects its groups
``a`` and ``b`` instead of being a requirement.

setup.cfg (setuptools): ``[options] install_requires`` and the
``[options.extras_require]`` groups selected by ``extras``; a value is one
requirement per line (a one-line value is split on ";" as setuptools
splits it), `` #`` starts a comment, and ``file: a.txt, b.txt`` reads
those files in pip's format.
"""

from __future__ import annotations

import bisect
import codecs
import configparser
import json
import optparse
import os
import re
import shlex
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Sequence

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as _PackagingRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from debvenv import lockfile
from debvenv.errors import EnvironmentFailure, Problem, ProblemsError
from debvenv.files import MIB, InputRefused, read_bounded
from debvenv.names import normalize
from debvenv.pipfilelock import read_pipfile_lock
from debvenv.poetrylock import read_poetry_lock
from debvenv.pylock import read_pylock
from debvenv.uvlock import read_uv_lock

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

REQUIREMENTS_TXT = "requirements.txt"
# Far beyond any real requirement file (a 500-line one is 20 kB), yet bounded: a file
# named by mistake or malice (/dev/zero, a huge log) is refused, not read into memory.
MAX_FILE_SIZE = 16 * MIB
# -r/-c chains deeper than this are a mistake or an attack, never a project layout.
MAX_INCLUDE_DEPTH = 100
_TOML_NESTING_SHOWN = 100
_MAX_PARTS = 1000
_SHOWN = 120  # characters of a bad line quoted in its message  # where a too-deep TOML document is said to go wrong
PYPROJECT_TOML = "pyproject.toml"
SETUP_CFG = "setup.cfg"


@dataclass(frozen=True)
class Origin:
    """Where a requirement, option or constraint was written."""

    file: str  # as the user named it; an include is joined to its includer's directory
    line: int  # 1-based: the first physical line of the logical line

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Requirement:
    """One requirement, with every constraint that names it already applied."""

    text: str  # as written: continuations joined, comments and per-line options removed
    name: str  # PEP 503 normalized
    display_name: str  # as written
    specifier: SpecifierSet  # its own AND every applied constraint's
    extras: tuple[str, ...]  # sorted, normalized
    marker: Optional[Marker]
    url: Optional[str]  # direct URL, VCS URL, local path (as a file: URL) or editable
    origin: Origin
    hashes: tuple[str, ...] = ()  # "sha256:..." from --hash
    editable: bool = False
    constraints: tuple[Origin, ...] = ()  # the constraints that narrowed it
    combined: tuple[Origin, ...] = ()  # the other lines of the same name folded into it


@dataclass(frozen=True)
class RequirementSet:
    """Everything read from a run's requirement files."""

    requirements: tuple[Requirement, ...]  # file order, includes expanded in place
    constraints: tuple[Requirement, ...]  # every constraint read, applied or not
    pip_options: tuple[tuple[Origin, str], ...]  # "--index-url URL", as written (${VAR} kept)
    notes: tuple[Problem, ...]  # non-fatal remarks
    files: tuple[str, ...]  # every file read, in reading order


class RequirementFileError(ProblemsError):
    """A requirement file is missing, unreadable or malformed; carries every problem found."""


def requirement_document(requirement: Requirement) -> Dict[str, Any]:
    """A requirement's fields as reports and manifests write them (JSON-ready)."""
    return {
        "requirement": requirement.text,
        "file": requirement.origin.file,
        "line": requirement.origin.line,
        "name": requirement.name,
        "specifier": str(requirement.specifier),
        "extras": list(requirement.extras),
        "marker": str(requirement.marker) if requirement.marker is not None else None,
        "url": requirement.url,
    }


def default_requirement_files(directory: Path) -> tuple[Path, ...]:
    """The file to read when none is named: requirements.txt, else pyproject.toml, else setup.cfg.

    A pyproject.toml without a ``[project]`` table (one that only configures
    tools) gives way to a setup.cfg next to it: that is where such projects
    declare their requirements.
    """
    requirements_txt = directory / REQUIREMENTS_TXT
    pyproject = directory / PYPROJECT_TOML
    setup_cfg = directory / SETUP_CFG
    if requirements_txt.is_file():
        return (requirements_txt,)
    if pyproject.is_file() and not (setup_cfg.is_file() and not _has_project_table(pyproject)):
        return (pyproject,)
    if setup_cfg.is_file():
        return (setup_cfg,)
    raise RequirementFileError(
        [
            Problem(
                str(directory),
                None,
                f"no {REQUIREMENTS_TXT}, {PYPROJECT_TOML} or {SETUP_CFG} here; "
                "name a requirement file",
            )
        ]
    )


def read_requirements(
    paths: Sequence[Path],
    *,
    extras: Sequence[str] = (),
    groups: Sequence[str] = (),
    lock_policy: str = lockfile.EXACT,
    env: Optional[Mapping[str, str]] = None,
) -> RequirementSet:
    """Read every file (and what it includes) into one RequirementSet.

    ``extras`` selects optional-dependency groups of pyproject.toml and
    setup.cfg files and the extras of lock files; ``groups`` the dependency
    groups of lock files (``lockfile`` says which files are locks and how
    each format selects). ``lock_policy`` says how a lock's pins are judged
    (only ``exact`` so far). ``env`` (default ``os.environ``) expands
    ``${VAR}`` in pip-format files. Constraints without a marker are
    applied here; those with one depend on the target and are left to
    ``apply_constraints``. Raises RequirementFileError carrying every
    problem in every file.
    """
    if lock_policy not in lockfile.LOCK_POLICIES:
        raise RequirementFileError(
            [Problem("--lock-policy", None, f"{lock_policy!r}: choose {' or '.join(lockfile.LOCK_POLICIES)}")]
        )
    reader = _Reader(extras, os.environ if env is None else env, groups=groups, lock_policy=lock_policy)
    for path in paths:
        reader.read_top(str(path))
    return reader.result()


def parse_requirement_line(text: str, origin: Origin) -> Requirement:
    """One PEP 508 requirement string (``Django>=4.2; python_version>="3.8"``)."""
    try:
        return _pep508(text, origin)
    except InvalidRequirement as error:
        raise RequirementFileError(
            [Problem(origin.file, origin.line, _invalid_requirement(text, error))]
        ) from None


def _beyond_packaging(error: Exception, text: str) -> str:
    """Why packaging failed with something other than its own error type, in the user's terms."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    if limit and re.search(r"[0-9]{%d}" % (limit + 1), text):
        return f"a number of more than {limit} digits"
    return str(error) or type(error).__name__


def _pep508(text: str, origin: Origin) -> Requirement:
    if text.count(",") > _MAX_PARTS:
        # packaging takes seconds over a quarter of a million clauses; no real requirement has 100.
        raise InvalidRequirement(f"more than {_MAX_PARTS} comma-separated specifiers or extras")
    try:
        parsed = _PackagingRequirement(text)
    except InvalidRequirement:
        raise
    except (ValueError, RecursionError) as error:  # Python's int digit limit, deep parentheses
        raise InvalidRequirement(_beyond_packaging(error, text)) from None
    return Requirement(
        text=text.strip(),
        name=normalize(parsed.name),
        display_name=parsed.name,
        specifier=parsed.specifier,
        extras=_normalized_extras(parsed.extras),
        marker=parsed.marker,
        url=parsed.url or None,
        origin=origin,
    )


def apply_constraints(
    requirement: Requirement,
    constraints: Iterable[Requirement],
    environment: Optional[Mapping[str, str]] = None,
) -> Requirement:
    """Narrow ``requirement`` by the constraints of the same name that apply.

    A constraint without a marker always applies; one with a marker applies
    only when ``environment`` (a target's PEP 508 environment) is given and
    the marker holds there. Specifiers are AND-ed; a constraint's URL
    replaces an index requirement's source. Applying a constraint twice
    changes nothing. Raises RequirementFileError when two URLs conflict.
    """
    constrained, problems = _constrain(requirement, constraints, environment)
    if problems:
        raise RequirementFileError(problems)
    return constrained


def combine_repeated(
    requirements: Sequence[Requirement], environment: Mapping[str, str]
) -> tuple[Requirement, ...]:
    """Each line as pip sees it on one target: the lines naming one distribution as one requirement.

    pip reads ``aiohttp>=3.8.0`` and ``aiohttp<3.10,>=3.8.5`` on two lines
    as one requirement with both specifiers; merged files are full of such
    pairs. Markers stay per line: only the lines whose marker holds in
    ``environment`` are combined (a line for another Python stays alone).
    Direct URLs and editables stay alone too: pip allows one source per name.

    Returns one entry per line, in order; every line of a group is replaced
    by the same combined requirement, which keeps the first line's text and
    origin, and lists the other lines' origins in ``combined``.
    """
    groups: Dict[str, list[int]] = {}
    for position, requirement in enumerate(requirements):
        if requirement.url is not None or requirement.editable:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({**environment, "extra": ""}):
            continue
        groups.setdefault(requirement.name, []).append(position)
    result = list(requirements)
    for positions in groups.values():
        if len(positions) < 2:
            continue
        lines = [requirements[p] for p in positions]
        first = lines[0]
        specifier = SpecifierSet()
        markers: list[Marker] = []
        for line in lines:
            specifier &= line.specifier
            # Every marker here holds on the target; keeping them all keeps the line honest elsewhere.
            if line.marker is not None and str(line.marker) not in {str(m) for m in markers}:
                markers.append(line.marker)
        marker: Optional[Marker] = None
        for one in markers:
            marker = _and_markers(marker, one)
        combined = replace(
            first,
            specifier=specifier,
            extras=tuple(sorted({extra for line in lines for extra in line.extras})),
            marker=marker,
            hashes=tuple(dict.fromkeys(h for line in lines for h in line.hashes)),
            constraints=tuple(dict.fromkeys(o for line in lines for o in line.constraints)),
            combined=tuple(line.origin for line in lines[1:]),
        )
        for position in positions:
            result[position] = combined
    return tuple(result)


# --- pip's requirements format ---------------------------------------------------------------

_GLOBAL = "global"
_REQUIREMENT_FILE = "requirement-file"
_CONSTRAINT_FILE = "constraint-file"
_EDITABLE = "editable"
_HASH = "hash"
_IGNORED = "per-requirement"

# (spellings, takes a value, role): the options pip accepts in a requirements file.
_OPTIONS = (
    (("-i", "--index-url", "--pypi-url"), True, _GLOBAL),
    (("--extra-index-url",), True, _GLOBAL),
    (("--no-index",), False, _GLOBAL),
    (("-f", "--find-links"), True, _GLOBAL),
    (("--no-binary",), True, _GLOBAL),
    (("--only-binary",), True, _GLOBAL),
    (("--prefer-binary",), False, _GLOBAL),
    (("--require-hashes",), False, _GLOBAL),
    (("--pre",), False, _GLOBAL),
    (("--trusted-host",), True, _GLOBAL),
    (("--use-feature",), True, _GLOBAL),
    (("--use-pep517",), False, _GLOBAL),
    (("--no-use-pep517",), False, _GLOBAL),
    (("-r", "--requirement"), True, _REQUIREMENT_FILE),
    (("-c", "--constraint"), True, _CONSTRAINT_FILE),
    (("-e", "--editable"), True, _EDITABLE),
    (("--hash",), True, _HASH),
    (("--global-option",), True, _IGNORED),
    (("--install-option",), True, _IGNORED),
    (("-C", "--config-settings"), True, _IGNORED),
)
_STRONG_HASHES = {"sha256": 64, "sha384": 96, "sha512": 128}

# Each pattern below runs in time linear in the line: no two adjacent quantifiers can
# trade the same characters (pip's own "(^|\s+)#.*$" and "\s*(...)?\s*@" are quadratic
# on a long run of spaces; a 1 MB line must be judged in well under a second).
_COMMENT_RE = re.compile(r"(?:^|(?<=\s))#")  # where the comment starts; what precedes it is stripped
_SHELL_QUOTING = re.compile(r"[\"'\\]")
_ENV_VAR_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_WORD_RE = re.compile(r"\S+")
_VCS_RE = re.compile(r"^(git|hg|svn|bzr)\+[A-Za-z][A-Za-z0-9+.-]*:", re.IGNORECASE)
_URL_SCHEMES = ("http", "https", "file", "ftp")
_REMOTE_SCHEMES = ("http", "https", "ftp")
_NAMED_URL_RE = re.compile(r"^[ \t]*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\]\s*)?@")
_EGG_RE = re.compile(r"[#&]egg=([^&]*)")
_SUBDIRECTORY_RE = re.compile(r"[#&]subdirectory=([^&]*)")
_PROJECT_NAME_RE = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$", re.I)
_ASSIGNMENT_TYPO_RE = re.compile(r"^[ \t]*[A-Za-z0-9._-]+\s*(?:\[[^\]]*\]\s*)?=[^=]")
_ARCHIVE_EXTENSIONS = (
    ".whl", ".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz",
    ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma",
)
_CODING_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")
# Longest first: the UTF-32 little-endian BOM begins with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF16_LE, "utf-16"),
)


class _OptionError(Exception):
    pass


class _LineOptionParser(optparse.OptionParser):
    """optparse, as pip uses it for a line's options, raising instead of printing and exiting."""

    def error(self, msg: str) -> None:  # type: ignore[override]
        raise _OptionError(msg)

    def exit(self, status: int = 0, msg: Optional[str] = None) -> None:  # type: ignore[override]
        raise _OptionError(msg or "invalid options")


def _record(option: optparse.Option, _opt: str, value: Optional[str], parser: optparse.OptionParser) -> None:
    # One list in line order, so includes and options are handled in the order written.
    parser.values.seen.append((option.get_opt_string(), value))


def _build_option_parser() -> _LineOptionParser:
    parser = _LineOptionParser(add_help_option=False, usage=optparse.SUPPRESS_USAGE)
    for spellings, takes_value, _role in _OPTIONS:
        if takes_value:
            parser.add_option(*spellings, action="callback", callback=_record, type="string")
        else:
            parser.add_option(*spellings, action="callback", callback=_record)
    return parser


_OPTION_PARSER = _build_option_parser()
_ROLE = {_OPTION_PARSER.get_option(spellings[0]).get_opt_string(): role for spellings, _, role in _OPTIONS}


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's join_lines and ignore_comments: (first physical line number, text) of non-empty lines."""
    first = 0
    parts: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        is_comment = line.lstrip().startswith("#")
        if line.endswith("\\") and not is_comment:
            if not parts:
                first = number
            parts.append(line[:-1])
            continue
        if parts:
            # A comment ends a continuation; the space keeps it a comment once joined.
            parts.append(" " + line if is_comment else line)
            joined, parts = "".join(parts), []
            yield from _without_comment(first, joined)
        else:
            yield from _without_comment(number, line)
    if parts:
        yield from _without_comment(first, "".join(parts))


def _without_comment(number: int, line: str) -> Iterator[tuple[int, str]]:
    comment = _COMMENT_RE.search(line)
    line = (line if comment is None else line[: comment.start()]).strip()
    if line:
        yield number, line


def _split_args_options(line: str) -> tuple[str, str]:
    """pip's break_args_options: args run up to the first word that starts with "-"."""
    for word in _WORD_RE.finditer(line):
        if word.group().startswith("-"):
            return line[: word.start()].strip(), line[word.start():]
    return line.strip(), ""


def _url_scheme(text: str) -> Optional[str]:
    if ":" not in text:
        return None
    return text.split(":", 1)[0].lower()


def _is_url(text: str) -> bool:
    return _url_scheme(text) in _URL_SCHEMES or _VCS_RE.match(text) is not None


def _looks_like_path(text: str) -> bool:
    return "/" in text or text.startswith(".")


def _is_archive(name: str) -> bool:
    return name.lower().endswith(_ARCHIVE_EXTENSIONS)


def _strip_extras(text: str) -> tuple[str, str]:
    """``path[a,b]`` -> (``path``, ``[a,b]``): the last bracket, non-empty, after at least one character."""
    opening = text.rfind("[", 0, len(text) - 1)
    if text.endswith("]") and opening > 0 and opening < len(text) - 2 and "]" not in text[opening + 1 : -1]:
        return text[:opening], text[opening:]
    return text, ""


def _file_url_path(url: str) -> str:
    return urllib.request.url2pathname(urllib.parse.urlsplit(url).path)


def shown(text: str, limit: int = _SHOWN) -> str:
    """``text`` quoted for a message, cut short: a 1 MB line must not become a 1 MB message."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _cut(message: str) -> str:
    """Another library's one-line message, cut as ``shown`` cuts what it quotes."""
    return message if len(message) <= 2 * _SHOWN else f"{message[: 2 * _SHOWN]}... ({len(message)} characters)"


def _invalid_requirement(text: str, error: Exception) -> str:
    # packaging's message continues with the line and a caret; keep one line per problem.
    reason = _cut(str(error).splitlines()[0]) if str(error) else type(error).__name__
    message = f"invalid requirement {shown(text.strip())}: {reason}"
    if _ASSIGNMENT_TYPO_RE.match(text) and not re.search(r"[<>!~=]=|===", text):
        message += " (did you mean '=='?)"
    return message


def _normalized_extras(extras: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({normalize(extra) for extra in extras}))


def _bracketed_extras(text: str) -> tuple[str, ...]:
    """``[a,b]`` after a path or an egg name, parsed as packaging parses a requirement's extras."""
    return _normalized_extras(_PackagingRequirement("x" + text).extras) if text else ()


def _parse_marker(text: str) -> Optional[Marker]:
    text = text.strip()
    if not text:
        return None
    try:
        return Marker(text)
    except InvalidMarker:
        raise
    except (ValueError, RecursionError) as error:
        raise InvalidMarker(_beyond_packaging(error, text)) from None


def _and_markers(outer: Optional[Marker], inner: Optional[Marker]) -> Optional[Marker]:
    if outer is None:
        return inner
    if inner is None:
        return outer
    return Marker(f"({outer}) and ({inner})")


def _decode(data: bytes) -> str:
    """pip's auto_decode, minus its guess from the locale: BOM, then a coding line, then UTF-8."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    for line in data.split(b"\n")[:2]:
        match = _CODING_RE.search(line) if line[:1] == b"#" else None
        if match:
            return data.decode(match.group(1).decode("ascii"))
    return data.decode("utf-8")


class _LineError(Exception):
    """A bad line: becomes one Problem at the line's origin."""


class _Reader:
    """One run over the requirement files; collects problems instead of stopping at the first."""

    def __init__(
        self, extras: Sequence[str], env: Mapping[str, str], *, groups: Sequence[str] = (),
        lock_policy: str = lockfile.EXACT,
    ) -> None:
        self._extras = tuple(dict.fromkeys(normalize(extra) for extra in extras))
        self._groups = tuple(dict.fromkeys(normalize(group) for group in groups))
        self._lock_policy = lock_policy
        self._read_lock = False
        self._env = env
        self._requirements: list[Requirement] = []
        self._constraints: list[Requirement] = []
        self._pip_options: list[tuple[Origin, str]] = []
        self._notes: list[Problem] = []
        self._problems: list[Problem] = []
        self._files: list[str] = []
        self._done: set[tuple[str, bool]] = set()
        self._read_metadata_file = False

    def result(self) -> RequirementSet:
        if self._extras and not self._read_metadata_file:
            self._notes.append(
                Problem(
                    "--extra", None,
                    "ignored: extras select groups of pyproject.toml, setup.cfg and lock files only",
                )
            )  # fmt: skip
        if not self._read_lock:
            if self._groups:
                self._notes.append(Problem("--group", None, "ignored: groups select packages of lock files only"))
            if self._lock_policy != lockfile.EXACT:
                self._notes.append(Problem("--lock-policy", None, "ignored: no lock file was read"))
        by_name: dict[str, list[Requirement]] = {}
        for constraint in self._constraints:
            by_name.setdefault(constraint.name, []).append(constraint)
        requirements = []
        for requirement in self._requirements:
            constrained, problems = _constrain(requirement, by_name.get(requirement.name, ()), None)
            requirements.append(constrained)
            self._problems.extend(problems)
        if self._problems:
            raise RequirementFileError(self._problems)
        return RequirementSet(
            requirements=tuple(requirements),
            constraints=tuple(self._constraints),
            pip_options=tuple(self._pip_options),
            notes=tuple(self._notes),
            files=tuple(self._files),
        )

    # -- reading files --

    def read_top(self, display: str) -> None:
        kind = lockfile.format_by_name(display)
        if kind is None and lockfile.name_is_ambiguous(display):
            kind = self._sniff(display)
        if kind is not None:
            self._read_lock_file(display, kind)
        elif display.endswith(".toml"):
            self._read_pyproject(display)
        elif display.endswith(".cfg"):
            self._read_setup_cfg(display)
        else:
            self._read_pip_file(display, False, (), None)

    def _sniff(self, display: str) -> Optional[str]:
        """The lock format of a file whose name does not say; None (read it as its name says) if not a lock."""
        try:
            data = read_bounded(display, MAX_FILE_SIZE, regular_only=True)
            text = data.decode("utf-8-sig")
        except (OSError, InputRefused, UnicodeDecodeError):
            return None  # the reading its name gives reports why
        return lockfile.format_by_content(text)

    def _read_lock_file(self, display: str, kind: str) -> None:
        self._read_lock = True
        self._read_metadata_file = True  # --extra is the lock reader's to judge
        if self._lock_policy == lockfile.COMPATIBLE:
            self._problems.append(
                Problem(display, None, "--lock-policy compatible is not implemented yet; use --lock-policy exact")
            )
            return
        text = self._read_text(display, None, pip_encoding=False)
        if text is None:
            return
        readers = {
            lockfile.PYLOCK: read_pylock,
            lockfile.UV: read_uv_lock,
            lockfile.POETRY: read_poetry_lock,
            lockfile.PIPFILE: read_pipfile_lock,
        }
        selection = lockfile.LockSelection(extras=self._extras, groups=self._groups, policy=self._lock_policy)
        try:
            contents = readers[kind](display, text, selection)
        except lockfile.LockFileError as error:
            self._problems.extend(error.problems)
            return
        self._requirements.extend(contents.requirements)
        self._notes.extend(contents.notes)
        if contents.hashed:
            # pip checks every file it installs against the lock's hashes, and refuses what has none.
            self._pip_options.append((Origin(display, 1), "--require-hashes"))

    def _problem(self, origin: Optional[Origin], file: str, message: str) -> None:
        if origin is None:
            self._problems.append(Problem(file, None, message))
        else:
            self._problems.append(Problem(origin.file, origin.line, message))

    def _note(self, origin: Origin, message: str) -> None:
        self._notes.append(Problem(origin.file, origin.line, message))

    def _read_text(self, display: str, included_at: Optional[Origin], *, pip_encoding: bool) -> Optional[str]:
        """The file's text, or None after recording why it cannot be had."""
        try:
            # An include must be a file: -r /dev/zero or a FIFO would read forever or hang.
            data = read_bounded(display, MAX_FILE_SIZE, regular_only=included_at is not None)
        except (OSError, InputRefused) as error:
            reason = (error.strerror or str(error)) if isinstance(error, OSError) else str(error)
            if included_at is None:
                self._problems.append(Problem(display, None, f"cannot read: {reason}"))
            else:
                self._problem(included_at, display, f"cannot read {display}: {reason}")
            return None
        if not pip_encoding and data.startswith(codecs.BOM_UTF8):
            # Harmless to read past, but tomllib and configparser choke on it, as other tools may.
            self._notes.append(Problem(display, 1, "starts with a UTF-8 byte order mark (ignored)"))
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = _decode(data) if pip_encoding else data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            bad = data[error.start : error.start + 1].hex()
            self._problems.append(
                Problem(display, line, f"cannot read: not {error.encoding} text ({error.reason}, byte 0x{bad})")
            )
            return None
        except LookupError as error:
            self._problems.append(Problem(display, 1, f"cannot read: {error}"))
            return None
        if display not in self._files:
            self._files.append(display)
        return text

    def _read_pip_file(
        self,
        display: str,
        constraint: bool,
        stack: tuple[tuple[str, str], ...],
        included_at: Optional[Origin],
    ) -> None:
        real = os.path.realpath(display)
        for position, (seen_real, _) in enumerate(stack):
            if seen_real == real:
                chain = [shown for _, shown in stack[position:]] + [display]
                self._problem(included_at, display, "include loop: " + " -> ".join(chain))
                return
        if (real, constraint) in self._done:
            return
        if len(stack) >= MAX_INCLUDE_DEPTH:
            self._problem(
                included_at, display,
                f"includes nested more than {MAX_INCLUDE_DEPTH} deep ({stack[0][1]} -> ... -> {display})",
            )  # fmt: skip
            return
        self._done.add((real, constraint))
        text = self._read_text(display, included_at, pip_encoding=True)
        if text is None:
            return
        stack = stack + ((real, display),)
        for number, line in _logical_lines(text):
            origin = Origin(display, number)
            try:
                self._pip_line(line, origin, constraint, stack)
            except _LineError as error:
                self._problem(origin, display, str(error))

    def _pip_line(self, line: str, origin: Origin, constraint: bool, stack: tuple[tuple[str, str], ...]) -> None:
        args, options_text = _split_args_options(line)
        options: list[tuple[str, Optional[str]]] = []
        leftover: list[str] = []
        if options_text:
            try:
                # shlex is quadratic in a token's length; without quotes or escapes it splits as str does.
                words = shlex.split(options_text) if _SHELL_QUOTING.search(options_text) else options_text.split()
            except ValueError as error:
                raise _LineError(f"cannot split options {shown(options_text)}: {error}") from None
            values = optparse.Values({"seen": []})
            try:
                _, leftover = _OPTION_PARSER.parse_args(words, values)
            except _OptionError as error:
                raise _LineError(_cut(str(error))) from None
            options = values.seen
        for word in leftover:
            self._note(origin, f"{shown(word)} after the options is ignored (pip ignores it too)")

        if args:
            requirement = self._pip_requirement(args, origin, editable=False)
            self._add_pip_requirement(requirement, options, origin, constraint)
            return
        editables = [value for option, value in options if _ROLE[option] == _EDITABLE]
        if editables:
            requirement = self._pip_requirement(editables[0], origin, editable=True)
            # pip reads one -e per line and no other option with it.
            ignored = [option for option, _ in options if _ROLE[option] != _EDITABLE] + ["--editable"] * (
                len(editables) - 1
            )
            for option in ignored:
                self._note(origin, f"option {option} on an editable line is ignored (pip ignores it too)")
            self._add_pip_requirement(requirement, [], origin, constraint)
            return
        for option, value in options:
            role = _ROLE[option]
            if role in (_REQUIREMENT_FILE, _CONSTRAINT_FILE):
                assert value is not None
                # pip reads a -r inside a constraint file as requirements: we do the same.
                self._include(self._expand(value, origin), role == _CONSTRAINT_FILE, origin, stack)
            elif role == _GLOBAL:
                self._pip_options.append((origin, option if value is None else f"{option} {value}"))
                self._note(origin, f"pip option {option} ignored for evaluation")
            else:
                self._note(origin, f"option {option} without a requirement is ignored")

    def _add_pip_requirement(
        self,
        requirement: Requirement,
        options: Sequence[tuple[str, Optional[str]]],
        origin: Origin,
        constraint: bool,
    ) -> None:
        hashes: list[str] = []
        for option, value in options:
            role = _ROLE[option]
            if role == _HASH:
                assert value is not None
                hashes.append(_checked_hash(value))
            elif role == _IGNORED:
                self._note(origin, f"option {option} ignored")
            else:
                self._note(origin, f"option {option} on a requirement line is ignored (pip ignores it too)")
        if hashes:
            requirement = replace(requirement, hashes=tuple(dict.fromkeys(hashes)))
        if constraint:
            # pip's rule for constraint files.
            if requirement.editable:
                raise _LineError("editable requirements are not allowed as constraints")
            if requirement.extras:
                raise _LineError(f"constraints cannot have extras: {shown(requirement.text)}")
            self._constraints.append(requirement)
        else:
            self._requirements.append(requirement)

    def _include(self, target: str, constraint: bool, origin: Origin, stack: tuple[tuple[str, str], ...]) -> None:
        scheme = _url_scheme(target)
        if scheme in _REMOTE_SCHEMES:
            raise _LineError(f"remote requirement files are not supported: {target}")
        if scheme == "file":
            target = _file_url_path(target)
        display = os.path.normpath(os.path.join(os.path.dirname(origin.file), target))
        self._read_pip_file(display, constraint, stack, origin)

    def _expand(self, text: str, origin: Origin) -> str:
        def substitute(match: re.Match) -> str:
            value = self._env.get(match.group(1))
            if not value:
                self._note(origin, f"environment variable {match.group(0)} is not set; left as written")
                return match.group(0)
            return value

        return _ENV_VAR_RE.sub(substitute, text)

    # -- one requirement of pip's format --

    def _pip_requirement(self, written: str, origin: Origin, *, editable: bool) -> Requirement:
        expanded = self._expand(written, origin)
        base = os.path.dirname(origin.file)
        if editable:
            return self._editable(written, expanded, origin, base)
        if _is_url(expanded):
            location, _, marker_text = expanded.partition("; ")
            return self._located(written, location.strip(), marker_text, origin, base, editable=False)
        if not _NAMED_URL_RE.match(expanded):
            location, _, marker_text = expanded.partition(";")
            location = location.strip()
            path, _ = _strip_extras(location)
            if _looks_like_path(path) or _is_archive(path):
                return self._located(written, location, marker_text, origin, base, editable=False)
        try:
            requirement = _pep508(expanded, origin)
        except InvalidRequirement as error:
            raise _LineError(_invalid_requirement(written, error)) from None
        return replace(requirement, text=written)

    def _editable(self, written: str, expanded: str, origin: Origin, base: str) -> Requirement:
        path, _ = _strip_extras(expanded)
        if _is_url(expanded):
            valid = _VCS_RE.match(expanded) is not None or _url_scheme(expanded) == "file"
        else:
            valid = _looks_like_path(path) or os.path.isdir(os.path.join(base, path))
        if not valid:
            raise _LineError(
                f"{shown(written)} is not a valid editable requirement: "
                "it should be a local project path or a VCS URL (git+, hg+, svn+, bzr+)"
            )
        return self._located(f"-e {written}", expanded, "", origin, base, editable=True)

    def _located(
        self, written: str, location: str, marker_text: str, origin: Origin, base: str, *, editable: bool
    ) -> Requirement:
        """A requirement given as a URL or a path, named from what it points at."""
        try:
            marker = _parse_marker(marker_text)
        except InvalidMarker as error:
            raise _LineError(_invalid_requirement(written, error)) from None
        extras_text = ""
        local_dir: Optional[str] = None
        if _is_url(location):
            url = location
            if _url_scheme(url) == "file":
                candidate = _file_url_path(url)
                local_dir = candidate if os.path.isdir(candidate) else None
        else:
            location, extras_text = _strip_extras(location)
            path = os.path.abspath(os.path.join(base, location))
            url = Path(path).as_uri()
            local_dir = path if os.path.isdir(path) else None
        try:
            extras = _bracketed_extras(extras_text)
        except InvalidRequirement as error:
            raise _LineError(_invalid_requirement(written, error)) from None
        display_name, egg_extras, guessed = self._name_of(url, local_dir)
        if guessed:
            self._note(origin, f"name of {shown(written)} guessed from its path: {display_name}")
        return Requirement(
            text=written,
            name=normalize(display_name),
            display_name=display_name,
            specifier=SpecifierSet(),
            extras=tuple(sorted(set(extras) | set(egg_extras))),
            marker=marker,
            url=url,
            origin=origin,
            editable=editable,
        )

    def _name_of(self, url: str, local_dir: Optional[str]) -> tuple[str, tuple[str, ...], bool]:
        """(name as written, extras, guessed?) for a URL, in pip's order of evidence and then ours."""
        egg = _EGG_RE.search(url)
        if egg:
            name, extras_text = _strip_extras(urllib.parse.unquote(egg.group(1)))
            if not _PROJECT_NAME_RE.match(name):
                raise _LineError(f"invalid #egg= fragment {shown(egg.group(1))} in {shown(url)}")
            try:
                return name, _bracketed_extras(extras_text), False
            except InvalidRequirement as error:
                raise _LineError(f"invalid #egg= fragment {shown(egg.group(1))}: {error}") from None
        path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
        filename = path.rstrip("/").rsplit("/", 1)[-1]
        if filename.lower().endswith(".whl"):
            try:
                parse_wheel_filename(filename)
            except InvalidWheelFilename as error:
                raise _LineError(f"invalid wheel filename {shown(filename)}: {error}") from None
            return filename.split("-", 1)[0], (), False
        if _is_archive(filename):
            stem = filename[: -len(next(ext for ext in _ARCHIVE_EXTENSIONS if filename.lower().endswith(ext)))]
            name, dash, version = stem.rpartition("-")
            if dash and _PROJECT_NAME_RE.match(name) and version[:1].isdigit():
                return name, (), False
        if local_dir is not None:
            declared = _declared_project_name(local_dir)
            if declared:
                return declared, (), False
        subdirectory = _SUBDIRECTORY_RE.search(url)
        if subdirectory:
            filename = subdirectory.group(1).rstrip("/").rsplit("/", 1)[-1]
        elif _VCS_RE.match(url):
            filename = filename.split("@", 1)[0]
            if filename.endswith(".git"):
                filename = filename[: -len(".git")]
        elif local_dir is not None:
            filename = os.path.basename(os.path.normpath(local_dir))
        return filename or url, (), True

    # -- pyproject.toml and setup.cfg --

    def _read_pyproject(self, display: str) -> None:
        self._read_metadata_file = True
        if tomllib is None:
            raise EnvironmentFailure(f"{display}: reading pyproject.toml needs the tomli module on Python < 3.11")
        text = self._read_text(display, None, pip_encoding=False)
        if text is None:
            return
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            line, reason = _toml_error_location(str(error), text)
            self._problems.append(Problem(display, line, f"invalid TOML: {reason}"))
            return
        except (ValueError, RecursionError) as error:
            # tomllib's own limits: Python's int digit limit, its recursion on nesting.
            line, reason = _toml_limit(error, text)
            self._problems.append(Problem(display, line, f"invalid TOML: {reason}"))
            return
        locator = _Locator(text)
        project = data.get("project")
        project_at = locator.find(re.compile(r"^[ \t]*\[\s*project\s*\]", re.M))
        if not isinstance(project, dict):
            tool = data.get("tool")
            poetry = isinstance(tool, dict) and "poetry" in tool
            hint = " ([tool.poetry] is not read: name a requirements file)" if poetry else ""
            self._problems.append(Problem(display, None, f"no [project] table (PEP 621){hint}"))
            return
        dynamic = project.get("dynamic", [])
        if not isinstance(dynamic, list):
            dynamic = []
        if "dependencies" in dynamic:
            self._problems.append(
                Problem(
                    display,
                    locator.line_of(locator.find(re.compile(r"^[ \t]*dynamic\s*=", re.M), project_at or 0)),
                    "dependencies are dynamic (project.dynamic): they are only known to the build "
                    "backend; name the file they come from instead" + _setuptools_dynamic_hint(data),
                )
            )
            return
        project_name = project.get("name")
        self_name = normalize(project_name) if isinstance(project_name, str) else None
        dependencies_at = locator.find(re.compile(r"^[ \t]*[\"']?dependencies[\"']?\s*=", re.M), project_at or 0)
        dependencies = self._toml_entries(
            display, locator, project.get("dependencies", []), dependencies_at, "[project] dependencies"
        )
        groups: dict[str, tuple[str, list[_Entry]]] = {}
        optional = project.get("optional-dependencies", {})
        optional_at = locator.find(re.compile(r"^[ \t]*\[\s*project\.optional-dependencies\s*\]", re.M))
        if optional_at is None:
            optional_at = locator.find(re.compile(r"^[ \t]*optional-dependencies\s*[.=]", re.M), project_at or 0)
        if not isinstance(optional, dict):
            self._problems.append(
                Problem(display, locator.line_of(optional_at), "[project] optional-dependencies must be a table")
            )
            optional = {}
        if self._extras and "optional-dependencies" in dynamic:
            self._problems.append(
                Problem(display, None, "optional-dependencies are dynamic (project.dynamic): cannot select extras")
            )
            return
        for group, values in optional.items():
            key_at = locator.find(
                re.compile(r"(?:^|(?<=[\s{,.]))[\"']?" + re.escape(group) + r"[\"']?[ \t]*=(?!=)", re.M),
                optional_at or 0,
            )
            entries = self._toml_entries(display, locator, values, key_at, f"optional-dependencies group {group!r}")
            groups[normalize(group)] = (group, entries)
        self._metadata_requirements(
            display, project_name or display, self_name, dependencies, groups, locator.line_of(optional_at)
        )

    def _toml_entries(
        self, display: str, locator: _Locator, values: object, key_at: Optional[int], what: str
    ) -> list[_Entry]:
        fallback = locator.line_of(key_at)
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            self._problems.append(Problem(display, fallback, f"{what} must be an array of strings"))
            return []
        entries = []
        cursor = key_at or 0
        for value in values:
            candidates = {f'"{value}"', f"'{value}'", json.dumps(value)}
            found = locator.find_literal(candidates, cursor)
            if found is None:
                line = fallback
            else:
                line, cursor = locator.line_of(found[0]), found[1]
            entries.append(_Entry(value, Origin(display, line)))
        return entries

    def _read_setup_cfg(self, display: str) -> None:
        self._read_metadata_file = True
        text = self._read_text(display, None, pip_encoding=False)
        if text is None:
            return
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text, source=display)
        except configparser.MissingSectionHeaderError as error:
            self._problems.append(Problem(display, error.lineno, f"no [section] before {shown(error.line.strip())}"))
            return
        except configparser.ParsingError as error:
            physical = text.splitlines()
            for line, _ in error.errors:  # configparser keeps only a repr() of the line
                content = physical[line - 1].strip() if 0 < line <= len(physical) else ""
                self._problems.append(Problem(display, line, f"invalid setup.cfg line {shown(content)}"))
            return
        except configparser.DuplicateSectionError as error:
            self._problems.append(Problem(display, error.lineno, f"section [{error.section}] appears twice"))
            return
        except configparser.DuplicateOptionError as error:
            self._problems.append(
                Problem(display, error.lineno, f"option {error.option!r} appears twice in [{error.section}]")
            )
            return
        except configparser.Error as error:
            self._problems.append(Problem(display, None, f"invalid setup.cfg: {error}"))
            return
        locator = _Locator(text)
        project_name = parser.get("metadata", "name", fallback=None)
        self_name = normalize(project_name) if project_name else None
        options_at = locator.find(re.compile(r"^[ \t]*\[\s*options\s*\]", re.M))
        dependencies: list[_Entry] = []
        if parser.has_option("options", "install_requires"):
            key_at = locator.find(re.compile(r"^[ \t]*install_requires\s*[=:]", re.M | re.I), options_at or 0)
            dependencies = _cfg_entries(display, locator, parser.get("options", "install_requires"), key_at)
        elif not self._extras:
            self._notes.append(Problem(display, None, "no [options] install_requires: no requirements"))
        groups: dict[str, tuple[str, list[_Entry]]] = {}
        extras_at = locator.find(re.compile(r"^[ \t]*\[\s*options\.extras_require\s*\]", re.M))
        if parser.has_section("options.extras_require"):
            for group, value in parser.items("options.extras_require"):
                key = re.compile(r"^[ \t]*" + re.escape(group) + r"\s*[=:]", re.M | re.I)
                key_at = locator.find(key, extras_at or 0)
                groups[normalize(group)] = (group, _cfg_entries(display, locator, value, key_at))
        self._metadata_requirements(
            display, project_name or display, self_name, dependencies, groups, locator.line_of(extras_at)
        )

    def _metadata_requirements(
        self,
        display: str,
        project: str,
        self_name: Optional[str],
        dependencies: list[_Entry],
        groups: Mapping[str, tuple[str, list[_Entry]]],
        groups_line: Optional[int],
    ) -> None:
        """Emit the base requirements, then each selected extra's, expanding self-references."""
        # Extras the user selects count as expanded from the start: a self-reference
        # reaching one of them must not add it again under its own marker.
        selected = [extra for extra in self._extras if extra in groups]
        expanded = set(selected)
        self._metadata_group(display, self_name, dependencies, groups, None, expanded)
        for extra in selected:
            self._metadata_group(display, self_name, groups[extra][1], groups, None, expanded)
        for extra in self._extras:
            if extra not in groups:
                available = ", ".join(sorted(shown for shown, _ in groups.values()))
                defined = f"it defines: {available}" if available else "it defines no extras"
                self._problems.append(
                    Problem(display, groups_line, f"unknown extra {extra!r} of {project}; {defined}")
                )

    def _metadata_group(
        self,
        display: str,
        self_name: Optional[str],
        entries: Sequence[_Entry],
        groups: Mapping[str, tuple[str, list[_Entry]]],
        marker: Optional[Marker],
        expanded: set[str],
    ) -> None:
        for entry in entries:
            if entry.files:
                for name in entry.files:
                    target = os.path.normpath(os.path.join(os.path.dirname(display), name))
                    self._read_pip_file(target, False, ((os.path.realpath(display), display),), entry.origin)
                continue
            text = entry.text
            try:
                requirement = parse_requirement_line(text, entry.origin)
            except RequirementFileError as error:
                problem = error.problems[0]
                if ";" in entry.raw_value and "\n" not in entry.raw_value and _is_marker(text):
                    problem = Problem(
                        problem.file,
                        problem.line,
                        f"{shown(text)} is a marker, but setuptools splits a one-line value on ';': "
                        "put each requirement on its own line",
                    )
                self._problems.append(problem)
                continue
            if self_name is not None and requirement.name == self_name:
                combined = _and_markers(marker, requirement.marker)
                for extra in requirement.extras:
                    if extra not in groups:
                        self._problem(
                            entry.origin, display,
                            f"{requirement.display_name}[{extra}] names an extra the project does not define",
                        )
                    elif extra not in expanded:
                        expanded.add(extra)
                        self._metadata_group(display, self_name, groups[extra][1], groups, combined, expanded)
                continue
            if marker is not None:
                requirement = replace(requirement, marker=_and_markers(marker, requirement.marker))
            self._requirements.append(requirement)


@dataclass(frozen=True)
class _Entry:
    """One requirement string of a metadata file, or a ``file:`` reference, with where it was written."""

    text: str
    origin: Origin
    files: tuple[str, ...] = ()
    raw_value: str = field(default="", compare=False)  # the whole setup.cfg value it came from


class _Locator:
    """Finds where a value that tomllib/configparser parsed was written, to give it a line number."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def line_of(self, offset: Optional[int]) -> int:
        return 1 if offset is None else bisect.bisect_right(self._starts, offset)

    def find(self, pattern: re.Pattern[str], start: int = 0) -> Optional[int]:
        match = pattern.search(self._text, start)
        return None if match is None else match.start()

    def find_literal(self, candidates: Iterable[str], start: int) -> Optional[tuple[int, int]]:
        """(start, end) offsets of the first of ``candidates`` at or after ``start``."""
        best: Optional[tuple[int, int]] = None
        for candidate in candidates:
            found = self._text.find(candidate, start)
            if found >= 0 and (best is None or found < best[0]):
                best = (found, found + len(candidate))
        return best


def _cfg_entries(display: str, locator: _Locator, value: str, key_at: Optional[int]) -> list[_Entry]:
    """setuptools' reading of a requirements value: lines (or ';'-split one line), comments, file:."""
    key_line = locator.line_of(key_at)
    stripped = value.strip()
    if stripped.startswith("file:"):
        names = tuple(name.strip() for name in stripped[len("file:"):].split(",") if name.strip())
        return [_Entry(stripped, Origin(display, key_line), files=names)]
    chunks = value.splitlines() if "\n" in value else value.split(";")
    lines = [chunk.partition(" #")[0].strip() for chunk in chunks]
    lines = [line for line in lines if line and not line.startswith("#")]
    joined: list[str] = []
    pending = ""
    for line in lines:
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        joined.append(pending + line)
        pending = ""
    if pending:
        joined.append(pending.strip())
    entries = []
    cursor = key_at or 0
    for text in joined:
        first_part = text.split(" ", 1)[0]
        found = locator.find_literal([first_part], cursor)
        if found is None:
            line = key_line
        else:
            line, cursor = locator.line_of(found[0]), found[1]
        entries.append(_Entry(text, Origin(display, line), raw_value=value))
    return entries


def _is_marker(text: str) -> bool:
    try:
        Marker(text)
    except (InvalidMarker, ValueError, RecursionError):
        return False
    return True


def _checked_hash(value: str) -> str:
    algorithm, colon, digest = value.partition(":")
    if not colon or not digest:
        raise _LineError(f"--hash {shown(value)}: expected a hash name and a value, like --hash=sha256:abcde...")
    length = _STRONG_HASHES.get(algorithm)
    if length is None:
        raise _LineError(f"--hash {shown(value)}: allowed algorithms are {', '.join(_STRONG_HASHES)}")
    if len(digest) != length or not re.fullmatch(r"[0-9a-fA-F]+", digest):
        raise _LineError(f"--hash {shown(value)}: a {algorithm} digest is {length} hexadecimal digits")
    return f"{algorithm}:{digest.lower()}"


def _toml_error_location(message: str, text: str) -> tuple[int, str]:
    """tomllib says "(at line N, column M)" or "(at end of document)": make that our file:line."""
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        return int(match.group(1)), f"{message[: match.start()]} (column {match.group(2)})"
    match = re.search(r"\s*\(at end of document\)$", message)
    if match:
        return max(1, len(text.splitlines())), f"{message[: match.start()]} (at end of file)"
    return 1, message


def _toml_limit(error: Exception, text: str) -> tuple[int, str]:
    """Where a TOML document goes past what tomllib can take, and why."""
    if isinstance(error, RecursionError):
        depth = 0
        for offset, character in enumerate(text):
            depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(character, 0)
            if depth > _TOML_NESTING_SHOWN:
                line = text.count("\n", 0, offset) + 1
                return line, f"arrays or inline tables nested too deeply (more than {_TOML_NESTING_SHOWN} here)"
        return 1, "arrays or inline tables nested too deeply"
    reason = _beyond_packaging(error, text)
    digits = re.search(r"[0-9]{%d}" % (sys.get_int_max_str_digits() + 1), text) if hasattr(
        sys, "get_int_max_str_digits"
    ) else None
    return (text.count("\n", 0, digits.start()) + 1 if digits else 1), reason


def _has_project_table(pyproject: Path) -> bool:
    if tomllib is None:
        return True
    try:
        text = read_bounded(pyproject, MAX_FILE_SIZE).decode("utf-8-sig")
        return isinstance(tomllib.loads(text).get("project"), dict)
    except (OSError, InputRefused, ValueError, RecursionError):  # ValueError: TOML, UTF-8, digits
        # Unreadable or malformed: choose it anyway, so that the problem is reported.
        return True


def _setuptools_dynamic_hint(data: Mapping[str, object]) -> str:
    tool = data.get("tool")
    setuptools = tool.get("setuptools") if isinstance(tool, dict) else None
    dynamic = setuptools.get("dynamic") if isinstance(setuptools, dict) else None
    dependencies = dynamic.get("dependencies") if isinstance(dynamic, dict) else None
    files = dependencies.get("file") if isinstance(dependencies, dict) else None
    if isinstance(files, str):
        files = [files]
    if isinstance(files, list) and files:
        return f" ([tool.setuptools.dynamic] reads them from {', '.join(map(str, files))})"
    return ""


def _declared_project_name(directory: str) -> Optional[str]:
    """The name a local project declares in its pyproject.toml or setup.cfg, if either says."""
    if tomllib is not None:
        try:
            text = read_bounded(Path(directory, PYPROJECT_TOML), MAX_FILE_SIZE, regular_only=True)
            project = tomllib.loads(text.decode("utf-8-sig")).get("project")
        except (OSError, InputRefused, ValueError, RecursionError):  # ValueError: TOML, UTF-8, digits
            project = None
        if isinstance(project, dict) and isinstance(project.get("name"), str):
            return project["name"]
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(
            read_bounded(Path(directory, SETUP_CFG), MAX_FILE_SIZE, regular_only=True).decode("utf-8-sig")
        )
    except (OSError, InputRefused, UnicodeDecodeError, configparser.Error):
        return None
    return parser.get("metadata", "name", fallback=None) or None


def _constrain(
    requirement: Requirement,
    constraints: Iterable[Requirement],
    environment: Optional[Mapping[str, str]],
) -> tuple[Requirement, list[Problem]]:
    specifier = requirement.specifier
    url = requirement.url
    origins = list(requirement.constraints)
    problems: list[Problem] = []
    for constraint in constraints:
        if constraint.name != requirement.name:
            continue
        if constraint.marker is not None and (
            environment is None or not constraint.marker.evaluate(dict(environment))
        ):
            continue
        specifier &= constraint.specifier
        if constraint.url is not None:
            if url is None:
                url = constraint.url
            elif url != constraint.url:
                problems.append(
                    Problem(
                        constraint.origin.file,
                        constraint.origin.line,
                        f"constraint URL {constraint.url} conflicts with {url} "
                        f"for {requirement.display_name} ({requirement.origin})",
                    )
                )
                continue
        if constraint.origin not in origins:
            origins.append(constraint.origin)
    constrained = replace(requirement, specifier=specifier, url=url, constraints=tuple(origins))
    return constrained, problems
