"""The model every target is reduced to: a SuiteIndex of Debian providers per distribution.

Each target kind (``installed``, ``apt``, an archive suite) has a source
module under ``debvenv.sources`` that builds one ``SuiteIndex``; evaluation
never needs to know which kind it is looking at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple

# How the distribution -> Debian package mapping was found.
MAPPING_METADATA = "metadata"  # a dpkg-owned .dist-info/.egg-info on this machine
MAPPING_CONTENTS = "contents"  # a dist-packages/*.dist-info path in a Contents index
MAPPING_GUESSED = "guessed"  # the python3-<name> naming rule or dh-python's fallback list

# Where a provider's upstream version came from.
VERSION_FROM_METADATA = "metadata"  # the dist-info/egg-info name or METADATA
VERSION_FROM_DEBIAN = "debian"  # translated from the Debian version


@dataclass(frozen=True)
class Provider:
    """One Debian binary package that provides one Python distribution."""

    name: str  # the distribution's name as its metadata spells it
    package: str  # Debian binary package
    debian_version: str
    version: str  # upstream version, raw: it may not be PEP 440
    version_source: str  # VERSION_FROM_METADATA | VERSION_FROM_DEBIAN
    mapping: str  # MAPPING_METADATA | MAPPING_CONTENTS | MAPPING_GUESSED
    arch: str
    path: Optional[str] = None  # the metadata's path, where one is known


@dataclass(frozen=True)
class ForeignDistribution:
    """A distribution the target's Python sees that no Debian package owns (pip put it there)."""

    name: str
    version: str
    path: str


@dataclass(frozen=True)
class Target:
    """What a SuiteIndex describes: a machine's dpkg database, its apt lists, or a suite."""

    id: str  # as the user named it: "installed", "apt", "bookworm", "noble@URL"
    kind: str  # "installed" | "apt" | "suite"
    python: str  # "3.11": the target's python3, not the running one
    arch: str  # Debian architecture: "amd64"
    # PEP 508 marker environment for the target's Python and machine.
    marker_environment: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SuiteIndex:
    """Normalized distribution name -> the Debian packages providing it, for one target."""

    target: Target
    providers: Mapping[str, Tuple[Provider, ...]] = field(compare=False)
    # Distributions visible to the target Python but owned by no Debian package.
    foreign: Mapping[str, Tuple[ForeignDistribution, ...]] = field(
        default_factory=dict, compare=False
    )
    warnings: Tuple[str, ...] = ()

    def lookup(self, normalized_name: str) -> Tuple[Provider, ...]:
        return self.providers.get(normalized_name, ())

    def foreign_copies(self, normalized_name: str) -> Tuple[ForeignDistribution, ...]:
        return self.foreign.get(normalized_name, ())


_DEBIAN_TO_MACHINE = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "armhf": "armv7l",
    "armel": "armv5tel",
    "i386": "i686",
    "ppc64el": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64el": "mips64",
    "loong64": "loongarch64",
}


def machine_for_arch(arch: str) -> str:
    """``platform.machine()`` on a Debian architecture: amd64 -> x86_64, arm64 -> aarch64."""
    return _DEBIAN_TO_MACHINE.get(arch, arch)


def marker_environment_for(python_full_version: str, arch: str) -> Mapping[str, str]:
    """The PEP 508 environment of CPython ``python_full_version`` on Debian/``arch``.

    Used for targets we cannot run (archive suites): what we cannot know
    (kernel release and version) is left empty rather than borrowed from
    the running machine.
    """
    parts = python_full_version.split(".")
    return {
        "implementation_name": "cpython",
        "implementation_version": python_full_version,
        "os_name": "posix",
        "platform_machine": machine_for_arch(arch),
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": python_full_version,
        "python_version": ".".join(parts[:2]),
        "sys_platform": "linux",
    }
