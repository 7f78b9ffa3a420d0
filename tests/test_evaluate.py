"""Statuses per docs/design.md, on providers taken from real Debian and Ubuntu packages."""

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from debvenv.evaluate import (
    EXCLUDED,
    MISSING,
    NOT_APPLICABLE,
    OUTDATED,
    SATISFIED,
    TOO_NEW,
    UNKNOWN_VERSION,
    URL,
    check,
    evaluate,
    version_status,
)
from debvenv.index import (
    MAPPING_CONTENTS,
    MAPPING_DH_PYTHON,
    VERSION_FROM_DEBIAN,
    VERSION_FROM_METADATA,
    ForeignDistribution,
    Provider,
    SuiteIndex,
    Target,
    marker_environment_for,
)
from debvenv.names import normalize
from debvenv.requirements import Origin, RequirementSet, parse_requirement_line, read_requirements


def provider(name, package, debian_version, version, source=VERSION_FROM_METADATA, mapping=MAPPING_CONTENTS):
    return Provider(
        name=name, package=package, debian_version=debian_version, version=version,
        version_source=source, mapping=mapping, arch="all",
    )


# Real packages: bookworm unless said otherwise.
PROVIDERS = [
    provider("PyYAML", "python3-yaml", "6.0-3+b2", "6.0"),
    provider("requests", "python3-requests", "2.28.1+dfsg-1", "2.28.1"),
    provider("Django", "python3-django", "3:3.2.19-1", "3.2.19"),
    provider("deprecation", "python3-deprecation", "2.1.0-2", "2.0.7"),  # dist-info disagrees
    provider("python-novaclient", "python3-novaclient", "2:18.2.0-2", "18.2.0", VERSION_FROM_DEBIAN),
    provider("distro-info", "python3-distro-info", "1.1build1", "1.1build1"),  # Ubuntu jammy: not PEP 440
    # Two packages providing one distribution: the python3-<name> one is urllib3, whatever fits.
    provider("urllib3", "python3-urllib3", "1.26.12-1+deb12u1", "1.26.12"),
    provider("urllib3", "python3-urllib3-two", "2.0.7-1", "2.0.7"),
]


def target(python="3.11.2", arch="amd64", id="bookworm"):
    return Target(id=id, kind="suite", python=python.rsplit(".", 1)[0], arch=arch,
                  marker_environment=marker_environment_for(python, arch))


def make_index(**kwargs):
    providers = {}
    for p in PROVIDERS:
        providers.setdefault(normalize(p.name), []).append(p)
    return SuiteIndex(target=target(**kwargs), providers={k: tuple(v) for k, v in providers.items()},
                      foreign={"requests": (ForeignDistribution(name="requests", version="2.31.0",
                                                                path="/usr/local/lib/python3.11/dist-packages/requests-2.31.0.dist-info"),)})


def req(text, line=1):
    return parse_requirement_line(text, Origin(file="requirements.txt", line=line))


@pytest.mark.parametrize(
    "version, specifier, status",
    [
        ("6.0", ">=5", SATISFIED),
        ("6.0", "", SATISFIED),
        ("2.28.1", ">=99", OUTDATED),
        ("2.28.1", ">2.28.1", OUTDATED),
        ("3.2.19", "<3", TOO_NEW),
        ("3.2.19", "<=3.2.18", TOO_NEW),
        ("1.19", "!=1.19", EXCLUDED),
        ("1.19.0", "!=1.19.*", EXCLUDED),
        ("1.4.2", "~=1.4.5", OUTDATED),
        ("1.5.0", "~=1.4.5", TOO_NEW),
        ("1.4.9", "~=1.4.5", SATISFIED),
        ("1.1", "==1.2.*", OUTDATED),
        ("1.3", "==1.2.*", TOO_NEW),
        ("1.2.1", "==1.2", TOO_NEW),
        ("1.2.0", "==1.2", SATISFIED),
        ("2.0rc1", ">=1.0", SATISFIED),  # a packaged pre-release is what it is
        ("3.2.19", ">=3.2,!=3.2.19", EXCLUDED),
        ("1.0", ">=2,!=1.0", OUTDATED),  # a bound says more than an exclusion
        ("1.0", "===1.0.0", EXCLUDED),  # equal versions, different strings
        ("1.0.0", "===1.0.0", SATISFIED),
        ("6.0", "===6.0", SATISFIED),
        ("4.11.2", "===4.12.2", OUTDATED),
        ("3.2.25", "===3.2.18", TOO_NEW),
        ("1.0.1.dev0", "===1.0.1", OUTDATED),  # a dev release is below its release
        ("1.0.1", "===1.0.1.dev0", TOO_NEW),
        ("1.0", "===foo", EXCLUDED),  # arbitrary equality on a non-version: nothing to order
        ("1.0", ">=2,===1.0", OUTDATED),
    ],
)
def test_version_status(version, specifier, status):
    assert version_status(Version(version), SpecifierSet(specifier)) == status


