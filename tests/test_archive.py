"""debvenv.sources.archive: fetching a suite's index files like apt, verified, into a cache.

Every archive here is a tiny signed tree made by tests/signed_archive.py with
the real gpg, served over loopback HTTP or read through file://. The
Packages stanzas are bookworm's own (from this machine's apt lists); the
Contents lines are the real paths of those packages' metadata.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import hashlib
import lzma
import re
import shutil
import subprocess
import threading
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from debvenv import __version__
from debvenv.errors import EXIT_ENVIRONMENT
from debvenv.sources.archive import (
    USER_AGENT,
    ArchiveError,
    FetchedSuite,
    SuiteSource,
    cached_suite,
    fetch_suite,
)
from debvenv.sources.packages import read_packages
from debvenv.sources.release import (
    IndexHashError,
    IndexOutOfSyncError,
    ReleaseExpiredError,
    ReleaseVerificationError,
)
from signed_archive import DEFAULT_DATE, SignedArchive, build_signed_archive, serve_directory

NOW = DEFAULT_DATE + timedelta(days=1)
LATER = DEFAULT_DATE + timedelta(days=3)

PACKAGES = b"""\
Package: python3-bs4
Source: beautifulsoup4
Version: 4.11.2-2
Installed-Size: 515
Maintainer: Debian Python Team <team+python@tracker.debian.org>
Architecture: all
Depends: python3-soupsieve, python3:any
Recommends: python3-chardet, python3-lxml
Description: error-tolerant HTML parser for Python 3
Homepage: https://www.crummy.com/software/BeautifulSoup
Description-md5: fb6bbcbf2610881d02572826329c9b94
Section: python
Priority: optional
Filename: pool/main/b/beautifulsoup4/python3-bs4_4.11.2-2_all.deb
Size: 120968
MD5sum: 81280d3f7b3636fad2388c2914ebe4d2
SHA256: dbd4ad1d406c0cbb5c13529b4922601df98bbc0eb79e6c032be543c43351e5f6

Package: python3-yaml
Source: pyyaml (6.0-3)
Version: 6.0-3+b2
Installed-Size: 493
Maintainer: Debian Python Team <team+python@tracker.debian.org>
Architecture: amd64
Depends: python3 (<< 3.12), python3 (>= 3.11~), python3:any, libc6 (>= 2.14), libyaml-0-2 (>= 0.2.2~)
Description: YAML parser and emitter for Python3
Multi-Arch: allowed
Homepage: https://github.com/yaml/pyyaml
Description-md5: 6b427841deb10f77a5f50e5f6b5a05d8
Section: python
Priority: optional
Filename: pool/main/p/pyyaml/python3-yaml_6.0-3+b2_amd64.deb
Size: 119168
MD5sum: e75e906ef7436ab11ea292525385fe24
SHA256: 8d0db0b3099298fe039b94e4c52a6987798a90d23b80de3ac13c3cb75cf622a2
"""
# The same index a day later: the mirror moved on.
PACKAGES_NEWER = PACKAGES.replace(b"6.0-3+b2", b"6.0-3+b3")
CONTENTS_ALL = b"""\
usr/lib/python3/dist-packages/beautifulsoup4-4.11.2.egg-info/PKG-INFO python/python3-bs4
usr/lib/python3/dist-packages/beautifulsoup4-4.11.2.egg-info/top_level.txt python/python3-bs4
usr/share/doc/python3-bs4/changelog.Debian.gz           python/python3-bs4
"""
CONTENTS_AMD64 = b"""\
usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA python/python3-yaml
usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/top_level.txt python/python3-yaml
usr/lib/python3/dist-packages/_yaml/__init__.py         python/python3-yaml
"""

DEBIAN_FILES = {
    "main/binary-amd64/Packages.xz": PACKAGES,
    "main/binary-amd64/Packages.gz": PACKAGES,
    "main/Contents-all.gz": CONTENTS_ALL,
    "main/Contents-amd64.gz": CONTENTS_AMD64,
    # As in bookworm-security: an empty Packages, and Contents-ARCH but no Contents-all.
    "contrib/binary-amd64/Packages.xz": b"",
    "contrib/Contents-amd64.gz": b"",
}
DEBIAN_COMPONENTS = ("main", "contrib")
MAIN_NAMES = ["main/binary-amd64/Packages.xz", "main/Contents-all.gz", "main/Contents-amd64.gz"]

UBUNTU_FILES = {
    "main/binary-amd64/Packages.xz": PACKAGES.replace(b"6.0-3+b2", b"6.0.1-2build2"),
    "universe/binary-amd64/Packages.xz": b"",
    # Ubuntu: one Contents per architecture for the whole suite, no Contents-all.
    "Contents-amd64.gz": CONTENTS_AMD64.replace(b"6.0", b"6.0.1"),
}


# ---------------------------------------------------------------- helpers


def make_archive(
    root: Path, key, files: Dict[str, bytes] = DEBIAN_FILES, **kwargs
) -> SignedArchive:
    kwargs.setdefault("components", DEBIAN_COMPONENTS)
    return build_signed_archive(root, kwargs.pop("suite", "bookworm"), files, key=key, **kwargs)


def source_for(archive: SignedArchive, mirror: str, **kwargs) -> SuiteSource:
    kwargs.setdefault("components", ("main",))
    kwargs.setdefault("keyrings", (archive.keyring,))
    kwargs.setdefault("arch", "amd64")
    return SuiteSource(suite=archive.suite, mirror=mirror, **kwargs)


def store(cache: Path) -> List[str]:
    """The names in the content-addressed store, temporary files included."""
    directory = cache / "files" / "sha256"
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def suite_files(cache: Path) -> List[str]:
    """The signed Release files and states in the cache (lock files aside)."""
    return sorted(p.name for p in cache.glob("suites/*/*") if p.name != "lock")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_cache_untouched(cache: Path) -> None:
    assert store(cache) == []
    assert suite_files(cache) == []


def rewrite(path: Path, content: bytes) -> None:
    """Replace an index file on the mirror by ``content`` compressed like its name says."""
    if path.name.endswith(".xz"):
        data = lzma.compress(content, format=lzma.FORMAT_XZ)
    elif path.name.endswith(".gz"):
        data = gzip.compress(content, mtime=0)
    else:
        data = content
    path.write_bytes(data)


class Recorder:
    """What a recording server was asked for, and which paths it answers with an error."""

    def __init__(self) -> None:
        self.paths: List[str] = []
        self.agents: List[Optional[str]] = []
        self.fail: Dict[str, int] = {}
        self.lock = threading.Lock()


@contextlib.contextmanager
def recording_server(root: Path) -> Iterator[tuple]:
    """Like signed_archive.serve_directory, but recording each request's path and User-Agent."""
    recorder = Recorder()

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            with recorder.lock:
                recorder.paths.append(self.path)
                recorder.agents.append(self.headers.get("User-Agent"))
            code = recorder.fail.get(self.path)
            if code is not None:
                self.send_error(code)
                return
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def recorded():
    """``recorded(root)`` -> (base URL, Recorder); servers stop at the end of the test."""
    with contextlib.ExitStack() as stack:
        yield lambda root: stack.enter_context(recording_server(root))


