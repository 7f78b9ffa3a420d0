"""debvenv.sources.suite: a SuiteIndex from a suite's Packages and Contents.

The fixtures are real bookworm excerpts (tests/data/Packages, Contents-all,
Contents-amd64); the small inline Packages paragraphs are real bookworm
paragraphs cut to the fields the parser reads, except where a test says it
made up a pocket's newer version.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Mapping

import pytest

from debvenv.index import (
    MAPPING_CONTENTS,
    MAPPING_GUESSED,
    VERSION_FROM_DEBIAN,
    VERSION_FROM_METADATA,
    Provider,
    SuiteIndex,
)
from debvenv.sources.contents import ContentsDistribution, python_distributions
from debvenv.sources.packages import PackageRecord, parse_packages, read_packages
from debvenv.sources.suite import (
    borrow_mapping,
    carry_mapping,
    build_index,
    contents_providers,
    guessed_providers,
    merge,
    parse_name_list,
    read_dh_python_fallback,
    unmapped_packages,
)

DATA = Path(__file__).parent / "data"
SITE = "/usr/lib/python3/dist-packages"


@pytest.fixture(scope="module")
def packages() -> Mapping[str, PackageRecord]:
    return read_packages(DATA / "Packages")


@pytest.fixture(scope="module")
def distributions() -> List[ContentsDistribution]:
    return python_distributions(DATA / "Contents-all", DATA / "Contents-amd64")


@pytest.fixture(scope="module")
def bookworm(packages, distributions) -> SuiteIndex:
    providers = contents_providers(packages, distributions, suite="bookworm")
    return build_index(
        target_id="bookworm", kind="suite", arch="amd64", packages=packages, providers=providers
    )


def summary(provider: Provider) -> tuple:
    return (
        provider.package,
        provider.debian_version,
        provider.version,
        provider.version_source,
        provider.mapping,
    )


# ---- contents_providers on the real fixtures ---------------------------------------

META, DEB, CONTENTS = VERSION_FROM_METADATA, VERSION_FROM_DEBIAN, MAPPING_CONTENTS

# normalized name -> every provider, as (package, Debian version, version, version source, mapping)
CONTENTS_CASES = {
    "pyyaml": [("python3-yaml", "6.0-3+b2", "6.0", META, CONTENTS)],
    "beautifulsoup4": [("python3-bs4", "4.11.2-2", "4.11.2", META, CONTENTS)],
    "pyopenssl": [("python3-openssl", "23.0.0-1", "23.0.0", META, CONTENTS)],
    "channels": [("python3-django-channels", "4.0.0-1", "4.0.0", META, CONTENTS)],
    # The epoch stays in the Debian version and never reaches the upstream one.
    "django": [("python3-django", "3:3.2.25-0+deb12u3", "3.2.25", META, CONTENTS)],
    "python-novaclient": [("python3-novaclient", "2:18.1.0-3", "18.1.0", META, CONTENTS)],
    # The trap: Debian 2.1.0-2 ships deprecation-2.0.7.egg-info; the metadata wins.
    "deprecation": [("python3-deprecation", "2.1.0-2", "2.0.7", META, CONTENTS)],
    # python3-xdg ships pyxdg and an unrelated xdg-5.egg-info: both are real answers.
    "pyxdg": [("python3-xdg", "0.28-2", "0.28", META, CONTENTS)],
    "xdg": [("python3-xdg", "0.28-2", "5", META, CONTENTS)],
    # A versionless cryptography.egg-info beside cryptography-38.0.4.dist-info.
    "cryptography": [("python3-cryptography", "38.0.4-3+deb12u1", "38.0.4", META, CONTENTS)],
    # crit-3.17.1-py3.11.egg-info: the interpreter tag is dropped; not a python3-* package.
    "crit": [("criu", "3.17.1-2+deb12u2", "3.17.1", META, CONTENTS)],
    "zope-interface": [("python3-zope.interface", "5.5.2-1+b1", "5.5.2", META, CONTENTS)],
    "python-dateutil": [("python3-dateutil", "2.8.2-2", "2.8.2", META, CONTENTS)],
    "requests": [("python3-requests", "2.28.1+dfsg-1", "2.28.1", META, CONTENTS)],
    "six": [("python3-six", "1.16.0-4", "1.16.0", META, CONTENTS)],
    "urllib3": [("python3-urllib3", "1.26.12-1+deb12u4", "1.26.12", META, CONTENTS)],
    # Two packages provide one distribution; python3-chargebee2 2.22.0 ships 2.11.0 metadata.
    "chargebee": [
        ("python3-chargebee", "1.6.6-4", "1.6.6", META, CONTENTS),
        ("python3-chargebee2", "2.22.0-1", "2.11.0", META, CONTENTS),
    ],
    # One package provides many distributions.
    "azure-agrifood-farming": [("python3-azure", "20230112+git-1", "1.0.0b2", META, CONTENTS)],
    "azure-ai-anomalydetector": [("python3-azure", "20230112+git-1", "3.0.0b7", META, CONTENTS)],
    "azure-ai-formrecognizer": [("python3-azure", "20230112+git-1", "3.2.1", META, CONTENTS)],
}


@pytest.mark.parametrize("name", sorted(CONTENTS_CASES))
def test_contents_providers_real_cases(bookworm, name):
    assert [summary(p) for p in bookworm.lookup(name)] == CONTENTS_CASES[name]


def test_contents_providers_are_exactly_the_metadata_in_dist_packages(bookworm):
    # usr/lib/python3.11/dist-packages, a petsc4py egg-info outside dist-packages,
    # python3-django-compressor's test file with spaces: none of them is a distribution.
    assert sorted(bookworm.providers) == sorted(CONTENTS_CASES)


@pytest.mark.parametrize(
    "name, path",
    [
        ("pyyaml", f"{SITE}/PyYAML-6.0.dist-info"),
        ("cryptography", f"{SITE}/cryptography-38.0.4.dist-info"),
        ("crit", f"{SITE}/crit-3.17.1-py3.11.egg-info"),
        ("xdg", f"{SITE}/xdg-5.egg-info"),
    ],
)
def test_contents_providers_keep_the_metadata_path(bookworm, name, path):
    (provider,) = bookworm.lookup(name)
    assert provider.path == path
    assert provider.suite == "bookworm"
    assert provider.arch == ("amd64" if name in ("pyyaml", "cryptography", "crit") else "all")


def test_contents_providers_keep_the_metadata_spelling(bookworm):
    assert [p.name for p in bookworm.lookup("pyyaml")] == ["PyYAML"]
    assert [p.name for p in bookworm.lookup("zope-interface")] == ["zope.interface"]


def test_package_missing_from_packages_is_dropped(packages, distributions):
    # Ubuntu's suite-wide Contents lists universe too: a package not in the
    # Packages we read cannot be installed from these components.
    without_django = {name: packages[name] for name in packages if name != "python3-django"}
    found = contents_providers(without_django, distributions)
    assert "django" not in found
    assert "channels" in found


def _cryptography(distributions: List[ContentsDistribution]) -> List[ContentsDistribution]:
    return [d for d in distributions if d.package == "python3-cryptography"]


@pytest.mark.parametrize("reverse", [False, True], ids=["dist-info-first", "egg-info-first"])
def test_versionless_egg_info_yields_to_the_versioned_dist_info(packages, distributions, reverse):
    ours = _cryptography(distributions)
    assert [(d.kind, d.version) for d in ours] == [("dist-info", "38.0.4"), ("egg-info", None)]
    if reverse:
        ours.reverse()
    (provider,) = contents_providers(packages, ours)["cryptography"]
    assert summary(provider) == (
        "python3-cryptography", "38.0.4-3+deb12u1", "38.0.4", META, CONTENTS,
    )  # fmt: skip
    assert provider.path == f"{SITE}/cryptography-38.0.4.dist-info"


def test_versionless_egg_info_alone_translates_the_debian_version(packages, distributions):
    egg_only = [d for d in _cryptography(distributions) if d.version is None]
    (provider,) = contents_providers(packages, egg_only)["cryptography"]
    assert summary(provider) == ("python3-cryptography", "38.0.4-3+deb12u1", "38.0.4", DEB, CONTENTS)
    assert provider.path == f"{SITE}/cryptography.egg-info"


def test_suite_python_is_the_python3_package(bookworm):
    assert bookworm.target.python == "3.11"
    assert bookworm.target.marker_environment["python_full_version"] == "3.11.2"
    assert bookworm.target.marker_environment["platform_machine"] == "x86_64"


def test_unmapped_packages_are_those_no_provider_names(packages, bookworm):
    providers = {key: list(group) for key, group in bookworm.providers.items()}
    assert unmapped_packages(packages, providers) == {
        "python3": ("3.11.2-1+b1", "amd64"),
        # The fixture has two linux-doc paragraphs; the higher version stays.
        "linux-doc": ("6.1.176-1", "all"),
    }


# ---- dh-python's fallback list and the naming rule ---------------------------------

# Real bookworm paragraphs, cut to the fields the parser reads.
NAMING_PACKAGES = b"""\
Package: python3-yaml
Source: pyyaml (6.0-3)
Version: 6.0-3+b2
Architecture: amd64

