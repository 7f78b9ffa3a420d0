"""Target names -> SuiteIndex: the one place that knows which source module serves which target.

Grammar of a target::

    target  = "installed" / "apt" / suites ["@" mirror]
    suites  = suite *("+" suite)        ; an overlay, seen together as apt sees them
    mirror  = URL                       ; http://, https:// or file://
                                        ; http(s) may carry user[:password]@ (never file://)

A suite's mirror, components and keyring default to the machine's apt
sources (the entry for that suite, else the first archive entry of the same
distribution); ``--mirror``, ``--components``, ``--arch`` and ``--keyring``
override them, and a mirror written in the target overrides ``--mirror``.

A login in a mirror URL, or in apt's auth.conf (``aptauth``), is sent as
HTTP Basic authorization and never shown: a target's id, and so every
report, message and file that names it, has it masked (``user:***@``).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from debvenv.debversion import debian_version_key
from debvenv.errors import DebvenvError, EnvironmentFailure, InputError
from debvenv.index import (
    MAPPING_CACHED_CONTENTS,
    MAPPING_DH_PYTHON,
    Provider,
    SuiteIndex,
    Target,
    derivation_key,
    load_cached_index,
    save_cached_index,
)
from debvenv.sources import aptauth, aptconf, aptlists, aptsources, credentials, dpkgdb
from debvenv.sources import store as cachefs
from debvenv.sources.archive import (
    ArchiveError,
    FetchedSuite,
    SuiteSource,
    VerifiedSet,
    cached_suite,
    discard_cached_suite,
    fetch_pool_file,
    fetch_suite,
)
from debvenv.sources.contents import ContentsError, python_distributions
from debvenv.sources.debfile import DebFileError, read_member
from debvenv.sources.installed import DEFAULT_PYTHON, load_installed
from debvenv.sources.packages import PackageRecord, PackagesError, find_pool_file, read_packages
from debvenv.sources.release import ReleaseError
from debvenv.sources.suite import (
    DH_PYTHON_FALLBACK,
    DH_PYTHON_LIST,
    Providers,
    borrow_mapping,
    build_index,
    carry_mapping,
    contents_providers,
    guessed_providers,
    merge,
    parse_name_list,
    read_dh_python_fallback,
    unmapped_packages,
)

INSTALLED = "installed"
APT = "apt"
DEFAULT_APT_LISTS = Path("/var/lib/apt/lists")
# A cached suite younger than this is used without asking the mirror.
DEFAULT_MAX_AGE = timedelta(hours=6)
DEFAULT_KEYRING_DIR = Path("/usr/share/keyrings")
# The archive keyrings debian-archive-keyring and ubuntu-keyring install there.
_KEYRINGS = {
    aptsources.DEBIAN: "debian-archive-keyring.gpg",
    aptsources.UBUNTU: "ubuntu-archive-keyring.gpg",
}
# The pockets an archive publishes beside a release; anything else after a
# "-" is a suite of its own (bookworm-pgdg, rc-buggy).
_POCKET = re.compile(r"^(.+?)-(?:updates|security|backports|backports-sloppy|proposed-updates|proposed)$")
_URL_SCHEMES = ("http://", "https://", "file://")

Progress = Callable[[str, int, Optional[int]], None]


@dataclass(frozen=True)
class TargetOptions:
    """Where each kind of target reads from; defaults are this machine's."""

    python: Path = DEFAULT_PYTHON
    admin_dir: Path = dpkgdb.DEFAULT_ADMIN_DIR
    apt_etc_dir: Path = aptsources.DEFAULT_ETC_DIR
    apt_lists_dir: Path = DEFAULT_APT_LISTS
    cache_dir: Optional[Path] = None  # required for suites: $XDG_CACHE_HOME/debvenv at the edge
    mirror: Optional[str] = field(default=None, repr=False)  # may carry a login
    components: Tuple[str, ...] = ()
    arch: Optional[str] = None
    keyrings: Tuple[Path, ...] = ()
    # Where a suite named with its own mirror (noble@URL) finds its distribution's keyring.
    keyring_dir: Path = DEFAULT_KEYRING_DIR
    verify: bool = True
    # --ignore-valid-until: accept an expired Release (snapshot archives), with a warning.
    ignore_valid_until: bool = False
    refresh: bool = False  # ask the mirror even when the cached suite is fresh
    max_age: timedelta = DEFAULT_MAX_AGE
    now: Optional[datetime] = None
    progress: Optional[Progress] = field(default=None, compare=False)
    # dh-python's name list where dh-python is installed (the apt target's stand-in for Contents).
    dh_python_fallback: Path = DH_PYTHON_FALLBACK