@pytest.fixture(params=["http", "file"])
def mirror_of(request, serve_http):
    """``mirror_of(archive)`` -> the mirror URL, over loopback HTTP or file://."""
    if request.param == "http":
        return lambda archive: serve_http(archive.root)
    return lambda archive: archive.root.as_uri()


def closed_port_url() -> str:
    """The URL of a server that has just stopped: connections to it are refused."""
    with serve_directory(Path("/nonexistent")) as url:
        pass
    return url


# ---------------------------------------------------------------- a good fetch


def test_fetch_verified_suite(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    cache = tmp_path / "cache"
    fetched = fetch_suite(source_for(archive, mirror_of(archive)), cache, now=NOW)

    assert fetched.release.codename == "bookworm"
    assert [f.name for f in fetched.packages] == ["main/binary-amd64/Packages.xz"]
    assert [f.name for f in fetched.contents] == ["main/Contents-all.gz", "main/Contents-amd64.gz"]
    assert {f.component for f in fetched.packages + fetched.contents} == {"main"}
    for index in fetched.packages + fetched.contents:
        served = archive.path(index.name).read_bytes()
        # Still compressed as downloaded, byte for byte, and named by its hash in the store.
        assert index.path.read_bytes() == served
        assert index.sha256 == sha256(served) == fetched.release.files[index.name].sha256
        assert index.path.name == index.sha256
        assert index.path.parent == cache / "files" / "sha256"
    assert fetched.fetched_at == NOW
    assert (fetched.offline, fetched.verified, fetched.warnings) == (False, True, ())
    assert len(fetched.key()) == 64
    assert store(cache) == sorted(f.sha256 for f in fetched.packages + fetched.contents)
    assert suite_files(cache) == ["InRelease", "state.json"]
    assert next(cache.glob("suites/*/InRelease")).read_bytes() == archive.inrelease.read_bytes()


def test_fetch_several_components(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    source = source_for(archive, mirror_of(archive), components=DEBIAN_COMPONENTS)
    fetched = fetch_suite(source, tmp_path / "cache", now=NOW)

    assert [(f.name, f.component) for f in fetched.packages] == [
        ("main/binary-amd64/Packages.xz", "main"),
        ("contrib/binary-amd64/Packages.xz", "contrib"),
    ]
    # contrib has Contents-amd64 but no Contents-all (as bookworm-security): take what is listed.
    assert [(f.name, f.component) for f in fetched.contents] == [
        ("main/Contents-all.gz", "main"),
        ("main/Contents-amd64.gz", "main"),
        ("contrib/Contents-amd64.gz", "contrib"),
    ]
    assert fetched.warnings == ()


def test_sends_user_agent(tmp_path, signing_key, recorded):
    archive = make_archive(tmp_path / "mirror", signing_key)
    url, recorder = recorded(archive.root)
    fetch_suite(source_for(archive, url), tmp_path / "cache", now=NOW)
    assert USER_AGENT == f"debvenv/{__version__}"
    assert set(recorder.agents) == {USER_AGENT}


def test_second_fetch_downloads_nothing_new(tmp_path, signing_key, recorded):
    archive = make_archive(tmp_path / "mirror", signing_key)
    url, recorder = recorded(archive.root)
    cache = tmp_path / "cache"
    first = fetch_suite(source_for(archive, url), cache, now=NOW)
    assert sorted(recorder.paths) == sorted(
        ["/dists/bookworm/InRelease"] + [f"/dists/bookworm/{name}" for name in MAIN_NAMES]
    )
    inodes = {f.path: (f.path.stat().st_ino, f.path.stat().st_mtime_ns) for f in first.contents}

    recorder.paths.clear()
    second = fetch_suite(source_for(archive, url), cache, now=LATER)
    assert recorder.paths == ["/dists/bookworm/InRelease"]
    assert second.key() == first.key()
    assert second.fetched_at == LATER and not second.offline
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in inodes} == inodes


def test_second_fetch_over_file_url_keeps_the_cached_files(tmp_path, signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    cache = tmp_path / "cache"
    source = source_for(archive, archive.root.as_uri())
    first = fetch_suite(source, cache, now=NOW)
    before = {p: p.stat().st_ino for p in (cache / "files" / "sha256").iterdir()}
    second = fetch_suite(source, cache, now=LATER)
    assert {p: p.stat().st_ino for p in (cache / "files" / "sha256").iterdir()} == before
    assert second.key() == first.key()


def test_progress_reports_each_download(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    calls = []
    fetched = fetch_suite(
        source_for(archive, mirror_of(archive)),
        tmp_path / "cache",
        now=NOW,
        progress=lambda name, done, total: calls.append((name, done, total)),
    )
    for index in fetched.packages + fetched.contents:
        mine = [(done, total) for name, done, total in calls if name == index.name]
        size = fetched.release.files[index.name].size
        assert mine[0] == (0, size)
        assert mine[-1] == (size, size)
    # Nothing downloaded, nothing reported.
    calls.clear()
    fetch_suite(source_for(archive, mirror_of(archive)), tmp_path / "cache", now=NOW,
                progress=lambda *args: calls.append(args))  # fmt: skip
    assert calls == []


# ---------------------------------------------------------------- choosing the files


VARIANTS = [
    # (suffixes of main/binary-amd64/Packages the Release lists, the one fetched)
    ([".xz", ".gz"], ".xz"),
    ([".gz"], ".gz"),
    ([""], ""),
]


@pytest.mark.parametrize("listed, expected", VARIANTS)
def test_packages_compression_preference(tmp_path, signing_key, listed, expected):
    files = {f"main/binary-amd64/Packages{suffix}": PACKAGES for suffix in listed}
    files["main/Contents-all.xz"] = CONTENTS_ALL
    files["main/Contents-all.gz"] = CONTENTS_ALL
    archive = make_archive(tmp_path / "mirror", signing_key, files, components=("main",))
    fetched = fetch_suite(source_for(archive, archive.root.as_uri()), tmp_path / "cache", now=NOW)
    assert [f.name for f in fetched.packages] == [f"main/binary-amd64/Packages{expected}"]
    assert [f.name for f in fetched.contents] == ["main/Contents-all.gz"]  # gzip before xz


def test_listed_variant_missing_on_mirror_falls_back(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    archive.path("main/binary-amd64/Packages.xz").unlink()
    fetched = fetch_suite(source_for(archive, mirror_of(archive)), tmp_path / "cache", now=NOW)
    assert [f.name for f in fetched.packages] == ["main/binary-amd64/Packages.gz"]


def test_listed_file_missing_in_every_variant(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    for name in ("Packages.xz", "Packages.gz"):
        archive.path(f"main/binary-amd64/{name}").unlink()
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError, match=r"Packages\.xz, .*Packages\.gz, .*not on the mirror"):
        fetch_suite(source_for(archive, mirror_of(archive)), cache, now=NOW)
    assert_cache_untouched(cache)


UNAVAILABLE = [
    (dict(components=("main", "non-free")), r"no component 'non-free' \(available: main contrib\)"),
    (dict(arch="arm64"), r"no architecture 'arm64' \(available: all amd64\)"),
]


@pytest.mark.parametrize("kwargs, message", UNAVAILABLE)
def test_component_or_arch_not_in_release(tmp_path, signing_key, kwargs, message):
    archive = make_archive(tmp_path / "mirror", signing_key)
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError, match=message) as info:
        fetch_suite(source_for(archive, archive.root.as_uri(), **kwargs), cache, now=NOW)
    assert info.value.exit_code == EXIT_ENVIRONMENT
    assert_cache_untouched(cache)


def test_no_contents_is_allowed_with_a_warning(tmp_path, signing_key):
    files = {"main/binary-amd64/Packages.xz": PACKAGES}
    archive = make_archive(tmp_path / "mirror", signing_key, files, components=("main",))
    fetched = fetch_suite(source_for(archive, archive.root.as_uri()), tmp_path / "cache", now=NOW)
    assert fetched.contents == ()
    assert [f.name for f in fetched.packages] == ["main/binary-amd64/Packages.xz"]
    assert len(fetched.warnings) == 1
    assert "no Contents index" in fetched.warnings[0] and "guessed" in fetched.warnings[0]


def test_ubuntu_layout(tmp_path, signing_key, mirror_of):
    archive = make_archive(
        tmp_path / "mirror",
        signing_key,
        UBUNTU_FILES,
        suite="noble",
        origin="Ubuntu",
        label="Ubuntu",
        version="24.04",
        architectures=("amd64", "arm64"),
        components=("main", "universe"),
    )
    source = source_for(archive, mirror_of(archive), components=("main", "universe"))
    fetched = fetch_suite(source, tmp_path / "cache", now=NOW)
    assert [(f.name, f.component) for f in fetched.packages] == [
        ("main/binary-amd64/Packages.xz", "main"),
        ("universe/binary-amd64/Packages.xz", "universe"),
    ]
    assert [(f.name, f.component) for f in fetched.contents] == [("Contents-amd64.gz", None)]
    assert fetched.contents[0].path.read_bytes() == archive.path("Contents-amd64.gz").read_bytes()
    assert fetched.warnings == ()


# ---------------------------------------------------------------- by-hash and Release.gpg


def test_by_hash_when_advertised(tmp_path, signing_key, recorded):
    archive = make_archive(tmp_path / "mirror", signing_key, acquire_by_hash=True)
    # The mirror syncs while we fetch: the plain names already hold the next
    # Packages, the by-hash names still hold what the signed Release lists.
    rewrite(archive.path("main/binary-amd64/Packages.xz"), PACKAGES_NEWER)
    url, recorder = recorded(archive.root)
    fetched = fetch_suite(source_for(archive, url), tmp_path / "cache", now=NOW)

    expected = ["/dists/bookworm/InRelease"]
    for index in fetched.packages + fetched.contents:
        directory = index.name.rpartition("/")[0]
        expected.append(f"/dists/bookworm/{directory}/by-hash/SHA256/{index.sha256}")
    assert sorted(recorder.paths) == sorted(expected)
    assert lzma.decompress(fetched.packages[0].path.read_bytes()) == PACKAGES


def test_by_hash_missing_falls_back_to_the_plain_path(tmp_path, signing_key, recorded):
    archive = make_archive(tmp_path / "mirror", signing_key, acquire_by_hash=True)
    shutil.rmtree(archive.path("main/binary-amd64/by-hash"))
    url, recorder = recorded(archive.root)
    fetched = fetch_suite(source_for(archive, url), tmp_path / "cache", now=NOW)
    packages = fetched.packages[0]
    by_hash = f"/dists/bookworm/main/binary-amd64/by-hash/SHA256/{packages.sha256}"
    plain = "/dists/bookworm/main/binary-amd64/Packages.xz"
    assert recorder.paths.index(by_hash) < recorder.paths.index(plain)
    assert packages.path.read_bytes() == archive.path(packages.name).read_bytes()


def test_no_by_hash_when_not_advertised(tmp_path, signing_key, recorded):
    archive = make_archive(tmp_path / "mirror", signing_key)
    url, recorder = recorded(archive.root)
    fetch_suite(source_for(archive, url), tmp_path / "cache", now=NOW)
    assert not [p for p in recorder.paths if "by-hash" in p]


def test_release_and_detached_signature_when_no_inrelease(tmp_path, signing_key, recorded):
    archive = make_archive(tmp_path / "mirror", signing_key)
    archive.inrelease.unlink()
    url, recorder = recorded(archive.root)
    cache = tmp_path / "cache"
    fetched = fetch_suite(source_for(archive, url), cache, now=NOW)
    assert recorder.paths[:3] == [
        "/dists/bookworm/InRelease",
        "/dists/bookworm/Release",
        "/dists/bookworm/Release.gpg",
    ]
    assert fetched.verified and fetched.release.codename == "bookworm"
    assert suite_files(cache) == ["Release", "Release.gpg", "state.json"]
    cached = cached_suite(source_for(archive, url), cache, now=NOW)
    assert cached is not None and cached.key() == fetched.key()


def test_release_without_any_signature(tmp_path, signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    archive.inrelease.unlink()
    archive.release_gpg.unlink()
    cache = tmp_path / "cache"
    with pytest.raises(ReleaseVerificationError, match="unsigned"):
        fetch_suite(source_for(archive, archive.root.as_uri()), cache, now=NOW)
    assert_cache_untouched(cache)


def test_suite_not_on_the_mirror(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    source = SuiteSource(suite="trixie", mirror=mirror_of(archive), components=("main",),
                         arch="amd64", keyrings=(archive.keyring,))  # fmt: skip
    with pytest.raises(ArchiveError, match=r"neither .*dists/trixie/InRelease nor Release"):
        fetch_suite(source, tmp_path / "cache", now=NOW)


# ---------------------------------------------------------------- what must fail, leaving nothing


def flip_last_byte(path: Path) -> None:
    """The same size, another SHA256: what tampering looks like, as opposed to a mirror mid-sync."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


PACKAGES_VARIANTS = ("main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz")
# Enough to change the compressed size too (xz pads to 4 bytes).
MORE_PACKAGES = b"\nPackage: python3-six\nVersion: 1.16.0-4\nArchitecture: all\n"


def test_tampered_packages(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    # The Release still lists the old hashes, for every compression served.
    for name in PACKAGES_VARIANTS:
        flip_last_byte(archive.path(name))
    cache = tmp_path / "cache"
    with pytest.raises(IndexHashError, match=r"Packages\.xz: SHA256 .* differs") as info:
        fetch_suite(source_for(archive, mirror_of(archive)), cache, now=NOW)
    assert not isinstance(info.value, IndexOutOfSyncError)
    assert "Packages.gz" in str(info.value)  # every variant was tried
    assert info.value.exit_code == EXIT_ENVIRONMENT
    assert_cache_untouched(cache)


def test_packages_out_of_sync_everywhere_fail(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    for name in PACKAGES_VARIANTS:
        rewrite(archive.path(name), PACKAGES_NEWER + MORE_PACKAGES)
    cache = tmp_path / "cache"
    pattern = r"out of sync with InRelease \(served (\d+) bytes, InRelease lists (\d+) for [^)]*Packages\.xz\)"
    with pytest.raises(IndexOutOfSyncError, match=pattern) as info:
        fetch_suite(source_for(archive, mirror_of(archive)), cache, now=NOW)
    served, listed = re.search(pattern, str(info.value)).groups()
    assert int(served) == archive.path("main/binary-amd64/Packages.xz").stat().st_size != int(listed)
    assert "mid-sync" in str(info.value) and "Packages.gz" in str(info.value)
    assert_cache_untouched(cache)


def test_a_bad_variant_gives_way_to_the_next(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    rewrite(archive.path("main/binary-amd64/Packages.xz"), PACKAGES_NEWER)
    fetched = fetch_suite(source_for(archive, mirror_of(archive)), tmp_path / "cache", now=NOW)
    assert [f.name for f in fetched.packages] == ["main/binary-amd64/Packages.gz"]
    assert fetched.packages[0].path.read_bytes() == archive.path("main/binary-amd64/Packages.gz").read_bytes()
    assert fetched.contents_problem is None


def test_tampered_packages_keeps_the_previous_state(tmp_path, signing_key, mirror_of):
    root = tmp_path / "mirror"
    archive = make_archive(root, signing_key)
    cache = tmp_path / "cache"
    source = source_for(archive, mirror_of(archive))
    good = fetch_suite(source, cache, now=NOW)
    state = next(cache.glob("suites/*/state.json")).read_bytes()
    before = store(cache)

    # The next day's Release, signed, lists the new Packages; the files served are not it.
    files = dict(DEBIAN_FILES, **{name: PACKAGES_NEWER for name in PACKAGES_VARIANTS})
    make_archive(root, signing_key, files, date=DEFAULT_DATE + timedelta(days=1))
    for name in PACKAGES_VARIANTS:
        rewrite(archive.path(name), PACKAGES_NEWER + b"\n")
    with pytest.raises(IndexHashError):
        fetch_suite(source, cache, now=LATER)

    assert store(cache) == before
    assert next(cache.glob("suites/*/state.json")).read_bytes() == state
    cached = cached_suite(source, cache, now=LATER)
    assert cached is not None and cached.key() == good.key() and cached.fetched_at == NOW


def test_contents_out_of_sync_still_answers_with_packages(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key, acquire_by_hash=True)
    path = archive.path("main/Contents-amd64.gz")
    listed = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-10])
    # As on the real mirror: the by-hash URL of the listed file is gone too.
    for stale in path.parent.glob("by-hash/SHA256/*"):
        if stale.read_bytes() != archive.path("main/Contents-all.gz").read_bytes():
            stale.unlink()
    cache = tmp_path / "cache"
    source = source_for(archive, mirror_of(archive))
    fetched = fetch_suite(source, cache, now=NOW)

    assert [f.name for f in fetched.packages] == ["main/binary-amd64/Packages.xz"]
    assert fetched.contents == ()
    problem = fetched.contents_problem
    assert problem is not None and "main/Contents-amd64.gz" in problem
    assert f"served {listed - 10} bytes, InRelease lists {listed}" in problem
    assert "(by-hash: not found)" in problem
    assert fetched.verified_contents is None  # nothing verified before
    # The cache holds only verified bytes: Packages (and the good Contents-all), no stale file.
    assert sha256(path.read_bytes()) not in store(cache)
    again = cached_suite(source, cache, now=NOW)
    assert again is not None and again.contents == () and again.contents_problem == problem
    assert again.key() == fetched.key()


def test_contents_out_of_sync_offers_the_last_verified_set(tmp_path, signing_key, mirror_of):
    root = tmp_path / "mirror"
    archive = make_archive(root, signing_key)
    cache = tmp_path / "cache"
    source = source_for(archive, mirror_of(archive))
    good = fetch_suite(source, cache, now=NOW)

    files = dict(DEBIAN_FILES, **{name: PACKAGES_NEWER for name in PACKAGES_VARIANTS})
    files["main/Contents-all.gz"] = CONTENTS_ALL + b"usr/share/doc/python3-bs4/README python/python3-bs4\n"
    make_archive(root, signing_key, files, date=DEFAULT_DATE + timedelta(days=1))
    rewrite(archive.path("main/Contents-all.gz"), CONTENTS_ALL)  # the old file, still served
    later = fetch_suite(source, cache, now=LATER)

    assert later.contents == () and "Contents-all.gz" in later.contents_problem
    assert later.packages[0].sha256 != good.packages[0].sha256
    older = later.verified_contents
    assert older is not None
    assert older.release_date == DEFAULT_DATE and older.fetched_at == NOW
    assert [f.sha256 for f in older.packages + older.contents] == [
        f.sha256 for f in good.packages + good.contents
    ]
    assert all(f.path.is_file() for f in older.packages + older.contents)
    # The older set survives garbage collection and a second failing fetch, and the cache knows it.
    assert fetch_suite(source, cache, now=LATER).verified_contents == older
    assert cached_suite(source, cache, now=LATER).verified_contents == older
    # Once Contents verifies again, the older set is let go.
    make_archive(root, signing_key, files, date=DEFAULT_DATE + timedelta(days=2))
    fixed = fetch_suite(source, cache, now=LATER)
    assert fixed.contents_problem is None and fixed.verified_contents is None
    assert not any(f.sha256 in store(cache) for f in older.packages)


# ---------------------------------------------------------------- pdiffs

# bookworm's python3-lxml stanza, and the one its security update brought (this machine's apt lists).
LXML_BOOKWORM = b"""\
Package: python3-lxml
Source: lxml (4.9.2-1)
Version: 4.9.2-1+b1
Installed-Size: 4686
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Depends: python3 (<< 3.12), python3 (>= 3.11~), python3:any, libc6 (>= 2.14), libxml2 (>= 2.9.0), libxslt1.1 (>= 1.1.26)
Recommends: python3-bs4, python3-html5lib
Suggests: python-lxml-doc
Description: pythonic binding for the libxml2 and libxslt libraries
Multi-Arch: same
Homepage: http://lxml.de/
Description-md5: e8e2f787207511401ce91418255455e6
Section: python
Priority: optional
Filename: pool/main/l/lxml/python3-lxml_4.9.2-1+b1_amd64.deb
Size: 1193996
MD5sum: d5f994307b9aae3ab01079472fe10114
SHA256: c0b5220c329c6114406e565be435230b3082c092b53842ea3243be3c572cfc72
"""
LXML_SECURITY = b"""\
Package: python3-lxml
Source: lxml
Version: 4.9.2-1+deb12u1
Installed-Size: 4701
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Depends: python3 (<< 3.12), python3 (>= 3.11~), python3:any, libc6 (>= 2.14), libxml2 (>= 2.9.0), libxslt1.1 (>= 1.1.26)
Suggests: python-lxml-doc
Description: pythonic binding for the libxml2 and libxslt libraries
Homepage: http://lxml.de/
Description-md5: e8e2f787207511401ce91418255455e6
Multi-Arch: same
Recommends: python3-bs4, python3-html5lib
Section: python
Priority: optional
Filename: pool/updates/main/l/lxml/python3-lxml_4.9.2-1+deb12u1_amd64.deb
Size: 1196384
SHA256: d344606151e52176477b23763ccacad82d2a7315ec7935275c1c3c9499258606
"""
BS4, YAML = PACKAGES.split(b"\n\n")
# Three days of one Packages: lxml arrives, then its security update replaces it.
PACKAGES_DAYS = [
    PACKAGES,
    BS4 + b"\n\n" + LXML_BOOKWORM + b"\n" + YAML,
    BS4 + b"\n\n" + LXML_SECURITY + b"\n" + YAML,
]
PATCH_NAMES = ["2025-05-10-1402.11", "2025-05-11-0208.35"]
DIFF_DIR = "main/binary-amd64/Packages.diff"


def ed_script(work: Path, old: bytes, new: bytes) -> bytes:
    """What dak publishes as a pdiff: ``diff --ed`` from one day's file to the next."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "old").write_bytes(old)
    (work / "new").write_bytes(new)
    proc = subprocess.run(["diff", "--ed", str(work / "old"), str(work / "new")], capture_output=True)
    assert proc.returncode == 1, proc.stderr  # they differ
    return proc.stdout


def diff_index(states: List[bytes], patches: List[bytes]) -> bytes:
    """A diff Index as dak writes it (SHA1 fields too, which debvenv does not read)."""
    current = states[-1]
    lines = [f"SHA1-Current: {hashlib.sha1(current).hexdigest()} {len(current)}"]
    lines.append(f"SHA256-Current: {sha256(current)} {len(current)}")
    lines.append("SHA256-History:")
    lines += [f" {sha256(s)} {len(s)} {n}" for s, n in zip(states, PATCH_NAMES)]
    lines.append("SHA256-Patches:")
    lines += [f" {sha256(p)} {len(p)} {n}" for p, n in zip(patches, PATCH_NAMES)]
    lines.append("SHA256-Download:")
    lines += [
        f" {sha256(gzip.compress(p, mtime=0))} {len(gzip.compress(p, mtime=0))} {n}.gz"
        for p, n in zip(patches, PATCH_NAMES)
    ]
    return ("\n".join(lines) + "\n").encode()


def archive_with_pdiffs(tmp_path: Path, key, *, listed_patches=None, served_patches=None) -> SignedArchive:
    """Day 3's archive: a diff Index for Packages, the patches served, Packages itself gone (404)."""
    root = tmp_path / "mirror"
    patches = [ed_script(tmp_path / "diff", a, b) for a, b in zip(PACKAGES_DAYS, PACKAGES_DAYS[1:])]
    listed = listed_patches or patches
    files = dict(DEBIAN_FILES, **{name: PACKAGES_DAYS[2] for name in PACKAGES_VARIANTS})
    files[f"{DIFF_DIR}/Index"] = diff_index(PACKAGES_DAYS[:2] + [PACKAGES_DAYS[2]], listed)
    archive = make_archive(root, key, files, date=DEFAULT_DATE + timedelta(days=1), acquire_by_hash=True)
    for name, patch in zip(PATCH_NAMES, served_patches or listed):
        (archive.path(DIFF_DIR) / f"{name}.gz").write_bytes(gzip.compress(patch, mtime=0))
    # Both ways to today's Packages answer 404: the plain names and by-hash.
    for name in PACKAGES_VARIANTS:
        today = archive.path(name).read_bytes()
        archive.path(name).unlink()
        (archive.path("main/binary-amd64/by-hash/SHA256") / sha256(today)).unlink()
    return archive


def fetch_day_one(tmp_path: Path, key, mirror: str) -> tuple:
    archive = make_archive(tmp_path / "mirror", key, acquire_by_hash=True)
    cache = tmp_path / "cache"
    source = source_for(archive, mirror)
    return source, cache, fetch_suite(source, cache, now=NOW)


def test_pdiffs_bring_the_cached_packages_up_to_date(tmp_path, signing_key, recorded):
    url, recorder = recorded(tmp_path / "mirror")
    source, cache, old = fetch_day_one(tmp_path, signing_key, url)
    archive = archive_with_pdiffs(tmp_path, signing_key)
    recorder.paths.clear()

    fetched = fetch_suite(source, cache, now=LATER)

    packages = fetched.packages[0]
    assert packages.name == "main/binary-amd64/Packages"  # the uncompressed file, as patched
    assert packages.path.read_bytes() == PACKAGES_DAYS[2]
    assert packages.sha256 == sha256(PACKAGES_DAYS[2]) == fetched.release.files[packages.name].sha256
    index = read_packages(packages.path, name=packages.name, limit=packages.expanded_size)
    assert index["python3-lxml"].version == "4.9.2-1+deb12u1"
    assert fetched.contents_problem is None
    # The diff Index by hash (the Release says by-hash), then each patch, oldest first.
    listed = fetched.release.files[f"{DIFF_DIR}/Index"]
    asked = [p for p in recorder.paths if ".diff/" in p]
    served = [sha256((archive.path(DIFF_DIR) / f"{name}.gz").read_bytes()) for name in PATCH_NAMES]
    assert asked == [
        f"/dists/bookworm/{DIFF_DIR}/by-hash/SHA256/{listed.sha256}",
        f"/dists/bookworm/{DIFF_DIR}/by-hash/SHA256/{served[0]}",  # not there: the plain name next
        f"/dists/bookworm/{DIFF_DIR}/{PATCH_NAMES[0]}.gz",
        f"/dists/bookworm/{DIFF_DIR}/by-hash/SHA256/{served[1]}",
        f"/dists/bookworm/{DIFF_DIR}/{PATCH_NAMES[1]}.gz",
    ]
    # Day one's file went with its state; the patched one is what the cache holds now.
    assert not old.packages[0].path.exists()
    assert not [name for name in store(cache) if name.startswith(".tmp")]
    again = cached_suite(source, cache, now=LATER)
    assert again is not None and again.key() == fetched.key()


def test_pdiffs_refuse_a_patch_tampered_on_the_mirror(tmp_path, signing_key):
    source, cache, old = fetch_day_one(tmp_path, signing_key, (tmp_path / "mirror").as_uri())
    patches = [ed_script(tmp_path / "diff", a, b) for a, b in zip(PACKAGES_DAYS, PACKAGES_DAYS[1:])]
    # The second patch as served says lxml 4.9.2-1+deb12u9: not the bytes the signed Index lists.
    tampered = [patches[0], patches[1].replace(b"deb12u1", b"deb12u9")]
    archive_with_pdiffs(tmp_path, signing_key, served_patches=tampered)
    state = next(cache.glob("suites/*/state.json")).read_bytes()

    with pytest.raises(ArchiveError, match="pdiffs tried") as info:
        fetch_suite(source, cache, now=LATER)

    message = str(info.value)
    assert "not on the mirror" in message and f"{PATCH_NAMES[1]}.gz" in message and "SHA256" in message
    assert next(cache.glob("suites/*/state.json")).read_bytes() == state
    assert sha256(PACKAGES_DAYS[2]) not in store(cache)
    assert sha256(PACKAGES_DAYS[1]) not in store(cache)  # nor the state between
    assert cached_suite(source, cache, now=LATER).key() == old.key()


def test_pdiffs_refuse_a_signed_patch_that_leads_elsewhere(tmp_path, signing_key):
    source, cache, old = fetch_day_one(tmp_path, signing_key, (tmp_path / "mirror").as_uri())
    patches = [ed_script(tmp_path / "diff", a, b) for a, b in zip(PACKAGES_DAYS, PACKAGES_DAYS[1:])]
    # The archive itself lists (and signs) a second patch that does not give today's file.
    wrong = [patches[0], patches[1].replace(b"deb12u1", b"deb12u9")]
    archive_with_pdiffs(tmp_path, signing_key, listed_patches=wrong)

    with pytest.raises(ArchiveError, match="pdiffs tried") as info:
        fetch_suite(source, cache, now=LATER)

    assert "not the state its Index lists" in str(info.value)
    assert sha256(PACKAGES_DAYS[2]) not in store(cache)
    assert not [name for name in store(cache) if name.startswith(".tmp")]
    assert cached_suite(source, cache, now=LATER).key() == old.key()


def test_pdiffs_stand_in_for_an_out_of_sync_contents(tmp_path, signing_key):
    """The trixie case: the mirror serves yesterday's Contents; today's comes from yesterday's and a patch."""
    source, cache, old = fetch_day_one(tmp_path, signing_key, (tmp_path / "mirror").as_uri())
    today = CONTENTS_AMD64 + b"usr/lib/python3/dist-packages/lxml-4.9.2.egg-info/PKG-INFO python/python3-lxml\n"
    patch = ed_script(tmp_path / "diff", CONTENTS_AMD64, today)
    files = dict(DEBIAN_FILES, **{"main/Contents-amd64.gz": today})
    files["main/Contents-amd64.diff/Index"] = diff_index([CONTENTS_AMD64, today], [patch])
    archive = make_archive(
        tmp_path / "mirror", signing_key, files, date=DEFAULT_DATE + timedelta(days=1), acquire_by_hash=True
    )
    (archive.path("main/Contents-amd64.diff") / f"{PATCH_NAMES[0]}.gz").write_bytes(gzip.compress(patch, mtime=0))
    stale = archive.path("main/Contents-amd64.gz")
    (archive.path("main/by-hash/SHA256") / sha256(stale.read_bytes())).unlink()
    rewrite(stale, CONTENTS_AMD64 + b"\n")  # out of sync: neither yesterday's nor today's

    fetched = fetch_suite(source, cache, now=LATER)

    assert fetched.contents_problem is None
    assert [f.name for f in fetched.contents] == ["main/Contents-all.gz", "main/Contents-amd64"]
    assert fetched.contents[1].path.read_bytes() == today


def test_pdiffs_need_an_older_copy(tmp_path, signing_key):
    archive = archive_with_pdiffs(tmp_path, signing_key)
    with pytest.raises(ArchiveError, match="pdiffs tried: no older verified copy of it in the cache"):
        fetch_suite(source_for(archive, archive.root.as_uri()), tmp_path / "cache", now=LATER)


def test_truncated_download_is_called_truncated(tmp_path, signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    name = "main/binary-amd64/Packages.xz"
    whole = archive.path(name).read_bytes()

    class Cut(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if not self.path.endswith("/Packages.xz"):
                return super().do_GET()
            # Content-Length promises the whole file; the connection ends halfway.
            self.send_response(200)
            self.send_header("Content-Length", str(len(whole)))
            self.end_headers()
            self.wfile.write(whole[: len(whole) // 2])
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Cut, directory=str(archive.root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        source = source_for(archive, f"http://{host}:{port}")
        fetched = fetch_suite(source, tmp_path / "cache", now=NOW)
        # The .gz variant was whole: the fetch still succeeds...
        assert [f.name for f in fetched.packages] == ["main/binary-amd64/Packages.gz"]
        (archive.path("main/binary-amd64/Packages.gz")).unlink()
        with pytest.raises(IndexHashError, match=rf"truncated: the download ended after {len(whole) // 2} of {len(whole)} bytes"):
            fetch_suite(source, tmp_path / "cache2", now=NOW)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_oversized_index_is_cut_short(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    path = archive.path("main/Contents-all.gz")
    path.write_bytes(path.read_bytes() + b"\0" * (4 << 20))
    cache = tmp_path / "cache"
    fetched = fetch_suite(source_for(archive, mirror_of(archive)), cache, now=NOW)
    assert fetched.contents == ()
    assert f"served {path.stat().st_size} bytes" in fetched.contents_problem
    # No more than the listed size plus one byte was ever read, and none of it kept.
    assert sum(p.stat().st_size for p in (cache / "files" / "sha256").iterdir()) < (1 << 20)


def test_bad_signature(tmp_path, signing_key, other_signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", other_signing_key)
    cache = tmp_path / "cache"
    source = source_for(archive, mirror_of(archive), keyrings=(signing_key.keyring,))
    with pytest.raises(ReleaseVerificationError, match="NO_PUBKEY") as info:
        fetch_suite(source, cache, now=NOW)
    assert info.value.exit_code == EXIT_ENVIRONMENT
    assert_cache_untouched(cache)


def test_no_keyring_is_refused_once_the_suite_is_found(tmp_path, signing_key, mirror_of):
    archive = make_archive(tmp_path / "mirror", signing_key)
    cache = tmp_path / "cache"
    with pytest.raises(ReleaseVerificationError, match=r"InRelease: no keyring known .*--keyring FILE"):
        fetch_suite(source_for(archive, mirror_of(archive), keyrings=()), cache, now=NOW)
    assert_cache_untouched(cache)
    missing = dataclasses.replace(source_for(archive, mirror_of(archive), keyrings=()), suite="nosuch")
    with pytest.raises(ArchiveError, match=r"neither .*dists/nosuch/InRelease nor Release"):
        fetch_suite(missing, cache, now=NOW)


def test_inline_key_and_fingerprint(tmp_path, signing_key, other_signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    mirror = archive.root.as_uri()
    good = source_for(archive, mirror, keyrings=(), inline_keys=(signing_key.armored,),
                      fingerprints=(signing_key.fingerprint,))  # fmt: skip
    assert fetch_suite(good, tmp_path / "cache", now=NOW).verified
    wrong = source_for(archive, mirror, fingerprints=(other_signing_key.fingerprint,))
    with pytest.raises(ReleaseVerificationError, match="not among the Signed-By fingerprints"):
        fetch_suite(wrong, tmp_path / "cache2", now=NOW)


EXPIRY = [
    # (Valid-Until after the Release's Date, now after it, expired?)
    (timedelta(days=7), timedelta(days=1), False),
    (timedelta(days=7), timedelta(days=30), True),
]


@pytest.mark.parametrize("valid_for, age, expired", EXPIRY)
def test_valid_until(tmp_path, signing_key, valid_for, age, expired):
    archive = make_archive(tmp_path / "mirror", signing_key, valid_until=DEFAULT_DATE + valid_for)
    cache = tmp_path / "cache"
    source = source_for(archive, archive.root.as_uri())
    if not expired:
        assert fetch_suite(source, cache, now=DEFAULT_DATE + age).release.valid_until
        return
    with pytest.raises(ReleaseExpiredError, match="expired: Valid-Until") as info:
        fetch_suite(source, cache, now=DEFAULT_DATE + age)
    assert info.value.exit_code == EXIT_ENVIRONMENT
    assert_cache_untouched(cache)


# ---------------------------------------------------------------- --no-verify


def test_no_verify_accepts_a_bad_signature_loudly(
    tmp_path, signing_key, other_signing_key, mirror_of
):
    archive = make_archive(tmp_path / "mirror", other_signing_key)
    source = source_for(archive, mirror_of(archive), keyrings=(signing_key.keyring,), verify=False)
    fetched = fetch_suite(source, tmp_path / "cache", now=NOW)
    assert not fetched.verified
    assert any("signature NOT verified (--no-verify)" in w for w in fetched.warnings)
    assert [f.name for f in fetched.packages] == ["main/binary-amd64/Packages.xz"]
    cached = cached_suite(source, tmp_path / "cache", now=NOW)
    assert cached is not None and not cached.verified
    assert any("NOT verified" in w for w in cached.warnings)
    # A cached copy is verified again when it is used with verification on.
    with pytest.raises(ReleaseVerificationError):
        cached_suite(source_for(archive, source.mirror, keyrings=(signing_key.keyring,)),
                     tmp_path / "cache", now=NOW)  # fmt: skip


def test_no_verify_still_checks_hashes(tmp_path, signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    rewrite(archive.path("main/Contents-all.gz"), CONTENTS_ALL + b"usr/bin/evil python/x\n")
    source = source_for(archive, archive.root.as_uri(), keyrings=(), verify=False)
    assert "Contents-all.gz" in fetch_suite(source, tmp_path / "first", now=NOW).contents_problem
    for name in PACKAGES_VARIANTS:
        flip_last_byte(archive.path(name))
    cache = tmp_path / "cache"
    with pytest.raises(IndexHashError):
        fetch_suite(source, cache, now=NOW)
    assert_cache_untouched(cache)


# ---------------------------------------------------------------- offline and the cache


def test_unreachable_mirror_gives_the_cached_copy(tmp_path, signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    cache = tmp_path / "cache"
    with serve_directory(archive.root) as url:
        first = fetch_suite(source_for(archive, url), cache, now=NOW)
    # The server is gone: connection refused.
    offline = fetch_suite(source_for(archive, url), cache, now=LATER)
    assert offline.offline
    assert offline.fetched_at == NOW
    assert offline.key() == first.key()
    assert [f.path for f in offline.packages + offline.contents] == [
        f.path for f in first.packages + first.contents
    ]
    assert len(offline.warnings) == 1 and "mirror unreachable" in offline.warnings[0]
    assert "fetched 2025-05-11 09:03 UTC" in offline.warnings[0]


def test_unreachable_mirror_and_no_cache(tmp_path, signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    url = closed_port_url()
    cache = tmp_path / "cache"
    message = r"cannot fetch http://127\.0\.0\.1:\d+/dists/bookworm/InRelease: .*refused"
    with pytest.raises(ArchiveError, match=message) as info:
        fetch_suite(source_for(archive, url), cache, now=NOW)
    assert info.value.exit_code == EXIT_ENVIRONMENT
    assert "no cached copy" in str(info.value)
    assert_cache_untouched(cache)


def test_server_error_counts_as_unreachable(tmp_path, signing_key, recorded):
    archive = make_archive(tmp_path / "mirror", signing_key)
    url, recorder = recorded(archive.root)
    cache = tmp_path / "cache"
    first = fetch_suite(source_for(archive, url), cache, now=NOW)
    recorder.fail["/dists/bookworm/InRelease"] = 503
    again = fetch_suite(source_for(archive, url), cache, now=LATER)
    assert again.offline and again.key() == first.key()
    assert "HTTP 503" in again.warnings[0]


def test_refresh_false_uses_the_cache_without_network(tmp_path, signing_key, recorded):
    archive = make_archive(tmp_path / "mirror", signing_key)
    url, recorder = recorded(archive.root)
    cache = tmp_path / "cache"
    # Nothing cached yet: refresh=False still has to fetch.
    first = fetch_suite(source_for(archive, url), cache, now=NOW, refresh=False)
    assert not first.offline
    recorder.paths.clear()
    cached = fetch_suite(source_for(archive, url), cache, now=LATER, refresh=False)
    assert recorder.paths == []
    assert cached.offline and cached.fetched_at == NOW and cached.key() == first.key()
    assert cached.warnings == ()


def test_cached_suite(tmp_path, signing_key, other_signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    cache = tmp_path / "cache"
    main = source_for(archive, archive.root.as_uri())
    both = source_for(archive, archive.root.as_uri(), components=DEBIAN_COMPONENTS)
    assert cached_suite(main, cache) is None

    fetched = fetch_suite(main, cache, now=NOW)
    cached = cached_suite(main, cache, now=NOW)
    assert isinstance(cached, FetchedSuite)
    assert (cached.offline, cached.fetched_at, cached.key()) == (True, NOW, fetched.key())
    assert cached.packages == fetched.packages and cached.contents == fetched.contents
    assert cached_suite(both, cache, now=NOW) is None  # contrib was never fetched

    fetch_suite(both, cache, now=LATER)
    # One state per (mirror, suite) keeps what every fetch of this Release got.
    assert cached_suite(main, cache, now=LATER).key() == fetched.key()
    assert cached_suite(both, cache, now=LATER) is not None

    # The keys of the moment apply to the cached copy too.
    wrong = source_for(archive, archive.root.as_uri(), keyrings=(other_signing_key.keyring,))
    with pytest.raises(ReleaseVerificationError):
        cached_suite(wrong, cache, now=NOW)


def test_cached_copy_past_valid_until_warns(tmp_path, signing_key):
    valid_until = DEFAULT_DATE + timedelta(days=7)
    archive = make_archive(tmp_path / "mirror", signing_key, valid_until=valid_until)
    cache = tmp_path / "cache"
    source = source_for(archive, archive.root.as_uri())
    fetch_suite(source, cache, now=NOW)
    cached = cached_suite(source, cache, now=DEFAULT_DATE + timedelta(days=30))
    assert cached is not None
    assert any("expired on 2025-05-17" in w for w in cached.warnings)


def test_key_follows_the_index_files(tmp_path, signing_key):
    root = tmp_path / "mirror"
    archive = make_archive(root, signing_key)
    main = source_for(archive, archive.root.as_uri())
    both = source_for(archive, archive.root.as_uri(), components=DEBIAN_COMPONENTS)
    first = fetch_suite(main, tmp_path / "cache", now=NOW)
    assert fetch_suite(main, tmp_path / "other-cache", now=LATER).key() == first.key()
    assert fetch_suite(both, tmp_path / "cache", now=NOW).key() != first.key()
    files = dict(DEBIAN_FILES, **{"main/binary-amd64/Packages.xz": PACKAGES_NEWER})
    make_archive(root, signing_key, files, date=DEFAULT_DATE + timedelta(days=1))
    assert fetch_suite(main, tmp_path / "cache", now=LATER).key() != first.key()


def test_superseded_files_are_removed(tmp_path, signing_key):
    root = tmp_path / "mirror"
    archive = make_archive(root, signing_key)
    cache = tmp_path / "cache"
    source = source_for(archive, archive.root.as_uri())
    old = fetch_suite(source, cache, now=NOW)
    files = dict(DEBIAN_FILES, **{"main/binary-amd64/Packages.xz": PACKAGES_NEWER})
    make_archive(root, signing_key, files, date=DEFAULT_DATE + timedelta(days=1))
    new = fetch_suite(source, cache, now=LATER)
    assert not old.packages[0].path.exists()
    assert old.contents == new.contents  # unchanged files stay where they were
    assert store(cache) == sorted(f.sha256 for f in new.packages + new.contents)


def test_concurrent_fetches_of_one_suite(tmp_path, signing_key, serve_http):
    archive = make_archive(tmp_path / "mirror", signing_key)
    url = serve_http(archive.root)
    cache = tmp_path / "cache"
    source = source_for(archive, url, components=DEBIAN_COMPONENTS)
    results: List[FetchedSuite] = []
    errors: List[BaseException] = []

    def fetch() -> None:
        try:
            results.append(fetch_suite(source, cache, now=NOW))
        except BaseException as exc:  # noqa: B902 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len({r.key() for r in results}) == 1 and len(results) == 4
    assert not [name for name in store(cache) if name.startswith(".tmp")]
    assert all(f.path.is_file() for f in results[0].packages + results[0].contents)


# ---------------------------------------------------------------- the real archive


NETWORK_CACHE = Path("/tmp/debvenv-network-cache")


@pytest.mark.network
def test_real_bookworm_main_amd64():
    from debvenv.sources.aptsources import read_sources, select_source, signing_keys
    from debvenv.sources.contents import python_distributions
    from debvenv.sources.packages import read_packages
    from debvenv.sources.release import check_index_file

    entry = select_source(read_sources(), "bookworm")
    assert entry is not None, "no Debian entry in /etc/apt sources"
    keys = signing_keys(entry)
    source = SuiteSource(
        suite="bookworm",
        mirror=entry.uri,
        components=("main",),
        arch="amd64",
        keyrings=keys.keyrings,
        inline_keys=keys.inline_keys,
        fingerprints=keys.fingerprints,
    )
    fetched = fetch_suite(source, NETWORK_CACHE)
    assert fetched.verified and not fetched.offline, fetched.warnings
    assert fetched.release.codename == "bookworm"
    assert [f.name for f in fetched.packages] == ["main/binary-amd64/Packages.xz"]
    assert [f.name for f in fetched.contents] == ["main/Contents-all.gz", "main/Contents-amd64.gz"]
    for index in fetched.packages + fetched.contents:
        check_index_file(fetched.release.files[index.name], index.path)

    # Again: only the InRelease moves over the network.
    calls = []
    again = fetch_suite(source, NETWORK_CACHE, progress=lambda *args: calls.append(args))
    assert calls == [] or again.key() != fetched.key()  # unless the mirror moved meanwhile

    records = read_packages(fetched.packages[0].path)
    assert "python3" in records and "python3-yaml" in records
    names = {d.name for d in python_distributions(*(f.path for f in fetched.contents))}
    assert {"PyYAML", "beautifulsoup4"} <= names


@contextlib.contextmanager
def dripping_server(body: bytes, interval: float) -> Iterator[str]:
    """An HTTP server that answers every GET with ``body``, one byte per ``interval`` seconds."""
    import http.server
    import time

    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                if stop.is_set():
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(interval)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_a_server_dripping_bytes_is_cut_off_by_the_download_deadline(tmp_path, signing_key, monkeypatch):
    from debvenv.sources import archive as archive_module

    # Each byte comes well within the per-read timeout; only the whole-download deadline can end it.
    monkeypatch.setattr(archive_module, "TIMEOUT", 1.0)
    monkeypatch.setattr(archive_module, "MIN_RATE", 1 << 30)
    archive = make_archive(tmp_path / "mirror", signing_key)
    with dripping_server(archive.inrelease.read_bytes(), interval=0.05) as url:
        with pytest.raises(ArchiveError) as raised:
            fetch_suite(source_for(archive, url), tmp_path / "cache", now=NOW)
    assert raised.value.exit_code == EXIT_ENVIRONMENT
    assert "too slow" in str(raised.value)
    assert_cache_untouched(tmp_path / "cache")
