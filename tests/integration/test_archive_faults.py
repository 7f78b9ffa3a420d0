"""`debvenv check` and `which` when the archive misbehaves: stale Contents, expiry, a future date.

The archive is test_check_suites' signed bookworm (real excerpts of
tests/data), plus a real dh-python .deb built here with dpkg-deb, holding
an excerpt of trixie's real ``cpython3_fallback`` (tests/data), and named in
Packages by its real paragraph with this .deb's size and SHA256. The mirror
then goes wrong the way real mirrors do: Contents replaced under a signed
Release that lists another (a mirror mid-sync) with its by-hash URL gone,
a Release past its Valid-Until (a snapshot), a Release dated tomorrow.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict

import pytest

from signed_archive import build_signed_archive
from test_check_suites import (
    DATA,
    NO_APT_CONFIG,
    archive_args,
    bookworm_files,
    cache_contents,
    debvenv,
)

DH_PYTHON_VERSION = "6.20250414"
POOL_DEB = f"pool/main/d/dh-python/dh-python_{DH_PYTHON_VERSION}_all.deb"
REQUIREMENTS = "PyYAML>=5\nbeautifulsoup4\nDjango>=3.2\nchannels\nsix\n"
NAMES = {"PyYAML>=5": "python3-yaml", "beautifulsoup4": "python3-bs4", "Django>=3.2": "python3-django",
         "channels": "python3-django-channels", "six": "python3-six"}  # fmt: skip


def build_dh_python_deb(workdir: Path) -> bytes:
    """A dh-python .deb made by the real dpkg-deb, shipping the real name list excerpt."""
    tree = workdir / "dh-python"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: dh-python\nVersion: {DH_PYTHON_VERSION}\nArchitecture: all\n"
        "Maintainer: debvenv tests <tests@example.org>\nDescription: test copy of dh-python\n"
    )
    listing = tree / "usr/share/dh-python/dist/cpython3_fallback"
    listing.parent.mkdir(parents=True)
    shutil.copy(DATA / "cpython3_fallback", listing)
    deb = workdir / "dh-python.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(deb)],
                   check=True, capture_output=True)  # fmt: skip
    return deb.read_bytes()


def packages_with_dh_python(deb: bytes, packages: bytes) -> bytes:
    """tests/data/Packages plus trixie's real dh-python paragraph, pointing at ``deb``."""
    text = (DATA / "dh-python.paragraph").read_text()
    lines = [line for line in text.splitlines() if not line.startswith(("Size:", "SHA256:", "MD5sum:"))]
    lines += [f"Size: {len(deb)}", f"SHA256: {hashlib.sha256(deb).hexdigest()}"]
    return packages.rstrip(b"\n") + b"\n\n" + "\n".join(lines).encode() + b"\n"


def make_mirror(root: Path, key, deb: bytes, *, packages: bytes = b"", contents_extra: bytes = b"", **kwargs) -> Path:
    files = bookworm_files()
    for name in ("main/Contents-all.gz", "main/Contents-amd64.gz"):
        files[name] += contents_extra
    files["main/binary-amd64/Packages.xz"] = packages_with_dh_python(
        deb, packages or files["main/binary-amd64/Packages.xz"]
    )
    build_signed_archive(root, "bookworm", files, key=key, acquire_by_hash=True, **kwargs)
    pool = root / POOL_DEB
    pool.parent.mkdir(parents=True, exist_ok=True)
    pool.write_bytes(deb)
    return root


def go_stale(root: Path) -> bytes:
    """The mirror mid-sync: both Contents replaced by other bytes, their by-hash URLs gone."""
    main = root / "dists/bookworm/main"
    for name in ("Contents-all.gz", "Contents-amd64.gz"):
        path = main / name
        listed = hashlib.sha256(path.read_bytes()).hexdigest()
        (main / "by-hash/SHA256" / listed).unlink()
        path.write_bytes(path.read_bytes()[:-20])
    return (main / "Contents-all.gz").read_bytes()


def results(output: str, target: str) -> Dict[str, dict]:
    return {row["requirement"]: row["results"][target] for row in json.loads(output)["requirements"]}


