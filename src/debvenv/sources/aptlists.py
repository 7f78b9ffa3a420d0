"""The ``apt`` target: what this machine's apt lists offer, each package at apt's candidate version.

The lists directory (``/var/lib/apt/lists``) holds one file per downloaded
index, named after its URI with ``/`` turned into ``_`` (apt's
``URItoFileName``). Grammar of the names read here::

    release   = PREFIX "_" ("InRelease" / "Release")
    packages  = PREFIX "_" COMPONENT "_binary-" ARCH "_Packages" [compression]
    contents  = PREFIX "_" [COMPONENT "_"] "Contents-" ARCH [compression]   ; apt-file's lists
    compression = "." ("lz4" / "gz" / "xz" / "zst" / "bz2")
    PREFIX    = e.g. HOST_debian_dists_bookworm, or _srv_mirror_dists_bookworm for file:/srv/mirror

A Packages or Contents list belongs to the release whose PREFIX is the
longest one it starts with. Only ``binary-ARCH`` and ``binary-all`` Packages,
and ``Contents-ARCH`` and ``Contents-all``, count for the requested ARCH;
every other file (translations, other architectures, ``lock``,
``partial/``) is ignored. Gzip, xz and plain lists are read in Python; the
other compressions (apt stores lz4 by default) through ``apt-helper
cat-file``, apt's own decompressor, once per file.

Of a release file (clearsigned InRelease or plain Release, already verified
by apt when it stored it) only these single-line fields of the first
paragraph are read; the signature armour around them and every other field
are skipped::

    Suite | Codename = name
    NotAutomatic | ButAutomaticUpgrades = "yes" | "no"       ; case-insensitive

A candidate is chosen per package the way apt's default policy does: each
release has a priority, 500, or 100 with ``NotAutomatic: yes`` and
``ButAutomaticUpgrades: yes`` (backports), or 1 with ``NotAutomatic: yes``
alone (experimental); the candidate is the highest version among the lists
of the highest priority that carry the package. Pinning in
``/etc/apt/preferences[.d]`` and ``APT::Default-Release`` are not applied;
pins present on the machine are named in a warning.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from debvenv.debversion import compare_debian_versions
from debvenv.errors import EnvironmentFailure
from debvenv.index import MAPPING_DH_PYTHON, SuiteIndex
from debvenv.sources import suite
from debvenv.sources.aptsources import DEFAULT_ETC_DIR
from debvenv.sources.contents import ContentsDistribution, ContentsError, python_distributions
from debvenv.sources.packages import (
    PYTHON3,
    PackageRecord,
    PackagesIndex,
    PoolFile,
    find_pool_file,
    parse_packages,
    read_packages,
)

TARGET_ID = "apt"
KIND = "apt"
DEFAULT_LISTS_DIR = Path("/var/lib/apt/lists")
DEFAULT_APT_HELPER = Path("/usr/lib/apt/apt-helper")

PRIORITY_DEFAULT = 500
PRIORITY_BUT_AUTOMATIC_UPGRADES = 100
PRIORITY_NOT_AUTOMATIC = 1

NO_CONTENTS = "no Contents in apt lists (install apt-file and run apt-file update)"
NO_CONTENTS_WARNING = f"{NO_CONTENTS}: mappings are guessed"

# A release without Contents in apt lists, and its candidates -> providers from
# Contents debvenv verified and cached for it, and where they come from; None: none.
CachedNames = Callable[[str, Mapping[str, PackageRecord]], Optional[Tuple[suite.Providers, str]]]
# The lists found -> dh-python's name list {name: package}, and where it comes from; None: none;
# ({}, why) when there is one that could not be read.
NameList = Callable[["AptLists"], Optional[Tuple[Dict[str, str], str]]]

# Compressions parse_packages and python_distributions recognise by their magic bytes.
_READ_IN_PYTHON = ("", "gz", "xz")

_RELEASE_NAME = re.compile(r"(?P<prefix>.+)_(?P<kind>InRelease|Release)")
_PACKAGES_NAME = re.compile(r"(?P<prefix>.+)_binary-(?P<arch>[a-z0-9-]+)_Packages(?:\.(?P<ext>[a-z0-9]+))?")
_CONTENTS_NAME = re.compile(r"(?P<prefix>.+)_Contents-(?P<arch>[a-z0-9-]+)(?:\.(?P<ext>[a-z0-9]+))?")
_FIELD = re.compile(r"([^\s:#-][^\s:]*):[ \t]*(.*?)[ \t]*")
# apt reads a preferences.d file only if its name is made of these and,
# when it has a dot, ends in ".pref" (apt-pkg's GetListOfFilesInDir).
_PREFERENCES_PART = re.compile(r"[A-Za-z0-9_.-]+")


class AptListsError(EnvironmentFailure):
    """The apt lists cannot be read: none downloaded, none for the architecture, or corrupt."""


@dataclass(frozen=True)
class AptRelease:
    """The fields of a stored InRelease/Release that decide apt's default priority."""

    path: Path
    suite: Optional[str]  # "oldstable": moves with each Debian release
    codename: Optional[str]  # "bookworm", "bookworm-security": what users call it
    not_automatic: bool
    but_automatic_upgrades: bool

    @property
    def name(self) -> Optional[str]:
        """What providers call the suite: the Codename, which does not drift like ``stable`` does."""
        return self.codename or self.suite

    @property
    def priority(self) -> int:
        if not self.not_automatic:
            return PRIORITY_DEFAULT
        return PRIORITY_BUT_AUTOMATIC_UPGRADES if self.but_automatic_upgrades else PRIORITY_NOT_AUTOMATIC

    @classmethod
    def from_text(cls, text: str, path: Path) -> "AptRelease":
        """The fields of the first paragraph of a Release, clearsigned or not (module docstring)."""
        fields: Dict[str, str] = {}
        lines = iter(text.splitlines())
        for line in lines:
            if line.startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
                # Armour headers ("Hash: SHA256") run up to the first blank line.
                for header in lines:
                    if not header.strip():
                        break
                continue
            if not line.strip():
                if fields:
                    break
                continue
            if line.startswith("-----BEGIN PGP SIGNATURE-----"):
                break
            if line[0] in " \t":
                continue  # a multi-line field's body (SHA256, ...): nothing debvenv reads
            match = _FIELD.fullmatch(line)
            if match is None:
                raise AptListsError(f"{path}: expected 'Field: value', got {line[:60]!r}")
            fields.setdefault(match.group(1).lower(), match.group(2))
        # A flat repository (deb file:/srv/repo ./, as autopkgtest adds) may name
        # neither; apt accepts it, and so do we: its packages then carry no suite.
        return cls(
            path=path,
            suite=fields.get("suite") or None,
            codename=fields.get("codename") or None,
            not_automatic=_yes(fields, "notautomatic", path),
            but_automatic_upgrades=_yes(fields, "butautomaticupgrades", path),
        )


