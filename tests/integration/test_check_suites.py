"""`debvenv check` and `debvenv index` as processes, against a signed archive suite.

The archive is a tiny tree signed with the real gpg (tests/signed_archive.py):
suite ``bookworm`` carries the real bookworm excerpts of tests/data
(Packages, Contents-all, Contents-amd64); its pocket ``bookworm-security``
carries python3-django at a newer ``+deb12uN`` build (bookworm's own
paragraph with the version moved on) and, like the real debian-security,
an empty Contents-amd64.gz. It is served over loopback HTTP and read
through file://. Every run has its own XDG_CACHE_HOME, so that a tampered
archive is always fetched, never answered from a good run's cache.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from signed_archive import build_signed_archive, serve_directory

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"
SRC = TESTS.parent / "src"

REQUIREMENTS = """\
PyYAML>=5
beautifulsoup4
Django>=3.2
channels
notapackage-xyz
Django>=4 ; python_version >= "3.12"
"""
SECURITY_DJANGO = "3:3.2.25-0+deb12u5"

# requirement line -> (status, package, Debian version, version, mapping) on bookworm alone
BOOKWORM = {
    "PyYAML>=5": ("satisfied", "python3-yaml", "6.0-3+b2", "6.0", "contents"),
    "beautifulsoup4": ("satisfied", "python3-bs4", "4.11.2-2", "4.11.2", "contents"),
    "Django>=3.2": ("satisfied", "python3-django", "3:3.2.25-0+deb12u3", "3.2.25", "contents"),
    "channels": ("satisfied", "python3-django-channels", "4.0.0-1", "4.0.0", "contents"),
    "notapackage-xyz": ("missing", None, None, None, None),
    'Django>=4 ; python_version >= "3.12"': ("not-applicable", None, None, None, None),
}
# ... and with the security pocket overlaid: the newer build of the same upstream wins.
OVERLAY = dict(
    BOOKWORM,
    **{"Django>=3.2": ("satisfied", "python3-django", SECURITY_DJANGO, "3.2.25", "contents")},
)
SUMMARY = {
    "satisfied": 4, "outdated": 0, "too-new": 0, "excluded": 0,
    "missing": 1, "url": 0, "not-applicable": 1,
}  # fmt: skip
DISTRIBUTIONS = 20  # normalized distribution names in tests/data/Contents-*, all in Packages


def debvenv(*args: str, cache: Path, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "debvenv", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )  # fmt: skip


def paragraph(package: str) -> bytes:
    """``package``'s paragraph of the real tests/data/Packages."""
    text = (DATA / "Packages").read_bytes()
    start = text.index(b"Package: %s\n" % package.encode())
    end = text.find(b"\n\n", start)
    return text[start : end + 1 if end >= 0 else len(text)]


def bookworm_files() -> Dict[str, bytes]:
    return {
        "main/binary-amd64/Packages.xz": (DATA / "Packages").read_bytes(),
        "main/Contents-all.gz": (DATA / "Contents-all").read_bytes(),
        "main/Contents-amd64.gz": (DATA / "Contents-amd64").read_bytes(),
    }


def security_files() -> Dict[str, bytes]:
    django = paragraph("python3-django").replace(b"3.2.25-0+deb12u3", SECURITY_DJANGO.split(":")[1].encode())
    assert SECURITY_DJANGO.encode() in django and b"deb12u3" not in django
    return {"main/binary-amd64/Packages.xz": django, "main/Contents-amd64.gz": b""}


def make_archive(root: Path, key, **kwargs) -> Path:
    build_signed_archive(root, "bookworm", bookworm_files(), key=key, **kwargs)
    build_signed_archive(root, "bookworm-security", security_files(), key=key, **kwargs)
    return root


NO_APT_CONFIG = DATA / "sources" / "no-apt-config"


def archive_args(keyring: Path) -> List[str]:
    # --arch and --components pin what the archive carries, whatever this machine's dpkg and apt
    # sources say; --apt-etc-dir keeps this machine's apt.conf.d (Check-Valid-Until) out of it.
    return ["--keyring", str(keyring), "--arch", "amd64", "--components", "main", "--apt-etc-dir", str(NO_APT_CONFIG)]


