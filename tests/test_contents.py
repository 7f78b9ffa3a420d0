"""debvenv.sources.contents: Python distributions from Debian Contents indexes.

Lines come from bookworm's real Contents-all/Contents-amd64 (tests/data/,
cut by scripts/cut-fixtures) unless a case says it was written here.
"""

from __future__ import annotations

import gzip
import io
import lzma
from pathlib import Path

import pytest

from debvenv.errors import EXIT_ENVIRONMENT, EnvironmentFailure
from debvenv.sources import contents
from debvenv.sources.contents import (
    ContentsDistribution,
    ContentsError,
    iter_python_distributions,
    parse_metadata_name,
    python_distributions,
)

DATA = Path(__file__).parent / "data"
CONTENTS_ALL = DATA / "Contents-all"
CONTENTS_AMD64 = DATA / "Contents-amd64"


def _found(text: str):
    return [
        (d.name, d.version, d.package, d.section, d.kind)
        for d in iter_python_distributions(io.BytesIO(text.encode()))
    ]


# (line, expected (name, version, package, section, kind) tuples)
LINES = [
    pytest.param(
        "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA python/python3-yaml",
        [("PyYAML", "6.0", "python3-yaml", "python", "dist-info")],
        id="PyYAML-dist-info",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/beautifulsoup4-4.11.2.egg-info/PKG-INFO python/python3-bs4",
        [("beautifulsoup4", "4.11.2", "python3-bs4", "python", "egg-info")],
        id="beautifulsoup4",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/pyOpenSSL-23.0.0.egg-info/requires.txt python/python3-openssl",
        [("pyOpenSSL", "23.0.0", "python3-openssl", "python", "egg-info")],
        id="pyOpenSSL",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/channels-4.0.0.egg-info/top_level.txt python/python3-django-channels",
        [("channels", "4.0.0", "python3-django-channels", "python", "egg-info")],
        id="channels",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/Django-3.2.25.egg-info/PKG-INFO python/python3-django",
        [("Django", "3.2.25", "python3-django", "python", "egg-info")],
        id="Django",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/python_novaclient-18.1.0.egg-info/PKG-INFO python/python3-novaclient",
        [("python_novaclient", "18.1.0", "python3-novaclient", "python", "egg-info")],
        id="novaclient",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/deprecation-2.0.7.egg-info/PKG-INFO python/python3-deprecation",
        [("deprecation", "2.0.7", "python3-deprecation", "python", "egg-info")],
        id="deprecation-metadata-not-debian-version",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/xdg-5.egg-info                   python/python3-xdg",
        [("xdg", "5", "python3-xdg", "python", "egg-info")],
        id="xdg-egg-info-file",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/pyxdg-0.28.dist-info/AUTHORS python/python3-xdg",
        [("pyxdg", "0.28", "python3-xdg", "python", "dist-info")],
        id="pyxdg",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/zope.interface-5.5.2.egg-info/PKG-INFO zope/python3-zope.interface",
        [("zope.interface", "5.5.2", "python3-zope.interface", "zope", "egg-info")],
        id="zope.interface",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/python_dateutil-2.8.2.egg-info/zip-safe python/python3-dateutil",
        [("python_dateutil", "2.8.2", "python3-dateutil", "python", "egg-info")],
        id="python_dateutil",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/crit-3.17.1-py3.11.egg-info admin/criu",
        [("crit", "3.17.1", "criu", "admin", "egg-info")],
        id="python-tag-dropped",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/cryptography.egg-info/PKG-INFO python/python3-cryptography",
        [("cryptography", None, "python3-cryptography", "python", "egg-info")],
        id="egg-info-without-version",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/azure_ai_anomalydetector-3.0.0b7.egg-info/PKG-INFO python/python3-azure",
        [("azure_ai_anomalydetector", "3.0.0b7", "python3-azure", "python", "egg-info")],
        id="azure",
    ),
    pytest.param(
        # Written here: no bookworm metadata line lists two packages; the
        # location is the real one of the chargebee/__init__.py line.
        "usr/lib/python3/dist-packages/chargebee-1.6.6.egg-info/PKG-INFO "
        "python/python3-chargebee,python/python3-chargebee2",
        [
            ("chargebee", "1.6.6", "python3-chargebee", "python", "egg-info"),
            ("chargebee", "1.6.6", "python3-chargebee2", "python", "egg-info"),
        ],
        id="several-packages-written-here",
    ),
    pytest.param(
        # Written here in Ubuntu's layout, where universe items carry the component.
        "usr/lib/python3/dist-packages/PyYAML-6.0.1.dist-info/METADATA universe/python/python3-yaml",
        [("PyYAML", "6.0.1", "python3-yaml", "universe/python", "dist-info")],
        id="ubuntu-component-written-here",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA\tpython/python3-yaml",
        [("PyYAML", "6.0", "python3-yaml", "python", "dist-info")],
        id="tab-separator-written-here",
    ),
    # Lines that are not the system Python's metadata.
    pytest.param("bin/ash                                                 shells/ash", [], id="unrelated"),
    pytest.param(
        "usr/lib/python3/dist-packages/chargebee/__init__.py     python/python3-chargebee,python/python3-chargebee2",
        [],
        id="module-in-two-packages",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/yaml/_yaml.cpython-311-x86_64-linux-gnu.so python/python3-yaml",
        [],
        id="module",
    ),
    pytest.param(
        "usr/lib/python3/dist-packages/compressor/tests/static/css/filename with spaces.css "
        "python/python3-django-compressor",
        [],
        id="spaces-in-path",
    ),
    pytest.param(
        "usr/lib/python3.11/dist-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so "
        "python/python3-numpy",
        [],
        id="versioned-dist-packages-not-on-sys-path",
    ),
    pytest.param(
        "usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-real/lib/python3/dist-packages/petsc4py-3.18.5.egg-info "
        "python/python3-petsc4py-real3.18",
        [],
        id="private-dist-packages",
    ),
    pytest.param(
        "usr/share/doc/linux-doc-6.1/Documentation/devicetree/bindings/hwinfo/renesas,prr.yaml.gz doc/linux-doc-6.1",
        [],
        id="comma-in-path",
    ),
    pytest.param(
        # Written here: an entry only looking like metadata.
        "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info.orig/METADATA python/python3-yaml",
        [],
        id="not-quite-dist-info-written-here",
    ),
]


