"""The cache is never followed out of, never another user's, and never world-writable (debvenv.sources.store).

Each case plants, as an attacker with write access would, a symlink or a
loose directory in a real cache, then fetches a real signed test archive
into it: the planted target must be untouched, and the error must say
which cache path is wrong and be an environment failure (exit 3).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from debvenv.errors import EXIT_ENVIRONMENT
from debvenv.index import SuiteIndex, Target, load_cached_index, save_cached_index
from debvenv.sources import store as cachefs
from debvenv.sources.archive import cached_suite, fetch_suite
from debvenv.targets import TargetOptions, obtain_suite
from test_archive import NOW, make_archive, source_for

NOBODY = 65534
EMPTY = SuiteIndex(target=Target(id="sid", kind="suite", python="", arch="amd64"), providers={})


def _fetch_once(tmp_path: Path, signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    source = source_for(archive, archive.root.as_uri())
    cache = tmp_path / "cache"
    fetched = fetch_suite(source, cache, now=NOW)
    return archive, source, cache, fetched


def _suite_dir(cache: Path) -> Path:
    (suite_dir,) = (cache / "suites").iterdir()
    return suite_dir


def test_a_symlinked_suite_lock_is_refused_and_its_target_not_created(tmp_path, signing_key):
    _archive, source, cache, _fetched = _fetch_once(tmp_path, signing_key)
    lock = _suite_dir(cache) / "lock"
    lock.unlink()
    victim = tmp_path / "etc-nologin"
    lock.symlink_to(victim)
    with pytest.raises(cachefs.UnsafeCacheError) as raised:
        fetch_suite(source, cache, now=NOW)
    assert raised.value.exit_code == EXIT_ENVIRONMENT
    assert str(lock) in str(raised.value)
    assert not os.path.lexists(victim)


def test_a_symlinked_store_lock_is_refused_and_its_target_not_created(tmp_path, signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    source = source_for(archive, archive.root.as_uri())
    cache = tmp_path / "cache"
    (cache / "files").mkdir(parents=True)
    victim = tmp_path / "created-by-root"
    (cache / "files" / "lock").symlink_to(victim)
    with pytest.raises(cachefs.UnsafeCacheError):
        fetch_suite(source, cache, now=NOW)
    assert not os.path.lexists(victim)


def test_a_store_linked_to_another_directory_is_neither_written_nor_collected(tmp_path, signing_key):
    archive = make_archive(tmp_path / "mirror", signing_key)
    source = source_for(archive, archive.root.as_uri())
    cache = tmp_path / "cache"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    kept = {"a" * 64: b"not the cache's", ".tmp-precious": b"nor this"}
    for name, data in kept.items():
        (elsewhere / name).write_bytes(data)
    (cache / "files").mkdir(parents=True)
    (cache / "files" / "sha256").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(cachefs.UnsafeCacheError) as raised:
        fetch_suite(source, cache, now=NOW)
    assert "files/sha256" in str(raised.value)
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == kept


def test_a_symlinked_state_is_not_read(tmp_path, signing_key):
    _archive, source, cache, _fetched = _fetch_once(tmp_path, signing_key)
    state = _suite_dir(cache) / "state.json"
    copy = tmp_path / "state-copy.json"
    shutil.copy(state, copy)
    state.unlink()
    state.symlink_to(copy)
    # A state reached only through a link is no state: nothing cached to answer from.
    assert cached_suite(source, cache, now=NOW) is None


def test_a_fifo_planted_as_state_does_not_block(tmp_path, signing_key):
    _archive, source, cache, _fetched = _fetch_once(tmp_path, signing_key)
    state = _suite_dir(cache) / "state.json"
    state.unlink()
    os.mkfifo(state)
    assert cached_suite(source, cache, now=NOW) is None
    fetched = fetch_suite(source, cache, now=NOW)  # replaced by a real state again
    assert stat.S_ISREG(os.lstat(state).st_mode)
    assert fetched.packages


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_a_cache_directory_others_can_write_is_refused(tmp_path, signing_key, mode):
    _archive, source, cache, _fetched = _fetch_once(tmp_path, signing_key)
    suites = cache / "suites"
    suites.chmod(mode)
    for call in (lambda: fetch_suite(source, cache, now=NOW), lambda: cached_suite(source, cache, now=NOW)):
        with pytest.raises(cachefs.UnsafeCacheError) as raised:
            call()
        assert str(suites) in str(raised.value)
        assert f"{mode:04o}" in str(raised.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a directory to another user")
def test_a_cache_directory_of_another_user_is_refused(tmp_path, signing_key):
    _archive, source, cache, _fetched = _fetch_once(tmp_path, signing_key)
    os.chown(cache / "files", NOBODY, NOBODY)
    with pytest.raises(cachefs.UnsafeCacheError) as raised:
        fetch_suite(source, cache, now=NOW)
    assert str(NOBODY) in str(raised.value)


def test_umask_000_still_gives_0755_directories_and_0644_files(tmp_path, signing_key):
    old = os.umask(0)
    try:
        _archive, _source, cache, _fetched = _fetch_once(tmp_path, signing_key)
        save_cached_index(EMPTY, cache / "indexes" / "x.json")
    finally:
        os.umask(old)
    # indexes/ is made by the caller (targets) through cachefs; here only the archive's tree is judged.
    for path in [cache, *cache.rglob("*")]:
        if path.parent.name == "indexes" or path.name == "indexes":
            continue
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
    assert stat.S_IMODE(os.lstat(cache / "indexes" / "x.json").st_mode) == 0o644


def test_make_directory_refuses_a_symlink_below_the_root_but_accepts_a_symlinked_root(tmp_path):
    real = tmp_path / "real-cache"
    real.mkdir()
    root = tmp_path / "cache-link"
    root.symlink_to(real, target_is_directory=True)  # the user's own choice of cache: followed
    cachefs.make_directory(root, root / "files" / "sha256")
    assert (real / "files" / "sha256").is_dir()
    (real / "suites").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(cachefs.UnsafeCacheError):
        cachefs.make_directory(root, root / "suites" / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(cachefs.UnsafeCacheError):
        cachefs.make_directory(root, root / ".." / "escape")


def test_read_file_refuses_links_special_files_and_oversize(tmp_path):
    regular = tmp_path / "regular"
    regular.write_bytes(b"12345")
    assert cachefs.read_file(regular, 5) == b"12345"
    with pytest.raises(OSError):
        cachefs.read_file(regular, 4)
    link = tmp_path / "link"
    link.symlink_to(regular)
    with pytest.raises(cachefs.UnsafeCacheError):
        cachefs.read_file(link, 100)
    with pytest.raises(cachefs.UnsafeCacheError):
        cachefs.read_file("/dev/zero", 100)


def test_a_planted_index_link_is_not_read(tmp_path):
    target = tmp_path / "elsewhere.json"
    save_cached_index(EMPTY, target)
    link = tmp_path / "indexes" / "key.json"
    link.parent.mkdir()
    link.symlink_to(target)
    assert load_cached_index(target) is not None
    assert load_cached_index(link) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a root-owned cache and become nobody")
def test_a_user_answers_from_roots_cache_without_writing_it(tmp_path, signing_key, serve_http):
    """Root's cache, read by nobody in a forked child: the answer comes, and the cache is unchanged."""
    shared = Path(tempfile.mkdtemp(prefix="debvenv-root-cache-"))
    try:
        shared.chmod(0o755)
        archive = make_archive(tmp_path / "mirror", signing_key)
        keyring = shared / "keyring.gpg"
        shutil.copy(archive.keyring, keyring)
        keyring.chmod(0o644)
        source = source_for(archive, serve_http(archive.root), keyrings=(keyring,))
        cache = shared / "cache"
        fetch_suite(source, cache, now=NOW)
        before = {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in cache.rglob("*")}

        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through the pipe
            try:
                os.close(reader)
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                cached = cached_suite(source, cache, now=NOW)
                # Refreshing cannot write root's cache: it fetches into a private one instead.
                options = TargetOptions(cache_dir=cache, now=NOW, refresh=True)
                fresh = obtain_suite(source, options, refresh=True)
                report = {"cached": cached is not None and bool(cached.packages), "fresh": bool(fresh.packages)}
            except BaseException as exc:  # noqa: B902 - reported to the parent
                report = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(writer, json.dumps(report).encode())
            os._exit(0)
        os.close(writer)
        with os.fdopen(reader, "rb") as pipe:
            report = json.loads(pipe.read() or b"{}")
        os.waitpid(child, 0)
        assert report == {"cached": True, "fresh": True}
        after = {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in cache.rglob("*")}
        assert after == before
    finally:
        shutil.rmtree(shared)
