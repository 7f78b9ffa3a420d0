"""Requirements x SuiteIndex -> verdicts: does the target's Debian satisfy each requirement?

The statuses are docs/design.md's, plus ``unknown-version`` for a provider whose
metadata version is not PEP 440 (Ubuntu's ``1.1build1``): we cannot compare
it, and a careful answer says so rather than guessing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from packaging.markers import Marker
from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from debvenv.debversion import debian_version_key, upstream_version
from debvenv.errors import EXIT_CHECK_FAILED, EXIT_ENVIRONMENT, EXIT_OK
from debvenv.index import MAPPING_DH_PYTHON, VERSION_FROM_DEBIAN, Provider, SuiteIndex, Target
from debvenv.names import normalize
from debvenv.requirements import Requirement, RequirementSet, apply_constraints, combine_repeated

SATISFIED = "satisfied"
OUTDATED = "outdated"
TOO_NEW = "too-new"
EXCLUDED = "excluded"
MISSING = "missing"
URL = "url"
NOT_APPLICABLE = "not-applicable"
UNKNOWN_VERSION = "unknown-version"

# The order reports list statuses in; unknown-version only appears when it occurs.
STATUSES = (SATISFIED, OUTDATED, TOO_NEW, EXCLUDED, MISSING, URL, NOT_APPLICABLE)
ALL_STATUSES = STATUSES + (UNKNOWN_VERSION,)

# When no provider satisfies, the most telling failure is reported.
_FAILURE_RANK = {OUTDATED: 0, TOO_NEW: 1, EXCLUDED: 2, UNKNOWN_VERSION: 3}
_NO_VERSION = Version("0")


# Why a candidate package was not taken as the requirement's provider.
OTHER_NAME = "other-name"  # spelled like the requirement, its metadata names another distribution
NO_METADATA = "no-metadata"  # spelled like the requirement, it ships no metadata pip can see
NOT_TAKEN_COLLISION = "not-taken-collision"  # it ships the name too, but Debian means another package
NOT_INSTALLED = "not-installed"  # ``installed``: apt offers it, dpkg has not installed it
CANDIDATE_REASONS = (OTHER_NAME, NO_METADATA, NOT_TAKEN_COLLISION, NOT_INSTALLED)


@dataclass(frozen=True)
class Candidate:
    """A Debian package that looks like the requirement's but is not its provider, and why."""

    package: str
    debian_version: str
    reason: str  # one of CANDIDATE_REASONS
    # The distribution it ships (name, version as its metadata says); None: no metadata.
    ships: Optional[Tuple[str, str]] = None


@dataclass(frozen=True)
class Verdict:
    """One requirement against one target."""

    status: str
    provider: Optional[Provider] = None
    notes: Tuple[str, ...] = ()
    # Packages the answer does not take, each with why (the JSON's ``candidates``).
    candidates: Tuple[Candidate, ...] = ()
    # The requirement judged, where other lines of the same name were folded into this one
    # (``combine_repeated``); None: the line itself, with the target's constraints.
    judged: Optional[Requirement] = None


@dataclass(frozen=True)
class RequirementResult:
    requirement: Requirement
    verdicts: Mapping[str, Verdict]  # target id -> verdict


@dataclass(frozen=True)
class CheckReport:
    """The whole answer of ``check``: what the renderers show and the exit code derives from."""

    targets: Tuple[Target, ...]
    results: Tuple[RequirementResult, ...]
    warnings: Tuple[str, ...] = ()

    @property
    def answered(self) -> Tuple[Target, ...]:
        """The targets that could be answered; the others carry ``error``."""
        return tuple(t for t in self.targets if t.error is None)

    @property
    def failed(self) -> Tuple[Target, ...]:
        return tuple(t for t in self.targets if t.error is not None)

    def summary(self) -> Dict[str, Dict[str, int]]:
        counts: Dict[str, Dict[str, int]] = {}
        for target in self.answered:
            per_status = {status: 0 for status in STATUSES}
            for result in self.results:
                status = result.verdicts[target.id].status
                per_status[status] = per_status.get(status, 0) + 1
            counts[target.id] = per_status
        return counts

    def exit_code(self, *, strict: bool) -> int:
        if self.failed:
            return EXIT_ENVIRONMENT
        if not strict:
            return EXIT_OK
        acceptable = (SATISFIED, NOT_APPLICABLE)
        for result in self.results:
            if any(v.status not in acceptable for v in result.verdicts.values()):
                return EXIT_CHECK_FAILED
        return EXIT_OK


