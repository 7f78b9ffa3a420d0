"""debvenv.sources.packages: binary packages from a Debian Packages index.

tests/data/Packages holds real bookworm main/binary-amd64 paragraphs, cut by
scripts/cut-fixtures; cases that change a paragraph say so.
"""

from __future__ import annotations

import gzip
import io
import lzma
import subprocess
from pathlib import Path

import pytest
from debian import deb822
from debian.debian_support import NativeVersion

from debvenv.errors import EXIT_ENVIRONMENT, EnvironmentFailure
from debvenv.sources.packages import (
    PackageRecord,
    PackagesError,
    PackagesIndex,
    PoolFile,
    TargetPython,
    find_pool_file,
    parse_packages,
    read_packages,
    target_python,
)

DATA = Path(__file__).parent / "data"
PACKAGES = DATA / "Packages"
TEXT = PACKAGES.read_text()
PARAGRAPHS = {p.split("\n", 1)[0][len("Package: "):]: p + "\n" for p in TEXT.strip("\n").split("\n\n")}


@pytest.fixture(scope="module")
def index() -> PackagesIndex:
    return read_packages(PACKAGES)


@pytest.mark.parametrize(
    "package, version, architecture, source, source_version",
    [
        ("python3", "3.11.2-1+b1", "amd64", "python3-defaults", "3.11.2-1"),
        ("python3-django", "3:3.2.25-0+deb12u3", "all", "python-django", "3:3.2.25-0+deb12u3"),
        ("python3-novaclient", "2:18.1.0-3", "all", "python-novaclient", "2:18.1.0-3"),
        ("python3-deprecation", "2.1.0-2", "all", "python-deprecation", "2.1.0-2"),
        ("python3-yaml", "6.0-3+b2", "amd64", "pyyaml", "6.0-3"),
        ("python3-zope.interface", "5.5.2-1+b1", "amd64", "zope.interface", "5.5.2-1"),
        ("python3-six", "1.16.0-4", "all", "six", "1.16.0-4"),
        ("python3-xdg", "0.28-2", "all", "pyxdg", "0.28-2"),
        # No Source field: the source is the binary's own name and version.
        ("criu", "3.17.1-2+deb12u2", "amd64", "criu", "3.17.1-2+deb12u2"),
        # Listed twice (6.1.170-3 first): the highest wins.
        ("linux-doc", "6.1.176-1", "all", "linux", "6.1.176-1"),
    ],
)
def test_record(index, package, version, architecture, source, source_version):
    record = index[package]
    assert (record.package, record.version, record.architecture, record.source, record.source_version) == (
        package,
        version,
        architecture,
        source,
        source_version,
    )


@pytest.mark.parametrize(
    "package, provides",
    [
        ("python3", ("python3-profiler", "python3-supported-max", "python3-supported-min")),
        ("python3-zope.interface", ("python3-zope",)),
        ("python3-xdg", ("python3-pyxdg",)),
        ("python3-six", ()),
    ],
)
def test_provides(index, package, provides):
    assert index[package].provides == provides


def test_every_package_of_the_fixture(index):
    assert sorted(index) == sorted(PARAGRAPHS)
    paragraphs = TEXT.strip("\n").split("\n\n")
    assert len(paragraphs) == 21 and len(index) == 20  # linux-doc is there twice
    assert "python3-yaml" in index and "python3-nonexistent" not in index
    with pytest.raises(KeyError):
        index["python3-nonexistent"]


def test_record_is_a_frozen_model(index):
    record = index["python3-six"]
    assert record == PackageRecord(
        package="python3-six",
        version="1.16.0-4",
        architecture="all",
        source="six",
        source_version="1.16.0-4",
        provides=(),
    )
    assert index["python3-six"] is record
    with pytest.raises(AttributeError):
        record.version = "1"


def test_agrees_with_python_debian_deb822(index):
    """python-debian's own parser (without apt_pkg) is the reference for every field we read."""
    with open(PACKAGES, "rb") as stream:
        reference = {}
        for paragraph in deb822.Packages.iter_paragraphs(stream, use_apt_pkg=False):
            known = reference.get(paragraph["Package"])
            if known is None or NativeVersion(known["Version"]) < NativeVersion(paragraph["Version"]):
                reference[paragraph["Package"]] = paragraph
    assert sorted(reference) == sorted(index)
    for name, paragraph in reference.items():
        source = paragraph.get("Source", name)
        record = index[name]
        assert record.version == paragraph["Version"]
        assert record.architecture == paragraph["Architecture"]
        assert record.source == source.split(" ")[0]
        if "(" in source:
            assert record.source_version == source.split("(")[1].rstrip(")")
        else:
            assert record.source_version == record.version
        relations = paragraph.relations["provides"]
        assert record.provides == tuple(alternatives[0]["name"] for alternatives in relations)


