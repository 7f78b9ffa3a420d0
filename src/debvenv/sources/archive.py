"""Fetch a Debian or Ubuntu suite's index files as apt does: signed, hashed, cached atomically.

What is read from a mirror (paths relative to its base URL)::

    dists/SUITE/InRelease                      clearsigned Release, preferred
    dists/SUITE/Release + Release.gpg          detached signature, when InRelease is 404
    dists/SUITE/COMP/binary-ARCH/Packages.xz   else .gz, else uncompressed, as the Release lists
    dists/SUITE/COMP/Contents-all.gz           Debian: per component, all and ARCH
    dists/SUITE/COMP/Contents-ARCH.gz            (.gz, else .xz, else uncompressed)
    dists/SUITE/Contents-ARCH.gz               Ubuntu: one for all components, no Contents-all
    dists/SUITE/DIR/by-hash/SHA256/HEX         any file of DIR by its SHA256, when the Release
                                                 says ``Acquire-By-Hash: yes`` (else, or on 404,
                                                 the plain path)

A listed variant that the mirror does not have (404) gives way to the next
listed one; Debian lists uncompressed files that it does not serve.

Where none of them can be had and the Release lists ``FILE.diff/Index``
(apt's pdiffs; debvenv.sources.pdiff), an older verified copy of the file
still in the cache is brought up to date with the patches that Index lists,
and kept uncompressed, as the Release's uncompressed ``FILE`` (its size and
SHA256 are checked)::

    dists/SUITE/DIR/FILE.diff/Index            by-hash, else plain; checked against the Release
    dists/SUITE/DIR/FILE.diff/NAME.gz          each patch, by-hash, else plain; checked against the Index

The cache, under the directory the caller passes (``$XDG_CACHE_HOME/debvenv``)::

    files/sha256/HEX           every verified index file, as downloaded (compressed), by its SHA256
    files/lock                 held shared by every running fetch; exclusive for garbage collection
    suites/SLUG/InRelease      the last verified InRelease (or Release + Release.gpg)
    suites/SLUG/state.json     when it was fetched, the hashes of the signed files, the index files
    suites/SLUG/lock           one fetch of a (mirror, suite) at a time

SLUG is the mirror URL and suite made file-name safe, plus a short hash of
both. Downloads go to ``files/sha256/.tmp-*``, are checked against the
Release's size and SHA256, and only then renamed to their hash; the
suite's signed Release and ``state.json`` are replaced only once every index
file is in place, ``state.json`` last (it names the signed files' hashes, so
a reader never mixes an old state with a new InRelease). Files no state
refers to (a failed fetch's, a superseded Release's) and stray temporary
files are deleted whenever a fetch ends with no other fetch running.

Each index file is tried by hash, then by its plain path, in each listed
compression, then by pdiffs, before it fails (the message then says why
pdiffs did not help); a whole download whose size is not the listed
one is "out of sync" (a mirror mid-sync), one that ended before its
Content-Length is "truncated". A bad signature, an expired or future
Release, or a Packages file that cannot be verified raises the error types
of ``debvenv.sources.release``. A Contents file that cannot be verified does
not: the suite is returned without Contents, with ``contents_problem``
saying why and ``verified_contents`` naming the newest set of Packages and
Contents of this suite that did verify, if the cache still holds one. Only an
unreachable mirror (connection refused, timeout, DNS, HTTP errors other than
404) falls back to the cached copy.

``state.json`` also names, so that garbage collection keeps them, that
verified set (``verified_set``) and the pool files fetched for the suite
(``pool``: the dh-python .deb whose name list stands in for Contents).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import http.client
import json
import os
import re
import stat
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import (
    IO,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

from debvenv import __version__
from debvenv.errors import EnvironmentFailure
from debvenv.sources import compression
from debvenv.sources import pdiff
from debvenv.sources import store as cachefs
from debvenv.sources.credentials import Logins, has_login, mask_url
from debvenv.sources.release import (
    FUTURE_MARGIN,
    IndexFileEntry,
    IndexHashError,
    IndexOutOfSyncError,
    Release,
    ReleaseFormatError,
    ReleaseVerificationError,
    check_index_file,
    check_not_in_future,
    check_valid_until,
    parse_release,
    verify_detached,
    verify_inrelease,
)

TIMEOUT = 30.0  # seconds, per connection attempt and per read
# A whole download must also end in time: TIMEOUT, plus its size (at least 1 MiB)
# at this many bytes a second. A server dripping a byte every 10 s never trips
# the per-read timeout; this cuts it off. 32 KiB/s is slower than any mirror in use.
MIN_RATE = 32 << 10
USER_AGENT = f"debvenv/{__version__}"

# InRelease is about 150 KiB for Debian; a response this large is not a Release.
_MAX_RELEASE_BYTES = 32 << 20
# dh-python's .deb is about 120 KiB; a pool file this large is not one debvenv asks for.
MAX_POOL_FILE_BYTES = 64 << 20
_POOL_PATH = re.compile(r"^pool/[A-Za-z0-9][A-Za-z0-9+._~/-]*\.deb$")
_CHUNK = 1 << 20

_PACKAGES_SUFFIXES = (".xz", ".gz", "")
# gzip first: the Contents reader is bounded by decompression, and zlib is the faster one.
_CONTENTS_SUFFIXES = (".gz", ".xz", "")

_INRELEASE = "InRelease"
_RELEASE = "Release"
_RELEASE_GPG = "Release.gpg"
_SIGNED_NAMES = (_INRELEASE, _RELEASE, _RELEASE_GPG)
_STATE = "state.json"
_STATE_SCHEMA = "debvenv.archive-state/1"
_MAX_STATE_BYTES = 16 << 20
_TMP_PREFIX = ".tmp-"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

_BEGIN_SIGNED = "-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_SIGNATURE = "-----BEGIN PGP SIGNATURE-----"

Progress = Callable[[str, int, Optional[int]], None]


class ArchiveError(EnvironmentFailure):
    """A suite could not be fetched: network or HTTP failure, missing file, unusable cache."""


@dataclass(frozen=True)
class SuiteSource:
    """Where and how to fetch one suite."""

    suite: str  # "bookworm", "bookworm-backports", "noble"
    # Base URL: http://, https:// or file:// (the directory holding dists/), never with a
    # login: the login is in ``logins``, so the cache and every message are the same without it.
    mirror: str
    components: Tuple[str, ...]  # ("main",)
    arch: str  # "amd64"
    keyrings: Tuple[Path, ...] = ()
    inline_keys: Tuple[str, ...] = ()
    fingerprints: Tuple[str, ...] = ()
    # False is --no-verify: the signature is not checked, the index hashes still are.
    verify: bool = True
    # Why an expired Valid-Until is accepted (apt's Acquire::Check-Valid-Until "false", a
    # source's check-valid-until=no, --ignore-valid-until); None: it is not.
    valid_until_waiver: Optional[str] = None
    # False: apt's Acquire::Check-Date "false": a Release dated in the future is accepted.
    check_date: bool = True
    # What to send to a mirror that asks for a login (credentials); None: nothing.
    logins: Optional[Logins] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if has_login(self.mirror):
            # urllib would take "user:pw@host" for the host, and the cache would be named after it.
            raise ValueError("SuiteSource.mirror must not carry a login; pass it in logins")

    def url(self, path: str) -> str:
        """The URL of ``path`` under ``dists/SUITE/``."""
        return f"{self.mirror.rstrip('/')}/dists/{self.suite}/{path}"

    def describe(self) -> str:
        """``bookworm from http://MIRROR/debian``, for messages (no credentials)."""
        return f"{self.suite} from {self.public_mirror()}"

    def public_mirror(self) -> str:
        """The mirror URL fit to show: a login written in it as ``user:***@``."""
        login = self.logins.url_login if self.logins is not None else None
        return self.logins.shown() if login is not None else self.mirror