@pytest.mark.parametrize("line, expected", LINES)
def test_line(line, expected):
    assert _found(line + "\n") == expected


@pytest.mark.parametrize("line, expected", LINES)
def test_line_without_final_newline(line, expected):
    assert _found(line) == expected


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("PyYAML-6.0.dist-info", ("PyYAML", "6.0", "dist-info")),
        ("Flask_SQLAlchemy-3.0.3.dist-info", ("Flask_SQLAlchemy", "3.0.3", "dist-info")),
        ("zope.interface-5.5.2.egg-info", ("zope.interface", "5.5.2", "egg-info")),
        ("xdg-5.egg-info", ("xdg", "5", "egg-info")),
        ("crit-3.17.1-py3.11.egg-info", ("crit", "3.17.1", "egg-info")),
        ("SCons-4.4.0-py3.10.egg-info", ("SCons", "4.4.0", "egg-info")),
        ("cryptography.egg-info", ("cryptography", None, "egg-info")),
        ("dask-2022.12.1+dfsg.egg-info", ("dask", "2022.12.1+dfsg", "egg-info")),
        ("bumblebee_status-0+unknown.egg-info", ("bumblebee_status", "0+unknown", "egg-info")),
        ("pytz_deprecation_shim-0.1.0.post0.dist-info", ("pytz_deprecation_shim", "0.1.0.post0", "dist-info")),
    ],
)
def test_parse_metadata_name(entry, expected):
    assert parse_metadata_name(entry) == expected


@pytest.mark.parametrize("entry", ["six.py", "foo-1.0.egg", "-1.0.dist-info", ".dist-info"])
def test_parse_metadata_name_rejects(entry):
    with pytest.raises(ValueError):
        parse_metadata_name(entry)


