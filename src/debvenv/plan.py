"""Verdicts -> a plan for one target: what apt installs, what the venv gets, what debian/control depends on.

``make_plan`` decides; ``write_plan`` writes three files, ``plan_document``
and ``render_plan_table`` render. Where each requirement goes:

==================  ===========  ==================================================
status              destination  written to
==================  ===========  ==================================================
satisfied           apt          apt-packages.txt, debian-depends.txt (and
                                 venv-requirements.txt when it names extras)
outdated, too-new,  venv         venv-requirements.txt
excluded, missing,
url, unknown-version
not-applicable      none         a comment in venv-requirements.txt
==================  ===========  ==================================================

apt-packages.txt
    One Debian package per line, sorted and unique. A package taken from a
    NotAutomatic pocket (``*-backports``, ``*-backports-sloppy``,
    ``experimental``: apt never upgrades to them by itself) is written
    ``package/pocket``, the spelling ``apt-get install`` needs to pick that
    version. apt installs one version of a package: when requirements chose
    different versions of one package, the version satisfying more of them
    stays and the others go to the venv ("conflict").
venv-requirements.txt
    pip's requirements format, for a venv made with
    ``--system-site-packages``: a header comment; the pip options of the
    requirement files (``--index-url``, ``--find-links`` made absolute when
    relative to its requirement file, as pip would read it); ``-c FILE`` for
    each constraint file (absolute), so transitive pins still hold; then one
    line per requirement: as written when that still says what was parsed,
    else rebuilt from the parsed requirement (name and extras, specifier or
    `` @ URL``, ``; marker``, ``-e`` for editables), then its ``--hash=``
    options. A requirement whose written URL holds ``${VAR}``
    is kept as written: pip expands it at install time, so a token in the
    environment never lands in the file. A satisfied requirement that names
    extras is listed too: with the distribution already installed, pip
    installs only the extras' own requirements, which Debian does not
    provide by being installed. Not-applicable requirements end the file as
    comments saying why they were left out.
debian-depends.txt
    One relation group per satisfied requirement, joined with ``",\\n "``
    (debian/control's continuation), from ``specifier_to_relations`` with
    the providing package's epoch. Each group is checked against that
    package's own Debian version, never written as a Depends the package
    itself could not satisfy. A lower bound it fails (``>=6.0.0`` against
    ``6.0-3``: a release spelled with fewer components, a translation limit
    of ``debversion``) becomes ``>=`` the package's own upstream version;
    any other group it fails (the dist-info version and the Debian version
    disagree: ``deprecation<2.1`` against ``2.1.0-2`` shipping 2.0.7) is
    left out. Either way the plan warns.

Requirement lines keep the text as written whenever it still says what the
parsed requirement says (the specifier order, the marker's quotes).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as _PackagingRequirement

from debvenv.debversion import (
    DebianRelationError,
    debian_version_key,
    parse_debian_version,
    specifier_to_relations,
)
from debvenv.errors import InputError
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
)
from debvenv.index import Provider, Target
from debvenv.names import normalize
from debvenv.requirements import Requirement, RequirementSet, apply_constraints

SCHEMA = "debvenv.plan/1"
APT = "apt"
VENV = "venv"
NONE = "none"

APT_PACKAGES_FILE = "apt-packages.txt"
VENV_REQUIREMENTS_FILE = "venv-requirements.txt"
DEBIAN_DEPENDS_FILE = "debian-depends.txt"
DEPENDS_SEPARATOR = ",\n "
TABLE_WIDTH = 80

# Suites whose Release says NotAutomatic: apt only installs from them when asked by name.
_NOT_AUTOMATIC_SUFFIXES = ("-backports", "-backports-sloppy")
_NOT_AUTOMATIC_SUITES = ("experimental", "rc-buggy")
_RELATION_RE = re.compile(r"^(?P<package>\S+) \((?P<op><<|<=|=|>=|>>) (?P<version>[^)\s]+)\)$")


@dataclass(frozen=True)
class PlannedRequirement:
    """Where one requirement goes on the target, and why."""

    requirement: Requirement  # as the target sees it: constraints with markers applied
    status: str  # the verdict's status
    destination: str  # APT | VENV | NONE
    provider: Optional[Provider]
    relation: Optional[str]  # its debian-depends.txt entry, for APT
    line: Optional[str]  # its venv-requirements.txt line, if it has one
    reason: str


@dataclass(frozen=True)
class Plan:
    """The answer of ``plan`` for one target."""

    target: Target
    apt_packages: Tuple[str, ...]  # sorted, unique; "pkg/bookworm-backports" for NotAutomatic pockets
    venv_requirements: Tuple[str, ...]  # venv-requirements.txt, line by line
    debian_depends: Tuple[str, ...]  # one relation group per satisfied requirement
    requirements: Tuple[PlannedRequirement, ...]  # file order
    warnings: Tuple[str, ...] = ()

    @property
    def apt_command(self) -> Optional[str]:
        """The one ``apt-get install`` line, or None when apt has nothing to install."""
        if not self.apt_packages:
            return None
        return shlex.join(["apt-get", "install", *self.apt_packages])

    @property
    def reasons(self) -> Tuple[Tuple[str, str], ...]:
        """(requirement as written, why it went where it went), in file order."""
        return tuple((planned.requirement.text, planned.reason) for planned in self.requirements)

    def file_texts(self) -> Dict[str, str]:
        """The three files' contents, by file name."""
        return {
            APT_PACKAGES_FILE: _lines_text(self.apt_packages),
            VENV_REQUIREMENTS_FILE: _lines_text(self.venv_requirements),
            DEBIAN_DEPENDS_FILE: (DEPENDS_SEPARATOR.join(self.debian_depends) + "\n") if self.debian_depends else "",
        }