@dataclass(frozen=True)
class IndexFile:
    """One verified index file in the cache."""

    path: Path  # the file in the cache, still compressed as downloaded
    name: str  # its path in the Release: "main/Contents-all.gz"
    sha256: str
    component: Optional[str]  # None for Ubuntu's suite-wide Contents-ARCH
    # What it may inflate to: the size the Release lists for the uncompressed file
    # (a signed gzip can still be a bomb); None when the Release lists none.
    expanded_size: Optional[int] = None


@dataclass(frozen=True)
class VerifiedSet:
    """An older Release's Packages and Contents, both verified when fetched and still cached."""

    release_date: datetime  # the Date of the Release that listed them
    fetched_at: datetime
    packages: Tuple[IndexFile, ...]
    contents: Tuple[IndexFile, ...]


@dataclass(frozen=True)
class FetchedSuite:
    """A suite's verified Release and the index files it vouches for, all in the cache."""

    source: SuiteSource
    release: Release
    packages: Tuple[IndexFile, ...]  # one per component, in the source's order
    contents: Tuple[IndexFile, ...]  # per component Contents-all, Contents-ARCH; or suite-wide
    fetched_at: datetime  # UTC: when the InRelease in use was fetched
    offline: bool  # True: the cached copy, not fetched now (refresh=False or mirror unreachable)
    verified: bool = True  # False: --no-verify, the signature was not checked
    warnings: Tuple[str, ...] = ()  # for the user; the core never prints
    # Why the Release's Contents could not be verified (then ``contents`` is empty).
    contents_problem: Optional[str] = None
    # With a contents_problem: the newest verified Packages and Contents the cache holds.
    verified_contents: Optional[VerifiedSet] = None

    def key(self) -> str:
        """A stable hex digest of every index file's SHA256, the arch and the components."""
        data: Dict[str, object] = {
            "arch": self.source.arch,
            "components": list(self.source.components),
            "packages": [[f.name, f.sha256] for f in self.packages],
            "contents": [[f.name, f.sha256] for f in self.contents],
        }
        if self.contents_problem is not None:
            older = self.verified_contents
            data["verified_contents"] = (
                [[f.name, f.sha256] for f in older.packages + older.contents] if older else None
            )
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- the entry points


def fetch_suite(
    source: SuiteSource,
    cache_dir: Path,
    *,
    now: Optional[datetime] = None,
    progress: Optional[Progress] = None,
    refresh: bool = True,
) -> FetchedSuite:
    """``source``'s verified index files, fetched into ``cache_dir`` or taken from it.

    ``refresh=False`` returns the cached copy when there is one (offline=True)
    and fetches otherwise. An unreachable mirror falls back to the cached copy
    (offline=True, with a warning), or raises ArchiveError when there is none.
    ``progress(name, done_bytes, total_bytes)`` is called while downloading.
    Raises the release module's errors (exit 3) for a bad signature, an
    expired Release, a wrong hash or a truncated file; the cache then keeps
    its previous state, and this attempt's files are deleted as soon as no
    other fetch is running (at once, usually).
    """
    now = _aware(now)
    cache_dir = Path(cache_dir)
    suite_dir = _suite_dir(cache_dir, source)
    _mkdir(cache_dir, suite_dir)
    with _flock(suite_dir / "lock", fcntl.LOCK_EX):
        if not refresh:
            cached = _load_cached(source, cache_dir, suite_dir, now)
            if cached is not None:
                return cached
        try:
            return _fetch(source, cache_dir, suite_dir, now, progress)
        except _Unreachable as exc:
            cached = _load_cached(source, cache_dir, suite_dir, now)
            if cached is None:
                raise ArchiveError(
                    f"cannot fetch {_public(exc.url)}: {exc.reason}; "
                    f"and no cached copy of {source.describe()} in {cache_dir}"
                ) from None
            warning = (
                f"{source.describe()}: mirror unreachable ({exc.reason}); using the copy "
                f"fetched {cached.fetched_at:%Y-%m-%d %H:%M} UTC"
            )
            return replace(cached, warnings=cached.warnings + (warning,))


def cached_suite(
    source: SuiteSource, cache_dir: Path, *, now: Optional[datetime] = None
) -> Optional[FetchedSuite]:
    """What the cache holds for ``source`` (offline=True), without the network; None if nothing.

    The cached signed Release is verified again with ``source``'s keys
    (unless ``verify`` is off), so a changed keyring applies to cached copies
    too. A Release whose Valid-Until has passed is returned with a warning:
    it was valid when fetched, and the caller shows its age.
    """
    now = _aware(now)
    cache_dir = Path(cache_dir)
    suite_dir = _suite_dir(cache_dir, source)
    if not cachefs.check_directory(cache_dir, suite_dir):
        return None
    try:
        if not stat.S_ISREG(os.lstat(suite_dir / _STATE).st_mode):
            return None
    except OSError:
        return None
    try:
        return _load_cached(source, cache_dir, suite_dir, now, consistent=False)
    except _Inconsistent:
        pass
    # A fetch was committing while we read: wait for it, then read again.
    with _flock(suite_dir / "lock", fcntl.LOCK_SH):
        return _load_cached(source, cache_dir, suite_dir, now)


def fetch_pool_file(
    source: SuiteSource,
    cache_dir: Path,
    filename: str,
    *,
    sha256: str,
    size: int,
    progress: Optional[Progress] = None,
) -> Path:
    """A file of the mirror's pool (``pool/main/d/dh-python/dh-python_6.2_all.deb``) in the cache.

    ``sha256`` and ``size`` come from a verified Packages index, so the file
    is as trustworthy as the Release that vouched for that index. It is
    recorded in the suite's state, so garbage collection keeps it while the
    suite is cached. Raises ArchiveError when it cannot be had or is not a
    plain pool path, IndexHashError when it is not the file Packages names.
    """
    if not _POOL_PATH.match(filename) or ".." in filename.split("/") or "//" in filename:
        raise ArchiveError(f"{source.describe()}: {filename!r} is not a pool file name")
    if not _HEX64.match(sha256) or not 0 < size <= MAX_POOL_FILE_BYTES:
        raise ArchiveError(f"{source.describe()}: {filename}: implausible SHA256 or size ({size})")
    cache_dir = Path(cache_dir)
    suite_dir = _suite_dir(cache_dir, source)
    store = _store_dir(cache_dir)
    entry = IndexFileEntry(path=filename, size=size, sha256=sha256)
    url = f"{source.mirror.rstrip('/')}/{urllib.parse.quote(filename)}"
    _mkdir(cache_dir, suite_dir)
    with _flock(suite_dir / "lock", fcntl.LOCK_EX), _store_session(cache_dir):
        if not _in_store(store, entry):
            try:
                _download(url, entry, store, progress, listed_in="Packages", logins=source.logins)
            except _NotFound:
                raise ArchiveError(f"{_public(url)}: not on the mirror") from None
            except _Unreachable as exc:
                raise ArchiveError(f"cannot fetch {_public(exc.url)}: {exc.reason}") from None
        state = _read_state(suite_dir)
        if state is None:
            # The suite itself was never fetched (the apt target's dh-python .deb, named in apt's
            # lists): a state naming only the pool file keeps it from garbage collection. With no
            # signed Release in it, it is no cached suite (_load_cached), and a fetch keeps its pool.
            state = {"schema": _STATE_SCHEMA, "mirror": _public(source.mirror), "suite": source.suite,
                     "signed": {}, "files": {}, "verified_set": None, "contents_problem": None}  # fmt: skip
        pool = state.get("pool") if isinstance(state.get("pool"), dict) else {}
        pool = dict(pool, **{filename: {"sha256": sha256, "size": size}})  # type: ignore[arg-type]
        try:
            _write_state(suite_dir, dict(state, pool=pool))
        except OSError as exc:
            raise ArchiveError(f"cannot write to the cache {suite_dir}: {exc}") from None
    return store / sha256


