"""debvenv.sources.release: gpgv verification, Release parsing, Valid-Until and index hashes.

Signed archives are made by tests/signed_archive.py with the real gpg; the
Release excerpts in tests/data/sources/ (Release, Release-security) were cut
from Debian's bookworm and bookworm-security InRelease payloads: the header
and the SHA256 (and MD5Sum) lines of the main amd64 indexes.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from debvenv.errors import EXIT_ENVIRONMENT
from debvenv.sources.aptsources import read_sources, select_source, signing_keys
from debvenv.sources.release import (
    IndexFileEntry,
    IndexHashError,
    ReleaseExpiredError,
    ReleaseFormatError,
    ReleaseVerificationError,
    check_index_file,
    check_valid_until,
    judge_gpgv_status,
    parse_release,
    verify_detached,
    verify_inrelease,
)
from signed_archive import DEFAULT_DATE, build_signed_archive, sign_release

DATA = Path(__file__).parent / "data" / "sources"
UTC = timezone.utc

PACKAGES = b"""\
Package: python3-yaml
Source: pyyaml
Version: 6.0-3+b2
Architecture: amd64
Filename: pool/main/p/pyyaml/python3-yaml_6.0-3+b2_amd64.deb

Package: python3-bs4
Source: beautifulsoup4
Version: 4.11.2-2
Architecture: all
Filename: pool/main/b/beautifulsoup4/python3-bs4_4.11.2-2_all.deb
"""
CONTENTS_ALL = b"""\
usr/lib/python3/dist-packages/beautifulsoup4-4.11.2.dist-info/METADATA python/python3-bs4
usr/share/doc/python3-bs4/changelog.Debian.gz python/python3-bs4
"""
CONTENTS_AMD64 = b"""\
usr/lib/python3/dist-packages/PyYAML-6.0.egg-info/PKG-INFO python/python3-yaml
"""
FILES = {
    "main/binary-amd64/Packages.xz": PACKAGES,
    "main/binary-amd64/Packages.gz": PACKAGES,
    "main/Contents-all.gz": CONTENTS_ALL,
    "main/Contents-amd64.gz": CONTENTS_AMD64,
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory, signing_key):
    """One good archive per module; tests that tamper copy the bytes they change."""
    return build_signed_archive(tmp_path_factory.mktemp("archive"), "bookworm", FILES, key=signing_key)


# ---------------------------------------------------------------- parsing real Release excerpts

PARSED = [
    (
        "Release",
        dict(
            origin="Debian",
            label="Debian",
            suite="oldstable",
            codename="bookworm",
            version="12.15",
            date=datetime(2026, 7, 11, 10, 16, 37, tzinfo=UTC),
            valid_until=None,
            architectures=("all", "amd64", "arm64", "armel", "armhf", "i386", "mips64el", "mipsel", "ppc64el", "s390x"),
            components=("main", "contrib", "non-free-firmware", "non-free"),
            acquire_by_hash=True,
        ),
        {
            "main/Contents-all.gz": (34017224, "cc80fbae45044eaa2eab0b7005e6cfd4bd72472d501c532d51aa26523e1ace6d"),
            "main/binary-amd64/Packages.xz": (8790396, "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5"),
        },
        7,
    ),
    (
        "Release-security",
        dict(
            origin="Debian",
            label="Debian-Security",
            suite="oldstable-security",
            codename="bookworm-security",
            version="12",
            date=datetime(2026, 11, 20, 0, 12, 41, tzinfo=UTC),
            valid_until=datetime(2026, 11, 27, 0, 12, 41, tzinfo=UTC),
            architectures=("amd64", "arm64", "armhf", "i386", "ppc64el"),
            components=("updates/main", "updates/contrib", "updates/non-free-firmware", "updates/non-free"),
            acquire_by_hash=True,
        ),
        {
            # An empty Contents file is listed with size 0.
            "main/Contents-amd64": (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            "main/binary-amd64/Packages.xz": (376904, "d3a45860a3f001b55d20eb371c8ed4095115c4bf77666c2847bb3c9d0bb46986"),
        },
        4,
    ),
]


@pytest.mark.parametrize("name, fields, some_files, count", PARSED, ids=[p[0] for p in PARSED])
def test_parse_real_release(name, fields, some_files, count):
    release = parse_release((DATA / name).read_text(), source=name)
    assert {k: getattr(release, k) for k in fields} == fields
    assert release.source == name
    assert len(release.files) == count
    for path, (size, sha256) in some_files.items():
        assert release.files[path] == IndexFileEntry(path=path, size=size, sha256=sha256)
        assert release.entry(path) is release.files[path]


def test_md5sum_is_ignored_only_sha256_counts():
    text = (DATA / "Release").read_text()
    # An MD5Sum line for a file SHA256 does not list must not appear in files.
    text = text.replace("MD5Sum:\n", "MD5Sum:\n 00000000000000000000000000000000 1 main/i18n/Translation-en\n")
    release = parse_release(text, source="Release")
    assert "main/i18n/Translation-en" not in release.files
    with pytest.raises(ReleaseFormatError, match="main/i18n/Translation-en is not listed in SHA256"):
        release.entry("main/i18n/Translation-en")


HEADER = "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 10 May 2025 09:03:15 UTC\n"
SHA_LINE = " " + "ab" * 32 + " 12 main/binary-amd64/Packages.xz\n"

DATES = [
    ("Sat, 10 May 2025 09:03:15 UTC", datetime(2025, 5, 10, 9, 3, 15, tzinfo=UTC)),
    ("Sat, 10 May 2025 09:03:15 +0000", datetime(2025, 5, 10, 9, 3, 15, tzinfo=UTC)),
    ("Sat, 10 May 2025 11:03:15 +0200", datetime(2025, 5, 10, 9, 3, 15, tzinfo=UTC)),
    ("Sat, 10 May 2025 09:03:15 GMT", datetime(2025, 5, 10, 9, 3, 15, tzinfo=UTC)),
]


@pytest.mark.parametrize("text, expected", DATES)
def test_dates_are_utc(text, expected):
    release = parse_release(HEADER.replace("Sat, 10 May 2025 09:03:15 UTC", text) + "SHA256:\n" + SHA_LINE, source="R")
    assert release.date == expected and release.date.tzinfo == UTC


MALFORMED = [
    ("", "empty Release"),
    ("Origin: Debian\nSHA256:\n" + SHA_LINE, "no Date field"),
    (HEADER, "no SHA256 field"),
    ("Origin: Debian\nDate: Sat, 10 May 2025 09:03:15 UTC\nSHA256:\n" + SHA_LINE, "neither Suite nor Codename"),
    (HEADER.replace("Sat, 10 May 2025 09:03:15 UTC", "yesterday") + "SHA256:\n" + SHA_LINE, "R:4: Date 'yesterday' is not an RFC 1123 date"),
    (HEADER + "Valid-Until: soon\nSHA256:\n" + SHA_LINE, "R:5: Valid-Until 'soon'"),
    (HEADER + "Acquire-By-Hash: maybe\nSHA256:\n" + SHA_LINE, "R:5: Acquire-By-Hash 'maybe'"),
    (HEADER + "SHA256:\n ab 12 main/binary-amd64/Packages.xz\n", "R:6: expected ' SHA256 SIZE PATH'"),
    (HEADER + "SHA256:\n" + SHA_LINE.replace(" 12 ", " twelve "), "R:6: expected ' SHA256 SIZE PATH'"),
    (HEADER + "SHA256:\n" + SHA_LINE + SHA_LINE, "R:7: main/binary-amd64/Packages.xz listed twice"),
    (HEADER + "SHA256: " + "ab" * 32 + " 12 x\n", "R:5: SHA256 must start on the next line"),
    (HEADER + "SHA256:\n", "R:5: SHA256 lists no files"),
    (HEADER + "Suite: again\nSHA256:\n" + SHA_LINE, "R:5: field 'Suite' given twice"),
    (" leading continuation\n" + HEADER, "R:1: continuation line outside a field"),
    (HEADER + "garbage without colon\n", "R:5: expected 'Field: value'"),
    (HEADER + "SHA256:\n" + SHA_LINE + "\nOrigin: second paragraph\n", "R:8: text after the end of the paragraph"),
    ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + HEADER, "still clearsigned"),
]  # fmt: skip


@pytest.mark.parametrize("text, message", MALFORMED, ids=[m[1][:40] for m in MALFORMED])
def test_malformed_release_fails_loudly(text, message):
    with pytest.raises(ReleaseFormatError) as caught:
        parse_release(text, source="R")
    assert message in str(caught.value)
    assert caught.value.exit_code == EXIT_ENVIRONMENT


# ---------------------------------------------------------------- Valid-Until


VALID_UNTIL = datetime(2026, 11, 27, 0, 12, 41, tzinfo=UTC)


@pytest.mark.parametrize(
    "now, expired",
    [
        (VALID_UNTIL - timedelta(days=6), False),
        (VALID_UNTIL, False),  # apt: expired only once strictly past
        (VALID_UNTIL + timedelta(seconds=1), True),
        (VALID_UNTIL + timedelta(days=3, hours=2), True),
        # The same instant in another zone.
        (datetime(2026, 11, 27, 1, 12, 41, tzinfo=timezone(timedelta(hours=1))), False),
    ],
)
def test_check_valid_until(now, expired):
    release = parse_release((DATA / "Release-security").read_text(), source="Release-security")
    if expired:
        with pytest.raises(ReleaseExpiredError, match="Release-security: expired: Valid-Until 2026-11-27 00:12:41 UTC"):
            check_valid_until(release, now)
    else:
        check_valid_until(release, now)


def test_no_valid_until_never_expires():
    release = parse_release((DATA / "Release").read_text(), source="Release")
    check_valid_until(release, datetime(2100, 1, 1, tzinfo=UTC))


def test_expired_valid_until_in_a_signed_archive(tmp_path, signing_key):
    archive = build_signed_archive(
        tmp_path, "bookworm-security", FILES, key=signing_key,
        date=DEFAULT_DATE, valid_until=DEFAULT_DATE + timedelta(days=7),
    )  # fmt: skip
    payload = verify_inrelease(archive.inrelease.read_bytes(), [archive.keyring])
    release = parse_release(payload.decode(), source=str(archive.inrelease))
    check_valid_until(release, DEFAULT_DATE + timedelta(days=1))
    with pytest.raises(ReleaseExpiredError, match=r"is 1d 0h 0min ago"):
        check_valid_until(release, DEFAULT_DATE + timedelta(days=8))


# ---------------------------------------------------------------- index hashes

CONTENT = b"Package: python3-yaml\nVersion: 6.0-3+b2\n"
GOOD = IndexFileEntry(path="main/binary-amd64/Packages", size=40, sha256=hashlib.sha256(CONTENT).hexdigest())

HASH_CASES = [
    (CONTENT, None),
    (CONTENT[:-5], "truncated: 35 of 40 bytes listed for main/binary-amd64/Packages"),
    (b"", "truncated: 0 of 40 bytes"),
    (CONTENT + b"\n", "41 bytes, but 40 listed"),
    (CONTENT.replace(b"6.0", b"6.1"), "SHA256 "),
]


@pytest.mark.parametrize("data, message", HASH_CASES, ids=["good", "truncated", "empty", "longer", "altered"])
@pytest.mark.parametrize("as_file", [False, True], ids=["bytes", "file"])
def test_check_index_file(tmp_path, data, message, as_file):
    subject = data
    if as_file:
        subject = tmp_path / "Packages"
        subject.write_bytes(data)
    if message is None:
        check_index_file(GOOD, subject)
        return
    with pytest.raises(IndexHashError) as caught:
        check_index_file(GOOD, subject)
    assert message in str(caught.value)
    if as_file:
        assert str(caught.value).startswith(f"{subject}: ")


def test_missing_index_file_is_a_hash_error(tmp_path):
    with pytest.raises(IndexHashError, match="cannot read"):
        check_index_file(GOOD, tmp_path / "absent")


# ---------------------------------------------------------------- signed archives


def test_good_inrelease_verifies_and_lists_every_file(archive):
    payload = verify_inrelease(archive.inrelease.read_bytes(), [archive.keyring])
    assert payload == archive.release.read_bytes()
    release = parse_release(payload.decode(), source=str(archive.inrelease))
    assert (release.suite, release.codename, release.date) == ("bookworm", "bookworm", DEFAULT_DATE)
    # Each written file, and (as Debian lists them) its uncompressed variant.
    assert sorted(release.files) == sorted(
        list(FILES) + ["main/binary-amd64/Packages", "main/Contents-all", "main/Contents-amd64"]
    )
    for name in FILES:
        check_index_file(release.files[name], archive.path(name))
    assert lzma.decompress(archive.path("main/binary-amd64/Packages.xz").read_bytes()) == PACKAGES
    contents = gzip.decompress(archive.path("main/Contents-all.gz").read_bytes())
    check_index_file(release.files["main/Contents-all"], contents)


def test_good_detached_signature_verifies(archive):
    data = archive.release.read_bytes()
    assert verify_detached(data, archive.release_gpg.read_bytes(), [archive.keyring]) == data


@pytest.mark.parametrize("suffix", [".gpg", ".asc"])
def test_binary_and_armored_keyrings_both_work(archive, suffix):
    keyring = archive.keyring.with_suffix(suffix)  # generate_key writes both next to each other
    assert keyring.read_bytes().startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----") == (suffix == ".asc")
    payload = verify_inrelease(archive.inrelease.read_bytes(), [keyring])
    assert payload.startswith(b"Origin: Debian\n")


def test_inline_key_and_fingerprints(archive, signing_key, other_signing_key):
    data = archive.inrelease.read_bytes()
    assert verify_inrelease(data, [], inline_keys=[signing_key.armored]).startswith(b"Origin:")
    assert verify_inrelease(data, [archive.keyring], fingerprints=[signing_key.fingerprint])
    assert verify_inrelease(data, [archive.keyring], fingerprints=[signing_key.fingerprint.lower() + "!"])
    with pytest.raises(ReleaseVerificationError, match="not among the Signed-By fingerprints"):
        verify_inrelease(data, [archive.keyring], fingerprints=[other_signing_key.fingerprint])


def test_a_trusted_key_among_several_keyrings_is_enough(archive, other_signing_key):
    data = archive.inrelease.read_bytes()
    assert verify_inrelease(data, [other_signing_key.keyring, archive.keyring]).startswith(b"Origin:")


def tampered(data: bytes) -> bytes:
    changed = data.replace(b"Suite: bookworm", b"Suite: bookwurm", 1)
    assert changed != data
    return changed


def test_tampered_inrelease_fails(archive):
    expected = r"InRelease: signature verification failed: BADSIG [0-9A-F]{16}"
    with pytest.raises(ReleaseVerificationError, match=expected):
        verify_inrelease(tampered(archive.inrelease.read_bytes()), [archive.keyring])


def test_tampered_detached_release_fails(archive):
    with pytest.raises(ReleaseVerificationError, match="BADSIG"):
        release = tampered(archive.release.read_bytes())
        verify_detached(release, archive.release_gpg.read_bytes(), [archive.keyring])


def test_wrong_key_fails(archive, other_signing_key):
    wrong = [other_signing_key.keyring]
    expected = r"NO_PUBKEY [0-9A-F]{16} \(public key not in the keyring\)"
    with pytest.raises(ReleaseVerificationError, match=expected):
        verify_inrelease(archive.inrelease.read_bytes(), wrong)
    with pytest.raises(ReleaseVerificationError, match=expected):
        verify_detached(archive.release.read_bytes(), archive.release_gpg.read_bytes(), wrong)


def test_expired_key_fails_although_gpgv_exits_0(tmp_path, expired_signing_key):
    archive = build_signed_archive(tmp_path, "bookworm", FILES, key=expired_signing_key)
    with pytest.raises(ReleaseVerificationError, match="EXPKEYSIG .* \\(expired key\\)"):
        verify_inrelease(archive.inrelease.read_bytes(), [archive.keyring])


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d + b"Origin: unsigned addition\n", "unsigned text outside the signed message"),
        (lambda d: b"Suite: sid\n\n" + d, "unsigned text outside the signed message"),
        (lambda d: d + d, "more than one signed message"),
        (lambda d: b"<html><body>Please log in to the hotel wifi</body></html>\n", "not a clearsigned file"),
        (lambda d: d.split(b"-----BEGIN PGP SIGNATURE-----")[0], "not a clearsigned file"),
        (lambda d: b"\xff\xfe" + d, "not UTF-8"),
    ],
    ids=["appended", "prepended", "doubled", "captive-portal", "no-signature", "binary"],
)
def test_inrelease_must_be_exactly_one_clearsigned_message(archive, edit, message):
    with pytest.raises(ReleaseVerificationError, match=message):
        verify_inrelease(edit(archive.inrelease.read_bytes()), [archive.keyring])


def test_whitespace_around_the_message_is_allowed(archive):
    assert verify_inrelease(b"\n" + archive.inrelease.read_bytes() + b"\n\n", [archive.keyring])


def test_garbage_detached_signature_fails(archive):
    with pytest.raises(ReleaseVerificationError, match="signature verification failed"):
        verify_detached(archive.release.read_bytes(), b"not a signature\n", [archive.keyring])


def test_missing_or_no_keyring_fails(archive, tmp_path):
    with pytest.raises(ReleaseVerificationError, match="cannot read keyring"):
        verify_inrelease(archive.inrelease.read_bytes(), [tmp_path / "absent.gpg"])
    with pytest.raises(ReleaseVerificationError, match="no keyring"):
        verify_inrelease(archive.inrelease.read_bytes(), [])
    broken = tmp_path / "broken.asc"
    broken.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n")
    with pytest.raises(ReleaseVerificationError):
        verify_inrelease(archive.inrelease.read_bytes(), [broken])


def test_tampered_or_truncated_index_fails_its_hash(tmp_path, signing_key):
    archive = build_signed_archive(tmp_path, "bookworm", FILES, key=signing_key)
    payload = verify_inrelease(archive.inrelease.read_bytes(), [archive.keyring])
    release = parse_release(payload.decode(), source="InRelease")
    packages = archive.path("main/binary-amd64/Packages.xz")
    good = packages.read_bytes()
    packages.write_bytes(good[:-10])
    with pytest.raises(IndexHashError, match="truncated"):
        check_index_file(release.files["main/binary-amd64/Packages.xz"], packages)
    packages.write_bytes(lzma.compress(PACKAGES.replace(b"6.0-3+b2", b"9.9-1")))
    with pytest.raises(IndexHashError):
        check_index_file(release.files["main/binary-amd64/Packages.xz"], packages)


def test_resigned_release_after_an_edit_verifies(tmp_path, signing_key):
    archive = build_signed_archive(tmp_path, "trixie", FILES, key=signing_key, version="13.1")
    edited = archive.release.read_bytes().replace(b"Version: 13.1", b"Version: 13.2")
    archive.release.write_bytes(edited)
    sign_release(archive)
    payload = verify_inrelease(archive.inrelease.read_bytes(), [archive.keyring])
    assert payload == edited
    release = parse_release(payload.decode(), source="R")
    assert release.version == "13.2"


def test_over_loopback_http_with_keys_from_apt_sources(tmp_path, signing_key, serve_http):
    """The way an archive target will run: sources -> entry -> keys -> InRelease -> index."""
    root = tmp_path / "mirror"
    build_signed_archive(root, "bookworm", FILES, key=signing_key)
    base = serve_http(root)
    etc = tmp_path / "etc-apt"
    (etc / "sources.list.d").mkdir(parents=True)
    inline = "".join(f" {line or '.'}\n" for line in signing_key.armored.strip().splitlines())
    (etc / "sources.list.d" / "local.sources").write_text(
        f"Types: deb\nURIs: {base}\nSuites: bookworm\nComponents: main\nSigned-By:\n{inline}"
    )
    entry = select_source(read_sources(etc), "bookworm")
    assert entry is not None and entry.inline_key is not None
    keys = signing_keys(entry, etc)

    def fetch(path: str) -> bytes:
        url = f"{entry.uri.rstrip('/')}/dists/bookworm/{path}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()

    payload = verify_inrelease(fetch("InRelease"), keys.keyrings, inline_keys=keys.inline_keys)
    release = parse_release(payload.decode(), source="InRelease")
    data = fetch("main/binary-amd64/Packages.xz")
    check_index_file(release.files["main/binary-amd64/Packages.xz"], data)
    assert lzma.decompress(data) == PACKAGES


# ---------------------------------------------------------------- gpgv status, as apt judges it

# Status lines as gpgv printed them for Debian's bookworm InRelease.
GOOD_BOOKWORM = """\
[GNUPG:] NEWSIG
[GNUPG:] KEY_CONSIDERED B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8 0
[GNUPG:] GOODSIG 6ED0E7B82643E131 Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>
[GNUPG:] VALIDSIG 4CB50190207B4758A3F73A796ED0E7B82643E131 2026-07-11 1783765031 0 4 0 1 8 01 B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8
"""
MISSING_TWO = """\
[GNUPG:] NEWSIG
[GNUPG:] ERRSIG 6ED0E7B82643E131 1 8 01 1783765031 9 4CB50190207B4758A3F73A796ED0E7B82643E131
[GNUPG:] NO_PUBKEY 6ED0E7B82643E131
[GNUPG:] NEWSIG
[GNUPG:] ERRSIG 78DBA3BC47EF2265 1 8 01 1783765032 9 B8E5F13176D2A7A75220028078DBA3BC47EF2265
[GNUPG:] NO_PUBKEY 78DBA3BC47EF2265
"""
GOOD_RELEASE_KEY = """\
[GNUPG:] NEWSIG
[GNUPG:] GOODSIG F8D2585B8783D481 Debian Stable Release Key (12/bookworm) <debian-release@lists.debian.org>
[GNUPG:] VALIDSIG 4D64FEC119C2029067D6E791F8D2585B8783D481 2026-07-11 1783765141 0 4 0 22 8 01 4D64FEC119C2029067D6E791F8D2585B8783D481
"""
SHA1_SIGNED = GOOD_RELEASE_KEY.replace(" 22 8 01 ", " 22 2 01 ")
BAD = "[GNUPG:] NEWSIG\n[GNUPG:] BADSIG F8D2585B8783D481 Debian Stable Release Key (12/bookworm)\n"

STATUS = [
    (GOOD_BOOKWORM, (), None),
    # Some signers' keys missing, one good: accepted, as apt does (Debian signs with several keys).
    (MISSING_TWO + GOOD_RELEASE_KEY, (), None),
    (MISSING_TWO, (), "NO_PUBKEY 6ED0E7B82643E131 (public key not in the keyring); NO_PUBKEY 78DBA3BC47EF2265"),
    (GOOD_RELEASE_KEY + BAD, (), "BADSIG F8D2585B8783D481 Debian Stable Release Key (12/bookworm)"),
    (SHA1_SIGNED, (), "4D64FEC119C2029067D6E791F8D2585B8783D481 (untrusted digest algorithm SHA1)"),
    (GOOD_BOOKWORM, ("B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8",), None),  # the primary key of a signing subkey
    (GOOD_BOOKWORM, ("B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8!",), "not among the Signed-By fingerprints"),
    (GOOD_BOOKWORM, ("4CB50190207B4758A3F73A796ED0E7B82643E131!",), None),
    ("[GNUPG:] NODATA 1\n[GNUPG:] NODATA 2\n", (), "NODATA (no signature found"),
    ("[GNUPG:] PLAINTEXT 74 0\n", (), "no good signature"),
]


@pytest.mark.parametrize("status, fingerprints, reason", STATUS)
def test_judge_gpgv_status(status, fingerprints, reason):
    verdict = judge_gpgv_status(status, fingerprints)
    if reason is None:
        assert verdict is None
    else:
        assert verdict is not None and reason in verdict and "\n" not in verdict


# ---------------------------------------------------------------- the real archive


@pytest.mark.network
def test_real_bookworm_inrelease_from_this_machines_mirror():
    entry = select_source(read_sources(), "bookworm")
    assert entry is not None, "no Debian entry in /etc/apt sources"
    keys = signing_keys(entry)
    url = f"{entry.uri.rstrip('/')}/dists/bookworm/InRelease"
    with urllib.request.urlopen(url, timeout=30) as response:
        data = response.read()
    payload = verify_inrelease(
        data, keys.keyrings, inline_keys=keys.inline_keys, fingerprints=keys.fingerprints
    )
    release = parse_release(payload.decode("utf-8"), source=url)
    assert release.codename == "bookworm"
    assert "main/Contents-all.gz" in release.files
    assert "main/binary-amd64/Packages.xz" in release.files
    assert release.files["main/binary-amd64/Packages.xz"].size > 1_000_000
    check_valid_until(release, datetime.now(UTC))
    # Only the stable release key, inline (tests/data/sources/third-party): the two
    # automatic-key signatures are NO_PUBKEY, the release key's is good - accepted, as by apt.
    inline = select_source(read_sources(DATA / "third-party"), "trixie").inline_key
    assert verify_inrelease(data, [], inline_keys=[inline]) == payload