def notes_for(stderr: str, target: str):
    return [line for line in stderr.splitlines() if line.startswith(f"debvenv: note: {target}: ")]


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> bytes:
    return build_dh_python_deb(tmp_path_factory.mktemp("deb"))


@pytest.fixture
def requirements(tmp_path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text(REQUIREMENTS)
    return path


def check(requirements: Path, target: str, keyring: Path, cache: Path, *extra: str):
    return debvenv("check", str(requirements), "-t", target, "--format", "json",
                   *archive_args(keyring), *extra, cache=cache)  # fmt: skip


def test_stale_contents_and_no_cache_take_names_from_the_suites_dh_python(
    tmp_path, requirements, deb, signing_key, serve_http
):
    root = make_mirror(tmp_path / "mirror", signing_key, deb)
    stale = go_stale(root)
    target = f"bookworm@{serve_http(root).rstrip('/')}"
    result = check(requirements, target, signing_key.keyring, tmp_path / "cache")

    assert result.returncode == 0, result.stderr
    rows = results(result.stdout, target)
    for requirement, package in NAMES.items():
        assert rows[requirement]["package"] == package, requirement
        assert rows[requirement]["mapping"] == "dh-python", requirement
        assert rows[requirement]["status"] == "satisfied", requirement
    # Versions from the verified Packages, the epoch kept in the Debian version.
    assert (rows["Django>=3.2"]["debian_version"], rows["Django>=3.2"]["version"]) == ("3:3.2.25-0+deb12u3", "3.2.25")
    notes = notes_for(result.stderr, target)
    assert len(notes) == 1, result.stderr
    assert "Contents-all.gz" in notes[0] and "mid-sync" in notes[0] and f"dh-python {DH_PYTHON_VERSION}" in notes[0]
    # The .deb is cached by its hash; the stale Contents never are.
    files, _indexes, _states = cache_contents(tmp_path / "cache")
    stored = {Path(name).name for name in files}
    assert hashlib.sha256(deb).hexdigest() in stored
    assert hashlib.sha256(stale).hexdigest() not in stored

    # Parsed again from the cache alone (the suite is fresh enough not to ask the mirror): the cached .deb answers.
    for index in (tmp_path / "cache/debvenv/indexes").iterdir():
        index.unlink()
    again = check(requirements, target, signing_key.keyring, tmp_path / "cache")
    assert again.returncode == 0, again.stderr
    assert results(again.stdout, target) == rows


def test_a_dh_python_deb_that_does_not_match_packages_is_not_used(
    tmp_path, requirements, deb, signing_key, serve_http
):
    root = make_mirror(tmp_path / "mirror", signing_key, deb)
    go_stale(root)
    pool = root / POOL_DEB
    data = bytearray(pool.read_bytes())
    data[-1] ^= 0xFF
    pool.write_bytes(bytes(data))
    target = f"bookworm@{serve_http(root).rstrip('/')}"
    result = check(requirements, target, signing_key.keyring, tmp_path / "cache")

    assert result.returncode == 0, result.stderr
    rows = results(result.stdout, target)
    assert {row["mapping"] for row in rows.values() if row["package"]} == {"guessed"}
    assert rows["PyYAML>=5"]["package"] == "python3-yaml"  # the naming rule still finds it
    notes = notes_for(result.stderr, target)
    assert len(notes) == 1 and "SHA256" in notes[0] and "guessed" in notes[0], result.stderr
    files, indexes, _states = cache_contents(tmp_path / "cache")
    assert hashlib.sha256(bytes(data)).hexdigest() not in {Path(name).name for name in files}
    assert indexes == []  # a transient stand-in is not cached: the next run tries again


def test_stale_contents_with_an_older_verified_copy_use_it_with_todays_versions(
    tmp_path, requirements, deb, signing_key, serve_http
):
    root = make_mirror(tmp_path / "mirror", signing_key, deb)
    url = serve_http(root).rstrip("/")
    target = f"bookworm@{url}"
    cache = tmp_path / "cache"
    first = check(requirements, target, signing_key.keyring, cache, "--refresh")
    assert first.returncode == 0, first.stderr
    assert results(first.stdout, target)["Django>=3.2"]["mapping"] == "contents"

    # The next day: Django moves upstream, and the mirror serves Contents that do not match.
    moved = (DATA / "Packages").read_bytes().replace(b"3.2.25-0+deb12u3", b"3.2.26-0+deb12u1")
    later = datetime.now(timezone.utc).replace(microsecond=0)
    extra = b"usr/share/doc/python3-django/NEWS.gz python/python3-django\n"
    make_mirror(root, signing_key, deb, packages=moved, contents_extra=extra, date=later)
    go_stale(root)
    result = check(requirements, target, signing_key.keyring, cache, "--refresh")

    assert result.returncode == 0, result.stderr
    rows = results(result.stdout, target)
    assert rows["Django>=3.2"]["mapping"] == "cached-contents"
    # Today's version, translated: the cached metadata said 3.2.25, which is no longer true.
    assert (rows["Django>=3.2"]["debian_version"], rows["Django>=3.2"]["version"]) == ("3:3.2.26-0+deb12u1", "3.2.26")
    # An unchanged package keeps its metadata version and name spelling from the older Contents.
    assert (rows["PyYAML>=5"]["package"], rows["PyYAML>=5"]["version"]) == ("python3-yaml", "6.0")
    assert rows["PyYAML>=5"]["mapping"] == "cached-contents"
    notes = notes_for(result.stderr, target)
    assert len(notes) == 1, result.stderr
    assert "Contents of 2025-05-10" in notes[0] and "cached" in notes[0], notes[0]


# ---- Valid-Until and Date --------------------------------------------------------


def expired_mirror(tmp_path: Path, key, deb: bytes) -> Path:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return make_mirror(tmp_path / "mirror", key, deb, date=now - timedelta(days=30), valid_until=now - timedelta(days=25))


def which_django(url: str, keyring: Path, cache: Path, *extra: str):
    return debvenv("which", "Django", "-t", f"bookworm@{url}", *archive_args(keyring), *extra, cache=cache)


def test_expired_release_is_refused_without_a_waiver(tmp_path, deb, signing_key, serve_http):
    url = serve_http(expired_mirror(tmp_path, signing_key, deb)).rstrip("/")
    result = which_django(url, signing_key.keyring, tmp_path / "cache")
    assert result.returncode == 3, result.stderr
    assert result.stdout == "" and "expired: Valid-Until" in result.stderr
    assert cache_contents(tmp_path / "cache")[0] == []


def test_ignore_valid_until_accepts_an_expired_release_with_one_warning(tmp_path, deb, signing_key, serve_http):
    url = serve_http(expired_mirror(tmp_path, signing_key, deb)).rstrip("/")
    result = which_django(url, signing_key.keyring, tmp_path / "cache", "--ignore-valid-until")
    assert result.returncode == 0, result.stderr
    assert "python3-django 3:3.2.25-0+deb12u3" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "Valid-Until" in line]
    assert len(warnings) == 1 and "--ignore-valid-until" in warnings[0], result.stderr