@dataclass(frozen=True)
class SuiteTarget:
    """A parsed ``suites[@mirror]`` target."""

    id: str  # as written, a login in its mirror masked: what reports show
    suites: Tuple[str, ...]
    mirror: Optional[str] = field(repr=False)  # as written, login included


def mirror_url_problem(url: str) -> Optional[str]:
    """Why ``url`` cannot be a mirror's base URL, or None when it can.

    One rule for ``SUITE@URL`` and ``--mirror URL``: http, https or file://,
    a URL that parses (``http://[::1`` does not), a host for http(s), no
    control characters or spaces.
    """
    if not url.startswith(_URL_SCHEMES):
        return "must be an http, https or file:// URL"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return "must not contain spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if parts.scheme in ("http", "https") and not parts.hostname:
        return "names no host"
    if parts.scheme == "file" and credentials.has_login(url):
        return "must not carry a login: a file:// mirror is read from this machine"
    return None


def shown_target(name: str) -> str:
    """A target name fit to show: a login in its mirror masked."""
    spec, at, mirror = name.partition("@")
    return f"{spec}@{credentials.mask_url(mirror)}" if at else name


# Names as archives spell them (Debian Policy's suite and codename fields, Ubuntu's pockets).
# They become URL paths and cache names, so nothing else gets through: no "..", no "/".
_SUITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,63}")
_COMPONENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}(/[A-Za-z0-9][A-Za-z0-9._+-]{0,63})?")
_ARCH_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
# apt's longest real overlays are a release with its updates, security, backports and
# proposed pockets; each suite is a fetch, so a target of thousands is refused, not tried.
MAX_OVERLAY = 16


def parse_target(name: str) -> SuiteTarget:
    spec, at, mirror = name.partition("@")
    shown = shown_target(name)
    problem = mirror_url_problem(mirror) if at else None
    if problem is not None:
        raise InputError(f"target {shown!r}: the mirror after '@' {problem}")
    suites = tuple(spec.split("+"))
    for suite in suites:
        if not _SUITE_NAME.fullmatch(suite):
            raise InputError(f"target {shown[:200]!r}: {suite[:100]!r} is not a suite name")
    if len(suites) > MAX_OVERLAY:
        raise InputError(f"target {shown[:200]!r}: overlays {len(suites)} suites; at most {MAX_OVERLAY}")
    if len(set(suites)) != len(suites):
        repeated = next(suite for suite in suites if suites.count(suite) > 1)
        raise InputError(f"target {shown[:200]!r}: names {repeated!r} more than once")
    return SuiteTarget(id=shown, suites=suites, mirror=mirror.rstrip("/") or None if at else None)


def machine_arch() -> str:
    try:
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        raise EnvironmentFailure(f"cannot ask dpkg for the architecture: {error}; give --arch") from error


