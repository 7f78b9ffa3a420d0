"""``debvenv audit`` and ``debvenv sync``: a built venv against the Debian packages installed now.

A hybrid venv relies on packages it does not control: a security update can
move ``python3-X`` past a requirement's upper bound, ``apt autoremove`` can
take a library away, and a library the venv carries may become available
from Debian. ``audit`` reads the manifest ``build`` wrote, walks the
manifest's requirements (direct, then transitive through each distribution's
``Requires-Dist`` as installed now, markers and extras evaluated for the
venv's interpreter) through what the venv's interpreter sees, and judges
every distribution involved -- those the walk reaches, those the manifest
lists, and every copy in the venv's own site-packages:

==========  =================================================================
broken      a requirement on it is not met: its Debian package was removed
            (at the version dpkg's log says it removed, where it says),
            upgraded past a bound or downgraded, or the venv's copy is gone
            (exit 1)
redundant   a venv copy where an installed Debian package satisfies every
            requirement on it: ``sync --drop-redundant`` removes it
shadowing   a venv copy hiding a Debian package that does not satisfy every
            requirement on it (or that nothing requires)
changed     still satisfied, but not as the manifest says: a Debian package
            upgraded or downgraded, a new or dropped dependency, a venv copy
            changed by hand
ok          as the manifest says
==========  =================================================================

It also runs ``pip check`` over the combined view (venv + system); like
``build`` it counts only the problems the system alone does not already
have, and any such problem also makes the exit code 1.

``sync`` converges the venv to the audit's answer, in place: it removes the
redundant copies (``--drop-redundant``) first, then runs ``pip install``
into the venv with one line per broken distribution -- its name with the
extras and the specifiers of every requirement on it (Debian's other
distributions pinned, as ``build`` pins them) -- verifies the result as
``build`` does (``pip check``, every requirement resolves) and rewrites the
manifest, keeping the build's other records (``--apt-install``). Its safety
is ``build``'s: the venv is copied with ``cp -a`` (ownership, modes and
links kept) into a staging directory beside it, repaired and verified
there, and swapped in whole (``venv._Destination``); any failure, Ctrl-C,
SIGTERM or SIGKILL leaves DIR the untouched original. pip's
arguments are the manifest's (``pip.args``) unless the caller gives others;
the requirement files' own pip options (``--index-url`` in a
requirements.txt) are not in the manifest.

The manifest (``DIR/debvenv.json``, written by ``venv.build_venv``; its
fields are listed in the ``venv`` module's docstring) is read with this
grammar: a JSON object whose ``"schema"`` is ``"debvenv.manifest/N"``. N = 1
is read; a larger N is refused as written by a newer debvenv; anything else
is not a manifest. Of schema 1 these keys are required, with these types
(others are ignored): ``venv`` (string), ``created`` (string),
``debvenv_version`` (string), ``python`` {``path``, ``version``: strings},
``pip`` {``version``: string or null, ``args``: list of strings},
``requirements``: list of objects with string ``requirement``, ``file``,
``name``, ``specifier``, ``status``, ``reason``, integer ``line``, list of
strings ``extras``, string-or-null ``marker``, ``url``, ``provenance``,
``version``, ``package``, ``debian_version``, ``path``; ``distributions``:
list of objects with string ``name``, ``provenance``, list of strings
``required_by``, string-or-null ``version``, ``package``,
``debian_version``, ``path``, ``source``; ``shadowed``: list of objects with
string ``name``, ``version``, ``package``, ``debian_version``,
``debian_distribution_version``, ``reason``; ``debian_packages``: object of
strings. A missing, unreadable or malformed manifest, or one of a newer
schema, is a ManifestError (exit 2) and nothing is touched.

The JSON report (sorted keys, ``"schema": "debvenv.audit/1"``): ``venv``,
``manifest`` {path, created, debvenv_version}, ``python`` {path, built
(version at build), now}, ``distributions`` (by status, then name): name,
status, reasons, now / built (the copy the venv imports now / the manifest's:
provenance, version, package, debian_version, path; null when none), debian
(the best installed Debian copy, visible or hidden: package, debian_version,
version, path; or null), required_by (normalized names, ``""`` for a
top-level requirement), requirements (requirement, required_by, origin,
specifier, met); ``pip_check`` {ran, problems (new in the venv), system
(the system's own)}; ``summary`` (a count per status); ``exit_code``;
``warnings``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from debvenv.debversion import DebianVersionError, compare_debian_versions
from debvenv.errors import EXIT_CHECK_FAILED, EXIT_OK, EnvironmentFailure, InputError
from debvenv.evaluate import CheckReport, check, marker_applies
from debvenv.files import MIB, InputRefused, read_bounded
from debvenv.index import Provider, SuiteIndex
from debvenv.names import normalize
from debvenv.plan import Plan, make_plan
from debvenv.requirements import Origin, Requirement, RequirementSet
from debvenv.sources import dpkgdb, dpkglog
from debvenv.sources.installed import load_installed
from debvenv.targets import TargetOptions
from debvenv.venv import (
    Demand,
    DEBIAN,
    FOREIGN,
    MANIFEST_NAME,
    SCHEMA as MANIFEST_SCHEMA,
    VENV_PROVENANCE,
    BuildFailure,
    BuildResult,
    InstalledDistribution,
    UsedDistribution,
    _check_lines,
    Checkpoint,
    _Destination,
    _inside,
    _install,
    _installed_distributions,
    _leftover_warnings,
    _Pip,
    _pip_check,
    _probe_venv,
    _resolve,
    _sane_umask,
    _shadows,
    _terminate_as_interrupt,
    _unmet,
    requirements_brought_in,
    _used,
    _VenvView,
    _write_json,
    debian_pins,
    demand_line,
    unmet_below,
    walk_demands as venv_walk_demands,
    manifest_document,
    no_checkpoint,
    recover_leftovers,
    refuse_redirecting_pip_args,
)

SCHEMA = "debvenv.audit/1"

OK = "ok"
BROKEN = "broken"
REDUNDANT = "redundant"
SHADOWING = "shadowing"
CHANGED = "changed"
# The order reports list statuses in: what needs a person first.
STATUSES = (BROKEN, REDUNDANT, SHADOWING, CHANGED, OK)

_MANIFEST_PREFIX = MANIFEST_SCHEMA.rsplit("/", 1)[0] + "/"
_MANIFEST_VERSION = int(MANIFEST_SCHEMA.rsplit("/", 1)[1])
_MASKED = "***@"
# debvenv writes manifests of a few hundred kB; more is not one of ours.
MAX_MANIFEST_SIZE = 64 * MIB
_MAX_PATH = 4096  # PATH_MAX
_MAX_SHORT_FIELD = 100  # a version, a time stamp
_WIDTH = 80
_NOTHING_REMOVED: Mapping[str, str] = MappingProxyType({})  # dpkg's log said nothing
# What sync recomputes; every other top-level key of the old manifest (the
# build's --apt-install record) is carried over unchanged.
_RECOMPUTED_KEYS = frozenset(
    ("schema", "debvenv_version", "created", "venv", "python", "pip", "requirements", "distributions",
     "shadowed", "debian_packages", "warnings")
)  # fmt: skip


class ManifestError(InputError):
    """``DIR/debvenv.json`` is missing, unreadable, malformed or of a newer schema (exit 2)."""


class AuditFailure(EnvironmentFailure):
    """The venv cannot be examined: its interpreter is gone or does not run (exit 3)."""


# ---- the manifest ------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestRequirement:
    """One top-level requirement as the manifest recorded it."""

    requirement: Requirement  # rebuilt from the manifest: constraints already in its specifier
    status: str  # its verdict on ``installed`` at build time
    reason: str
    distribution: Optional[UsedDistribution]  # what answered it at build time; None when not applicable


@dataclass(frozen=True)
class Shadowed:
    """A venv copy the build knowingly put over a Debian distribution, and why."""

    name: str
    version: str
    package: str
    debian_version: str
    debian_distribution_version: str
    reason: str


@dataclass(frozen=True)
class Manifest:
    """``DIR/debvenv.json``, typed (schema ``debvenv.manifest/1``)."""

    path: Path
    venv: str
    created: str
    debvenv_version: str
    python: Path
    python_version: str
    pip_version: Optional[str]
    pip_args: Tuple[str, ...]
    requirements: Tuple[ManifestRequirement, ...]
    distributions: Tuple[UsedDistribution, ...]
    sources: Mapping[str, str]  # normalized name -> where pip took the venv's copy from
    shadowed: Tuple[Shadowed, ...]
    debian_packages: Mapping[str, str]
    document: Mapping[str, Any]  # as read, for what sync carries over

    def distribution(self, key: str) -> Optional[UsedDistribution]:
        return next((d for d in self.distributions if normalize(d.name) == key), None)


def read_manifest(venv_dir: Path) -> Manifest:
    """The manifest of the venv at ``venv_dir``; ManifestError (exit 2) when there is none to trust."""
    if not venv_dir.is_dir():
        what = "is not a directory" if venv_dir.exists() else "no such directory"
        raise ManifestError(f"{venv_dir}: {what}")
    path = venv_dir / MANIFEST_NAME
    if not path.is_file():
        built = "a venv" if (venv_dir / "pyvenv.cfg").is_file() else "not a venv either"
        raise ManifestError(
            f"{path}: no manifest: {venv_dir} was not built by debvenv build ({built}); "
            f"build it with debvenv build --venv {venv_dir}"
        )
    try:
        text = read_bounded(path, MAX_MANIFEST_SIZE, regular_only=True).decode("utf-8")
    except OSError as error:
        raise ManifestError(f"{path}: cannot read: {error.strerror}") from error
    except InputRefused as error:
        raise ManifestError(f"{path}: cannot read: {error}") from error
    except UnicodeDecodeError as error:
        raise ManifestError(f"{path}: corrupt: not UTF-8 ({error.reason} at byte {error.start})") from error
    try:
        document = json.loads(text)
    except RecursionError as error:
        raise ManifestError(f"{path}: corrupt: JSON nested too deeply") from error
    except ValueError as error:
        line = getattr(error, "lineno", None)
        message = getattr(error, "msg", str(error))
        where = f"{path}:{line}" if line else str(path)
        raise ManifestError(f"{where}: corrupt: not JSON: {message}") from error
    return manifest_from_document(document, path)


def manifest_from_document(document: Any, path: Path) -> Manifest:
    """A parsed manifest document, checked against the grammar in the module docstring."""
    if not isinstance(document, dict):
        raise ManifestError(f"{path}: not a debvenv manifest: a JSON {_kind(document)}, not an object")
    _check_schema(document.get("schema"), path)
    top = _Fields(document, path, "")
    python = top.object("python")
    pip = top.object("pip")
    requirements = tuple(_manifest_requirement(entry) for entry in top.objects("requirements"))
    distributions: List[UsedDistribution] = []
    sources: Dict[str, str] = {}
    for entry in top.objects("distributions"):
        distribution = _used_distribution(entry, entry.string("name"), entry.optional("version"))
        distributions.append(distribution)
        source = entry.optional("source")
        if source:
            sources[normalize(distribution.name)] = source
    shadowed = tuple(
        Shadowed(
            name=entry.string("name"),
            version=entry.string("version"),
            package=entry.string("package"),
            debian_version=entry.string("debian_version"),
            debian_distribution_version=entry.string("debian_distribution_version"),
            reason=entry.string("reason"),
        )
        for entry in top.objects("shadowed")
    )
    return Manifest(
        path=path,
        venv=_venv_field(top),
        created=_created_field(top),
        debvenv_version=top.string("debvenv_version", limit=_MAX_SHORT_FIELD),
        python=Path(python.string("path")),
        python_version=python.string("version"),
        pip_version=pip.optional("version"),
        pip_args=pip.strings("args"),
        requirements=requirements,
        distributions=tuple(distributions),
        sources=sources,
        shadowed=shadowed,
        debian_packages=top.string_map("debian_packages"),
        document=document,
    )


def _venv_field(top: "_Fields") -> str:
    value = top.string("venv", limit=_MAX_PATH)
    if not os.path.isabs(value) or "\0" in value:
        raise top.fail("venv", f"expected an absolute path, found {value[:_MAX_SHORT_FIELD]!r}")
    return value


def _created_field(top: "_Fields") -> str:
    value = top.string("created", limit=_MAX_SHORT_FIELD)
    try:
        # build writes YYYY-MM-DDTHH:MM:SSZ; fromisoformat reads "Z" only from Python 3.11 on.
        stamp = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        raise top.fail("created", f"expected a UTC time such as 2024-05-02T09:30:00Z, found {value!r}")
    return value


def _check_schema(schema: Any, path: Path) -> None:
    if isinstance(schema, str) and schema.startswith(_MANIFEST_PREFIX):
        number = schema[len(_MANIFEST_PREFIX):]
        if number.isdigit() and int(number) == _MANIFEST_VERSION:
            return
        if number.isdigit() and int(number) > _MANIFEST_VERSION:
            raise ManifestError(
                f"{path}: written by a newer debvenv (schema {schema}; this debvenv reads {MANIFEST_SCHEMA}): "
                "upgrade debvenv to audit this venv"
            )
    raise ManifestError(f"{path}: not a debvenv manifest: schema {schema!r}, expected {MANIFEST_SCHEMA!r}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )


class _Fields:
    """Typed access to one JSON object of the manifest; every mismatch names the field."""

    def __init__(self, document: Mapping[str, Any], path: Path, where: str) -> None:
        self.document = document
        self.path = path
        self.where = where

    def _error(self, key: str, expected: str, value: Any) -> ManifestError:
        field = f"{self.where}.{key}" if self.where else key
        found = "missing" if key not in self.document else f"a {_kind(value)}"
        return ManifestError(f"{self.path}: corrupt: {field}: expected {expected}, found {found}")

    def string(self, key: str, *, limit: Optional[int] = None) -> str:
        value = self.document.get(key)
        if not isinstance(value, str):
            raise self._error(key, "a string", value)
        if limit is not None and len(value) > limit:
            raise self.fail(key, f"expected at most {limit} characters, found {len(value)}")
        return value

    def optional(self, key: str) -> Optional[str]:
        value = self.document.get(key)
        if key not in self.document or not (value is None or isinstance(value, str)):
            raise self._error(key, "a string or null", value)
        return value

    def integer(self, key: str) -> int:
        value = self.document.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._error(key, "an integer", value)
        return value

    def strings(self, key: str) -> Tuple[str, ...]:
        value = self.document.get(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._error(key, "a list of strings", value)
        return tuple(value)

    def string_map(self, key: str) -> Dict[str, str]:
        value = self.document.get(key)
        if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
            raise self._error(key, "an object of strings", value)
        return dict(value)

    def object(self, key: str) -> "_Fields":
        value = self.document.get(key)
        if not isinstance(value, dict):
            raise self._error(key, "an object", value)
        return _Fields(value, self.path, f"{self.where}.{key}" if self.where else key)

    def objects(self, key: str) -> List["_Fields"]:
        value = self.document.get(key)
        if not isinstance(value, list):
            raise self._error(key, "a list", value)
        fields = []
        for number, item in enumerate(value):
            where = f"{self.where}.{key}[{number}]" if self.where else f"{key}[{number}]"
            if not isinstance(item, dict):
                raise ManifestError(f"{self.path}: corrupt: {where}: expected an object, found a {_kind(item)}")
            fields.append(_Fields(item, self.path, where))
        return fields

    def fail(self, key: str, message: str) -> ManifestError:
        field = f"{self.where}.{key}" if self.where else key
        return ManifestError(f"{self.path}: corrupt: {field}: {message}")


def _used_distribution(entry: _Fields, name: str, version: Optional[str]) -> UsedDistribution:
    provenance = entry.string("provenance")
    if provenance not in (DEBIAN, VENV_PROVENANCE, FOREIGN):
        raise entry.fail("provenance", f"unknown provenance {provenance!r}")
    package = entry.optional("package")
    debian_version = entry.optional("debian_version")
    if provenance == DEBIAN and (package is None or debian_version is None):
        raise entry.fail("package", "a Debian-provided distribution without its package and version")
    required_by = entry.strings("required_by") if "required_by" in entry.document else ()
    return UsedDistribution(
        name=name,
        version=version or "",
        provenance=provenance,
        path=entry.optional("path"),
        package=package,
        debian_version=debian_version,
        required_by=required_by,
    )


def _manifest_requirement(entry: _Fields) -> ManifestRequirement:
    text = entry.string("requirement")
    name = entry.string("name")
    try:
        specifier = SpecifierSet(entry.string("specifier"))
    except (ValueError, RecursionError) as error:  # InvalidSpecifier, Python's int digit limit
        raise entry.fail("specifier", _first_line(error)) from None
    marker_text = entry.optional("marker")
    try:
        marker = Marker(marker_text) if marker_text is not None else None
    except (InvalidMarker, ValueError, RecursionError) as error:
        raise entry.fail("marker", _first_line(error)) from None
    try:
        display_name = PackagingRequirement(text).name
    except (InvalidRequirement, ValueError, RecursionError):
        # An editable or a bare path: its name was worked out at build.
        display_name = name
    requirement = Requirement(
        text=text,
        name=normalize(name),
        display_name=display_name,
        specifier=specifier,
        extras=tuple(entry.strings("extras")),
        marker=marker,
        url=entry.optional("url"),
        origin=Origin(file=entry.string("file"), line=entry.integer("line")),
    )
    provenance = entry.optional("provenance")
    distribution = None
    if provenance is not None:
        distribution = _used_distribution(entry, display_name, entry.optional("version"))
    return ManifestRequirement(
        requirement=requirement,
        status=entry.string("status"),
        reason=entry.string("reason"),
        distribution=distribution,
    )


def _first_line(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    if isinstance(error, RecursionError) or not text:
        return "nested too deeply" if isinstance(error, RecursionError) else type(error).__name__
    return text[:_MAX_SHORT_FIELD * 2]


def requirement_set(manifest: Manifest) -> RequirementSet:
    """The manifest's requirements as ``build`` would have read them (constraints already applied)."""
    return RequirementSet(
        requirements=tuple(r.requirement for r in manifest.requirements),
        constraints=(),
        pip_options=(),
        notes=(),
        files=(),
    )


