"""debvenv.sources.aptlists: the ``apt`` target, from this machine's real apt lists and tiny copies.

The real-lists tests compare against ``apt-cache policy`` on the same
lists. The tmp lists directories are built from the real bookworm excerpts
in tests/data (Packages, Contents-all, Contents-amd64, cut by
scripts/cut-fixtures), compressed with the ``lz4`` tool as apt stores them,
next to small backports/security/experimental lists written here: those
paragraphs are synthetic, shaped like the archive's.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from pathlib import Path
from typing import Dict, Optional

import pytest

from debvenv.debversion import debian_version_key
from debvenv.errors import EXIT_ENVIRONMENT
from debvenv.names import normalize
from debvenv.sources import aptlists
from debvenv.sources.aptlists import (
    NO_CONTENTS,
    NO_CONTENTS_WARNING,
    AptListsError,
    AptRelease,
    find_lists,
    load_apt_lists,
    read_packages_list,
)
from debvenv.sources.packages import PackagesError
from debvenv.sources.suite import DH_PYTHON_FALLBACK

DATA = Path(__file__).parent / "data"
REAL_LISTS = aptlists.DEFAULT_LISTS_DIR
APT_HELPER = aptlists.DEFAULT_APT_HELPER
NO_FALLBACK = Path("/nonexistent/cpython3_fallback")
NO_ETC = Path("/nonexistent/etc/apt")
# What apt names the lists of "deb file:/srv/mirror/debian SUITE main": no host name involved.
PREFIX = "_srv_mirror_debian_dists_"


def _machine_arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _policy(packages) -> Dict[str, Dict[str, Optional[str]]]:
    """``apt-cache policy``'s Installed and Candidate of each package, in one call."""
    out = subprocess.run(
        ["apt-cache", "policy", *packages],
        capture_output=True, text=True, check=True, env=dict(os.environ, LC_ALL="C"),
    ).stdout
    found = {}
    for block in re.split(r"^(?=\S)", out, flags=re.M):
        match = re.match(r"(\S+):\n  Installed: (\S+)\n  Candidate: (\S+)\n", block)
        if match:
            installed, candidate = match.group(2, 3)
            found[match.group(1)] = {
                "installed": None if installed == "(none)" else installed,
                "candidate": None if candidate == "(none)" else candidate,
                "table": block,
            }
    return found


def _offered(index, package):
    """Every provider of ``package`` in ``index``, whatever distribution name it goes by."""
    return [p for group in index.providers.values() for p in group if p.package == package]


# ---------------------------------------------------------------- the real lists of this machine


@pytest.fixture(scope="module")
def real():
    return load_apt_lists(REAL_LISTS, arch=_machine_arch())


@pytest.fixture(scope="module")
def real_lists():
    found = find_lists(REAL_LISTS, arch=_machine_arch())
    return [(lst, read_packages_list(lst, APT_HELPER)) for lst in found.packages]


@pytest.fixture(scope="module")
def policy():
    return _policy(["python3-yaml", "python3"])


def test_real_python3_yaml_is_offered_at_apt_candidate(real, policy):
    candidate = policy["python3-yaml"]["candidate"]
    offered = _offered(real, "python3-yaml")
    assert offered and {p.debian_version for p in offered} == {candidate}
    has_contents = any("_Contents-" in name for name in os.listdir(REAL_LISTS))
    # Whichever way the mapping was found, PyYAML's name reaches the package.
    (pyyaml,) = real.lookup("pyyaml")
    assert pyyaml.package == "python3-yaml"
    if has_contents:
        assert {p.mapping for p in offered} == {"contents"}
    else:
        # Without apt-file: dh-python's own list where it is installed, else the naming rule.
        assert pyyaml.mapping == ("dh-python" if DH_PYTHON_FALLBACK.is_file() else "guessed")
        assert [w for w in real.warnings if w.startswith(NO_CONTENTS)] == list(real.warnings[:1])


def test_real_target_python_is_python3_candidate(real, policy):
    candidate = policy["python3"]["candidate"]
    upstream = candidate.split(":", 1)[-1].rsplit("-", 1)[0]
    assert real.target.python == ".".join(upstream.split(".")[:2])
    assert real.target.marker_environment["python_full_version"] == upstream
    assert (real.target.id, real.target.kind, real.target.arch) == ("apt", "apt", _machine_arch())


