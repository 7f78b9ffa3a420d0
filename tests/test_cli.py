"""The command line as a user meets it: exit codes, one line per problem, no traceback."""

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def debvenv(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "debvenv", *args], capture_output=True, text=True, cwd=cwd)


def assert_clean_error(result, code):
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert all(line.startswith("debvenv: ") for line in result.stderr.splitlines()), result.stderr


def test_every_bad_line_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "requirements.txt").write_text("PyYAML>=5\nDjango>>3\nok-package\nrequests[=2\n")
    result = debvenv("check", "requirements.txt", cwd=tmp_path)
    assert_clean_error(result, 2)
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("debvenv: requirements.txt:2: ") and "Django>>3" in lines[0]
    assert lines[1].startswith("debvenv: requirements.txt:4: ")


def test_missing_file_is_bad_input(tmp_path):
    result = debvenv("check", "nothere.txt", cwd=tmp_path)
    assert_clean_error(result, 2)
    assert "nothere.txt" in result.stderr


def test_no_default_file_is_bad_input(tmp_path):
    result = debvenv("check", cwd=tmp_path)
    assert_clean_error(result, 2)
    assert "requirements.txt" in result.stderr and "pyproject.toml" in result.stderr


def test_include_loop_is_bad_input(tmp_path):
    (tmp_path / "a.txt").write_text("six\n-r b.txt\n")
    (tmp_path / "b.txt").write_text("-r a.txt\n")
    result = debvenv("check", "a.txt", cwd=tmp_path)
    assert_clean_error(result, 2)
    assert re.search(r"b\.txt:1: .*loop", result.stderr), result.stderr