# ---- the report --------------------------------------------------------------------


@dataclass(frozen=True)
class DistributionAudit:
    """One distribution's verdict."""

    name: str
    status: str  # one of STATUSES
    reasons: Tuple[str, ...]
    now: Optional[UsedDistribution]  # the copy the venv imports now; None when there is none
    built: Optional[UsedDistribution]  # as the manifest recorded it; None when not listed
    debian: Optional[Provider]  # the best installed Debian copy, visible or hidden
    demands: Tuple[Demand, ...]

    @property
    def key(self) -> str:
        return normalize(self.name)

    @property
    def now_text(self) -> str:
        return self.now.provenance_text if self.now is not None else "not installed"


@dataclass(frozen=True)
class PipCheck:
    """``pip check`` over the venv and over the system alone."""

    ran: bool = False
    problems: Tuple[str, ...] = ()  # lines the venv's view has and the system's does not
    system: Tuple[str, ...] = ()  # lines the system alone already has


@dataclass(frozen=True)
class AuditReport:
    """The answer of ``audit``: what the renderers show and the exit code derives from."""

    venv: Path
    manifest: Manifest
    python_now: str  # the interpreter's full version now
    distributions: Tuple[DistributionAudit, ...]  # by STATUSES order, then normalized name
    pip_check: PipCheck
    warnings: Tuple[str, ...] = ()

    def with_status(self, status: str) -> Tuple[DistributionAudit, ...]:
        return tuple(d for d in self.distributions if d.status == status)

    def summary(self) -> Dict[str, int]:
        return {status: len(self.with_status(status)) for status in STATUSES}

    @property
    def exit_code(self) -> int:
        """1 when a requirement is broken or ``pip check`` finds a problem the venv brings."""
        return EXIT_CHECK_FAILED if self.with_status(BROKEN) or self.pip_check.problems else EXIT_OK

    @property
    def needs_attention(self) -> bool:
        """Whether ``--quiet`` prints: something is broken or redundant."""
        return bool(self.exit_code != EXIT_OK or self.with_status(REDUNDANT))


