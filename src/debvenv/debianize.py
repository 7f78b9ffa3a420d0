"""``debvenv debianize``: a ``debian/`` directory packaging an application and its venv as one .deb.

The .deb ``Depends:`` on the Debian packages that satisfy the requirements
on the target (``plan.make_plan``'s relations, epochs kept) and on the
target's ``python3`` minor version; its venv, ``/opt/venvs/PKG``, holds only
the rest, plus the application itself. Files written (templates
``templates/debianize-*.j2``)::

    debian/control              Build-Depends = Depends' relations, so the build's
                                own evaluation (``debvenv build`` sees the build
                                machine's installed packages) leaves the same
                                distributions to Debian
    debian/rules                dh; ``$(DEBVENV) build`` into
                                debian/PKG/opt/venvs/PKG, then ``$(DEBVENV)
                                relocate`` to /opt/venvs/PKG
    debian/changelog            one entry
    debian/copyright            free-form: the venv's distributions carry their own
    debian/PKG.postinst         byte-compiles the venv; ``debvenv audit`` when present
    debian/PKG.prerm            removes the byte-code (dpkg does not own it)
    debian/PKG.lintian-overrides  dir-or-file-in-opt: /opt is the point
    debian/debvenv-project.txt  the application (a local project or wheel) as a
                                requirement line relative to debian/, when there is one
    debian/source/format

``DEBVENV`` is a make variable, default ``debvenv``: debvenv is not in the
archive, so it cannot be a Build-Depends; a build machine names its own
(``make DEBVENV="python3 -m debvenv"`` or the environment). Requirement
files and ``--pip-arg`` values are written as given relative to the source
tree root (where dpkg-buildpackage runs debian/rules); a requirement file
outside the tree is written as an absolute path.

virtualenv and pip write the venv's absolute path into it (script
shebangs, activate scripts, debvenv.json), so a venv built in the package
root must be relocated: ``relocate_venv`` rewrites every text file of the
venv that names the build path, retargets symlinks pointing into it, and
removes ``__pycache__`` (byte-code records the build path; postinst
compiles it again in place). It never reads pip's RECORD files.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from debvenv import __version__
from debvenv.application import SCRIPT_RE
from debvenv.debversion import DebianVersionError, parse_debian_version
from debvenv.errors import EnvironmentFailure, InputError
from debvenv.plan import Plan
from debvenv.relocation import rewrite_tree

VENVS_ROOT = "/opt/venvs"
PROJECT_FILE = "debvenv-project.txt"
STANDARDS_VERSION = "4.6.2"
DEFAULT_DISTRIBUTION = "unstable"
DEBVENV_DEPENDS = (
    "python3-debian (>= 0.1.49)",
    "python3-jinja2 (>= 3.1.2)",
    "python3-packaging (>= 23.0)",
    "python3-virtualenv (>= 20.17.1)",
)

# Debian Policy 5.6.1 (package names) and 5.6.12's maintainer field, "Name <address>".
_PACKAGE_RE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_MAINTAINER_RE = re.compile(r"[^<>,\n]+ <[^<>@\s]+@[^<>@\s]+>")
_PYTHON_RE = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)")
_PROJECT_FILES = ("pyproject.toml", "setup.cfg")


class DebianizeError(InputError):
    """A package name, version, maintainer, project or output directory ``debianize`` cannot use."""


@dataclass(frozen=True)
class DebianPackage:
    """What the generated ``debian/`` says beyond the plan: names, paths in the tree, build options."""

    name: str
    version: str
    maintainer: str  # "Name <address>"
    date: datetime  # the changelog entry's, timezone-aware
    requirement_files: Tuple[str, ...]  # as debian/rules names them, relative to the source root
    project: Optional[str] = None  # the application, relative to debian/ (a pip requirement line)
    pip_args: Tuple[str, ...] = ()
    extras: Tuple[str, ...] = ()
    groups: Tuple[str, ...] = ()  # a lock file's dependency groups
    build_depends: Tuple[str, ...] = ()  # beyond debhelper, python3 and the plan's relations
    distribution: str = DEFAULT_DISTRIBUTION
    architecture: str = "any"  # a venv may hold compiled extensions
    description: str = ""
    scripts: Tuple[str, ...] = ()  # the application's console scripts, linked into /usr/bin

    @property
    def venv(self) -> str:
        return f"{VENVS_ROOT}/{self.name}"


@dataclass(frozen=True)
class DebianizeResult:
    """What ``debianize`` wrote, and the plan its relations came from."""

    plan: Plan
    package: DebianPackage
    directory: Path  # the debian/ directory
    files: Tuple[Path, ...]  # every file written, sorted
    warnings: Tuple[str, ...]
    source: Tuple[Path, ...] = ()  # the source package's files, with --source


@dataclass(frozen=True)
class RelocateResult:
    """What ``relocate_venv`` changed."""

    venv: Path
    final_path: str
    rewritten: Tuple[str, ...]  # files whose text named the build path, relative to the venv
    relinked: Tuple[str, ...]  # symlinks retargeted, relative to the venv
    removed_caches: int  # __pycache__ directories removed


# ---- deciding ----------------------------------------------------------------------


def python_relations(python: str) -> Tuple[str, str]:
    """The target's ``python3`` minor version as Depends: ``3.11`` -> ``python3 (>= 3.11)``, ``python3 (<< 3.12)``.

    A venv's interpreter is ``pythonX.Y`` and its site-packages is
    ``lib/pythonX.Y``: another minor version cannot run it.
    """
    match = _PYTHON_RE.match(python)
    if match is None:
        raise DebianizeError(f"target Python {python!r} is not MAJOR.MINOR")
    major, minor = int(match.group("major")), int(match.group("minor"))
    return f"python3 (>= {major}.{minor})", f"python3 (<< {major}.{minor + 1})"


def debvenv_depends(python: str) -> Tuple[str, ...]:
    """What debvenv itself needs to run on the build machine, as Build-Depends (debvenv is not in the archive).

    pyproject.toml's dependencies at their lower bounds (Debian bookworm's
    versions), as debvenv's own debian/control names them.
    """
    relations = DEBVENV_DEPENDS
    match = _PYTHON_RE.match(python)
    if match is not None and (int(match.group("major")), int(match.group("minor"))) < (3, 11):
        relations += ("python3-tomli (>= 2.0.1)",)
    return relations


def check_package(package: DebianPackage) -> None:
    """Refuse what dpkg or the archive tools would refuse, before anything is written."""
    if not _PACKAGE_RE.fullmatch(package.name):
        raise DebianizeError(
            f"--name {package.name!r}: a Debian package name is lower-case letters, digits, "
            "'+', '-' and '.', at least two characters, starting with a letter or digit"
        )
    try:
        parse_debian_version(package.version)
    except DebianVersionError as error:
        raise DebianizeError(f"--version: {error}") from error
    if not _MAINTAINER_RE.fullmatch(package.maintainer):
        raise DebianizeError(f"maintainer {package.maintainer!r} is not 'Full Name <address>'")
    for script in package.scripts:
        if not SCRIPT_RE.fullmatch(script):
            raise DebianizeError(f"console script {script!r} cannot be a file name in /usr/bin")
    if package.date.tzinfo is None:
        raise ValueError("the changelog date must be timezone-aware")


def default_maintainer(environ: Dict[str, str]) -> Optional[str]:
    """dch's answer: ``DEBFULLNAME <DEBEMAIL>`` (or ``NAME``/``EMAIL``), None when either is unset."""
    name = environ.get("DEBFULLNAME") or environ.get("NAME")
    email = environ.get("DEBEMAIL") or environ.get("EMAIL")
    if not (name and email):
        return None
    return f"{name} <{email}>"