def suite_source(suite: str, mirror: Optional[str], options: TargetOptions) -> SuiteSource:
    """Where and how to fetch ``suite``: the target's mirror, the options, then apt sources."""
    entries = aptsources.read_sources(options.apt_etc_dir)
    entry = aptsources.select_source(entries, suite)
    if options.mirror is not None and not mirror:
        problem = mirror_url_problem(options.mirror)
        if problem is not None:
            raise InputError(f"--mirror {credentials.mask_url(options.mirror)!r}: {problem}")
    uri = mirror or options.mirror or (entry.uri if entry else None)
    if uri is None:
        raise InputError(
            f"target {suite!r}: no apt source on this machine serves it; "
            f"give --mirror URL or write it as {suite}@URL"
        )
    for component in options.components:
        if not _COMPONENT_NAME.fullmatch(component):
            raise InputError(f"--components: {component[:100]!r} is not a component name")
    if options.arch is not None and not _ARCH_NAME.fullmatch(options.arch):
        raise InputError(f"--arch {options.arch[:100]!r}: not a Debian architecture name")
    components = options.components or (_entry_components(entries, entry) if entry else ("main",))
    # The entry's own options apply only where the suite is fetched from the entry's URI.
    same_entry = entry if entry is not None and entry.uri.rstrip("/") == uri.rstrip("/") else None
    settings = aptconf.read_settings(options.apt_etc_dir)
    logins = _logins(uri, same_entry, settings, options)
    if options.keyrings:
        keys = aptsources.SigningKeys(keyrings=options.keyrings)
    elif entry is not None:
        keys = aptsources.signing_keys(entry, options.apt_etc_dir)
    else:
        name = _KEYRINGS.get(aptsources.suite_distribution(suite) or "")
        keyring = options.keyring_dir / name if name else None
        if keyring is None or not keyring.exists():
            # Not refused here: whether the suite exists at all is the more useful first answer,
            # and verifying with no key fails with a message asking for --keyring.
            keys = aptsources.SigningKeys(keyrings=())
        else:
            keys = aptsources.SigningKeys(keyrings=(keyring,))
    return SuiteSource(
        suite=suite,
        mirror=(logins.mirror if logins is not None else uri).rstrip("/"),
        components=tuple(components),
        arch=options.arch or machine_arch(),
        keyrings=keys.keyrings,
        inline_keys=keys.inline_keys,
        fingerprints=keys.fingerprints,
        verify=options.verify,
        valid_until_waiver=_valid_until_waiver(same_entry, settings, options),
        check_date=_check_date(settings),
        logins=logins,
    )


def _logins(
    uri: str,
    entry: Optional[aptsources.SourceEntry],
    settings: Mapping[str, aptconf.Setting],
    options: TargetOptions,
) -> Optional[credentials.Logins]:
    """What a request to ``uri`` may send: its own login, and apt's auth.conf; None for file://."""
    if urllib.parse.urlsplit(uri).scheme.lower() not in ("http", "https"):
        if credentials.has_login(uri):
            # Only an apt sources line gets here (targets and --mirror are refused earlier).
            where = f"{entry.origin}: " if entry is not None else ""
            raise EnvironmentFailure(
                f"{where}{credentials.mask_url(uri)}: a file:// URL must not carry a login"
            )
        return None
    mirror, login = credentials.split_login(uri)
    return credentials.Logins(
        mirror=mirror.rstrip("/"), url_login=login, auth=aptauth.read_auth(options.apt_etc_dir, settings)
    )


def _valid_until_waiver(
    entry: Optional[aptsources.SourceEntry],
    settings: Mapping[str, aptconf.Setting],
    options: TargetOptions,
) -> Optional[str]:
    """Why an expired Release of this suite is accepted, as apt would; None: it is refused.

    apt's order: the source's own option, then Acquire::Check-Valid-Until.
    --ignore-valid-until stands in for both where no source names the suite.
    """
    if options.ignore_valid_until:
        return "of --ignore-valid-until"
    if entry is not None and entry.check_valid_until is not None:
        return None if entry.check_valid_until else f"its apt source {entry.origin} sets check-valid-until=no"
    setting = aptconf.flag(settings, aptconf.CHECK_VALID_UNTIL)
    if setting is not None and not setting[0]:
        return f'Acquire::Check-Valid-Until is "{setting[1].value}" in {setting[1].where()}'
    return None


def _check_date(settings: Mapping[str, aptconf.Setting]) -> bool:
    """apt's Acquire::Check-Date: False accepts a Release dated in the future (a clock known wrong)."""
    setting = aptconf.flag(settings, aptconf.CHECK_DATE)
    return setting is None or setting[0]


def _entry_components(
    entries: Sequence[aptsources.SourceEntry], entry: aptsources.SourceEntry
) -> Tuple[str, ...]:
    """Every component apt fetches for ``entry``'s URI and suite.

    Ubuntu's one-line sources.list names them on several lines
    (``jammy main restricted``, then ``jammy universe``): apt reads them all.
    """
    same = [e for e in entries if e.type == "deb" and e.uri == entry.uri and e.suite == entry.suite]
    return tuple(dict.fromkeys(component for e in same for component in e.components))


def _now(options: TargetOptions) -> datetime:
    return options.now or datetime.now(timezone.utc)