def audit_venv(
    venv_dir: Path,
    options: TargetOptions = TargetOptions(),
    *,
    env: Optional[Mapping[str, str]] = None,
    pip_check: bool = True,
) -> AuditReport:
    """``debvenv audit``: the venv at ``venv_dir`` against its manifest and the system now.

    The interpreter is the manifest's (the one the venv was built for);
    ``options.admin_dir`` is dpkg's database. ``env`` is the environment
    pip runs with (default ``os.environ``). Changes nothing. Raises
    ManifestError (exit 2) for a missing, corrupt or newer manifest,
    AuditFailure (exit 3) when the venv's interpreter does not run.
    """
    return _audit(venv_dir, options, dict(os.environ if env is None else env), pip_check)[0]


def _audit(
    venv_dir: Path, options: TargetOptions, environment: Mapping[str, str], pip_check: bool
) -> Tuple[AuditReport, SuiteIndex]:
    venv_dir = Path(os.path.realpath(venv_dir))
    manifest = read_manifest(venv_dir)
    index, view, venv_python = _examine(venv_dir, manifest, options.admin_dir)
    checked = PipCheck()
    warnings = _audit_warnings(venv_dir, manifest, view)
    if pip_check:
        with tempfile.TemporaryDirectory(prefix="debvenv-audit-") as work:
            try:
                pip = _Pip.extract(view.environment["python_full_version"], Path(work), environment)
            except BuildFailure as error:
                warnings.append(f"pip check skipped: {error}")
            else:
                checked = run_pip_check(pip, venv_python, manifest.python)
    report = evaluate_audit(
        manifest,
        index,
        view,
        _package_versions(options.admin_dir),
        venv=venv_dir,
        pip_check=checked,
        warnings=warnings,
        removed=dpkglog.removed_versions(dpkglog.default_log(options.admin_dir)),
    )
    return report, index