def _yes(fields: Mapping[str, str], name: str, path: Path) -> bool:
    value = fields.get(name, "no").lower()
    if value not in ("yes", "no"):
        raise AptListsError(f"{path}: {name} {value!r} is not yes/no")
    return value == "yes"


def read_release(path: Path) -> AptRelease:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AptListsError(f"{path}: cannot read: {error}") from error
    return AptRelease.from_text(text, path)


@dataclass(frozen=True)
class ListFile:
    """One Packages or Contents list, and the release it came with (None: apt kept no Release)."""

    path: Path
    compression: str  # the name's suffix without the dot: "lz4", "gz", "" for none
    release: Optional[AptRelease]

    @property
    def priority(self) -> int:
        return PRIORITY_DEFAULT if self.release is None else self.release.priority


@dataclass(frozen=True)
class AptLists:
    """The lists of one architecture found in a lists directory."""

    packages: Tuple[ListFile, ...]
    contents: Tuple[ListFile, ...]


def find_lists(lists_dir: Path, *, arch: str) -> AptLists:
    """The Packages and Contents lists of ``lists_dir`` that count for ``arch``, in name order."""
    try:
        names = sorted(entry.name for entry in os.scandir(lists_dir) if entry.is_file())
    except FileNotFoundError:
        names = []
    except OSError as error:
        raise AptListsError(f"{lists_dir}: cannot read the apt lists: {error}") from error
    releases: Dict[str, AptRelease] = {}
    for name in names:
        match = _RELEASE_NAME.fullmatch(name)
        # apt reads InRelease, or Release where the archive has none: a stale one beside it is ignored.
        if match and (match.group("kind") == "InRelease" or match.group("prefix") not in releases):
            releases[match.group("prefix")] = read_release(lists_dir / name)
    # Longest first: "..._dists_bookworm_updates" (suite "bookworm/updates") over "..._dists_bookworm".
    prefixes = sorted(releases, key=len, reverse=True)

    def listed(pattern: "re.Pattern[str]") -> Tuple[ListFile, ...]:
        found = []
        for name in names:
            match = pattern.fullmatch(name)
            if match is None or match.group("arch") not in (arch, "all"):
                continue
            prefix = next((p for p in prefixes if name.startswith(p + "_")), None)
            release = releases[prefix] if prefix is not None else None
            found.append(ListFile(lists_dir / name, match.group("ext") or "", release))
        return tuple(found)

    packages = listed(_PACKAGES_NAME)
    if not packages:
        if not any(_PACKAGES_NAME.fullmatch(name) for name in names):
            raise AptListsError(f"{lists_dir}: no apt lists: run apt-get update")
        raise AptListsError(f"{lists_dir}: no Packages lists for {arch}: run apt-get update")
    return AptLists(packages=packages, contents=listed(_CONTENTS_NAME))


