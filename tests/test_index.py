"""debvenv.index: the SuiteIndex model, its parsed-index cache, and the target's marker environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from packaging.markers import Marker

from debvenv.index import (
    MAPPING_CONTENTS,
    VERSION_FROM_METADATA,
    Provider,
    SuiteIndex,
    Target,
    index_from_document,
    index_to_document,
    load_cached_index,
    machine_for_arch,
    marker_environment_for,
    save_cached_index,
)
from debvenv.sources.contents import python_distributions
from debvenv.sources.packages import read_packages
from debvenv.sources.suite import build_index, contents_providers, guessed_providers, unmapped_packages

DATA = Path(__file__).parent / "data"


def providers_of(index: SuiteIndex) -> dict:
    return {key: tuple(group) for key, group in index.providers.items()}


@pytest.fixture(scope="module")
def real_index() -> SuiteIndex:
    """bookworm's fixtures as a pocket would cache them: providers, warnings and unmapped."""
    packages = read_packages(DATA / "Packages")
    providers = contents_providers(
        packages, python_distributions(DATA / "Contents-all", DATA / "Contents-amd64"), suite="bookworm"
    )
    # A guessed provider too, so that every field and mapping kind goes through the cache.
    providers["dateutil"] = guessed_providers(packages, {})["dateutil"]
    return build_index(
        target_id="bookworm",
        kind="suite",
        arch="amd64",
        packages=packages,
        providers=providers,
        warnings=["bookworm from file:///srv/mirror: a warning that must survive the cache"],
        unmapped=unmapped_packages(packages, providers),
    )


def assert_same_index(loaded: SuiteIndex, expected: SuiteIndex, *, target_id: str) -> None:
    # SuiteIndex compares only target and warnings: compare every part explicitly.
    assert loaded.target.id == target_id
    assert (loaded.target.kind, loaded.target.python, loaded.target.arch) == (
        expected.target.kind, expected.target.python, expected.target.arch,
    )  # fmt: skip
    assert dict(loaded.target.marker_environment) == dict(expected.target.marker_environment)
    assert providers_of(loaded) == providers_of(expected)
    assert loaded.warnings == expected.warnings
    assert dict(loaded.unmapped) == dict(expected.unmapped)
    assert dict(loaded.bare) == dict(expected.bare)


def test_document_round_trip(real_index):
    document = index_to_document(real_index)
    # Through real JSON text, as the cache stores it.
    loaded = index_from_document(json.loads(json.dumps(document)))
    assert_same_index(loaded, real_index, target_id="bookworm")
    assert loaded == real_index
    assert sum(len(rows) for rows in document["providers"].values()) == sum(
        len(g) for g in real_index.providers.values()
    )
    assert dict(loaded.unmapped) == {"python3": ("3.11.2-1+b1", "amd64"), "linux-doc": ("6.1.176-1", "all")}


def test_document_round_trip_renames_the_target(real_index):
    loaded = index_from_document(index_to_document(real_index), target_id="stable")
    assert_same_index(loaded, real_index, target_id="stable")


def test_cache_round_trip(tmp_path, real_index):
    path = tmp_path / "indexes" / "0123abcd.json"
    save_cached_index(real_index, path)
    loaded = load_cached_index(path, target_id="bookworm")
    assert loaded is not None
    assert_same_index(loaded, real_index, target_id="bookworm")
    # One provider group with several providers keeps its order.
    assert [p.package for p in loaded.lookup("chargebee")] == ["python3-chargebee", "python3-chargebee2"]


def test_cache_of_an_empty_index(tmp_path):
    empty = SuiteIndex(target=Target(id="sid", kind="suite", python="", arch="amd64"), providers={})
    path = tmp_path / "empty.json"
    save_cached_index(empty, path)
    loaded = load_cached_index(path)
    assert loaded is not None
    assert_same_index(loaded, empty, target_id="sid")


def test_missing_cache_file(tmp_path):
    assert load_cached_index(tmp_path / "absent.json") is None