def project_of(files: Sequence[Path]) -> Optional[Path]:
    """The application a pyproject.toml or setup.cfg describes: its directory (the first such file's)."""
    for path in files:
        if path.name in _PROJECT_FILES:
            return Path(os.path.abspath(path)).parent
    return None


def tree_path(path: Path, root: Path) -> str:
    """``path`` as debian/rules names it: relative to the source root ``root`` when inside it."""
    absolute, top = os.path.abspath(path), os.path.abspath(root)
    if absolute == top or absolute.startswith(top + os.sep):
        return os.path.relpath(absolute, top)
    return absolute


def project_line(project: Path, root: Path) -> str:
    """The application as a pip requirement line in debian/, resolved from there at build time."""
    absolute, debian = os.path.abspath(project), os.path.join(os.path.abspath(root), "debian")
    inside = absolute == os.path.abspath(root) or absolute.startswith(os.path.abspath(root) + os.sep)
    line = os.path.relpath(absolute, debian) if inside else absolute
    # The requirements grammar reads a path only when it holds "/" or starts with ".".
    if not (line.startswith(".") or "/" in line):
        line = "./" + line
    return line


# ---- rendering ---------------------------------------------------------------------


def _make_word(word: str) -> str:
    """One shell word for a make recipe: quoted for the shell, ``$`` doubled for make."""
    return shlex.quote(word).replace("$", "$$")


