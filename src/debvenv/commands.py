"""The core of each subcommand: typed arguments in, a finished report out. Nothing here prints."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import List, Optional, Sequence, Set, Tuple

from debvenv.application import Application, read_application
from debvenv.debianize import (
    DebianizeError,
    DebianizeResult,
    DebianPackage,
    build_source,
    check_source,
    debian_files,
    project_line,
    project_of,
    tree_path,
    write_debian,
)
from debvenv.errors import InputError, ProblemsError
from debvenv.evaluate import CheckReport, check
from debvenv.lockfile import EXACT
from debvenv.plan import VENV as PLAN_VENV
from debvenv.plan import Plan, make_plan
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
    base_suite,
    load_suites,
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
    groups: Sequence[str] = (),
    lock_policy: str = EXACT,
    directory: Path = Path("."),
) -> CheckReport:
    """``debvenv check``: every requirement of ``files`` against every target."""
    requirements = _requirement_set(files, extras, directory, groups, lock_policy)
    return check(requirements, load_targets(targets, options, keep_going=True))


def _requirement_set(
    files: Sequence[Path],
    extras: Sequence[str],
    directory: Path,
    groups: Sequence[str] = (),
    lock_policy: str = EXACT,
) -> RequirementSet:
    """The requirements of ``files``, or of the project's default file in ``directory``."""
    return read_requirements(
        tuple(files) or default_requirement_files(directory), extras=extras, groups=groups,
        lock_policy=lock_policy,
    )


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
    return check(requirements, load_targets(targets, options, keep_going=True))


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
    shown: Set[str] = set()
    for (suite, mirror), (source, suite_files) in fetched.items():
        # A pocket listed with its release (bookworm+bookworm-security@URL) is mapped
        # through that release, not through whatever the apt sources name.
        base = base_suite(suite)
        suites = (base, suite) if base != suite and (base, mirror) in fetched else (suite,)
        warnings: List[str] = []
        index = load_suites(SuiteTarget(id=suite, suites=suites, mirror=mirror), cached, warnings)[suite]
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
                # A pocket's load repeats its release's notes: each is said once.
                warnings=tuple(w for w in dict.fromkeys(warnings) if w not in shown),
            )
        )
        shown.update(warnings)
    return tuple(statuses)


# plan.py does not import this module, so importing it here cannot cycle.
def plan_requirements(
    files: Sequence[Path],
    target: str,
    options: TargetOptions,
    *,
    extras: Sequence[str] = (),
    groups: Sequence[str] = (),
    lock_policy: str = EXACT,
    directory: Path = Path("."),
) -> Plan:
    """``debvenv plan``: where each requirement of ``files`` goes on one target (apt, venv or nowhere).

    The caller writes the files with ``plan.write_plan`` and renders with
    ``plan.render_plan_table`` or ``plan.render_plan_json``.
    """
    requirements = _requirement_set(files, extras, directory, groups, lock_policy)
    index = load_targets([target], options)[0]
    report = check(requirements, [index])
    return make_plan(report, index.target.id, requirement_set=requirements)


# venv.py imports plan and evaluate, never this module: no cycle.
from debvenv.venv import BuildResult, build_venv  # noqa: E402


def build_requirements(
    files: Sequence[Path],
    venv_dir: Path,
    options: TargetOptions,
    *,
    extras: Sequence[str] = (),
    groups: Sequence[str] = (),
    lock_policy: str = EXACT,
    pip_args: Sequence[str] = (),
    directory: Path = Path("."),
    apt_install: bool = False,
) -> BuildResult:
    """``debvenv build``: a ``--system-site-packages`` venv at ``venv_dir`` holding what Debian lacks.

    ``options.python`` is the target interpreter and ``options.admin_dir``
    dpkg's database; ``pip_args`` go to ``pip install`` as given.
    ``apt_install`` (root only) first installs through apt what the apt
    lists (``options.apt_lists_dir``) offer. The caller renders with
    ``venv.render_build``.
    """
    return build_venv(
        _requirement_set(files, extras, directory, groups, lock_policy),
        venv_dir,
        python=options.python,
        pip_args=pip_args,
        admin_dir=options.admin_dir,
        apt_install=apt_install,
        apt_lists_dir=options.apt_lists_dir,
    )