def test_real_updated_packages_get_apt_candidate(real_lists):
    """Every package in two lists at different versions gets what apt-cache policy calls its Candidate."""
    seen: Dict[str, int] = {}
    for _, index in real_lists:
        for package in index:
            seen[package] = seen.get(package, 0) + 1
    # (priority, version) of every list carrying a package that is in several lists.
    versions: Dict[str, set] = {}
    for lst, index in real_lists:
        for package in index:
            if seen[package] > 1:
                versions.setdefault(package, set()).add((lst.priority, index[package].version))
    moved = sorted(name for name, found in versions.items() if len({v for _, v in found}) > 1)
    if not moved:
        pytest.skip("no package has two versions in this machine's apt lists")
    candidates = aptlists.choose_candidates(real_lists).packages
    policy = _policy(moved)
    checked = 0
    for name in moved:
        installed = policy[name]["installed"]
        if installed is not None and installed not in {v for _, v in versions[name]}:
            continue  # installed from elsewhere: apt keeps it as candidate rather than downgrade
        assert candidates[name].version == policy[name]["candidate"], policy[name]["table"]
        top = max(priority for priority, _ in versions[name])
        expected = max((v for p, v in versions[name] if p == top), key=debian_version_key)
        assert candidates[name].version == expected
        checked += 1
    assert checked


def test_real_provider_suite_is_a_codename(real):
    suites = {p.suite for group in real.providers.values() for p in group}
    releases = {
        lst.release.codename for lst in find_lists(REAL_LISTS, arch=_machine_arch()).packages if lst.release
    }
    assert suites and suites <= releases


# ---------------------------------------------------------------- tiny lists directories


def _lz4(path: Path, data: bytes) -> None:
    # apt stores lists lz4-compressed: the lz4 tool writes the same frame format.
    subprocess.run(["lz4", "-q", "-z", "-c"], input=data, stdout=path.open("wb"), check=True)


def _write(path: Path, data: bytes) -> None:
    if path.suffix == ".lz4":
        _lz4(path, data)
    elif path.suffix == ".gz":
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)


def _release(codename: str, suite: str, extra: str = "") -> str:
    return (
        f"Origin: Debian\nLabel: Debian\nSuite: {suite}\nVersion: 12\nCodename: {codename}\n"
        "Date: Sat, 10 May 2025 09:03:15 UTC\n"
        f"{extra}"
        "Architectures: all amd64 arm64 i386\nComponents: main contrib non-free-firmware non-free\n"
        f"Description: Debian 12 {suite}\n"
        "SHA256:\n"
        " 0000000000000000000000000000000000000000000000000000000000000000 1 main/binary-amd64/Packages\n"
    )


def _paragraph(package: str, source: str, version: str, arch: str = "all") -> str:
    filename = f"pool/main/{source[0]}/{source}/{package}_{version.split(':')[-1]}_{arch}.deb"
    return (
        f"Package: {package}\nSource: {source}\nVersion: {version}\nInstalled-Size: 1024\n"
        "Maintainer: Debian Python Team <team+python@tracker.debian.org>\n"
        f"Architecture: {arch}\nDepends: python3:any\n"
        f"Description: {package} (synthetic paragraph for debvenv's tests)\n"
        "Section: python\nPriority: optional\n"
        f"Filename: {filename}\nSize: 1000\n"
        "SHA256: 1111111111111111111111111111111111111111111111111111111111111111\n\n"
    )


BACKPORTS_PACKAGES = (
    _paragraph("python3-django", "python-django", "3:4.2.16-1~bpo12+1")
    + _paragraph("python3-pydantic-core", "pydantic-core", "2.14.6-1~bpo12+1", "amd64")
)
BACKPORTS_CONTENTS = (
    "usr/lib/python3/dist-packages/Django-4.2.16.dist-info/METADATA python/python3-django\n"
    "usr/lib/python3/dist-packages/pydantic_core-2.14.6.dist-info/METADATA python/python3-pydantic-core\n"
)
SECURITY_PACKAGES = _paragraph("python3-urllib3", "python-urllib3", "1.26.12-1+deb12u5")
EXPERIMENTAL_PACKAGES = _paragraph("python3-yaml", "pyyaml", "6.0.1-1", "amd64")
# A foreign architecture's list: it must not count for amd64.
I386_PACKAGES = _paragraph("python3", "python3-defaults", "3.99.0-1", "i386")


