"""A SuiteIndex from a suite's Packages and Contents: shared by archive suites and apt lists.

Contents says which package ships which ``NAME-VERSION.dist-info``; Packages
says which of those packages exist for this architecture and components, at
which Debian version. Where there is no verified Contents, the names come
from an older verified Contents (``carry_mapping``, ``mapping:
cached-contents``), else from dh-python's name list (``mapping: dh-python``),
and only then from the ``python3-<name>`` naming rule (``mapping: guessed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from debvenv.debversion import parse_debian_version, upstream_version
from debvenv.index import (
    DEGRADED_MAPPINGS,
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


# Where dh-python's .deb keeps it.
DH_PYTHON_LIST = "usr/share/dh-python/dist/cpython3_fallback"


def read_dh_python_fallback(path: Path = DH_PYTHON_FALLBACK) -> Dict[str, str]:
    """This machine's dh-python list as name -> package (parse_name_list); empty when absent."""
    try:
        return parse_name_list(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def parse_name_list(text: str) -> Dict[str, str]:
    """dh-python's ``cpython3_fallback``: ``name package`` lines -> {name as spelled: package}.

    The first line for a normalized name wins (``Django`` before
    ``django``), as in dh-python; comments and lines with fewer than two
    fields are skipped.
    """
    mapping: Dict[str, str] = {}
    seen = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            key = normalize(parts[0])
            if key not in seen:
                seen.add(key)
                mapping[parts[0]] = parts[1]
    return mapping


def guessed_providers(
    packages: Mapping[str, PackageRecord],
    fallback: Mapping[str, str],
    *,
    suite: Optional[str] = None,
    list_mapping: str = MAPPING_GUESSED,
) -> Providers:
    """Providers from a dh-python name list, then from the ``python3-<name>`` naming rule.

    Names from the list say ``list_mapping`` (``dh-python`` when the list is
    the suite's own, verified); the rule's say ``guessed``: without metadata
    a name is only a likely spelling, and the report must say so.
    """
    found: Providers = {}

    def add(name: str, record: PackageRecord, mapping: str = MAPPING_GUESSED) -> None:
        _add(
            found,
            normalize(name),
            Provider(
                name=name,
                package=record.package,
                debian_version=record.version,
                version=upstream_version(record.version).upstream,
                version_source=VERSION_FROM_DEBIAN,
                mapping=mapping,
                arch=record.architecture,
                suite=suite,
            ),
        )

    for name, package in fallback.items():
        record = packages.get(package)
        if record is not None:
            add(name, record, list_mapping)
    python_packages = [package for package in packages if is_python_package(package)]
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
        bare=bare_packages(packages, providers),
    )


def is_python_package(package: str) -> bool:
    """A python3-* package that may hold a library (not its -dbg or -doc companion)."""
    return package.startswith(_PYTHON3_PREFIX) and not package.endswith(("-dbg", "-doc"))


def bare_packages(packages: Mapping[str, PackageRecord], providers: Providers) -> Dict[str, Tuple[str, str]]:
    """The python3-* packages no provider names, as package -> (Debian version, arch).

    They are what a "missing" answer may point at (python3-vtk9 ships its
    modules without metadata); the packages that ship metadata are found
    through the providers themselves.
    """
    shipping = {provider.package for group in providers.values() for provider in group}
    return {
        name: (packages[name].version, packages[name].architecture)
        for name in packages
        if is_python_package(name) and name not in shipping
    }


def unmapped_packages(packages: Mapping[str, PackageRecord], providers: Providers) -> Dict[str, Tuple[str, str]]:
    """The packages no provider names from metadata, as package -> (Debian version, arch).

    A degraded name (guessed, dh-python's, a cached Contents') does not
    count: a pocket's release may know the real one.
    """
    mapped = {
        provider.package
        for group in providers.values()
        for provider in group
        if provider.mapping not in DEGRADED_MAPPINGS
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
    by_package = _by_package(base.providers)
    found: Providers = {}
    for key, group in pocket.providers.items():
        # A pocket without verified Contents has stand-in names; where the release knows them, they win.
        kept = [p for p in group if p.mapping not in DEGRADED_MAPPINGS or p.package not in by_package]
        if kept:
            found[key] = kept
    for package, (debian_version, arch) in pocket.unmapped.items():
        _carry(found, by_package.get(package, ()), package, debian_version, arch, suite=suite)
    return SuiteIndex(
        target=pocket.target,
        providers={key: tuple(group) for key, group in found.items()},
        warnings=pocket.warnings,
        bare={package: pair for package, pair in pocket.bare.items() if package not in by_package},
    )


def carry_mapping(
    packages: Mapping[str, PackageRecord],
    older: Mapping[str, Sequence[Provider]],
    *,
    suite: Optional[str],
    mapping: str,
) -> Providers:
    """Today's packages named through an older index of the same suite (its verified Contents).

    Versions follow the same rule as borrow_mapping: the older metadata
    version only where the upstream version did not move. Each provider says
    ``mapping``, so that the report shows where the name came from.
    """
    found: Providers = {}
    for package, known in _by_package(older).items():
        record = packages.get(package)
        if record is not None:
            _carry(found, known, package, record.version, record.architecture, suite=suite, mapping=mapping)
    return found


def _by_package(providers: Mapping[str, Sequence[Provider]]) -> Dict[str, List[Provider]]:
    by_package: Dict[str, List[Provider]] = {}
    for group in providers.values():
        for provider in group:
            by_package.setdefault(provider.package, []).append(provider)
    return by_package


def _carry(
    found: Providers,
    known: Iterable[Provider],
    package: str,
    debian_version: str,
    arch: str,
    *,
    suite: Optional[str],
    mapping: Optional[str] = None,
) -> None:
    """Add ``package`` at ``debian_version`` under each name ``known`` gave it."""
    for provider in known:
        if _same_upstream(provider.debian_version, debian_version):
            version, source = provider.version, provider.version_source
        else:
            version, source = upstream_version(debian_version).upstream, VERSION_FROM_DEBIAN
        _add(
            found,
            normalize(provider.name),
            Provider(
                name=provider.name,
                package=package,
                debian_version=debian_version,
                version=version,
                version_source=source,
                mapping=mapping or provider.mapping,
                arch=arch,
                path=provider.path,
                suite=suite,
            ),
        )


def _same_upstream(a: str, b: str) -> bool:
    first, second = parse_debian_version(a), parse_debian_version(b)
    return (first.epoch, first.upstream) == (second.epoch, second.upstream)