def debianize_requirements(
    files: Sequence[Path],
    target: str,
    options: TargetOptions,
    *,
    name: str,
    version: str,
    output_dir: Path,
    maintainer: str,
    now: datetime,
    extras: Sequence[str] = (),
    groups: Sequence[str] = (),
    lock_policy: str = EXACT,
    project: Optional[Path] = None,
    pip_args: Sequence[str] = (),
    build_depends: Sequence[str] = (),
    distribution: str = "unstable",
    architecture: str = "any",
    description: str = "",
    replace: bool = False,
    directory: Path = Path("."),
    bin_links: bool = True,
    source: bool = False,
) -> DebianizeResult:
    """``debvenv debianize``: write ``output_dir/debian`` packaging the requirements' venv as a .deb.

    The Depends come from the plan of ``files`` on ``target``; the
    application installed into the venv is ``project`` (a local project
    directory or wheel), else the directory of a pyproject.toml or setup.cfg
    among ``files``, else none. ``now`` dates the changelog. The
    application's console scripts get /usr/bin links unless not
    ``bin_links``; its build requirements, planned on ``target`` too, join
    the Build-Depends. ``source``: also ``dpkg-source -b`` the tree. The
    caller renders with ``debianize.render_debianize``.
    """
    requirement_files = tuple(files) or default_requirement_files(directory)
    plan = plan_requirements(
        requirement_files, target, options, extras=extras, groups=groups, lock_policy=lock_policy,
        directory=directory,
    )
    application = project if project is not None else project_of(requirement_files)
    if application is not None and not application.exists():
        raise DebianizeError(f"--project {application}: no such file or directory")
    declared = read_application(application) if application is not None else None
    warnings = list(plan.warnings)
    build_relations: Tuple[str, ...] = ()
    if declared is not None and declared.build_requires:
        build_relations = _plan_build_requirements(declared, target, options, pip_args, warnings)
    scripts: Tuple[str, ...] = ()
    if declared is not None and bin_links:
        scripts = declared.scripts or ()
        if declared.scripts is None:
            warnings.append(
                f"{declared.path}: its console scripts are not known without building it "
                f"({declared.unknown_reason}): no /usr/bin links; name them in debian/{name}.links"
            )
        warnings += [f"{declared.path}: console script {script!r} cannot be /usr/bin/{script}: not linked"
                     for script in declared.refused_scripts]
    if application is None:
        warnings.append(
            "no --project, and no pyproject.toml or setup.cfg among the requirement files: the application's "
            "code is not built, the package carries only its requirements' venv (debian/changelog says so)"
        )
    package = DebianPackage(
        name=name,
        version=version,
        maintainer=maintainer,
        date=now,
        requirement_files=tuple(tree_path(path, output_dir) for path in requirement_files),
        project=project_line(application, output_dir) if application is not None else None,
        pip_args=tuple(pip_args),
        extras=tuple(extras),
        groups=tuple(groups),
        build_depends=tuple(build_depends) + tuple(r for r in build_relations if r not in build_depends),
        distribution=distribution,
        architecture=architecture,
        description=description,
        scripts=scripts,
    )
    texts = debian_files(plan, package)
    if source:
        check_source(output_dir, package)
    written = write_debian(output_dir, texts, replace=replace)
    source_written = build_source(output_dir, package) if source else ()
    outside = [f for f in package.requirement_files if Path(f).is_absolute()]
    if package.project is not None and Path(package.project).is_absolute():
        outside.append(package.project)
    warnings += [f"{f} is outside {output_dir}: debian/rules names it by its absolute path" for f in outside]
    not_automatic = [p for p in plan.apt_packages if "/" in p]
    warnings += [
        f"{p}: Depends cannot name a pocket; the machines installing the .deb need it pinned or enabled"
        for p in not_automatic
    ]
    return DebianizeResult(
        plan=plan, package=package, directory=output_dir / "debian", files=written, warnings=tuple(warnings),
        source=source_written,
    )


def _plan_build_requirements(
    application: Application, target: str, options: TargetOptions, pip_args: Sequence[str], warnings: List[str]
) -> Tuple[str, ...]:
    """The Debian relations of the application's [build-system] requires on ``target``; notes into ``warnings``.

    pip builds a project in an isolated environment it fills from the
    package index unless told ``--no-build-isolation``; then it uses the
    build machine's packages, which these relations put there.
    """
    display = f"{application.path}/pyproject.toml [build-system] requires"
    parsed, problems = [], []
    for number, text in enumerate(application.build_requires, start=1):
        try:
            parsed.append(parse_requirement_line(text, Origin(file=display, line=number)))
        except ProblemsError as error:
            problems.extend(error.problems)
    if problems:
        raise RequirementFileError(problems)
    requirements = RequirementSet(requirements=tuple(parsed), constraints=(), pip_options=(), notes=(), files=())
    index = load_targets([target], options)[0]
    build_plan = make_plan(check(requirements, [index]), index.target.id, requirement_set=requirements)
    unmet = [planned.requirement.text for planned in build_plan.requirements if planned.destination == PLAN_VENV]
    warnings += [
        f"build requirement {text} is not satisfied by Debian on {index.target.id}: only pip's isolated "
        "build, from the package index, can provide it" for text in unmet
    ]
    if not unmet and "--no-build-isolation" not in pip_args:
        warnings.append(
            "pip builds the application in an isolated environment it fills from the package index; "
            "--pip-arg=--no-build-isolation builds it with the Build-Depends instead"
        )
    return build_plan.debian_depends