# ---------------------------------------------------------------- decompression


def _helper_command(apt_helper: Path, path: Path) -> List[str]:
    if not os.access(apt_helper, os.X_OK):
        raise AptListsError(
            f"{path}: cannot decompress it: {apt_helper} (from the apt package) is missing; "
            f"debvenv reads {path.suffix} lists through apt's own helper"
        )
    return [os.fspath(apt_helper), "cat-file", os.fspath(path)]


def _c_locale() -> Dict[str, str]:
    return dict(os.environ, LC_ALL="C")  # apt-helper's message is quoted in ours


def _helper_failed(path: Path, returncode: int, stderr: bytes) -> AptListsError:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    detail = "; ".join(lines[:3]) or f"apt-helper exited with status {returncode}"
    return AptListsError(f"{path}: cannot decompress: {detail}")


def read_packages_list(lst: ListFile, apt_helper: Path) -> PackagesIndex:
    """One Packages list, decompressed once."""
    if lst.compression in _READ_IN_PYTHON:
        return read_packages(lst.path)
    return parse_packages(_helper_output(lst, apt_helper), os.fspath(lst.path))


def find_pool_file_in_lists(
    lists: "AptLists", package: str, apt_helper: Path = DEFAULT_APT_HELPER
) -> Optional[Tuple[ListFile, PoolFile]]:
    """``package``'s .deb as apt's candidate list names it (the highest priority, then version),
    and that list."""
    best: Optional[Tuple[int, PoolFile, ListFile]] = None
    for lst in lists.packages:
        if lst.compression in _READ_IN_PYTHON:
            found = find_pool_file(lst.path, package)
        else:
            found = find_pool_file(io.BytesIO(_helper_output(lst, apt_helper)), package, name=os.fspath(lst.path))
        if found is None:
            continue
        if (
            best is None
            or lst.priority > best[0]
            or (lst.priority == best[0] and compare_debian_versions(found.version, best[1].version) > 0)
        ):
            best = (lst.priority, found, lst)
    return (best[2], best[1]) if best is not None else None


def _helper_output(lst: ListFile, apt_helper: Path) -> bytes:
    try:
        proc = subprocess.run(
            _helper_command(apt_helper, lst.path), capture_output=True, env=_c_locale(), check=False
        )
    except OSError as error:
        raise AptListsError(f"{lst.path}: cannot run {apt_helper}: {error}") from error
    if proc.returncode != 0:
        raise _helper_failed(lst.path, proc.returncode, proc.stderr)
    return proc.stdout