def _examine(venv_dir: Path, manifest: Manifest, admin_dir: Path) -> Tuple[SuiteIndex, _VenvView, Path]:
    """The installed index for the manifest's interpreter, and the venv's view."""
    python = manifest.python
    if not python.exists():
        raise AuditFailure(
            f"{python}: the interpreter {venv_dir} was built for (manifest {manifest.path}) is gone: "
            "the venv cannot run; rebuild it with debvenv build"
        )
    venv_python = venv_dir / "bin" / "python"
    if not venv_python.exists():
        raise AuditFailure(f"{venv_python}: missing: the venv is damaged; rebuild it with debvenv build")
    try:
        view = _probe_venv(venv_python)
    except BuildFailure as error:
        raise AuditFailure(f"{venv_dir}: cannot examine the venv: {error}") from error
    return load_installed(python, admin_dir), view, venv_python


def _package_versions(admin_dir: Path) -> Dict[str, str]:
    return {package: record.version for (package, _arch), record in dpkgdb.read_status(admin_dir).items()}


def _audit_warnings(venv_dir: Path, manifest: Manifest, view: _VenvView) -> List[str]:
    warnings: List[str] = []
    if os.path.realpath(manifest.venv) != str(venv_dir):
        warnings.append(
            f"{manifest.path}: was written for a venv at {manifest.venv}: a venv cannot be moved "
            "(its scripts name their directory); rebuild it where it is"
        )
    now = view.environment.get("python_full_version", "")
    if now.split(".")[:2] != manifest.python_version.split(".")[:2]:
        warnings.append(
            f"{manifest.python} is Python {now}, the venv was built for {manifest.python_version}: "
            "its site-packages is no longer on the path; rebuild it with debvenv build"
        )
    warnings.extend(_leftover_warnings(venv_dir))
    return warnings


def run_pip_check(pip: _Pip, venv_python: Path, system_python: Path) -> PipCheck:
    """``pip check`` under the venv's interpreter and, at the same time, under the system's."""
    try:
        baseline_process: Optional[subprocess.Popen] = subprocess.Popen(
            pip.command(system_python, ["check"]),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(pip.env),
        )  # fmt: skip
    except OSError:
        baseline_process = None
    try:
        completed = pip.run(venv_python, ["check"])
        baseline: List[str] = []
        if baseline_process is not None:
            output, _ = baseline_process.communicate()
            baseline = _check_lines(output)
    finally:
        if baseline_process is not None and baseline_process.poll() is None:
            baseline_process.kill()
            baseline_process.wait()
    found = _check_lines(completed.stdout) if completed.returncode != 0 else []
    if completed.returncode != 0 and not found:
        raise AuditFailure(f"pip check failed under {venv_python} (exit {completed.returncode}): {completed.stderr}")
    known = set(baseline)
    return PipCheck(
        ran=True,
        problems=tuple(line for line in found if line not in known),
        system=tuple(line for line in found if line in known),
    )


# ---- judging ------------------------------------------------------------------------