def _lines_text(lines: Sequence[str]) -> str:
    return "".join(line + "\n" for line in lines)


# ---- deciding ----------------------------------------------------------------------


def is_not_automatic(suite: Optional[str]) -> bool:
    """Whether apt installs from ``suite`` only when asked by name (backports, experimental)."""
    if suite is None:
        return False
    return suite.endswith(_NOT_AUTOMATIC_SUFFIXES) or suite in _NOT_AUTOMATIC_SUITES


def apt_package(provider: Provider) -> str:
    """How ``apt-get install`` must name the provider to get this version."""
    if is_not_automatic(provider.suite):
        return f"{provider.package}/{provider.suite}"
    return provider.package


def venv_line(requirement: Requirement) -> str:
    """The requirement as one line of pip's requirements format (module docstring: venv-requirements.txt)."""
    if (requirement.url is not None and "${" in requirement.text) or _written_as_parsed(requirement):
        line = requirement.text
    elif requirement.editable:
        assert requirement.url is not None
        # pip reads extras after a file: URL; a VCS URL carries them in its #egg= fragment.
        extras = _extras_text(requirement) if requirement.url.startswith("file:") else ""
        line = f"-e {requirement.url}{extras}"
    else:
        line = requirement.display_name + _extras_text(requirement)
        if requirement.url is not None:
            line += f" @ {requirement.url}"
            # PEP 508: a space must end the URL before the marker's ";".
            marker_separator = " ; "
        else:
            line += str(requirement.specifier)
            marker_separator = "; "
        if requirement.marker is not None:
            line += marker_separator + str(requirement.marker)
    return line + "".join(f" --hash={digest}" for digest in requirement.hashes)


def _written_as_parsed(requirement: Requirement) -> bool:
    """Whether the text as written still says exactly what the parsed requirement says.

    Not so for a requirement narrowed by constraints, a bare URL or path
    (its name and absolute URL were worked out), an editable, or one whose
    marker gained a self-referencing extra's.
    """
    try:
        written = _PackagingRequirement(requirement.text)
    except InvalidRequirement:
        return False
    return (
        normalize(written.name) == requirement.name
        and tuple(sorted({normalize(extra) for extra in written.extras})) == requirement.extras
        and written.specifier == requirement.specifier
        and (written.url or None) == requirement.url
        and str(written.marker or "") == str(requirement.marker or "")
    )


def _extras_text(requirement: Requirement) -> str:
    return f"[{','.join(requirement.extras)}]" if requirement.extras else ""


def _where(target: Target) -> str:
    return f"{target.id} (Python {target.python}, {target.arch or 'any arch'})"


def _provider_text(provider: Provider) -> str:
    text = f"{provider.package} {provider.debian_version}"
    if is_not_automatic(provider.suite):
        text += f" from {provider.suite}"
    return text


def _failing_specifiers(requirement: Requirement, provider: Provider) -> str:
    try:
        failing = [
            str(spec)
            for spec in requirement.specifier
            if not spec.contains(provider.version, prereleases=True)
        ]
    except ValueError:
        failing = []
    return ",".join(sorted(failing)) or str(requirement.specifier)