def age_text(age: timedelta) -> str:
    """How old something is, in the unit a person would use: "40 minutes", "5 hours", "3 days"."""
    seconds = max(0, int(age.total_seconds()))
    if seconds < 3600:
        return _count(seconds // 60, "minute")
    if seconds < 2 * 86400:
        return _count(seconds // 3600, "hour")
    return _count(seconds // 86400, "day")


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def obtain_suite(source: SuiteSource, options: TargetOptions, *, refresh: bool) -> FetchedSuite:
    """The suite's verified index files: from the cache when fresh enough, else from the mirror."""
    cache_dir = _cache_dir(options)
    now = _now(options)
    if not refresh:
        cached = cached_suite(source, cache_dir, now=now)
        if cached is not None and now - cached.fetched_at < options.max_age:
            # Fresh enough by choice: the mirror was not asked, so it was not unreachable.
            return dataclasses.replace(cached, offline=False)
    return fetch_suite(source, _fetch_cache_dir(options), now=now, progress=options.progress)


_PRIVATE_CACHE: List[Path] = []


def _fetch_cache_dir(options: TargetOptions) -> Path:
    """Where fetches write: the cache, or, when this user may not write it (root's cache read
    by a user), a private directory removed at exit: the answer is given, nothing is saved."""
    cache_dir = _cache_dir(options)
    if cachefs.writable(cache_dir):
        return cache_dir
    if not _PRIVATE_CACHE:
        private = Path(tempfile.mkdtemp(prefix="debvenv-cache-"))
        atexit.register(shutil.rmtree, private, True)
        _PRIVATE_CACHE.append(private)
    return _PRIVATE_CACHE[0]


def _cache_dir(options: TargetOptions) -> Path:
    if options.cache_dir is None:
        raise EnvironmentFailure("no cache directory for suite indexes")
    return options.cache_dir


def suite_index(fetched: FetchedSuite, options: TargetOptions) -> SuiteIndex:
    """The parsed index of a fetched suite, built once per set of index files and cached.

    Without verified Contents the names come from the stand-ins of
    ``_stand_in_providers``; one warning says which, and why.
    """
    # The suite's name is part of the key: its providers carry it (apt-get install pkg/SUITE),
    # and an alias (stable, bookworm) or a twin pocket can publish the very same files.
    key = hashlib.sha256(f"{fetched.key()}\n{fetched.source.suite}\n{derivation_key()}".encode()).hexdigest()
    cache_dir = _cache_dir(options)
    path = cache_dir / "indexes" / f"{key}.json"
    if cachefs.check_directory(cache_dir, path.parent):
        index = load_cached_index(path, target_id=fetched.source.suite)
        if index is not None:
            return _with_contents_problem(index, fetched)
    # Packages is parsed while Contents is decompressed: zlib and lzma release
    # the GIL, so on two cores this takes a cold build from the sum of the two
    # to about the longer one (scripts/bench measures it).
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(fetched.packages))) as pool:
            parts = [pool.submit(read_packages, f.path, name=f.name, limit=f.expanded_size) for f in fetched.packages]
            distributions = (
                python_distributions(*(f.path for f in fetched.contents), limits=[f.expanded_size for f in fetched.contents])
                if fetched.contents
                else []
            )
            packages = _Components([part.result() for part in parts])
    except (PackagesError, ContentsError):
        # Verified, yet unreadable or a decompression bomb: keep none of it for the next run.
        if cachefs.writable(cache_dir):
            discard_cached_suite(fetched.source, cache_dir)
        raise
    suite = fetched.source.suite
    warnings: List[str] = []
    lasting = True
    if fetched.contents:
        providers = contents_providers(packages, distributions, suite=suite)
    else:
        providers, note, lasting = _stand_in_providers(fetched, packages, options)
        warnings.append(note)
    index = build_index(
        target_id=suite,
        kind="suite",
        arch=fetched.source.arch,
        packages=packages,
        providers=providers,
        warnings=warnings,
        unmapped=unmapped_packages(packages, providers) if base_suite(suite) != suite else None,
    )
    if lasting:
        index = _save_index(index, cache_dir, path)
    return _with_contents_problem(index, fetched)


def _save_index(index: SuiteIndex, cache_dir: Path, path: Path) -> SuiteIndex:
    """Save the parsed index for the next run; when that cannot be, answer anyway, unsaved.

    A cache another user owns (root's, read by a user) is not written; a full
    disk or a read-only file system costs the next run a rebuild, not this answer.
    """
    if not cachefs.writable(cache_dir):
        return index
    try:
        cachefs.make_directory(cache_dir, path.parent)
        save_cached_index(index, path)
        _forget_old_indexes(path)
    except cachefs.UnsafeCacheError:
        raise
    except OSError as exc:
        return dataclasses.replace(
            index,
            warnings=index.warnings
            + (f"could not save the parsed index in {cache_dir} ({exc.strerror or exc}); the next run parses again",),
        )
    return index


# A parse no run has read for this long belongs to index files or code that are gone.
INDEX_KEEP = timedelta(days=14)
_INDEX_NAME = re.compile(r"[0-9a-f]{64}\.json")


def _forget_old_indexes(saved: Path) -> None:
    """Remove parsed indexes not read for INDEX_KEEP: each new archive state or debvenv leaves one."""
    now = datetime.now(timezone.utc).timestamp()
    with os.scandir(saved.parent) as entries:
        for entry in entries:
            if entry.name == saved.name or not _INDEX_NAME.fullmatch(entry.name):
                continue
            info = entry.stat(follow_symlinks=False)
            # Regular files only: the directory was checked, but not what a name in it is.
            if stat.S_ISREG(info.st_mode) and now - max(info.st_mtime, info.st_atime) > INDEX_KEEP.total_seconds():
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _with_contents_problem(index: SuiteIndex, fetched: FetchedSuite) -> SuiteIndex:
    """One warning line: why there is no verified Contents, then where the names come from.

    The why is not part of the cached index (the same files can fail in
    different ways); the where is its first warning, which suite_index
    writes whenever there is no Contents.
    """
    if fetched.contents:
        return index
    why = (
        f"Contents not verified ({fetched.contents_problem})"
        if fetched.contents_problem is not None
        else "the Release lists no Contents"
    )
    where = index.warnings[0] if index.warnings else "names are guessed"
    return dataclasses.replace(index, warnings=(f"{why}; {where}",) + index.warnings[1:])


def _stand_in_providers(
    fetched: FetchedSuite, packages: Mapping[str, PackageRecord], options: TargetOptions
) -> Tuple[Providers, str, bool]:
    """Names for a suite without verified Contents: (providers, the warning, whether to cache them).

    In order: the newest verified Contents in the cache; dh-python's name
    list from the suite's own verified .deb; the ``python3-<name>`` rule. A
    pocket takes its names from its release instead (borrow_mapping), so
    only the rule is used here for it. A result built while something
    transient failed (the .deb could not be fetched) is not cached.
    """
    suite = fetched.source.suite
    older = fetched.verified_contents
    if older is not None:
        return _cached_contents_providers(older, packages, suite)
    if base_suite(suite) != suite:
        note = f"names are taken from {base_suite(suite)}'s Contents where it has the package"
        return guessed_providers(packages, read_dh_python_fallback(), suite=suite), note, True
    try:
        names, version = _dh_python_names(fetched, options)
    except (ArchiveError, DebFileError, PackagesError, ReleaseError) as exc:
        note = f"dh-python's name list could not be read ({exc}): names are guessed (python3-<name>)"
        return guessed_providers(packages, read_dh_python_fallback(), suite=suite), note, False
    if names is None:
        note = "no dh-python package either: names are guessed (python3-<name>)"
        return guessed_providers(packages, read_dh_python_fallback(), suite=suite), note, True
    note = (
        f"names come from the name list of dh-python {version} in this suite "
        f"(verified through its Packages), versions from its Packages; names it lacks are guessed"
    )
    providers = guessed_providers(packages, names, suite=suite, list_mapping=MAPPING_DH_PYTHON)
    return providers, note, True


def _cached_contents_providers(
    older: VerifiedSet, packages: Mapping[str, PackageRecord], suite: str
) -> Tuple[Providers, str, bool]:
    old_packages = _Components([read_packages(f.path, name=f.name, limit=f.expanded_size) for f in older.packages])
    old_providers = contents_providers(
        old_packages, python_distributions(*(f.path for f in older.contents), limits=[f.expanded_size for f in older.contents]),
        suite=suite,
    )
    providers = carry_mapping(packages, old_providers, suite=suite, mapping=MAPPING_CACHED_CONTENTS)
    newer = {name: packages[name] for name in packages if name.startswith("python3-") and name not in old_packages}
    for key, group in guessed_providers(newer, {}, suite=suite).items():
        providers.setdefault(key, group)
    note = (
        f"names come from its Contents of {older.release_date:%Y-%m-%d} "
        f"(verified and cached {older.fetched_at:%Y-%m-%d %H:%M} UTC), versions from today's Packages"
    )
    if newer:
        note += f"; the {len(newer)} python3 packages new since then have guessed names"
    return providers, note, True


def _dh_python_names(fetched: FetchedSuite, options: TargetOptions) -> Tuple[Optional[Dict[str, str]], str]:
    """dh-python's name list from the .deb the suite's verified Packages names, and its version."""
    for index_file in fetched.packages:
        found = find_pool_file(index_file.path, "dh-python", name=index_file.name, limit=index_file.expanded_size)
        if found is None:
            continue
        deb = fetch_pool_file(
            fetched.source,
            _fetch_cache_dir(options),
            found.filename,
            sha256=found.sha256,
            size=found.size,
            progress=options.progress,
        )
        text = read_member(deb, DH_PYTHON_LIST).decode("utf-8", "replace")
        return parse_name_list(text), found.version
    return None, ""


class _Components(Mapping[str, PackageRecord]):
    """Several components' Packages as one mapping, the highest version winning.

    Lazy on purpose: a Packages index builds a record only when it is looked
    up, and a suite index looks up only the packages Contents names.
    """

    def __init__(self, parts: Sequence[Mapping[str, PackageRecord]]) -> None:
        self._parts = parts

    def __getitem__(self, package: str) -> PackageRecord:
        found = [part[package] for part in self._parts if package in part]
        if not found:
            raise KeyError(package)
        if len(found) == 1:
            return found[0]
        return max(found, key=lambda record: debian_version_key(record.version))

    def __iter__(self) -> Iterator[str]:
        seen: Set[str] = set()
        for part in self._parts:
            for package in part:
                if package not in seen:
                    seen.add(package)
                    yield package

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, package: object) -> bool:
        return any(package in part for part in self._parts)