def evaluate_audit(
    manifest: Manifest,
    index: SuiteIndex,
    view: _VenvView,
    packages: Mapping[str, str],
    *,
    venv: Optional[Path] = None,
    pip_check: PipCheck = PipCheck(),
    warnings: Sequence[str] = (),
    removed: Mapping[str, str] = _NOTHING_REMOVED,
) -> AuditReport:
    """Judge every distribution (module docstring) from what was found; no I/O.

    ``index`` is the installed target for the manifest's interpreter,
    ``view`` what the venv's interpreter sees, ``packages`` dpkg's
    installed package -> version, ``removed`` package -> the version dpkg's
    log says it last removed (``dpkglog.removed_versions``).
    """
    demands = walk_demands(manifest, view)
    by_path: Dict[str, Provider] = {}
    for providers in index.providers.values():
        for provider in providers:
            if provider.path:
                by_path.setdefault(os.path.normpath(provider.path), provider)
    keys: Set[str] = set(demands)
    keys.update(normalize(d.name) for d in manifest.distributions)
    keys.update(
        key for key, seen in view.visible.items()
        if seen.path is not None and any(_inside(os.path.realpath(seen.path), site) for site in view.site)
    )  # fmt: skip
    judged = []
    for key in keys:
        seen = view.visible.get(key)
        on = tuple(demands.get(key, ()))
        now = _used(seen, view, by_path, tuple(sorted({d.required_by for d in on}))) if seen else None
        judged.append(_judge(key, now, manifest.distribution(key), index.lookup(key), on, packages, removed))
    order = {status: number for number, status in enumerate(STATUSES)}
    judged.sort(key=lambda d: (order[d.status], d.key))
    return AuditReport(
        venv=venv or Path(manifest.venv),
        manifest=manifest,
        python_now=view.environment.get("python_full_version", ""),
        distributions=tuple(judged),
        pip_check=pip_check,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def walk_demands(manifest: Manifest, view: _VenvView) -> Dict[str, List[Demand]]:
    """Every requirement on each distribution, from the manifest's requirements down (``venv.walk_demands``).

    The one walk build's verification also judges by: what build accepted, audit finds met.
    """
    return venv_walk_demands([entry.requirement for entry in manifest.requirements], view)


def _satisfies(provider: Provider, demands: Sequence[Demand]) -> bool:
    """Whether Debian's copy would meet every demand (a URL requirement is never Debian's)."""
    if any(d.url for d in demands):
        return False
    try:
        version = Version(provider.version)
    except InvalidVersion:
        return all(not d.specifier for d in demands)
    return all(d.specifier.contains(version, prereleases=True) for d in demands)


def _best_debian(providers: Sequence[Provider], demands: Sequence[Demand]) -> Optional[Provider]:
    """The first provider (path order) meeting every demand, else the first one."""
    return next((p for p in providers if _satisfies(p, demands)), providers[0] if providers else None)


def _moved(package: str, before: str, after: str) -> str:
    try:
        direction = compare_debian_versions(after, before)
    except DebianVersionError:
        direction = 0
    verb = "upgraded" if direction > 0 else "downgraded" if direction < 0 else "changed"
    return f"{package} was {verb} from {before} to {after}"


def _cause(
    name: str,
    now: Optional[UsedDistribution],
    built: Optional[UsedDistribution],
    packages: Mapping[str, str],
    removed: Mapping[str, str],
) -> Optional[str]:
    """What happened to a distribution whose requirement broke, where the manifest (and dpkg's log) can tell."""
    if now is None:
        if built is None:
            return None
        if built.provenance == DEBIAN and built.package:
            current = packages.get(built.package)
            if current is None:
                return _removal(built.package, built.debian_version or "", removed.get(built.package))
            if current != built.debian_version:
                return f"{_moved(built.package, built.debian_version or '', current)} and no longer provides {name}"
            return f"{built.package} {current} no longer provides {name}"
        if built.provenance == VENV_PROVENANCE:
            return f"the venv's copy {built.version} is gone"
        return f"{built.path} is gone"
    if now.provenance == DEBIAN:
        if built is not None and built.provenance == DEBIAN and built.package == now.package:
            if built.debian_version != now.debian_version:
                moved = _moved(now.package or "", built.debian_version or "", now.debian_version or "")
                return f"{moved} ({name} {now.version})"
        return f"found {name} {now.version} from {now.package} {now.debian_version}"
    if now.provenance == VENV_PROVENANCE:
        changed = f" (was {built.version})" if built is not None and built.version != now.version else ""
        return f"the venv's copy is {now.version}{changed}"
    return f"found {name} {now.version} at {now.path}, owned by no Debian package"


def _removal(package: str, manifest_version: str, logged: Optional[str]) -> str:
    """A package that is gone: the version dpkg's log says it removed, else only what the manifest had."""
    # An upgrade after the build may have come first: the manifest's version is not the one removed.
    if logged is None:
        return f"{package} is no longer installed (manifest had {manifest_version})"
    if logged == manifest_version:
        return f"{package} {logged} was removed"
    return f"{package} {logged} was removed (manifest had {manifest_version})"


def _demand_list(demands: Sequence[Demand]) -> str:
    return ", ".join(d.text for d in demands)


def _judge(
    key: str,
    now: Optional[UsedDistribution],
    built: Optional[UsedDistribution],
    providers: Sequence[Provider],
    demands: Sequence[Demand],
    packages: Mapping[str, str],
    removed: Mapping[str, str] = _NOTHING_REMOVED,
) -> DistributionAudit:
    name = now.name if now else built.name if built else demands[0].name if demands else key
    debian = _best_debian(providers, demands)

    def verdict(status: str, *reasons: str) -> DistributionAudit:
        return DistributionAudit(name, status, tuple(reasons), now, built, debian, tuple(demands))

    unmet = [d for d in demands if not d.met]
    if unmet:
        cause = _cause(name, now, built, packages, removed)
        return verdict(BROKEN, *(f"{d.text} is not met: {cause or d.problem}" for d in unmet))
    no_longer = "no longer required" + (
        f" (was required by {', '.join(r or 'a top-level requirement' for r in built.required_by)})"
        if built is not None and built.required_by else ""
    )  # fmt: skip
    if now is None:
        # Listed in the manifest, required by nothing now and not installed.
        return verdict(CHANGED, f"{no_longer}; not installed any more")
    if now.provenance == VENV_PROVENANCE:
        if debian is not None:
            hidden = f"{debian.package} {debian.debian_version} ({debian.name} {debian.version})"
            if demands and _satisfies(debian, demands):
                return verdict(
                    REDUNDANT,
                    f"{hidden} satisfies {_demand_list(demands)}: the venv's copy {now.version} can go "
                    "(sync --drop-redundant)",
                )
            needing = [d for d in demands if not _satisfies(debian, [d])]
            why = f"{_demand_list(needing)} needs the venv's copy" if needing else "nothing requires it"
            return verdict(SHADOWING, f"the venv's copy {now.version} hides {hidden}: {why}")
        if built is None:
            return verdict(CHANGED, f"the venv's copy {now.version} is not in the manifest (installed by hand?)")
        if built.provenance != VENV_PROVENANCE:
            return verdict(CHANGED, f"now {now.provenance_text}; built with {built.provenance_text}")
        if built.version != now.version:
            return verdict(CHANGED, f"the venv's copy changed from {built.version} to {now.version}")
    elif now.provenance == DEBIAN:
        if built is None:
            return verdict(CHANGED, f"newly relied on: {now.package} {now.debian_version} ({now.version})")
        if built.provenance != DEBIAN:
            return verdict(CHANGED, f"now {now.provenance_text}; built with {built.provenance_text}")
        if (built.package, built.debian_version) != (now.package, now.debian_version):
            if built.package == now.package:
                change = _moved(now.package or "", built.debian_version or "", now.debian_version or "")
            else:
                change = (
                    f"now from {now.package} {now.debian_version}, "
                    f"built with {built.package} {built.debian_version}"
                )
            still = f"; still satisfies {_demand_list(demands)}" if demands else ""
            return verdict(CHANGED, f"{change} ({built.version} -> {now.version}){still}")
    elif built is None or built.provenance != FOREIGN or built.version != now.version:
        return verdict(CHANGED, f"now {now.provenance_text}, owned by no Debian package")
    if built is not None and built.required_by and not demands:
        return verdict(CHANGED, no_longer)
    return verdict(OK)


# ---- sync ---------------------------------------------------------------------------


class SyncFailure(EnvironmentFailure):
    """``sync`` could not converge the venv; the venv is as it was (exit 3)."""


@dataclass(frozen=True)
class SyncResult:
    """What ``sync`` did."""

    venv: Path
    before: AuditReport  # the audit sync acted on
    requested: Tuple[str, ...]  # the lines pip was asked to install (one per broken distribution)
    installed: Tuple[InstalledDistribution, ...]  # what pip installed
    removed: Tuple[UsedDistribution, ...]  # the redundant venv copies removed
    kept_redundant: Tuple[DistributionAudit, ...]  # redundant copies left (no --drop-redundant)
    build: Optional[BuildResult]  # the venv as the new manifest describes it; None when untouched
    warnings: Tuple[str, ...] = ()

    @property
    def manifest_written(self) -> bool:
        return self.build is not None


def sync_venv(
    venv_dir: Path,
    options: TargetOptions = TargetOptions(),
    *,
    drop_redundant: bool = False,
    pip_args: Optional[Sequence[str]] = None,
    env: Optional[Mapping[str, str]] = None,
    now: Optional[datetime] = None,
    checkpoint: Checkpoint = no_checkpoint,
) -> SyncResult:
    """``debvenv sync``: repair what ``audit`` finds broken, optionally drop redundant copies.

    ``pip_args`` (default: the manifest's) go to ``pip install``. Nothing
    to do leaves the venv and its manifest untouched; only ``changed``
    distributions rewrite the manifest. Raises ManifestError (exit 2),
    UnsafeVenvError (exit 2) for a ``pip_args`` installing elsewhere, and
    SyncFailure or BuildFailure (exit 3) -- with the venv as it was.
    ``checkpoint`` is ``build_venv``'s test seam (``venv.CHECKPOINTS``).
    """
    environment = dict(os.environ if env is None else env)
    venv_dir = Path(os.path.realpath(venv_dir))
    recovered = recover_leftovers(venv_dir) if os.path.isdir(venv_dir.parent) else []
    checkpoint("recovered")
    before, index = _audit(venv_dir, options, environment, True)
    manifest = before.manifest
    args = tuple(manifest.pip_args if pip_args is None else pip_args)
    refuse_redirecting_pip_args(args)
    broken = before.with_status(BROKEN)
    redundant = before.with_status(REDUNDANT)
    drop = redundant if drop_redundant else ()
    kept = () if drop_redundant else redundant
    if not broken and not drop:
        if before.pip_check.problems:
            raise SyncFailure(_unrepairable(before))
        if not before.with_status(CHANGED):
            return SyncResult(venv_dir, before, (), (), (), kept, None)
    lines = tuple(repair_line(audit, manifest) for audit in broken)
    if lines and any(_MASKED in arg for arg in args):
        raise SyncFailure(
            "the manifest's pip arguments had credentials, masked when it was written: "
            "give sync the pip arguments again"
        )

    requirements = requirement_set(manifest)
    report = check(requirements, [index])
    plan = make_plan(report, index.target.id, requirement_set=requirements)
    venv_python = venv_dir / "bin" / "python"
    stamp = now or datetime.now(timezone.utc)
    if not lines and not drop:
        # Only the manifest is out of date: replacing that one file is atomic already.
        result = _finish(manifest, venv_dir, venv_python, index, report, plan, None, (), {}, args)
        _write_json(result.manifest, _sync_document(result, manifest, stamp))
        return SyncResult(venv_dir, before, (), (), (), kept, result, tuple(recovered) + result.warnings)

    destination = _Destination(venv_dir, checkpoint)
    with _terminate_as_interrupt(), _sane_umask(), tempfile.TemporaryDirectory(prefix="debvenv-sync-") as work:
        try:
            destination.begin()
            destination.copy_previous()
            checkpoint("created")
            venv_python = destination.work / "bin" / "python"
            pip = _Pip.extract(before.python_now, Path(work), environment)
            removed = _drop(pip, venv_python, drop)
            installed: Tuple[InstalledDistribution, ...] = ()
            forced: Dict[str, str] = {}
            if lines:
                pins, unpinned = debian_pins(index, report, requirements)
                unpinned.update({a.key: _demand_list(a.demands) for a in broken})
                sync_plan = Plan(
                    target=index.target, apt_packages=(), venv_requirements=lines, debian_depends=(),
                    requirements=(),
                )  # fmt: skip
                pip_report, forced = _install(pip, venv_python, Path(work), sync_plan, pins, unpinned, args)
                installed = _installed_distributions(pip_report)
            checkpoint("installed")
            pip_warnings = _pip_check(pip, venv_python, manifest.python)
            result = _finish(
                manifest, destination.work, venv_python, index, report, plan, pip, installed, forced, args,
                removed=removed, warnings=pip_warnings,
            )  # fmt: skip
            result = destination.relocate(result)
            _write_json(destination.work / MANIFEST_NAME, _sync_document(result, manifest, stamp))
            checkpoint("manifest")
        except BaseException:
            destination.rollback()
            raise
        leftover = destination.commit()
    return SyncResult(
        venv_dir, before, lines, installed, removed, kept, result, tuple(recovered) + result.warnings + tuple(leftover)
    )


def _unrepairable(report: AuditReport) -> str:
    return (
        "pip check finds problems in the venv that installing into it cannot repair:\n  "
        + "\n  ".join(report.pip_check.problems)
        + "\nrebuild the venv with debvenv build"
    )


def repair_line(audit: DistributionAudit, manifest: Manifest) -> str:
    """One pip requirement meeting every demand on a broken distribution at once (``venv.demand_line``)."""
    masked = next((d for d in audit.demands if d.url and _MASKED in d.url), None)
    if masked is not None:
        raise SyncFailure(
            f"{masked.text}: its URL had credentials, masked in {manifest.path}: rebuild the venv with debvenv build"
        )
    name = next((d.name for d in audit.demands if not d.required_by), audit.name)
    return demand_line(name, audit.demands)


def _drop(pip: _Pip, venv_python: Path, redundant: Sequence[DistributionAudit]) -> Tuple[UsedDistribution, ...]:
    """``pip uninstall`` the redundant venv copies (only ever the venv's: pip leaves the system's alone)."""
    copies = tuple(a.now for a in redundant if a.now is not None and a.now.provenance == VENV_PROVENANCE)
    if not copies:
        return ()
    completed = pip.run(venv_python, ["uninstall", "--yes", *(c.name for c in copies)], merged=True)
    if completed.returncode != 0:
        lines = _check_lines(completed.stdout)[-12:]
        raise SyncFailure(f"pip uninstall failed (exit {completed.returncode}):\n  " + "\n  ".join(lines))
    return copies


def _finish(
    manifest: Manifest,
    venv_dir: Path,
    venv_python: Path,
    index: SuiteIndex,
    report: CheckReport,
    plan: Plan,
    pip: Optional[_Pip],
    installed: Sequence[InstalledDistribution],
    forced: Mapping[str, str],
    pip_args: Tuple[str, ...],
    *,
    removed: Sequence[UsedDistribution] = (),
    warnings: Sequence[str] = (),
) -> BuildResult:
    """Verify the venv at ``venv_dir`` as ``build`` does: what its new manifest will say."""
    view = _probe_venv(venv_python)
    resolutions, used, problems, unresolved = _resolve(report, plan, index, view)
    # Build's own judgement: what audit would call broken, sync must not leave behind.
    problems += [
        f"{d.text} is not met: {d.problem}"
        for on in unmet_below(venv_walk_demands([r.requirement for r in report.results], view)).values()
        for d in on
        if not d.met
    ]
    if problems:
        raise SyncFailure("after sync the venv would not satisfy its requirements:\n  " + "\n  ".join(problems))
    for copy in removed:
        seen = view.visible.get(normalize(copy.name))
        if seen is not None and seen.path is not None and any(
            _inside(os.path.realpath(seen.path), site) for site in view.site
        ):
            raise SyncFailure(f"pip uninstall left {copy.name} {seen.version} in the venv at {seen.path}")
    everything = _venv_installed(manifest, view, installed, removed)
    reasons = {normalize(s.name): s.reason for s in manifest.shadowed}
    reasons.update(forced)
    result = BuildResult(
        venv=venv_dir,
        python=manifest.python,
        python_version=view.environment.get("python_full_version", manifest.python_version),
        pip_version=pip.version if pip is not None else manifest.pip_version,
        pip_args=pip_args,
        installed=everything,
        resolutions=resolutions,
        distributions=used,
        shadowed=_shadows(everything, index, reasons),
        constraints=(),
        manifest=venv_dir / MANIFEST_NAME,
        replaced_previous=False,
        warnings=tuple(dict.fromkeys(list(warnings) + list(unresolved))),
    )
    return result


def _sync_document(result: BuildResult, manifest: Manifest, now: datetime) -> Dict[str, Any]:
    document = dict(manifest_document(result, now=now))
    # The build's own record of what --apt-install did stays true after a sync.
    for key, value in manifest.document.items():
        if key not in _RECOMPUTED_KEYS:
            document[key] = value
    return document


def _venv_installed(
    manifest: Manifest,
    view: _VenvView,
    installed: Sequence[InstalledDistribution],
    removed: Sequence[UsedDistribution],
) -> Tuple[InstalledDistribution, ...]:
    """Everything pip put in the venv, at build or now, that is still there."""
    gone = {normalize(c.name) for c in removed}
    new = {normalize(d.name): d for d in installed}
    found: Dict[str, InstalledDistribution] = {}
    for distribution in manifest.distributions:
        key = normalize(distribution.name)
        if distribution.provenance == VENV_PROVENANCE and key not in gone:
            found[key] = InstalledDistribution(
                name=distribution.name, version=distribution.version,
                requested="" in distribution.required_by, source=manifest.sources.get(key),
            )  # fmt: skip
    found.update(new)
    kept = []
    for key, distribution in sorted(found.items()):
        seen = view.visible.get(key)
        if seen is None or seen.path is None or not any(_inside(os.path.realpath(seen.path), s) for s in view.site):
            continue
        if seen.version != distribution.version:  # changed by hand: where it came from is unknown
            distribution = dataclasses.replace(distribution, version=seen.version, source=None)
        kept.append(distribution)
    return tuple(kept)


# ---- rendering ----------------------------------------------------------------------


def _copy_document(copy: Optional[UsedDistribution]) -> Optional[Dict[str, Any]]:
    if copy is None:
        return None
    return {
        "provenance": copy.provenance,
        "version": copy.version,
        "package": copy.package,
        "debian_version": copy.debian_version,
        "path": copy.path,
    }


def audit_document(report: AuditReport) -> Dict[str, Any]:
    """The ``debvenv.audit/1`` document (module docstring)."""
    manifest = report.manifest
    distributions = []
    for audit in report.distributions:
        debian = audit.debian
        distributions.append({
            "name": audit.name,
            "status": audit.status,
            "reasons": list(audit.reasons),
            "now": _copy_document(audit.now),
            "built": _copy_document(audit.built),
            "debian": None if debian is None else {
                "package": debian.package, "debian_version": debian.debian_version,
                "version": debian.version, "path": debian.path,
            },
            "required_by": sorted({d.required_by for d in audit.demands}),
            "requirements": [
                {"requirement": d.requirement, "required_by": d.required_by, "origin": d.origin,
                 "specifier": str(d.specifier), "met": d.met}
                for d in audit.demands
            ],
        })  # fmt: skip
    return {
        "schema": SCHEMA,
        "venv": str(report.venv),
        "manifest": {
            "path": str(manifest.path), "created": manifest.created, "debvenv_version": manifest.debvenv_version,
        },
        "python": {"path": str(manifest.python), "built": manifest.python_version, "now": report.python_now},
        "distributions": distributions,
        "pip_check": {
            "ran": report.pip_check.ran,
            "problems": list(report.pip_check.problems),
            "system": list(report.pip_check.system),
        },
        "summary": report.summary(),
        "exit_code": report.exit_code,
        "warnings": list(report.warnings),
    }


def render_audit_json(report: AuditReport, *, quiet: bool = False) -> str:
    """The JSON report; with ``quiet``, nothing unless something is broken or redundant."""
    if quiet and not report.needs_attention:
        return ""
    return json.dumps(audit_document(report), indent=2, sort_keys=True) + "\n"


def _wrapped(text: str, indent: int) -> List[str]:
    return textwrap.wrap(
        text, width=_WIDTH, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2),
        break_long_words=False, break_on_hyphens=False,
    )  # fmt: skip