def discard_cached_suite(source: SuiteSource, cache_dir: Path) -> None:
    """Forget what the cache holds for ``source``: its files go at the next garbage collection.

    For verified files that still cannot be used (one that inflates past what
    the Release lists): answering from them again would only fail again.
    """
    cache_dir = Path(cache_dir)
    suite_dir = _suite_dir(cache_dir, source)
    if not cachefs.check_directory(cache_dir, suite_dir):
        return
    with _flock(suite_dir / "lock", fcntl.LOCK_EX), _store_session(cache_dir):
        for name in (_STATE,) + _SIGNED_NAMES:  # the state first: without it nothing is trusted
            _unlink(suite_dir / name)


# ---------------------------------------------------------------- fetching


def _fetch(
    source: SuiteSource,
    cache_dir: Path,
    suite_dir: Path,
    now: datetime,
    progress: Optional[Progress],
) -> FetchedSuite:
    store = _store_dir(cache_dir)
    with _store_session(cache_dir):
        signed, payload, url = _get_release(source)
        release = parse_release(_decode(payload, url), source=url)
        warnings = _validity_warnings(source, release, now, cached=False)
        if source.check_date:
            check_not_in_future(release, now)
        elif release.date > now + FUTURE_MARGIN:
            warnings.append(
                f"{source.describe()}: the Release is dated {release.date:%Y-%m-%d %H:%M} UTC, "
                f"ahead of this machine's clock; accepted because Acquire::Check-Date is false"
            )
        wanted, select_warnings = _select(source, release)
        warnings.extend(select_warnings)
        # What the last fetches verified: the start of a pdiff chain for a file that cannot be had whole.
        older = _older_copies(_read_state(suite_dir) or {}, store)
        chosen: List[Tuple[IndexFileEntry, Optional[str], str]] = []
        problems: List[str] = []
        for kind, component, candidates in wanted:
            try:
                entry = _obtain(source, release, store, candidates, progress, older=older)
            except IndexHashError as exc:
                # Packages is what every answer stands on; Contents only names, and has stand-ins.
                if kind != "contents":
                    raise
                problems.append(getattr(exc, "summary", None) or str(exc))
                continue
            chosen.append((entry, component, kind))
        problem = "; ".join(problems) if problems else None
        if problem is not None:
            chosen = [c for c in chosen if c[2] != "contents"]
        previous = _commit(source, suite_dir, store, release, signed, chosen, now, url, problem)
    return FetchedSuite(
        source=source,
        release=release,
        packages=_index_files(store, chosen, "packages", release),
        contents=_index_files(store, chosen, "contents", release),
        fetched_at=now,
        offline=False,
        verified=source.verify,
        warnings=tuple(warnings),
        contents_problem=problem,
        verified_contents=previous if problem is not None else None,
    )


def _validity_warnings(source: SuiteSource, release: Release, now: datetime, *, cached: bool) -> List[str]:
    """Warnings for --no-verify and an expired Valid-Until; raises when expiry is not waived."""
    warnings: List[str] = []
    if not source.verify:
        warnings.append(_not_verified_warning(source))
    if release.valid_until is None or now <= release.valid_until:
        return warnings
    if source.valid_until_waiver is not None:
        warnings.append(
            f"{source.describe()}: the Release expired on {release.valid_until:%Y-%m-%d %H:%M} UTC "
            f"(Valid-Until); accepted because {source.valid_until_waiver}"
        )
    elif cached:
        warnings.append(
            f"{source.describe()}: the cached Release expired on "
            f"{release.valid_until:%Y-%m-%d %H:%M} UTC (Valid-Until); refresh it"
        )
    else:
        check_valid_until(release, now)
    return warnings


def _get_release(source: SuiteSource) -> Tuple[Dict[str, bytes], bytes, str]:
    """The signed files as fetched, the Release text they vouch for, and its URL."""
    url = source.url(_INRELEASE)
    try:
        data = _read_small(url, source.logins)
    except _NotFound:
        pass
    else:
        if source.verify:
            payload = verify_inrelease(
                data,
                source.keyrings,
                inline_keys=source.inline_keys,
                fingerprints=source.fingerprints,
                source=_public(url),
            )
        else:
            payload = _unsigned_payload(data, _public(url))
        return {_INRELEASE: data}, payload, _public(url)

    url = source.url(_RELEASE)
    try:
        release = _read_small(url, source.logins)
    except _NotFound:
        raise ArchiveError(
            f"{source.describe()}: neither {_public(source.url(_INRELEASE))} nor {_RELEASE} "
            f"exists (is the suite name right?)"
        ) from None
    signed = {_RELEASE: release}
    try:
        signed[_RELEASE_GPG] = _read_small(source.url(_RELEASE_GPG), source.logins)
    except _NotFound:
        if source.verify:
            raise ReleaseVerificationError(
                f"{_public(url)}: unsigned: there is no InRelease and no Release.gpg"
            ) from None
    if source.verify:
        verify_detached(
            release,
            signed[_RELEASE_GPG],
            source.keyrings,
            inline_keys=source.inline_keys,
            fingerprints=source.fingerprints,
            source=_public(url),
        )
    return signed, release, _public(url)