Package: python3-dateutil
Source: python-dateutil
Version: 2.8.2-2
Architecture: all

Package: python3-novaclient
Source: python-novaclient
Version: 2:18.1.0-3
Architecture: all

Package: python3-pyinotify
Source: pyinotify
Version: 0.9.6-2
Architecture: all

Package: python3-inotify
Source: python-inotify
Version: 0.2.10-4
Architecture: all

Package: python3-docx
Source: python-docx
Version: 0.8.11+dfsg1-5
Architecture: all

Package: python3-python-docx
Source: python-docx
Version: 0.8.11+dfsg1-5
Architecture: all

Package: python3-intake
Source: intake
Version: 0.6.6-1
Architecture: amd64

Package: python3-intake-doc
Source: intake
Version: 0.6.6-1
Architecture: all

Package: python3-tk
Source: python3-stdlib-extensions
Version: 3.11.2-3
Architecture: amd64

Package: python3-tk-dbg
Source: python3-stdlib-extensions
Version: 3.11.2-3
Architecture: amd64

Package: python3-bs4
Source: beautifulsoup4
Version: 4.11.2-2
Architecture: all

Package: python3
Source: python3-defaults (3.11.2-1)
Version: 3.11.2-1+b1
Architecture: amd64

Package: criu
Version: 3.17.1-2+deb12u2
Architecture: amd64
"""

# dh-python's own format: "distribution package", comments allowed.
FALLBACK = """\
# Python distribution name -> Debian package, as dh-python ships it
PyYAML python3-yaml
beautifulsoup4 python3-bs4
Flask python3-flask
"""


@pytest.fixture(scope="module")
def naming_packages():
    return parse_packages(NAMING_PACKAGES, "NAMING_PACKAGES")


def test_read_dh_python_fallback(tmp_path):
    path = tmp_path / "cpython3_fallback"
    path.write_text(FALLBACK)
    assert read_dh_python_fallback(path) == {
        "PyYAML": "python3-yaml",
        "beautifulsoup4": "python3-bs4",
        "Flask": "python3-flask",
    }


def test_name_list_keeps_the_first_spelling_of_a_name():
    # As trixie's dh-python lists Pillow twice: the first line wins, spelled as written.
    assert parse_name_list("Pillow python3-pil\nclick python3-click\npillow python3-pil\n") == {
        "Pillow": "python3-pil",
        "click": "python3-click",
    }


def test_read_dh_python_fallback_absent(tmp_path):
    assert read_dh_python_fallback(tmp_path / "nowhere") == {}


# normalized name -> the package the guess gives, or None for no guess
NAMING_CASES = [
    ("yaml", "python3-yaml"),  # the plain name
    ("pyyaml", "python3-yaml"),  # py + name
    ("dateutil", "python3-dateutil"),
    ("python-dateutil", "python3-dateutil"),  # python- + name
    ("python-novaclient", "python3-novaclient"),
    # Exact names win over prefixed spellings of another package's name:
    # pyinotify is python3-pyinotify, not python3-inotify read as py+inotify ...
    ("pyinotify", "python3-pyinotify"),
    ("inotify", "python3-inotify"),
    # ... and python-docx is python3-python-docx, not python3-docx read as python-+docx.
    ("python-docx", "python3-python-docx"),
    ("docx", "python3-docx"),
    # Documentation and debug builds are not distributions.
    ("intake", "python3-intake"),
    ("intake-doc", None),
    ("tk-dbg", None),
    ("pytk-dbg", None),
    # Neither python3 itself nor a package outside the python3- namespace.
    ("python3", None),
    ("criu", None),
    ("crit", None),
    # What no rule can know without metadata or dh-python's list.
    ("beautifulsoup4", None),
    ("bs4", "python3-bs4"),
]


@pytest.mark.parametrize("name, package", NAMING_CASES)
def test_naming_rule(naming_packages, name, package):
    found = guessed_providers(naming_packages, {}, suite="bookworm")
    providers = found.get(name, [])
    assert [p.package for p in providers] == ([package] if package else [])
    for provider in providers:
        assert provider.mapping == MAPPING_GUESSED
        assert provider.version_source == VERSION_FROM_DEBIAN
        assert provider.path is None
        assert provider.suite == "bookworm"


def test_guessed_versions_are_translated_from_debian(naming_packages):
    found = guessed_providers(naming_packages, {})
    assert summary(found["python-novaclient"][0]) == (
        "python3-novaclient", "2:18.1.0-3", "18.1.0", DEB, MAPPING_GUESSED,
    )  # fmt: skip
    assert found["docx"][0].version == "0.8.11"  # +dfsg1 dropped


def test_fallback_list_comes_before_the_naming_rule(tmp_path, naming_packages):
    path = tmp_path / "cpython3_fallback"
    path.write_text(FALLBACK)
    found = guessed_providers(naming_packages, read_dh_python_fallback(path))
    assert [p.package for p in found["beautifulsoup4"]] == ["python3-bs4"]
    assert [p.mapping for p in found["beautifulsoup4"]] == [MAPPING_GUESSED]
    assert [p.package for p in found["pyyaml"]] == ["python3-yaml"]
    # Listed, but not in this suite's Packages: no provider.
    assert "flask" not in found
    # The naming rule still covers what the list does not name.
    assert [p.package for p in found["yaml"]] == ["python3-yaml"]


# ---- merge ------------------------------------------------------------------------


def _provider(package: str, debian_version: str, version: str, suite: str, **kw) -> Provider:
    fields = dict(
        name="Django",
        package=package,
        debian_version=debian_version,
        version=version,
        version_source=VERSION_FROM_METADATA,
        mapping=MAPPING_CONTENTS,
        arch="all",
        path=f"{SITE}/Django-{version}.egg-info",
        suite=suite,
    )
    fields.update(kw)
    return Provider(**fields)


def test_merge_keeps_distinct_versions_and_dedupes_identical_ones():
    release = _provider("python3-django", "3:3.2.25-0+deb12u3", "3.2.25", "bookworm")
    security = _provider("python3-django", "3:3.2.25-0+deb12u4", "3.2.25", "bookworm-security")
    backports = _provider("python3-django", "3:4.2.16-1~bpo12+1", "4.2.16", "bookworm-backports")
    # bookworm-updates carrying the very same build as bookworm: one provider, not two.
    same_again = _provider("python3-django", "3:3.2.25-0+deb12u3", "3.2.25", "bookworm-updates")
    yaml = _provider("python3-yaml", "6.0-3+b2", "6.0", "bookworm", name="PyYAML")
    merged = merge(
        [
            {"django": [release], "pyyaml": [yaml]},
            {"django": [same_again, security]},
            {"django": [backports]},
        ]
    )
    assert merged == {"django": (release, security, backports), "pyyaml": (yaml,)}


def test_merge_prefers_the_metadata_version_of_an_identical_build():
    translated = _provider(
        "python3-cryptography", "38.0.4-3+deb12u1", "38.0.4", "bookworm",
        name="cryptography", version_source=VERSION_FROM_DEBIAN,
    )  # fmt: skip
    metadata = _provider(
        "python3-cryptography", "38.0.4-3+deb12u1", "38.0.4", "bookworm", name="cryptography"
    )
    assert merge([{"cryptography": [translated]}, {"cryptography": [metadata]}]) == {
        "cryptography": (metadata,)
    }


def test_merge_of_a_suite_with_itself_changes_nothing(bookworm):
    providers = {key: list(group) for key, group in bookworm.providers.items()}
    assert merge([providers, providers]) == dict(bookworm.providers)


# ---- build_index ------------------------------------------------------------------


def test_build_index_without_python3_leaves_python_empty():
    pocket = parse_packages(POCKET_PACKAGES, "POCKET_PACKAGES")
    index = build_index(
        target_id="bookworm-backports", kind="suite", arch="amd64", packages=pocket, providers={}
    )
    assert index.target.python == ""
    assert dict(index.target.marker_environment) == {}
    assert index.target.arch == "amd64"
    assert dict(index.providers) == {}


def test_build_index_keeps_warnings_and_unmapped(naming_packages):
    index = build_index(
        target_id="bookworm",
        kind="suite",
        arch="arm64",
        packages=naming_packages,
        providers={},
        warnings=["the suite publishes no Contents: mappings are guessed"],
        unmapped={"python3-yaml": ("6.0-3+b2", "amd64")},
    )
    assert index.target.python == "3.11"
    assert index.target.marker_environment["platform_machine"] == "aarch64"
    assert index.warnings == ("the suite publishes no Contents: mappings are guessed",)
    assert dict(index.unmapped) == {"python3-yaml": ("6.0-3+b2", "amd64")}


# ---- borrow_mapping: a pocket's packages mapped through its release's Contents ------

# A pocket's Packages, made from bookworm's own paragraphs: the Debian
# revision moved for python3-deprecation (same upstream); python3-django is
# a backport of 4.2; python3-xdg ships two distributions; linux-doc ships none.
POCKET_PACKAGES = b"""\
Package: python3-deprecation
Source: python-deprecation
Version: 2.1.0-2+deb12u1
Architecture: all