@pytest.fixture
def lists_dir(tmp_path, signing_key):
    """bookworm (lz4, with Contents), backports (gz, Contents), security and experimental (no Contents)."""
    root = tmp_path / "lists"
    root.mkdir()
    files = {
        "bookworm_main_binary-amd64_Packages.lz4": (DATA / "Packages").read_bytes(),
        "bookworm_main_binary-i386_Packages.lz4": I386_PACKAGES.encode(),
        "bookworm_main_Contents-all.lz4": (DATA / "Contents-all").read_bytes(),
        "bookworm_main_Contents-amd64.lz4": (DATA / "Contents-amd64").read_bytes(),
        "bookworm_main_i18n_Translation-en.lz4": b"Package: python3-yaml\nDescription-md5: x\n",
        "bookworm-backports_main_binary-amd64_Packages.gz": BACKPORTS_PACKAGES.encode(),
        "bookworm-backports_main_Contents-all.gz": BACKPORTS_CONTENTS.encode(),
        "bookworm-security_main_binary-amd64_Packages": SECURITY_PACKAGES.encode(),
        "experimental_main_binary-amd64_Packages.gz": EXPERIMENTAL_PACKAGES.encode(),
    }
    for name, data in files.items():
        _write(root / (PREFIX + name), data)
    releases = {
        "bookworm": _release("bookworm", "stable"),
        "bookworm-backports": _release(
            "bookworm-backports", "stable-backports", "NotAutomatic: yes\nButAutomaticUpgrades: yes\n"
        ),
        "bookworm-security": _release("bookworm-security", "stable-security"),
        "experimental": _release("experimental", "experimental", "NotAutomatic: yes\n"),
    }
    for suite, text in releases.items():
        clearsigned = _clearsign(signing_key, text)
        (root / f"{PREFIX}{suite}_InRelease").write_bytes(clearsigned)
    return root


def _clearsign(key, text: str) -> bytes:
    source = key.home.parent / "release-to-sign"
    source.write_text(text)
    return key.gpg("--clearsign", "--output", "-", str(source))


def _only(index, name):
    (provider,) = index.lookup(normalize(name))
    return provider


def test_contents_lists_give_metadata_mappings(lists_dir):
    index = load_apt_lists(lists_dir, arch="amd64", fallback=NO_FALLBACK, etc_dir=NO_ETC)
    yaml = _only(index, "PyYAML")
    assert (yaml.package, yaml.debian_version, yaml.version) == ("python3-yaml", "6.0-3+b2", "6.0")
    assert (yaml.mapping, yaml.version_source, yaml.suite) == ("contents", "metadata", "bookworm")
    assert yaml.path == "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info"
    assert _only(index, "beautifulsoup4").package == "python3-bs4"
    assert _only(index, "channels").package == "python3-django-channels"
    assert NO_CONTENTS_WARNING not in index.warnings
    # The i386 list's python3 3.99 is another architecture's: the target is bookworm's 3.11.
    assert (index.target.python, index.target.arch) == ("3.11", "amd64")


# (distribution, package, Debian version, upstream version, suite, mapping): apt's default priorities.
CANDIDATES = [
    # In bookworm (500) and bookworm-backports (100): bookworm's version, though lower.
    ("Django", "python3-django", "3:3.2.25-0+deb12u3", "3.2.25", "bookworm", "contents"),
    # Only in backports: offered from there, mapped by backports' own Contents.
    ("pydantic-core", "python3-pydantic-core", "2.14.6-1~bpo12+1", "2.14.6", "bookworm-backports",
     "contents"),
    # In bookworm and bookworm-security, both 500: the higher version; security has no Contents.
    ("urllib3", "python3-urllib3", "1.26.12-1+deb12u5", "1.26.12", "bookworm-security", "guessed"),
    # In bookworm (500) and experimental (1): bookworm's.
    ("PyYAML", "python3-yaml", "6.0-3+b2", "6.0", "bookworm", "contents"),
]


@pytest.mark.parametrize("name, package, debian_version, version, suite, mapping", CANDIDATES)
def test_candidate_follows_apt_priorities(lists_dir, name, package, debian_version, version, suite, mapping):
    index = load_apt_lists(lists_dir, arch="amd64", fallback=NO_FALLBACK, etc_dir=NO_ETC)
    provider = _only(index, name)
    assert (provider.package, provider.debian_version, provider.version) == (package, debian_version, version)
    assert (provider.suite, provider.mapping) == (suite, mapping)
    assert {p.debian_version for p in _offered(index, package)} == {debian_version}


def test_release_without_contents_is_named_in_a_warning(lists_dir):
    index = load_apt_lists(lists_dir, arch="amd64", fallback=NO_FALLBACK, etc_dir=NO_ETC)
    assert index.warnings == ("no Contents for bookworm-security in apt lists: its mappings are guessed",)