def _load_suite(suite: str, mirror: Optional[str], options: TargetOptions, warnings: List[str]) -> SuiteIndex:
    source = suite_source(suite, mirror, options)
    fetched = obtain_suite(source, options, refresh=options.refresh)
    warnings.extend(fetched.warnings)
    if fetched.offline:
        # The fetch already said why the mirror was not reached and when the copy is from.
        age = age_text(_now(options) - fetched.fetched_at)
        warnings.append(f"{source.describe()}: the cached index in use is {age} old")
    index = suite_index(fetched, options)
    warnings.extend(f"{suite}: {w}" for w in index.warnings)
    return index


def base_suite(suite: str) -> str:
    """The release a pocket belongs to: bookworm-backports -> bookworm, noble-updates -> noble.

    Any other suite is its own release: bookworm-pgdg (a third-party archive)
    does not borrow from Debian's bookworm.
    """
    match = _POCKET.match(suite)
    return match.group(1) if match else suite


def load_suites(target: SuiteTarget, options: TargetOptions, warnings: List[str]) -> Dict[str, SuiteIndex]:
    """Each suite of ``target`` on its own; a pocket mapped through its release and given its Python.

    The release is the target's own when the target names it
    (``bookworm+bookworm-security``), else found by ``_load_base``.
    """
    loaded = {suite: _load_suite(suite, target.mirror, options, warnings) for suite in target.suites}
    indexes = {}
    for suite, index in loaded.items():
        base = base_suite(suite)
        if base != suite:
            # A pocket: its packages' distributions come from the release's Contents.
            base_index = loaded.get(base) or _load_base(base, target.mirror, options, warnings)
            index = borrow_mapping(index, base_index, suite=suite)
            if not index.target.python:
                index = dataclasses.replace(index, target=base_index.target)
        indexes[suite] = index
    return indexes


