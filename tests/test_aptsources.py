"""debvenv.sources.aptsources against real-shaped apt source trees (tests/data/sources/)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from debvenv.errors import EXIT_ENVIRONMENT, EnvironmentFailure
from debvenv.sources.aptsources import (
    AptSourcesError,
    SourceEntry,
    default_keyrings,
    distribution_of,
    read_sources,
    select_source,
    signing_keys,
    source_files,
    suite_distribution,
)

DATA = Path(__file__).parent / "data" / "sources"


def summary(entries):
    return [(e.type, e.uri, e.suite, " ".join(e.components)) for e in entries]


# ---------------------------------------------------------------- reading whole trees

MAIN = "main restricted universe multiverse"
UBUNTU = "http://mirror.example.org/ubuntu/"
UBUNTU_SECURITY = "http://security.example.org/ubuntu/"
CDROM = "cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 DVD Binary-1 with firmware 20240210-11:28]/"

TREES = [
    (
        "debian-bookworm",
        [
            ("deb", "http://mirror.example.org/debian", "bookworm", "main"),
            ("deb", "http://mirror.example.org/debian", "bookworm-updates", "main"),
            ("deb", "http://mirror.example.org/debian-security", "bookworm-security", "main"),
        ],
    ),
    (
        "ubuntu-jammy",
        [
            ("deb", UBUNTU, "jammy", "main restricted"),
            ("deb", UBUNTU, "jammy-updates", "main restricted"),
            ("deb", UBUNTU, "jammy", "universe"),
            ("deb-src", UBUNTU, "jammy", "universe"),
            ("deb", UBUNTU, "jammy-updates", "universe"),
            ("deb", UBUNTU, "jammy-backports", MAIN),
            ("deb", UBUNTU_SECURITY, "jammy-security", "main restricted"),
            ("deb", UBUNTU_SECURITY, "jammy-security", "universe"),
            ("deb", "http://mirror.example.org/ubuntu-ports/", "jammy", "main"),
        ],
    ),
    (
        "ubuntu-noble",
        [
            ("deb", UBUNTU, "noble", MAIN),
            ("deb", UBUNTU, "noble-updates", MAIN),
            ("deb", UBUNTU, "noble-backports", MAIN),
            ("deb", UBUNTU_SECURITY, "noble-security", MAIN),
        ],
    ),
    (
        "third-party",
        [
            ("deb", CDROM, "bookworm", "contrib main"),
            # disabled.sources: Enabled: no
            ("deb", "https://mirror.example.org/linux/debian", "bookworm", "stable"),
            ("deb", "file:///srv/mirror/local", "./", ""),
            ("deb", "file:///srv/mirror/debian", "trixie", "main contrib"),
            ("deb-src", "file:///srv/mirror/debian", "trixie", "main contrib"),
            ("deb", "https://mirror.example.org/pub/repos/apt", "bookworm-pgdg", "main"),
            ("deb", "file:///srv/mirror/debian", "bookworm", "main contrib non-free-firmware"),
            ("deb", "file:///srv/mirror/debian", "bookworm-backports", "main contrib non-free-firmware"),
            ("deb", "file:///srv/mirror/debian-security", "bookworm-security", "main"),
        ],
    ),
]


@pytest.mark.parametrize("tree, expected", TREES, ids=[t[0] for t in TREES])
def test_read_sources_finds_every_entry_in_apt_order(tree, expected):
    assert summary(read_sources(DATA / tree)) == expected


def test_only_list_and_sources_files_with_apt_names_are_read(tmp_path):
    tree = tmp_path / "third-party"
    shutil.copytree(DATA / "third-party", tree)
    # Made here, not committed: dpkg-source and dh_clean drop *~ files from a package build.
    (tree / "sources.list.d" / "backup.list~").write_text("this is not an apt source line\n")
    names = [p.name for p in source_files(tree)]
    # README, *.save, *~, "bad name.list", *.dpkg-old, *.txt, *.disabled hold garbage: never read.
    assert names == [
        "a-cdrom.list",
        "disabled.sources",
        "docker.list",
        "flat.list",
        "inline-key.sources",
        "pgdg.list",
        "zz-debian.sources",
    ]
    assert [p.name for p in source_files(DATA / "debian-bookworm")] == ["debian.sources"]


def test_missing_dir_has_no_sources(tmp_path):
    assert read_sources(tmp_path / "nowhere") == ()


def entry(tree: str, type_: str, uri: str, suite: str) -> SourceEntry:
    found = [e for e in read_sources(DATA / tree) if (e.type, e.uri, e.suite) == (type_, uri, suite)]
    assert len(found) == 1, found
    return found[0]


# Each row: which entry, then the fields it must carry.
FIELDS = [
    (
        ("debian-bookworm", "deb", "http://mirror.example.org/debian-security", "bookworm-security"),
        dict(
            architectures=(),
            signed_by="/usr/share/keyrings/debian-archive-keyring.gpg",
            trusted=False,
            origin="debian.sources:8",
        ),
    ),
    (
        ("ubuntu-jammy", "deb", UBUNTU, "jammy-backports"),
        dict(
            architectures=("amd64", "i386"),
            signed_by="/usr/share/keyrings/ubuntu-archive-keyring.gpg",
            trusted=False,
            origin="sources.list:21",
        ),
    ),
    (
        # "arch+=" with no "arch=" before it: only what was added is known.
        ("ubuntu-jammy", "deb", "http://mirror.example.org/ubuntu-ports/", "jammy"),
        dict(architectures=("arm64",), signed_by=None, trusted=False, origin="sources.list:25"),
    ),
    (
        ("third-party", "deb", "https://mirror.example.org/linux/debian", "bookworm"),
        dict(
            architectures=("amd64",),
            signed_by="/etc/apt/keyrings/docker.asc",
            trusted=False,
            origin="docker.list:1",
        ),
    ),
    (
        ("third-party", "deb", "file:///srv/mirror/local", "./"),
        dict(architectures=(), signed_by=None, trusted=True, origin="flat.list:1"),
    ),
    (
        # Lower-case field names; Signed-By continued on a second line.
        ("third-party", "deb", "file:///srv/mirror/debian", "bookworm-backports"),
        dict(
            architectures=(),
            signed_by="/usr/share/keyrings/debian-archive-keyring.gpg,"
            "/usr/share/keyrings/debian-archive-bookworm-stable.gpg",
            trusted=False,
            origin="zz-debian.sources:2",
        ),
    ),
    (
        ("third-party", "deb", "file:///srv/mirror/debian-security", "bookworm-security"),
        dict(architectures=(), signed_by=None, trusted=True, origin="zz-debian.sources:9"),
    ),
]


@pytest.mark.parametrize("where, fields", FIELDS, ids=lambda v: v[3] if isinstance(v, tuple) else "")
def test_entry_fields(where, fields):
    found = entry(*where)
    fields = dict(fields)
    origin = fields.pop("origin")
    assert {k: getattr(found, k) for k in fields} == fields
    assert f"{Path(found.origin.file).name}:{found.origin.line}" == origin


def test_inline_signed_by_key_is_unfolded_to_the_armored_block():
    found = entry("third-party", "deb-src", "file:///srv/mirror/debian", "trixie")
    assert found.architectures == ("amd64", "arm64")  # Architectures + Architectures-Add
    key = found.inline_key
    assert key is not None and key == found.signed_by
    lines = key.splitlines()
    # " ." became the empty line an armor header block needs.
    assert lines[:2] == ["-----BEGIN PGP PUBLIC KEY BLOCK-----", ""]
    assert lines[-1] == "-----END PGP PUBLIC KEY BLOCK-----"
    assert all(not line.startswith(" ") for line in lines)
    assert signing_keys(found).inline_keys == (key,)
    assert signing_keys(found).keyrings == ()


def test_cdrom_uri_keeps_its_bracketed_spaces():
    found = read_sources(DATA / "third-party")[0]
    assert found.uri == CDROM
    assert found.origin.line == 3  # line 1 is the same line commented out


def test_entries_are_frozen():
    found = read_sources(DATA / "debian-bookworm")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.suite = "trixie"  # type: ignore[misc]


# ---------------------------------------------------------------- choosing the entry for a suite

SELECT = [
    # tree, asked, (uri, suite listed) or None
    ("debian-bookworm", "bookworm", ("http://mirror.example.org/debian", "bookworm")),
    ("debian-bookworm", "bookworm-updates", ("http://mirror.example.org/debian", "bookworm-updates")),
    ("debian-bookworm", "bookworm-security", ("http://mirror.example.org/debian-security", "bookworm-security")),
    # Same distribution, not listed: the first entry of the right archive.
    ("debian-bookworm", "trixie", ("http://mirror.example.org/debian", "bookworm")),
    ("debian-bookworm", "sid", ("http://mirror.example.org/debian", "bookworm")),
    ("debian-bookworm", "bookworm-backports", ("http://mirror.example.org/debian", "bookworm")),
    ("debian-bookworm", "trixie-security", ("http://mirror.example.org/debian-security", "bookworm-security")),
    ("debian-bookworm", "stable-proposed-updates", ("http://mirror.example.org/debian", "bookworm")),
    # Another distribution, or an unknown suite: nothing to fall back on.
    ("debian-bookworm", "noble", None),
    ("debian-bookworm", "cloud-sdk-bookworm", None),  # only in a .disabled file
    ("debian-bookworm", "bookworm-pgdg", None),
    ("ubuntu-jammy", "jammy-security", (UBUNTU_SECURITY, "jammy-security")),
    ("ubuntu-jammy", "noble", (UBUNTU, "jammy")),
    ("ubuntu-jammy", "noble-security", (UBUNTU_SECURITY, "jammy-security")),
    ("ubuntu-jammy", "bookworm", None),
    ("ubuntu-noble", "noble-backports", (UBUNTU, "noble-backports")),
    ("ubuntu-noble", "oracular", (UBUNTU, "noble")),
    # Docker's ".../linux/debian bookworm stable" and the cdrom come first, but are
    # not the Debian archive; an exact match prefers the archive entry.
    ("third-party", "bookworm", ("file:///srv/mirror/debian", "bookworm")),
    ("third-party", "forky", ("file:///srv/mirror/debian", "trixie")),
    ("third-party", "bookworm-security", ("file:///srv/mirror/debian-security", "bookworm-security")),
    # A third-party suite is found when asked for by name.
    ("third-party", "bookworm-pgdg", ("https://mirror.example.org/pub/repos/apt", "bookworm-pgdg")),
    ("third-party", "experimental", ("file:///srv/mirror/debian", "trixie")),  # its own stanza is disabled
]


@pytest.mark.parametrize("tree, suite, expected", SELECT, ids=[f"{t}-{s}" for t, s, _ in SELECT])
def test_select_source(tree, suite, expected):
    found = select_source(read_sources(DATA / tree), suite)
    assert (None if found is None else (found.uri, found.suite)) == expected
    if found is not None:
        assert found.type == "deb"


def test_select_source_ignores_deb_src_entries():
    src_only = [e for e in read_sources(DATA / "ubuntu-jammy") if e.type == "deb-src"]
    assert src_only and select_source(src_only, "jammy") is None


def test_ubuntu_security_may_fall_back_to_the_main_archive():
    main_only = [e for e in read_sources(DATA / "ubuntu-noble") if "security" not in e.uri]
    assert (select_source(main_only, "noble-security").uri, "main archive") == (UBUNTU, "main archive")
    debian_main = [e for e in read_sources(DATA / "debian-bookworm") if "security" not in e.uri]
    assert select_source(debian_main, "bookworm-security") is None  # not on Debian's main archive


@pytest.mark.parametrize(
    "suite, distribution",
    [
        ("bookworm", "debian"),
        ("bookworm-backports-sloppy", "debian"),
        ("buster/updates", "debian"),
        ("unstable", "debian"),
        ("noble-proposed", "ubuntu"),
        ("devel", "ubuntu"),
        ("bookworm-pgdg", None),
        ("nodistro", None),
        ("./", None),
    ],
)
def test_suite_distribution(suite, distribution):
    assert suite_distribution(suite) == distribution


def test_distribution_of_needs_main_and_a_fetchable_uri():
    by_uri = {e.uri: distribution_of(e) for e in read_sources(DATA / "third-party")}
    assert by_uri[CDROM] is None
    assert by_uri["https://mirror.example.org/linux/debian"] is None
    assert by_uri["file:///srv/mirror/local"] is None
    assert by_uri["file:///srv/mirror/debian"] == "debian"


# ---------------------------------------------------------------- keyrings


def test_signing_keys_paths_fingerprints_and_defaults(tmp_path):
    etc = tmp_path / "apt"
    (etc / "trusted.gpg.d").mkdir(parents=True)
    for name in ("debian-archive-bookworm-stable.asc", "local.gpg", "notes.txt", "old.gpg~"):
        (etc / "trusted.gpg.d" / name).write_bytes(b"key")
    (etc / "trusted.gpg").write_bytes(b"legacy")
    defaults = (
        etc / "trusted.gpg.d" / "debian-archive-bookworm-stable.asc",
        etc / "trusted.gpg.d" / "local.gpg",
        etc / "trusted.gpg",
    )
    assert default_keyrings(etc) == defaults

    base = read_sources(DATA / "debian-bookworm")[0]
    paths = signing_keys(base, etc)
    assert paths.keyrings == (Path("/usr/share/keyrings/debian-archive-keyring.gpg"),)
    assert paths.fingerprints == ()

    unsigned = dataclasses.replace(base, signed_by=None)
    assert signing_keys(unsigned, etc).keyrings == defaults

    fpr = "4D64FEC119C2029067D6E791F8D2585B8783D481"
    pinned = dataclasses.replace(base, signed_by=f"{fpr},/etc/apt/keyrings/x.gpg")
    assert signing_keys(pinned, etc).keyrings == (Path("/etc/apt/keyrings/x.gpg"),)
    assert signing_keys(pinned, etc).fingerprints == (fpr,)
    only_fpr = dataclasses.replace(base, signed_by=fpr)
    assert signing_keys(only_fpr, etc).keyrings == defaults
    assert signing_keys(only_fpr, etc).fingerprints == (fpr,)


# ---------------------------------------------------------------- malformed files

MALFORMED = [
    ("x.list", "deb http://mirror.example.org/debian\n", 1, "expected 'deb [options] URI SUITE"),
    ("x.list", "\n\ndeb-source http://mirror.example.org/debian bookworm main\n", 3, "unknown source type 'deb-source'"),
    ("x.list", "deb [arch=amd64 http://mirror.example.org/debian bookworm main\n", 1, "without closing ']'"),
    ("x.list", "deb [arch] http://mirror.example.org/debian bookworm main\n", 1, "malformed option 'arch'"),
    ("x.list", "deb [trusted=maybe] http://mirror.example.org/debian bookworm main\n", 1, "'maybe' is not a boolean"),
    ("x.list", "deb [signed-by+=/k.gpg] http://mirror.example.org/debian bookworm main\n", 1, "does not take '+='"),
    ("x.list", "deb mirror.example.org/debian bookworm main\n", 1, "has no scheme"),
    ("x.list", "deb http://mirror.example.org/debian bookworm\n", 1, "needs at least one component"),
    ("x.list", "deb file:///srv/mirror/local ./ main\n", 1, "exact path and takes no components"),
    ("x.list", 'deb "http://mirror.example.org/debian bookworm main\n', 1, "unterminated"),
    ("x.sources", "Types: deb\nURIs: http://mirror.example.org/debian\nComponents: main\n", 1, "no Suites field"),
    ("x.sources", "Types: deb rpm\nURIs: http://mirror.example.org/debian\nSuites: sid\nComponents: main\n", 1, "unknown source type 'rpm'"),
    ("x.sources", "# c\nTypes: deb\nURIs: http://mirror.example.org/debian\nSuites: sid\n", 4, "needs at least one component"),
    ("x.sources", "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: sid\nComponents: main\nEnabled: maybe\n", 5, "Enabled: 'maybe'"),
    ("x.sources", "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: sid\nComponents: main\nTypes: deb\n", 5, "given twice"),
    ("x.sources", " continued\nTypes: deb\n", 1, "continuation line outside a field"),
    ("x.sources", "Types: deb\nthis line has no colon\n", 2, "expected 'Field: value'"),
    ("x.sources", "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: sid\nComponents: main\n"
     "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mDMEY865\n", 5, "no END line"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("x.list", "deb [check-valid-until=no] http://snapshot.example.org/archive/debian/20261101T000000Z sid main\n", False),
        ("x.list", "deb [ check-valid-until=yes arch=amd64 ] http://mirror.example.org/debian sid main\n", True),
        ("x.list", "deb http://mirror.example.org/debian sid main\n", None),
        ("x.sources", "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: sid\nComponents: main\nCheck-Valid-Until: no\n", False),
        ("x.sources", "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: sid\nComponents: main\n", None),
    ],
)
def test_check_valid_until_option(tmp_path, name, text, expected):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / name).write_text(text)
    (entry,) = read_sources(tmp_path)
    assert entry.check_valid_until is expected


MALFORMED.append(("x.list", "deb [check-valid-until=maybe] http://mirror.example.org/debian sid main\n", 1, "not a boolean"))


@pytest.mark.parametrize("name, text, line, message", MALFORMED, ids=[m[3][:30] for m in MALFORMED])
def test_malformed_line_names_file_and_line(tmp_path, name, text, line, message):
    (tmp_path / "sources.list.d").mkdir()
    path = tmp_path / "sources.list.d" / name
    path.write_text(text)
    with pytest.raises(AptSourcesError) as caught:
        read_sources(tmp_path)
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert (problem.file, problem.line) == (str(path), line)
    assert message in problem.message
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_every_bad_line_of_every_file_is_reported_at_once(tmp_path):
    (tmp_path / "sources.list").write_text("deb http://mirror.example.org/debian bookworm main\nbogus line\n")
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "a.sources").write_text("Types: deb\n\nURIs: x\n")
    with pytest.raises(AptSourcesError) as caught:
        read_sources(tmp_path)
    assert [(Path(p.file).name, p.line) for p in caught.value.problems] == [
        ("sources.list", 2),
        ("a.sources", 1),
        ("a.sources", 3),
    ]


def test_error_is_an_environment_failure():
    # The machine's apt configuration is broken: exit 3, like any other environment failure.
    assert issubclass(AptSourcesError, EnvironmentFailure)
    assert AptSourcesError([]).exit_code == EXIT_ENVIRONMENT


# ---------------------------------------------------------------- this machine


def _codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    return ""


@pytest.mark.skipif(not source_files(Path("/etc/apt")), reason="this machine has no apt sources")
def test_this_machines_sources():
    entries = read_sources()
    assert entries
    assert all(e.origin.file.startswith("/etc/apt/") for e in entries)
    codename = _codename()
    assert codename, "/etc/os-release names no VERSION_CODENAME"
    assert any(e.suite == codename and e.type == "deb" for e in entries)
    bookworm = select_source(entries, "bookworm")
    assert bookworm is not None and distribution_of(bookworm) == "debian"
    assert "main" in bookworm.components