def marker_applies(marker: Optional[Marker], environment: Mapping[str, str]) -> bool:
    """Whether a requirement's marker holds on the target (no extra is being installed)."""
    if marker is None:
        return True
    return marker.evaluate({**environment, "extra": ""})


def version_status(version: Version, specifier: SpecifierSet) -> str:
    """Why ``version`` fails ``specifier``, or SATISFIED.

    A Debian package is what it is: a pre-release in the archive satisfies a
    plain ``>=`` (pip treats an installed pre-release the same way).
    """
    if specifier.contains(version, prereleases=True):
        return SATISFIED
    failures = {
        _failure_kind(version, spec)
        for spec in specifier
        if not spec.contains(version, prereleases=True)
    }
    for status in (OUTDATED, TOO_NEW, EXCLUDED):
        if status in failures:
            return status
    return EXCLUDED


def _failure_kind(version: Version, spec: Specifier) -> str:
    operator = spec.operator
    if operator in (">=", ">"):
        return OUTDATED
    if operator in ("<", "<="):
        return TOO_NEW
    if operator in ("==", "~="):
        bound = Version(spec.version[:-2] if spec.version.endswith(".*") else spec.version)
        return OUTDATED if version < bound else TOO_NEW
    if operator == "===":
        # Upper-constraints files pin everything with ===: ordering it like == tells the
        # operator which way the package is off. Only an equal version spelled otherwise
        # (1.0 against ===1.0.0) is excluded by the string match itself.
        try:
            bound = Version(spec.version)
        except InvalidVersion:
            return EXCLUDED
        if version < bound:
            return OUTDATED
        if version > bound:
            return TOO_NEW
    return EXCLUDED  # !=, and === on an equal version spelled otherwise


def _judge(provider: Provider, specifier: SpecifierSet) -> Tuple[str, Optional[Version], Tuple[str, ...]]:
    notes: List[str] = []
    try:
        version: Optional[Version] = Version(provider.version)
    except InvalidVersion:
        version = None
    debian = upstream_version(provider.debian_version)
    if provider.version_source == VERSION_FROM_DEBIAN:
        notes.append(f"version translated from Debian {provider.debian_version}")
        notes.extend(debian.notes)
    elif (
        version is not None
        and debian.version is not None
        # Debian's repack suffix can leak into the metadata as a local label (20.17.1+ds).
        and debian.version.public != version.public
    ):
        notes.append(
            f"metadata says {provider.version}, Debian version {provider.debian_version}: metadata wins"
        )
    if version is None:
        if not specifier:
            return SATISFIED, None, tuple(notes)
        notes.append(f"version {provider.version!r} is not PEP 440; cannot compare")
        return UNKNOWN_VERSION, None, tuple(notes)
    return version_status(version, specifier), version, tuple(notes)


# Shipments.python_names' key prefix for a name whose version suffix was dropped (python3-vtk9 -> vtk).
_VERSIONED = "~"
_VERSION_SUFFIX = re.compile(r"-?\d+$")
_PYTHON3_PREFIX = "python3-"


