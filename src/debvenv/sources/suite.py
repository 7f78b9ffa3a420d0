"""A SuiteIndex from a suite's Packages and Contents: shared by archive suites and apt lists.

Contents says which package ships which ``NAME-VERSION.dist-info``; Packages
says which of those packages exist for this architecture and components, at
which Debian version. Where there is no Contents, the mapping falls back to
dh-python's list and then to the ``python3-<name>`` naming rule, and every
such provider says ``mapping: guessed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from debvenv.debversion import parse_debian_version, upstream_version
from debvenv.index import (
    MAPPING_CONTENTS,
    MAPPING_GUESSED,
    VERSION_FROM_DEBIAN,
    VERSION_FROM_METADATA,
    Provider,
    SuiteIndex,
    Target,
    marker_environment_for,
)
from debvenv.names import normalize
from debvenv.sources.contents import ContentsDistribution
from debvenv.sources.packages import PYTHON3, PackageRecord, target_python

# dh-python's own name -> package list, used when a package is built; only
# present on machines with dh-python installed.
DH_PYTHON_FALLBACK = Path("/usr/share/dh-python/dist/cpython3_fallback")
_PYTHON3_PREFIX = "python3-"

Providers = Dict[str, List[Provider]]


def contents_providers(
    packages: Mapping[str, PackageRecord],
    distributions: Iterable[ContentsDistribution],
    *,
    suite: Optional[str] = None,
) -> Providers:
    """Providers found through Contents, kept only where Packages has the package.

    A package missing from Packages is not installable from the components
    and architecture we read (Ubuntu's suite-wide Contents lists universe too).
    """
    found: Providers = {}
    for dist in distributions:
        record = packages.get(dist.package)
        if record is None:
            continue
        if dist.version is None:
            version, source = upstream_version(record.version).upstream, VERSION_FROM_DEBIAN
        else:
            version, source = dist.version, VERSION_FROM_METADATA
        provider = Provider(
            name=dist.name,
            package=record.package,
            debian_version=record.version,
            version=version,
            version_source=source,
            mapping=MAPPING_CONTENTS,
            arch=record.architecture,
            path="/" + dist.path,
            suite=suite,
        )
        _add(found, normalize(dist.name), provider)
    return found


def _add(found: Providers, key: str, provider: Provider) -> None:
    same = found.setdefault(key, [])
    for index, known in enumerate(same):
        if known.package == provider.package and known.debian_version == provider.debian_version:
            # One package shipping NAME.egg-info and NAME-V.dist-info: the versioned one says more.
            if known.version_source == VERSION_FROM_DEBIAN and provider.version_source == VERSION_FROM_METADATA:
                same[index] = provider
            return
    same.append(provider)


def read_dh_python_fallback(path: Path = DH_PYTHON_FALLBACK) -> Dict[str, str]:
    """dh-python's ``name package`` lines as normalized name -> package; empty when absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    mapping: Dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            mapping.setdefault(normalize(parts[0]), parts[1])
    return mapping


def guessed_providers(
    packages: Mapping[str, PackageRecord],
    fallback: Mapping[str, str],
    *,
    suite: Optional[str] = None,
) -> Providers:
    """Providers from dh-python's list, then from the ``python3-<name>`` naming rule.

    Every one says ``mapping: guessed``: without metadata a name is only a
    likely spelling, and the report must say so.
    """
    found: Providers = {}

    def add(name: str, record: PackageRecord) -> None:
        _add(
            found,
            normalize(name),
            Provider(
                name=name,
                package=record.package,
                debian_version=record.version,
                version=upstream_version(record.version).upstream,
                version_source=VERSION_FROM_DEBIAN,
                mapping=MAPPING_GUESSED,
                arch=record.architecture,
                suite=suite,
            ),
        )

    for name, package in fallback.items():
        record = packages.get(package)
        if record is not None:
            add(name, record)
    python_packages = [
        package
        for package in packages
        if package.startswith(_PYTHON3_PREFIX) and not package.endswith(("-dbg", "-doc"))
    ]
    # Debian drops a "py"/"python-" prefix from the distribution's name
    # (PyYAML -> python3-yaml, python-dateutil -> python3-dateutil); the
    # plain name is tried for every package before any prefixed spelling.
    for spelling in ("{}", "py{}", "python-{}"):
        for package in python_packages:
            name = spelling.format(package[len(_PYTHON3_PREFIX):])
            if normalize(name) not in found:
                add(name, packages[package])
    return found


def merge(indexes: Sequence[Providers]) -> Dict[str, Tuple[Provider, ...]]:
    """Several suites seen together, as apt sees an overlay: every distinct package version stays.

    Evaluation then lets the best satisfying provider win.
    """
    merged: Providers = {}
    for providers in indexes:
        for key, group in providers.items():
            for provider in group:
                _add(merged, key, provider)
    return {key: tuple(group) for key, group in merged.items()}


def build_index(
    *,
    target_id: str,
    kind: str,
    arch: str,
    packages: Mapping[str, PackageRecord],
    providers: Providers,
    warnings: Sequence[str] = (),
    unmapped: Optional[Mapping[str, Tuple[str, str]]] = None,
) -> SuiteIndex:
    """The SuiteIndex of one target whose Python is the suite's ``python3`` package.

    A pocket (``bookworm-updates``, ``-backports``) may carry no ``python3``:
    its Python is then left empty for the caller to take from the base suite.
    """
    python = target_python(packages) if PYTHON3 in packages else None
    target = Target(
        id=target_id,
        kind=kind,
        python=python.version if python else "",
        arch=arch,
        marker_environment=marker_environment_for(python.full_version, arch) if python else {},
    )
    return SuiteIndex(
        target=target,
        providers={key: tuple(group) for key, group in providers.items()},
        warnings=tuple(warnings),
        unmapped=dict(unmapped or {}),
    )


def unmapped_packages(packages: Mapping[str, PackageRecord], providers: Providers) -> Dict[str, Tuple[str, str]]:
    """The packages no provider names from metadata, as package -> (Debian version, arch).

    A guessed name does not count: a pocket's release may know the real one.
    """
    mapped = {
        provider.package
        for group in providers.values()
        for provider in group
        if provider.mapping != MAPPING_GUESSED
    }
    return {
        name: (packages[name].version, packages[name].architecture)
        for name in packages
        if name not in mapped
    }


def borrow_mapping(pocket: SuiteIndex, base: SuiteIndex, *, suite: str) -> SuiteIndex:
    """The pocket's index with its unmapped packages mapped through the base suite's Contents.

    Which distributions a package ships does not change between a release
    and its updates. The version does: where only the Debian revision moved
    (2.1.0-2 -> 2.1.0-2+deb12u1) the base's metadata version still holds;
    otherwise it is translated from the pocket's Debian version.
    """
    by_package: Dict[str, List[Provider]] = {}
    for group in base.providers.values():
        for provider in group:
            by_package.setdefault(provider.package, []).append(provider)
    found: Providers = {}
    for key, group in pocket.providers.items():
        # A pocket without Contents guessed its names; where the release knows them, they win.
        kept = [p for p in group if p.mapping != MAPPING_GUESSED or p.package not in by_package]
        if kept:
            found[key] = kept
    for package, (debian_version, arch) in pocket.unmapped.items():
        for known in by_package.get(package, ()):
            if _same_upstream(known.debian_version, debian_version):
                version, source = known.version, known.version_source
            else:
                version, source = upstream_version(debian_version).upstream, VERSION_FROM_DEBIAN
            _add(
                found,
                normalize(known.name),
                Provider(
                    name=known.name,
                    package=package,
                    debian_version=debian_version,
                    version=version,
                    version_source=source,
                    mapping=known.mapping,
                    arch=arch,
                    path=known.path,
                    suite=suite,
                ),
            )
    return SuiteIndex(
        target=pocket.target,
        providers={key: tuple(group) for key, group in found.items()},
        warnings=pocket.warnings,
    )


def _same_upstream(a: str, b: str) -> bool:
    first, second = parse_debian_version(a), parse_debian_version(b)
    return (first.epoch, first.upstream) == (second.epoch, second.upstream)