def render_audit_table(report: AuditReport, *, quiet: bool = False) -> str:
    """The terminal report, grouped by status; ``quiet`` shows only broken and redundant, or nothing."""
    if quiet and not report.needs_attention:
        return ""
    manifest = report.manifest
    lines = _wrapped(
        f"{report.venv}: Python {report.python_now or manifest.python_version} ({manifest.python}), "
        f"manifest of {manifest.created}",
        0,
    )
    shown = (BROKEN, REDUNDANT) if quiet else STATUSES
    width = min(28, max([len(d.name) for d in report.distributions] + [12]))
    for status in shown:
        group = report.with_status(status)
        if not group:
            continue
        lines += ["", f"{status} ({len(group)})"]
        for audit in group:
            lines.append(f"  {audit.name:<{width}}  {audit.now_text}".rstrip())
            for reason in audit.reasons:
                lines += _wrapped(reason, 6)
    if report.pip_check.problems:
        lines += ["", f"pip check: {len(report.pip_check.problems)} problem(s) the system alone does not have"]
        # pip's own words, unwrapped: they are what one searches for.
        lines += [f"  {problem}" for problem in report.pip_check.problems]
    if report.warnings and not quiet:
        lines += ["", "warnings:"]
        for warning in report.warnings:
            lines += _wrapped(warning, 2)
    counts = report.summary()
    checked = "" if report.pip_check.ran else "; pip check not run"
    lines += ["", *_wrapped(
        f"{len(report.distributions)} distributions: "
        + ", ".join(f"{counts[status]} {status}" for status in STATUSES) + checked, 0
    )]  # fmt: skip
    return "\n".join(lines) + "\n"


