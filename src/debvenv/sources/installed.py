"""The ``installed`` target: what the target interpreter imports, as far as dpkg owns it.

The target interpreter (default ``/usr/bin/python3``) is run once with a
small probe that reports its version, its PEP 508 marker environment and
every ``*.dist-info`` / ``*.egg-info`` on its ``sys.path`` with the name and
version from the metadata inside. dpkg's file lists then say which Debian
package owns each; the rest (``/usr/local``, a user site, a venv) was put
there by pip and is reported as foreign, never as a Debian provider.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type

from debvenv.errors import DebvenvError, EnvironmentFailure, InputError
from debvenv.index import (
    MAPPING_METADATA,
    VERSION_FROM_METADATA,
    ForeignDistribution,
    Provider,
    SuiteIndex,
    Target,
)
from debvenv.names import normalize
from debvenv.sources import dpkgdb
from debvenv.sources.suite import is_python_package

DEFAULT_PYTHON = Path("/usr/bin/python3")

# The PEP 508 marker environment of the interpreter running it, bound to the
# name ``environment``: a piece of every probe run under a target interpreter,
# which may be older than ours (plain Python 3.5 syntax, standard library).
MARKER_ENVIRONMENT_PROBE = r"""
import os, platform, sys
iv = sys.implementation.version
implementation_version = "{0.major}.{0.minor}.{0.micro}".format(iv)
if iv.releaselevel != "final":
    implementation_version += iv.releaselevel[0] + str(iv.serial)
