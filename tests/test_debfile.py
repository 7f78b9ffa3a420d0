"""debvenv.sources.debfile: one file out of a .deb built here by the real dpkg-deb."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from debvenv.errors import EXIT_ENVIRONMENT
from debvenv.sources.debfile import DebFileError, read_member

DATA = Path(__file__).parent / "data"
LISTING = "usr/share/dh-python/dist/cpython3_fallback"


def build_deb(tmp_path: Path, compression: str) -> Path:
    tree = tmp_path / "tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: dh-python\nVersion: 6.20250414\nArchitecture: all\n"
        "Maintainer: debvenv tests <tests@example.org>\nDescription: test\n"
    )
    (tree / LISTING).parent.mkdir(parents=True)
    (tree / LISTING).write_bytes((DATA / "cpython3_fallback").read_bytes())
    (tree / "usr/share/doc/dh-python").mkdir(parents=True)
    deb = tmp_path / f"dh-python-{compression}.deb"
    proc = subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(tree), str(deb)],
                          capture_output=True)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"dpkg-deb cannot write {compression} here: exit {proc.returncode}")
    return deb


@pytest.mark.parametrize("compression", ["xz", "gzip", "none"])
def test_reads_the_name_list(tmp_path, compression):
    deb = build_deb(tmp_path, compression)
    assert read_member(deb, LISTING) == (DATA / "cpython3_fallback").read_bytes()
    assert read_member(deb, "./" + LISTING) == (DATA / "cpython3_fallback").read_bytes()


def test_zstd_is_a_clear_error_where_python_cannot_read_it(tmp_path):
    deb = build_deb(tmp_path, "zstd")
    with pytest.raises(DebFileError, match=r"data\.tar\.zst: a compression this Python cannot read") as info:
        read_member(deb, LISTING)
    assert info.value.exit_code == EXIT_ENVIRONMENT


def test_missing_file_and_directory(tmp_path):
    deb = build_deb(tmp_path, "xz")
    with pytest.raises(DebFileError, match=r"no usr/share/nothing in the package"):
        read_member(deb, "usr/share/nothing")
    with pytest.raises(DebFileError, match=r"not a regular file"):
        read_member(deb, "usr/share/doc/dh-python")


def test_limit(tmp_path):
    deb = build_deb(tmp_path, "xz")
    with pytest.raises(DebFileError, match=r"more than 10"):
        read_member(deb, LISTING, limit=10)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"<html>not found</html>\n",  # an error page where the .deb should be
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: data[:8] + b"x" * 60 + data[68:],  # a broken member header
        lambda data: b"",
    ],
)
def test_damaged_packages_are_errors_not_tracebacks(tmp_path, damage):
    deb = build_deb(tmp_path, "xz")
    deb.write_bytes(damage(deb.read_bytes()))
    with pytest.raises(DebFileError):
        read_member(deb, LISTING)
