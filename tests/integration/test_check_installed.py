"""`debvenv check` as a process, against this machine's real apt/dpkg and /usr/bin/python3.

Needs python3-yaml, python3-bs4 and python3-requests installed (the README's
test command installs them).
"""

import json
import subprocess
import sys

import pytest

PYTHON = "/usr/bin/python3"
REQUIREMENTS = """\
PyYAML>=5
beautifulsoup4
requests>=99
Django>=4 ; python_version < "3"
foo @ https://example.org/foo.zip
notapackage-xyz
"""
EXPECTED = {
    "pyyaml": ("satisfied", "python3-yaml"),
    "beautifulsoup4": ("satisfied", "python3-bs4"),
    "requests": ("outdated", "python3-requests"),
    "django": ("not-applicable", None),
    "foo": ("url", None),
    "notapackage-xyz": ("missing", None),
}


def debvenv(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "debvenv", *args], capture_output=True, text=True, cwd=cwd)


def system_versions(names):
    script = "import json, sys, importlib.metadata as m; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    return json.loads(subprocess.run([PYTHON, "-c", script, *names], capture_output=True, text=True, check=True).stdout)


@pytest.fixture(scope="module")
def requirements_file(tmp_path_factory):
    missing = [p for p in ("python3-yaml", "python3-bs4", "python3-requests")
               if subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status}", p],
                                 capture_output=True, text=True).stdout != "installed"]
    assert not missing, f"apt-get install -y {' '.join(missing)} first (the README's test command does)"
    path = tmp_path_factory.mktemp("project") / "requirements.txt"
    path.write_text(REQUIREMENTS)
    return path


def test_check_json_reports_each_status_with_real_versions(requirements_file):
    result = debvenv("check", str(requirements_file), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] == "debvenv.report/2"
    assert [t["id"] for t in report["targets"]] == ["installed"]
    rows = {row["name"]: row for row in report["requirements"]}
    assert {name: (row["results"]["installed"]["status"], row["results"]["installed"]["package"])
            for name, row in rows.items()} == EXPECTED
    versions = system_versions(["PyYAML", "beautifulsoup4", "requests"])
    assert rows["pyyaml"]["results"]["installed"]["version"] == versions["PyYAML"]
    assert rows["beautifulsoup4"]["results"]["installed"]["version"] == versions["beautifulsoup4"]
    assert rows["requests"]["results"]["installed"]["version"] == versions["requests"]
    assert [row["line"] for row in report["requirements"]] == [1, 2, 3, 4, 5, 6]
    assert report["summary"]["installed"] == {
        "satisfied": 2, "outdated": 1, "too-new": 0, "excluded": 0,
        "missing": 1, "url": 1, "not-applicable": 1}


def test_check_table_groups_by_status_within_80_columns(requirements_file):
    result = debvenv("check", str(requirements_file))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [l for l in lines if len(l) > 80]
    headings = [line.split(" (")[0] for line in lines if line and not line.startswith(" ") and "(" in line
                and line.split(" (")[0] in {s for s, _ in EXPECTED.values()}]
    assert headings == ["satisfied", "outdated", "missing", "url", "not-applicable"]
    requests_row = next(line for line in lines if line.strip().startswith("requests>=99"))
    assert "python3-requests" in requests_row and system_versions(["requests"])["requests"] in requests_row


def test_strict_fails_when_something_is_unsatisfied(requirements_file):
    assert debvenv("check", str(requirements_file), "--strict").returncode == 1


def test_which_answers_in_one_line(requirements_file):
    found = debvenv("which", "PyYAML>=5")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("installed: PyYAML>=5: satisfied: python3-yaml ")
    missing = debvenv("which", "notapackage-xyz")
    assert missing.returncode == 1
    assert "missing" in missing.stdout


def test_output_file_is_written_whole(requirements_file, tmp_path):
    out = tmp_path / "report.json"
    result = debvenv("check", str(requirements_file), "--format", "json", "-o", str(out))
    assert result.returncode == 0 and result.stdout == ""
    assert json.loads(out.read_text())["schema"] == "debvenv.report/2"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