def _select(
    source: SuiteSource, release: Release
) -> Tuple[List[Tuple[str, Optional[str], List[IndexFileEntry]]], List[str]]:
    """Which index files to use: (kind, component, listed variants in preferred order) each."""
    where = f"{source.describe()} ({release.source})"
    for component in source.components:
        # debian-security lists "updates/main" for the "main" that sources.list names (apt accepts both).
        listed = {c for c in release.components} | {c.rsplit("/", 1)[-1] for c in release.components}
        if release.components and component not in listed:
            raise ArchiveError(
                f"{where}: no component {component!r} "
                f"(available: {' '.join(release.components)})"
            )
    if release.architectures and source.arch not in release.architectures:
        raise ArchiveError(
            f"{where}: no architecture {source.arch!r} "
            f"(available: {' '.join(release.architectures)})"
        )

    wanted: List[Tuple[str, Optional[str], List[IndexFileEntry]]] = []
    warnings: List[str] = []
    for component in source.components:
        base = f"{component}/binary-{source.arch}/Packages"
        candidates = _variants(release, base, _PACKAGES_SUFFIXES)
        if not candidates:
            raise ArchiveError(
                f"{where}: the Release lists no {base} (.xz, .gz or uncompressed) "
                f"for component {component!r} and architecture {source.arch!r}"
            )
        wanted.append(("packages", component, candidates))

    contents: List[Tuple[str, Optional[str], List[IndexFileEntry]]] = []
    without: List[str] = []
    for component in source.components:
        found = False
        for arch in ("all", source.arch):
            candidates = _variants(release, f"{component}/Contents-{arch}", _CONTENTS_SUFFIXES)
            if candidates:
                contents.append(("contents", component, candidates))
                found = True
        if not found:
            without.append(component)
    if not contents:
        # Ubuntu: one Contents-ARCH for the whole suite, and no Contents-all.
        for arch in ("all", source.arch):
            candidates = _variants(release, f"Contents-{arch}", _CONTENTS_SUFFIXES)
            if candidates:
                contents.append(("contents", None, candidates))
    if not contents:
        warnings.append(
            f"{source.describe()}: the Release lists no Contents index for "
            f"{source.arch}; Python distribution names will be guessed from package names"
        )
    elif without and contents[0][1] is not None:
        warnings.append(
            f"{source.describe()}: no Contents index for component(s) {', '.join(without)}; "
            f"their Python distribution names will be guessed from package names"
        )
    return wanted + contents, warnings


def _variants(release: Release, base: str, suffixes: Sequence[str]) -> List[IndexFileEntry]:
    return [release.files[base + s] for s in suffixes if base + s in release.files]


def _obtain(
    source: SuiteSource,
    release: Release,
    store: Path,
    candidates: Sequence[IndexFileEntry],
    progress: Optional[Progress],
    *,
    older: Mapping[str, Sequence[IndexFileEntry]] = {},
) -> IndexFileEntry:
    """The first candidate already in the store, else the first one the mirror serves verified.

    Every listed compression is tried by hash, then by plain path; then
    pdiffs applied to an older verified copy (``older``, by uncompressed
    name), where the Release lists a diff Index. Only when none verifies
    does the file fail, with what each URL gave and why pdiffs did not help.
    """
    for entry in candidates:
        if _in_store(store, entry):
            return entry
    missing: List[str] = []
    failures: List[IndexHashError] = []
    for entry in candidates:
        for url in _urls(source, release, entry):
            try:
                _download(url, entry, store, progress, listed_in=_listed_in(release), logins=source.logins)
                return entry
            except _NotFound:
                missing.append(_public(url))
            except IndexHashError as exc:
                failures.append(exc)
    base = _uncompressed_name(candidates[0].path)
    tried = ""
    if f"{base}{_DIFF_INDEX}" in release.files:
        try:
            return _patched(source, release, store, base, older.get(base, ()), progress)
        except _PdiffFailed as exc:
            tried = f"; pdiffs tried: {exc}"
    names = ", ".join(c.path for c in candidates)
    if not failures:
        raise ArchiveError(
            f"{source.describe()}: {names} listed in {release.source} but not on the mirror "
            f"(tried {', '.join(missing)}){tried}"
        )
    text = "; ".join(str(f) for f in failures)
    if missing:
        text += f" (not found: {', '.join(missing)})"
    text += tried
    # Out of sync everywhere is the everyday mirror mid-sync; anything else may be worse.
    kind = IndexOutOfSyncError if all(isinstance(f, IndexOutOfSyncError) for f in failures) else IndexHashError
    error = kind(text)
    # One line for a warning: the file, what went wrong, and whether by-hash was there at all.
    reasons = "; ".join(dict.fromkeys(getattr(f, "reason", None) or _after_url(str(f)) for f in failures))
    by_hash_missing = any("/by-hash/" in url for url in missing)
    error.summary = (
        f"{candidates[0].path}: {reasons}" + (" (by-hash: not found)" if by_hash_missing else "") + tried
    )
    raise error


# ---------------------------------------------------------------- pdiffs


_DIFF_INDEX = ".diff/Index"
_COMPRESSED = (".gz", ".xz", ".bz2", ".lzma", ".zst")


class _PdiffFailed(Exception):
    """Why pdiffs gave no verified file; said after the whole file's own failure."""


def _uncompressed_name(name: str) -> str:
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _older_copies(state: Mapping[str, object], store: Path) -> Dict[str, List[IndexFileEntry]]:
    """The verified index files a state names that the store still holds, by uncompressed name."""
    rows: List[Tuple[object, object]] = []
    files = state.get("files")
    if isinstance(files, dict):
        rows.extend(files.items())
    verified_set = state.get("verified_set")
    if isinstance(verified_set, dict) and isinstance(verified_set.get("files"), list):
        rows.extend((row.get("name"), row) for row in verified_set["files"] if isinstance(row, dict))
    found: Dict[str, List[IndexFileEntry]] = {}
    for name, info in rows:
        if not isinstance(name, str) or not isinstance(info, dict):
            continue
        sha, size = info.get("sha256"), info.get("size")
        if not isinstance(sha, str) or not _HEX64.match(sha) or type(size) is not int or size < 0:
            continue
        entry = IndexFileEntry(path=name, size=size, sha256=sha)
        same = found.setdefault(_uncompressed_name(name), [])
        if entry not in same and _in_store(store, entry):
            same.append(entry)
    return found


