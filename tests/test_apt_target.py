"""The ``apt`` target on a machine without apt-file: apt's lists carry no Contents.

A lists directory as apt writes it (lz4 Packages, a clearsigned InRelease)
holds real bookworm stanzas (tests/data/Packages, python3-pil from this
machine's lists) and trixie's real dh-python paragraph, pointing at a real
dh-python .deb built here with dpkg-deb around trixie's real
``cpython3_fallback`` excerpt; the apt sources name a loopback mirror
serving that .deb, and the signed test archive of the same suite.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from debvenv.index import MAPPING_CACHED_CONTENTS, MAPPING_DH_PYTHON
from debvenv.names import normalize
from debvenv.sources.aptlists import NO_CONTENTS
from debvenv.targets import TargetOptions, load_target
from signed_archive import DEFAULT_DATE, build_signed_archive

DATA = Path(__file__).parent / "data"
NOW = DEFAULT_DATE + timedelta(days=1)
NOT_INSTALLED = Path("/nonexistent/usr/share/dh-python/dist/cpython3_fallback")
DH_PYTHON_VERSION = "6.20250414"
POOL_DEB = f"pool/main/d/dh-python/dh-python_{DH_PYTHON_VERSION}_all.deb"
PREFIX = "127.0.0.1_debian_dists_"
# bookworm's python3-pil, as this machine's apt lists hold it.
PIL = b"""\
Package: python3-pil
Source: pillow
Version: 9.4.0-1.1+deb12u1
Installed-Size: 1715
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Replaces: python3-imaging (<< 1.1.7+2.0.0-1.1)
Provides: python3-pillow
Depends: python3 (<< 3.12), python3 (>= 3.11~), python3:any, mime-support | python3-pil.imagetk, libc6 (>= 2.14)
Recommends: python3-olefile
Suggests: python-pil-doc
Description: Python Imaging Library (Python3)
Multi-Arch: same
Homepage: http://python-pillow.github.io/
Description-md5: 159039260b5a620ec3a8b13546dd140a
Section: python
Priority: optional
Filename: pool/main/p/pillow/python3-pil_9.4.0-1.1+deb12u1_amd64.deb
Size: 471944
MD5sum: fad497f16ce7377fb78916a6d1c6e212
SHA256: 85791cb9060c8f49c1709bd43e37700b252dc3b3d349c1aa48962f98fa0a0f6f
"""


def build_dh_python_deb(workdir: Path) -> bytes:
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


def dh_python_paragraph(deb: bytes) -> bytes:
    """trixie's real dh-python paragraph, with this .deb's size and SHA256."""
    lines = [
        line for line in (DATA / "dh-python.paragraph").read_text().splitlines()
        if not line.startswith(("Size:", "SHA256:", "MD5sum:"))
    ]  # fmt: skip
    lines += [f"Size: {len(deb)}", f"SHA256: {hashlib.sha256(deb).hexdigest()}"]
    return ("\n".join(lines) + "\n").encode()


@dataclasses.dataclass(frozen=True)
class Machine:
    lists: Path
    mirror: Path  # what the loopback server serves
    options: TargetOptions


@pytest.fixture
def machine(tmp_path, signing_key, serve_http) -> Machine:
    mirror = tmp_path / "mirror"
    deb = build_dh_python_deb(tmp_path)
    (mirror / POOL_DEB).parent.mkdir(parents=True)
    (mirror / POOL_DEB).write_bytes(deb)
    url = serve_http(mirror)
    etc = tmp_path / "etc-apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(
        f"Types: deb\nURIs: {url}\nSuites: bookworm\nComponents: main\nSigned-By: {signing_key.keyring}\n"
    )
    lists = tmp_path / "lists"
    lists.mkdir()
    release = (
        "Origin: Debian\nLabel: Debian\nSuite: stable\nVersion: 12.10\nCodename: bookworm\n"
        "Date: Sat, 10 May 2025 09:03:15 UTC\nArchitectures: all amd64\nComponents: main\n"
    )
    (tmp_path / "Release").write_text(release)
    (lists / f"{PREFIX}bookworm_InRelease").write_bytes(
        signing_key.gpg("--clearsign", "--output", "-", str(tmp_path / "Release"))
    )
    packages = (DATA / "Packages").read_bytes().rstrip(b"\n") + b"\n\n" + PIL + b"\n" + dh_python_paragraph(deb)
    # apt stores its lists lz4-compressed: the dh-python paragraph is found through apt-helper.
    with (lists / f"{PREFIX}bookworm_main_binary-amd64_Packages.lz4").open("wb") as out:
        subprocess.run(["lz4", "-q", "-z", "-c"], input=packages, stdout=out, check=True)
    options = TargetOptions(
        apt_lists_dir=lists,
        apt_etc_dir=etc,
        cache_dir=tmp_path / "cache",
        arch="amd64",
        now=NOW,
        dh_python_fallback=NOT_INSTALLED,
    )
    return Machine(lists=lists, mirror=mirror, options=options)


def only(index, name):
    (provider,) = index.lookup(normalize(name))
    return provider


def test_fresh_machine_takes_names_from_the_dh_python_deb_apt_lists_name(machine):
    index = load_target("apt", machine.options)

    pil = only(index, "Pillow")
    assert (pil.package, pil.debian_version, pil.version) == ("python3-pil", "9.4.0-1.1+deb12u1", "9.4.0")
    assert pil.mapping == MAPPING_DH_PYTHON
    # No naming rule reaches beautifulsoup4: only a name list can.
    assert (only(index, "beautifulsoup4").package, only(index, "beautifulsoup4").mapping) == (
        "python3-bs4", MAPPING_DH_PYTHON,
    )  # fmt: skip
    (warning,) = index.warnings
    assert warning.startswith(NO_CONTENTS) and f"dh-python {DH_PYTHON_VERSION}" in warning

    # The .deb stays in the cache: the next run needs no mirror for it.
    (machine.mirror / POOL_DEB).unlink()
    again = load_target("apt", machine.options)
    assert only(again, "Pillow").mapping == MAPPING_DH_PYTHON and again.warnings == index.warnings


def test_a_dh_python_deb_not_matching_the_lists_is_not_used(machine):
    # Same size, one bit changed: not the .deb apt's lists name.
    deb = (machine.mirror / POOL_DEB).read_bytes()
    (machine.mirror / POOL_DEB).write_bytes(deb[:-1] + bytes([deb[-1] ^ 1]))
    index = load_target("apt", machine.options)
    assert only(index, "PyYAML").mapping == "guessed"
    assert index.lookup("beautifulsoup4") == ()
    (warning,) = index.warnings
    assert "could not be had" in warning and "SHA256" in warning


def test_installed_dh_python_list_comes_before_the_deb(machine):
    (machine.mirror / POOL_DEB).unlink()  # never asked for
    options = dataclasses.replace(machine.options, dh_python_fallback=DATA / "cpython3_fallback")
    index = load_target("apt", options)
    assert (only(index, "Pillow").package, only(index, "Pillow").mapping) == ("python3-pil", MAPPING_DH_PYTHON)
    (warning,) = index.warnings
    assert str(DATA / "cpython3_fallback") in warning
    assert not (options.cache_dir / "suites").exists()


def test_cached_verified_contents_of_the_suite_come_first(machine, signing_key):
    files = {
        "main/binary-amd64/Packages.xz": (DATA / "Packages").read_bytes(),
        "main/Contents-all.gz": (DATA / "Contents-all").read_bytes(),
        "main/Contents-amd64.gz": (DATA / "Contents-amd64").read_bytes(),
    }
    build_signed_archive(machine.mirror, "bookworm", files, key=signing_key)
    load_target("bookworm", machine.options)  # debvenv has verified and cached bookworm
    (machine.mirror / "dists").rename(machine.mirror.parent / "gone")  # the mirror is not asked again

    index = load_target("apt", machine.options)

    yaml = only(index, "PyYAML")
    assert (yaml.package, yaml.debian_version, yaml.mapping) == ("python3-yaml", "6.0-3+b2", MAPPING_CACHED_CONTENTS)
    assert only(index, "beautifulsoup4").mapping == MAPPING_CACHED_CONTENTS
    assert only(index, "channels").package == "python3-django-channels"
    (warning,) = index.warnings
    assert warning.startswith(NO_CONTENTS) and "bookworm's Contents of 2025-05-10" in warning