environment = {
    "implementation_name": sys.implementation.name,
    "implementation_version": implementation_version,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
"""

# Runs under the target interpreter, which may be older than ours: plain
# Python 3.5 syntax, standard library only, one JSON document on stdout.
_PROBE = r"""
import email.parser, json, os, platform, site, sys

def metadata(path):
    if os.path.isdir(path):
        for name in ("METADATA", "PKG-INFO"):
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                path = candidate
                break
        else:
            return None
    try:
        with open(path, "rb") as handle:
            raw = handle.read(65536).decode("utf-8", "replace")
    except OSError:
        return None
    headers = email.parser.HeaderParser().parsestr(raw)
    return headers.get("Name"), headers.get("Version")

"""+MARKER_ENVIRONMENT_PROBE+r"""
distributions = []
seen = set()
# sys.path[0] is the probe's working directory, not part of the interpreter.
for entry in sys.path[1:]:
    # dpkg lists paths as installed, so keep the entry as written and only
    # use the resolved path to skip a directory seen twice.
    real = os.path.realpath(entry) if entry else entry
    if not entry or real in seen or not os.path.isdir(entry):
        continue
    seen.add(real)
    for name in sorted(os.listdir(entry)):
        if not name.endswith((".dist-info", ".egg-info")):
            continue
        path = os.path.join(entry, name)
        found = metadata(path)
        distributions.append({"entry": entry, "path": path, "dirname": name,
                              "name": found and found[0], "version": found and found[1]})
json.dump({"environment": environment, "distributions": distributions,
           "prefix": sys.prefix, "base_prefix": getattr(sys, "base_prefix", sys.prefix)},
          sys.stdout)
"""


@dataclass(frozen=True)
class _Distribution:
    name: str
    version: str
    path: str


def run_probe(
    python: Path,
    script: str,
    *,
    label: str,
    failure: Type[DebvenvError] = EnvironmentFailure,
    timeout: float = 60,
) -> Dict[str, Any]:
    """The JSON object ``script`` prints when run by ``python`` (isolated from PYTHON*, in /).

    Every probe debvenv runs under another interpreter goes through here;
    a failure raises ``failure`` naming ``label`` and the interpreter's last
    line on stderr.
    """
    try:
        completed = subprocess.run(
            [str(absolute_interpreter(python)), "-E", "-c", script],
            capture_output=True, text=True, cwd="/", timeout=timeout, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise failure(f"{label}: cannot run: {error}") from error
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise failure(f"{label}: not a working Python 3 interpreter: {last}")
    try:
        probe = json.loads(completed.stdout)
    except ValueError:
        probe = None
    if not isinstance(probe, dict):
        raise failure(f"{label}: unexpected probe output")
    return probe


def _run_probe(python: Path) -> Dict[str, Any]:
    if not python.exists():
        raise InputError(f"--python {python}: no such file")
    if not os.access(python, os.X_OK) or python.is_dir():
        raise InputError(f"--python {python}: not an executable file")
    probe = run_probe(python, _PROBE, label=f"--python {python}")
    # Whatever answers is not trusted to be Python: a wrong shape is its failure, not our bug.
    environment = probe.get("environment")
    records = probe.get("distributions")
    wrong = []
    if not (
        isinstance(environment, dict)
        and all(isinstance(key, str) and isinstance(value, str) for key, value in environment.items())
        and isinstance(environment.get("python_version"), str)
    ):
        wrong.append("environment")
    if not (isinstance(records, list) and all(_is_record(record) for record in records)):
        wrong.append("distributions")
    if wrong:
        raise EnvironmentFailure(
            f"--python {python}: not a working Python 3 interpreter: its answer lacks {', '.join(wrong)}"
        )
    return probe


def _is_record(record: object) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("dirname"), str)
        and isinstance(record.get("path"), str)
        and all(isinstance(record.get(key), (str, type(None))) for key in ("name", "version"))
    )


def absolute_interpreter(python: Path) -> Path:
    """``python`` as a path that names the same file from any directory.

    Probes run in ``/``, so ``./python3`` (which Path shortens to ``python3``)
    would name another file there, or one on PATH. The path is made absolute,
    not resolved: a venv's ``bin/python`` symlink must stay the venv's.
    """
    return python if python.is_absolute() else Path(os.path.abspath(python))


def _distribution_from(record: Mapping[str, str]) -> Optional[_Distribution]:
    """Name and version from the metadata file, else from the directory name."""
    stem = record["dirname"].rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    # Egg-info names may carry a "-py3.11" suffix after the version.
    version = version.split("-py", 1)[0]
    name = record.get("name") or name
    version = record.get("version") or version
    if not name or not version:
        return None
    return _Distribution(name=name, version=version, path=record["path"])


def load_installed(
    python: Path = DEFAULT_PYTHON,
    admin_dir: Path = dpkgdb.DEFAULT_ADMIN_DIR,
    *,
    offers: Optional[Callable[[], Optional[SuiteIndex]]] = None,
) -> SuiteIndex:
    """The SuiteIndex of the Debian packages installed for ``python``.

    ``offers`` (SuiteIndex.offers): what apt would install, asked only when a
    requirement is missing here.
    """
    probe = _run_probe(python)
    environment: Dict[str, str] = dict(probe["environment"])  # type: ignore[arg-type]
    records: List[Mapping[str, str]] = list(probe["distributions"])  # type: ignore[arg-type]
    distributions = [d for d in map(_distribution_from, records) if d is not None]
    owned = dpkgdb.owners([d.path for d in distributions], admin_dir)
    status = dpkgdb.read_status(admin_dir)
    by_package = {package: record for (package, _arch), record in status.items()}

    providers: Dict[str, List[Provider]] = {}
    foreign: Dict[str, List[ForeignDistribution]] = {}
    for dist in distributions:
        key = normalize(dist.name)
        owner = owned.get(dist.path)
        installed = None
        if owner is not None:
            package, arch = owner
            installed = status.get((package, arch)) if arch else by_package.get(package)
        if installed is None:
            foreign.setdefault(key, []).append(
                ForeignDistribution(name=dist.name, version=dist.version, path=dist.path)
            )
            continue
        provider = Provider(
            name=dist.name,
            package=installed.package,
            debian_version=installed.version,
            version=dist.version,
            version_source=VERSION_FROM_METADATA,
            mapping=MAPPING_METADATA,
            arch=installed.architecture,
            path=dist.path,
        )
        same = providers.setdefault(key, [])
        # A package may ship both NAME-V.dist-info and NAME.egg-info for one distribution.
        if not any(p.package == provider.package and p.version == provider.version for p in same):
            same.append(provider)

    target = Target(
        id="installed",
        kind="installed",
        python=environment["python_version"],
        arch=_debian_arch(status),
        marker_environment=environment,
    )
    shipping = {provider.package for group in providers.values() for provider in group}
    bare = {
        record.package: (record.version, record.architecture)
        for record in status.values()
        if is_python_package(record.package) and record.package not in shipping
    }
    return SuiteIndex(
        target=target,
        providers={k: tuple(v) for k, v in providers.items()},
        foreign={k: tuple(v) for k, v in foreign.items()},
        bare=bare,
        offers=offers,
    )


def _debian_arch(status: Mapping[Tuple[str, str], dpkgdb.InstalledPackage]) -> str:
    """The machine's native architecture: dpkg's own package is always native."""
    for (package, arch) in status:
        if package == "dpkg":
            return arch
    return ""
