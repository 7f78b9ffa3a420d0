"""debvenv.targets: target names, where each suite comes from, and suite indexes through the cache.

The apt sources are the fixtures under tests/data/sources/ (a Debian
bookworm machine, an Ubuntu noble one, a machine with third-party
repositories); archives are tiny trees signed with the real gpg by
tests/signed_archive.py, read through file:// or loopback HTTP.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest

from debvenv.errors import EXIT_BAD_INPUT, EXIT_ENVIRONMENT, EnvironmentFailure, InputError
from debvenv.index import MAPPING_CONTENTS, VERSION_FROM_METADATA
from debvenv.sources.archive import ArchiveError, cached_suite
from debvenv.sources.contents import ContentsError
from debvenv.sources.packages import PackagesError
from debvenv.targets import (
    SuiteTarget,
    TargetOptions,
    age_text,
    base_suite,
    load_suite_target,
    load_target,
    obtain_suite,
    parse_target,
    suite_index,
    suite_source,
)
from signed_archive import DEFAULT_DATE, build_signed_archive, serve_directory

DATA = Path(__file__).parent / "data"
SOURCES = DATA / "sources"
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
UBUNTU_KEYRING = Path("/usr/share/keyrings/ubuntu-archive-keyring.gpg")
NOW = DEFAULT_DATE + timedelta(days=1)


# ---- parse_target -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, suites, mirror",
    [
        ("bookworm", ("bookworm",), None),
        ("bookworm+bookworm-backports", ("bookworm", "bookworm-backports"), None),
        (
            "bookworm+bookworm-updates+bookworm-security",
            ("bookworm", "bookworm-updates", "bookworm-security"),
            None,
        ),
        ("noble@http://127.0.0.1/ubuntu", ("noble",), "http://127.0.0.1/ubuntu"),
        ("noble@http://127.0.0.1/ubuntu/", ("noble",), "http://127.0.0.1/ubuntu"),
        ("trixie@https://127.0.0.1:8443/debian", ("trixie",), "https://127.0.0.1:8443/debian"),
        (
            "bookworm+bookworm-security@file:///srv/mirror/debian",
            ("bookworm", "bookworm-security"),
            "file:///srv/mirror/debian",
        ),
    ],
)
def test_parse_target(name, suites, mirror):
    assert parse_target(name) == SuiteTarget(id=name, suites=suites, mirror=mirror)


def test_a_login_in_a_target_is_kept_for_fetching_and_masked_in_its_id():
    # Everything after the first "@" is the mirror, its own "@" included.
    target = parse_target("sid@http://user:secret@127.0.0.1/debian")
    assert target == SuiteTarget(id="sid@http://user:***@127.0.0.1/debian", suites=("sid",),
                                 mirror="http://user:secret@127.0.0.1/debian")  # fmt: skip
    assert "secret" not in repr(target)
    assert parse_target("sid@http://user@127.0.0.1/debian").id == "sid@http://user@127.0.0.1/debian"


@pytest.mark.parametrize(
    "name, message",
    [
        ("a@ftp://x", "must be an http, https or file:// URL"),
        ("bookworm@127.0.0.1/debian", "must be an http, https or file:// URL"),
        ("bookworm@", "must be an http, https or file:// URL"),
        ("+bookworm", "'' is not a suite name"),
        ("bookworm+", "'' is not a suite name"),
        ("bookworm++bookworm-updates", "'' is not a suite name"),
        ("@http://127.0.0.1/debian", "'' is not a suite name"),
        ("book worm", "'book worm' is not a suite name"),
        ("bookworm\t", "is not a suite name"),
        ("buster/updates", "'buster/updates' is not a suite name"),
        # Suite names become URL paths and cache names: nothing that climbs out of dists/.
        ("..@file:///srv/mirror", "'..' is not a suite name"),
        ("bookworm+.hidden", "'.hidden' is not a suite name"),
        ("bookworm%2F..", "is not a suite name"),
        ("bookworm+bookworm-updates+bookworm", "names 'bookworm' more than once"),
        ("+".join(f"s{i}" for i in range(17)), "overlays 17 suites; at most 16"),
    ],
)
def test_parse_target_refuses(name, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_target(name)
    assert caught.value.exit_code == EXIT_BAD_INPUT == 2
    assert repr(name) in str(caught.value)


@pytest.mark.parametrize(
    "suite, base",
    [
        ("bookworm", "bookworm"),
        ("bookworm-backports", "bookworm"),
        ("bookworm-backports-sloppy", "bookworm"),
        ("bookworm-updates", "bookworm"),
        ("bookworm-security", "bookworm"),
        ("bookworm-proposed-updates", "bookworm"),
        ("noble-updates", "noble"),
        ("noble-proposed", "noble"),
        ("sid", "sid"),
        # Not pockets: suites of their own.
        ("rc-buggy", "rc-buggy"),
        ("bookworm-pgdg", "bookworm-pgdg"),
        ("cloud-sdk-bookworm", "cloud-sdk-bookworm"),
    ],
)
def test_base_suite(suite, base):
    assert base_suite(suite) == base


# ---- suite_source: the target's mirror, the options, then apt sources -------------


def options_for(machine: str, **changes) -> TargetOptions:
    return TargetOptions(apt_etc_dir=SOURCES / machine, arch="amd64", **changes)


@pytest.mark.parametrize(
    "machine, suite, mirror, components, keyrings",
    [
        # The entry naming the suite.
        ("debian-bookworm", "bookworm", "http://mirror.example.org/debian", ("main",), (DEBIAN_KEYRING,)),
        ("debian-bookworm", "bookworm-updates", "http://mirror.example.org/debian", ("main",), (DEBIAN_KEYRING,)),
        (
            "debian-bookworm", "bookworm-security", "http://mirror.example.org/debian-security",
            ("main",), (DEBIAN_KEYRING,),
        ),
        # No entry names it: the first Debian entry of the same kind of archive.
        ("debian-bookworm", "trixie", "http://mirror.example.org/debian", ("main",), (DEBIAN_KEYRING,)),
        ("debian-bookworm", "sid", "http://mirror.example.org/debian", ("main",), (DEBIAN_KEYRING,)),
        (
            "debian-bookworm", "trixie-security", "http://mirror.example.org/debian-security",
            ("main",), (DEBIAN_KEYRING,),
        ),
        (
            "ubuntu-noble", "noble", "http://mirror.example.org/ubuntu",
            ("main", "restricted", "universe", "multiverse"), (UBUNTU_KEYRING,),
        ),
        (
            "ubuntu-noble", "noble-security", "http://security.example.org/ubuntu",
            ("main", "restricted", "universe", "multiverse"), (UBUNTU_KEYRING,),
        ),
        (
            "ubuntu-noble", "jammy", "http://mirror.example.org/ubuntu",
            ("main", "restricted", "universe", "multiverse"), (UBUNTU_KEYRING,),
        ),
        # Ubuntu's one-line sources.list names a suite's components on several lines.
        (
            "ubuntu-jammy", "jammy", "http://mirror.example.org/ubuntu",
            ("main", "restricted", "universe"), (),
        ),
        (
            "ubuntu-jammy", "jammy-updates", "http://mirror.example.org/ubuntu",
            ("main", "restricted", "universe"), (),
        ),
        (
            "ubuntu-jammy", "jammy-security", "http://security.example.org/ubuntu",
            ("main", "restricted", "universe"), (),
        ),
        (
            "ubuntu-jammy", "jammy-backports", "http://mirror.example.org/ubuntu",
            ("main", "restricted", "universe", "multiverse"), (UBUNTU_KEYRING,),
        ),
        # A local mirror tree with two keyrings; docker's "bookworm stable" entry is not an archive.
        (
            "third-party", "bookworm", "file:///srv/mirror/debian", ("main", "contrib", "non-free-firmware"),
            (DEBIAN_KEYRING, Path("/usr/share/keyrings/debian-archive-bookworm-stable.gpg")),
        ),
    ],
)  # fmt: skip
def test_suite_source_from_apt_sources(machine, suite, mirror, components, keyrings):
    source = suite_source(suite, None, options_for(machine))
    assert source.suite == suite
    assert source.mirror == mirror
    assert source.components == components
    assert source.keyrings == keyrings
    assert source.arch == "amd64"
    assert source.verify is True


def test_suite_source_inline_key(tmp_path):
    source = suite_source("trixie", None, options_for("third-party"))
    assert source.mirror == "file:///srv/mirror/debian"
    assert source.components == ("main", "contrib")
    assert source.keyrings == ()
    assert len(source.inline_keys) == 1
    assert source.inline_keys[0].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


@pytest.mark.parametrize("machine", ["debian-bookworm", "third-party"])
def test_suite_source_ubuntu_suite_on_a_debian_machine_needs_a_mirror(machine):
    with pytest.raises(InputError, match=r"give --mirror URL or write it as noble@URL") as caught:
        suite_source("noble", None, options_for(machine))
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_suite_source_unknown_suite_needs_a_mirror():
    with pytest.raises(InputError, match="no apt source on this machine serves it"):
        suite_source("nodistro", None, options_for("debian-bookworm"))


def test_suite_source_options_override_apt_sources(tmp_path):
    keyring = tmp_path / "archive.gpg"
    keyring.write_bytes(b"")
    options = options_for(
        "debian-bookworm",
        mirror="file:///srv/mirror/debian/",
        components=("main", "contrib"),
        keyrings=(keyring,),
    )
    options = dataclasses.replace(options, arch="arm64")
    source = suite_source("bookworm", None, options)
    assert (source.mirror, source.components, source.keyrings, source.arch) == (
        "file:///srv/mirror/debian", ("main", "contrib"), (keyring,), "arm64",
    )  # fmt: skip
    assert source.inline_keys == () and source.fingerprints == ()


def test_suite_source_mirror_in_the_target_beats_the_option():
    options = options_for("debian-bookworm", mirror="file:///srv/mirror/debian")
    source = suite_source("bookworm", "http://127.0.0.1:8080/debian", options)
    assert source.mirror == "http://127.0.0.1:8080/debian"
    # The rest still comes from the entry for bookworm.
    assert source.components == ("main",)
    assert source.keyrings == (DEBIAN_KEYRING,)


def test_suite_source_arch_defaults_to_dpkgs():
    dpkg = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True)
    options = TargetOptions(apt_etc_dir=SOURCES / "debian-bookworm")
    assert suite_source("bookworm", None, options).arch == dpkg.stdout.strip()


def test_suite_with_own_mirror_uses_the_distributions_keyring(tmp_path):
    keyring_dir = tmp_path / "keyrings"
    keyring_dir.mkdir()
    (keyring_dir / "ubuntu-archive-keyring.gpg").write_bytes(b"")
    options = options_for("debian-bookworm", keyring_dir=keyring_dir)
    source = suite_source("noble", "http://127.0.0.1/ubuntu", options)
    assert source.mirror == "http://127.0.0.1/ubuntu"
    assert source.components == ("main",)
    assert source.keyrings == (keyring_dir / "ubuntu-archive-keyring.gpg",)


def test_suite_with_own_mirror_and_no_keyring_is_fetched_keyless(tmp_path):
    # Verification, not this, refuses it (test_archive.py): first the mirror says whether the suite exists.
    options = options_for("debian-bookworm", keyring_dir=tmp_path)
    source = suite_source("noble", "http://127.0.0.1/ubuntu", options)
    assert source.verify and source.keyrings == () and source.inline_keys == ()


def test_suite_with_own_mirror_and_no_keyring_unverified(tmp_path):
    options = options_for("debian-bookworm", keyring_dir=tmp_path, verify=False)
    source = suite_source("noble", "http://127.0.0.1/ubuntu", options)
    assert source.keyrings == () and source.verify is False


def test_suite_with_own_mirror_on_this_machine():
    """The real /usr/share/keyrings: the Ubuntu keyring if ubuntu-keyring is installed, else --keyring."""
    options = options_for("debian-bookworm")
    expected = (UBUNTU_KEYRING,) if UBUNTU_KEYRING.exists() else ()
    assert suite_source("noble", "http://127.0.0.1/ubuntu", options).keyrings == expected


def test_unknown_suite_with_own_mirror_has_no_keyring():
    # Verification asks for --keyring once the mirror shows the suite exists (test_archive.py).
    source = suite_source("nodistro", "http://127.0.0.1/node", options_for("debian-bookworm"))
    assert source.verify and source.keyrings == ()


# ---- age_text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "age, text",
    [
        (timedelta(seconds=-5), "0 minutes"),  # a clock skewed backwards
        (timedelta(seconds=0), "0 minutes"),
        (timedelta(seconds=59), "0 minutes"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=40), "40 minutes"),
        (timedelta(minutes=59, seconds=59), "59 minutes"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(hours=5, minutes=50), "5 hours"),
        (timedelta(hours=47), "47 hours"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=3, hours=23), "3 days"),
        (timedelta(days=400), "400 days"),
    ],
)
def test_age_text(age, text):
    assert age_text(age) == text


# ---- fetching, caching and overlaying suites --------------------------------------


def _paragraph(package: str) -> bytes:
    text = (DATA / "Packages").read_bytes()
    start = text.index(b"Package: %s\n" % package.encode())
    end = text.find(b"\n\n", start)
    return text[start : end + 1 if end >= 0 else len(text)]


def _bookworm_files() -> dict:
    return {
        "main/binary-amd64/Packages.xz": (DATA / "Packages").read_bytes(),
        "main/Contents-all.gz": (DATA / "Contents-all").read_bytes(),
        "main/Contents-amd64.gz": (DATA / "Contents-amd64").read_bytes(),
    }


def _security_files() -> dict:
    django = _paragraph("python3-django").replace(b"0+deb12u3", b"0+deb12u4")
    deprecation = _paragraph("python3-deprecation").replace(b"2.1.0-2", b"2.1.0-2+deb12u1")
    return {
        "main/binary-amd64/Packages.xz": django + b"\n" + deprecation,
        # debian-security publishes empty Contents.
        "main/Contents-amd64.gz": b"",
    }


@pytest.fixture
def archive(tmp_path, signing_key):
    root = tmp_path / "mirror"
    build_signed_archive(root, "bookworm", _bookworm_files(), key=signing_key)
    build_signed_archive(root, "bookworm-security", _security_files(), key=signing_key)
    return root


def archive_options(tmp_path: Path, keyring: Path, **changes) -> TargetOptions:
    base = TargetOptions(
        apt_etc_dir=SOURCES / "debian-bookworm",
        cache_dir=tmp_path / "cache",
        arch="amd64",
        components=("main",),
        keyrings=(keyring,),
        now=NOW,
    )
    return dataclasses.replace(base, **changes)


def test_suite_index_is_built_once_and_cached(tmp_path, archive, signing_key):
    options = archive_options(tmp_path, signing_key.keyring)
    source = suite_source("bookworm", archive.as_uri(), options)
    fetched = obtain_suite(source, options, refresh=False)
    index = suite_index(fetched, options)
    assert index.target.id == "bookworm" and index.target.python == "3.11"
    (yaml,) = index.lookup("pyyaml")
    assert (yaml.package, yaml.version, yaml.mapping) == ("python3-yaml", "6.0", MAPPING_CONTENTS)
    assert dict(index.unmapped) == {}  # a release, not a pocket
    cached = list((tmp_path / "cache" / "indexes").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".json"
    # The cached parse answers next time, even if the index files are gone.
    for index_file in fetched.packages + fetched.contents:
        index_file.path.unlink()
    again = suite_index(fetched, options)
    assert {k: tuple(v) for k, v in again.providers.items()} == dict(index.providers)


def test_a_parse_cached_by_other_code_is_not_answered_from(tmp_path, archive, signing_key, monkeypatch):
    # Seen for real: a parse cached before the A+reallyB rule kept trixie's click at
    # "8.2.0+0.really.8.1.8" (so click>=8.2 satisfied) after the rule was fixed.
    import debvenv.index

    options = archive_options(tmp_path, signing_key.keyring)
    fetched = obtain_suite(suite_source("bookworm", archive.as_uri(), options), options, refresh=False)
    suite_index(fetched, options)
    (cached,) = (tmp_path / "cache" / "indexes").iterdir()
    stale = cached.read_text().replace('"6.0-3+b2","6.0"', '"6.0-3+b2","99.0"')
    assert stale != cached.read_text()
    cached.write_text(stale)
    assert suite_index(fetched, options).lookup("pyyaml")[0].version == "99.0"  # same code: the cache answers
    # Other code (another debvenv, or this one changed): its own key, a fresh parse.
    monkeypatch.setattr(debvenv.index, "_derivation", "a debvenv whose rules differ")
    assert suite_index(fetched, options).lookup("pyyaml")[0].version == "6.0"
    assert len(list((tmp_path / "cache" / "indexes").iterdir())) == 2


def test_parses_nobody_read_for_two_weeks_are_removed_when_one_is_saved(tmp_path, archive, signing_key):
    options = archive_options(tmp_path, signing_key.keyring)
    indexes = tmp_path / "cache" / "indexes"
    indexes.mkdir(parents=True, mode=0o755)
    old, recent, other = indexes / ("a" * 64 + ".json"), indexes / ("b" * 64 + ".json"), indexes / "notes.txt"
    outside = tmp_path / "outside.json"
    for path in (old, recent, other, outside):
        path.write_text("{}")
    month_ago = time.time() - 30 * 86400
    for path in (old, other, outside):
        os.utime(path, (month_ago, month_ago))
    link = indexes / ("c" * 64 + ".json")
    link.symlink_to(outside)
    os.utime(link, (month_ago, month_ago), follow_symlinks=False)
    fetched = obtain_suite(suite_source("bookworm", archive.as_uri(), options), options, refresh=False)
    suite_index(fetched, options)
    left = sorted(path.name for path in indexes.iterdir())
    assert old.name not in left and recent.name in left and other.name in left and link.name in left
    assert outside.exists()
    assert len(left) == 4  # the new parse, the recent one, the other name, the link (never followed)


def test_an_alias_with_the_same_files_has_its_own_index(tmp_path, signing_key):
    root = tmp_path / "mirror"
    for suite in ("bookworm", "stable"):
        build_signed_archive(root, suite, _bookworm_files(), key=signing_key, codename="bookworm")
    options = archive_options(tmp_path, signing_key.keyring)
    fetched = {
        suite: obtain_suite(suite_source(suite, root.as_uri(), options), options, refresh=False)
        for suite in ("bookworm", "stable")
    }
    assert fetched["bookworm"].key() == fetched["stable"].key()
    for suite in ("bookworm", "stable", "bookworm"):
        index = suite_index(fetched[suite], options)
        assert index.target.id == suite
        assert {p.suite for group in index.providers.values() for p in group} == {suite}
    assert len(list((tmp_path / "cache" / "indexes").iterdir())) == 2


# tests/data/Packages' python3-* packages that tests/data/Contents-* give no metadata.
BOOKWORM_BARE = {}


def test_pocket_index_keeps_its_unmapped_packages(tmp_path, archive, signing_key):
    options = archive_options(tmp_path, signing_key.keyring)
    source = suite_source("bookworm-security", archive.as_uri(), options)
    index = suite_index(obtain_suite(source, options, refresh=False), options)
    assert dict(index.providers) == {}
    assert dict(index.unmapped) == {
        "python3-django": ("3:3.2.25-0+deb12u4", "all"),
        "python3-deprecation": ("2.1.0-2+deb12u1", "all"),
    }
    # Its own Contents name neither, so far: the release's will (the overlay below).
    assert dict(index.bare) == dict(index.unmapped)
    assert index.target.python == ""


def test_overlay_of_a_release_and_its_security_pocket(tmp_path, archive, signing_key):
    options = archive_options(tmp_path, signing_key.keyring)
    name = f"bookworm+bookworm-security@{archive.as_uri()}"
    index = load_target(name, options)
    assert index.target.id == name
    assert (index.target.kind, index.target.python, index.target.arch) == ("suite", "3.11", "amd64")
    assert [(p.debian_version, p.version, p.suite) for p in index.lookup("django")] == [
        ("3:3.2.25-0+deb12u3", "3.2.25", "bookworm"),
        ("3:3.2.25-0+deb12u4", "3.2.25", "bookworm-security"),
    ]
    # Only the revision moved: the metadata version still holds in the pocket.
    assert [(p.debian_version, p.version, p.version_source) for p in index.lookup("deprecation")] == [
        ("2.1.0-2", "2.0.7", VERSION_FROM_METADATA),
        ("2.1.0-2+deb12u1", "2.0.7", VERSION_FROM_METADATA),
    ]
    assert [p.package for p in index.lookup("pyyaml")] == ["python3-yaml"]
    # Mapped through the release, the pocket's packages are no longer "without metadata".
    assert "python3-django" not in index.bare and "python3-deprecation" not in index.bare
    assert index.bare == BOOKWORM_BARE


def test_pocket_alone_borrows_its_release_from_its_own_mirror(tmp_path, archive, signing_key):
    # The apt sources name a bookworm entry on another mirror: the pocket's
    # own mirror is where its release is looked for when that one is refused.
    options = archive_options(tmp_path, signing_key.keyring, apt_etc_dir=tmp_path / "no-apt")
    index = load_suite_target(parse_target(f"bookworm-security@{archive.as_uri()}"), options)
    assert index.target.python == "3.11"
    assert [(p.debian_version, p.suite) for p in index.lookup("django")] == [
        ("3:3.2.25-0+deb12u4", "bookworm-security")
    ]
    assert index.lookup("pyyaml") == ()  # the release lends its mapping, not its packages


def test_fresh_cache_is_used_without_asking_the_mirror(tmp_path, signing_key):
    root = tmp_path / "mirror"
    build_signed_archive(root, "bookworm", _bookworm_files(), key=signing_key)
    options = archive_options(tmp_path, signing_key.keyring)
    with serve_directory(root) as url:
        source = suite_source("bookworm", url, options)
        first = obtain_suite(source, options, refresh=False)
    assert first.offline is False
    # The server is gone; an hour later the cache is still fresh (max_age 6 hours).
    later = dataclasses.replace(options, now=NOW + timedelta(hours=1))
    again = obtain_suite(source, later, refresh=False)
    assert again.offline is False
    assert again.key() == first.key()
    assert again.warnings == ()


def test_stale_cache_and_unreachable_mirror_says_how_old(tmp_path, signing_key):
    root = tmp_path / "mirror"
    build_signed_archive(root, "bookworm", _bookworm_files(), key=signing_key)
    options = archive_options(tmp_path, signing_key.keyring)
    with serve_directory(root) as url:
        name = f"bookworm@{url}"
        load_target(name, options)
    later = dataclasses.replace(options, now=NOW + timedelta(days=3, hours=2))
    index = load_target(name, later)
    assert index.target.python == "3.11"
    assert [p.package for p in index.lookup("pyyaml")] == ["python3-yaml"]
    # One note says why and since when, the other how old that is; nothing is said twice.
    unreachable, age = index.warnings
    assert unreachable.startswith(f"bookworm from {url.rstrip('/')}: mirror unreachable (")
    assert unreachable.endswith("using the copy fetched 2025-05-11 09:03 UTC")
    assert age == f"bookworm from {url.rstrip('/')}: the cached index in use is 3 days old"


def test_refresh_with_unreachable_mirror_and_no_cache(tmp_path, signing_key):
    root = tmp_path / "mirror"
    build_signed_archive(root, "bookworm", _bookworm_files(), key=signing_key)
    options = archive_options(tmp_path, signing_key.keyring, refresh=True)
    with serve_directory(root) as url:
        pass
    with pytest.raises(ArchiveError, match="no cached copy"):
        load_target(f"bookworm@{url}", options)


def test_suite_without_python3_is_refused(tmp_path, signing_key):
    root = tmp_path / "mirror"
    files = {"main/binary-amd64/Packages.xz": _paragraph("python3-yaml"), "main/Contents-amd64.gz": b""}
    build_signed_archive(root, "sid", files, key=signing_key)
    options = archive_options(tmp_path, signing_key.keyring)
    with pytest.raises(EnvironmentFailure, match="no python3 package in the suites") as caught:
        load_target(f"sid@{root.as_uri()}", options)
    assert caught.value.exit_code == EXIT_ENVIRONMENT


@pytest.mark.parametrize("bombed", ["main/binary-amd64/Packages.gz", "main/Contents-amd64.gz"])
def test_a_signed_decompression_bomb_stops_at_the_listed_size_and_is_not_kept(tmp_path, signing_key, bombed):
    """A validly signed gzip of 256 MiB of NULs, where the Release lists the real, small file."""
    files = _bookworm_files()
    plain = bombed[: -len(".gz")]
    if "Packages" in bombed:
        files.pop("main/binary-amd64/Packages.xz")
    # Listed (as Debian lists it) with its real content: the size the bomb must not pass.
    files[plain] = (DATA / ("Packages" if "Packages" in plain else "Contents-amd64")).read_bytes()
    files[bombed] = bytes(256 << 20)
    root = tmp_path / "mirror"
    build_signed_archive(root, "bookworm", files, key=signing_key)
    options = archive_options(tmp_path, signing_key.keyring)
    source = suite_source("bookworm", root.as_uri(), options)
    fetched = obtain_suite(source, options, refresh=False)
    with pytest.raises((PackagesError, ContentsError)) as raised:
        suite_index(fetched, options)
    assert raised.value.exit_code == EXIT_ENVIRONMENT
    assert "too large" in str(raised.value) and str(len(files[plain])) in str(raised.value)
    # Nothing of it is kept: no state to answer from, no parsed index, the store emptied.
    assert cached_suite(source, tmp_path / "cache", now=NOW) is None
    assert list((tmp_path / "cache" / "files" / "sha256").iterdir()) == []
    assert not (tmp_path / "cache" / "indexes").exists() or not list((tmp_path / "cache" / "indexes").iterdir())


@pytest.mark.parametrize(
    "target",
    ["bookworm@http://[::1", "bookworm@http://127.0.0.1:port/", "x@javascript:", "bookworm@http:///debian",
     "bookworm@http://127.0.0.1/a b"],  # fmt: skip
)
def test_a_mirror_url_that_cannot_be_one_is_bad_input(target):
    with pytest.raises(InputError) as raised:
        parse_target(target)
    assert raised.value.exit_code == EXIT_BAD_INPUT
    assert repr(target) in str(raised.value)


@pytest.mark.parametrize("mirror", ["javascript:x", "http://[::1", "ftp://host/debian"])
def test_a_bad_mirror_option_is_bad_input_like_a_bad_target(mirror):
    options = TargetOptions(apt_etc_dir=SOURCES / "debian-bookworm", mirror=mirror, arch="amd64")
    with pytest.raises(InputError) as raised:
        suite_source("bookworm", None, options)
    assert raised.value.exit_code == EXIT_BAD_INPUT
    assert "--mirror" in str(raised.value) and repr(mirror) in str(raised.value)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"components": ("main", "../../x")}, "--components: '../../x' is not a component name"),
        ({"components": ("main/../..",)}, "is not a component name"),
        ({"arch": "amd64/../x"}, "--arch 'amd64/../x': not a Debian architecture name"),
    ],
)
def test_suite_source_refuses_components_and_arch_that_are_not_names(change, message):
    # They become paths in URLs and in the cache: refused before anything is fetched.
    options = dataclasses.replace(options_for("debian-bookworm"), **change)
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        suite_source("bookworm", None, options)
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_suite_source_takes_updates_main_as_a_component():
    options = dataclasses.replace(options_for("debian-bookworm"), components=("updates/main",))
    assert suite_source("bookworm", None, options).components == ("updates/main",)