@pytest.mark.parametrize(
    "config",
    [
        'Acquire::Check-Valid-Until "false";\n',
        '// as a snapshot archive\'s instructions write it\nAcquire {\n  Check-Valid-Until "no";\n};\n',
    ],
)
def test_apt_conf_check_valid_until_false_is_honoured(tmp_path, deb, signing_key, serve_http, config):
    url = serve_http(expired_mirror(tmp_path, signing_key, deb)).rstrip("/")
    etc = tmp_path / "etc-apt"
    (etc / "apt.conf.d").mkdir(parents=True)
    (etc / "apt.conf.d" / "99snapshot").write_text(config)
    result = which_django(url, signing_key.keyring, tmp_path / "cache", "--apt-etc-dir", str(etc))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "Valid-Until" in line]
    assert len(warnings) == 1 and f"{etc}/apt.conf.d/99snapshot:" in warnings[0], result.stderr


@pytest.mark.parametrize("style", ["one-line", "deb822"])
def test_a_sources_check_valid_until_no_is_honoured(tmp_path, deb, signing_key, serve_http, style):
    url = serve_http(expired_mirror(tmp_path, signing_key, deb)).rstrip("/")
    etc = tmp_path / "etc-apt"
    (etc / "sources.list.d").mkdir(parents=True)
    if style == "one-line":
        (etc / "sources.list").write_text(f"deb [check-valid-until=no signed-by={signing_key.keyring}] {url} bookworm main\n")
    else:
        (etc / "sources.list.d" / "snapshot.sources").write_text(
            f"Types: deb\nURIs: {url}\nSuites: bookworm\nComponents: main\n"
            f"Signed-By: {signing_key.keyring}\nCheck-Valid-Until: no\n"
        )
    result = debvenv("which", "Django", "-t", "bookworm", "--arch", "amd64", "--apt-etc-dir", str(etc),
                     cache=tmp_path / "cache")  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "Valid-Until" in line]
    assert len(warnings) == 1 and "check-valid-until=no" in warnings[0], result.stderr