def _patched(
    source: SuiteSource,
    release: Release,
    store: Path,
    base: str,
    older: Sequence[IndexFileEntry],
    progress: Optional[Progress],
) -> IndexFileEntry:
    """``base`` uncompressed, made from an older verified copy by the Release's pdiffs, in the store.

    Every byte used is verified first: the diff Index against the Release,
    each patch as served against the Index's SHA256-Download and inflated
    against its SHA256-Patches, each state reached against the Index's
    History, and the result against the Release's uncompressed ``base``.
    Raises _PdiffFailed saying why not.
    """
    target = release.files.get(base)
    if target is None:
        # The cache reads back what the Release lists; a file it does not list could not be found again.
        raise _PdiffFailed(f"the Release lists no uncompressed {base} to check the result against")
    if not older:
        raise _PdiffFailed("no older verified copy of it in the cache")
    listed = release.files[f"{base}{_DIFF_INDEX}"]
    if listed.size > pdiff.MAX_INDEX_BYTES:
        raise _PdiffFailed(f"{listed.path} is listed at {listed.size} bytes, more than a diff Index is")
    index_path = _fetch_one(source, release, store, listed, progress)
    try:
        text = cachefs.read_file(index_path, pdiff.MAX_INDEX_BYTES).decode("utf-8")
        index = pdiff.parse_diff_index(text, source=listed.path)
    except (OSError, cachefs.UnsafeCacheError, UnicodeDecodeError, pdiff.PdiffError) as exc:
        raise _PdiffFailed(str(exc)) from None
    if (index.current.sha256, index.current.size) != (target.sha256, target.size):
        raise _PdiffFailed(f"{listed.path}: its SHA256-Current is not the {base} the Release lists")

    start, state = _in_history(store, older, index)
    try:
        chain = index.chain(state.sha256)
    except pdiff.PdiffError as exc:
        raise _PdiffFailed(f"{listed.path}: {exc}") from None
    # apt's rule too: patches adding up to more than the file are no saving.
    total = sum(step.patch.size for step in chain)
    if total > target.size:
        raise _PdiffFailed(f"{len(chain)} patches of {total} bytes, more than the {target.size} of the file")

    directory = f"{base}.diff"
    current, size = store / start.sha256, state.size
    made: List[Path] = []
    try:
        if not chain:
            # The cached copy inflates to today's file: no patch, only the inflating.
            same = pdiff.Patch(name="(none)", patch=index.current, download=index.current, result=index.current)
            made.append(_apply_patch(store, current, size, (), same, base))
            current = made[-1]
        for step in chain:
            if max(step.patch.size, step.download.size) > pdiff.MAX_PATCH_BYTES:
                raise _PdiffFailed(f"patch {step.name} is {step.patch.size} bytes, more than debvenv applies")
            served = IndexFileEntry(
                path=f"{directory}/{step.name}.gz", size=step.download.size, sha256=step.download.sha256
            )
            script = _patch_text(store, _fetch_one(source, release, store, served, progress), step)
            try:
                hunks = pdiff.parse_ed(script, source=served.path)
            except pdiff.PdiffError as exc:
                raise _PdiffFailed(str(exc)) from None
            current = _apply_patch(store, current, size, hunks, step, served.path)
            for path in made:  # the state before: at most two on disk at a time
                _unlink(path)
            made = [current]
            size = step.result.size
        # The last state reached is Current, which is the Release's own: checked once more, all the same.
        check_index_file(target, current, source=f"{base} (patched)")
        os.chmod(current, 0o644)
        os.replace(current, store / target.sha256)
        made.remove(current)
    except IndexHashError as exc:
        raise _PdiffFailed(str(exc)) from None
    except OSError as exc:
        raise ArchiveError(f"cannot write to the cache {store}: {exc}") from None
    finally:
        for path in made:
            _unlink(path)
    return target


def _fetch_one(
    source: SuiteSource, release: Release, store: Path, entry: IndexFileEntry, progress: Optional[Progress]
) -> Path:
    """``entry`` verified in the store, by hash, then by its plain path; _PdiffFailed if neither."""
    if _in_store(store, entry):
        return store / entry.sha256
    problems: List[str] = []
    for url in _urls(source, release, entry):
        try:
            _download(url, entry, store, progress, listed_in=_listed_in(release))
            return store / entry.sha256
        except _NotFound:
            problems.append(f"{_public(url)}: not found")
        except IndexHashError as exc:
            problems.append(str(exc))
    raise _PdiffFailed("; ".join(problems))


def _uncompressed_sha256(path: Path, index: pdiff.DiffIndex) -> Optional[str]:
    """The SHA256 of ``path`` inflated, or None when it inflates past every state the index lists."""
    limit = max(index.history_sizes() + (index.current.size,))
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in compression.blocks(stream.read, limit=limit, read_size=_CHUNK, block=_CHUNK):
                digest.update(block)
    except (compression.TooLarge, compression.Corrupt, OSError):
        return None
    return digest.hexdigest()


def _in_history(
    store: Path, older: Sequence[IndexFileEntry], index: pdiff.DiffIndex
) -> Tuple[IndexFileEntry, pdiff.FileHash]:
    """The first older copy that, inflated, is a state the index lists; and that state."""
    known = {state.sha256: state for _, state in index.history}
    known[index.current.sha256] = index.current
    for entry in older:
        sha = _uncompressed_sha256(store / entry.sha256, index)
        if sha is not None and sha in known:
            return entry, known[sha]
    raise _PdiffFailed("the cached copy is not in its history (older than the patches kept)")


def _patch_text(store: Path, path: Path, step: pdiff.Patch) -> bytes:
    """A downloaded patch inflated, checked against the diff Index's SHA256-Patches."""
    chunks: List[bytes] = []
    try:
        with open(path, "rb") as stream:
            # One byte past the listed size is enough to call it wrong.
            for block in compression.blocks(stream.read, limit=step.patch.size + 1, read_size=_CHUNK, block=_CHUNK):
                chunks.append(block)
    except compression.TooLarge:
        raise _PdiffFailed(f"patch {step.name}: inflates past the {step.patch.size} bytes its Index lists") from None
    except compression.Corrupt as exc:
        raise _PdiffFailed(f"patch {step.name}: {exc}") from None
    except OSError as exc:
        raise ArchiveError(f"cannot read the cache {path}: {exc}") from None
    data = b"".join(chunks)
    if len(data) != step.patch.size or hashlib.sha256(data).hexdigest() != step.patch.sha256:
        raise _PdiffFailed(f"patch {step.name}: inflated, it is not the patch its Index lists (SHA256-Patches)")
    return data


def _apply_patch(
    store: Path, old: Path, old_size: int, hunks: Tuple[pdiff.Hunk, ...], step: pdiff.Patch, where: str
) -> Path:
    """A temporary file in the store: ``old`` (``old_size`` bytes inflated) with ``hunks`` applied,
    checked against ``step.result``."""
    fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=str(store))
    tmp = Path(name)
    digest = hashlib.sha256()
    written = 0

    def write(data: bytes) -> None:
        nonlocal written
        written += len(data)
        if written > step.result.size:
            raise _PdiffFailed(f"patch {step.name}: the result grows past the {step.result.size} bytes listed")
        digest.update(data)
        out.write(data)

    try:
        with os.fdopen(fd, "wb") as out, open(old, "rb") as stream:
            blocks = compression.blocks(stream.read, limit=old_size, read_size=_CHUNK, block=_CHUNK)
            try:
                pdiff.apply_ed(hunks, blocks, write, source=where)
            except pdiff.PdiffError as exc:
                raise _PdiffFailed(str(exc)) from None
            except (compression.TooLarge, compression.Corrupt) as exc:
                raise _PdiffFailed(f"{old}: {exc}") from None
            out.flush()
            os.fsync(out.fileno())
        if written != step.result.size or digest.hexdigest() != step.result.sha256:
            raise _PdiffFailed(
                f"patch {step.name}: the result is not the state its Index lists "
                f"({written} bytes, {step.result.size} listed)"
            )
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _after_url(message: str) -> str:
    """A message of check_index_file without the URL it starts with."""
    head, sep, rest = message.partition(": ")
    return rest if sep and "://" in head else message


def _urls(source: SuiteSource, release: Release, entry: IndexFileEntry) -> List[str]:
    urls = []
    if release.acquire_by_hash:
        # A mirror syncing while we fetch may already hold newer files under the
        # plain names; by hash, we get exactly the bytes the Release describes.
        directory = entry.path.rpartition("/")[0]
        prefix = f"{directory}/" if directory else ""
        urls.append(source.url(f"{prefix}by-hash/SHA256/{entry.sha256}"))
    urls.append(source.url(entry.path))
    return urls