@pytest.mark.parametrize(
    "line, status, package",
    [
        ("PyYAML>=5", SATISFIED, "python3-yaml"),
        ("pyyaml", SATISFIED, "python3-yaml"),
        ("PyYAML[libyaml]>=5.1", SATISFIED, "python3-yaml"),
        ("requests>=99", OUTDATED, "python3-requests"),
        ("Django>=4.2,<5", OUTDATED, "python3-django"),
        ("Django<3", TOO_NEW, "python3-django"),
        ('Django>=4 ; python_version < "3"', NOT_APPLICABLE, None),
        ('Django>=3 ; platform_machine == "x86_64"', SATISFIED, "python3-django"),
        ('Django>=3 ; platform_machine == "aarch64"', NOT_APPLICABLE, None),
        ("foo @ https://example.org/foo.zip", URL, None),
        ("notapackage-xyz", MISSING, None),
        ("python-novaclient>=17", SATISFIED, "python3-novaclient"),
        ("distro-info>=1.0", UNKNOWN_VERSION, "python3-distro-info"),
        ("distro-info", SATISFIED, "python3-distro-info"),
        ("urllib3>=2", OUTDATED, "python3-urllib3"),
        ("urllib3<2", SATISFIED, "python3-urllib3"),
        ("urllib3>=3", OUTDATED, "python3-urllib3"),
        ("deprecation>=2.1", OUTDATED, "python3-deprecation"),  # the metadata wins
    ],
)
def test_evaluate_against_bookworm_providers(line, status, package):
    verdict = evaluate(req(line), make_index())
    assert verdict.status == status
    assert (verdict.provider.package if verdict.provider else None) == package


def test_markers_use_the_target_python_not_the_running_one():
    line = 'Django>=3 ; python_version >= "3.13"'
    assert evaluate(req(line), make_index(python="3.11.2")).status == NOT_APPLICABLE
    assert evaluate(req(line), make_index(python="3.13.5", id="trixie")).status == SATISFIED
    arm = 'Django>=3 ; platform_machine == "aarch64"'
    assert evaluate(req(arm), make_index(arch="arm64")).status == SATISFIED


def test_notes_show_both_versions_and_pip_copies():
    deprecation = evaluate(req("deprecation"), make_index())
    assert any("2.0.7" in n and "2.1.0-2" in n for n in deprecation.notes)
    requests = evaluate(req("requests"), make_index())
    assert any("installed by pip, not apt" in n and "2.31.0" in n for n in requests.notes)
    novaclient = evaluate(req("python-novaclient"), make_index())
    assert any("translated from Debian 2:18.2.0-2" in n for n in novaclient.notes)
    apt = evaluate(req("distro-info>=1.0"), make_index())
    assert any("1.1build1" in n and "not PEP 440" in n for n in apt.notes)


def test_check_summary_and_strict_exit_code():
    lines = ["PyYAML>=5", "requests>=99", 'Django>=4 ; python_version < "3"']
    requirements = RequirementSet(
        requirements=tuple(req(text, n) for n, text in enumerate(lines, 1)),
        constraints=(), pip_options=(), notes=(), files=("requirements.txt",),
    )
    report = check(requirements, [make_index()])
    assert report.summary() == {"bookworm": {
        SATISFIED: 1, OUTDATED: 1, TOO_NEW: 0, EXCLUDED: 0, MISSING: 0, URL: 0, NOT_APPLICABLE: 1}}
    assert report.exit_code(strict=False) == 0
    assert report.exit_code(strict=True) == 1


def test_stray_metadata_is_named():
    # python3-xdg (bookworm 0.28-2) ships pyxdg-0.28.dist-info and an unrelated xdg-5.egg-info.
    shipped = [
        provider("pyxdg", "python3-xdg", "0.28-2", "0.28"),
        provider("xdg", "python3-xdg", "0.28-2", "5"),
    ]
    index = SuiteIndex(target=target(), providers={normalize(p.name): (p,) for p in shipped})
    requirements = RequirementSet(requirements=(req("xdg>=5"), req("pyxdg")), constraints=(),
                                  pip_options=(), notes=(), files=())
    xdg, pyxdg = (r.verdicts["bookworm"] for r in check(requirements, [index]).results)
    assert xdg.status == SATISFIED  # the metadata says so; the note says why to doubt it
    assert any("python3-xdg is pyxdg 0.28" in note for note in xdg.notes)
    assert not any("may not be" in note for note in pyxdg.notes)


