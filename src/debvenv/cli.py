"""The command line: parse, call one core function, print the report, exit.

Only ``main`` catches exceptions: one line per problem on stderr and the
exit code docs/design.md gives; ``--traceback`` re-raises for bug reports.
stdout carries only the report.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from debvenv import __version__
from debvenv.audit import audit_venv, render_audit, render_sync, sync_venv
from debvenv.debianize import default_maintainer, relocate_venv, render_debianize, render_relocate
from debvenv.commands import (
    build_requirements,
    check_requirements,
    debianize_requirements,
    plan_requirements,
    refresh_indexes,
    which_packages,
)
from debvenv.evaluate import CheckReport
from debvenv.errors import EXIT_ENVIRONMENT, EXIT_OK, DebvenvError, InputError, ProblemsError
from debvenv.files import MIB, refuse_unsuitable_input, write_report
from debvenv.lockfile import EXACT, LOCK_POLICIES
from debvenv.plan import render_plan_json, render_plan_table, write_plan
from debvenv.render import FORMATS, render, render_suite_statuses, verdict_line
from debvenv.sources import aptsources, dpkgdb
from debvenv.sources.credentials import mask_text
from debvenv.sources.installed import DEFAULT_PYTHON
from debvenv.targets import DEFAULT_MAX_AGE, Progress, TargetOptions
from debvenv.venv import render_build

Handler = Callable[[argparse.Namespace], int]
# Debian's archive keyring is well under 1 MiB; gpgv would read /dev/zero until memory ran out.
MAX_KEYRING_SIZE = 16 * MIB


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("targets")
    group.add_argument(
        "-t",
        "--target",
        dest="targets",
        action="append",
        default=[],
        metavar="TARGET",
        help="'installed' (default), 'apt', or a suite such as bookworm, "
        "bookworm+bookworm-backports, noble@URL; several -t make a coverage matrix",
    )
    group.add_argument(
        "--python",
        type=Path,
        default=DEFAULT_PYTHON,
        metavar="PY",
        help=f"target interpreter of the 'installed' target (default {DEFAULT_PYTHON})",
    )
    group.add_argument(
        "--admin-dir",
        type=Path,
        default=dpkgdb.DEFAULT_ADMIN_DIR,
        metavar="DIR",
        help=f"dpkg database directory (default {dpkgdb.DEFAULT_ADMIN_DIR})",
    )
    group.add_argument(
        "--apt-etc-dir", type=Path, default=aptsources.DEFAULT_ETC_DIR, metavar="DIR",
        help=f"apt's configuration directory: sources.list(.d), apt.conf(.d), auth.conf(.d) "
        f"(default {aptsources.DEFAULT_ETC_DIR})",
    )
    group.add_argument("--mirror", metavar="URL", help="mirror for suites (default: from apt sources)")
    group.add_argument(
        "--components", metavar="LIST", help="comma-separated components (default: from apt sources)"
    )
    group.add_argument("--arch", metavar="ARCH", help="Debian architecture (default: dpkg's)")
    group.add_argument(
        "--keyring", dest="keyrings", action="append", default=[], type=Path, metavar="FILE",
        help="keyring to verify suites with (default: Signed-By of the apt sources)",
    )
    group.add_argument(
        "--no-verify", action="store_true",
        help="do not check the suites' signatures (hashes are still checked)",
    )
    group.add_argument(
        "--ignore-valid-until", action="store_true",
        help="accept a suite whose Release has expired (Valid-Until), as apt's "
        "Acquire::Check-Valid-Until \"false\" does; signatures and hashes are still checked",
    )
    group.add_argument(
        "--refresh", action="store_true",
        help=f"ask the mirror even if the cached suite is younger than {DEFAULT_MAX_AGE}",
    )


def _add_extras(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--extra", dest="extras", action="append", default=[], metavar="NAME",
        help=f"also {what} this optional-dependencies group (pyproject.toml, setup.cfg) or a lock file's extra",
    )
    parser.add_argument(
        "--group", dest="groups", action="append", default=[], metavar="NAME",
        help=f"also {what} this dependency group of a lock file (pylock.toml, uv.lock, poetry.lock, "
        "Pipfile.lock category)",
    )
    parser.add_argument(
        "--lock-policy", choices=LOCK_POLICIES, default=EXACT,
        help="judge a lock file's pins as written (exact, the default); compatible is not implemented yet",
    )


def _add_pip_args(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--pip-arg", dest="pip_args", action="append", default=[], metavar="ARG", help=help_text
    )


def _add_hidden_admin_dir(parser: argparse.ArgumentParser) -> None:
    # For tests against another dpkg database; not something an operator needs.
    parser.add_argument(
        "--admin-dir", type=Path, default=dpkgdb.DEFAULT_ADMIN_DIR, metavar="DIR", help=argparse.SUPPRESS
    )


def _cache_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "debvenv"


def _progress_on_terminal() -> Optional[Progress]:
    if not sys.stderr.isatty():
        return None

    def show(name: str, done: int, total: Optional[int]) -> None:
        size = f"{done / 1e6:.1f}" + (f"/{total / 1e6:.1f}" if total else "")
        end = "\n" if total is not None and done >= total else ""
        sys.stderr.write(f"\r\x1b[Kdebvenv: {name} {size} MB{end}")
        sys.stderr.flush()

    return show


def _target_options(args: argparse.Namespace) -> TargetOptions:
    if args.no_verify:
        print(
            "debvenv: WARNING: --no-verify: suite signatures are NOT checked; "
            "anyone between you and the mirror can change the answers",
            file=sys.stderr,
        )
    components = tuple(c for c in (args.components or "").split(",") if c)
    for keyring in args.keyrings:
        refuse_unsuitable_input(keyring, MAX_KEYRING_SIZE, "--keyring")
    return TargetOptions(
        python=args.python,
        admin_dir=args.admin_dir,
        apt_etc_dir=args.apt_etc_dir,
        cache_dir=_cache_dir(os.environ),
        mirror=args.mirror,
        components=components,
        arch=args.arch,
        keyrings=tuple(args.keyrings),
        verify=not args.no_verify,
        ignore_valid_until=args.ignore_valid_until,
        refresh=args.refresh,
        progress=_progress_on_terminal(),
    )


def _write_output(text: str, output: Optional[Path]) -> None:
    """Print the report, or write it to ``output`` (``files.write_report`` says how)."""
    write_report(text, output)


def _check(args: argparse.Namespace) -> int:
    report = check_requirements(
        args.reqfiles, args.targets, _target_options(args), extras=args.extras, groups=args.groups,
        lock_policy=args.lock_policy,
    )
    _print_notes(report)
    _write_output(render(report, args.format), args.output)
    return report.exit_code(strict=args.strict)


def _print_notes(report: CheckReport) -> None:
    for warning in report.warnings:
        print(mask_text(f"debvenv: note: {warning}"), file=sys.stderr)
    # The report says it too; on stderr it reaches the operator even with -o or --format json.
    for target in report.failed:
        print(mask_text(f"debvenv: error: {target.id}: {target.error}"), file=sys.stderr)


def _which(args: argparse.Namespace) -> int:
    report = which_packages(args.names, args.targets, _target_options(args))
    _print_notes(report)
    if args.format == "table":
        lines = [verdict_line(result, target) for result in report.results for target in report.targets]
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        sys.stdout.write(render(report, args.format))
    # The reviewer asks "is it packaged, at an acceptable version?": anything else is a no.
    return report.exit_code(strict=True)


def _plan(args: argparse.Namespace) -> int:
    if len(args.targets) != 1:
        raise InputError("plan needs exactly one -t TARGET (the system the venv will run on)")
    plan = plan_requirements(
        args.reqfiles, args.targets[0], _target_options(args), extras=args.extras, groups=args.groups,
        lock_policy=args.lock_policy,
    )
    for warning in plan.warnings:
        print(mask_text(f"debvenv: note: {warning}"), file=sys.stderr)
    written = write_plan(plan, args.output)
    for path in written:
        print(f"debvenv: wrote {path}", file=sys.stderr)
    sys.stdout.write(render_plan_json(plan) if args.format == "json" else render_plan_table(plan))
    return EXIT_OK


def _build(args: argparse.Namespace) -> int:
    options = TargetOptions(python=args.python, admin_dir=args.admin_dir)
    result = build_requirements(
        args.reqfiles, args.venv, options, extras=args.extras, groups=args.groups,
        lock_policy=args.lock_policy, pip_args=args.pip_args, apt_install=args.apt_install,
    )
    sys.stdout.write(render_build(result))  # its warnings are part of the report
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    report = audit_venv(args.venv, TargetOptions(admin_dir=args.admin_dir))
    sys.stdout.write(render_audit(report, args.format, quiet=args.quiet))
    return report.exit_code


def _sync(args: argparse.Namespace) -> int:
    result = sync_venv(
        args.venv,
        TargetOptions(admin_dir=args.admin_dir),
        drop_redundant=args.drop_redundant,
        pip_args=args.pip_args or None,
    )
    sys.stdout.write(render_sync(result))
    return EXIT_OK


def _debianize(args: argparse.Namespace) -> int:
    if len(args.targets) != 1:
        raise InputError("debianize needs exactly one -t TARGET (the suite the package is for)")
    maintainer = args.maintainer or default_maintainer(dict(os.environ))
    if maintainer is None:
        raise InputError("no maintainer: give --maintainer 'Name <address>' or set DEBFULLNAME and DEBEMAIL")
    result = debianize_requirements(
        args.reqfiles,
        args.targets[0],
        _target_options(args),
        name=args.name,
        version=args.version,
        output_dir=args.output,
        maintainer=maintainer,
        now=datetime.now(timezone.utc),
        extras=args.extras,
        groups=args.groups,
        lock_policy=args.lock_policy,
        project=args.project,
        pip_args=args.pip_args,
        build_depends=args.build_depends,
        distribution=args.distribution,
        architecture=args.architecture,
        description=args.description,
        replace=args.replace,
        bin_links=not args.no_bin_links,
        source=args.source,
    )
    for warning in result.warnings:
        print(mask_text(f"debvenv: note: {warning}"), file=sys.stderr)
    sys.stdout.write(render_debianize(result))
    return EXIT_OK


def _relocate(args: argparse.Namespace) -> int:
    sys.stdout.write(render_relocate(relocate_venv(args.venv_dir, args.final_path)))
    return EXIT_OK


def _index(args: argparse.Namespace) -> int:
    options = _target_options(args)
    statuses = refresh_indexes(list(args.index_targets) + list(args.targets), options)
    for status in statuses:
        for warning in status.warnings:
            print(mask_text(f"debvenv: note: {status.suite}: {warning}"), file=sys.stderr)
    sys.stdout.write(render_suite_statuses(statuses, datetime.now(timezone.utc), args.format))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="debvenv",
        description="Which of my Python requirements does Debian already satisfy?",
    )
    parser.add_argument("--version", action="version", version=f"debvenv {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback of an error (for bug reports)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    check = commands.add_parser(
        "check",
        help="report which requirements the target's Debian packages satisfy",
        description="Report, for every requirement, the Debian package that satisfies it on each target.",
    )
    check.add_argument(
        "reqfiles",
        nargs="*",
        type=Path,
        metavar="REQFILE",
        help="requirements*.txt, pyproject.toml, setup.cfg or a lock file (pylock.toml, uv.lock, "
        "poetry.lock, Pipfile.lock) "
        "(default: ./requirements.txt, else ./pyproject.toml, else ./setup.cfg)",
    )
    _add_target_options(check)
    _add_extras(check, "check")
    check.add_argument("--format", choices=FORMATS, default="table")
    check.add_argument(
        "-o", "--output", type=Path, metavar="FILE",
        help="write the report to FILE ('-': stdout); a regular file is replaced whole, a device or "
        "FIFO written into, a symlink to a regular file refused",
    )
    check.add_argument(
        "--strict", action="store_true",
        help="exit 1 unless every applicable requirement is satisfied",
    )
    check.set_defaults(handler=_check)

    which = commands.add_parser(
        "which",
        help="is this library packaged (at an acceptable version) on the targets?",
        description="Answer, in one line per target, which Debian package provides each NAME[SPEC].",
    )
    which.add_argument("names", nargs="+", metavar="NAME[SPEC]")
    _add_target_options(which)
    which.add_argument("--format", choices=FORMATS, default="table")
    which.set_defaults(handler=_which)

    plan = commands.add_parser(
        "plan",
        help="split requirements into apt packages, venv requirements and Debian Depends",
        description="Write apt-packages.txt, venv-requirements.txt and debian-depends.txt for one target.",
    )
    plan.add_argument("reqfiles", nargs="*", type=Path, metavar="REQFILE")
    _add_target_options(plan)
    _add_extras(plan, "plan")
    plan.add_argument(
        "-o", "--output", type=Path, default=Path("."), metavar="DIR",
        help="directory for the three files (default: the current directory)",
    )
    plan.add_argument("--format", choices=("table", "json"), default="table")
    plan.set_defaults(handler=_plan)

    build = commands.add_parser(
        "build",
        help="build a --system-site-packages venv holding only what Debian does not satisfy",
        description="Create (or safely rebuild) a virtualenv with system site packages for the target "
        "interpreter, install with pip only the requirements the installed Debian packages do not "
        "satisfy (Debian-provided distributions pinned), verify it and write DIR/debvenv.json.",
    )
    build.add_argument("reqfiles", nargs="*", type=Path, metavar="REQFILE")
    build.add_argument("--venv", type=Path, required=True, metavar="DIR", help="the venv to create or rebuild")
    build.add_argument(
        "--python", type=Path, default=DEFAULT_PYTHON, metavar="PY",
        help=f"target interpreter (default {DEFAULT_PYTHON})",
    )
    _add_hidden_admin_dir(build)
    _add_extras(build, "install")
    _add_pip_args(build, "pass ARG to pip install (repeat: --pip-arg=--no-index --pip-arg=--find-links=DIR)")
    build.add_argument(
        "--apt-install", action="store_true",
        help="(root) first apt-get install every Debian package that satisfies a requirement or "
        "something pip would install for one, until nothing more moves to apt",
    )
    build.set_defaults(handler=_build)

    audit = commands.add_parser(
        "audit",
        help="check a built venv against the Debian packages installed now",
        description="Re-evaluate the requirements recorded in DIR/debvenv.json against what is "
        "installed now: ok, broken (exit 1), redundant, shadowing or changed, plus pip check.",
    )
    audit.add_argument("venv", type=Path, metavar="DIR")
    audit.add_argument("--format", choices=("table", "json"), default="table")
    audit.add_argument(
        "--quiet", action="store_true", help="print only when something is broken or redundant (for cron)"
    )
    _add_hidden_admin_dir(audit)
    audit.set_defaults(handler=_audit)

    sync = commands.add_parser(
        "sync",
        help="repair a built venv to match what audit found",
        description="Install into the venv what broke and, with --drop-redundant, remove copies that "
        "Debian now satisfies; update DIR/debvenv.json. A failed sync leaves the venv as it was.",
    )
    sync.add_argument("venv", type=Path, metavar="DIR")
    sync.add_argument(
        "--drop-redundant", action="store_true", help="remove venv copies that Debian now satisfies"
    )
    _add_pip_args(sync, "pass ARG to pip install (default: the pip arguments the build used)")
    _add_hidden_admin_dir(sync)
    sync.set_defaults(handler=_sync)

    debianize = commands.add_parser(
        "debianize",
        help="write debian/ for an application: Debian libraries as Depends, a venv for the rest",
        description="Write DIR/debian/ whose package Depends on the Debian packages that satisfy the "
        "requirements on TARGET and carries a venv in /opt/venvs/PKG holding only the rest.",
    )
    debianize.add_argument("reqfiles", nargs="*", type=Path, metavar="REQFILE")
    _add_target_options(debianize)
    debianize.add_argument("--name", required=True, metavar="PKG", help="the binary and source package name")
    debianize.add_argument("--version", required=True, metavar="V", help="the package version")
    debianize.add_argument(
        "-o", "--output", type=Path, default=Path("."), metavar="DIR",
        help="the source tree to write debian/ into (default: the current directory)",
    )
    debianize.add_argument("--maintainer", metavar="'NAME <ADDRESS>'", help="default: DEBFULLNAME and DEBEMAIL")
    debianize.add_argument("--project", type=Path, metavar="PATH", help="the application's source directory")
    _add_extras(debianize, "include")
    _add_pip_args(debianize, "pass ARG to pip when the package is built")
    debianize.add_argument(
        "--build-depends", dest="build_depends", action="append", default=[], metavar="REL",
        help="an extra Build-Depends relation",
    )
    debianize.add_argument("--distribution", default="unstable", help="changelog distribution")
    debianize.add_argument("--architecture", choices=("any", "all"), default="any")
    debianize.add_argument("--description", default="", help="the package's short description")
    debianize.add_argument("--replace", action="store_true", help="overwrite an existing debian/")
    debianize.add_argument(
        "--no-bin-links", action="store_true",
        help="do not link the application's console scripts into /usr/bin",
    )
    debianize.add_argument(
        "--source", action="store_true",
        help="also build the source package (dpkg-source -b) next to DIR",
    )
    debianize.set_defaults(handler=_debianize)

    # Called by the debian/rules that debianize writes; not a command for people.
    relocate = commands.add_parser("relocate")
    relocate.add_argument("venv_dir", type=Path)
    relocate.add_argument("final_path")
    relocate.set_defaults(handler=_relocate)

    index = commands.add_parser(
        "index",
        help="fetch or refresh suite indexes and show what is cached",
        description="Fetch (or refresh) each suite's verified index and show its date, "
        "Python and number of distributions. With no TARGET: the suites of this machine's apt sources.",
    )
    index.add_argument("index_targets", nargs="*", metavar="TARGET")
    _add_target_options(index)
    index.add_argument("--format", choices=("table", "json"), default="table")
    index.set_defaults(handler=_index)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ProblemsError as error:
        if args.traceback:
            raise
        for problem in error.problems:
            print(mask_text(f"debvenv: {problem}"), file=sys.stderr)
        return error.exit_code
    except DebvenvError as error:
        if args.traceback:
            raise
        # Every URL in a message is already masked where it is made; this is the last guard.
        for line in mask_text(str(error)).splitlines() or [type(error).__name__]:
            print(f"debvenv: error: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("debvenv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (head, jq) went away; that is not our failure.
        sys.stderr.close()
        return 0
    except Exception as error:  # noqa: BLE001 - the last line of defence against a traceback
        if args.traceback:
            raise
        print(
            f"debvenv: internal error: {type(error).__name__}: {mask_text(str(error))} "
            "(a bug in debvenv; rerun with --traceback and report it)",
            file=sys.stderr,
        )
        return EXIT_ENVIRONMENT