class Shipments(Dict[str, Tuple[Provider, ...]]):
    """Debian package -> every distribution it ships, for one index (``shipments``)."""

    def __init__(self, index: SuiteIndex) -> None:
        shipped: Dict[str, List[Provider]] = {}
        for group in index.providers.values():
            for provider in group:
                shipped.setdefault(provider.package, []).append(provider)
        super().__init__((package, tuple(group)) for package, group in shipped.items())
        self.bare = index.bare

    # Built when a requirement is first missing: most reports of a well-packaged
    # file never need it.
    @functools.cached_property
    def python_names(self) -> Mapping[str, Tuple[str, ...]]:
        """The python3-* packages (shipping metadata or not) by normalized name after the prefix;
        ``_VERSIONED + name`` holds those spelled with a version suffix."""
        names: Dict[str, List[str]] = {}
        start = len(_PYTHON3_PREFIX)
        for package in (*self, *self.bare):
            if not package.startswith(_PYTHON3_PREFIX):
                continue
            # Debian names are lowercase without "_": only a "." needs normalizing (a warm
            # check builds this for every target, so the common case skips the regex).
            stem = normalize(package[start:]) if "." in package else package[start:]
            names.setdefault(stem, []).append(package)
            if stem[-1:].isdigit():
                unversioned = _VERSION_SUFFIX.sub("", stem)
                if unversioned:
                    names.setdefault(_VERSIONED + unversioned, []).append(package)
        return {key: tuple(sorted(group)) for key, group in names.items()}


def shipments(index: SuiteIndex) -> Shipments:
    return Shipments(index)


def _stray_metadata_note(provider: Provider, shipped: Shipments) -> Optional[str]:
    """A note when ``provider`` looks like stray metadata beside the package's own distribution.

    python3-xdg ships pyxdg 0.28 and an unrelated ``xdg-5.egg-info``, so
    pip believes PyPI's ``xdg`` is installed. Where a sibling distribution
    matches the package's Debian version and this one does not, say so.
    """
    siblings = [p for p in shipped.get(provider.package, ()) if p.name != provider.name]
    debian = _debian_public(provider.debian_version) if siblings else None
    if debian is None or _public(provider.version) == debian:
        return None
    for sibling in siblings:
        if _public(sibling.version) == debian:
            return (
                f"{provider.package} is {sibling.name} {sibling.version}; its {provider.name} "
                f"{provider.version} metadata may not be the project of that name"
            )
    return None


# Cached: python3-azure ships hundreds of distributions, and each of them that a
# requirement names compares every sibling's version (measured: half of a warm
# 500-line check went to re-parsing the same versions).
@functools.lru_cache(maxsize=None)
def _public(version: str) -> Optional[str]:
    """``Version(version).public``, or None when ``version`` is not PEP 440."""
    try:
        return Version(version).public
    except InvalidVersion:
        return None


@functools.lru_cache(maxsize=None)
def _debian_public(debian_version: str) -> Optional[str]:
    upstream = upstream_version(debian_version).version
    return upstream.public if upstream is not None else None


def evaluate(requirement: Requirement, index: SuiteIndex, shipped: Optional[Shipments] = None) -> Verdict:
    """The verdict for one requirement on one target; the best satisfying provider wins.

    ``shipped`` (from ``shipments(index)``) enables the stray-metadata note and
    the candidates of a missing answer;
    ``check`` computes it once per target.
    """
    if not marker_applies(requirement.marker, index.target.marker_environment):
        return Verdict(status=NOT_APPLICABLE)
    if requirement.url is not None:
        return Verdict(status=URL)
    providers = index.lookup(requirement.name)
    foreign_notes = tuple(
        f"{copy.name} {copy.version} at {copy.path} was installed by pip, not apt"
        for copy in index.foreign_copies(requirement.name)
    )
    if not providers:
        candidates = _missing_candidates(requirement.name, index, shipped)
        return Verdict(
            status=MISSING, notes=tuple(candidate_note(c) for c in candidates) + foreign_notes, candidates=candidates
        )
    providers, collision_notes, not_taken = _debians_choice(requirement.name, providers)
    judged = []
    for provider in providers:
        status, version, notes = _judge(provider, requirement.specifier)
        judged.append((status, version, provider, notes))

    # Satisfying beats failing; then the most telling failure; then the highest
    # version; between equal versions, the newer Debian build (what apt installs).
    status, _version, provider, notes = max(
        judged,
        key=lambda item: (
            1 if item[0] == SATISFIED else -_FAILURE_RANK[item[0]],
            item[1] is not None,
            item[1] or _NO_VERSION,
            debian_version_key(item[2].debian_version),
        ),
    )
    others = tuple(
        f"also provided by {p.package} {p.debian_version} ({s})"
        for s, _v, p, _n in judged
        if p is not provider
    )
    stray = _stray_metadata_note(provider, shipped) if shipped is not None else None
    warnings = (stray,) if stray else ()
    return Verdict(
        status=status,
        provider=provider,
        notes=warnings + notes + others + collision_notes + foreign_notes,
        candidates=not_taken,
    )