def read_contents_lists(lists: Sequence[ListFile], apt_helper: Path) -> List[ContentsDistribution]:
    """The distributions the Contents ``lists`` name, those apt-helper decompresses streamed through a pipe.

    A Contents list inflates to hundreds of megabytes: it is never held whole.
    """
    with contextlib.ExitStack() as stack:
        sources = []
        helpers: List[Tuple[ListFile, "subprocess.Popen[bytes]"]] = []
        for lst in lists:
            if lst.compression in _READ_IN_PYTHON:
                sources.append(lst.path)
                continue
            try:
                proc = subprocess.Popen(
                    _helper_command(apt_helper, lst.path),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=_c_locale(),
                )
            except OSError as error:
                raise AptListsError(f"{lst.path}: cannot run {apt_helper}: {error}") from error
            stack.enter_context(_reaped(proc))
            helpers.append((lst, proc))
            sources.append(proc.stdout)
        try:
            distributions = python_distributions(*sources)
        except ContentsError as error:
            # A helper that failed mid-stream cuts a line short: its own error is the one to tell.
            for lst, proc in helpers:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    if proc.wait(timeout=1) != 0:
                        raise _helper_failed(lst.path, proc.returncode, _stderr(proc)) from error
            raise
        for lst, proc in helpers:
            # A failing helper ends its stream early: its exit status, not the stream, says so.
            stderr = _stderr(proc)
            if proc.wait() != 0:
                raise _helper_failed(lst.path, proc.returncode, stderr)
        return distributions


def _stderr(proc: "subprocess.Popen[bytes]") -> bytes:
    return proc.stderr.read() if proc.stderr is not None else b""


@contextlib.contextmanager
def _reaped(proc: "subprocess.Popen[bytes]") -> Iterator[None]:
    """Never leave a helper behind, whatever stopped the reading."""
    try:
        yield
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


# ---------------------------------------------------------------- candidates


class _Chosen(Mapping[str, PackageRecord]):
    """Package -> its candidate record, looked up lazily in the list that won it."""

    def __init__(self, where: Dict[str, PackagesIndex]) -> None:
        self._where = where

    def __getitem__(self, package: str) -> PackageRecord:
        return self._where[package][package]

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, package: object) -> bool:
        return package in self._where


@dataclass(frozen=True)
class Candidates:
    """apt's candidate of every package, as a whole and grouped by the release offering it."""

    packages: Mapping[str, PackageRecord]
    by_release: Tuple[Tuple[Optional[AptRelease], Mapping[str, PackageRecord]], ...]


def choose_candidates(lists: Sequence[Tuple[ListFile, PackagesIndex]]) -> Candidates:
    """Per package, the highest version among the lists of the highest priority that carry it."""
    best: Dict[str, Tuple[int, PackagesIndex, ListFile]] = {}
    for lst, index in lists:
        priority = lst.priority
        for package in index:
            known = best.get(package)
            if known is not None:
                known_priority, known_index, _ = known
                if priority < known_priority:
                    continue
                # Versions are compared only for packages in several lists: a few thousand at most.
                if priority == known_priority and compare_debian_versions(
                    index[package].version, known_index[package].version
                ) <= 0:
                    continue
            best[package] = (priority, index, lst)
    everywhere: Dict[str, PackagesIndex] = {}
    grouped: Dict[Optional[AptRelease], Dict[str, PackagesIndex]] = {}
    for package, (_, index, lst) in best.items():
        everywhere[package] = index
        grouped.setdefault(lst.release, {})[package] = index
    return Candidates(
        packages=_Chosen(everywhere),
        by_release=tuple((release, _Chosen(where)) for release, where in grouped.items()),
    )


# ---------------------------------------------------------------- pinning


def pinning_files(etc_dir: Path) -> Tuple[Path, ...]:
    """The preferences files apt would read from ``etc_dir`` that hold anything but comments."""
    candidates = [etc_dir / "preferences"]
    try:
        candidates += sorted(
            entry
            for entry in (etc_dir / "preferences.d").iterdir()
            if _PREFERENCES_PART.fullmatch(entry.name)
            and ("." not in entry.name or entry.name.endswith(".pref"))
        )
    except OSError:
        pass
    found = []
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
            found.append(path)
    return tuple(found)


# ---------------------------------------------------------------- the target