Package: python3-django
Source: python-django
Version: 3:4.2.16-1~bpo12+1
Architecture: all

Package: python3-xdg
Source: pyxdg
Version: 0.28-2+deb12u1
Architecture: all

Package: linux-doc
Source: linux
Version: 6.1.180-1
Architecture: all
"""


def _pocket_index(suite: str, packages_text: bytes = POCKET_PACKAGES) -> SuiteIndex:
    """A pocket the way debian-security publishes it: an empty Contents."""
    packages = parse_packages(packages_text, suite)
    providers = contents_providers(packages, [], suite=suite)
    return build_index(
        target_id=suite,
        kind="suite",
        arch="amd64",
        packages=packages,
        providers=providers,
        unmapped=unmapped_packages(packages, providers),
    )


BORROW_CASES = [
    # Only the revision moved: the release's metadata version still holds.
    ("deprecation", ("python3-deprecation", "2.1.0-2+deb12u1", "2.0.7", META, CONTENTS)),
    # A new upstream: translated from the pocket's Debian version, and it says so.
    ("django", ("python3-django", "3:4.2.16-1~bpo12+1", "4.2.16", DEB, CONTENTS)),
    ("pyxdg", ("python3-xdg", "0.28-2+deb12u1", "0.28", META, CONTENTS)),
    ("xdg", ("python3-xdg", "0.28-2+deb12u1", "5", META, CONTENTS)),
]


@pytest.mark.parametrize("name, expected", BORROW_CASES)
def test_borrow_mapping(bookworm, name, expected):
    pocket = _pocket_index("bookworm-backports")
    assert dict(pocket.providers) == {}
    borrowed = borrow_mapping(pocket, bookworm, suite="bookworm-backports")
    (provider,) = borrowed.lookup(name)
    assert summary(provider) == expected
    assert provider.suite == "bookworm-backports"
    (known,) = bookworm.lookup(name)
    assert provider.path == known.path
    assert provider.name == known.name


def test_borrow_mapping_covers_exactly_the_packages_the_release_maps(bookworm):
    borrowed = borrow_mapping(_pocket_index("bookworm-security"), bookworm, suite="bookworm-security")
    assert sorted(borrowed.providers) == sorted(name for name, _ in BORROW_CASES)
    assert borrowed.target.python == ""  # the caller takes it from the release


def test_borrow_mapping_keeps_what_the_pocket_mapped_itself(bookworm, packages, distributions):
    # noble-updates-style: the pocket has its own Contents for some packages.
    pocket_packages = parse_packages(POCKET_PACKAGES, "POCKET_PACKAGES")
    own = [
        ContentsDistribution(
            name="Django",
            version="4.2.16",
            package="python3-django",
            section="python",
            kind="egg-info",
            path="usr/lib/python3/dist-packages/Django-4.2.16.egg-info",
        )
    ]
    providers = contents_providers(pocket_packages, own, suite="bookworm-backports")
    pocket = build_index(
        target_id="bookworm-backports",
        kind="suite",
        arch="amd64",
        packages=pocket_packages,
        providers=providers,
        unmapped=unmapped_packages(pocket_packages, providers),
    )
    assert "python3-django" not in pocket.unmapped
    borrowed = borrow_mapping(pocket, bookworm, suite="bookworm-backports")
    (django,) = borrowed.lookup("django")
    assert summary(django) == ("python3-django", "3:4.2.16-1~bpo12+1", "4.2.16", META, CONTENTS)
    assert [p.package for p in borrowed.lookup("deprecation")] == ["python3-deprecation"]


def test_borrowed_pocket_merged_with_its_release(bookworm):
    pocket = borrow_mapping(_pocket_index("bookworm-security"), bookworm, suite="bookworm-security")
    as_lists = [
        {key: list(group) for key, group in index.providers.items()} for index in (bookworm, pocket)
    ]
    merged = merge(as_lists)
    assert [(p.debian_version, p.version, p.suite) for p in merged["deprecation"]] == [
        ("2.1.0-2", "2.0.7", "bookworm"),
        ("2.1.0-2+deb12u1", "2.0.7", "bookworm-security"),
    ]
    assert [(p.debian_version, p.suite) for p in merged["pyyaml"]] == [("6.0-3+b2", "bookworm")]


def test_pocket_without_contents_takes_its_names_from_the_release(bookworm):
    # A pocket whose Release lists no Contents: guessed names, then the release's real ones.
    packages = parse_packages(POCKET_PACKAGES + b"\n" + NAMING_PACKAGES.split(b"\n\n")[3] + b"\n", "pocket")
    assert "python3-pyinotify" in packages
    guessed = guessed_providers(packages, {}, suite="bookworm-updates")
    assert [p.package for p in guessed["django"]] == ["python3-django"]
    unmapped = unmapped_packages(packages, guessed)
    # A guess maps nothing for good: every package waits for the release's mapping.
    assert sorted(unmapped) == sorted(packages)
    pocket = build_index(
        target_id="bookworm-updates", kind="suite", arch="amd64",
        packages=packages, providers=guessed, unmapped=unmapped,
    )  # fmt: skip
    borrowed = borrow_mapping(pocket, bookworm, suite="bookworm-updates")
    # The release knows python3-django ships Django and python3-xdg ships pyxdg and xdg ...
    assert [summary(p) for p in borrowed.lookup("django")] == [
        ("python3-django", "3:4.2.16-1~bpo12+1", "4.2.16", DEB, CONTENTS)
    ]
    assert [p.mapping for p in borrowed.lookup("pyxdg")] == [CONTENTS]
    assert [p.version for p in borrowed.lookup("xdg")] == ["5"]
    # ... so no guess about them remains; a package the release does not know keeps its guess.
    assert all(
        p.mapping == CONTENTS or p.package == "python3-pyinotify"
        for group in borrowed.providers.values()
        for p in group
    )
    assert [(p.package, p.mapping) for p in borrowed.lookup("pyinotify")] == [
        ("python3-pyinotify", MAPPING_GUESSED)
    ]


# ---- carry_mapping: today's Packages named through an older verified Contents --------


@pytest.mark.parametrize("name, expected", BORROW_CASES)
def test_carry_mapping_is_borrow_mappings_rule_with_its_own_mapping(bookworm, name, expected):
    packages = parse_packages(POCKET_PACKAGES, "POCKET_PACKAGES")
    carried = carry_mapping(packages, bookworm.providers, suite="bookworm", mapping="cached-contents")
    (provider,) = carried[name]
    assert summary(provider) == expected[:4] + ("cached-contents",)
    assert provider.suite == "bookworm"


def test_carry_mapping_drops_what_todays_packages_lack(bookworm):
    carried = carry_mapping(parse_packages(b"", "empty"), bookworm.providers, suite="bookworm", mapping="cached-contents")
    assert carried == {}


def test_guessed_providers_say_where_a_listed_name_came_from(naming_packages, tmp_path):
    path = tmp_path / "cpython3_fallback"
    path.write_text(FALLBACK)
    found = guessed_providers(naming_packages, read_dh_python_fallback(path), list_mapping="dh-python")
    (yaml,) = found["pyyaml"]
    assert (yaml.name, yaml.package, yaml.mapping) == ("PyYAML", "python3-yaml", "dh-python")
    # A name the list does not have still comes from the rule, and says guessed.
    assert {p.mapping for group in found.values() for p in group} == {"dh-python", "guessed"}