EXPECTED_ALL = [
    ("Django", "3.2.25", "python3-django"),
    ("azure_agrifood_farming", "1.0.0b2", "python3-azure"),
    ("azure_ai_anomalydetector", "3.0.0b7", "python3-azure"),
    ("azure_ai_formrecognizer", "3.2.1", "python3-azure"),
    ("beautifulsoup4", "4.11.2", "python3-bs4"),
    ("channels", "4.0.0", "python3-django-channels"),
    ("chargebee", "1.6.6", "python3-chargebee"),
    ("chargebee", "2.11.0", "python3-chargebee2"),
    ("deprecation", "2.0.7", "python3-deprecation"),
    ("pyOpenSSL", "23.0.0", "python3-openssl"),
    ("python_dateutil", "2.8.2", "python3-dateutil"),
    ("python_novaclient", "18.1.0", "python3-novaclient"),
    ("pyxdg", "0.28", "python3-xdg"),
    ("requests", "2.28.1", "python3-requests"),
    ("six", "1.16.0", "python3-six"),
    ("urllib3", "1.26.12", "python3-urllib3"),
    ("xdg", "5", "python3-xdg"),
]
EXPECTED_AMD64 = [
    ("PyYAML", "6.0", "python3-yaml"),
    ("crit", "3.17.1", "criu"),
    ("cryptography", "38.0.4", "python3-cryptography"),
    ("cryptography", None, "python3-cryptography"),
    ("zope.interface", "5.5.2", "python3-zope.interface"),
]


def _triples(found):
    return [(d.name, d.version, d.package) for d in found]


def test_fixture_contents_all_each_distribution_once_in_file_order():
    assert _triples(iter_python_distributions(CONTENTS_ALL)) == EXPECTED_ALL


def test_fixture_contents_amd64():
    assert _triples(iter_python_distributions(CONTENTS_AMD64)) == EXPECTED_AMD64


def test_several_sources_in_order():
    assert _triples(python_distributions(CONTENTS_ALL, CONTENTS_AMD64)) == EXPECTED_ALL + EXPECTED_AMD64


def test_same_index_twice_is_merged():
    assert _triples(python_distributions(CONTENTS_ALL, CONTENTS_ALL)) == EXPECTED_ALL


def test_no_sources():
    assert python_distributions() == []


def test_record_fields():
    found = {d.name: d for d in iter_python_distributions(CONTENTS_ALL)}
    assert found["xdg"] == ContentsDistribution(
        name="xdg",
        version="5",
        package="python3-xdg",
        section="python",
        kind="egg-info",
        path="usr/lib/python3/dist-packages/xdg-5.egg-info",
    )
    assert found["pyxdg"].path == "usr/lib/python3/dist-packages/pyxdg-0.28.dist-info"


def test_python3_xdg_ships_two_distributions():
    packages = {}
    for dist in python_distributions(CONTENTS_ALL):
        packages.setdefault(dist.package, []).append(dist.name)
    assert packages["python3-xdg"] == ["pyxdg", "xdg"]
    assert packages["python3-azure"] == [
        "azure_agrifood_farming",
        "azure_ai_anomalydetector",
        "azure_ai_formrecognizer",
    ]


def _compressed(tmp_path: Path, source: Path, kind: str) -> Path:
    data = source.read_bytes()
    if kind == "gz":
        packed = gzip.compress(data)
    elif kind == "xz":
        packed = lzma.compress(data)
    elif kind == "gz-two-members":
        # Split mid-line: a gzip file may be several members end to end.
        half = len(data) // 2
        packed = gzip.compress(data[:half]) + gzip.compress(data[half:])
    elif kind == "xz-two-streams":
        half = len(data) // 2
        packed = lzma.compress(data[:half]) + lzma.compress(data[half:])
    else:
        packed = data
    # The name says nothing: the format is told by its magic bytes.
    target = tmp_path / f"Contents-{kind}"
    target.write_bytes(packed)
    return target


@pytest.mark.parametrize("kind", ["plain", "gz", "xz", "gz-two-members", "xz-two-streams"])
def test_compressed_input(tmp_path, kind):
    packed = _compressed(tmp_path, CONTENTS_ALL, kind)
    assert _triples(iter_python_distributions(packed)) == EXPECTED_ALL
    with open(packed, "rb") as stream:
        assert _triples(iter_python_distributions(stream)) == EXPECTED_ALL


FILLER = "bin/ash                                                 shells/ash\n"
METADATA_LINE = "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA python/python3-yaml\n"