GOOD = {
    "format": 4,
    "target": {"id": "bookworm", "kind": "suite", "python": "3.11", "arch": "amd64", "marker_environment": {}},
    "providers": {
        "pyyaml": [["PyYAML", "python3-yaml", "6.0-3+b2", "6.0", "metadata", "contents", "amd64", None, "bookworm"]]
    },
    "warnings": [],
    "unmapped": {"python3": ["3.11.2-1+b1", "amd64"]},
    "bare": {"python3-vtk9": ["9.1.0+really9.1.0+dfsg2-5+deb12u1", "amd64"]},
}


def _with(**changes) -> bytes:
    document = dict(GOOD)
    document.update(changes)
    return json.dumps(document).encode()


# Each is a cache file that must be rebuilt (None), never trusted and never a crash.
CORRUPT = {
    "empty file": b"",
    "truncated json": json.dumps(GOOD).encode()[:-20],
    "not utf-8": b'{"format": 2, "target": "\xff\xfe"}',
    "binary junk": bytes(range(256)),
    "json list": b"[]",
    "json string": b'"format"',
    "json number": b"2",
    "json null": b"null",
    "older format": _with(format=3),
    "newer format": _with(format=5),
    "no format": json.dumps({k: v for k, v in GOOD.items() if k != "format"}).encode(),
    "no target": json.dumps({k: v for k, v in GOOD.items() if k != "target"}).encode(),
    "target not an object": _with(target=["bookworm"]),
    "target missing a field": _with(target={"id": "bookworm", "kind": "suite"}),
    "no providers": json.dumps({k: v for k, v in GOOD.items() if k != "providers"}).encode(),
    "providers a list": _with(providers=[["PyYAML", "python3-yaml"]]),
    "provider row too short": _with(providers={"pyyaml": [["PyYAML", "python3-yaml", "6.0-3+b2"]]}),
    "provider row too long": _with(
        providers={"pyyaml": [["PyYAML", "python3-yaml", "6.0-3+b2", "6.0", "metadata", "contents", "amd64", None, None, "x"]]}
    ),
    "provider version a number": _with(
        providers={"pyyaml": [["PyYAML", "python3-yaml", "6.0-3+b2", 6.0, "metadata", "contents", "amd64", None, None]]}
    ),
    "provider row not a list": _with(providers={"pyyaml": [7]}),
    "provider name not a string": _with(
        providers={"pyyaml": [[7, "python3-yaml", "6.0-3+b2", "6.0", "metadata", "contents", "amd64", None, None]]}
    ),
    "unmapped a list": _with(unmapped=[["python3", "3.11.2-1+b1", "amd64"]]),
    "unmapped pair too short": _with(unmapped={"python3": ["3.11.2-1+b1"]}),
    "bare a list": _with(bare=[["python3-vtk9", "9.1.0-5", "amd64"]]),
    "bare pair a string": _with(bare={"python3-vtk9": "ab"}),
    "bare version a number": _with(bare={"python3-vtk9": [9, "amd64"]}),
    "marker environment a list": _with(
        target={"id": "b", "kind": "suite", "python": "3.11", "arch": "amd64", "marker_environment": [1]}
    ),
}


def test_the_good_document_loads(tmp_path):
    path = tmp_path / "good.json"
    path.write_bytes(json.dumps(GOOD).encode())
    loaded = load_cached_index(path)
    assert loaded is not None
    assert [p.package for p in loaded.lookup("pyyaml")] == ["python3-yaml"]
    assert dict(loaded.bare) == {"python3-vtk9": ("9.1.0+really9.1.0+dfsg2-5+deb12u1", "amd64")}


@pytest.mark.parametrize("content", list(CORRUPT.values()), ids=list(CORRUPT))
def test_corrupt_or_foreign_cache_file_is_rebuilt(tmp_path, content):
    path = tmp_path / "index.json"
    path.write_bytes(content)
    assert load_cached_index(path) is None


def test_unreadable_cache_path_is_rebuilt(tmp_path):
    (tmp_path / "index.json").mkdir()
    assert load_cached_index(tmp_path / "index.json") is None


def test_index_from_document_refuses_another_format():
    with pytest.raises(ValueError, match="cache format 1"):
        index_from_document({**GOOD, "format": 1})


