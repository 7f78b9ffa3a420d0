"""Honest "missing": packages named like a requirement that pip would not see as it (issue 12).

The suites are real index lines cut by scripts/cut-candidate-fixtures: sid's
python3-thumbhash ships thumbhash_py 0.1.2; bookworm's python3-vtk9 ships
vtk.py and vtkmodules/ without any metadata, sid's ships vtk 9.6.2.
"""

import json
from pathlib import Path

import pytest

from debvenv.evaluate import (
    MISSING,
    NO_METADATA,
    NOT_INSTALLED,
    NOT_TAKEN_COLLISION,
    OTHER_NAME,
    SATISFIED,
    TOO_NEW,
    Candidate,
    check,
    evaluate,
    shipments,
)
from debvenv.index import SuiteIndex, index_from_document, index_to_document
from debvenv.render import render_json, report_document, verdict_line
from debvenv.requirements import Origin, RequirementSet, parse_requirement_line
from debvenv.sources.contents import python_distributions
from debvenv.sources.installed import load_installed
from debvenv.sources.packages import read_packages
from debvenv.sources.suite import build_index, contents_providers
from debvenv.targets import TargetOptions, load_target

DATA = Path(__file__).parent / "data"
VTK9_BOOKWORM = "9.1.0+really9.1.0+dfsg2-5+deb12u1"


def suite(name: str, directory: Path) -> SuiteIndex:
    packages = read_packages(directory / "Packages")
    distributions = python_distributions(directory / "Contents-all", directory / "Contents-amd64")
    providers = contents_providers(packages, distributions, suite=name)
    return build_index(target_id=name, kind="suite", arch="amd64", packages=packages, providers=providers)


@pytest.fixture(scope="module")
def sid() -> SuiteIndex:
    return suite("sid", DATA / "candidates" / "sid")


@pytest.fixture(scope="module")
def bookworm() -> SuiteIndex:
    return suite("bookworm", DATA / "candidates" / "bookworm")


def req(text, line=1):
    return parse_requirement_line(text, Origin(file="requirements.txt", line=line))


def requirement_set(*lines):
    return RequirementSet(requirements=tuple(lines), constraints=(), pip_options=(), notes=(), files=())


def judge(text, index):
    return evaluate(req(text), index, shipments(index))


def test_a_package_shipping_another_name_is_named_but_the_verdict_stays_missing(sid):
    verdict = judge("thumbhash>=0.1", sid)
    assert verdict.status == MISSING and verdict.provider is None
    assert verdict.candidates == (Candidate("python3-thumbhash", "0.1.2-4", OTHER_NAME, ("thumbhash_py", "0.1.2")),)
    assert verdict.notes == ("python3-thumbhash exists and ships thumbhash_py 0.1.2",)
    # Under the name its metadata gives, it is the provider, and nothing else is said.
    shipped = judge("thumbhash-py>=0.1", sid)
    assert (shipped.status, shipped.provider.package, shipped.candidates) == (SATISFIED, "python3-thumbhash", ())


@pytest.mark.parametrize("line", ["vtk", "vtk>=9", "vtk9"])
def test_a_package_without_metadata_is_named_with_its_debian_version(bookworm, line):
    # Bookworm's python3-vtk9 ships vtk.py and vtkmodules/, no dist-info: pip sees nothing.
    assert [p for group in bookworm.providers.values() for p in group if p.package == "python3-vtk9"] == []
    assert bookworm.bare["python3-vtk9"] == (VTK9_BOOKWORM, "amd64")
    verdict = judge(line, bookworm)
    assert verdict.status == MISSING
    assert verdict.candidates == (Candidate("python3-vtk9", VTK9_BOOKWORM, NO_METADATA),)
    assert verdict.notes == (f"python3-vtk9 {VTK9_BOOKWORM} exists and ships no metadata pip can see",)


def test_where_the_metadata_is_there_the_name_is_simply_provided(sid, bookworm):
    vtk = judge("vtk>=9", sid)
    assert (vtk.status, vtk.provider.package, vtk.provider.version, vtk.candidates) == (
        SATISFIED, "python3-vtk9", "9.6.2", ()
    )  # fmt: skip
    for index, version in ((bookworm, "1.1"), (sid, "1.2")):
        html5lib = judge("html5lib", index)
        assert (html5lib.status, html5lib.provider.version, html5lib.candidates) == (SATISFIED, version, ())


def test_a_name_nothing_looks_like_has_no_candidates(sid, bookworm):
    for index in (sid, bookworm):
        verdict = judge("notapackage-xyz", index)
        assert (verdict.status, verdict.candidates, verdict.notes) == (MISSING, (), ())


def test_a_version_suffix_is_no_spelling_where_the_package_has_metadata(sid):
    # sid's python3-vtk9 ships vtk metadata: "vtk9" is spelled exactly like the package,
    # whose metadata says another name; "vtk" (the suffix dropped) is its provider.
    verdict = judge("vtk9", sid)
    assert verdict.status == MISSING
    assert verdict.candidates == (Candidate("python3-vtk9", "9.6.2+ds-4", OTHER_NAME, ("vtk", "9.6.2")),)


def test_the_packages_without_metadata_survive_the_cache(bookworm):
    loaded = index_from_document(json.loads(json.dumps(index_to_document(bookworm))))
    assert dict(loaded.bare) == dict(bookworm.bare) == {"python3-vtk9": (VTK9_BOOKWORM, "amd64")}
    assert judge("vtk", loaded).candidates == judge("vtk", bookworm).candidates