def test_lines_of_one_name_are_judged_once_as_pip_combines_them(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text('requests>=2.25\nPyYAML>=5\nrequests<2.28,>=2.20\nrequests<2 ; python_version < "3"\n')
    report = check(read_requirements([path]), [make_index()])
    first, _yaml, second, other_python = (result.verdicts["bookworm"] for result in report.results)
    # Alone, each of the first two is satisfied by 2.28.1; together they are not.
    assert (first.status, second.status) == (TOO_NEW, TOO_NEW)
    assert first.judged is second.judged and first.judged.origin.line == 1
    assert first.judged.combined == (Origin(file=str(path), line=3),)
    assert first.notes[0] == f"combined with {path}:3: requests<2.28,>=2.20,>=2.25"
    assert second.notes[0] == f"combined with {path}:1: requests<2.28,>=2.20,>=2.25"
    assert other_python.status == NOT_APPLICABLE and other_python.judged is None


# ---- several packages ship one distribution name --------------------------------------

COLLISIONS = Path(__file__).parent / "data" / "collisions"  # bookworm's two "click" packages, cut unchanged


def bookworm_with_collisions() -> SuiteIndex:
    from debvenv.sources.contents import python_distributions
    from debvenv.sources.packages import read_packages
    from debvenv.sources.suite import build_index, contents_providers

    packages = read_packages(COLLISIONS / "Packages")
    providers = contents_providers(
        packages, python_distributions(COLLISIONS / "Contents-all", COLLISIONS / "Contents-amd64"), suite="bookworm"
    )
    return build_index(target_id="bookworm", kind="suite", arch="amd64", packages=packages, providers=providers)


@pytest.mark.parametrize(
    "line, status",
    [
        ("click", SATISFIED),
        ("click>=8", SATISFIED),
        # python3-click-package's 0.5.0.post9 would fit; Debian's click is python3-click all the same.
        ("click>=5.0,<7.0", TOO_NEW),
        ("click<1", TOO_NEW),
    ],
)
def test_a_name_two_packages_ship_is_the_python3_name_package(line, status):
    index = bookworm_with_collisions()
    assert sorted(p.package for p in index.lookup("click")) == ["python3-click", "python3-click-package"]
    verdict = evaluate(req(line), index)
    assert (verdict.status, verdict.provider.package, verdict.provider.version) == (status, "python3-click", "8.1.3")
    assert "not taken: python3-click-package 0.5.0-9 (click 0.5.0.post9); python3-<name> wins" in verdict.notes


@pytest.mark.parametrize(
    "providers, chosen, why",
    [
        # dh-python's list of the suite names the package: it wins over the spelling.
        (
            [provider("click", "python3-click-package", "0.5.0-9", "0.5.0.post9", mapping=MAPPING_DH_PYTHON),
             provider("click", "python3-click", "8.1.3-2", "8.1.3")],
            "python3-click-package", "dh-python maps click to python3-click-package",
        ),
        # bookworm's real pair: python3-chargebee2 fits >=2, but chargebee is python3-chargebee.
        (
            [provider("chargebee", "python3-chargebee2", "2.22.0-1", "2.11.0"),
             provider("chargebee", "python3-chargebee", "1.6.6-4", "1.6.6")],
            "python3-chargebee", "python3-<name> wins",
        ),
        # Constructed: no python3-<name> package, so the first by name, whatever the specifier.
        (
            [provider("chargebee", "python3-chargebee2", "2.22.0-1", "2.11.0"),
             provider("chargebee", "python3-chargebee-legacy", "1.6.6-4", "1.6.6")],
            "python3-chargebee-legacy", "first by name wins",
        ),
    ],
)
def test_the_package_debian_means_by_a_name(providers, chosen, why):
    name = providers[0].name
    index = SuiteIndex(target=target(), providers={name: tuple(providers)})
    verdict = evaluate(req(f"{name}>=2"), index)
    assert verdict.provider.package == chosen
    assert any(note.startswith("not taken: ") and note.endswith(f"; {why}") for note in verdict.notes)