@pytest.mark.parametrize("cut", [0, 1, 2, 15, 30, 31, 32, 45, 62, 70, len(METADATA_LINE) - 1])
def test_line_across_block_boundary(cut):
    """A metadata line split by the reader's block boundary ``cut`` bytes into the line."""
    block = contents._READ_SIZE
    head = FILLER * ((block - cut) // len(FILLER) - 1)
    head += "x" * (block - cut - len(head) - 1) + "\n"
    text = head + METADATA_LINE + FILLER * 10
    assert text.index(METADATA_LINE) == block - cut
    assert _found(text) == [("PyYAML", "6.0", "python3-yaml", "python", "dist-info")]


def test_long_line_longer_than_a_block():
    long_path = "usr/share/doc/x/" + "y" * (3 * contents._READ_SIZE)
    text = f"{long_path} doc/x\n{METADATA_LINE}"
    assert _found(text) == [("PyYAML", "6.0", "python3-yaml", "python", "dist-info")]


def test_old_style_header_is_skipped():
    # Written here, shaped like the header Debian's Contents files carried until 2011.
    text = (
        "This file maps each file available in the Debian GNU/Linux system to\n"
        "the package from which it originates.\n"
        "\n"
        "FILE                                                    LOCATION\n" + METADATA_LINE
    )
    assert _found(text) == [("PyYAML", "6.0", "python3-yaml", "python", "dist-info")]


def test_error_is_environment_failure():
    assert issubclass(ContentsError, EnvironmentFailure)
    assert ContentsError("x").exit_code == EXIT_ENVIRONMENT


@pytest.mark.parametrize("keep", [0.5, 0.9])
@pytest.mark.parametrize("kind", ["gz", "xz"])
def test_truncated_compressed_file(tmp_path, kind, keep):
    packed = _compressed(tmp_path, CONTENTS_ALL, kind)
    data = packed.read_bytes()
    packed.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ContentsError, match="truncated"):
        list(iter_python_distributions(packed))


@pytest.mark.parametrize("kind", ["gz", "xz"])
def test_corrupt_compressed_file(tmp_path, kind):
    packed = _compressed(tmp_path, CONTENTS_ALL, kind)
    data = bytearray(packed.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(16)
    packed.write_bytes(bytes(data))
    with pytest.raises(ContentsError, match=r"Contents-\w+: (corrupt|truncated)"):
        list(iter_python_distributions(packed))


def test_missing_file(tmp_path):
    with pytest.raises(ContentsError, match="cannot read"):
        list(iter_python_distributions(tmp_path / "Contents-all.gz"))


@pytest.mark.parametrize(
    "line, message",
    [
        ("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", "no package field"),
        ("usr/lib/python3/dist-packages/xdg-5.egg-info", "no package field"),
        ("usr/lib/python3/dist-packages/xdg-5.egg-info   ", "no package field"),
        ("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA python3-yaml", "is not SECTION/PACKAGE"),
        ("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA python/", "is not SECTION/PACKAGE"),
        ("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA python/Yaml", "is not SECTION/PACKAGE"),
        ("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA python/python3-yaml,", "is not SECTION/PACKAGE"),
        ("usr/lib/python3/dist-packages/-6.0.dist-info/METADATA python/python3-yaml", "no distribution name"),
    ],
)
def test_malformed_metadata_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "Contents-all"
    path.write_text(FILLER * 2 + line + "\n" + FILLER)
    with pytest.raises(ContentsError, match=rf"^{path}:3: .*{message}"):
        list(iter_python_distributions(path))


def test_malformed_line_in_stream_names_byte_offset():
    stream = io.BytesIO((FILLER + "usr/lib/python3/dist-packages/xdg-5.egg-info\n").encode())
    with pytest.raises(ContentsError, match=rf"^<stream> \(byte {len(FILLER)} uncompressed\): no package field"):
        list(iter_python_distributions(stream, name="<stream>"))


@pytest.mark.parametrize("after", [0, 1, 50_000])
def test_malformed_line_number_in_compressed_file(tmp_path, after):
    path = tmp_path / "Contents-amd64.gz"
    text = FILLER * 100_000 + "usr/lib/python3/dist-packages/xdg-5.egg-info\n" + FILLER * after
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(ContentsError, match=rf"^{path}:100001: no package field"):
        list(iter_python_distributions(path))


def test_malformed_line_in_second_source_fails_the_whole_read(tmp_path):
    bad = tmp_path / "Contents-amd64"
    bad.write_text("usr/lib/python3/dist-packages/xdg-5.egg-info\n")
    with pytest.raises(ContentsError, match="Contents-amd64:1: no package field"):
        python_distributions(CONTENTS_ALL, bad)