def load_suite_target(target: SuiteTarget, options: TargetOptions) -> SuiteIndex:
    """The suites of ``target`` seen together, as apt sees an overlay."""
    warnings: List[str] = []
    indexes = list(load_suites(target, options, warnings).values())
    with_python = next((index for index in indexes if index.target.python), None)
    if with_python is None:
        raise EnvironmentFailure(f"{target.id}: no python3 package in the suites: cannot tell its Python")
    providers = merge([{k: list(v) for k, v in index.providers.items()} for index in indexes])
    described = Target(
        id=target.id,
        kind="suite",
        python=with_python.target.python,
        arch=indexes[0].target.arch,
        marker_environment=with_python.target.marker_environment,
    )
    shipping = {provider.package for group in providers.values() for provider in group}
    bare: Dict[str, Tuple[str, str]] = {}
    for index in indexes:
        for package, (version, arch) in index.bare.items():
            # As apt sees the overlay: the highest version of a package no suite maps.
            known = bare.get(package)
            if package in shipping:
                continue
            if known is None or debian_version_key(version) > debian_version_key(known[0]):
                bare[package] = (version, arch)
    return SuiteIndex(target=described, providers=providers, warnings=tuple(warnings), bare=bare)


def _load_base(base: str, mirror: Optional[str], options: TargetOptions, warnings: List[str]) -> SuiteIndex:
    """The release a pocket belongs to: from apt sources, else from the pocket's own mirror."""
    try:
        return _load_suite(base, None, options, warnings)
    except InputError:
        if mirror is None:
            raise
        return _load_suite(base, mirror, options, warnings)


