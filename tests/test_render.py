"""Reports rendered from real bookworm excerpts: golden files and the JSON schema's exact keys.

Regenerate the golden files after an intended change with
``DEBVENV_UPDATE_GOLDEN=1 python -m pytest tests/test_render.py``.
"""

import json
import os
from pathlib import Path

import pytest

from debvenv.evaluate import check
from debvenv.render import render, report_document
from debvenv.requirements import read_requirements
from debvenv.sources.contents import python_distributions
from debvenv.sources.packages import read_packages
from debvenv.sources.suite import build_index, contents_providers

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
REQUIREMENTS = """\
PyYAML>=5
beautifulsoup4>=4.12  # bookworm has 4.11.2
Django>=3.2,<4
django<3
python-novaclient>=17
deprecation==2.1.0
channels[daphne]
cryptography!=38.0.4
foo @ https://example.org/foo-1.0.zip
Django>=5 ; python_version >= "3.12"
notapackage-xyz
"""


@pytest.fixture(scope="module")
def bookworm():
    packages = read_packages(DATA / "Packages")
    providers = contents_providers(
        packages, python_distributions(DATA / "Contents-all", DATA / "Contents-amd64"), suite="bookworm"
    )
    return build_index(target_id="bookworm", kind="suite", arch="amd64", packages=packages, providers=providers)


@pytest.fixture(scope="module")
def arm64(bookworm):
    packages = read_packages(DATA / "Packages")
    providers = contents_providers(
        packages, python_distributions(DATA / "Contents-all", DATA / "Contents-amd64"), suite="bookworm"
    )
    return build_index(target_id="bookworm-arm64", kind="suite", arch="arm64", packages=packages, providers=providers)


@pytest.fixture
def requirements(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text(REQUIREMENTS)
    return read_requirements([Path("requirements.txt")])


def assert_golden(name, text):
    path = GOLDEN / name
    if os.environ.get("DEBVENV_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize("output_format, golden", [
    ("table", "check-bookworm.txt"),
    ("json", "check-bookworm.json"),
    ("markdown", "check-bookworm.md"),
])
def test_single_target_reports(requirements, bookworm, output_format, golden):
    assert_golden(golden, render(check(requirements, [bookworm]), output_format))


def test_matrix_table(requirements, bookworm, arm64):
    text = render(check(requirements, [bookworm, arm64]), "table")
    assert all(len(line) <= 80 for line in text.splitlines())
    assert_golden("check-matrix.txt", text)


def test_table_fits_80_columns(requirements, bookworm):
    lines = render(check(requirements, [bookworm]), "table").splitlines()
    assert [line for line in lines if len(line) > 80] == []


def test_json_has_exactly_the_schema_keys(requirements, bookworm, arm64):
    document = report_document(check(requirements, [bookworm, arm64]))
    assert set(document) == {"schema", "targets", "requirements", "summary"}
    assert document["schema"] == "debvenv.report/2"
    for target in document["targets"]:
        assert set(target) == {"id", "kind", "python", "arch", "error"}
        assert target["error"] is None
    for row in document["requirements"]:
        assert set(row) == {"requirement", "file", "line", "name", "specifier", "extras", "marker", "url", "results"}
        assert set(row["results"]) == {"bookworm", "bookworm-arm64"}
        for result in row["results"].values():
            assert set(result) == {"status", "package", "debian_version", "version", "mapping", "candidates"}
            for candidate in result["candidates"]:
                assert set(candidate) == {"package", "version", "ships", "reason"}
    for counts in document["summary"].values():
        assert set(counts) == {"satisfied", "outdated", "too-new", "excluded", "missing", "url", "not-applicable"}
    # sort_keys: the same report renders to the same bytes.
    assert json.loads(render(check(requirements, [bookworm]), "json"))["requirements"][0]["name"] == "pyyaml"


def test_html_is_self_contained_and_escaped(requirements, bookworm, tmp_path):
    Path("evil.txt").write_text('foo @ https://example.org/<script>alert(1)</script>.zip\nPyYAML\n')
    report = check(read_requirements([Path("evil.txt")]), [bookworm])
    html = render(report, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "http" not in html.split("<body>")[0].replace('charset="utf-8"', "")
    assert 'class="satisfied"' in html and 'class="url"' in html