def _venv_reason(status: str, requirement: Requirement, provider: Optional[Provider]) -> str:
    if status in (OUTDATED, TOO_NEW, EXCLUDED) and provider is not None:
        needs = _failing_specifiers(requirement, provider)
        return f"{status}: {provider.package} has {provider.version}, needs {needs}"
    if status == UNKNOWN_VERSION and provider is not None:
        return f"{status}: {provider.package} has {provider.version!r}, not a PEP 440 version"
    if status == MISSING:
        return f"{status}: no Debian package provides {requirement.display_name}"
    if status == URL:
        kind = "editable" if requirement.editable else "direct URL"
        return f"{status}: {kind}, never satisfied by the distribution"
    return status


def _relation_holds(relation: str, debian_version: str) -> bool:
    """Whether a version satisfies one relation group (``a (>= 1) | a (<< 0.5)``) of our own making."""
    for alternative in relation.split(" | "):
        match = _RELATION_RE.match(alternative)
        if match is None:
            return True  # a bare package name: any version
        have, bound = debian_version_key(debian_version), debian_version_key(match.group("version"))
        holds = {
            "<<": have < bound,
            "<=": have <= bound,
            "=": have == bound,
            ">=": have >= bound,
            ">>": have > bound,
        }[match.group("op")]
        if holds:
            return True
    return False


def _relation(requirement: Requirement, provider: Provider) -> Tuple[str, Tuple[str, ...]]:
    """The requirement's Debian relation group, keeping only what the providing package satisfies.

    Returns the group and what had to change in it, for the reason and the warnings.
    """
    try:
        groups = specifier_to_relations(provider.package, requirement.specifier, provider.debian_version)
    except DebianRelationError as error:
        return provider.package, (f"{error}: Depends names {provider.package} without a version",)
    kept: List[str] = []
    changes: List[str] = []
    for group in groups:
        if _relation_holds(group, provider.debian_version):
            kept.append(group)
            continue
        failing = f"{provider.debian_version} (version {provider.version}) fails {group}"
        if re.fullmatch(r"\S+ \(>= [^)]+\)", group):
            # A lower bound spelled longer than Debian spells the release (>=6.0.0 against
            # 6.0-3): the package's own upstream version is a bound it meets.
            parsed = parse_debian_version(provider.debian_version)
            epoch = f"{parsed.epoch}:" if parsed.epoch else ""
            replacement = f"{provider.package} (>= {epoch}{parsed.upstream})"
            kept.append(replacement)
            changes.append(f"{failing}: Depends says {replacement} instead")
        else:
            changes.append(f"{failing}: left out of Depends")
    return ", ".join(dict.fromkeys(kept)) or provider.package, tuple(changes)


def _conflicts(planned: Sequence[Tuple[Requirement, str, Optional[Provider]]]) -> Dict[int, str]:
    """Requirements whose chosen package version loses to another version of the same package.

    Returns position -> the reason it goes to the venv. ``evaluate`` picks the
    highest satisfying version per requirement, so a requirement that chose
    a lower version is not satisfied by the higher one: apt can install only
    one of them. The version satisfying more requirements stays; then the
    higher one.
    """
    by_package: Dict[str, Dict[str, List[int]]] = {}
    for position, (_requirement, status, provider) in enumerate(planned):
        if status == SATISFIED and provider is not None:
            versions = by_package.setdefault(provider.package, {})
            versions.setdefault(provider.debian_version, []).append(position)
    losers: Dict[int, str] = {}
    for package, versions in by_package.items():
        if len(versions) < 2:
            continue
        kept = max(versions, key=lambda v: (len(versions[v]), debian_version_key(v)))
        for version, positions in versions.items():
            if version == kept:
                continue
            for position in positions:
                losers[position] = (
                    f"conflict: satisfied by {package} {version}, but apt installs {package} {kept} "
                    "for other requirements"
                )
    return losers


def _pip_option_line(origin_file: str, option: str) -> str:
    name, _, value = option.partition(" ")
    if name == "--find-links" and value and "://" not in value and not os.path.isabs(value):
        # pip reads a relative --find-links from the requirement file's directory when it exists there.
        candidate = os.path.join(os.path.dirname(origin_file), value)
        if os.path.exists(candidate):
            return f"{name} {os.path.abspath(candidate)}"
    return option


