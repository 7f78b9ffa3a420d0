"""``debvenv build``: a ``--system-site-packages`` venv holding only what Debian does not satisfy.

The steps, each of which can fail without leaving a half-built venv behind:

1. Evaluate the requirements against the ``installed`` target (dpkg's
   packages as the target interpreter sees them) and plan them
   (``plan.make_plan``): satisfied ones stay with Debian, the rest are
   written to a pip requirements file, with the requirement files' pip
   options and constraint files.
2. Pin every Debian-provided distribution the interpreter sees in a pip
   constraints file (``NAME==VERSION``), so that pip never replaces a
   Debian library on its own. A distribution is left unpinned only where a
   requirement forces another version: a direct requirement Debian does not
   satisfy, a user constraint excluding Debian's version, or -- found when
   pip reports ``ResolutionImpossible`` with the pins -- a transitive
   requirement excluding it. What pip then installs over a Debian
   distribution is reported as shadowing it.
3. Create the venv with the ``virtualenv`` library (``--system-site-packages
   --no-seed``) and run pip from virtualenv's own embedded pip wheel under
   the venv's interpreter: pip installs into the venv without being
   installed there, so the venv's site-packages holds exactly what the
   system lacks. ``pip install --report`` says what was installed.
4. Verify with audit's own judgement (``walk_demands``): every applicable
   requirement, direct or transitive, extras included, resolves under the
   venv's interpreter, with its provenance. What a Debian package requires
   and nothing provides (python3-gi's PyGObject requires pycairo) pip never
   saw: it is installed into the venv in a second pip run, and a build
   that still leaves a requirement unmet fails (exit 1), so a venv build
   accepts audits clean. Then ``pip check`` over the combined view (venv +
   system), where only problems the system did not already have count.
5. Write the manifest ``DIR/debvenv.json``.

The manifest (JSON, sorted keys, ``"schema": "debvenv.manifest/1"``):
``venv``, ``created`` (UTC), ``debvenv_version``; ``python`` {path,
version}; ``pip`` {version (null when pip was not needed), args (URL
credentials masked)}; ``requirements``: one per top-level requirement in
file order -- requirement (as written), file, line, name, specifier,
extras, marker, url, status (its verdict on ``installed``; after
--apt-install, the apt lists' where nothing installed provides it and
their version does not fit: ``explained_by_apt``), reason (why
Debian or the venv), and the distribution that answers it: provenance
(``debian`` | ``venv`` | ``foreign``; null when not applicable), version,
package, debian_version, path; ``distributions``: every distribution a
requirement uses, directly or transitively (markers evaluated for the
venv's interpreter), and everything pip installed -- name, version,
provenance, package, debian_version, path, required_by (normalized names,
``""`` for a top-level requirement), source (pip's download URL);
``shadowed``: venv copies of Debian-provided distributions -- name,
version, package, debian_version, debian_distribution_version, reason;
``debian_packages``: package -> Debian version relied on; ``warnings``.

Safety: a ``--venv`` that is a system prefix (``/``, ``/usr``, ``/usr/local``,
the interpreter's prefixes or an ancestor of one), lies inside the
interpreter's site-packages, or exists without a ``pyvenv.cfg`` is refused
before anything is touched, and so is a ``--pip-arg`` that would install
elsewhere (``--target``, ``--prefix``, ``--root``, ``--user``). The new
venv is built in a staging directory beside DIR (``.NAME.debvenv-new-XXXXXXXX``,
locked while the build lives), verified there, its paths rewritten to name
DIR (virtualenv and pip write absolute paths: ``relocation.rewrite_tree``),
its manifest written, and only then swapped in with one atomic exchange
(``_Destination``): at every moment DIR is the previous venv, the new
verified one, or absent on a first build, even under SIGKILL or power loss.
Ctrl-C, SIGTERM or any failure removes the staging directory; what a
SIGKILL leaves there is removed by the next build or sync of DIR
(``recover_leftovers``), which says so. The venv is made with group and
world write masked off the umask. Concurrent builds of one DIR each build
their own copy; the last to finish wins.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from debvenv import __version__
from debvenv.errors import EXIT_CHECK_FAILED, DebvenvError, EnvironmentFailure, InputError
from debvenv.files import exchange, locked_directory, rename_new, write_atomically
from debvenv.evaluate import (
    EXCLUDED,
    MISSING,
    NOT_APPLICABLE,
    OUTDATED,
    SATISFIED,
    TOO_NEW,
    UNKNOWN_VERSION,
    URL,
    CheckReport,
    check,
    evaluate,
    marker_applies,
)
from debvenv.index import MAPPING_GUESSED, Provider, SuiteIndex
from debvenv.names import normalize
from debvenv.plan import APT, VENV, Plan, apt_package, make_plan
from debvenv.relocation import rewrite_tree
from debvenv.requirements import Origin, Requirement, RequirementSet, requirement_document
from debvenv.sources import aptlists, dpkgdb
from debvenv.sources.installed import DEFAULT_PYTHON, MARKER_ENVIRONMENT_PROBE, load_installed, run_probe

SCHEMA = "debvenv.manifest/1"
MANIFEST_NAME = "debvenv.json"

# Where a distribution the venv's interpreter sees comes from.
DEBIAN = "debian"  # a dpkg-owned dist-info/egg-info
VENV_PROVENANCE = "venv"  # the venv's own site-packages
FOREIGN = "foreign"  # outside the venv, owned by no Debian package (pip put it in /usr/local)

# pip >= 22.2 writes ``install --report``.
_MIN_PIP = Version("22.2")
# Verdicts where Debian's copy cannot be the answer: pip must install another one.
_FORCED_PAST_DEBIAN = (OUTDATED, TOO_NEW, EXCLUDED, UNKNOWN_VERSION, URL)
_SYSTEM_PREFIXES = ("/", "/usr", "/usr/local")
_ASIDE_INFIX = ".debvenv-old-"
_STAGING_INFIX = ".debvenv-new-"
_ERROR_LINES = 12
_CREDENTIALS_RE = re.compile(r"(?<=://)[^/@\s]+@")

# --apt-install: where a distribution went.
APT_DESTINATION = "apt"
PIP_DESTINATION = "pip"
DEFAULT_APT_GET = "apt-get"
# A round moves what the previous round's packages newly leave to pip; real
# dependency chains settle in a few, the bound stops one that would not.
MAX_APT_ROUNDS = 10
_APT_LOCK_TIMEOUT = 300  # seconds apt-get waits for dpkg's lock
# A package name as apt-get's output writes it ("Setting up python3-six (1.16.0-4) ...",
# "Unpacking libfoo:amd64 (...)"), in any language.
_APT_OUTPUT_WORD = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_PIP_REPORT_ORIGIN = Origin(file="<pip --report>", line=0)


# The build's test seam: ``build_venv`` and ``sync_venv`` call ``checkpoint(name)`` with
# each of these names as they pass that point, in this order (those a run does not reach,
# such as "installed" when nothing needs pip, are skipped). Tests kill the process there.
CHECKPOINTS = (
    "recovered",  # leftovers of interrupted runs cleaned up; nothing else touched yet
    "staging",  # the staging directory exists and is locked
    "created",  # the new venv exists in the staging directory (build: virtualenv ran; sync: copied)
    "installed",  # pip has installed into it
    "relocated",  # its paths name DIR
    "manifest",  # its manifest is written: the new venv is complete, still in the staging directory
    "swapped",  # DIR is the new venv; the previous one is in the staging directory
    "removing",  # part of the previous venv is deleted
    "done",  # nothing is left but DIR
)
Checkpoint = Callable[[str], None]


def no_checkpoint(_name: str) -> None:
    """The checkpoint of a real run: nothing."""


class UnsafeVenvError(InputError):
    """The ``--venv`` directory, or a ``--pip-arg``, would have the build write outside a venv."""


class BuildFailure(EnvironmentFailure):
    """virtualenv or pip could not run, or pip could not reach its package indexes (exit 3)."""


class RequirementsUnmet(BuildFailure):
    """pip ran and reached its indexes, yet the requirements cannot be installed (exit 1).

    No version satisfies, the versions conflict, a distribution fails to
    build, or the new venv does not satisfy what ``audit`` would check:
    the requirements are unmet, as docs/design.md's exit 1 says, not the machine.
    """

    exit_code = EXIT_CHECK_FAILED


class AptInstallRefused(InputError):
    """``--apt-install`` cannot run here: not root, or apt's Python is not the target interpreter."""


class AptInstallFailure(EnvironmentFailure):
    """``apt-get install`` failed."""


# ---- the result --------------------------------------------------------------------


@dataclass(frozen=True)
class InstalledDistribution:
    """One distribution pip installed into the venv, as ``pip install --report`` says."""

    name: str
    version: str
    requested: bool  # named by the requirements pip was given, not pulled in
    source: Optional[str]  # the URL pip took it from, credentials removed


@dataclass(frozen=True)
class Shadow:
    """A venv copy of a distribution Debian also provides: the venv's wins in imports."""

    name: str
    version: str  # the venv's
    package: str
    debian_version: str
    debian_distribution_version: str  # Debian's copy, as its metadata says
    reason: str  # what forced the other version


@dataclass(frozen=True)
class UsedDistribution:
    """A distribution visible to the venv that a requirement (direct or transitive) uses."""

    name: str
    version: str
    provenance: str  # DEBIAN | VENV_PROVENANCE | FOREIGN
    path: Optional[str]
    package: Optional[str] = None
    debian_version: Optional[str] = None
    required_by: Tuple[str, ...] = ()  # normalized names; "" for a top-level requirement

    @property
    def provenance_text(self) -> str:
        """``debian: python3-yaml 6.0-3`` or ``venv: 2.31.0``."""
        if self.provenance == DEBIAN:
            return f"debian: {self.package} {self.debian_version}"
        if self.provenance == VENV_PROVENANCE:
            return f"venv: {self.version}"
        return f"foreign: {self.version} at {self.path}"


@dataclass(frozen=True)
class Resolution:
    """One top-level requirement as the finished venv resolves it."""

    requirement: Requirement
    status: str  # its verdict against the installed target
    reason: str  # why it went to Debian or to the venv
    distribution: Optional[UsedDistribution]  # None when not applicable

    @property
    def provenance_text(self) -> str:
        return self.distribution.provenance_text if self.distribution else NOT_APPLICABLE


@dataclass(frozen=True)
class AptChoice:
    """Where ``--apt-install`` sent one distribution pip would otherwise install, and why."""

    name: str  # as pip or the requirement spells it
    destination: str  # APT_DESTINATION | PIP_DESTINATION
    reason: str  # "python3-six 1.16.0-4 satisfies six>=1.10 (required by sixuser 1.0)"
    version: Optional[str] = None  # the apt package's distribution version, or the one pip chose
    package: Optional[str] = None  # the Debian package apt installed, for APT_DESTINATION
    debian_version: Optional[str] = None
    round: int = 0  # 1: a requirement named it; N > 1: the (N-1)th pip dry run did; 0 for pip