def test_unreadable_pyproject_is_bad_input_with_its_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["six",\n')
    result = debvenv("check", cwd=tmp_path)
    assert_clean_error(result, 2)
    assert re.search(r"pyproject\.toml:\d+: ", result.stderr), result.stderr


@pytest.mark.parametrize(
    "python, code, message",
    [("/nonexistent/python3", 2, "no such file"), ("/bin/false", 3, "not a working Python")],
)
def test_bad_python_is_a_clear_error(tmp_path, python, code, message):
    (tmp_path / "requirements.txt").write_text("six\n")
    result = debvenv("check", "--python", python, cwd=tmp_path)
    assert_clean_error(result, code)
    assert message in result.stderr


@pytest.mark.parametrize(
    "answer, lacks",
    [
        ('{"a": 1}', "environment, distributions"),
        ('{"environment": {"python_version": "3.11"}, "distributions": [1]}', "distributions"),
        ('{"environment": {"python_version": 3}, "distributions": []}', "environment"),
    ],
)
def test_a_python_answering_the_wrong_shape_is_an_environment_failure(tmp_path, answer, lacks):
    (tmp_path / "requirements.txt").write_text("six\n")
    fake = tmp_path / "python3"
    fake.write_text(f"#!/bin/sh\necho '{answer}'\n")
    fake.chmod(0o755)
    result = debvenv("check", "--python", str(fake), cwd=tmp_path)
    assert_clean_error(result, 3)
    assert f"lacks {lacks}" in result.stderr


def test_a_relative_python_is_the_one_in_the_working_directory(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python3").symlink_to("/usr/bin/python3")
    # Probes run in /, where ./bin/python3 names nothing: the path must be made absolute first.
    result = debvenv("check", "--python", "./bin/python3", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["requirements"][0]["results"]["installed"]["package"] == "python3-six"


def test_unknown_target_is_bad_input(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    assert_clean_error(debvenv("check", "-t", "no-such-target", cwd=tmp_path), 2)


def test_usage_error_exits_2():
    result = debvenv("check", "--format", "yaml")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_unwritable_output_is_bad_input(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    result = debvenv("check", "-o", str(tmp_path / "no" / "dir" / "r.txt"), cwd=tmp_path)
    assert_clean_error(result, 2)


def test_output_to_a_device_writes_into_it_and_leaves_it_a_device(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    before = os.lstat("/dev/full")
    result = debvenv("check", "-o", "/dev/full", cwd=tmp_path)
    assert_clean_error(result, 3)  # a full disk is the environment's failure
    after = os.lstat("/dev/full")
    assert (after.st_ino, after.st_rdev, stat.S_ISCHR(after.st_mode)) == (before.st_ino, before.st_rdev, True)
    assert debvenv("check", "-o", "/dev/null", cwd=tmp_path).returncode == 0
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_output_through_a_planted_symlink_is_refused(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    (tmp_path / "link").symlink_to(tmp_path / "nologin")
    assert_clean_error(debvenv("check", "-o", "link", cwd=tmp_path), 2)
    assert not (tmp_path / "nologin").exists()


@pytest.mark.parametrize("keyring", ["/dev/zero", "fifo"])
def test_a_keyring_that_is_not_a_regular_file_is_bad_input(tmp_path, keyring):
    (tmp_path / "requirements.txt").write_text("six\n")
    os.mkfifo(tmp_path / "fifo")
    result = debvenv("check", "-t", "bookworm@file:///nonexistent", "--keyring", keyring, cwd=tmp_path)
    assert_clean_error(result, 2)


def test_own_pyproject_checks_clean_as_json():
    result = debvenv("check", "--format", "json", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    names = {row["name"]: row["results"]["installed"] for row in report["requirements"]}
    for name in ("packaging", "python-debian", "virtualenv", "jinja2"):
        assert names[name]["status"] == "satisfied", (name, names[name])
    assert names["tomli"]["status"] == "not-applicable"  # python_version < '3.11' on bookworm


def test_version():
    result = debvenv("--version")
    assert result.returncode == 0 and result.stdout.startswith("debvenv ")


def test_ci_runs_the_readme_commands():
    # .ci/run reads both commands from README.md (never a copy of them) and runs them here and
    # on fresh bookworm and trixie machines; tests/test_ci_scripts.py tests the reading.
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'install="$(scripts/readme-command install)"' in ci
    assert 'tests="$(scripts/readme-command test)"' in ci
    assert "apt-get install -y" not in ci.replace("apt-get install -y --no-install-recommends mmdebstrap", "")
    assert "scripts/fresh-chroot bookworm " in ci
    assert "scripts/fresh-chroot trixie --build-deb " in ci
    assert "scripts/build-deb" in ci


def test_plan_writes_three_files_for_the_installed_system(tmp_path):
    (tmp_path / "requirements.txt").write_text("PyYAML>=5\nnotapackage-xyz>=1\n")
    result = debvenv("plan", "-t", "installed", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert (out / "apt-packages.txt").read_text() == "python3-yaml\n"
    assert "notapackage-xyz>=1" in (out / "venv-requirements.txt").read_text()
    assert (out / "debian-depends.txt").read_text().strip() == "python3-yaml (>= 5)"
    assert "apt-get install python3-yaml" in result.stdout


def test_plan_needs_exactly_one_target(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    assert_clean_error(debvenv("plan", cwd=tmp_path), 2)
    assert not list(tmp_path.glob("*.txt.tmp"))


def test_build_refuses_the_system_prefix(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    result = debvenv("build", "--venv", "/usr", cwd=tmp_path)
    assert_clean_error(result, 2)
    assert "system" in result.stderr


def test_build_of_what_debian_satisfies_installs_nothing(tmp_path):
    (tmp_path / "requirements.txt").write_text("PyYAML>=5\n")
    result = debvenv("build", "--venv", "venv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "PyYAML>=5: debian: python3-yaml" in result.stdout
    manifest = json.loads((tmp_path / "venv" / "debvenv.json").read_text())
    assert manifest["schema"] == "debvenv.manifest/1"
    site = next((tmp_path / "venv").glob("lib/python3*/site-packages"))
    assert not list(site.glob("*.dist-info"))