def _debians_choice(
    name: str, providers: Tuple[Provider, ...]
) -> Tuple[Tuple[Provider, ...], Tuple[str, ...], Tuple[Candidate, ...]]:
    """The providers of the one package Debian means by ``name``, and a note naming the others.

    Several packages may ship metadata of one distribution name (bookworm's
    python3-click-package, Ubuntu's click packaging tool, ships a "click"
    egg-info beside python3-click's). Debian resolves the name, not the
    specifier, so neither do we: first the package dh-python's list of the
    suite maps it to (providers found through it say ``mapping: dh-python``),
    then the ``python3-<name>`` spelling (also without a ``py``/``python-``
    prefix: PyYAML is python3-yaml), then the first package name in sort
    order. Versions of the chosen package (an overlay's pockets) still
    compete, the best satisfying one winning.
    """
    packages = sorted({p.package for p in providers})
    if len(packages) == 1:
        return providers, (), ()
    listed = sorted({p.package for p in providers if p.mapping == MAPPING_DH_PYTHON})
    name = normalize(name)
    spellings = {name, name.removeprefix("py"), name.removeprefix("python-")}
    spelled = [
        package
        for package in packages
        if package.startswith(_PYTHON3_PREFIX) and normalize(package[len(_PYTHON3_PREFIX):]) in spellings
    ]
    if listed:
        chosen, why = listed[0], f"dh-python maps {name} to {listed[0]}"
    elif spelled:
        chosen, why = spelled[0], "python3-<name> wins"
    else:
        chosen, why = packages[0], "first by name wins"
    # Short: the table gives a note one line.
    notes = tuple(
        f"not taken: {p.package} {p.debian_version} ({p.name} {p.version}); {why}"
        for p in providers
        if p.package != chosen
    )
    candidates = tuple(
        Candidate(p.package, p.debian_version, NOT_TAKEN_COLLISION, (p.name, p.version))
        for p in providers
        if p.package != chosen
    )
    return tuple(p for p in providers if p.package == chosen), notes, candidates


def candidate_note(candidate: Candidate) -> str:
    """What a "missing" answer says about a package it did not take."""
    if candidate.reason == NOT_INSTALLED:
        shown = candidate.ships[1] if candidate.ships else candidate.debian_version
        return f"not installed (apt offers {candidate.package} {shown})"
    if candidate.ships is None:
        return f"{candidate.package} {candidate.debian_version} exists and ships no metadata pip can see"
    return f"{candidate.package} exists and ships {candidate.ships[0]} {candidate.ships[1]}"


