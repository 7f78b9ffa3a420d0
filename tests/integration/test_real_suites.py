"""`debvenv check`/`which` as processes against the real Debian archive this machine's apt sources name.

The mirror may be in any state (mid-sync, stale, expired): these tests
assert that debvenv answers, and rightly, with whichever mapping it had to
use, and never that the mirror is consistent.

Three suites are fetched, once: bookworm, bookworm-security and trixie (the
trixie mirror and keyring come from the apt source of the same distribution).
They are cached in $DEBVENV_NETWORK_CACHE, default
/tmp/debvenv-network-cache-cli, and a cached suite younger than six hours is
used without asking the mirror, so re-runs are fast.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.network

CACHE_HOME = Path(os.environ.get("DEBVENV_NETWORK_CACHE", "/tmp/debvenv-network-cache-cli"))
TARGETS = ("bookworm", "trixie")

REQUIREMENTS = """\
PyYAML
beautifulsoup4
pyOpenSSL
channels
Django>=3.2
requests; python_version >= "3.12"
"""
# The mapping Contents gives, not a naming rule: none of these is python3-<name>.
PACKAGES = {
    "pyyaml": "python3-yaml",
    "beautifulsoup4": "python3-bs4",
    "pyopenssl": "python3-openssl",
    "channels": "python3-django-channels",
    "django": "python3-django",
}
PYTHONS = {"bookworm": "3.11", "trixie": "3.13"}


def debvenv(*args):
    env = dict(os.environ, XDG_CACHE_HOME=str(CACHE_HOME))
    return subprocess.run(
        [sys.executable, "-m", "debvenv", *args], capture_output=True, text=True, env=env
    )


def debian_version_at_least(version, than):
    return subprocess.run(["dpkg", "--compare-versions", version, "ge", than]).returncode == 0


# Where a name may come from when Contents cannot be verified; never the naming rule for these.
VERIFIED_MAPPINGS = ("contents", "cached-contents", "dh-python")


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    path = tmp_path_factory.mktemp("project") / "requirements.txt"
    path.write_text(REQUIREMENTS)
    args = ["check", str(path), "--format", "json"]
    for target in TARGETS:
        args += ["-t", target]
    result = debvenv(*args)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def report(checked):
    return json.loads(checked.stdout)


def results(report, name):
    return next(row for row in report["requirements"] if row["name"] == name)["results"]


def test_each_target_reports_the_python_of_its_python3_package(report):
    assert {t["id"]: t["python"] for t in report["targets"]} == PYTHONS
    assert {t["kind"] for t in report["targets"]} == {"suite"}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name, package", sorted(PACKAGES.items()))
def test_distribution_maps_to_its_debian_package_through_verified_data(report, target, name, package):
    result = results(report, name)[target]
    assert (result["status"], result["package"]) == ("satisfied", package)
    assert result["mapping"] in VERIFIED_MAPPINGS
    # The dist-info's version, or the Debian version's upstream part: either way carried by it.
    assert result["version"] and result["version"].split("+")[0] in result["debian_version"]


@pytest.mark.parametrize("target", TARGETS)
def test_a_target_without_verified_contents_says_where_its_names_come_from(checked, report, target):
    mappings = {results(report, name)[target]["mapping"] for name in PACKAGES}
    notes = [line for line in checked.stderr.splitlines() if line.startswith(f"debvenv: note: {target}: ")]
    contents_notes = [line for line in notes if "Contents" in line]
    if mappings == {"contents"}:
        assert contents_notes == [], checked.stderr
    else:
        assert len(contents_notes) == 1, checked.stderr
        assert "names come from" in contents_notes[0]


@pytest.mark.parametrize("target", TARGETS)
def test_django_keeps_its_debian_epoch(report, target):
    result = results(report, "django")[target]
    assert result["debian_version"].startswith("3:")
    assert not result["version"].startswith("3!")  # a Debian epoch is never a PEP 440 epoch


def test_marker_is_evaluated_for_the_targets_python_not_the_running_one(report):
    requests = results(report, "requests")
    assert requests["bookworm"]["status"] == "not-applicable"  # 3.11 < 3.12
    assert requests["bookworm"]["package"] is None
    assert (requests["trixie"]["status"], requests["trixie"]["package"]) == ("satisfied", "python3-requests")


def test_which_answers_in_one_line_per_target():
    args = ["which", "PyYAML"]
    for target in TARGETS:
        args += ["-t", target]
    result = debvenv(*args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == list(TARGETS)
    for line in lines:
        assert ": PyYAML: satisfied: python3-yaml " in line, line


def test_security_overlay_offers_a_django_at_least_as_new_as_bookworms(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("Django\n")
    overlay = "bookworm+bookworm-security"
    result = debvenv("check", str(path), "-t", "bookworm", "-t", overlay, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {t["id"]: t["python"] for t in document["targets"]} == {"bookworm": "3.11", overlay: "3.11"}
    django = document["requirements"][0]["results"]
    assert django[overlay]["package"] == django["bookworm"]["package"] == "python3-django"
    assert django[overlay]["status"] == "satisfied"
    assert debian_version_at_least(django[overlay]["debian_version"], django["bookworm"]["debian_version"])


def test_debvenvs_own_runtime_dependencies_are_packaged_in_bookworm_and_trixie():
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    result = debvenv("check", str(pyproject), "-t", "bookworm", "-t", "trixie", "--format", "json", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    for row in json.loads(result.stdout)["requirements"]:
        for target in ("bookworm", "trixie"):
            expected = "not-applicable" if row["name"] == "tomli" else "satisfied"
            assert row["results"][target]["status"] == expected, (row["requirement"], target)


def test_sid_answers_with_ignore_valid_until_whatever_its_valid_until(tmp_path):
    """The machine's sources, without its apt.conf.d: sid is refused only if its Release has expired."""
    etc = tmp_path / "etc-apt"
    shutil.copytree("/etc/apt/sources.list.d", etc / "sources.list.d")
    if Path("/etc/apt/sources.list").is_file():
        shutil.copy("/etc/apt/sources.list", etc / "sources.list")
    plain = debvenv("which", "Django", "-t", "sid", "--apt-etc-dir", str(etc))
    if plain.returncode != 0:
        assert plain.returncode == 3 and "expired: Valid-Until" in plain.stderr, plain.stderr
    waived = debvenv("which", "Django", "-t", "sid", "--apt-etc-dir", str(etc), "--ignore-valid-until")
    assert waived.returncode == 0, waived.stderr
    assert waived.stdout.startswith("sid: Django: satisfied: python3-django ")
    assert waived.stdout.split()[4].startswith("3:")  # Debian's epoch, kept