def test_target_python(index):
    assert target_python(index) == TargetPython(
        debian_version="3.11.2-1+b1", full_version="3.11.2", version="3.11"
    )


@pytest.mark.parametrize(
    "version, full, short",
    [
        ("3.13.3-1", "3.13.3", "3.13"),  # trixie
        ("3.12.3-0ubuntu2", "3.12.3", "3.12"),  # noble
        ("3.12.0~rc1-1", "3.12.0rc1", "3.12"),  # written here: a pre-release in experimental
        ("1:3.11.2-1", "3.11.2", "3.11"),  # written here: an epoch
    ],
)
def test_target_python_versions(version, full, short):
    paragraph = PARAGRAPHS["python3"].replace("Version: 3.11.2-1+b1\n", f"Version: {version}\n")
    assert target_python(parse_packages(paragraph.encode())) == TargetPython(version, full, short)


def test_target_python_without_python3():
    with pytest.raises(PackagesError, match="no python3 package"):
        target_python(parse_packages(PARAGRAPHS["python3-six"].encode()))


# Pairs where the Debian order differs from naive string order, each checked
# against dpkg itself below.
VERSION_PAIRS = [
    ("6.1.170-3", "6.1.176-1"),
    ("1.9-1", "1.10-1"),
    ("1.0~rc1-1", "1.0-1"),
    ("10.0-1", "2:1.0-1"),
    ("1.16.0-4", "1.16.0-4+b1"),
    ("1.16.0-4~bpo12+1", "1.16.0-4"),
]


@pytest.mark.parametrize("lower, higher", VERSION_PAIRS)
def test_version_pairs_match_dpkg(lower, higher):
    assert subprocess.run(["dpkg", "--compare-versions", lower, "lt", higher]).returncode == 0


@pytest.mark.parametrize("lower, higher", VERSION_PAIRS)
@pytest.mark.parametrize("higher_first", [False, True])
def test_highest_version_wins(lower, higher, higher_first):
    template = PARAGRAPHS["python3-six"]
    low = template.replace("Version: 1.16.0-4\n", f"Version: {lower}\n")
    high = template.replace("Version: 1.16.0-4\n", f"Version: {higher}\n")
    text = "\n".join([high, low] if higher_first else [low, high])
    assert parse_packages(text.encode())["python3-six"].version == higher


def _compress(tmp_path: Path, kind: str) -> Path:
    data = PACKAGES.read_bytes()
    packed = {
        "plain": data,
        "xz": lzma.compress(data),
        "gz": gzip.compress(data),
        "xz-two-streams": lzma.compress(data[:5000]) + lzma.compress(data[5000:]),
    }[kind]
    target = tmp_path / f"Packages-{kind}"
    target.write_bytes(packed)
    return target


@pytest.mark.parametrize("kind", ["plain", "xz", "gz", "xz-two-streams"])
def test_compressed_input(tmp_path, index, kind):
    path = _compress(tmp_path, kind)
    assert dict(read_packages(path)) == dict(index)
    with open(path, "rb") as stream:
        assert dict(read_packages(stream)) == dict(index)


@pytest.mark.parametrize("kind", ["xz", "gz"])
def test_truncated_compressed_input(tmp_path, kind):
    path = _compress(tmp_path, kind)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(PackagesError, match=r"Packages-\w+: (truncated|corrupt)"):
        read_packages(path)


def test_corrupt_compressed_input(tmp_path):
    path = _compress(tmp_path, "xz")
    data = bytearray(path.read_bytes())
    data[200:232] = bytes(32)
    path.write_bytes(bytes(data))
    with pytest.raises(PackagesError, match="corrupt"):
        read_packages(path)


def test_missing_file(tmp_path):
    with pytest.raises(PackagesError, match="cannot read"):
        read_packages(tmp_path / "Packages.xz")


def test_error_is_environment_failure():
    assert issubclass(PackagesError, EnvironmentFailure)
    assert PackagesError("x").exit_code == EXIT_ENVIRONMENT


def _launchpad_order(paragraph: str) -> str:
    """The paragraph with its fields in the order Launchpad writes them: Architecture before Version."""
    lines = paragraph.rstrip("\n").split("\n")
    arch = next(line for line in lines if line.startswith("Architecture: "))
    lines.remove(arch)
    lines.insert(1, arch)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, package, version",
    [
        ("", None, None),
        ("\n\n", None, None),
        (PARAGRAPHS["python3-six"].rstrip("\n"), "python3-six", "1.16.0-4"),  # no final newline
        ("\n\n" + PARAGRAPHS["python3-six"] + "\n\n\n", "python3-six", "1.16.0-4"),
        (_launchpad_order(PARAGRAPHS["python3"]), "python3", "3.11.2-1+b1"),
        (PARAGRAPHS["python3"].replace("\nProvides: python3-profiler, ", "\nProvides: python3-profiler,\n "),
         "python3", "3.11.2-1+b1"),  # a folded Provides
    ],
    ids=["empty", "blank-lines", "no-final-newline", "extra-blank-lines", "launchpad-order", "folded-provides"],
)
def test_accepted_shapes(text, package, version):
    index = parse_packages(text.encode())
    if package is None:
        assert len(index) == 0
    else:
        assert list(index) == [package]
        assert index[package].version == version
        assert index[package].architecture in ("all", "amd64")