def load_target(name: str, options: TargetOptions) -> SuiteIndex:
    if name == INSTALLED:
        return load_installed(options.python, options.admin_dir, offers=_apt_offers(options))
    if name == APT:
        return load_apt_target(options)
    return load_suite_target(parse_target(name), options)


def load_apt_target(options: TargetOptions) -> SuiteIndex:
    """The ``apt`` target; where apt's lists carry no Contents (no apt-file), the names come from
    the same stand-ins as for a suite whose Contents cannot be verified (``_apt_cached_names``,
    ``_apt_name_list``)."""
    options = dataclasses.replace(options, arch=options.arch or machine_arch())
    return aptlists.load_apt_lists(
        options.apt_lists_dir,
        arch=options.arch or "",
        etc_dir=options.apt_etc_dir,
        cached_names=_apt_cached_names(options) if options.cache_dir is not None else None,
        name_list=_apt_name_list(options),
    )


def _apt_cached_names(options: TargetOptions) -> aptlists.CachedNames:
    """Names for a release of apt's lists from the Contents debvenv verified and cached for it.

    A pocket (bookworm-security) takes its release's, as a suite does. The
    cache is only read: the mirror is not asked, and a cached suite that no
    longer verifies (another keyring) is not used.
    """
    Older = Tuple[Mapping[str, Sequence[Provider]], str, Set[str]]  # providers, the note, their packages
    found: Dict[str, Optional[Older]] = {}

    def older_names(base: str) -> Optional[Older]:
        if base not in found:
            found[base] = None
            try:
                found[base] = _cached_suite_names(base, options)
            except (InputError, EnvironmentFailure):
                pass  # no apt source names it, or the cached copy is unusable: the next stand-in
        return found[base]

    def cached_names(release: str, packages: Mapping[str, PackageRecord]) -> Optional[Tuple[Providers, str]]:
        older = older_names(base_suite(release))
        if older is None:
            return None
        providers_then, note, known = older
        providers = carry_mapping(packages, providers_then, suite=release, mapping=MAPPING_CACHED_CONTENTS)
        newer = {n: packages[n] for n in packages if n.startswith("python3-") and n not in known}
        for key, group in guessed_providers(newer, {}, suite=release).items():
            providers.setdefault(key, group)
        return providers, note

    return cached_names


def _cached_suite_names(
    base: str, options: TargetOptions
) -> Optional[Tuple[Mapping[str, Sequence[Provider]], str, Set[str]]]:
    """The providers of ``base``'s verified Contents in the cache, the note saying so, their packages."""
    fetched = cached_suite(suite_source(base, None, options), _cache_dir(options), now=_now(options))
    if fetched is not None and fetched.contents:
        providers: Mapping[str, Sequence[Provider]] = suite_index(fetched, options).providers  # parsed once
        when, fetched_at = fetched.release.date, fetched.fetched_at
    elif fetched is not None and fetched.verified_contents is not None:
        older = fetched.verified_contents
        old_packages = _Components([read_packages(f.path, name=f.name, limit=f.expanded_size) for f in older.packages])
        distributions = python_distributions(
            *(f.path for f in older.contents), limits=[f.expanded_size for f in older.contents]
        )
        providers = contents_providers(old_packages, distributions, suite=base)
        when, fetched_at = older.release_date, older.fetched_at
    else:
        return None
    note = (
        f"names come from {base}'s Contents of {when:%Y-%m-%d} (verified and cached by debvenv "
        f"{fetched_at:%Y-%m-%d %H:%M} UTC), versions from apt's lists"
    )
    return providers, note, {p.package for group in providers.values() for p in group}