def _missing_candidates(name: str, index: SuiteIndex, shipped: Optional[Shipments]) -> Tuple[Candidate, ...]:
    """Packages named like ``name`` that do not provide it: pip will not see them, the user may.

    On ``installed``, first what apt offers under the name itself. Then the
    target's packages of the python3-<name> spellings (as _debians_choice's)
    that ship metadata of another name (sid's python3-thumbhash ships
    thumbhash-py) or none, and those of ``python3-<name><N>`` that ship none
    (bookworm's python3-vtk9).
    """
    found: List[Candidate] = []
    if index.offers is not None:
        offered = index.offers()
        providers = offered.lookup(name) if offered is not None else ()
        if providers:
            chosen, _notes, _others = _debians_choice(name, providers)
            best = max(chosen, key=lambda p: debian_version_key(p.debian_version))
            # A name the apt lists only guess (no Contents there) may be a package that is
            # installed, under its metadata's own name: python3-yaml is "yaml" to the guess,
            # PyYAML installed. The spellings below say what it ships.
            if shipped is None or (best.package not in shipped and best.package not in shipped.bare):
                found.append(Candidate(best.package, best.debian_version, NOT_INSTALLED, (best.name, best.version)))
    if shipped is None:
        return tuple(found)
    names = shipped.python_names
    key = normalize(name)
    spellings = (key, key.removeprefix("py"), key.removeprefix("python-"))
    packages = [p for spelling in dict.fromkeys(spellings) for p in names.get(spelling, ())]
    # A version suffix only where no metadata says more: python3-boto3 is not boto.
    packages += [p for p in names.get(_VERSIONED + key, ()) if p not in packages and p not in shipped]
    for package in packages:
        if package in shipped:
            ships = _closest(key, shipped[package])
            found.append(Candidate(package, ships.debian_version, OTHER_NAME, (ships.name, ships.version)))
        else:
            found.append(Candidate(package, shipped.bare[package][0], NO_METADATA))
    return tuple(found)


def _closest(name: str, shipped: Tuple[Provider, ...]) -> Provider:
    """Of what a package ships, the distribution most like ``name`` (thumbhash: thumbhash-py)."""
    return min(
        shipped,
        key=lambda p: (not normalize(p.name).startswith(name), name not in normalize(p.name), normalize(p.name)),
    )


def _verdicts(
    lines: Sequence[Requirement], judged: Sequence[Requirement], index: SuiteIndex, shipped: Shipments
) -> Tuple[Verdict, ...]:
    """One verdict per line; the lines combined into one requirement share its one verdict."""
    done: Dict[int, Verdict] = {}
    verdicts: List[Verdict] = []
    for line, requirement in zip(lines, judged):
        if not requirement.combined:
            verdicts.append(evaluate(requirement, index, shipped))
            continue
        if id(requirement) not in done:
            done[id(requirement)] = evaluate(requirement, index, shipped)
        verdict = done[id(requirement)]
        others = (requirement.origin,) + requirement.combined
        # pip combines them the same way; the table shows each line, so each says so.
        note = (
            f"combined with {', '.join(str(o) for o in others if o != line.origin)}: "
            f"{requirement.display_name}{requirement.specifier}"
        )
        verdicts.append(replace(verdict, notes=(note,) + verdict.notes, judged=requirement))
    return tuple(verdicts)


def check(requirements: RequirementSet, indexes: Sequence[SuiteIndex]) -> CheckReport:
    """Every requirement against every target that could be answered (``target.error`` is None)."""
    every_target = tuple(index.target for index in indexes)
    indexes = [index for index in indexes if index.target.error is None]
    lines = requirements.requirements
    per_target: Dict[str, Tuple[Verdict, ...]] = {}
    for index in indexes:
        environment = index.target.marker_environment
        # Constraints with markers (upper-constraints files) apply per target, and so do the
        # markers deciding which lines of one name pip combines.
        judged = combine_repeated(
            [apply_constraints(line, requirements.constraints, environment) for line in lines], environment
        )
        per_target[index.target.id] = _verdicts(lines, judged, index, shipments(index))
    results = tuple(
        RequirementResult(
            requirement=requirement,
            verdicts={target_id: verdicts[position] for target_id, verdicts in per_target.items()},
        )
        for position, requirement in enumerate(lines)
    )
    warnings: List[str] = []
    for index in indexes:
        # A suite's own warnings already start with its name; "trixie: trixie: ..." says nothing more.
        prefix = f"{index.target.id}: "
        warnings.extend(w if w.startswith(prefix) else prefix + w for w in index.warnings)
    for note in requirements.notes:
        warnings.append(str(note))
    return CheckReport(
        targets=every_target,
        results=results,
        warnings=tuple(warnings),
    )