def test_no_contents_anywhere_guesses_with_dh_python_fallback(lists_dir, tmp_path):
    for path in lists_dir.glob("*_Contents-*"):
        path.unlink()
    # dh-python's format: "distribution package" per line.
    fallback = tmp_path / "cpython3_fallback"
    fallback.write_text("PyYAML python3-yaml\nbeautifulsoup4 python3-bs4\npyOpenSSL python3-openssl\n")
    index = load_apt_lists(lists_dir, arch="amd64", fallback=fallback, etc_dir=NO_ETC)
    # One line for every release: where the names come from.
    (warning,) = index.warnings
    assert warning.startswith(NO_CONTENTS) and str(fallback) in warning
    listed = [("PyYAML", "python3-yaml"), ("beautifulsoup4", "python3-bs4"), ("pyopenssl", "python3-openssl")]
    for name, package in listed:
        provider = _only(index, name)
        assert (provider.package, provider.mapping, provider.version_source) == (package, "dh-python", "debian")
    # The naming rule covers what the fallback list does not name.
    assert _only(index, "django").debian_version == "3:3.2.25-0+deb12u3"
    assert _only(index, "pydantic-core").suite == "bookworm-backports"


def test_no_contents_and_no_fallback_uses_the_naming_rule(lists_dir):
    for path in lists_dir.glob("*_Contents-*"):
        path.unlink()
    index = load_apt_lists(lists_dir, arch="amd64", fallback=NO_FALLBACK, etc_dir=NO_ETC)
    assert _only(index, "yaml").package == "python3-yaml"
    assert _only(index, "bs4").package == "python3-bs4"
    # Debian's usual spellings: a dropped "py" or "python-" prefix.
    assert (_only(index, "PyYAML").package, _only(index, "PyYAML").mapping) == ("python3-yaml", "guessed")
    assert _only(index, "pyOpenSSL").package == "python3-openssl"
    # No rule reaches beautifulsoup4: only metadata or dh-python's list can.
    assert index.lookup("beautifulsoup4") == ()


# (Release fields, priority): apt's defaults, no pinning.
PRIORITIES = [
    ("", 500),
    ("NotAutomatic: no\nButAutomaticUpgrades: no\n", 500),
    ("NotAutomatic: yes\nButAutomaticUpgrades: yes\n", 100),
    ("NotAutomatic: Yes\n", 1),
    ("ButAutomaticUpgrades: yes\n", 500),
]


@pytest.mark.parametrize("extra, priority", PRIORITIES)
def test_release_priority(extra, priority):
    release = AptRelease.from_text(_release("bookworm-backports", "stable-backports", extra), Path("Release"))
    assert release.priority == priority
    assert (release.name, release.suite) == ("bookworm-backports", "stable-backports")


def test_real_release_fields():
    releases = sorted(REAL_LISTS.glob("*_InRelease")) + sorted(REAL_LISTS.glob("*_Release"))
    assert releases
    for path in releases:
        release = aptlists.read_release(path)
        text = path.read_text()
        assert f"\nCodename: {release.codename}\n" in text
        assert f"\nSuite: {release.suite}\n" in text
        assert release.not_automatic == ("\nNotAutomatic: yes\n" in text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("Codename: sid\nNotAutomatic: maybe\n", "'maybe' is not yes/no"),
        ("Codename: sid\n<html>\n", "expected 'Field: value'"),
    ],
)
def test_bad_release(text, message):
    with pytest.raises(AptListsError, match=message):
        AptRelease.from_text(text, Path("Release"))


def test_flat_repository_release_without_suite_or_codename_is_accepted():
    # What `apt-ftparchive release` writes for a flat repository (autopkgtest adds one).
    release = AptRelease.from_text("Date: Sat, 21 Nov 2026 16:46:00 UTC\nMD5Sum:\n d41d8 0 Packages\n", Path("Release"))
    assert (release.name, release.priority) == (None, 500)