def debian_files(plan: Plan, package: DebianPackage) -> Dict[str, str]:
    """The generated files' texts by path relative to ``debian/`` (module docstring)."""
    # Imported here, as render.py does: only this command and the reports need Jinja2.
    from debvenv.render import template_environment

    check_package(package)
    python_depends = python_relations(plan.target.python)
    build_words: List[str] = [_make_word(f) for f in package.requirement_files]
    if package.project is not None:
        build_words.append(f"debian/{PROJECT_FILE}")
    build_words += [_make_word(f"--extra={extra}") for extra in package.extras]
    build_words += [_make_word(f"--group={group}") for group in package.groups]
    build_words += [_make_word(f"--pip-arg={arg}") for arg in package.pip_args]
    build_depends: List[str] = []
    for relation in ("debhelper-compat (= 13)", *python_depends, *debvenv_depends(plan.target.python),
                     *package.build_depends, *plan.debian_depends):
        if relation not in build_depends:
            build_depends.append(relation)
    context = {
        "package": package,
        "plan": plan,
        "depends": list(python_depends) + list(plan.debian_depends),
        "build_depends": build_depends,
        "scripts": [_make_word(script) for script in package.scripts],
        "no_index": any(arg == "--no-index" for arg in package.pip_args),
        "build_words": build_words,
        "venv": package.venv,
        "description": package.description or f"Python application {package.name} and its virtualenv",
        # The description lists requirements; pip options and constraint files name build paths.
        "venv_requirements": [line for line in plan.venv_requirements if not line.startswith(("#", "--", "-c "))],
        "standards_version": STANDARDS_VERSION,
        "debvenv_version": __version__,
        "changelog_date": format_datetime(package.date),
        "project_file": PROJECT_FILE,
    }
    environment = template_environment()
    name = package.name
    files = {
        "control": "debianize-control.j2",
        "rules": "debianize-rules.j2",
        "changelog": "debianize-changelog.j2",
        "copyright": "debianize-copyright.j2",
        f"{name}.postinst": "debianize-postinst.j2",
        f"{name}.prerm": "debianize-prerm.j2",
        f"{name}.lintian-overrides": "debianize-lintian-overrides.j2",
        "README.source": "debianize-readme-source.j2",
    }
    if package.scripts:
        files[f"{name}.links"] = "debianize-links.j2"
    texts = {path: environment.get_template(template).render(context) for path, template in files.items()}
    texts["source/format"] = "3.0 (quilt)\n" if "-" in package.version else "3.0 (native)\n"
    if package.project is not None:
        texts[PROJECT_FILE] = f"# The application, installed into the venv with its requirements.\n{package.project}\n"
    return texts


# ---- writing -----------------------------------------------------------------------

_EXECUTABLE = ("rules",)