@dataclass(frozen=True)
class AptOutcome:
    """What ``--apt-install`` did before pip ran."""

    choices: Tuple[AptChoice, ...] = ()  # the apt ones in install order, then what stays with pip
    packages: Tuple[Tuple[str, str], ...] = ()  # (package, version) dpkg newly has, dependencies too
    warnings: Tuple[str, ...] = ()
    apt_index: Optional[SuiteIndex] = None  # the apt lists it judged by


@dataclass(frozen=True)
class BuildResult:
    """What ``build`` made: the data the manifest and the summary are rendered from."""

    venv: Path
    python: Path
    python_version: str
    pip_version: Optional[str]  # None when nothing needed pip
    pip_args: Tuple[str, ...]
    installed: Tuple[InstalledDistribution, ...]
    resolutions: Tuple[Resolution, ...]
    distributions: Tuple[UsedDistribution, ...]  # sorted by normalized name
    shadowed: Tuple[Shadow, ...]
    constraints: Tuple[str, ...]  # the Debian pins pip was given
    manifest: Path
    replaced_previous: bool  # a previous venv at the same place was replaced
    warnings: Tuple[str, ...] = ()
    apt_install: bool = False  # built with --apt-install
    apt_choices: Tuple[AptChoice, ...] = ()  # AptOutcome.choices
    apt_packages: Tuple[Tuple[str, str], ...] = ()  # AptOutcome.packages


# ---- building ----------------------------------------------------------------------


def build_venv(
    requirements: RequirementSet,
    venv_dir: Path,
    *,
    python: Path = DEFAULT_PYTHON,
    pip_args: Sequence[str] = (),
    admin_dir: Path = dpkgdb.DEFAULT_ADMIN_DIR,
    env: Optional[Mapping[str, str]] = None,
    now: Optional[datetime] = None,
    apt_install: bool = False,
    apt_lists_dir: Path = aptlists.DEFAULT_LISTS_DIR,
    apt_get: str = DEFAULT_APT_GET,
    checkpoint: Checkpoint = no_checkpoint,
) -> BuildResult:
    """Build (or rebuild) the venv at ``venv_dir`` for ``requirements`` and verify it.

    ``env`` is the environment pip and virtualenv run with (default
    ``os.environ``: the user's pip configuration and ``PIP_*`` variables
    apply). Raises UnsafeVenvError (exit 2) before touching anything when
    ``venv_dir`` must not be built over; RequirementsUnmet (exit 1) when
    pip ran but could not install the requirements (no such version, a
    conflict, a failing build: pip's error block is kept, with its cause)
    or the new venv fails verification; BuildFailure (exit 3) when
    virtualenv or pip cannot run or pip cannot reach a package index (its
    connection errors are kept) -- each after removing what the build made
    and restoring the previous venv. Without ``apt_install``, a failure
    names what the apt lists would satisfy instead (``apt_hints``).

    ``apt_install`` (root only, else AptInstallRefused, exit 2) first
    installs through apt what the apt lists (``apt_lists_dir``) offer for
    the requirements and for what pip would pull in (``install_from_apt``);
    what apt installed stays installed whatever happens to the venv.

    ``checkpoint`` is a test seam: called with each of CHECKPOINTS the build
    passes, so that a test can kill the process at each.
    """
    environment = dict(os.environ if env is None else env)
    if apt_install:
        refuse_apt_install_unless_root()
    refuse_redirecting_pip_args(pip_args)
    venv_dir = Path(os.path.realpath(venv_dir))
    facts = _interpreter_facts(python)  # first: it checks what the interpreter answers
    index = load_installed(python, admin_dir)
    _refuse_system_location(venv_dir, python, facts)
    recovered = recover_leftovers(venv_dir)
    checkpoint("recovered")
    _refuse_existing_non_venv(venv_dir)
    apt = AptOutcome()
    if apt_install:
        index, apt = install_from_apt(
            requirements, index, python=python, python_version=facts["python_full_version"],
            pip_args=pip_args, env=environment, admin_dir=admin_dir, apt_lists_dir=apt_lists_dir,
            apt_get=apt_get,
        )  # fmt: skip

    report = check(requirements, [index])
    plan = make_plan(report, index.target.id, requirement_set=requirements)
    if apt.apt_index is not None:
        plan = explained_by_apt(plan, requirements, index, apt.apt_index)
    pins, unpinned = debian_pins(index, report, requirements)
    needs_pip = _needs_pip(plan)
    warnings = _report_warnings(report) + list(apt.warnings) + recovered

    destination = _Destination(venv_dir, checkpoint)
    stamp = now or datetime.now(timezone.utc)
    with _terminate_as_interrupt(), _sane_umask(), tempfile.TemporaryDirectory(prefix="debvenv-build-") as work:
        try:
            destination.begin()
            try:
                built = _build_at(
                    destination.work,
                    Path(work),
                    index=index,
                    report=report,
                    plan=plan,
                    pins=pins,
                    unpinned=unpinned,
                    needs_pip=needs_pip,
                    python=python,
                    python_version=facts["python_full_version"],
                    pip_args=tuple(pip_args),
                    env=environment,
                    warnings=warnings,
                    replaced=destination.replaces,
                    apt=apt if apt_install else None,
                    checkpoint=checkpoint,
                )
            except BuildFailure as error:
                # pip failed, or the new venv fails the check: say what the apt lists would satisfy.
                if apt_install:
                    raise
                hints = apt_hints(requirements, index, admin_dir=admin_dir, apt_lists_dir=apt_lists_dir)
                if not hints:
                    raise
                raise type(error)(f"{error}\n" + "\n".join(hints)) from error
            built = destination.relocate(built)
            _write_json(destination.work / MANIFEST_NAME, manifest_document(built, now=stamp))
            checkpoint("manifest")
        except BaseException:
            destination.rollback()
            raise
        # The new venv is verified and its manifest written: it replaces the old one.
        return _with_warnings(built, destination.commit())