def _listed_in(release: Release) -> str:
    return _INRELEASE if release.source.endswith(_INRELEASE) else _RELEASE


def _download(
    url: str,
    entry: IndexFileEntry,
    store: Path,
    progress: Optional[Progress],
    *,
    listed_in: str = _RELEASE,
    logins: Optional[Logins] = None,
) -> None:
    """Fetch ``url`` into the store as ``entry.sha256``, or leave nothing behind."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=str(store))
    except OSError as exc:
        raise ArchiveError(f"cannot write to the cache {store}: {exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            with _open(url, logins) as stream:
                served = _served_size(stream)
                received = _copy(stream, out, url, entry, progress)
            out.flush()
            os.fsync(out.fileno())
        _check_download(entry, tmp, received, served, _public(url), listed_in)
        os.chmod(tmp, 0o644)
        os.replace(tmp, store / entry.sha256)
    except OSError as exc:
        _unlink(tmp)
        raise ArchiveError(f"cannot write to the cache {store}: {exc}") from None
    except BaseException:
        _unlink(tmp)
        raise


def _served_size(stream: IO[bytes]) -> Optional[int]:
    """What the server says it is sending: Content-Length, or a local file's size."""
    headers = getattr(stream, "headers", None)
    if headers is not None:
        length = headers.get("Content-Length")
        if length is not None and length.strip().isdigit():
            return int(length)
        return None
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        return None


def _check_download(
    entry: IndexFileEntry,
    path: Path,
    received: int,
    served: Optional[int],
    where: str,
    listed_in: str,
) -> None:
    """Say which way a download is wrong: cut short in transit, or whole but another file."""
    if received <= entry.size and served is not None and received < served:
        raise IndexHashError(
            f"{where}: truncated: the download ended after {received} of {served} bytes "
            f"({entry.size} listed for {entry.path})"
        )
    if received != entry.size:
        got = f"{served if served is not None and served > entry.size else received}"
        if received > entry.size and (served is None or served <= entry.size):
            got = f"more than {entry.size}"
        error = IndexOutOfSyncError(
            f"{where}: out of sync with {listed_in} (served {got} bytes, {listed_in} lists "
            f"{entry.size} for {entry.path}): the mirror may be mid-sync"
        )
        error.reason = (
            f"out of sync with {listed_in} (served {got} bytes, {listed_in} lists {entry.size}): "
            f"the mirror may be mid-sync"
        )
        raise error
    check_index_file(entry, path, source=where)


def _copy(
    stream: IO[bytes],
    out: IO[bytes],
    url: str,
    entry: IndexFileEntry,
    progress: Optional[Progress],
) -> int:
    """Copy at most the listed size plus one byte; the number of bytes copied."""
    done = 0
    deadline = _Deadline(entry.size)
    if progress is not None:
        progress(entry.path, 0, entry.size)
    while True:
        # One byte past the listed size is enough to call it wrong; a hostile or
        # broken server cannot make us fill the disk.
        chunk = _read(stream, min(_CHUNK, entry.size + 1 - done), url, deadline, done)
        if not chunk:
            break
        out.write(chunk)
        done += len(chunk)
        if progress is not None:
            progress(entry.path, done, entry.size)
        if done > entry.size:
            break
    return done


def _commit(
    source: SuiteSource,
    suite_dir: Path,
    store: Path,
    release: Release,
    signed: Mapping[str, bytes],
    chosen: Sequence[Tuple[IndexFileEntry, Optional[str], str]],
    now: datetime,
    url: str,
    contents_problem: Optional[str],
) -> Optional[VerifiedSet]:
    """Write the new state; with a contents_problem, the verified set it carries forward."""
    old_state = _read_state(suite_dir) or {}
    files: Dict[str, Dict[str, object]] = {}
    # Keep what earlier fetches (other components or arches) got from this same Release.
    old = old_state.get("files")
    for name, info in (old if isinstance(old, dict) else {}).items():
        entry = release.files.get(name)
        if isinstance(info, dict) and entry is not None and info.get("sha256") == entry.sha256:
            if _in_store(store, entry):
                files[name] = {"sha256": entry.sha256, "size": entry.size}
    for entry, _component, _kind in chosen:
        files[entry.path] = {"sha256": entry.sha256, "size": entry.size}
    if contents_problem is None:
        verified_set: Optional[Dict[str, object]] = _set_document(release, now, chosen)
    else:
        verified_set = old_state.get("verified_set")  # type: ignore[assignment]
        if _verified_set(verified_set, store) is None:
            verified_set = None
    pool = old_state.get("pool") if isinstance(old_state.get("pool"), dict) else {}
    state: Dict[str, object] = {
        "schema": _STATE_SCHEMA,
        "mirror": _public(source.mirror),
        "suite": source.suite,
        "url": url,
        "fetched_at": now.isoformat(),
        "verified": source.verify,
        "signed": {name: hashlib.sha256(data).hexdigest() for name, data in signed.items()},
        "files": files,
        "contents_problem": contents_problem,
        "verified_set": verified_set,
        "pool": pool,
    }
    try:
        for name, data in signed.items():
            _atomic_write(suite_dir / name, data)
        for name in _SIGNED_NAMES:
            if name not in signed:
                _unlink(suite_dir / name)
        _write_state(suite_dir, state)
    except OSError as exc:
        raise ArchiveError(f"cannot write to the cache {suite_dir}: {exc}") from None
    return _verified_set(verified_set, store) if contents_problem is not None else None


def _write_state(suite_dir: Path, state: Mapping[str, object]) -> None:
    text = json.dumps(state, indent=1, sort_keys=True) + "\n"
    _atomic_write(suite_dir / _STATE, text.encode("utf-8"))


def _set_document(
    release: Release, now: datetime, chosen: Sequence[Tuple[IndexFileEntry, Optional[str], str]]
) -> Dict[str, object]:
    return {
        "release_date": release.date.isoformat(),
        "fetched_at": now.isoformat(),
        "files": [
            {"name": e.path, "sha256": e.sha256, "size": e.size, "component": c, "kind": k,
             "expanded_size": _expanded_size(release, e)}  # fmt: skip
            for e, c, k in chosen
        ],
    }


def _verified_set(document: object, store: Path) -> Optional[VerifiedSet]:
    """The VerifiedSet a state names, or None when it names none or the store lost a file."""
    if not isinstance(document, dict):
        return None
    try:
        rows = document["files"]
        release_date = _utc(document["release_date"])
        fetched_at = _utc(document["fetched_at"])
        files: List[Tuple[str, IndexFile]] = []
        for row in rows:
            entry = IndexFileEntry(path=str(row["name"]), size=int(row["size"]), sha256=str(row["sha256"]))
            component = row["component"]
            if not _HEX64.match(entry.sha256) or not isinstance(component, (str, type(None))):
                return None
            if not _in_store(store, entry):
                return None
            expanded = row.get("expanded_size")
            if expanded is not None and (type(expanded) is not int or expanded < 0):
                return None
            index_file = IndexFile(
                path=store / entry.sha256, name=entry.path, sha256=entry.sha256, component=component,
                expanded_size=expanded,
            )  # fmt: skip
            files.append((str(row["kind"]), index_file))
    except (KeyError, TypeError, ValueError):
        return None
    packages = tuple(f for kind, f in files if kind == "packages")
    contents = tuple(f for kind, f in files if kind == "contents")
    if not packages or not contents:
        return None
    return VerifiedSet(release_date=release_date, fetched_at=fetched_at, packages=packages, contents=contents)