def _apt_name_list(options: TargetOptions) -> aptlists.NameList:
    """dh-python's name list: this machine's where dh-python is installed, else the one in the
    dh-python .deb that apt's lists name, fetched from that release's apt source and checked
    against the SHA256 in those lists (which apt verified when it stored them)."""
    def name_list(lists: aptlists.AptLists) -> Optional[Tuple[Dict[str, str], str]]:
        names = read_dh_python_fallback(options.dh_python_fallback)
        if names:
            return names, f"dh-python's name list {options.dh_python_fallback}"
        try:
            found = aptlists.find_pool_file_in_lists(lists, "dh-python")
        except (EnvironmentFailure, PackagesError) as exc:
            return {}, f"dh-python's name list could not be read ({exc})"
        if found is None:
            return None
        listed_in, pool = found
        release = listed_in.release.name if listed_in.release is not None else None
        try:
            if release is None:
                raise ArchiveError(f"{listed_in.path}: no Release beside it to find its apt source")
            source = suite_source(release, None, options)
            deb = fetch_pool_file(
                source, _fetch_cache_dir(options), pool.filename, sha256=pool.sha256, size=pool.size,
                progress=options.progress,
            )  # fmt: skip
            text = read_member(deb, DH_PYTHON_LIST).decode("utf-8", "replace")
        except (InputError, EnvironmentFailure, DebFileError) as exc:
            return {}, f"dh-python {pool.version}'s name list could not be had ({exc})"
        return parse_name_list(text), (
            f"the name list of dh-python {pool.version}, fetched as apt's lists name it (checked against their SHA256)"
        )

    return name_list


def _apt_offers(options: TargetOptions) -> Callable[[], Optional[SuiteIndex]]:
    """What the apt lists offer, read once and only when asked (a missing requirement on
    ``installed``); None when they cannot be read: then the answer only lacks a hint.

    Read without the stand-ins of load_apt_target: a hint must not fetch a .deb.
    """
    loaded: List[Optional[SuiteIndex]] = []

    def offers() -> Optional[SuiteIndex]:
        if not loaded:
            try:
                loaded.append(
                    aptlists.load_apt_lists(
                        options.apt_lists_dir, arch=options.arch or machine_arch(), etc_dir=options.apt_etc_dir
                    )
                )
            except DebvenvError:
                loaded.append(None)
        return loaded[0]

    return offers


def load_targets(
    names: Sequence[str], options: TargetOptions, *, keep_going: bool = False
) -> List[SuiteIndex]:
    """Each named target's index (``installed`` when none is named), duplicates once.

    ``keep_going``: a target that fails for a reason of the environment
    (EnvironmentFailure: an unreachable mirror, an unverifiable Release)
    becomes an empty index whose ``target.error`` says why, so that a matrix
    still answers for the others. Bad input still raises, and so does the
    first failure when no target could be answered at all.
    """
    seen: Dict[str, str] = {}
    indexes = []
    failures: List[EnvironmentFailure] = []
    for name in names or (INSTALLED,):
        shown = shown_target(name)
        if shown in seen:
            if seen[shown] != name:
                # Both would be reported under the one masked id, and one login is wrong.
                raise InputError(f"target {shown!r} is given twice, with different passwords")
            continue
        seen[shown] = name
        try:
            indexes.append(load_target(name, options))
        except EnvironmentFailure as error:
            if not keep_going:
                raise
            failures.append(error)
            indexes.append(_failed_target(shown, str(error)))
    if failures and len(failures) == len(indexes):
        raise failures[0]
    return indexes


def _failed_target(name: str, reason: str) -> SuiteIndex:
    kind = name if name in (INSTALLED, APT) else "suite"
    return SuiteIndex(target=Target(id=name, kind=kind, python="", arch="", error=reason), providers={})