@contextlib.contextmanager
def _sane_umask() -> Iterator[None]:
    """No group or world write in a venv, whatever the caller's umask (root's 000 made 28 such files)."""
    previous = os.umask(0o022)
    os.umask(previous | 0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _build_at(
    venv_dir: Path,
    work: Path,
    *,
    index: SuiteIndex,
    report: CheckReport,
    plan: Plan,
    pins: Mapping[str, str],
    unpinned: Mapping[str, str],
    needs_pip: bool,
    python: Path,
    python_version: str,
    pip_args: Tuple[str, ...],
    env: Dict[str, str],
    warnings: List[str],
    replaced: bool,
    apt: Optional[AptOutcome] = None,
    checkpoint: Checkpoint = no_checkpoint,
) -> BuildResult:
    """The new venv at ``venv_dir`` (a staging directory), verified; its manifest is the caller's."""
    venv_python = _create_venv(venv_dir, python, env)
    checkpoint("created")
    installed: Tuple[InstalledDistribution, ...] = ()
    pip: Optional[_Pip] = None
    forced: Dict[str, str] = dict(unpinned)
    if needs_pip:
        pip = _Pip.extract(python_version, work, env)
        pip_report, forced = _install(pip, venv_python, work, plan, pins, forced, pip_args)
        installed = _installed_distributions(pip_report)

    probe = _probe_venv(venv_python)
    requirements = [planned.requirement for planned in plan.requirements]
    # What a Debian package requires and nothing provides (python3-gi's PyGObject requires
    # pycairo): pip never saw those requirements, audit would call them broken. Install them.
    missing = unmet_below(walk_demands(requirements, probe))
    if missing:
        pip = pip or _Pip.extract(python_version, work, env)
        lines = [demand_line(on[0].name, on) for on in missing.values()]
        for key, on in missing.items():
            if key in pins:
                forced.setdefault(key, "; ".join(d.text for d in on if not d.met))
        repair = dataclasses.replace(plan, venv_requirements=_option_lines(plan) + tuple(lines), requirements=())
        try:
            pip_report, forced = _install(pip, venv_python, work, repair, pins, forced, pip_args)
        except BuildFailure as error:
            needed = "; ".join(d.text for on in missing.values() for d in on if not d.met)
            raise type(error)(f"{needed}: not met by Debian, and installing it into the venv failed:\n{error}") from error
        installed = _merge_installed(installed, _installed_distributions(pip_report))
        probe = _probe_venv(venv_python)
    if installed and pip is not None:
        warnings.extend(_pip_check(pip, venv_python, python))
    if pip is not None:
        checkpoint("installed")
    resolutions, used, problems, unresolved = _resolve(report, plan, index, probe)
    problems += [
        f"{d.text} is not met: {d.problem}"
        for on in unmet_below(walk_demands(requirements, probe)).values()
        for d in on
        if not d.met
    ]
    if problems:
        raise RequirementsUnmet("the new venv does not satisfy its requirements:\n  " + "\n  ".join(problems))
    pip_version = pip.version if pip is not None else None
    warnings.extend(unresolved)
    warnings.extend(
        f"{d.name} {d.version} at {d.path} is owned by no Debian package and lies outside the venv "
        "(pip put it there): the venv relies on it"
        for d in used
        if d.provenance == FOREIGN
    )
    shadowed = _shadows(installed, index, forced)
    used_pins = {key: line for key, line in pins.items() if key not in forced}
    result = BuildResult(
        venv=venv_dir,
        python=python,
        python_version=python_version,
        pip_version=pip_version,
        pip_args=pip_args,
        installed=installed,
        resolutions=resolutions,
        distributions=used,
        shadowed=shadowed,
        constraints=tuple(used_pins[key] for key in sorted(used_pins)) if pip is not None else (),
        manifest=venv_dir / MANIFEST_NAME,
        replaced_previous=replaced,
        warnings=tuple(dict.fromkeys(warnings)),
        apt_install=apt is not None,
        apt_choices=apt.choices if apt else (),
        apt_packages=apt.packages if apt else (),
    )
    return result


def _option_lines(plan: Plan) -> Tuple[str, ...]:
    """The pip options of the plan's requirements file (--index-url, --find-links, -c FILE): no requirements."""
    return tuple(
        line for line in plan.venv_requirements
        if line.startswith("-") and not line.startswith(("-e ", "--editable"))
    )  # fmt: skip


def _merge_installed(
    first: Sequence[InstalledDistribution], then: Sequence[InstalledDistribution]
) -> Tuple[InstalledDistribution, ...]:
    merged = {normalize(d.name): d for d in first}
    merged.update((normalize(d.name), d) for d in then)
    return tuple(merged[key] for key in sorted(merged))


def _needs_pip(plan: Plan) -> bool:
    return any(p.destination == VENV or p.line is not None for p in plan.requirements)


def _with_warnings(result: BuildResult, extra: Sequence[str]) -> BuildResult:
    return dataclasses.replace(result, warnings=result.warnings + tuple(extra)) if extra else result


def _report_warnings(report: CheckReport) -> List[str]:
    # build passes the requirement files' pip options to pip: the evaluation's
    # note that it ignored them would mislead here.
    return [w for w in report.warnings if not w.endswith("ignored for evaluation")]


# ---- pins --------------------------------------------------------------------------


def debian_pins(
    index: SuiteIndex, report: CheckReport, requirements: RequirementSet
) -> Tuple[Dict[str, str], Dict[str, str]]:
    """(pins, unpinned): ``NAME==VERSION`` per Debian-provided distribution, by normalized name.

    ``unpinned`` holds, with the reason, the Debian distributions a direct
    requirement or a user constraint forces past Debian's version. Where
    several packages provide a distribution, the copy first on the
    interpreter's path is the one it imports, and the one pinned. A version
    that is not PEP 440 cannot be written as a pin and is left out.
    """
    pins: Dict[str, str] = {}
    versions: Dict[str, Version] = {}
    for key, providers in index.providers.items():
        provider = providers[0]
        try:
            versions[key] = Version(provider.version)
        except InvalidVersion:
            continue
        pins[key] = f"{provider.name}=={provider.version}"
    unpinned: Dict[str, str] = {}
    target = index.target
    for result in report.results:
        requirement = result.requirement
        status = result.verdicts[target.id].status
        if status in _FORCED_PAST_DEBIAN and requirement.name in pins:
            unpinned.setdefault(requirement.name, f"{requirement.text} ({requirement.origin})")
    for constraint in requirements.constraints:
        version = versions.get(constraint.name)
        if version is None or not marker_applies(constraint.marker, target.marker_environment):
            continue
        if constraint.url is not None or not constraint.specifier.contains(version, prereleases=True):
            unpinned.setdefault(constraint.name, f"constraint {constraint.text} ({constraint.origin})")
    return pins, unpinned


# ---- --apt-install -------------------------------------------------------------------


def refuse_apt_install_unless_root(euid: Optional[int] = None) -> None:
    """``--apt-install`` runs ``apt-get install``: refuse it (exit 2) unless running as root."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        raise AptInstallRefused(
            f"--apt-install installs Debian packages with apt-get, which needs root (running as uid {euid}): "
            "run it as root, or build without --apt-install"
        )


@dataclass(frozen=True)
class _AptMove:
    """A distribution to take from apt: the package the apt lists offer for it, and why."""

    name: str
    provider: Provider
    reason: str
    requirement: Optional[Requirement] = None  # the top-level requirement it satisfies (round 1)


def install_from_apt(
    requirements: RequirementSet,
    index: SuiteIndex,
    *,
    python: Path,
    python_version: str,
    pip_args: Sequence[str],
    env: Mapping[str, str],
    admin_dir: Path = dpkgdb.DEFAULT_ADMIN_DIR,
    apt_lists_dir: Path = aptlists.DEFAULT_LISTS_DIR,
    apt_get: str = DEFAULT_APT_GET,
) -> Tuple[SuiteIndex, AptOutcome]:
    """Install through apt what the apt lists offer for ``requirements``; the installed index after.

    Round 1 takes every package the apt lists offer (at apt's candidate)
    that satisfies a requirement the installed packages do not satisfy.
    Each later round asks pip, in a scratch venv of the same interpreter with
    Debian's distributions pinned as the build pins them, ``install
    --dry-run --report``: of what pip would still install, transitive
    dependencies included, each distribution whose apt package satisfies
    every specifier on it -- the requirements' own and every Requires-Dist
    naming it in pip's resolution, constraints applied -- goes to apt. The
    rounds stop when one moves nothing, or after MAX_APT_ROUNDS (a warning).
    Nothing is ever removed; what apt installed stays installed even if the
    build fails later. Raises AptInstallRefused (exit 2) when apt's Python is
    not ``python``'s, AptInstallFailure (exit 3) when apt-get fails, and
    BuildFailure when pip cannot resolve.
    """
    apt_index = aptlists.load_apt_lists(apt_lists_dir, arch=index.target.arch)
    if apt_index.target.python != index.target.python:
        raise AptInstallRefused(
            f"--apt-install: the apt lists' packages are for Python {apt_index.target.python}, "
            f"but --python {python} is Python {index.target.python}: it would not see them"
        )
    warnings = [f"{apt_index.target.id}: {warning}" for warning in apt_index.warnings]
    installed = _package_versions(admin_dir)
    changed: Dict[str, str] = {}
    chosen: List[AptChoice] = []
    left: List[AptChoice] = []
    moves = direct_apt_moves(requirements, index, apt_index, installed)
    with _terminate_as_interrupt(), tempfile.TemporaryDirectory(prefix="debvenv-apt-") as scratch:
        work = Path(scratch)
        pip: Optional[Tuple[_Pip, Path]] = None  # pip, and the scratch venv's interpreter it runs under
        round_number = 1
        while True:
            if moves:
                names = list(dict.fromkeys(apt_package(m.provider) for m in moves))
                changed.update(apt_get_install(names, env, admin_dir, apt_get))
                installed = _package_versions(admin_dir)
                chosen.extend(
                    AptChoice(
                        name=m.name, destination=APT_DESTINATION, reason=m.reason, version=m.provider.version,
                        package=m.provider.package, debian_version=m.provider.debian_version, round=round_number,
                    )
                    for m in moves
                )  # fmt: skip
                index = load_installed(python, admin_dir)
            elif round_number > 1:
                break
            if round_number == MAX_APT_ROUNDS:
                warnings.append(
                    f"--apt-install stopped after {MAX_APT_ROUNDS} rounds: "
                    "pip may install some distributions the apt lists offer"
                )
                break
            round_number += 1
            report = check(requirements, [index])
            plan = make_plan(report, index.target.id, requirement_set=requirements)
            if not _needs_pip(plan):
                left = []
                break
            if pip is None:
                pip = (_Pip.extract(python_version, work, env), _create_venv(work / "venv", python, env))
            pins, unpinned = debian_pins(index, report, requirements)
            pip_report, _ = _install(*pip, work, plan, pins, unpinned, pip_args, dry_run=True)
            moves, left = pip_apt_moves(pip_report, plan, requirements, apt_index, installed, installed_index=index)
    packages = tuple(sorted(changed.items()))
    return index, AptOutcome(
        choices=tuple(chosen) + tuple(left), packages=packages, warnings=tuple(warnings), apt_index=apt_index
    )


def direct_apt_moves(
    requirements: RequirementSet, index: SuiteIndex, apt_index: SuiteIndex, installed: Mapping[str, str]
) -> List[_AptMove]:
    """Round 1: the apt packages satisfying requirements that the installed packages do not satisfy.

    ``installed`` is dpkg's package -> version. A package already installed
    at apt's version is left out: it does not provide what the apt lists'
    (guessed) mapping says, and pip's rounds report that.
    """
    report = check(requirements, [index, apt_index])
    plan = make_plan(report, apt_index.target.id, requirement_set=requirements)
    moves: Dict[str, _AptMove] = {}  # by distribution: two requirements on one make one move
    for result, planned in zip(report.results, plan.requirements):
        provider = planned.provider
        if result.verdicts[index.target.id].status in (SATISFIED, NOT_APPLICABLE):
            continue
        if planned.destination != APT or provider is None or installed.get(provider.package) == provider.debian_version:
            continue
        requirement = planned.requirement
        moves.setdefault(
            requirement.name,
            _AptMove(
                name=requirement.display_name,
                provider=provider,
                reason=f"{provider.package} {provider.debian_version} satisfies {requirement.text} "
                f"({requirement.origin})",
                requirement=requirement,
            ),
        )
    return list(moves.values())


def explained_by_apt(plan: Plan, requirements: RequirementSet, index: SuiteIndex, apt_index: SuiteIndex) -> Plan:
    """``plan`` (on the installed target, after --apt-install) with the apt lists' verdict where it decided.

    A requirement no installed package provides, for which the apt lists
    offer a package that does not satisfy it, went to the venv because of
    the apt lists' version: its status and reason are that verdict's
    (``outdated: python3-django-environ has 0.4.4, needs >=0.9``), as the
    --apt-install report says, not "missing: no Debian package provides".
    """
    apt_plan = make_plan(check(requirements, [index, apt_index]), apt_index.target.id, requirement_set=requirements)
    planned = []
    for here, there in zip(plan.requirements, apt_plan.requirements):
        if here.destination == VENV and here.status == MISSING and there.provider is not None and there.status in (
            _FORCED_PAST_DEBIAN
        ):
            here = dataclasses.replace(
                here, status=there.status,
                reason=f"{there.reason} (the apt lists' {there.provider.package} {there.provider.debian_version}; "
                "nothing installed provides it)",
            )  # fmt: skip
        planned.append(here)
    return dataclasses.replace(plan, requirements=tuple(planned))


_MAX_HINTS = 5


def apt_hints(
    requirements: RequirementSet,
    index: SuiteIndex,
    *,
    admin_dir: Path = dpkgdb.DEFAULT_ADMIN_DIR,
    apt_lists_dir: Path = aptlists.DEFAULT_LISTS_DIR,
) -> List[str]:
    """For a build that failed without ``--apt-install``: what the apt lists would satisfy instead.

    The same verdicts ``--apt-install`` acts on (``direct_apt_moves``);
    nothing when the apt lists cannot be read or are for another Python.
    """
    try:
        apt_index = aptlists.load_apt_lists(apt_lists_dir, arch=index.target.arch)
        if apt_index.target.python != index.target.python:
            return []
        moves = direct_apt_moves(requirements, index, apt_index, _package_versions(admin_dir))
    except (DebvenvError, OSError):
        return []  # a hint, not the answer: without the lists there is none to give
    hints = [
        f"{m.provider.package} {m.provider.version} in the apt lists satisfies {m.requirement.text} "
        f"({m.requirement.origin}): use --apt-install"
        for m in moves[:_MAX_HINTS]
        if m.requirement is not None
    ]
    if len(moves) > _MAX_HINTS:
        hints.append(f"and {len(moves) - _MAX_HINTS} more the apt lists satisfy: use --apt-install")
    return hints


def pip_apt_moves(
    pip_report: Mapping[str, Any],
    plan: Plan,
    requirements: RequirementSet,
    apt_index: SuiteIndex,
    installed: Mapping[str, str],
    *,
    installed_index: Optional[SuiteIndex] = None,
) -> Tuple[List[_AptMove], List[AptChoice]]:
    """Of what pip's dry run would install: (what apt satisfies, what stays with pip and why).

    ``installed`` is dpkg's package -> version; ``installed_index`` (the
    installed target) tells, for a package apt already installed, what its
    metadata says.
    """
    environment = dict(pip_report.get("environment") or {})
    items = [item for item in pip_report.get("install", ()) if (item.get("metadata") or {}).get("name")]
    # name -> [(specifier, who puts it there)]; a URL anywhere leaves the distribution to pip.
    wanted: Dict[str, List[Tuple[SpecifierSet, str]]] = {}
    urls: Dict[str, str] = {}
    for planned in plan.requirements:
        requirement = planned.requirement  # constraints applied
        if planned.status == NOT_APPLICABLE:
            continue
        wanted.setdefault(requirement.name, []).append((requirement.specifier, str(requirement.origin)))
        if requirement.url is not None:
            urls.setdefault(requirement.name, f"{requirement.text} ({requirement.origin})")
    for constraint in requirements.constraints:
        if marker_applies(constraint.marker, environment):
            wanted.setdefault(constraint.name, []).append((constraint.specifier, f"constraint {constraint.origin}"))
            if constraint.url is not None:
                urls.setdefault(constraint.name, f"constraint {constraint.text} ({constraint.origin})")
    for item in items:
        metadata = item["metadata"]
        parent = f"{metadata['name']} {metadata.get('version')}"
        extras = [""] + list(item.get("requested_extras") or ())
        for text in metadata.get("requires_dist") or ():
            try:
                dependency = PackagingRequirement(text)
            except InvalidRequirement:
                continue
            if not any(_marker_holds(dependency, environment, extra) for extra in extras):
                continue
            key = normalize(dependency.name)
            wanted.setdefault(key, []).append((dependency.specifier, f"required by {parent}"))
            if dependency.url:
                urls.setdefault(key, f"{text} (required by {parent})")

    moves: List[_AptMove] = []
    left: List[AptChoice] = []
    for item in items:
        name, version = str(item["metadata"]["name"]), str(item["metadata"].get("version"))
        key = normalize(name)
        specifier = SpecifierSet()
        for spec, _ in wanted.get(key, ()):
            specifier &= spec
        wanted_text = f"{name}{specifier} ({'; '.join(dict.fromkeys(who for _, who in wanted.get(key, ())))})"
        if key in urls:
            reason = f"{urls[key]} is a URL: only pip installs it"
        else:
            verdict = evaluate(
                Requirement(
                    text=f"{name}{specifier}", name=key, display_name=name, specifier=specifier,
                    extras=(), marker=None, url=None, origin=_PIP_REPORT_ORIGIN,
                ),
                apt_index,
            )  # fmt: skip
            provider = verdict.provider
            if provider is None:
                reason = f"no package in the apt lists provides {name}"
            elif verdict.status != SATISFIED:
                reason = (
                    f"the apt lists' {provider.package} {provider.debian_version} ({provider.name} "
                    f"{provider.version}) does not satisfy {wanted_text}: {verdict.status}"
                )
            elif installed.get(provider.package) == provider.debian_version:
                reason = _installed_yet_wanted(provider, name, wanted_text, installed_index)
            else:
                reason = f"{provider.package} {provider.debian_version} satisfies {wanted_text}"
                moves.append(_AptMove(name, provider, reason))
                continue
        left.append(AptChoice(name=name, destination=PIP_DESTINATION, reason=reason, version=version))
    return moves, left


def _installed_yet_wanted(
    provider: Provider, name: str, wanted_text: str, installed_index: Optional[SuiteIndex]
) -> str:
    """Why pip still wants a distribution whose apt package is installed at apt's version."""
    here = installed_index.lookup(normalize(name)) if installed_index is not None else ()
    ours = [p for p in here if p.package == provider.package]
    if ours:
        # python3-django-model-utils 4.2.0-2 ships django_model_utils-0.0.0.egg-info.
        return (
            f"{provider.package} {provider.debian_version} is installed, but its metadata says "
            f"{ours[0].name} {ours[0].version}, which does not satisfy {wanted_text}"
        )
    return f"{provider.package} {provider.debian_version} is installed, yet provides no {name}" + (
        " (the apt lists' mapping to it is a guess)" if provider.mapping == MAPPING_GUESSED else ""
    )


def apt_get_install(
    packages: Sequence[str], env: Mapping[str, str], admin_dir: Path = dpkgdb.DEFAULT_ADMIN_DIR,
    apt_get: str = DEFAULT_APT_GET,
) -> Dict[str, str]:  # fmt: skip
    """``apt-get install -y --no-install-recommends PACKAGES``; what it installed or upgraded, with versions.

    That is every package, dependencies included, whose version in dpkg's
    database changed across the run and that apt-get's output names: an
    apt run this one waited for changes dpkg's database too.
    """
    before = _package_versions(admin_dir)
    # Another apt or dpkg run holds the lock for a while (unattended-upgrades): wait for it.
    command = [apt_get, "-o", f"DPkg::Lock::Timeout={_APT_LOCK_TIMEOUT}", "install", "-y", "--no-install-recommends"]
    command += packages
    environment = dict(env)
    environment["DEBIAN_FRONTEND"] = "noninteractive"
    # dpkg cut short leaves packages half-configured: an interrupt waits for apt-get to finish.
    with _HeldInterrupts():
        try:
            completed = subprocess.run(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, env=environment, check=False,
            )  # fmt: skip
        except OSError as error:
            raise AptInstallFailure(f"cannot run {apt_get}: {error.strerror or error}") from error
    if completed.returncode != 0:
        lines = [line.rstrip() for line in completed.stdout.splitlines() if line.strip()][-_ERROR_LINES:]
        raise AptInstallFailure(
            f"{' '.join(command)} failed (exit {completed.returncode}):\n  " + "\n  ".join(lines or ["no output"])
        )
    named = set(_APT_OUTPUT_WORD.findall(completed.stdout))
    return {p: v for p, v in _package_versions(admin_dir).items() if before.get(p) != v and p in named}


def _package_versions(admin_dir: Path) -> Dict[str, str]:
    return {package.package: package.version for package in dpkgdb.read_status(admin_dir).values()}


# ---- refusing what would touch more than the venv ----------------------------------

# pip install options that would send files somewhere other than the venv.
_REDIRECTING_OPTIONS = ("--target", "--prefix", "--root", "--user")
# pip's long options sharing a prefix with those: an abbreviation pip reads as one of these is harmless.
_NEIGHBOUR_OPTIONS = (
    "--pre", "--prefer-binary", "--progress-bar", "--proxy", "--python", "--root-user-action",
    "--report", "--require-hashes", "--requirement", "--retries", "--trusted-host", "--timeout",
    "--use-pep517", "--use-feature", "--use-deprecated",
)  # fmt: skip
# pip install's short options that take a value: the letters after one are that value.
_SHORT_WITH_VALUE = "rcetifC"


def _redirecting_option(arg: str) -> Optional[str]:
    """The redirecting option ``arg`` spells, as pip's optparse would read it, if any."""
    if arg.startswith("--"):
        name = arg.split("=", 1)[0]
        if name in _REDIRECTING_OPTIONS:
            return name
        if name in _NEIGHBOUR_OPTIONS or len(name) < 3:
            return None
        readings = [o for o in _REDIRECTING_OPTIONS + _NEIGHBOUR_OPTIONS if o.startswith(name)]
        if readings and all(o in _REDIRECTING_OPTIONS for o in readings):
            return readings[0]
        return None
    if arg.startswith("-"):
        for letter in arg[1:]:  # grouped short options: -qt DIR
            if letter == "t":
                return "-t/--target"
            if letter in _SHORT_WITH_VALUE:
                return None
    return None


def refuse_redirecting_pip_args(pip_args: Sequence[str]) -> None:
    """Refuse ``--pip-arg`` values that would install outside the venv (``--target``, ``--user``...).

    pip accepts unique prefixes of long options and grouped short ones
    (``--targ``, ``-qt DIR``): those are refused too.
    """
    for arg in pip_args:
        option = _redirecting_option(arg)
        if option:
            raise UnsafeVenvError(
                f"--pip-arg {arg}: pip's {option} installs outside the venv; debvenv installs into --venv only"
            )


def _refuse_existing_non_venv(venv_dir: Path) -> None:
    if venv_dir.exists() or venv_dir.is_symlink():
        if not venv_dir.is_dir():
            raise UnsafeVenvError(f"--venv {venv_dir}: exists and is not a directory")
        if not (venv_dir / "pyvenv.cfg").is_file():
            raise UnsafeVenvError(
                f"--venv {venv_dir}: exists and is not a virtualenv (no pyvenv.cfg); "
                "debvenv only replaces a venv: remove it or choose another directory"
            )


_FACTS_PROBE = (
    "import json, platform, site, sys\n"
    "sites = site.getsitepackages() if hasattr(site, 'getsitepackages') else []\n"
    "json.dump({'prefix': sys.prefix, 'base_prefix': getattr(sys, 'base_prefix', sys.prefix),"
    " 'exec_prefix': sys.exec_prefix,"
    " 'base_exec_prefix': getattr(sys, 'base_exec_prefix', sys.exec_prefix),"
    " 'site_packages': sites, 'python_full_version': platform.python_version()}, sys.stdout)\n"
)


_FACT_KEYS = ("prefix", "base_prefix", "exec_prefix", "base_exec_prefix", "python_full_version")


def _interpreter_facts(python: Path) -> Dict[str, Any]:
    facts = run_probe(python, _FACTS_PROBE, label=f"--python {python}")
    # Whatever answers is not trusted to be Python: a wrong shape is its failure, not our bug.
    wrong = [key for key in _FACT_KEYS if not isinstance(facts.get(key), str)]
    sites = facts.get("site_packages")
    if not isinstance(sites, list) or not all(isinstance(site, str) for site in sites):
        wrong.append("site_packages")
    if wrong:
        raise EnvironmentFailure(
            f"--python {python}: not a working Python 3 interpreter: its answer lacks {', '.join(wrong)}"
        )
    return facts


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _refuse_system_location(venv_dir: Path, python: Path, facts: Mapping[str, Any]) -> None:
    target = str(venv_dir)
    prefixes = set(_SYSTEM_PREFIXES)
    for key in ("prefix", "base_prefix", "exec_prefix", "base_exec_prefix"):
        prefixes.add(os.path.realpath(facts[key]))
    for prefix in sorted(prefixes):
        if _inside(prefix, target):
            raise UnsafeVenvError(
                f"--venv {venv_dir}: is the system prefix {prefix} or holds it; "
                "debvenv never builds over the system's Python"
            )
    for site_dir in facts.get("site_packages") or ():
        if _inside(target, os.path.realpath(site_dir)):
            raise UnsafeVenvError(
                f"--venv {venv_dir}: lies inside the system site-packages {site_dir}; "
                "debvenv never writes there"
            )
    if _inside(os.path.abspath(python), target):
        raise UnsafeVenvError(
            f"--python {python}: lives inside --venv {venv_dir}, which a rebuild replaces; "
            "name the base interpreter (e.g. /usr/bin/python3)"
        )


# ---- the destination ---------------------------------------------------------------


def _anchor(venv_dir: Path) -> Path:
    """The topmost directory a build must create: DIR, or its first missing ancestor."""
    anchor = venv_dir
    while not os.path.lexists(anchor.parent):
        anchor = anchor.parent
    return anchor


def _staging_names(anchor: Path) -> List[Path]:
    try:
        names = os.listdir(anchor.parent)
    except OSError:
        return []
    prefix = f".{anchor.name}{_STAGING_INFIX}"
    return [
        anchor.parent / name
        for name in sorted(names)
        if name.startswith(prefix) and re.fullmatch(r"[0-9a-f]{8}", name[len(prefix):])
    ]


def recover_leftovers(venv_dir: Path) -> List[str]:
    """Put right what an interrupted (SIGKILLed, powered off) build or sync of ``venv_dir`` left.

    A staging directory no live run holds is removed: it is a new venv
    that never became DIR, or the previous venv a finished build had not
    yet deleted. A previous venv set aside (``.NAME.debvenv-old-XXXX``, by
    an older debvenv or where the file system cannot swap directories) is
    moved back when DIR is missing or was left without its manifest, and
    removed when DIR is whole. Returns one message per thing done.
    """
    anchor = _anchor(venv_dir)
    if not os.path.isdir(anchor.parent):
        return []
    messages: List[str] = []
    with _held_lock(anchor.parent):
        for staging in _staging_names(anchor):
            with contextlib.ExitStack() as stack:
                try:
                    held = stack.enter_context(locked_directory(staging, wait=False))
                except OSError:
                    held = 0  # not a directory we can lock: not a live run's
                if held is None:
                    continue  # a build or sync running now
                _remove_tree(staging)
                messages.append(f"removed {staging}, left by an interrupted build or sync of {venv_dir}")
        messages.extend(_recover_set_aside(venv_dir))
    return messages


def _recover_set_aside(venv_dir: Path) -> List[str]:
    try:
        names = os.listdir(venv_dir.parent)
    except OSError:
        return []
    prefix = f".{venv_dir.name}{_ASIDE_INFIX}"
    asides = [venv_dir.parent / name for name in sorted(names) if name.startswith(prefix)]
    asides = [a for a in asides if (a / "pyvenv.cfg").is_file()]
    if not asides:
        return []
    whole = (venv_dir / "pyvenv.cfg").is_file() and (venv_dir / MANIFEST_NAME).is_file()
    messages = []
    if not whole:
        # The newest one is what DIR was last; a DIR without its manifest never finished.
        newest = max(asides, key=lambda a: a.stat().st_mtime)
        if os.path.lexists(venv_dir):
            if not (venv_dir / "pyvenv.cfg").is_file():
                return [f"{newest}: the previous venv of an interrupted build, kept: {venv_dir} is not a venv"]
            _remove_tree(venv_dir)
        os.rename(newest, venv_dir)
        asides.remove(newest)
        messages.append(f"restored {venv_dir} from {newest}, left by an interrupted build or sync")
    for aside in asides:
        _remove_tree(aside)
        messages.append(f"removed {aside}, the previous venv of an interrupted build or sync")
    return messages


def _leftover_warnings(venv_dir: Path) -> List[str]:
    """What interrupted runs left beside ``venv_dir``, for a command that changes nothing (audit)."""
    found = _staging_names(_anchor(venv_dir))
    with contextlib.suppress(OSError):
        prefix = f".{venv_dir.name}{_ASIDE_INFIX}"
        found += [venv_dir.parent / n for n in sorted(os.listdir(venv_dir.parent)) if n.startswith(prefix)]
    return [
        f"{path}: left by an interrupted build or sync (or one running now); "
        f"the next build or sync of {venv_dir} removes it"
        for path in found
    ]


@contextlib.contextmanager
def _held_lock(directory: Path) -> Iterator[None]:
    """The parent directory's lock: recovery and swaps of one DIR never interleave."""
    try:
        lock = locked_directory(directory)
        lock.__enter__()
    except OSError:
        yield  # an unreadable parent: nothing to lock with, the rest still holds
        return
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


class _Destination:
    """Where a build or sync happens: a staging directory beside DIR, swapped in whole at the end.

    The new venv is made at ``work`` inside ``.ANCHOR.debvenv-new-XXXXXXXX``
    (ANCHOR is DIR, or the first of its parents that is missing, so that a
    first build creates them all in one rename), its paths rewritten to
    name DIR, its manifest written, and only then swapped in: exchanged
    with the previous venv in one ``renameat2(RENAME_EXCHANGE)``, or
    renamed into place on a first build. So DIR is at every moment the
    previous venv, the new verified one, or absent on a first build. Where
    the file system cannot exchange, the previous venv is first renamed
    aside, leaving DIR absent for an instant that ``recover_leftovers``
    repairs. The staging directory is locked while its run lives. Every
    change is made with SIGINT and SIGTERM held.
    """

    def __init__(self, venv_dir: Path, checkpoint: Checkpoint = no_checkpoint) -> None:
        self.venv_dir = venv_dir
        self.checkpoint = checkpoint
        self.anchor = _anchor(venv_dir)
        self.staging = self.anchor.with_name(f".{self.anchor.name}{_STAGING_INFIX}{secrets.token_hex(4)}")
        self.work = self.staging / venv_dir.relative_to(self.anchor)
        self.replaces = os.path.lexists(venv_dir)
        self._lock = contextlib.ExitStack()

    def begin(self) -> None:
        with _HeldInterrupts():
            try:
                self.anchor.parent.mkdir(parents=False, exist_ok=True)
                self.staging.mkdir()
            except OSError as error:
                raise BuildFailure(f"--venv {self.venv_dir}: cannot create {self.staging}: {error.strerror}") from error
            self._lock.enter_context(locked_directory(self.staging))
        self.checkpoint("staging")
        if self.work != self.staging:
            self.work.parent.mkdir(parents=True, exist_ok=True)

    def copy_previous(self) -> None:
        """The previous venv, copied to work on (sync): pip changes the copy, never the original."""
        # cp -a keeps what a Python copy would lose: owners, hard links, modes and times.
        completed = subprocess.run(
            ["cp", "-a", "-T", "--", str(self.venv_dir), str(self.work)], capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise BuildFailure(f"cannot copy the venv to work on: {completed.stderr.strip() or completed.returncode}")

    def relocate(self, result: BuildResult) -> BuildResult:
        """Rewrite the new venv's paths to name DIR; ``result`` as it reads once swapped in."""
        rewrite_tree(self.work, [str(self.work)], str(self.venv_dir))
        self.checkpoint("relocated")
        return _moved_result(result, str(self.work), str(self.venv_dir))

    def commit(self) -> List[str]:
        """Swap the finished venv in and delete the previous one; a failure to delete is a warning."""
        warnings: List[str] = []
        with _HeldInterrupts():
            with _held_lock(self.anchor.parent):
                if self.replaces:
                    try:
                        exchange(self.staging, self.venv_dir)
                    except OSError as error:
                        if error.errno not in (errno.ENOSYS, errno.EINVAL):
                            raise BuildFailure(f"--venv {self.venv_dir}: cannot swap in the new venv: {error}")
                        self._swap_in_two_steps()
                else:
                    try:
                        rename_new(self.staging, self.anchor)
                    except OSError as error:
                        raise BuildFailure(f"--venv {self.venv_dir}: cannot move the new venv in: {error}")
            self.checkpoint("swapped")
            if self.replaces:
                try:
                    _remove_tree(self.staging, self.checkpoint)
                except OSError as error:
                    warnings.append(f"{self.staging}: the previous venv could not be removed: {error}")
            self._lock.close()
        self.checkpoint("done")
        return warnings

    def _swap_in_two_steps(self) -> None:
        aside = self.venv_dir.with_name(f".{self.venv_dir.name}{_ASIDE_INFIX}{secrets.token_hex(4)}")
        os.rename(self.venv_dir, aside)
        os.rename(self.staging, self.venv_dir)
        os.rename(aside, self.staging)  # where commit deletes the previous venv from

    def rollback(self) -> None:
        with _HeldInterrupts():
            with contextlib.suppress(FileNotFoundError):
                _remove_tree(self.staging)
            self._lock.close()


def _moved_result(result: BuildResult, old: str, new: str) -> BuildResult:
    """``result`` with the paths under ``old`` named under ``new``."""

    def moved(path: Optional[str]) -> Optional[str]:
        if path is not None and (path == old or path.startswith(old + "/")):
            return new + path[len(old):]
        return path

    def distribution(used: Optional[UsedDistribution]) -> Optional[UsedDistribution]:
        return None if used is None else dataclasses.replace(used, path=moved(used.path))

    return dataclasses.replace(
        result,
        venv=Path(new),
        manifest=Path(new) / MANIFEST_NAME,
        distributions=tuple(d for d in (distribution(u) for u in result.distributions) if d is not None),
        resolutions=tuple(dataclasses.replace(r, distribution=distribution(r.distribution)) for r in result.resolutions),
        warnings=tuple(w.replace(old, new) for w in result.warnings),
    )


def _remove_tree(path: Path, checkpoint: Checkpoint = no_checkpoint) -> None:
    """Delete ``path`` and what is under it, without following a symlink out of it."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    for number, entry in enumerate(sorted(os.scandir(path), key=lambda e: e.name)):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, onerror=_gone_is_fine)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        if number == 0:
            checkpoint("removing")
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)


def _gone_is_fine(function: Any, path: str, info: Any) -> None:
    # Another run's recovery may be deleting the same leftover: what is gone is gone.
    if not isinstance(info[1], FileNotFoundError):
        raise info[1]


class _HeldInterrupts:
    """Hold SIGINT and SIGTERM for a block that must finish; deliver them as KeyboardInterrupt after."""

    def __init__(self) -> None:
        self._previous: Dict[int, Any] = {}
        self._received: List[int] = []

    def _hold(self, signum: int, _frame: Optional[FrameType]) -> None:
        self._received.append(signum)

    def __enter__(self) -> "_HeldInterrupts":
        # Signal handlers can only be set from the main thread; elsewhere there is nothing to hold.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._hold)
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self._received and exc_type is None:
            raise KeyboardInterrupt(f"signal {self._received[0]}")


@contextlib.contextmanager
def _terminate_as_interrupt() -> Any:
    """During a build, SIGTERM unwinds like Ctrl-C, so that the build cleans up after itself."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: Optional[FrameType]) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---- virtualenv and pip ------------------------------------------------------------


def _create_venv(venv_dir: Path, python: Path, env: Mapping[str, str]) -> Path:
    import virtualenv  # noqa: PLC0415 - a heavy import, needed by build only

    args = ["--system-site-packages", "--no-seed", "--quiet", "-p", str(python), str(venv_dir)]
    try:
        session = virtualenv.cli_run(args, setup_logging=False, env=dict(env))
    except SystemExit as error:  # virtualenv's argument parser exits on a bad interpreter
        raise BuildFailure(f"virtualenv could not create {venv_dir} for {python} (exit {error.code})") from None
    except Exception as error:  # noqa: BLE001 - virtualenv raises many types; all mean the same here
        raise BuildFailure(f"virtualenv could not create {venv_dir}: {type(error).__name__}: {error}") from error
    return Path(str(session.creator.exe))


@dataclass(frozen=True)
class _Pip:
    """virtualenv's embedded pip wheel, unpacked once per build to run under any interpreter."""

    directory: Path  # holds pip/ and pip-X.dist-info/
    version: str
    env: Mapping[str, str]

    @classmethod
    def extract(cls, python_version: str, work: Path, env: Mapping[str, str]) -> "_Pip":
        from virtualenv.seed.wheels.embed import get_embed_wheel  # noqa: PLC0415

        short = ".".join(python_version.split(".")[:2])
        try:
            wheel = get_embed_wheel("pip", short)
        except Exception as error:  # noqa: BLE001 - Debian's virtualenv raises a bare Exception
            raise BuildFailure(f"virtualenv has no pip wheel for Python {short}: {error}") from error
        if wheel is None:
            raise BuildFailure(f"virtualenv has no pip wheel for Python {short}")
        version = str(wheel.version)
        if Version(version) < _MIN_PIP:
            raise BuildFailure(f"{wheel.path}: pip {version} is too old; build needs pip >= {_MIN_PIP}")
        directory = work / "pip"
        try:
            # Unpacked rather than run from the zip: zipimport cannot cache
            # bytecode, which costs seconds on every pip run.
            with zipfile.ZipFile(wheel.path) as archive:
                archive.extractall(directory)
        except (OSError, zipfile.BadZipFile) as error:
            raise BuildFailure(f"{wheel.path}: cannot unpack pip: {error}") from error
        child_env = dict(env)
        child_env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        child_env["PIP_NO_INPUT"] = "1"
        return cls(directory=directory, version=version, env=child_env)

    def command(self, python: Path, args: Sequence[str]) -> List[str]:
        # -E: the caller's PYTHONPATH must not become part of what pip sees as installed.
        return [str(python), "-E", str(self.directory / "pip"), *args]

    def run(self, python: Path, args: Sequence[str], *, merged: bool = False) -> subprocess.CompletedProcess:
        """Run pip; ``merged`` interleaves stderr into stdout, as pip's messages belong together."""
        try:
            return subprocess.run(
                self.command(python, args),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                text=True,
                env=dict(self.env),
                check=False,
            )
        except OSError as error:
            raise BuildFailure(f"cannot run pip under {python}: {error}") from error


# Where pip's own explanation starts: its error lines, the rich "×" summary, a resolver conflict.
_PIP_ERROR_START = re.compile(r"^(ERROR:|error:|×|The conflict is caused by:)")
# pip (through urllib3) says so when it cannot reach an index: "WARNING: Retrying (...) after
# connection broken by 'NewConnectionError(...)'", "Could not fetch URL ...: ... SSLError".
_PIP_CONNECTION = re.compile(
    r"connection broken by|Could not fetch URL|NewConnectionError|ConnectTimeoutError|ReadTimeoutError"
    r"|SSLError|ProxyError|MaxRetryError|Max retries exceeded"
)
_ERROR_BLOCK = 40  # lines of pip's error block shown whole; a longer one is cut to these:
_ERROR_HEAD = 8  # its first lines (what failed),
_ERROR_CAUSES = 12  # the lines in between that read like a cause,
_ERROR_TAIL = 15  # and its last lines (pip's summary, the end of the build's own output).
_CAUSE = re.compile(r"error|not found|no such|cannot|can't|could not|failed|fatal|missing|denied", re.IGNORECASE)
_CONNECTION_LINES = 2
_PIP_INDEXES = ("Looking in indexes:", "Looking in links:")


@dataclass(frozen=True)
class PipOutcome:
    """What a failed pip run said, cut to what explains it."""

    lines: Tuple[str, ...]  # the connection errors first, then pip's error block (bounded)
    unreachable: bool  # pip could not reach an index: the environment, not the requirements


def pip_explanation(output: str, ours: Optional[Mapping[str, str]] = None) -> PipOutcome:
    """The root cause in pip's output: its first connection errors, then its error block.

    The block runs from pip's first error marker (``ERROR:``, ``error:``,
    ``×``, a resolver conflict) to the end, so that a failing build's own
    output (pip's ``╰─> [N lines of output]`` block, which holds the
    cause, e.g. "pg_config executable not found") is kept; past
    _ERROR_BLOCK lines only its head and tail are. Without a marker, the
    last lines. ``ours`` rewrites mentions of debvenv's own files.
    """
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    for mention, meaning in (ours or {}).items():
        lines = [line.replace(mention, meaning) for line in lines]
    connection = list(dict.fromkeys(line.strip() for line in lines if _PIP_CONNECTION.search(line)))
    start = next((i for i, line in enumerate(lines) if _PIP_ERROR_START.match(line.lstrip())), None)
    if start is None:
        block = lines[-_ERROR_LINES:]
    else:
        block = _bounded([line for line in lines[start:] if line.strip() not in connection])
    shown = connection[:_CONNECTION_LINES] + block
    if connection:
        # Where pip looked: its retry lines name the path, not always the host.
        shown = [line.strip() for line in lines if line.startswith(_PIP_INDEXES)] + shown
    return PipOutcome(lines=tuple(shown), unreachable=bool(connection))


def _bounded(block: List[str]) -> List[str]:
    """A long error block cut to its head, the lines that read like a cause, and its tail, in order."""
    if len(block) <= _ERROR_BLOCK:
        return block
    middle = range(_ERROR_HEAD, len(block) - _ERROR_TAIL)
    kept = set(range(_ERROR_HEAD)) | set(range(len(block) - _ERROR_TAIL, len(block)))
    kept |= set([i for i in middle if _CAUSE.search(block[i])][:_ERROR_CAUSES])
    shown: List[str] = []
    left_out = 0
    for number, line in enumerate(block):
        if number in kept:
            if left_out:
                shown.append(f"... ({left_out} lines of pip's output left out) ...")
                left_out = 0
            shown.append(line)
        else:
            left_out += 1
    return shown


def _pip_error(
    completed: subprocess.CompletedProcess,
    what: str,
    ours: Optional[Mapping[str, str]] = None,
    pins: Iterable[str] = (),
) -> BuildFailure:
    """pip's failure as the error to raise: unmet requirements (exit 1), or an index it could not reach (exit 3)."""
    output = completed.stdout + (completed.stderr or "")
    outcome = pip_explanation(output, ours)
    shown = list(outcome.lines)
    if any(f"(constraint) {pin}" in output for pin in pins):
        shown.append(
            "(debvenv pins every Debian-provided distribution to its installed version: "
            "those are the constraints above)"
        )
    if outcome.unreachable:
        shown.append("(pip could not reach a package index: the answer above is not about the requirements)")
    message = f"{what} failed (exit {completed.returncode}):\n  " + "\n  ".join(shown or ["no output"])
    return BuildFailure(message) if outcome.unreachable else RequirementsUnmet(message)


def _install(
    pip: _Pip,
    venv_python: Path,
    work: Path,
    plan: Plan,
    pins: Mapping[str, str],
    unpinned: Dict[str, str],
    pip_args: Sequence[str],
    *,
    dry_run: bool = False,
) -> Tuple[Mapping[str, Any], Dict[str, str]]:
    """Run ``pip install``; return its report and the Debian distributions it was allowed to replace.

    ``dry_run``: pip only says what it would install (``--apt-install`` asks).
    """
    requirements_file = work / "requirements.txt"
    lines = plan.venv_requirements
    requirements_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    # pip names a requirement by its line in our file: name the user's line instead.
    written = {p.line: p.requirement for p in plan.requirements if p.line is not None}
    ours = {
        f"-r {requirements_file} (line {number})": (
            f"{written[line].text} ({written[line].origin})" if line in written else repr(line)
        )
        for number, line in enumerate(lines, start=1)
    }

    def attempt(forced: Mapping[str, str], *, dry_run: bool) -> Tuple[subprocess.CompletedProcess, Path]:
        name = "dry-run" if dry_run else "install"
        constraints_file = work / f"debian-pins-{name}.txt"
        kept = [line for key, line in sorted(pins.items()) if key not in forced]
        constraints_file.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        report = work / f"report-{name}.json"
        # The user's arguments first: where an option takes one value, ours (--report) must win.
        args = ["install", *pip_args, "--report", str(report), "-r", str(requirements_file)]
        args += ["-c", str(constraints_file)]
        if dry_run:
            args.append("--dry-run")
        return pip.run(venv_python, args, merged=True), report

    forced = dict(unpinned)
    completed, report = attempt(forced, dry_run=dry_run)
    if completed.returncode != 0 and "ResolutionImpossible" in completed.stdout:
        # A transitive requirement may force a Debian library past Debian's
        # version: resolve without the pins to find out which, then pin the rest.
        dry, dry_report = attempt({key: "" for key in pins}, dry_run=True)
        if dry.returncode != 0:
            # Not even replacing Debian's libraries would do: that is the reason to show.
            raise _pip_error(dry, "pip install", ours)
        newly = _forced_by_resolution(_read_report(dry_report), pins)
        if newly:
            forced.update(newly)
            completed, report = attempt(forced, dry_run=dry_run)
    if completed.returncode != 0:
        raise _pip_error(completed, "pip install", ours, pins.values())
    return _read_report(report), forced


def _read_report(path: Path) -> Mapping[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError) as error:
        raise BuildFailure(f"pip wrote no readable --report: {error}") from error
    if not isinstance(report, dict) or not isinstance(report.get("install", []), list):
        raise BuildFailure("pip's --report has an unexpected layout")
    return report


def _forced_by_resolution(report: Mapping[str, Any], pins: Mapping[str, str]) -> Dict[str, str]:
    """The pinned distributions some requirement in pip's resolution excludes at Debian's version."""
    environment = dict(report.get("environment") or {})
    debian_versions = {key: Version(line.split("==", 1)[1]) for key, line in pins.items()}
    forced: Dict[str, str] = {}
    for item in report.get("install", ()):
        metadata = item.get("metadata") or {}
        extras = [""] + list(item.get("requested_extras") or ())
        for text in metadata.get("requires_dist") or ():
            try:
                requirement = PackagingRequirement(text)
            except InvalidRequirement:
                continue
            key = normalize(requirement.name)
            version = debian_versions.get(key)
            if version is None or requirement.specifier.contains(version, prereleases=True):
                continue
            if requirement.marker is not None and not any(
                _marker_holds(requirement, environment, extra) for extra in extras
            ):
                continue
            forced.setdefault(key, f"{metadata.get('name')} {metadata.get('version')} requires {text}")
    return forced


def _marker_holds(requirement: PackagingRequirement, environment: Mapping[str, str], extra: str) -> bool:
    try:
        return bool(requirement.marker is None or requirement.marker.evaluate({**environment, "extra": extra}))
    except ValueError:  # a marker naming a variable the environment lacks: count it, to be safe
        return True


def _installed_distributions(report: Mapping[str, Any]) -> Tuple[InstalledDistribution, ...]:
    installed = []
    for item in report.get("install", ()):
        metadata = item.get("metadata") or {}
        url = (item.get("download_info") or {}).get("url")
        installed.append(
            InstalledDistribution(
                name=str(metadata.get("name")),
                version=str(metadata.get("version")),
                requested=bool(item.get("requested")),
                source=_CREDENTIALS_RE.sub("***@", url) if url else None,
            )
        )
    return tuple(sorted(installed, key=lambda d: normalize(d.name)))


def _pip_check(pip: _Pip, venv_python: Path, system_python: Path) -> List[str]:
    """``pip check`` over venv + system; problems the system alone already has are only warnings."""
    # The system's own answer is the baseline; asked at the same time, it costs no wall time.
    try:
        baseline_process: Optional[subprocess.Popen] = subprocess.Popen(
            pip.command(system_python, ["check"]),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(pip.env),
        )
    except OSError:
        baseline_process = None
    try:
        completed = pip.run(venv_python, ["check"])
        if completed.returncode == 0:
            return []
        baseline: Set[str] = set()
        if baseline_process is not None:
            output, _ = baseline_process.communicate()
            baseline = set(_check_lines(output))
    finally:
        if baseline_process is not None and baseline_process.poll() is None:
            baseline_process.kill()
            baseline_process.wait()
    found = _check_lines(completed.stdout)
    if not found:
        raise BuildFailure(f"pip check failed (exit {completed.returncode}): {completed.stderr.strip() or 'no output'}")
    new = [line for line in found if line not in baseline]
    if new:
        raise RequirementsUnmet("pip check failed: the venv breaks requirements:\n  " + "\n  ".join(new))
    return [f"pip check: {line} (the system already has this problem without the venv)" for line in found]


def _check_lines(output: str) -> List[str]:
    return [line.strip() for line in output.splitlines() if line.strip()]


# ---- verifying ---------------------------------------------------------------------

# Runs under the venv's interpreter: the marker environment, the venv's own
# site directories, and every distribution on sys.path in path order (the
# first of a name is the one imported), with its raw Requires-Dist.
_VENV_PROBE = r"""
import json, os, platform, sys, sysconfig
try:
    import importlib.metadata as metadata
except ImportError:
    metadata = None
"""+MARKER_ENVIRONMENT_PROBE+r"""
paths = sysconfig.get_paths()
distributions = []
if metadata is not None:
    # sys.path[0] is the probe's working directory, not part of the environment.
    for dist in metadata.distributions(path=sys.path[1:]):
        name = dist.metadata["Name"]
        if not name:
            continue
        path = getattr(dist, "_path", None)
        distributions.append({"name": name, "version": dist.version,
                              "path": None if path is None else os.path.normpath(str(path)),
                              "requires": list(dist.requires or ())})
json.dump({"environment": environment, "metadata": metadata is not None,
           "prefix": sys.prefix, "site": sorted({paths["purelib"], paths["platlib"]}),
           "distributions": distributions}, sys.stdout)
"""


@dataclass(frozen=True)
class _Seen:
    name: str
    version: str
    path: Optional[str]
    requires: Tuple[str, ...]


@dataclass(frozen=True)
class _VenvView:
    environment: Mapping[str, str]
    site: Tuple[str, ...]  # the venv's own site directories, resolved
    visible: Mapping[str, _Seen]  # normalized name -> the copy imports find first


def _probe_venv(venv_python: Path) -> _VenvView:
    probe = run_probe(
        venv_python, _VENV_PROBE, label=f"{venv_python} (the venv's interpreter)", failure=BuildFailure, timeout=120
    )
    if not probe["metadata"]:
        raise BuildFailure(f"{venv_python}: has no importlib.metadata (Python >= 3.8 needed to verify)")
    visible: Dict[str, _Seen] = {}
    for record in probe["distributions"]:
        key = normalize(record["name"])
        if key not in visible:
            visible[key] = _Seen(
                name=record["name"],
                version=str(record["version"]),
                path=record["path"],
                requires=tuple(record["requires"]),
            )
    return _VenvView(
        environment=probe["environment"],
        site=tuple(os.path.realpath(p) for p in probe["site"]),
        visible=visible,
    )


def _resolve(
    report: CheckReport, plan: Plan, index: SuiteIndex, view: _VenvView
) -> Tuple[Tuple[Resolution, ...], Tuple[UsedDistribution, ...], List[str], List[str]]:
    """Walk every applicable requirement, with its extras, through what the venv's interpreter sees.

    Returns (resolutions, used distributions, problems, warnings): a
    top-level requirement, or an extra's requirement, that does not resolve
    is a problem; a transitive one is a warning (``pip check`` judged those).
    """
    by_path: Dict[str, Provider] = {}
    for providers in index.providers.values():
        for provider in providers:
            if provider.path:
                by_path.setdefault(os.path.normpath(provider.path), provider)
    environment = dict(view.environment)
    problems: List[str] = []
    warnings: List[str] = []
    required_by: Dict[str, Set[str]] = {}
    activated: Dict[str, Set[str]] = {}  # normalized name -> extras walked ("" is the base)

    def walk(key: str, extras: Iterable[str], parent: str, origin: str, top: bool) -> None:
        seen = view.visible[key]
        required_by.setdefault(key, set()).add(parent)
        for text, dependency, contexts in requirements_brought_in(key, seen, extras, activated, environment):
            if dependency is None:
                warnings.append(f"{seen.name} {seen.version}: unreadable requirement {text!r}")
                continue
            failure = _unmet(dependency.name, dependency.specifier, view)
            if failure:
                message = f"{seen.name} {seen.version} requires {text}: {failure}"
                # An extra the user asked for is theirs to verify; the rest pip check judged.
                if top and "" not in contexts:
                    problems.append(f"{origin}: {message}")
                else:
                    warnings.append(message)
                continue
            walk(normalize(dependency.name), dependency.extras, key, origin, False)

    resolutions: List[Resolution] = []
    for planned in plan.requirements:
        requirement = planned.requirement  # with the constraints that apply on this target
        status = planned.status  # the verdict that decided it (``explained_by_apt``)
        if not marker_applies(requirement.marker, environment):
            resolutions.append(Resolution(requirement, NOT_APPLICABLE, planned.reason, None))
            continue
        origin = f"{requirement.text} ({requirement.origin})"
        specifier = requirement.specifier if requirement.url is None else SpecifierSet()
        failure = _unmet(requirement.name, specifier, view)
        if failure:
            problems.append(f"{origin}: {failure}")
        else:
            walk(requirement.name, requirement.extras, "", origin, True)
        resolutions.append(Resolution(requirement, status, planned.reason, None))

    used: Dict[str, UsedDistribution] = {}
    for key in sorted(required_by):
        used[key] = _used(view.visible[key], view, by_path, tuple(sorted(required_by[key])))
    finished = tuple(
        Resolution(r.requirement, r.status, r.reason, used.get(r.requirement.name))
        if r.status != NOT_APPLICABLE
        else r
        for r in resolutions
    )
    return finished, tuple(used.values()), problems, warnings


def requirements_brought_in(
    key: str,
    seen: Any,
    extras: Iterable[str],
    activated: Dict[str, Set[str]],
    environment: Mapping[str, str],
) -> Iterator[Tuple[str, Optional[PackagingRequirement], Tuple[str, ...]]]:
    """The Requires-Dist of ``seen`` that ``extras`` newly bring in, each requirement once.

    ``activated`` (normalized name -> extras already walked, "" for the base)
    is updated, so that walking a distribution again with more extras yields
    only what those add. Yields (text, parsed requirement or None when it
    cannot be read, the extras under which its marker holds); markers are
    evaluated in ``environment``, the venv interpreter's. Build's
    verification and audit walk the same graph through this.
    """
    before = set(activated.get(key, ()))
    new = ({""} | set(extras)) - before
    if not new:
        return
    activated[key] = before | new
    for text in seen.requires:
        try:
            dependency = PackagingRequirement(text)
        except InvalidRequirement:
            yield text, None, ()
            continue
        contexts = tuple(extra for extra in sorted(new) if _marker_holds(dependency, environment, extra))
        if not contexts or any(_marker_holds(dependency, environment, extra) for extra in before):
            continue
        yield text, dependency, contexts


@dataclass(frozen=True)
class Demand:
    """One requirement on a distribution: top-level (from the manifest) or a Requires-Dist."""

    requirement: str  # as written
    name: str  # the distribution, as the requirement spells it
    required_by: str  # "" for a top-level requirement, else the requiring distribution's name
    origin: str  # "requirements.txt:3" or "debvenv-test-sixuser 1.0"
    specifier: SpecifierSet  # what must hold; empty for a URL requirement
    extras: Tuple[str, ...]
    url: Optional[str]  # a direct URL requirement's URL
    problem: Optional[str]  # why it is not met now; None when it is

    @property
    def met(self) -> bool:
        return self.problem is None

    @property
    def text(self) -> str:
        """``appdirs>=1.4 (requirements.txt:1)``."""
        return f"{self.requirement} ({self.origin})"


def walk_demands(requirements: Iterable[Requirement], view: "_VenvView") -> Dict[str, List[Demand]]:
    """Every requirement on each distribution the venv's interpreter sees, from ``requirements`` down.

    The one judgement build's verification and audit share: a venv build
    accepts has no demand here that is not met, and audit's ``broken`` is a
    demand here that is not. The walk follows ``_resolve``: markers
    evaluated for the venv's interpreter, each extra walked once, a
    requirement not met not followed.
    """
    environment = dict(view.environment)
    demands: Dict[str, List[Demand]] = {}
    activated: Dict[str, Set[str]] = {}  # normalized name -> extras walked ("" is the base)

    def walk(key: str, extras: Iterable[str]) -> None:
        seen = view.visible[key]
        for text, dependency, _contexts in requirements_brought_in(key, seen, extras, activated, environment):
            if dependency is None:
                continue  # build warned; pip check judges it
            dependency_key = normalize(dependency.name)
            specifier = dependency.specifier if not dependency.url else SpecifierSet()
            problem = _unmet(dependency.name, specifier, view)
            demands.setdefault(dependency_key, []).append(
                Demand(
                    requirement=text, name=dependency.name, required_by=normalize(seen.name),
                    origin=f"{seen.name} {seen.version}", specifier=specifier,
                    extras=tuple(sorted(normalize(e) for e in dependency.extras)),
                    url=dependency.url or None, problem=problem,
                )
            )  # fmt: skip
            if problem is None:
                walk(dependency_key, dependency.extras)

    for requirement in requirements:
        if not marker_applies(requirement.marker, environment):
            continue
        specifier = requirement.specifier if requirement.url is None else SpecifierSet()
        problem = _unmet(requirement.name, specifier, view)
        demands.setdefault(requirement.name, []).append(
            Demand(
                requirement=requirement.text, name=requirement.display_name, required_by="",
                origin=str(requirement.origin), specifier=specifier, extras=requirement.extras,
                url=requirement.url, problem=problem,
            )
        )  # fmt: skip
        if problem is None:
            walk(requirement.name, requirement.extras)
    return demands


def unmet_below(demands: Mapping[str, Sequence[Demand]]) -> Dict[str, List[Demand]]:
    """The distributions with a requirement not met, where no top-level requirement is among the unmet."""
    return {
        key: list(on)
        for key, on in sorted(demands.items())
        if any(not d.met for d in on) and all(d.required_by for d in on if not d.met)
    }


def demand_line(name: str, demands: Sequence[Demand]) -> str:
    """One pip requirement meeting every demand on a distribution at once (``urllib3<2,>=1.26.11``)."""
    extras = sorted({extra for d in demands for extra in d.extras})
    head = name + (f"[{','.join(extras)}]" if extras else "")
    url = next((d.url for d in demands if d.url), None)
    if url:
        return f"{head} @ {url}"
    specifier = SpecifierSet()
    for demand in demands:
        specifier &= demand.specifier
    return head + str(specifier)


def _unmet(name: str, specifier: SpecifierSet, view: _VenvView) -> Optional[str]:
    seen = view.visible.get(normalize(name))
    if seen is None:
        return "not installed"
    if not specifier:
        return None
    try:
        version = Version(seen.version)
    except InvalidVersion:
        return f"{seen.name} {seen.version} has a version that is not PEP 440; cannot compare with {specifier}"
    if not specifier.contains(version, prereleases=True):
        return f"found {seen.name} {seen.version} at {seen.path}, which does not satisfy {specifier}"
    return None


def _used(seen: _Seen, view: _VenvView, by_path: Mapping[str, Provider], required_by: Tuple[str, ...]) -> UsedDistribution:
    path = seen.path
    if path is not None and any(_inside(os.path.realpath(path), site) for site in view.site):
        return UsedDistribution(seen.name, seen.version, VENV_PROVENANCE, path, required_by=required_by)
    provider = by_path.get(path) if path is not None else None
    if provider is not None:
        return UsedDistribution(
            seen.name, seen.version, DEBIAN, path,
            package=provider.package, debian_version=provider.debian_version, required_by=required_by,
        )
    return UsedDistribution(seen.name, seen.version, FOREIGN, path, required_by=required_by)


def _shadows(
    installed: Sequence[InstalledDistribution],
    index: SuiteIndex,
    forced: Mapping[str, str],
) -> Tuple[Shadow, ...]:
    """Each installed distribution Debian also provides, with what forced it (from ``forced``)."""
    shadows = []
    for distribution in installed:
        key = normalize(distribution.name)
        providers = index.lookup(key)
        if not providers:
            continue
        provider = providers[0]
        shadows.append(
            Shadow(
                name=distribution.name,
                version=distribution.version,
                package=provider.package,
                debian_version=provider.debian_version,
                debian_distribution_version=provider.version,
                reason=forced.get(key) or "pip chose it (see the pip arguments)",
            )
        )
    return tuple(shadows)


# ---- the manifest ------------------------------------------------------------------


def _distribution_document(distribution: Optional[UsedDistribution]) -> Dict[str, Any]:
    if distribution is None:
        return {"provenance": None, "version": None, "package": None, "debian_version": None, "path": None}
    return {
        "provenance": distribution.provenance,
        "version": distribution.version,
        "package": distribution.package,
        "debian_version": distribution.debian_version,
        "path": distribution.path,
    }


def manifest_document(result: BuildResult, *, now: datetime) -> Dict[str, Any]:
    """The ``debvenv.manifest/1`` document written to ``DIR/debvenv.json``."""
    installed = {normalize(d.name): d for d in result.installed}
    requirements = []
    for resolution in result.resolutions:
        requirement = resolution.requirement
        entry = requirement_document(requirement)
        if requirement.url:
            entry["url"] = _CREDENTIALS_RE.sub("***@", requirement.url)
        entry.update(status=resolution.status, reason=resolution.reason)
        entry.update(_distribution_document(resolution.distribution))
        requirements.append(entry)
    distributions = []
    for distribution in result.distributions:
        key = normalize(distribution.name)
        entry = {"name": distribution.name, "required_by": list(distribution.required_by)}
        entry.update(_distribution_document(distribution))
        pip_installed = installed.get(key)
        entry["source"] = pip_installed.source if pip_installed else None
        distributions.append(entry)
    listed = {normalize(d.name) for d in result.distributions}
    for key, pip_installed in sorted(installed.items()):
        if key not in listed:  # installed by pip but reached by no requirement (pip arguments added it)
            distributions.append({
                "name": pip_installed.name, "required_by": [], "provenance": VENV_PROVENANCE,
                "version": pip_installed.version, "package": None, "debian_version": None,
                "path": None, "source": pip_installed.source,
            })
    debian_packages = {
        d.package: d.debian_version for d in result.distributions if d.provenance == DEBIAN and d.package
    }
    return {
        "schema": SCHEMA,
        "debvenv_version": __version__,
        "created": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "venv": str(result.venv),
        "python": {"path": str(result.python), "version": result.python_version},
        "pip": {
            "version": result.pip_version,
            "args": [_CREDENTIALS_RE.sub("***@", arg) for arg in result.pip_args],
        },
        "requirements": requirements,
        "distributions": distributions,
        "shadowed": [
            {
                "name": s.name,
                "version": s.version,
                "package": s.package,
                "debian_version": s.debian_version,
                "debian_distribution_version": s.debian_distribution_version,
                "reason": s.reason,
            }
            for s in result.shadowed
        ],
        "debian_packages": dict(sorted(debian_packages.items())),
        "warnings": list(result.warnings),
        "apt_install": result.apt_install,
        "apt_installed": [
            {
                "name": c.name,
                "version": c.version,
                "package": c.package,
                "debian_version": c.debian_version,
                "round": c.round,
                "reason": c.reason,
            }
            for c in result.apt_choices
            if c.destination == APT_DESTINATION
        ],
        "apt_left_to_pip": [
            {"name": c.name, "version": c.version, "reason": c.reason}
            for c in result.apt_choices
            if c.destination == PIP_DESTINATION
        ],
        "apt_packages": dict(result.apt_packages),
    }


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    # 0644 whatever the umask: the venv's users read the manifest, only its builder writes it.
    write_atomically(path, text.encode("utf-8"), mode=0o644)


# ---- rendering ---------------------------------------------------------------------


def render_build(result: BuildResult) -> str:
    """The terminal summary: what Debian provides, what went to the venv and why, what it shadows."""
    lines = [
        f"{'rebuilt' if result.replaced_previous else 'built'} {result.venv} "
        f"for {result.python} (Python {result.python_version})"
        + (f", pip {result.pip_version}" if result.pip_version else ", nothing for pip to install"),
    ]
    lines += _render_apt(result)
    by_provenance: Dict[str, List[Resolution]] = {}
    for resolution in result.resolutions:
        provenance = resolution.distribution.provenance if resolution.distribution else NOT_APPLICABLE
        by_provenance.setdefault(provenance, []).append(resolution)
    from_debian = by_provenance.get(DEBIAN, [])
    if from_debian:
        lines += ["", f"from Debian ({len(from_debian)}):"]
        lines += [f"  {r.requirement.text}: {r.provenance_text}" for r in from_debian]
    for provenance, heading in ((VENV_PROVENANCE, "in the venv"), (FOREIGN, "outside Debian and the venv")):
        resolutions = by_provenance.get(provenance, [])
        if resolutions:
            lines += ["", f"{heading} ({len(resolutions)}):"]
            for resolution in resolutions:
                lines.append(f"  {resolution.requirement.text}: {resolution.provenance_text}")
                lines.append(f"    because {resolution.reason}")
    skipped = by_provenance.get(NOT_APPLICABLE, [])
    if skipped:
        lines += ["", f"not applicable ({len(skipped)}):"]
        lines += [f"  {r.requirement.text}" for r in skipped]
    top_level = {r.requirement.name for r in result.resolutions}
    pulled = [d for d in result.installed if normalize(d.name) not in top_level]
    if pulled:
        required = {normalize(d.name): d.required_by for d in result.distributions}
        lines += ["", f"pulled into the venv as dependencies ({len(pulled)}):"]
        for distribution in pulled:
            by = ", ".join(name for name in required.get(normalize(distribution.name), ()) if name)
            lines.append(f"  {distribution.name} {distribution.version}" + (f" (for {by})" if by else ""))
    relied = sorted(
        {(d.package, d.debian_version) for d in result.distributions if d.provenance == DEBIAN and d.package}
    )
    if relied:
        lines += ["", f"Debian packages relied on ({len(relied)}):"]
        lines += [f"  {package} {version}" for package, version in relied]
    if result.shadowed:
        lines += ["", f"shadowing Debian ({len(result.shadowed)}):"]
        for shadow in result.shadowed:
            lines.append(
                f"  {shadow.name} {shadow.version} shadows {shadow.package} {shadow.debian_version}"
                f" ({shadow.debian_distribution_version}): {shadow.reason}"
            )
    if result.warnings:
        lines += ["", "warnings:"]
        lines += [f"  {warning}" for warning in result.warnings]
    lines += ["", f"manifest: {result.manifest}"]
    return "\n".join(lines) + "\n"


def _render_apt(result: BuildResult) -> List[str]:
    """What --apt-install sent to apt and what it left to pip, each with why."""
    if not result.apt_install:
        return []
    to_apt = [c for c in result.apt_choices if c.destination == APT_DESTINATION]
    to_pip = [c for c in result.apt_choices if c.destination == PIP_DESTINATION]
    if not to_apt:
        lines = ["", "apt-get installed nothing: the apt lists satisfy nothing more than is installed"]
    else:
        lines = ["", f"apt-get installed for --apt-install ({len(to_apt)}):"]
        lines += [f"  {c.name} {c.version}: {c.reason}" for c in to_apt]
        asked = {c.package for c in to_apt}
        others = [f"{package} {version}" for package, version in result.apt_packages if package not in asked]
        if others:
            lines.append(f"  and with them, as their dependencies ({len(others)}): {', '.join(others)}")
    if to_pip:
        lines += ["", f"left to pip by --apt-install ({len(to_pip)}):"]
        lines += [f"  {c.name} {c.version}: {c.reason}" for c in to_pip]
    return lines