def test_a_release_dated_tomorrow_is_not_valid_yet(tmp_path, deb, signing_key, serve_http):
    tomorrow = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    url = serve_http(make_mirror(tmp_path / "mirror", signing_key, deb, date=tomorrow)).rstrip("/")
    result = which_django(url, signing_key.keyring, tmp_path / "cache")
    assert result.returncode == 3, result.stderr
    assert "not valid yet" in result.stderr and result.stdout == ""
    assert cache_contents(tmp_path / "cache")[0] == []


# ---- a matrix with a column that cannot be answered -------------------------------


def test_a_matrix_answers_the_targets_it_can(tmp_path, requirements, deb, signing_key, serve_http):
    url = serve_http(make_mirror(tmp_path / "mirror", signing_key, deb)).rstrip("/")
    good, bad = f"bookworm@{url}", "nosuch@file:///nonexistent"
    args = ["check", str(requirements), "-t", good, "-t", bad, *archive_args(signing_key.keyring)]

    table = debvenv(*args, cache=tmp_path / "cache")
    assert table.returncode == 3, table.stderr
    assert any(line.startswith(f"{bad}: unavailable: ") for line in table.stdout.splitlines())
    django = next(line for line in table.stdout.splitlines() if line.strip().startswith("Django>=3.2"))
    assert "ok 3.2.25" in django and "unavailable" in django
    assert sum(line.startswith(f"debvenv: error: {bad}: ") for line in table.stderr.splitlines()) == 1

    report = debvenv(*args, "--format", "json", cache=tmp_path / "cache")
    assert report.returncode == 3, report.stderr
    document = json.loads(report.stdout)
    errors = {t["id"]: t["error"] for t in document["targets"]}
    assert errors[good] is None and "dists/nosuch" in errors[bad]
    assert set(document["summary"]) == {good}
    assert all(set(row["results"]) == {good} for row in document["requirements"])


def test_which_says_which_target_is_unavailable(tmp_path, deb, signing_key, serve_http):
    url = serve_http(make_mirror(tmp_path / "mirror", signing_key, deb)).rstrip("/")
    result = debvenv("which", "Django", "-t", f"bookworm@{url}", "-t", "nosuch@file:///nonexistent",
                     *archive_args(signing_key.keyring), cache=tmp_path / "cache")  # fmt: skip
    assert result.returncode == 3
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"bookworm@{url}: Django: satisfied: python3-django")
    assert lines[1].startswith("nosuch@file:///nonexistent: Django: unavailable: ")


def test_a_matrix_with_no_answerable_target_is_one_error(tmp_path, requirements):
    result = debvenv("check", str(requirements), "-t", "nosuch@file:///nonexistent", "-t", "other@file:///nonexistent",
                     "--arch", "amd64", "--apt-etc-dir", str(NO_APT_CONFIG), cache=tmp_path / "cache")  # fmt: skip
    assert result.returncode == 3 and result.stdout == ""
    assert result.stderr.startswith("debvenv: error: ") and len(result.stderr.splitlines()) == 1