def cache_contents(cache: Path) -> Tuple[List[str], List[str], List[str]]:
    """(index files in the store, parsed indexes, suite states) under ``cache``."""
    root = cache / "debvenv"

    def names(pattern: str) -> List[str]:
        return sorted(str(p.relative_to(root)) for p in root.glob(pattern) if p.is_file())

    return names("files/sha256/*"), names("indexes/*"), names("suites/*/state.json")


@pytest.fixture(scope="module")
def archive(tmp_path_factory, signing_key) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "mirror", signing_key)


@pytest.fixture(scope="module")
def requirements(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("project") / "requirements.txt"
    path.write_text(REQUIREMENTS)
    return path


@pytest.fixture(params=["http", "file"])
def mirror(request, archive, serve_http) -> str:
    return serve_http(archive).rstrip("/") if request.param == "http" else archive.as_uri()


def check(requirements: Path, targets: List[str], keyring: Path, cache: Path, *extra: str):
    args = ["check", str(requirements), *archive_args(keyring), *extra]
    for target in targets:
        args += ["-t", target]
    return debvenv(*args, cache=cache)


# ---- the answer -------------------------------------------------------------------


def test_check_matrix_json(tmp_path, requirements, mirror, signing_key):
    release, overlay = f"bookworm@{mirror}", f"bookworm+bookworm-security@{mirror}"
    result = check(requirements, [release, overlay], signing_key.keyring, tmp_path, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)

    assert set(report) == {"schema", "targets", "requirements", "summary"}
    assert report["schema"] == "debvenv.report/2"
    assert report["targets"] == [
        {"id": release, "kind": "suite", "python": "3.11", "arch": "amd64", "error": None},
        {"id": overlay, "kind": "suite", "python": "3.11", "arch": "amd64", "error": None},
    ]
    assert [r["requirement"] for r in report["requirements"]] == REQUIREMENTS.splitlines()
    for number, row in enumerate(report["requirements"], start=1):
        assert set(row) == {
            "requirement", "file", "line", "name", "specifier", "extras", "marker", "url", "results",
        }  # fmt: skip
        assert (row["file"], row["line"]) == (str(requirements), number)
        assert row["extras"] == [] and row["url"] is None
        assert set(row["results"]) == {release, overlay}
        for target, expected in ((release, BOOKWORM), (overlay, OVERLAY)):
            result_row = row["results"][target]
            assert set(result_row) == {"status", "package", "debian_version", "version", "mapping", "candidates"}
            assert result_row["candidates"] == []  # nothing in the test archive looks like a missing name
            got = tuple(result_row[k] for k in ("status", "package", "debian_version", "version", "mapping"))
            assert got == expected[row["requirement"]], (target, row["requirement"])
    marked = report["requirements"][-1]
    assert (marked["name"], marked["specifier"], marked["marker"]) == (
        "django", ">=4", 'python_version >= "3.12"',
    )  # fmt: skip
    assert report["summary"] == {release: SUMMARY, overlay: SUMMARY}

    # What was cached: every index file, and one parsed index per suite.
    files, indexes, states = cache_contents(tmp_path)
    assert len(files) == 5  # Packages x2, Contents-all, Contents-amd64, the pocket's empty Contents
    assert len(indexes) == 2 and len(states) == 2


def test_second_run_answers_from_the_cache(tmp_path, requirements, archive, signing_key):
    with serve_directory(archive) as url:
        target = f"bookworm+bookworm-security@{url.rstrip('/')}"
        first = check(requirements, [target], signing_key.keyring, tmp_path, "--format", "json")
    assert first.returncode == 0, first.stderr
    # The server is gone; the cache is fresh, so the mirror is not even asked.
    second = check(requirements, [target], signing_key.keyring, tmp_path, "--format", "json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert second.stderr == ""


def test_unreachable_mirror_on_refresh_uses_the_cache_and_says_how_old(
    tmp_path, requirements, archive, signing_key
):
    with serve_directory(archive) as url:
        target = f"bookworm@{url.rstrip('/')}"
        first = check(requirements, [target], signing_key.keyring, tmp_path, "--format", "json")
    assert first.returncode == 0, first.stderr
    again = check(requirements, [target], signing_key.keyring, tmp_path, "--format", "json", "--refresh")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == json.loads(first.stdout)
    notes = again.stderr.splitlines()
    assert notes and all(line.startswith("debvenv: note: ") for line in notes), again.stderr
    assert any("mirror unreachable" in line for line in notes), again.stderr
    assert any(re.search(r"the cached index in use is \d+ minutes? old", line) for line in notes), again.stderr


# ---- an archive that must not be believed -----------------------------------------


def assert_refused(result: subprocess.CompletedProcess, cache: Path, message: str) -> None:
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("debvenv: error: ")
    assert re.search(message, lines[0]), lines[0]
    files, indexes, states = cache_contents(cache)
    assert (files, indexes, states) == ([], [], [])


def tampered_archive(tmp_path: Path, archive: Path) -> Path:
    copy = tmp_path / "mirror"
    shutil.copytree(archive, copy)
    return copy


def test_packages_changed_after_signing(tmp_path, requirements, archive, signing_key, serve_http):
    root = tampered_archive(tmp_path, archive)
    packages = root / "dists/bookworm/main/binary-amd64/Packages.xz"
    # A same-sized file with other bytes: only the SHA256 in the signed Release can tell.
    data = bytearray(packages.read_bytes())
    data[len(data) // 2] ^= 0xFF
    packages.write_bytes(bytes(data))
    url = serve_http(root).rstrip("/")
    result = check(requirements, [f"bookworm@{url}"], signing_key.keyring, tmp_path / "cache")
    assert_refused(result, tmp_path / "cache", r"SHA256 [0-9a-f]{64} differs from [0-9a-f]{64} listed for main/binary-amd64/Packages\.xz")


def test_packages_replaced_after_signing(tmp_path, requirements, archive, signing_key):
    root = tampered_archive(tmp_path, archive)
    packages = root / "dists/bookworm/main/binary-amd64/Packages.xz"
    text = lzma.decompress(packages.read_bytes()).replace(b"3:3.2.25-0+deb12u3", b"3:5.2.25-0+deb12u3")
    packages.write_bytes(lzma.compress(text))
    result = check(requirements, [f"bookworm@{root.as_uri()}"], signing_key.keyring, tmp_path / "cache")
    assert_refused(result, tmp_path / "cache", r"main/binary-amd64/Packages\.xz")


def test_signed_by_another_key(tmp_path, requirements, signing_key, other_signing_key, serve_http):
    root = make_archive(tmp_path / "mirror", other_signing_key)
    url = serve_http(root).rstrip("/")
    result = check(requirements, [f"bookworm@{url}"], signing_key.keyring, tmp_path / "cache")
    assert_refused(result, tmp_path / "cache", r"InRelease")


def test_contents_out_of_sync_is_answered_without_its_bytes(tmp_path, requirements, archive, signing_key, serve_http):
    root = tampered_archive(tmp_path, archive)
    contents = root / "dists/bookworm/main/Contents-amd64.gz"
    stale = contents.read_bytes()[: contents.stat().st_size // 2]
    contents.write_bytes(stale)
    url = serve_http(root).rstrip("/")
    target = f"bookworm@{url}"
    result = check(requirements, [target], signing_key.keyring, tmp_path / "cache", "--format", "json")
    # No dh-python in this archive and no older Contents cached: the names are guessed, and say so.
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith(f"debvenv: note: {target}: ")]
    assert len(notes) == 1, result.stderr
    assert "main/Contents-amd64.gz" in notes[0] and "mid-sync" in notes[0] and "guessed" in notes[0]
    rows = {row["requirement"]: row["results"][target] for row in json.loads(result.stdout)["requirements"]}
    assert (rows["PyYAML>=5"]["package"], rows["PyYAML>=5"]["mapping"]) == ("python3-yaml", "guessed")
    assert rows["Django>=3.2"]["debian_version"] == "3:3.2.25-0+deb12u3"
    files, _indexes, _states = cache_contents(tmp_path / "cache")
    assert hashlib.sha256(stale).hexdigest() not in {Path(name).name for name in files}


def test_expired_release(tmp_path, requirements, signing_key, serve_http):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    root = make_archive(
        tmp_path / "mirror", signing_key, date=now - timedelta(days=10), valid_until=now - timedelta(days=3)
    )
    url = serve_http(root).rstrip("/")
    result = check(requirements, [f"bookworm@{url}"], signing_key.keyring, tmp_path / "cache")
    assert_refused(result, tmp_path / "cache", r"expired: Valid-Until")


def test_no_verify_accepts_a_bad_signature_loudly(
    tmp_path, requirements, signing_key, other_signing_key, serve_http
):
    root = make_archive(tmp_path / "mirror", other_signing_key)
    url = serve_http(root).rstrip("/")
    target = f"bookworm@{url}"
    result = check(requirements, [target], signing_key.keyring, tmp_path / "cache", "--no-verify", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"] == {target: SUMMARY}
    assert "WARNING: --no-verify: suite signatures are NOT checked" in result.stderr
    assert "signature NOT verified (--no-verify)" in result.stderr


# ---- debvenv index ----------------------------------------------------------------


def test_index_shows_one_line_per_suite(tmp_path, archive, signing_key, serve_http):
    url = serve_http(archive).rstrip("/")
    result = debvenv("index", f"bookworm@{url}", *archive_args(signing_key.keyring), cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    header, *rows = result.stdout.splitlines()
    assert header.split()[:4] == ["suite", "date", "python", "dists"]
    (row,) = rows
    assert row.split()[:4] == ["bookworm", "2025-05-10", "3.11", str(DISTRIBUTIONS)]
    assert url in row
    # It fetched and parsed: a check now needs no mirror.
    files, indexes, states = cache_contents(tmp_path)
    assert len(files) == 3 and len(indexes) == 1 and len(states) == 1


def test_index_of_a_release_and_its_pocket(tmp_path, archive, signing_key):
    target = f"bookworm+bookworm-security@{archive.as_uri()}"
    result = debvenv("index", target, *archive_args(signing_key.keyring), "--format", "json", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    statuses = json.loads(result.stdout)
    assert [(s["suite"], s["python"], s["distributions"]) for s in statuses] == [
        ("bookworm", "3.11", DISTRIBUTIONS),
        # The pocket's one package, mapped through its release's Contents; its release's Python.
        ("bookworm-security", "3.11", 1),
    ]
    assert {s["mirror"] for s in statuses} == {archive.as_uri()}


def test_index_unverified_says_so_once_per_suite(tmp_path, signing_key, other_signing_key):
    root = make_archive(tmp_path / "mirror", other_signing_key)
    target = f"bookworm+bookworm-security@{root.as_uri()}"
    result = debvenv("index", target, *archive_args(signing_key.keyring), "--no-verify", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    warning, *notes = result.stderr.splitlines()
    assert warning.startswith("debvenv: WARNING: --no-verify: suite signatures are NOT checked")
    assert notes == [
        f"debvenv: note: {suite}: {suite} from {root.as_uri()}: signature NOT verified (--no-verify): "
        "anyone between you and the mirror could have changed these indexes"
        for suite in ("bookworm", "bookworm-security")
    ]


# ---- other report formats ---------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: List[str] = []
        self.external: List[str] = []
        self.cell_classes: List[str] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("link", "script", "img", "iframe"):
            url = attributes.get("href") or attributes.get("src") or ""
            if tag in ("link", "script") or re.match(r"^[a-z]+:", url):
                self.external.append(f"<{tag} {attrs}>")
        if tag == "td" and attributes.get("class"):
            self.cell_classes.append(attributes["class"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        self.text.append(data)


def test_markdown_report(tmp_path, requirements, archive, signing_key):
    targets = [f"bookworm@{archive.as_uri()}", f"bookworm+bookworm-security@{archive.as_uri()}"]
    result = check(requirements, targets, signing_key.keyring, tmp_path, "--format", "markdown")
    assert result.returncode == 0, result.stderr
    document = result.stdout
    for target in targets:
        assert f"**{target}**" in document
        assert f" {target} |" in document  # a column of the table
    table = [line for line in document.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in table] == REQUIREMENTS.splitlines()
    django = next(line for line in table if line.startswith("| `Django>=3.2`"))
    assert django.count("satisfied python3-django 3.2.25") == 2


def test_html_report(tmp_path, requirements, archive, signing_key):
    targets = [f"bookworm@{archive.as_uri()}", f"bookworm+bookworm-security@{archive.as_uri()}"]
    output = tmp_path / "report.html"
    result = check(requirements, targets, signing_key.keyring, tmp_path, "--format", "html", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    document = output.read_text()
    assert document.startswith("<!DOCTYPE html>")
    page = _Page()
    page.feed(document)
    assert page.external == []  # self-contained: no stylesheet, script or image from elsewhere
    assert "http://" not in page.style and "https://" not in page.style and "@import" not in page.style
    text = "".join(page.text)
    for target in targets:
        assert target in text
    for line in REQUIREMENTS.splitlines():
        assert line in text
    assert 'python_version >= "3.12"' not in document  # escaped, not raw
    assert "python_version &gt;= " in document
    # Every status shown has its own colour class.
    assert set(page.cell_classes) == {"satisfied", "missing", "not-applicable"}
    assert page.cell_classes.count("satisfied") == 8
    for status in ("satisfied", "outdated", "too-new", "excluded", "missing", "url", "not-applicable"):
        assert re.search(r"\.%s\s*\{[^}]*background" % re.escape(status), page.style), status


# ---- === pins: an upper-constraints file ----------------------------------------------

UPPER_CONSTRAINTS = DATA / "requirements" / "upper-constraints" / "upper-constraints.txt"
# pin -> (status, bookworm's version): === orders like == when the pin is a version.
UPPER_CONSTRAINTS_BOOKWORM = {
    "PyYAML===6.0": ("satisfied", "6.0"),
    "beautifulsoup4===4.12.2": ("outdated", "4.11.2"),
    "requests===2.28.2": ("outdated", "2.28.1"),
    "urllib3===1.26.15": ("outdated", "1.26.12"),
    "python-novaclient===18.4.0": ("outdated", "18.1.0"),
    "deprecation===2.1.0": ("outdated", "2.0.7"),  # the metadata's version, not Debian's 2.1.0
    "pyOpenSSL===23.1.1": ("outdated", "23.0.0"),
    "cryptography===40.0.2": ("outdated", "38.0.4"),
    "Django===3.2.18": ("too-new", "3.2.25"),
    "six===1.16.0": ("satisfied", "1.16.0"),
    "python-dateutil===2.8.2": ("satisfied", "2.8.2"),
}


def test_check_orders_triple_equals_pins(tmp_path, archive, signing_key):
    result = check(UPPER_CONSTRAINTS, [f"bookworm@{archive.as_uri()}"], signing_key.keyring, tmp_path,
                   "--format", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    got = {
        row["requirement"]: (row["results"][f"bookworm@{archive.as_uri()}"]["status"],
                             row["results"][f"bookworm@{archive.as_uri()}"]["version"])
        for row in report["requirements"]
    }  # fmt: skip
    assert got == UPPER_CONSTRAINTS_BOOKWORM
    summary = report["summary"][f"bookworm@{archive.as_uri()}"]
    assert (summary["satisfied"], summary["outdated"], summary["too-new"], summary["excluded"]) == (3, 7, 1, 0)


LOCKS = DATA / "locks"
# name -> status on the archive's bookworm: the lock's exact pins against the real bookworm excerpts.
UV_LOCK_ON_BOOKWORM = {
    "attrs": "url", "certifi": "missing", "colorama": "not-applicable", "idna": "missing",
    "jinja2": "missing", "markupsafe": "missing", "pysocks": "missing", "pytest": "missing",
    "pyyaml": "outdated", "requests": "satisfied", "six": "satisfied", "urllib3": "satisfied",
}  # fmt: skip


def test_check_a_uv_lock_against_a_suite(tmp_path, archive, signing_key):
    target = f"bookworm@{archive.as_uri()}"
    result = check(LOCKS / "uv.lock", [target], signing_key.keyring, tmp_path,
                   "--format", "json", "--extra", "yaml", "--group", "dev")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    got = {row["name"]: row["results"][target]["status"] for row in report["requirements"]}
    assert got == UV_LOCK_ON_BOOKWORM
    text = (LOCKS / "uv.lock").read_text().splitlines()
    for row in report["requirements"]:
        assert row["file"] == str(LOCKS / "uv.lock")
        assert text[row["line"] - 1] == "[[package]]" and text[row["line"]] == f'name = "{row["name"]}"'
    yaml = next(row for row in report["requirements"] if row["name"] == "pyyaml")
    assert (yaml["specifier"], yaml["results"][target]["debian_version"]) == ("==6.0.1", "6.0-3+b2")