def installed_name_list(fallback: Path = suite.DH_PYTHON_FALLBACK) -> NameList:
    """dh-python's name list as installed on this machine (None where dh-python is not)."""

    def name_list(lists: "AptLists") -> Optional[Tuple[Dict[str, str], str]]:
        names = suite.read_dh_python_fallback(fallback)
        return (names, f"dh-python's name list {fallback}") if names else None

    return name_list


def load_apt_lists(
    lists_dir: Path = DEFAULT_LISTS_DIR,
    *,
    arch: str,
    fallback: Path = suite.DH_PYTHON_FALLBACK,
    apt_helper: Path = DEFAULT_APT_HELPER,
    etc_dir: Path = DEFAULT_ETC_DIR,
    cached_names: Optional[CachedNames] = None,
    name_list: Optional[NameList] = None,
) -> SuiteIndex:
    """The ``apt`` target: every Python distribution apt would install, at apt's candidate version.

    Mappings come from apt-file's Contents lists where a release has them;
    else, as for a suite whose Contents cannot be verified: from Contents
    that debvenv verified and cached for that release (``cached_names``,
    ``mapping: cached-contents``), else from dh-python's name list
    (``name_list``, by default this machine's ``fallback``; ``mapping:
    dh-python``), else from the ``python3-<name>`` rule (``mapping:
    guessed``). One warning per source of names says which releases took
    their names from it. ``etc_dir`` is only looked at for pins, which are
    reported, not applied.
    """
    found = find_lists(lists_dir, arch=arch)
    candidates = choose_candidates([(lst, read_packages_list(lst, apt_helper)) for lst in found.packages])
    if PYTHON3 not in candidates.packages:
        raise AptListsError(
            f"{lists_dir}: the apt lists for {arch} offer no {PYTHON3} package: "
            "cannot tell the target's Python"
        )

    contents_of: Dict[Optional[AptRelease], List[ListFile]] = {}
    for lst in found.contents:
        contents_of.setdefault(lst.release, []).append(lst)
    names_list = name_list if name_list is not None else installed_name_list(fallback)
    listed: List[Optional[Tuple[Dict[str, str], str]]] = []  # computed once, when first needed
    # Where the names of releases without Contents come from -> those releases.
    stand_ins: Dict[str, List[str]] = {}
    indexes = []
    for release, packages in candidates.by_release:
        name = release.name if release is not None else None
        if release in contents_of:
            distributions = read_contents_lists(contents_of[release], apt_helper)
            indexes.append(suite.contents_providers(packages, distributions, suite=name))
            continue
        cached = cached_names(name, packages) if cached_names is not None and name is not None else None
        if cached is not None:
            providers, where = cached
        else:
            if not listed:
                listed.append(names_list(found))
            if listed[0] is not None and listed[0][0]:
                names, where = listed[0]
                where = f"names come from {where}, versions from apt's lists; names it lacks are guessed"
                providers = suite.guessed_providers(packages, names, suite=name, list_mapping=MAPPING_DH_PYTHON)
            else:
                # No list, or (no names, why): the naming rule, and the why said with it.
                where = f"{listed[0][1]}: mappings are guessed" if listed[0] is not None else "mappings are guessed"
                providers = suite.guessed_providers(packages, {}, suite=name)
        indexes.append(providers)
        if providers:
            stand_ins.setdefault(where, []).append(name or "a release")

    warnings: List[str] = []
    for where, releases in stand_ins.items():
        if not found.contents:
            warnings.append(f"{NO_CONTENTS}: {where}" + ("" if len(stand_ins) == 1 else f" ({', '.join(releases)})"))
        else:
            # Some releases have Contents, these have not: say which answers are not from Contents.
            its = "its mappings are guessed" if where == "mappings are guessed" else where
            warnings.append(f"no Contents for {', '.join(releases)} in apt lists: {its}")
    pins = pinning_files(etc_dir)
    if pins:
        warnings.append(
            "apt pinning is not applied (candidates follow apt's default priorities): "
            + ", ".join(os.fspath(path) for path in pins)
        )
    return suite.build_index(
        target_id=TARGET_ID,
        kind=KIND,
        arch=arch,
        packages=candidates.packages,
        providers=suite.merge(indexes),
        warnings=warnings,
    )