def render_audit(report: AuditReport, output_format: str = "table", *, quiet: bool = False) -> str:
    """``table`` or ``json``."""
    if output_format == "json":
        return render_audit_json(report, quiet=quiet)
    if output_format == "table":
        return render_audit_table(report, quiet=quiet)
    raise ValueError(f"unknown audit format {output_format!r}")


def render_sync(result: SyncResult) -> str:
    """What sync did, then the redundant copies it left."""
    lines: List[str] = []
    if result.requested or result.removed:
        lines.append(f"{result.venv}: synced")
    elif result.build is not None:
        lines.append(f"{result.venv}: manifest updated (the venv needed no change)")
    else:
        lines.append(f"{result.venv}: nothing to sync")
    if result.requested:
        broken = result.before.with_status(BROKEN)
        lines += ["", f"repaired ({len(broken)}):"]
        for audit in broken:
            for reason in audit.reasons:
                lines += _wrapped(f"{audit.name}: {reason}", 2)
        lines += ["", f"installed into the venv ({len(result.installed)}):"]
        for distribution in result.installed:
            lines.append(f"  {distribution.name} {distribution.version}")
    if result.removed:
        lines += ["", f"removed from the venv, Debian satisfies them ({len(result.removed)}):"]
        debian = {a.key: a.debian for a in result.before.with_status(REDUNDANT)}
        for copy in result.removed:
            after = debian.get(normalize(copy.name))
            instead = f" (now {after.package} {after.debian_version})" if after is not None else ""
            lines.append(f"  {copy.name} {copy.version}{instead}")
    if result.kept_redundant:
        lines += ["", f"redundant, kept (sync --drop-redundant removes them) ({len(result.kept_redundant)}):"]
        for audit in result.kept_redundant:
            lines.append(f"  {audit.name} {audit.now.version if audit.now else ''}".rstrip())
    changed = result.before.with_status(CHANGED)
    if changed and result.build is not None:
        lines += ["", f"recorded in the manifest ({len(changed)}):"]
        for audit in changed:
            for reason in audit.reasons:
                lines += _wrapped(f"{audit.name}: {reason}", 2)
    if result.build is not None and result.build.shadowed:
        lines += ["", f"shadowing Debian ({len(result.build.shadowed)}):"]
        for shadow in result.build.shadowed:
            lines += _wrapped(
                f"{shadow.name} {shadow.version} shadows {shadow.package} {shadow.debian_version}"
                f" ({shadow.debian_distribution_version}): {shadow.reason}", 2,
            )  # fmt: skip
    if result.warnings:
        lines += ["", "warnings:"]
        for warning in result.warnings:
            lines += _wrapped(warning, 2)
    if result.build is not None:
        lines += ["", f"manifest: {result.build.manifest}"]
    return "\n".join(lines) + "\n"