SIX = PARAGRAPHS["python3-six"]


@pytest.mark.parametrize(
    "paragraph, message",
    [
        (SIX.replace("Package: python3-six\n", ""), "paragraph with no Package field"),
        (SIX.replace("Version: 1.16.0-4\n", ""), "paragraph with no Version field"),
        (SIX.replace("Architecture: all\n", ""), "paragraph with no Architecture field"),
        (SIX.replace("Version: 1.16.0-4\n", "Version: garbage!\n"), "bad Version field 'garbage!'"),
        (SIX.replace("Version: 1.16.0-4\n", "Version:\n"), "bad Version field ''"),
        (SIX.replace("Package: python3-six\n", "Package: Python3 Six\n"), "bad Package field"),
        (SIX.replace("Source: six\n", "Source: six (\n"), "bad Source field 'six ('"),
        (SIX.replace("Source: six\n", "Source: six (1.16.0-4) extra\n"), "bad Source field"),
        (SIX.replace("Depends: python3:any\n", "Provides: six (>= 1\n"), "bad Provides field"),
        (SIX.replace("Depends: python3:any\n", "Provides: , six\n"), "bad Provides field"),
        (SIX.replace("Depends: python3:any\n", "this is not a field\n"), "is not 'Field: value'"),
        (SIX.replace("Depends: python3:any\n", "Not A Field: x\n"), "is not 'Field: value'"),
        ("<html><head><title>404 Not Found</title></head>\n<body>Not Found</body></html>\n",
         "is not 'Field: value'"),
        ("Origin: Debian\nLabel: Debian\n", "paragraph with no Package field"),
    ],
    ids=[
        "no-package", "no-version", "no-architecture", "bad-version", "empty-version", "bad-package",
        "bad-source", "source-trailing-garbage", "bad-provides", "empty-provides-item", "not-a-field",
        "space-in-field-name",
        "html", "release-file",
    ],
)
def test_rejected_paragraph_names_its_line(paragraph, message):
    # The bad paragraph comes second, so its first line is the one after python3's paragraph.
    first = PARAGRAPHS["python3"]
    text = first + "\n" + paragraph
    line = first.count("\n") + 2
    with pytest.raises(PackagesError, match=rf"^Packages:{line}: .*{_escape(message)}"):
        parse_packages(text.encode(), "Packages")


def _escape(message: str) -> str:
    return message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.").replace("!", r"\!")


def test_rejected_in_stream_uses_stream_name():
    stream = io.BytesIO(b"garbage\n")
    stream.name = "dists/bookworm/main/binary-amd64/Packages"
    with pytest.raises(PackagesError, match=r"^dists/bookworm/main/binary-amd64/Packages:1: "):
        read_packages(stream)


# ---- find_pool_file ---------------------------------------------------------------

DH_PYTHON = (DATA / "dh-python.paragraph").read_bytes()  # trixie's real paragraph


def test_find_pool_file_reads_filename_size_and_sha256(tmp_path):
    index = tmp_path / "Packages.xz"
    index.write_bytes(lzma.compress(PACKAGES.read_bytes() + b"\n" + DH_PYTHON))
    assert find_pool_file(index, "dh-python") == PoolFile(
        package="dh-python",
        version="6.20250414",
        filename="pool/main/d/dh-python/dh-python_6.20250414_all.deb",
        size=115732,
        sha256="9c93fc01e8ce00dffcbc37966569692dd7179af713b575e592892c0ed06201eb",
    )
    assert find_pool_file(index, "dh-python-nonexistent") is None
    # A name that is only a prefix of another package's is not that package.
    assert find_pool_file(index, "dh") is None


def test_find_pool_file_takes_the_highest_version(tmp_path):
    older = DH_PYTHON.replace(b"Version: 6.20250414", b"Version: 5.20230130")
    index = tmp_path / "Packages"
    index.write_bytes(DH_PYTHON + b"\n" + older)
    assert find_pool_file(index, "dh-python").version == "6.20250414"


def test_find_pool_file_without_sha256_is_an_error_with_its_line(tmp_path):
    index = tmp_path / "Packages"
    index.write_bytes(PACKAGES.read_bytes() + b"\n" + b"\n".join(l for l in DH_PYTHON.split(b"\n") if not l.startswith(b"SHA256")))
    with pytest.raises(PackagesError, match=rf"{index}:\d+: dh-python: no Filename, Size or SHA256"):
        find_pool_file(index, "dh-python")