def _utc(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment.astimezone(timezone.utc)


def _index_files(
    store: Path, chosen: Sequence[Tuple[IndexFileEntry, Optional[str], str]], kind: str, release: Release
) -> Tuple[IndexFile, ...]:
    return tuple(
        IndexFile(path=store / e.sha256, name=e.path, sha256=e.sha256, component=c,
                  expanded_size=_expanded_size(release, e))  # fmt: skip
        for e, c, k in chosen
        if k == kind
    )


def _expanded_size(release: Release, entry: IndexFileEntry) -> Optional[int]:
    """The listed size of ``entry``'s uncompressed file (Debian and Ubuntu list it, unserved)."""
    for suffix in (".gz", ".xz", ".bz2", ".lzma", ".zst"):
        if entry.path.endswith(suffix):
            plain = release.files.get(entry.path[: -len(suffix)])
            return plain.size if plain is not None else None
    return entry.size


def _not_verified_warning(source: SuiteSource) -> str:
    return (
        f"{source.describe()}: signature NOT verified (--no-verify): anyone between you "
        f"and the mirror could have changed these indexes"
    )


# ---------------------------------------------------------------- reading the cache


class _Inconsistent(Exception):
    """state.json and the signed Release beside it are from different fetches."""


def _load_cached(
    source: SuiteSource,
    cache_dir: Path,
    suite_dir: Path,
    now: datetime,
    *,
    consistent: bool = True,
) -> Optional[FetchedSuite]:
    """The cached copy, or None when there is none or it lacks a file ``source`` needs.

    ``consistent``: the caller holds the suite lock, so a state that does not
    match its signed files is a leftover of an interrupted commit (None), not
    a commit in progress (_Inconsistent).
    """
    state = _read_state(suite_dir)
    if state is None:
        return None
    try:
        hashes = state["signed"]
        fetched_at = datetime.fromisoformat(state["fetched_at"]).astimezone(timezone.utc)
        signed = {name: cachefs.read_file(suite_dir / name, _MAX_RELEASE_BYTES) for name in hashes}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    except (OSError, cachefs.UnsafeCacheError):
        if not consistent:
            raise _Inconsistent() from None
        return None
    if any(hashlib.sha256(data).hexdigest() != hashes[name] for name, data in signed.items()):
        if not consistent:
            raise _Inconsistent()
        return None

    label = str(suite_dir / (_INRELEASE if _INRELEASE in signed else _RELEASE))
    if _INRELEASE in signed:
        if source.verify:
            payload = verify_inrelease(
                signed[_INRELEASE],
                source.keyrings,
                inline_keys=source.inline_keys,
                fingerprints=source.fingerprints,
                source=label,
            )
        else:
            payload = _unsigned_payload(signed[_INRELEASE], label)
    elif _RELEASE in signed:
        payload = signed[_RELEASE]
        if source.verify:
            if _RELEASE_GPG not in signed:
                raise ReleaseVerificationError(
                    f"{label}: fetched with --no-verify and unsigned; fetch it again to verify"
                )
            verify_detached(
                payload,
                signed[_RELEASE_GPG],
                source.keyrings,
                inline_keys=source.inline_keys,
                fingerprints=source.fingerprints,
                source=label,
            )
    else:
        return None
    release = parse_release(_decode(payload, label), source=label)

    warnings = _validity_warnings(source, release, now, cached=True)
    try:
        wanted, select_warnings = _select(source, release)
    except ArchiveError:
        return None  # not what this cache holds; a fetch will say what is wrong
    store = _store_dir(cache_dir)
    problem = state.get("contents_problem")
    if not isinstance(problem, str):
        problem = None
    chosen: List[Tuple[IndexFileEntry, Optional[str], str]] = []
    for kind, component, candidates in wanted:
        present = [e for e in candidates if _in_store(store, e)]
        if present and not (kind == "contents" and problem is not None):
            chosen.append((present[0], component, kind))
        elif not (kind == "contents" and problem is not None):
            return None
    return FetchedSuite(
        source=source,
        release=release,
        packages=_index_files(store, chosen, "packages", release),
        contents=_index_files(store, chosen, "contents", release),
        fetched_at=fetched_at,
        offline=True,
        verified=source.verify,
        warnings=tuple(warnings + select_warnings),
        contents_problem=problem,
        verified_contents=_verified_set(state.get("verified_set"), store) if problem else None,
    )


def _read_state(suite_dir: Path) -> Optional[Dict[str, object]]:
    try:
        state = json.loads(cachefs.read_file(suite_dir / _STATE, _MAX_STATE_BYTES).decode("utf-8"))
    # A state that is a link or a FIFO is no state: it is never read, and the next commit replaces it.
    except (OSError, ValueError, RecursionError, cachefs.UnsafeCacheError):
        return None
    if not isinstance(state, dict) or state.get("schema") != _STATE_SCHEMA:
        return None
    return state


def _in_store(store: Path, entry: IndexFileEntry) -> bool:
    # Only verified files are ever renamed to their hash, and only debvenv's user (or root)
    # can write the store (cachefs), so a regular file of the listed size is check enough.
    try:
        status = os.lstat(store / entry.sha256)
    except OSError:
        return False
    return stat.S_ISREG(status.st_mode) and status.st_size == entry.size


# ---------------------------------------------------------------- the cache's files and locks


def _store_dir(cache_dir: Path) -> Path:
    return cache_dir / "files" / "sha256"


def _suite_dir(cache_dir: Path, source: SuiteSource) -> Path:
    # source.mirror has no login: two passwords for one mirror share its cache, as the
    # signature, not the login, is what vouches for what is cached.
    mirror = source.mirror.rstrip("/")
    readable = mirror.split("://", 1)[-1] + "_" + source.suite
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", readable).strip("_.")[:100]
    # The readable part can collide (http vs https, "a/b" vs "a_b"); the hash cannot.
    digest = hashlib.sha256(f"{source.mirror.rstrip('/')}\n{source.suite}".encode()).hexdigest()
    return cache_dir / "suites" / f"{readable}-{digest[:12]}"


@contextlib.contextmanager
def _flock(path: Path, operation: int) -> Iterator[int]:
    try:
        try:
            fd = cachefs.open_file(path, os.O_RDWR | os.O_CREAT)
        except (PermissionError, OSError) as exc:
            # Another user's cache (root's, read by a user): a shared lock on a read-only open.
            if operation != fcntl.LOCK_SH or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            fd = cachefs.open_file(path, os.O_RDONLY)
    except cachefs.UnsafeCacheError:
        raise
    except OSError as exc:
        raise ArchiveError(f"cannot lock the cache: {path}: {exc}") from None
    try:
        fcntl.flock(fd, operation)
        yield fd
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def _store_session(cache_dir: Path) -> Iterator[None]:
    """Hold the store shared while fetching; afterwards collect garbage if no one else is."""
    store = _store_dir(cache_dir)
    _mkdir(cache_dir, store)
    with _flock(store.parent / "lock", fcntl.LOCK_SH) as fd:
        try:
            yield
        finally:
            # Another fetch holding it shared may be between renaming a file into
            # the store and naming it in its state: collect only when alone.
            fcntl.flock(fd, fcntl.LOCK_UN)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            else:
                _collect_garbage(cache_dir)


def _collect_garbage(cache_dir: Path) -> None:
    """Delete temporary files and files no suite's state refers to."""
    referenced = set()
    store = _store_dir(cache_dir)
    suites = cache_dir / "suites"
    # Never list or delete through a planted link: both must be the cache's own directories.
    if not cachefs.check_directory(cache_dir, store) or not cachefs.check_directory(cache_dir, suites):
        return
    for state_file in suites.glob(f"*/{_STATE}"):
        if os.path.islink(state_file.parent):
            continue
        state = _read_state(state_file.parent)
        if state is None:
            if state_file.exists():
                return  # a state we cannot read might refer to anything: keep everything
            continue
        files = state.get("files")
        if not isinstance(files, dict):
            return
        referenced.update(
            info.get("sha256") for info in files.values() if isinstance(info, dict)
        )
        verified_set = state.get("verified_set")
        if isinstance(verified_set, dict) and isinstance(verified_set.get("files"), list):
            referenced.update(
                row.get("sha256") for row in verified_set["files"] if isinstance(row, dict)
            )
        pool = state.get("pool")
        if isinstance(pool, dict):
            referenced.update(info.get("sha256") for info in pool.values() if isinstance(info, dict))
    try:
        names = os.listdir(store)
    except OSError:
        return
    for name in names:
        if name.startswith(_TMP_PREFIX) or (_HEX64.match(name) and name not in referenced):
            _unlink(store / name)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=str(path.parent))
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _mkdir(cache_dir: Path, path: Path) -> None:
    try:
        cachefs.make_directory(cache_dir, path)
    except OSError as exc:
        raise ArchiveError(f"cannot create the cache directory {path}: {exc}") from None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- transport


