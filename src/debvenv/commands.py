"""The core of each subcommand: typed arguments in, a finished report out. Nothing here prints."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from debvenv.errors import InputError, ProblemsError
from debvenv.evaluate import CheckReport, check
from debvenv.requirements import (
    Origin,
    RequirementFileError,
    RequirementSet,
    default_requirement_files,
    parse_requirement_line,
    read_requirements,
)
from debvenv.sources import aptsources
from debvenv.targets import (
    APT,
    INSTALLED,
    SuiteTarget,
    TargetOptions,
    load_suite_target,
    load_targets,
    obtain_suite,
    parse_target,
    suite_source,
)


def check_requirements(
    files: Sequence[Path],
    targets: Sequence[str],
    options: TargetOptions,
    *,
    extras: Sequence[str] = (),
    directory: Path = Path("."),
) -> CheckReport:
    """``debvenv check``: every requirement of ``files`` against every target."""
    requirement_files = tuple(files) or default_requirement_files(directory)
    requirements = read_requirements(requirement_files, extras=extras)
    return check(requirements, load_targets(targets, options))


def which_packages(
    specs: Sequence[str], targets: Sequence[str], options: TargetOptions
) -> CheckReport:
    """``debvenv which``: the reviewer's question, for requirement strings given on the command line."""
    parsed = []
    problems = []
    for number, spec in enumerate(specs, start=1):
        try:
            parsed.append(parse_requirement_line(spec, Origin(file="<command line>", line=number)))
        except ProblemsError as error:
            problems.extend(error.problems)
    if problems:
        raise RequirementFileError(problems)
    requirements = RequirementSet(
        requirements=tuple(parsed), constraints=(), pip_options=(), notes=(), files=()
    )
    return check(requirements, load_targets(targets, options))


@dataclass(frozen=True)
class SuiteStatus:
    """One cached suite, as ``debvenv index`` shows it."""

    suite: str
    mirror: str
    components: Tuple[str, ...]
    arch: str
    release_date: datetime
    fetched_at: datetime
    offline: bool
    python: str
    distributions: int
    warnings: Tuple[str, ...]


def refresh_indexes(targets: Sequence[str], options: TargetOptions) -> Tuple[SuiteStatus, ...]:
    """``debvenv index``: fetch (or refresh) each suite and build its parsed index.

    With no target, every archive suite the machine's apt sources list.
    """
    suites: List[Tuple[str, Optional[str]]] = []
    if targets:
        for name in targets:
            if name in (INSTALLED, APT):
                raise InputError(f"target {name!r} has no archive index; name a suite")
            target = parse_target(name)
            suites.extend((suite, target.mirror) for suite in target.suites)
    else:
        for entry in aptsources.read_sources(options.apt_etc_dir):
            if entry.type == "deb" and aptsources.distribution_of(entry) is not None:
                suites.append((entry.suite, entry.uri))
    fetched = {}
    for suite, mirror in dict.fromkeys(suites):
        source = suite_source(suite, mirror, options)
        fetched[(suite, mirror)] = (source, obtain_suite(source, options, refresh=True))
    # Just fetched: reading them back through the target loader shows what a
    # check sees (a pocket's Python and mapping come from its release).
    cached = dataclasses.replace(options, refresh=False)
    statuses = []
    for (suite, mirror), (source, suite_files) in fetched.items():
        index = load_suite_target(SuiteTarget(id=suite, suites=(suite,), mirror=mirror), cached)
        statuses.append(
            SuiteStatus(
                suite=suite,
                mirror=source.public_mirror(),
                components=source.components,
                arch=source.arch,
                release_date=suite_files.release.date,
                fetched_at=suite_files.fetched_at,
                offline=suite_files.offline,
                python=index.target.python,
                distributions=len(index.providers),
                warnings=index.warnings,
            )
        )
    return tuple(statuses)