def make_plan(
    report: CheckReport, target_id: str, *, requirement_set: Optional[RequirementSet] = None
) -> Plan:
    """Decide, for one of the report's targets, where every requirement goes.

    ``requirement_set`` (the one the report was made from) contributes the
    pip options and constraint files kept in venv-requirements.txt, and the
    constraints with markers that applied on this target.
    """
    target = next((t for t in report.targets if t.id == target_id), None)
    if target is None:
        known = ", ".join(t.id for t in report.targets)
        raise ValueError(f"target {target_id!r} is not in the report (it has {known})")
    constraints = requirement_set.constraints if requirement_set is not None else ()

    chosen: List[Tuple[Requirement, str, Optional[Provider]]] = []
    folded: Dict[int, Requirement] = {}  # position -> the earlier line's requirement it was combined into
    for position, result in enumerate(report.results):
        verdict = result.verdicts[target_id]
        requirement = result.requirement
        if constraints:
            requirement = apply_constraints(requirement, constraints, target.marker_environment)
        if verdict.judged is not None:
            # Lines of one name are decided once, on the first of them (pip combines them too).
            if verdict.judged.origin != result.requirement.origin:
                folded[position] = verdict.judged
                chosen.append((requirement, verdict.status, None))
                continue
            requirement = verdict.judged
        chosen.append((requirement, verdict.status, verdict.provider))
    conflicts = _conflicts(chosen)

    warnings: List[str] = list(report.warnings)
    planned: List[PlannedRequirement] = []
    for position, (requirement, status, provider) in enumerate(chosen):
        if position in folded:
            planned.append(
                PlannedRequirement(
                    requirement=requirement, status=status, destination=NONE, provider=None,
                    relation=None, line=None,
                    reason=f"combined into {folded[position].origin}: decided once per name",
                )
            )
        elif status == NOT_APPLICABLE:
            planned.append(
                PlannedRequirement(
                    requirement=requirement, status=status, destination=NONE, provider=None,
                    relation=None, line=None, reason=f"{status}: marker is false on {_where(target)}",
                )
            )
        elif status == SATISFIED and provider is not None and position not in conflicts:
            reason = f"satisfied by {_provider_text(provider)}"
            line = None
            if requirement.extras:
                line = venv_line(requirement)
                reason += f"; pip installs the requirements of [{','.join(requirement.extras)}]"
            relation, changes = _relation(requirement, provider)
            for change in changes:
                reason += f"; {change}"
                warnings.append(f"{requirement.origin}: {requirement.text}: {change}")
            planned.append(
                PlannedRequirement(
                    requirement=requirement, status=status, destination=APT, provider=provider,
                    relation=relation, line=line, reason=reason,
                )
            )
        else:
            reason = conflicts.get(position) or _venv_reason(status, requirement, provider)
            planned.append(
                PlannedRequirement(
                    requirement=requirement, status=status, destination=VENV, provider=provider,
                    relation=None, line=venv_line(requirement), reason=reason,
                )
            )

    apt_packages = sorted({apt_package(p.provider) for p in planned if p.destination == APT and p.provider})
    depends = list(dict.fromkeys(p.relation for p in planned if p.relation is not None))
    return Plan(
        target=target,
        apt_packages=tuple(apt_packages),
        venv_requirements=_venv_file_lines(target, planned, requirement_set),
        debian_depends=tuple(sorted(depends)),
        requirements=tuple(planned),
        warnings=tuple(warnings),
    )


def _venv_file_lines(
    target: Target, planned: Sequence[PlannedRequirement], requirement_set: Optional[RequirementSet]
) -> Tuple[str, ...]:
    lines = [
        f"# debvenv plan for {_where(target)}: what its Debian packages do not satisfy.",
        "# For a venv made with --system-site-packages.",
    ]
    if requirement_set is not None:
        lines.extend(_pip_option_line(origin.file, option) for origin, option in requirement_set.pip_options)
        constraint_files = dict.fromkeys(c.origin.file for c in requirement_set.constraints)
        lines.extend(f"-c {os.path.abspath(path)}" for path in constraint_files)
    lines.extend(p.line for p in planned if p.line is not None)
    lines.extend(
        f"# not applicable on {target.id}: {p.requirement.text} ({p.requirement.origin})"
        for p in planned
        if p.destination == NONE and p.status == NOT_APPLICABLE
    )
    return tuple(dict.fromkeys(lines))


# ---- writing -----------------------------------------------------------------------