class _NotFound(Exception):
    """The mirror answered, and has no such file (HTTP 404/410, or no such file://)."""


class _Unreachable(Exception):
    """The mirror did not answer usefully: the one failure the cached copy may stand in for."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects as urllib follows them, each new request with the login for its own URL.

    The login goes in an unredirected header, which urllib never copies onto
    the redirected request: a mirror that redirects to another host gets
    only what auth.conf names for that host (credentials.Logins.for_url).
    """

    def __init__(self, logins: Optional[Logins]) -> None:
        super().__init__()
        self._logins = logins

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            _authorize(new, self._logins)
        return new


def _authorize(request: urllib.request.Request, logins: Optional[Logins]) -> None:
    login = logins.for_url(request.full_url) if logins is not None else None
    if login is not None:
        request.add_unredirected_header("Authorization", login.authorization())


@contextlib.contextmanager
def _open(url: str, logins: Optional[Logins] = None) -> Iterator[IO[bytes]]:
    """A binary stream of ``url``; file:// straight from the file system.

    ``url`` never carries a login; ``logins`` says which one each request sends.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "file":
        path = _file_path(url)
        try:
            stream = open(path, "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise _NotFound(url) from None
        except OSError as exc:
            raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
        with stream:
            yield stream
        return
    if scheme not in ("http", "https"):
        raise ArchiveError(f"{_public(url)}: unsupported URL scheme {scheme!r} (http, https, file)")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    _authorize(request, logins)
    try:
        response = urllib.request.build_opener(_Redirects(logins)).open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (404, 410):
            raise _NotFound(url) from None
        reason = f"HTTP {exc.code} {exc.reason}"
        if exc.code == 401:
            # Say what was sent, and from where, without the password: the likeliest fix.
            reason += ": " + (logins or Logins(mirror=url)).refused(getattr(exc, "filename", None) or url)
        raise _Unreachable(url, reason) from None
    except urllib.error.URLError as exc:
        raise _Unreachable(url, str(exc.reason)) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _Unreachable(url, _reason(exc)) from None
    with response:
        yield response


class _Deadline:
    """When a download of ``expected`` bytes must have ended (see MIN_RATE)."""

    def __init__(self, expected: int) -> None:
        self.seconds = TIMEOUT + max(expected, 1 << 20) / MIN_RATE
        self.end = time.monotonic() + self.seconds

    def check(self, url: str, done: int) -> None:
        if time.monotonic() > self.end:
            raise _Unreachable(
                url,
                f"too slow: {done} bytes in {self.seconds:.0f} s, the most a download may take "
                f"at {MIN_RATE >> 10} KiB/s",
            )


def _read(stream: IO[bytes], size: int, url: str, deadline: _Deadline, done: int) -> bytes:
    """At most ``size`` bytes: what one receive gives (read1), so the deadline is checked often."""
    deadline.check(url, done)
    read = getattr(stream, "read1", None) or stream.read
    try:
        return read(size)
    except (OSError, http.client.HTTPException) as exc:
        if url.startswith("file:"):
            raise ArchiveError(f"cannot read {_public(url)}: {_reason(exc)}") from None
        # A connection lost or timing out mid-file: the mirror, not the data, failed.
        raise _Unreachable(url, _reason(exc)) from None


def _read_small(url: str, logins: Optional[Logins] = None) -> bytes:
    deadline = _Deadline(0)
    chunks: List[bytes] = []
    total = 0
    with _open(url, logins) as stream:
        # read1 may return less than asked before the end: read until EOF.
        while total <= _MAX_RELEASE_BYTES:
            more = _read(stream, _MAX_RELEASE_BYTES + 1 - total, url, deadline, total)
            if not more:
                break
            chunks.append(more)
            total += len(more)
    if total > _MAX_RELEASE_BYTES:
        raise ArchiveError(f"{_public(url)}: more than {_MAX_RELEASE_BYTES} bytes; not a Release")
    return b"".join(chunks)


def _file_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ArchiveError(f"{mask_url(url)}: a file:// URL cannot name a host ({mask_url('file://' + parts.netloc)})")
    return urllib.request.url2pathname(parts.path)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _public(url: str) -> str:
    """``url`` fit for a message: a login in it masked (the URLs fetched carry none)."""
    return mask_url(url)


# ---------------------------------------------------------------- small helpers


def _unsigned_payload(data: bytes, source: str) -> bytes:
    """The text of a clearsigned InRelease, its signature unchecked (--no-verify)."""
    lines = _decode(data, source).splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == _BEGIN_SIGNED)
        blank = next(i for i in range(start + 1, len(lines)) if not lines[i].strip())
        end = next(i for i in range(blank + 1, len(lines)) if lines[i].rstrip() == _BEGIN_SIGNATURE)
    except StopIteration:
        raise ReleaseFormatError(f"{source}: not a clearsigned file") from None
    # Clearsigning escapes lines starting with "-" as "- -...".
    body = [line[2:] if line.startswith("- ") else line for line in lines[blank + 1 : end]]
    return ("\n".join(body) + "\n").encode("utf-8")


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReleaseFormatError(f"{source}: not UTF-8 text: {exc}") from None


def _aware(now: Optional[datetime]) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(timezone.utc)