def test_save_leaves_no_temporary_file(tmp_path, real_index):
    path = tmp_path / "deep" / "indexes" / "key.json"
    save_cached_index(real_index, path)
    save_cached_index(real_index, path)  # replacing an existing one
    assert os.listdir(path.parent) == ["key.json"]
    assert json.loads(path.read_text())["format"] == index_to_document(real_index)["format"]


def test_failed_save_keeps_the_old_file_and_leaves_nothing_behind(tmp_path, real_index):
    path = tmp_path / "key.json"
    save_cached_index(real_index, path)
    before = path.read_bytes()
    # A provider field JSON cannot hold fails half-way through writing.
    unwritable = Provider(
        name="PyYAML", package="python3-yaml", debian_version="6.0-3+b2", version=object(),  # type: ignore[arg-type]
        version_source=VERSION_FROM_METADATA, mapping=MAPPING_CONTENTS, arch="amd64",
    )  # fmt: skip
    broken = SuiteIndex(target=real_index.target, providers={**real_index.providers, "zzz": (unwritable,)})
    with pytest.raises(TypeError):
        save_cached_index(broken, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["key.json"]


# ---- the target's Python and machine ---------------------------------------------


@pytest.mark.parametrize(
    "arch, machine",
    [
        ("amd64", "x86_64"),
        ("arm64", "aarch64"),
        ("armhf", "armv7l"),
        ("armel", "armv5tel"),
        ("i386", "i686"),
        ("ppc64el", "ppc64le"),
        ("s390x", "s390x"),
        ("riscv64", "riscv64"),
        ("mips64el", "mips64"),
        ("loong64", "loongarch64"),
        # Unknown to us: passed through rather than guessed.
        ("hurd-amd64", "hurd-amd64"),
    ],
)
def test_machine_for_arch(arch, machine):
    assert machine_for_arch(arch) == machine


@pytest.mark.parametrize(
    "full_version, arch, python_version, machine",
    [
        ("3.11.2", "amd64", "3.11", "x86_64"),  # bookworm
        ("3.13.5", "arm64", "3.13", "aarch64"),  # trixie
        ("3.12.3", "amd64", "3.12", "x86_64"),  # noble
        ("3.12.0rc1", "ppc64el", "3.12", "ppc64le"),  # a pre-release python3 (3.12.0~rc1)
    ],
)
def test_marker_environment_for(full_version, arch, python_version, machine):
    environment = marker_environment_for(full_version, arch)
    assert environment["python_version"] == python_version
    assert environment["python_full_version"] == full_version
    assert environment["implementation_version"] == full_version
    assert environment["platform_machine"] == machine
    assert environment["sys_platform"] == "linux"
    assert environment["platform_system"] == "Linux"
    assert environment["os_name"] == "posix"
    assert environment["implementation_name"] == "cpython"
    assert environment["platform_python_implementation"] == "CPython"
    # What we cannot know about a machine we do not run on is empty, not borrowed.
    assert environment["platform_release"] == ""
    assert environment["platform_version"] == ""


@pytest.mark.parametrize(
    "marker, bookworm, trixie_arm64",
    [
        ('python_version >= "3.12"', False, True),
        ('python_version < "3.12"', True, False),
        ('python_full_version == "3.11.2"', True, False),
        ('platform_machine == "x86_64"', True, False),
        ('platform_machine == "aarch64"', False, True),
        ('sys_platform == "win32"', False, False),
        ('implementation_name == "cpython" and os_name == "posix"', True, True),
    ],
)
def test_marker_environment_evaluates_markers_for_the_target(marker, bookworm, trixie_arm64):
    assert Marker(marker).evaluate(dict(marker_environment_for("3.11.2", "amd64"))) is bookworm
    assert Marker(marker).evaluate(dict(marker_environment_for("3.13.5", "arm64"))) is trixie_arm64


def test_cache_rows_follow_provider_field_order():
    # index_from_document builds Provider(*row): the row layout must be Provider's own.
    import dataclasses

    from debvenv.index import _PROVIDER_FIELDS, Provider

    assert tuple(f.name for f in dataclasses.fields(Provider)) == _PROVIDER_FIELDS