def test_json_lists_candidates_with_what_they_ship_or_null(sid, bookworm):
    lines = [req("thumbhash"), req("vtk", 2), req("html5lib", 3)]
    document = report_document(check(requirement_set(*lines), [bookworm, sid]))
    assert document["schema"] == "debvenv.report/2"
    results = {row["name"]: row["results"] for row in document["requirements"]}
    assert results["thumbhash"]["sid"]["candidates"] == [
        {"package": "python3-thumbhash", "version": "0.1.2-4",
         "ships": {"name": "thumbhash_py", "version": "0.1.2"}, "reason": "other-name"}
    ]  # fmt: skip
    assert results["thumbhash"]["bookworm"]["candidates"] == []
    assert results["vtk"]["bookworm"]["candidates"] == [
        {"package": "python3-vtk9", "version": VTK9_BOOKWORM, "ships": None, "reason": "no-metadata"}
    ]
    assert results["vtk"]["sid"]["candidates"] == [] and results["vtk"]["sid"]["status"] == SATISFIED
    assert results["html5lib"]["sid"]["candidates"] == []
    # The text a user pipes to jq says the same.
    rendered = json.loads(render_json(check(requirement_set(*lines), [sid])))
    assert rendered["requirements"][0]["results"]["sid"]["candidates"][0]["reason"] == OTHER_NAME


def test_which_says_what_exists_beside_missing(sid, bookworm):
    lines = (req("thumbhash"), req("vtk", 2))
    report = check(requirement_set(*lines), [bookworm, sid])
    thumbhash, vtk = report.results
    assert verdict_line(thumbhash, sid.target) == (
        "sid: thumbhash: missing (python3-thumbhash exists and ships thumbhash_py 0.1.2)"
    )
    assert verdict_line(thumbhash, bookworm.target) == "bookworm: thumbhash: missing: no Debian package"
    assert verdict_line(vtk, bookworm.target) == (
        f"bookworm: vtk: missing (python3-vtk9 {VTK9_BOOKWORM} exists and ships no metadata pip can see)"
    )


def test_the_packages_a_collision_does_not_take_are_candidates():
    from test_evaluate import bookworm_with_collisions

    index = bookworm_with_collisions()
    verdict = judge("click>=5.0,<7.0", index)
    assert (verdict.status, verdict.provider.package) == (TOO_NEW, "python3-click")
    assert verdict.candidates == (
        Candidate("python3-click-package", "0.5.0-9", NOT_TAKEN_COLLISION, ("click", "0.5.0.post9")),
    )
    (row,) = report_document(check(requirement_set(req("click>=5.0,<7.0")), [index]))["requirements"]
    assert row["results"]["bookworm"]["candidates"] == [
        {"package": "python3-click-package", "version": "0.5.0-9",
         "ships": {"name": "click", "version": "0.5.0.post9"}, "reason": "not-taken-collision"}
    ]  # fmt: skip


# ---- installed: what apt would install ------------------------------------------------


def test_installed_says_what_apt_offers_and_stays_missing(sid):
    # This machine's real python3 and dpkg; python3-thumbhash is not installed here
    # (bookworm has none), and the "apt lists" are sid's real lines.
    asked = []

    def offers():
        asked.append(True)
        return sid

    installed = load_installed(offers=offers)
    assert installed.lookup("thumbhash-py") == ()
    assert asked == []  # read only when a requirement is missing
    report = check(requirement_set(req("thumbhash-py>=0.1"), req("PyYAML", 2)), [installed])
    thumbhash, pyyaml = report.results
    verdict = thumbhash.verdicts["installed"]
    assert verdict.status == MISSING
    assert verdict.candidates == (Candidate("python3-thumbhash", "0.1.2-4", NOT_INSTALLED, ("thumbhash_py", "0.1.2")),)
    assert verdict_line(thumbhash, installed.target) == (
        "installed: thumbhash-py>=0.1: missing: not installed (apt offers python3-thumbhash 0.1.2)"
    )
    assert pyyaml.verdicts["installed"].status == SATISFIED and pyyaml.verdicts["installed"].candidates == ()
    assert len(asked) == 1


def test_installed_without_readable_apt_lists_answers_without_the_hint(tmp_path):
    options = TargetOptions(apt_lists_dir=tmp_path / "no-lists", apt_etc_dir=DATA / "sources" / "no-apt-config")
    installed = load_target("installed", options)
    assert installed.offers is not None and installed.offers() is None
    verdict = evaluate(req("notapackage-xyz"), installed, shipments(installed))
    assert (verdict.status, verdict.candidates) == (MISSING, ())


def test_installed_never_calls_an_installed_package_not_installed():
    # apt lists without Contents guess "yaml" for python3-yaml (real bookworm stanza);
    # this machine has python3-yaml installed, shipping PyYAML.
    from debvenv.sources.suite import guessed_providers

    packages = read_packages(DATA / "Packages")
    guessed = build_index(
        target_id="apt", kind="apt", arch="amd64", packages=packages, providers=guessed_providers(packages, {})
    )
    assert [p.package for p in guessed.lookup("yaml")] == ["python3-yaml"]
    installed = load_installed(offers=lambda: guessed)
    (pyyaml,) = installed.lookup("pyyaml")
    verdict = evaluate(req("yaml"), installed, shipments(installed))
    assert verdict.status == MISSING
    assert verdict.candidates == (
        Candidate("python3-yaml", pyyaml.debian_version, OTHER_NAME, (pyyaml.name, pyyaml.version)),
    )