def write_plan(plan: Plan, directory: Path) -> Tuple[Path, ...]:
    """Write the three files into ``directory`` (made if missing); return their paths.

    Every file is first written in full under a temporary name, and only
    when all three are on disk are they renamed into place: a failure while
    writing (unwritable directory, full disk) leaves the old files as they
    were and no partial file. Raises InputError.
    """
    pending: List[Tuple[Path, Path]] = []  # (temporary, final)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in plan.file_texts().items():
            temporary = directory / f".{name}.{secrets.token_hex(4)}.tmp"
            pending.append((temporary, directory / name))
            _write_new(temporary, text)
        for temporary, final in pending:
            os.replace(temporary, final)
    except BaseException as error:
        for temporary, _final in pending:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        if isinstance(error, OSError):
            reason = error.strerror or str(error)
            raise InputError(f"-o {directory}: cannot write the plan: {reason}") from error
        raise
    return tuple(final for _temporary, final in pending)


def _write_new(path: Path, text: str) -> None:
    # os.open, not mkstemp: the file gets the umask's permissions, not 0600.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


# ---- rendering ---------------------------------------------------------------------


def plan_document(plan: Plan) -> Dict[str, Any]:
    """The ``debvenv.plan/1`` document."""
    target = plan.target
    return {
        "schema": SCHEMA,
        "target": {"id": target.id, "kind": target.kind, "python": target.python, "arch": target.arch},
        "apt_packages": list(plan.apt_packages),
        "apt_command": plan.apt_command,
        "venv_requirements": list(plan.venv_requirements),
        "debian_depends": list(plan.debian_depends),
        "requirements": [
            {
                "requirement": p.requirement.text,
                "file": p.requirement.origin.file,
                "line": p.requirement.origin.line,
                "status": p.status,
                "destination": p.destination,
                "package": p.provider.package if p.provider else None,
                "debian_version": p.provider.debian_version if p.provider else None,
                "relation": p.relation,
                "reason": p.reason,
            }
            for p in plan.requirements
        ],
    }


def render_plan_json(plan: Plan) -> str:
    return json.dumps(plan_document(plan), indent=2, sort_keys=True) + "\n"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


_SECTIONS = (
    (APT, "apt: satisfied by Debian packages"),
    (VENV, "venv: left to pip"),
    (NONE, "left out: not applicable on this target"),
)


def render_plan_table(plan: Plan) -> str:
    """The plan for a terminal: requirements grouped by destination, then the apt-get line; 80 columns."""
    target = plan.target
    lines = [f"{target.id}: {target.kind}, Python {target.python}, {target.arch or 'any arch'}", ""]
    texts = [p.requirement.text for p in plan.requirements]
    first = min(max((len(t) for t in texts), default=0), 32)
    indent = " " * (2 + first + 2)
    for destination, heading in _SECTIONS:
        group = [p for p in plan.requirements if p.destination == destination]
        if not group:
            continue
        if destination == NONE and any(p.status != NOT_APPLICABLE for p in group):
            heading = "left out: not applicable, or decided with another line of the same name"
        lines.append(f"{heading} ({len(group)})")
        for planned in group:
            text = planned.requirement.text
            reason = textwrap.wrap(planned.reason, TABLE_WIDTH - len(indent), break_on_hyphens=False)
            if len(text) > first:
                # A long requirement (a URL, a marker) gets its own line rather than losing its end.
                lines.append("  " + _fit(text, TABLE_WIDTH - 2))
                lines.extend(indent + part for part in reason)
            else:
                lines.append(("  " + text.ljust(first) + "  " + (reason[0] if reason else "")).rstrip())
                lines.extend(indent + part for part in reason[1:])
            if planned.relation is not None and destination == APT:
                lines.extend(
                    textwrap.wrap(
                        f"Depends: {planned.relation}", TABLE_WIDTH,
                        initial_indent=indent, subsequent_indent=indent + "  ",
                        break_on_hyphens=False,
                    )
                )
    counts = {d: sum(1 for p in plan.requirements if p.destination == d) for d, _ in _SECTIONS}
    combined = sum(1 for p in plan.requirements if p.destination == NONE and p.status != NOT_APPLICABLE)
    lines.append("")
    lines.append(
        f"{len(plan.requirements)} requirements: {counts[APT]} from apt, {counts[VENV]} for the venv, "
        f"{counts[NONE] - combined} not applicable" + (f", {combined} combined with another line" if combined else "")
    )
    lines.append("")
    if plan.apt_command is None:
        lines.append("# nothing to install with apt")
    else:
        # Still one shell command: continuation backslashes keep it pasteable.
        wrapped = textwrap.wrap(
            plan.apt_command, TABLE_WIDTH - 2, subsequent_indent="  ", break_on_hyphens=False,
            break_long_words=False,
        )
        lines.append(" \\\n".join(wrapped))
    return "\n".join(lines) + "\n"
