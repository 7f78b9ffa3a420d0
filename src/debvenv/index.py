"""The model every target is reduced to: a SuiteIndex of Debian providers per distribution.

Each target kind (``installed``, ``apt``, an archive suite) has a source
module under ``debvenv.sources`` that builds one ``SuiteIndex``; evaluation
never needs to know which kind it is looking at.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from debvenv import __version__


# How the distribution -> Debian package mapping was found.
MAPPING_METADATA = "metadata"  # a dpkg-owned .dist-info/.egg-info on this machine
MAPPING_CONTENTS = "contents"  # a dist-packages/*.dist-info path in a Contents index
# When the suite's Contents cannot be verified (or it publishes none), in order of preference:
MAPPING_CACHED_CONTENTS = "cached-contents"  # the newest verified Contents in the cache
MAPPING_DH_PYTHON = "dh-python"  # dh-python's name list: the suite's own verified .deb (or the installed one)
MAPPING_GUESSED = "guessed"  # the python3-<name> naming rule (or this machine's dh-python list)
# Names a pocket's release may know better: its Contents, where verified, wins over these.
DEGRADED_MAPPINGS = frozenset({MAPPING_CACHED_CONTENTS, MAPPING_DH_PYTHON, MAPPING_GUESSED})

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
    mapping: str  # MAPPING_METADATA | MAPPING_CONTENTS | one of DEGRADED_MAPPINGS
    arch: str
    path: Optional[str] = None  # the metadata's path, where one is known
    suite: Optional[str] = None  # the archive suite offering it, for overlays and apt lists


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
    # Why this target could not be answered (in a matrix, the others still are); None: it was.
    error: Optional[str] = None


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
    # A pocket's packages (bookworm-security, -updates) that its own Contents did
    # not map, as package -> (Debian version, arch): their mapping comes from
    # the base suite (debian-security publishes empty Contents).
    unmapped: Mapping[str, Tuple[str, str]] = field(default_factory=dict, compare=False)
    # The python3-* packages that ship no metadata the index found (python3-vtk9 on
    # bookworm), as package -> (Debian version, arch): pip does not see them, but a
    # "missing" answer can say they exist.
    bare: Mapping[str, Tuple[str, str]] = field(default_factory=dict, compare=False)
    # For ``installed``: what this machine's apt lists offer, read only when a
    # "missing" answer asks (None when they cannot be read); None: not asked for.
    offers: Optional[Callable[[], Optional["SuiteIndex"]]] = field(default=None, compare=False)

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


# ---- the parsed-index cache -------------------------------------------------------
#
# Building a suite's index reads ~50 MB of compressed Contents; the result is a
# few thousand providers. It is cached as compact JSON named by a key derived
# from the index files' SHA256s, so a changed archive can never be answered
# from a stale parse.

_CACHE_FORMAT = 4  # 4: "bare"

# The modules whose rules decide what a parsed index holds (name mapping, version
# translation such as A+reallyB, stand-ins). A parse cached by other code is stale
# even though the index files are the same: trixie's click 8.2.0+0.really.8.1.8 was
# cached as 8.2.0+... by a debvenv that predated the rule, and kept satisfying
# click>=8.2 after the rule was fixed. So their bytes are part of every cache key.
_DERIVING_MODULES = (
    "debversion.py", "names.py", "index.py", "targets.py",
    "sources/suite.py", "sources/contents.py", "sources/packages.py",
)  # fmt: skip
_derivation: Optional[str] = None


def derivation_key() -> str:
    """A digest of the code that turns index files into a SuiteIndex (see _DERIVING_MODULES)."""
    global _derivation
    if _derivation is None:
        digest = hashlib.sha256(f"format {_CACHE_FORMAT}\n".encode())
        package = Path(__file__).parent
        for name in _DERIVING_MODULES:
            try:
                digest.update((package / name).read_bytes())
            except OSError:
                # Only compiled modules shipped: the version is the best we can do.
                digest.update(f"{name} unreadable, debvenv {__version__}".encode())
        _derivation = digest.hexdigest()
    return _derivation
_PROVIDER_FIELDS = (  # Provider's fields, in its order
    "name", "package", "debian_version", "version", "version_source", "mapping", "arch", "path", "suite",
)  # fmt: skip


def index_to_document(index: SuiteIndex) -> Dict[str, Any]:
    target = index.target
    return {
        "format": _CACHE_FORMAT,
        "target": {
            "id": target.id,
            "kind": target.kind,
            "python": target.python,
            "arch": target.arch,
            "marker_environment": dict(target.marker_environment),
        },
        # Grouped by normalized name so that loading needs no re-normalizing.
        "providers": {
            key: [[getattr(provider, field) for field in _PROVIDER_FIELDS] for provider in group]
            for key, group in index.providers.items()
        },
        "warnings": list(index.warnings),
        "unmapped": {package: list(pair) for package, pair in index.unmapped.items()},
        "bare": {package: list(pair) for package, pair in index.bare.items()},
    }


def index_from_document(document: Mapping[str, Any], *, target_id: Optional[str] = None) -> SuiteIndex:
    """The inverse of index_to_document; ``target_id`` renames the target (one cache, many spellings)."""
    if document.get("format") != _CACHE_FORMAT:
        raise ValueError(f"cache format {document.get('format')!r}")
    raw = document["target"]
    target = Target(
        id=target_id or raw["id"],
        kind=raw["kind"],
        python=raw["python"],
        arch=raw["arch"],
        marker_environment=dict(raw["marker_environment"]),
    )
    providers: Dict[str, Tuple[Provider, ...]] = {}
    for key, rows in document["providers"].items():
        for row in rows:
            # A row of another shape or type would fail later, in evaluation: refuse it here.
            if len(row) != len(_PROVIDER_FIELDS) or not all(isinstance(v, (str, type(None))) for v in row):
                raise ValueError(f"cache provider row {row!r}")
        # Positional: _PROVIDER_FIELDS is Provider's field order (the cache is hot on warm runs).
        providers[key] = tuple(Provider(*row) for row in rows)
    return SuiteIndex(
        target=target,
        providers=providers,
        warnings=tuple(document.get("warnings", ())),
        unmapped=_pairs(document.get("unmapped", {})),
        bare=_pairs(document.get("bare", {})),
    )


def _pairs(raw: Mapping[str, Any]) -> Dict[str, Tuple[str, str]]:
    """package -> (Debian version, arch) rows of a cached index; anything else is damage."""
    pairs = {}
    for package, pair in raw.items():
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(v, str) for v in pair):
            raise ValueError(f"cache package row {pair!r}")
        pairs[package] = (pair[0], pair[1])
    return pairs


def load_cached_index(path: Path, *, target_id: Optional[str] = None) -> Optional[SuiteIndex]:
    """The cached index at ``path``, or None when absent or unreadable (it is then rebuilt).

    Never read through a symlink, nor from anything but a regular file (a
    planted FIFO would block): the caller checks the directory is the cache's own.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            return index_from_document(json.loads(handle.read()), target_id=target_id)
    # Any shape of damage (a JSON list, a short pair, nesting too deep) means "rebuild", never a crash.
    except (OSError, ValueError, LookupError, TypeError, AttributeError, RecursionError):
        return None


def save_cached_index(index: SuiteIndex, path: Path) -> None:
    """Write atomically, mode 0644 whatever the umask: a concurrent reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(index_to_document(index), handle, separators=(",", ":"))
            os.fchmod(handle.fileno(), 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