def write_debian(root: Path, texts: Dict[str, str], *, replace: bool = False) -> Tuple[Path, ...]:
    """Write ``root/debian`` from ``texts``; return the files' paths, sorted.

    The directory is written in full under a temporary name and renamed
    into place: a failure leaves no half-written debian/. An existing
    debian/ is refused unless ``replace``, and then removed only once the
    new one is complete. Raises DebianizeError.
    """
    target = root / "debian"
    if target.exists() and not replace:
        raise DebianizeError(f"{target} exists; debianize does not write over it (--replace does)")
    staging = root / f".debian.debvenv-{secrets.token_hex(4)}"
    aside = root / f".debian.debvenv-old-{secrets.token_hex(4)}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        for relative, text in texts.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if relative in _EXECUTABLE:
                path.chmod(0o755)
        if target.exists():
            os.rename(target, aside)
        os.rename(staging, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
        if aside.exists() and not target.exists():
            os.rename(aside, target)
        raise DebianizeError(f"-o {root}: cannot write debian/: {error.strerror or error}") from error
    shutil.rmtree(aside, ignore_errors=True)
    return tuple(sorted(target / relative for relative in texts))


# ---- the source package ------------------------------------------------------------

# What dpkg-source's default -I leaves out of a 3.0 source: an orig tarball debvenv makes omits it too.
_VCS_NAMES = frozenset({
    ".git", ".gitattributes", ".gitignore", ".gitmodules", ".gitreview", ".hg", ".hgignore", ".hgsigs",
    ".hgtags", ".svn", ".bzr", ".bzrignore", "CVS", "_darcs", ".pc",
})  # fmt: skip


def _upstream_and_revision(version: str) -> Tuple[str, str]:
    without_epoch = version.split(":", 1)[1] if ":" in version else version
    upstream, _, revision = without_epoch.rpartition("-")
    return (upstream, revision) if upstream else (without_epoch, "")


def source_files(root: Path, package: DebianPackage) -> Tuple[Path, ...]:
    """The files ``dpkg-source -b`` writes for ``package`` next to ``root`` (into its parent)."""
    parent = Path(os.path.abspath(root)).parent
    upstream, revision = _upstream_and_revision(package.version)
    base = f"{package.name}_{upstream}" + (f"-{revision}" if revision else "")
    if not revision:
        return (parent / f"{base}.dsc", parent / f"{base}.tar.xz")
    return (parent / f"{base}.dsc", parent / f"{base}.debian.tar.xz")


def check_source(root: Path, package: DebianPackage) -> None:
    """Refuse ``--source`` before anything is written: what a source package could not carry, or would overwrite."""
    outside = [f for f in package.requirement_files if os.path.isabs(f)]
    if package.project is not None and os.path.isabs(package.project):
        outside.append(package.project)
    if outside:
        raise DebianizeError(
            f"--source: {', '.join(outside)} is outside {root}: a source package carries only its own tree"
        )
    existing = [str(path) for path in source_files(root, package) if os.path.lexists(path)]
    if existing:
        raise DebianizeError(f"--source: {', '.join(existing)} exists; debianize does not write over it")
    if shutil.which("dpkg-source") is None:
        raise EnvironmentFailure("--source needs dpkg-source (package dpkg-dev)")


def _orig_filter(info: tarfile.TarInfo) -> Optional[tarfile.TarInfo]:
    parts = info.name.split("/")
    if len(parts) > 1 and (parts[1] == "debian" or parts[1].startswith(".debian.debvenv-")):
        return None
    if _VCS_NAMES & set(parts[1:]):
        return None
    if not (info.isfile() or info.isdir() or info.issym()):
        return None  # FIFOs and devices are no source
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_source(root: Path, package: DebianPackage) -> Tuple[Path, ...]:
    """``dpkg-source -b`` of ``root`` into its parent; the files written, sorted. Raises DebianizeError.

    A revision in the version means 3.0 (quilt), which needs the upstream
    tarball: ``PKG_UPSTREAM.orig.tar.*`` next to the tree is used when
    there, else debvenv writes ``PKG_UPSTREAM.orig.tar.xz`` from the tree
    without debian/. Whatever this run wrote is removed when dpkg-source fails.
    """
    top = Path(os.path.abspath(root))
    parent = top.parent
    upstream, revision = _upstream_and_revision(package.version)
    created: List[Path] = []
    if revision and not [p for p in parent.glob(f"{package.name}_{upstream}.orig.tar.*") if p.suffix != ".asc"]:
        orig = parent / f"{package.name}_{upstream}.orig.tar.xz"
        try:
            with tarfile.open(orig, "x:xz") as tar:
                created.append(orig)
                tar.add(top, arcname=f"{package.name}-{upstream}", filter=_orig_filter)
        except OSError as error:
            _remove(created)
            raise DebianizeError(f"--source: cannot write {orig}: {error.strerror or error}") from error
    expected = source_files(root, package)
    completed = subprocess.run(
        ["dpkg-source", "-b", top.name], cwd=parent, capture_output=True, text=True, errors="replace"
    )
    if completed.returncode != 0:
        _remove(created + [path for path in expected if path.exists()])
        tail = "\n".join(completed.stderr.strip().splitlines()[-5:])
        raise DebianizeError(f"--source: dpkg-source -b {top} failed:\n{tail}")
    return tuple(sorted(created + [path for path in expected if path.exists()]))


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


# ---- relocating --------------------------------------------------------------------


def relocate_venv(venv_dir: Path, final_path: str) -> RelocateResult:
    """Make the venv built at ``venv_dir`` work once installed at ``final_path`` (module docstring).

    Raises DebianizeError when ``venv_dir`` is not a venv or ``final_path``
    is not absolute.
    """
    if not os.path.isabs(final_path):
        raise DebianizeError(f"relocate: {final_path!r} is not an absolute path")
    venv = Path(os.path.realpath(venv_dir))
    if not (venv / "pyvenv.cfg").is_file():
        raise DebianizeError(f"relocate: {venv_dir} is not a venv (no pyvenv.cfg)")
    # virtualenv writes the path it was given; build_venv gives it the real path.
    final = final_path.rstrip("/") or "/"
    changed = rewrite_tree(venv, [str(venv), os.path.abspath(venv_dir)], final, drop_caches=True)
    return RelocateResult(
        venv=venv, final_path=final, rewritten=changed.rewritten, relinked=changed.relinked,
        removed_caches=changed.removed_caches,
    )


def render_relocate(result: RelocateResult) -> str:
    lines = [f"relocated {result.venv} to {result.final_path}"]
    lines += [f"  rewrote {path}" for path in result.rewritten]
    lines += [f"  relinked {path}" for path in result.relinked]
    lines.append(f"  removed {result.removed_caches} __pycache__ directories")
    return "\n".join(lines) + "\n"


def render_debianize(result: DebianizeResult) -> str:
    """The terminal summary: where the tree went, what Depends and the venv hold, how to build."""
    package = result.package
    lines = [f"wrote {result.directory} for {package.name} {package.version} ({result.plan.target.id})"]
    lines += [f"  {path.relative_to(result.directory)}" for path in result.files]
    lines += ["", "Depends:"] + [f"  {relation}" for relation in python_relations(result.plan.target.python)]
    lines += [f"  {relation}" for relation in result.plan.debian_depends]
    venv_lines = [line for line in result.plan.venv_requirements if not line.startswith(("#", "--", "-c "))]
    lines += ["", f"venv {package.venv}:"] + [f"  {line}" for line in venv_lines]
    if package.project is not None:
        lines.append(f"  the application: {package.project} (from debian/)")
    if package.scripts:
        lines += ["", "/usr/bin:"] + [f"  {script} -> {package.venv}/bin/{script}" for script in package.scripts]
    if result.source:
        lines += ["", "source package:"] + [f"  {path}" for path in result.source]
    if result.warnings:
        lines += ["", "warnings:"] + [f"  {warning}" for warning in result.warnings]
    lines += ["", "build with: dpkg-buildpackage -us -uc -b  (make variable DEBVENV names debvenv;"
              " see debian/README.source)"]
    return "\n".join(lines) + "\n"