def test_release_without_inrelease_uses_plain_release(tmp_path):
    (tmp_path / f"{PREFIX}bookworm_Release").write_text(_release("bookworm", "stable"))
    _write(tmp_path / f"{PREFIX}bookworm_main_binary-amd64_Packages.gz", (DATA / "Packages").read_bytes())
    index = load_apt_lists(tmp_path, arch="amd64", fallback=NO_FALLBACK, etc_dir=NO_ETC)
    assert _only(index, "django").suite == "bookworm"


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("make", ["missing", "empty", "only-releases", "other-arch"])
def test_no_lists_says_run_apt_get_update(tmp_path, make):
    root = tmp_path / "lists"
    if make != "missing":
        (root / "partial").mkdir(parents=True)
        (root / "lock").write_bytes(b"")
    if make in ("only-releases", "other-arch"):
        (root / f"{PREFIX}bookworm_Release").write_text(_release("bookworm", "stable"))
    if make == "other-arch":
        _write(root / f"{PREFIX}bookworm_main_binary-arm64_Packages.gz", (DATA / "Packages").read_bytes())
    with pytest.raises(AptListsError, match="run apt-get update") as caught:
        load_apt_lists(root, arch="amd64", fallback=NO_FALLBACK, etc_dir=NO_ETC)
    assert caught.value.exit_code == EXIT_ENVIRONMENT
    if make == "other-arch":
        assert "no Packages lists for amd64" in str(caught.value)


def test_lz4_without_apt_helper(lists_dir, tmp_path):
    with pytest.raises(AptListsError, match=r"apt-helper.* is missing"):
        load_apt_lists(lists_dir, arch="amd64", apt_helper=tmp_path / "apt-helper", etc_dir=NO_ETC)


@pytest.mark.parametrize(
    "name", ["bookworm_main_binary-amd64_Packages.lz4", "bookworm_main_Contents-all.lz4"]
)
def test_truncated_lz4_list(lists_dir, name):
    path = lists_dir / (PREFIX + name)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(AptListsError, match=re.escape(str(path)) + ": cannot decompress: .*LZ4"):
        load_apt_lists(lists_dir, arch="amd64", fallback=NO_FALLBACK, etc_dir=NO_ETC)


def test_corrupt_packages_list(lists_dir):
    path = lists_dir / f"{PREFIX}bookworm-security_main_binary-amd64_Packages"
    path.write_text("<html>503 Service Unavailable</html>\n")
    expected = re.escape(str(path)) + ":1: line .* is not 'Field: value'"
    with pytest.raises(PackagesError, match=expected) as caught:
        load_apt_lists(lists_dir, arch="amd64", fallback=NO_FALLBACK, etc_dir=NO_ETC)
    assert caught.value.exit_code == EXIT_ENVIRONMENT


def test_lists_without_python3(tmp_path):
    _write(tmp_path / f"{PREFIX}bookworm-security_main_binary-amd64_Packages", SECURITY_PACKAGES.encode())
    with pytest.raises(AptListsError, match="offer no python3 package"):
        load_apt_lists(tmp_path, arch="amd64", fallback=NO_FALLBACK, etc_dir=NO_ETC)


# ---------------------------------------------------------------- pinning


# (preferences.d files, warned about): apt reads names without a dot or ending in .pref.
PINS = [
    ({}, []),
    ({"nodejs": "Package: nodejs\nPin: version 18.*\nPin-Priority: 600\n"}, ["preferences.d/nodejs"]),
    (
        {"backports.pref": "Package: *\nPin: release n=bookworm-backports\nPin-Priority: 500\n"},
        ["preferences.d/backports.pref"],
    ),
    ({"comments.pref": "# nothing pinned here\n\n"}, []),
    ({"old.disabled": "Package: *\nPin: release a=unstable\nPin-Priority: 900\n"}, []),
    ({"x.pref.dpkg-old": "Package: *\nPin: release a=unstable\nPin-Priority: 900\n"}, []),
]


@pytest.mark.parametrize("files, warned", PINS)
def test_pinning_is_reported_not_applied(lists_dir, tmp_path, files, warned):
    etc = tmp_path / "etc-apt"
    (etc / "preferences.d").mkdir(parents=True)
    for name, text in files.items():
        (etc / "preferences.d" / name).write_text(text)
    assert [str(p.relative_to(etc)) for p in aptlists.pinning_files(etc)] == warned
    index = load_apt_lists(lists_dir, arch="amd64", fallback=NO_FALLBACK, etc_dir=etc)
    pin_warnings = [w for w in index.warnings if "pinning" in w]
    assert len(pin_warnings) == (1 if warned else 0)
    # Candidates stay apt's defaults whatever the pins say.
    assert _only(index, "django").debian_version == "3:3.2.25-0+deb12u3"


def test_pinning_in_etc_apt_preferences(tmp_path):
    pin = "Package: python3-django\nPin: release n=bookworm-backports\nPin-Priority: 990\n"
    (tmp_path / "preferences").write_text(pin)
    assert aptlists.pinning_files(tmp_path) == (tmp_path / "preferences",)
