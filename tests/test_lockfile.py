"""Lock files as requirement sets: debvenv.lockfile and its readers (pylock, uvlock, poetrylock, pipfilelock).

No lock-writing tool is installable here offline (no uv, Poetry or Pipenv;
pip is older than 25.1, the first to write pylock.toml), so the fixtures in
tests/data/locks are written by hand in each format's documented shape:
markers, extras and groups, hashes, and a VCS entry in each.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from debvenv.lockfile import format_by_content, format_by_name, table_header_lines
from debvenv.plan import venv_line
from debvenv.requirements import RequirementFileError, read_requirements

LOCKS = Path(__file__).resolve().parent / "data" / "locks"
ATTRS_GIT = "git+https://github.com/python-attrs/attrs.git@b0ab4ab8e9bf0d1e3b1d5d0b59b3b4a8a4d61d8e"
SIX_WHEEL = "sha256:cfeb0022683830dc7506d502d9ee66f32c27b3817d24ea9ca0662377102577ef"
SIX_SDIST = "sha256:135e350f19a413031effd323157deca33127accf74d95f3a723e6ed10ee8ef25"


def rows(path: Path, **selection):
    result = read_requirements([path], **selection)
    return result, [(r.name, str(r.specifier), str(r.marker) if r.marker else None, r.url) for r in result.requirements]


def header_at(path: Path, line: int) -> str:
    return path.read_text().splitlines()[line - 1]


# ---- what each format gives ---------------------------------------------------------------------

EXPECTED = {
    # file: (selection, rows (name, specifier, marker, url))
    "pylock.toml": (
        {},
        [
            ("six", "==1.16.0", None, None),
            ("colorama", "==0.4.6", 'sys_platform == "win32"', None),
            ("attrs", "", 'python_version >= "3.9"', ATTRS_GIT),
        ],
    ),
    "uv.lock": (
        {},
        [
            ("attrs", "", None, ATTRS_GIT),
            ("certifi", "==2022.9.24", None, None),
            ("colorama", "==0.4.6", 'sys_platform == "win32"', None),
            ("idna", "==3.3", None, None),
            ("jinja2", "==3.1.2", None, None),
            ("markupsafe", "==2.1.2", None, None),
            ("pysocks", "==1.7.1", None, None),
            ("requests", "==2.28.1", None, None),
            ("six", "==1.16.0", 'python_full_version < "3.12"', None),
            ("urllib3", "==1.26.12", None, None),
        ],
    ),
    "poetry.lock": (
        {},
        [
            ("attrs", "", None, ATTRS_GIT),
            ("colorama", "==0.4.6", 'sys_platform == "win32"', None),
            ("jinja2", "==3.1.2", None, None),
            ("markupsafe", "==2.1.2", None, None),
            ("six", "==1.16.0", 'python_version < "3.12"', None),
        ],
    ),
    "Pipfile.lock": (
        {},
        [
            ("attrs", "", None, ATTRS_GIT),
            ("colorama", "==0.4.6", 'sys_platform == "win32"', None),
            ("jinja2", "==3.1.2", 'python_version >= "3.7"', None),
            ("markupsafe", "==2.1.2", 'python_version >= "3.7"', None),
            ("requests", "==2.28.1", 'python_version >= "3.7" and python_version < "4"', None),
            ("six", "==1.16.0", 'python_version >= "2.7" and python_version not in "3.0, 3.1, 3.2"', None),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_default_selection_of_each_format(name):
    selection, expected = EXPECTED[name]
    result, got = rows(LOCKS / name, **selection)
    assert got == expected
    assert result.files == (str(LOCKS / name),)


@pytest.mark.parametrize("name, header", [
    ("pylock.toml", "[[packages]]"), ("uv.lock", "[[package]]"), ("poetry.lock", "[[package]]"),
])  # fmt: skip
def test_origins_are_the_package_table_headers(name, header):
    path = LOCKS / name
    result = read_requirements([path], extras=["yaml"], groups=["dev"])
    for requirement in result.requirements:
        assert requirement.origin.file == str(path)
        assert header_at(path, requirement.origin.line) == header
        following = path.read_text().splitlines()[requirement.origin.line]
        assert re.fullmatch(r"name = ['\"](.*)['\"]", following).group(1) == requirement.display_name


def test_pipfile_lock_origins_are_the_package_keys():
    path = LOCKS / "Pipfile.lock"
    result = read_requirements([path], groups=["develop"])
    for requirement in result.requirements:
        assert header_at(path, requirement.origin.line).strip() == f'"{requirement.display_name}": {{'
    assert result.requirements[-1].name == "pytest"  # develop, after default


def test_a_table_header_inside_a_multiline_string_is_not_a_package():
    text = (LOCKS / "pylock.toml").read_text()
    assert "name = 'decoy'" in text
    lines = table_header_lines(text, "packages")
    assert len(lines) == 5 and all(text.splitlines()[n - 1] == "[[packages]]" for n in lines)


def test_header_scan_skips_strings_comments_and_accepts_toml_spellings():
    text = (
        '# [[package]] in a comment\n'
        '[[ "package" ]]  # quoted key\n'
        'name = "a"\n'
        "note = '''\n[[package]]\n'''\n"
        'other = """ \\""" \n[[package]]\n"""\n'
        '  [[package]]\n'
        'name = "b"\n'
    )
    assert table_header_lines(text, "package") == [2, 10]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hashes_are_kept_and_make_pip_require_them(name):
    result = read_requirements([LOCKS / name])
    six = next(r for r in result.requirements if r.name == "six")
    assert SIX_WHEEL in six.hashes
    assert set(six.hashes) <= {SIX_WHEEL, SIX_SDIST}
    assert [option for _, option in result.pip_options] == ["--require-hashes"]
    line = venv_line(six)
    assert line.startswith("six==1.16.0") and f"--hash={SIX_WHEEL}" in line
    attrs = next(r for r in result.requirements if r.name == "attrs")
    assert attrs.hashes == () and venv_line(attrs).startswith(f"attrs @ {ATTRS_GIT}")


@pytest.mark.parametrize("name, yaml_marker", [
    ("pylock.toml", None), ("uv.lock", None), ("poetry.lock", None),
])  # fmt: skip
def test_extra_selects_the_optional_package(name, yaml_marker):
    _, without = rows(LOCKS / name)
    _, with_yaml = rows(LOCKS / name, extras=["yaml"])
    assert "pyyaml" not in {row[0] for row in without}
    assert ("pyyaml", "==6.0.1", yaml_marker, None) in with_yaml


@pytest.mark.parametrize("name, group", [
    ("pylock.toml", "dev"), ("uv.lock", "dev"), ("poetry.lock", "dev"), ("Pipfile.lock", "develop"),
])  # fmt: skip
def test_group_selects_the_groups_packages(name, group):
    _, without = rows(LOCKS / name)
    _, with_group = rows(LOCKS / name, groups=[group])
    assert "pytest" not in {row[0] for row in without}
    pytest_row = next(row for row in with_group if row[0] == "pytest")
    assert pytest_row[1] == "==7.2.1"
    if name == "pylock.toml":
        # "'dev' in dependency_groups and python_version >= '3.8'": the group part is decided.
        assert pytest_row[2] == 'python_version >= "3.8"'


def test_poetry_markers_of_each_selected_group_are_ored():
    _, got = rows(LOCKS / "poetry.lock", groups=["dev"])
    colorama = next(row for row in got if row[0] == "colorama")
    assert colorama[2] == 'sys_platform == "win32" or (sys_platform == "win32" or platform_system == "Windows")'


def test_uv_lock_markers_follow_the_paths_through_the_graph(tmp_path):
    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\n'
        '[[package]]\nname = "app"\nversion = "1"\nsource = { editable = "." }\n'
        'dependencies = [{ name = "a", marker = "sys_platform == \'linux\'" }, { name = "b" }]\n'
        '[[package]]\nname = "a"\nversion = "1"\nsource = { registry = "https://pypi.org/simple" }\n'
        'dependencies = [{ name = "c", marker = "python_version < \'3.12\'" }]\n'
        '[[package]]\nname = "b"\nversion = "1"\nsource = { registry = "https://pypi.org/simple" }\n'
        'dependencies = [{ name = "c", marker = "platform_machine == \'aarch64\'" }]\n'
        '[[package]]\nname = "c"\nversion = "1"\nsource = { registry = "https://pypi.org/simple" }\n'
        'resolution-markers = ["python_full_version >= \'3.9\'"]\n'
        '[[package]]\nname = "unreached"\nversion = "1"\nsource = { registry = "https://pypi.org/simple" }\n'
    )
    _, got = rows(lock)
    markers = {row[0]: row[2] for row in got}
    assert set(markers) == {"a", "b", "c"}
    assert markers["a"] == 'sys_platform == "linux"' and markers["b"] is None
    assert markers["c"] == (
        '(platform_machine == "aarch64" or (python_version < "3.12" and sys_platform == "linux")) '
        'and python_full_version >= "3.9"'
    )


@pytest.mark.parametrize("name, extra, group", [
    ("pylock.toml", "nosuch", None), ("pylock.toml", None, "nosuch"),
    ("uv.lock", "nosuch", None), ("uv.lock", None, "nosuch"),
    ("poetry.lock", "nosuch", None), ("poetry.lock", None, "nosuch"), ("Pipfile.lock", None, "nosuch"),
])  # fmt: skip
def test_an_unknown_extra_or_group_is_bad_input(name, extra, group):
    with pytest.raises(RequirementFileError) as raised:
        read_requirements([LOCKS / name], extras=[extra] if extra else [], groups=[group] if group else [])
    assert "nosuch" in str(raised.value) and str(LOCKS / name) in str(raised.value)


# ---- recognising a lock -------------------------------------------------------------------------


@pytest.mark.parametrize("file_name, kind", [
    ("pylock.toml", "pylock"), ("pylock.prod.toml", "pylock"), ("pylock.a.b.toml", None),
    ("uv.lock", "uv.lock"), ("poetry.lock", "poetry.lock"), ("Pipfile.lock", "Pipfile.lock"),
    ("pyproject.toml", None), ("requirements.txt", None),
])  # fmt: skip
def test_format_by_name(file_name, kind):
    assert format_by_name(f"some/dir/{file_name}") == kind


@pytest.mark.parametrize("fixture, renamed", [
    ("uv.lock", "deploy.lock"), ("poetry.lock", "prod.lock"), ("pylock.toml", "locked.toml"),
    ("Pipfile.lock", "pipenv.json"),
])  # fmt: skip
def test_an_ambiguous_name_is_told_by_content(tmp_path, fixture, renamed):
    shutil.copy(LOCKS / fixture, tmp_path / renamed)
    assert format_by_content((LOCKS / fixture).read_text()) == format_by_name(fixture)
    _, expected = rows(LOCKS / fixture)
    _, got = rows(tmp_path / renamed)
    assert got == expected


def test_an_ambiguous_name_that_is_no_lock_keeps_its_reading(tmp_path):
    (tmp_path / "extra.toml").write_text('[project]\nname = "x"\ndependencies = ["six>=1"]\n')
    (tmp_path / "pins.lock").write_text("six==1.16.0\n")
    assert rows(tmp_path / "extra.toml")[1] == [("six", ">=1", None, None)]
    assert rows(tmp_path / "pins.lock")[1] == [("six", "==1.16.0", None, None)]


# ---- malformed and hostile locks: exit 2, file:line -------------------------------------------------

PYLOCK_HEAD = "lock-version = '1.0'\n"
UV_HEAD = 'version = 1\n[[package]]\nname = "app"\nversion = "1"\nsource = { virtual = "." }\ndependencies = [{ name = "x" }]\n'

MALFORMED = [
    # (file name, text, line, words in the message)
    ("pylock.toml", PYLOCK_HEAD + "[[packages]]\nname = 'x'\nversion = 3\n", 2, ["'x'", "version"]),
    ("pylock.toml", PYLOCK_HEAD + "[[packages]]\nname = 'x'\nversion = '1'\nmarker = 'os_name =='\n", 2, ["'x'", "marker"]),
    ("pylock.toml", PYLOCK_HEAD + "[[packages]]\nname = 'x'\nversion = '1'\nmarker = \"'a' in extras or\"\n", 2, ["marker"]),
    ("pylock.toml", PYLOCK_HEAD + "\n[[packages]]\nname = 'ok'\nversion = '1'\n[[packages]]\nname = 'x'\nversion = '1'\n"
     "wheels = [{hashes = {sha256 = 'abc'}}]\n", 6, ["'x'", "sha256"]),
    ("pylock.toml", PYLOCK_HEAD + "[[packages]]\nname = 'x'\nvcs = {type = 'git', url = 'https://h/r'}\n", 2, ["commit-id"]),
    ("pylock.toml", PYLOCK_HEAD + "[[packages]]\nname = 'x y'\nversion = '1'\n", 2, ["name"]),
    ("pylock.toml", "lock-version = '2.0'\npackages = []\n", 1, ["lock-version"]),
    ("pylock.toml", PYLOCK_HEAD + "packages = 'no'\n", 1, ["packages"]),
    ("pylock.toml", PYLOCK_HEAD + "[[packages]]\nname = 'x'\nversion = '1'\nsize = [1,\n", 5, ["invalid TOML"]),
    ("uv.lock", UV_HEAD, 2, ["'app'", "'x'", "not locked"]),
    ("uv.lock", 'version = 1\n[[package]]\nname = "x"\nversion = "1"\nsource = "pypi"\n'
     '[[package]]\nname = "app"\nversion = "1"\nsource = { virtual = "." }\ndependencies = [{ name = "x" }]\n', 2, ["'x'", "source"]),
    ("uv.lock", 'version = 1\n[[package]]\nname = "x"\nversion = "1"\nsource = { git = "https://h/r" }\n'
     '[[package]]\nname = "app"\nversion = "1"\nsource = { virtual = "." }\ndependencies = [{ name = "x" }]\n', 2, ["commit"]),
    ("uv.lock", 'version = "1"\n', 1, ["version"]),
    ("poetry.lock", '[[package]]\nname = "x"\nversion = "1"\nfiles = [{file = "x.whl", hash = "sha256:12"}]\n'
     '[metadata]\nlock-version = "2.1"\n', 1, ["'x'", "sha256"]),
    ("poetry.lock", '[[package]]\nname = "x"\nversion = "1"\ngroups = ["main"]\nmarkers = 3\n'
     '[metadata]\nlock-version = "2.1"\n', 1, ["'x'", "markers"]),
    ("poetry.lock", '[[package]]\nname = "x"\nversion = "1"\n[package.source]\ntype = "git"\nurl = "https://h/r"\n'
     '[metadata]\nlock-version = "2.1"\n', 1, ["'x'", "resolved_reference"]),
    ("Pipfile.lock", '{"_meta": {},\n "default": {\n  "ok": {"version": "==1"},\n  "x": {"version": ">=1"}}}\n', 4, ["'x'", "version"]),
    ("Pipfile.lock", '{"_meta": {},\n "default": {\n  "x": {"version": "==1", "markers": 7}}}\n', 3, ["'x'"]),
    ("Pipfile.lock", '{"_meta": {},\n "default": {\n  "x": {"version": "==1",\n', 4, ["invalid JSON"]),
]


@pytest.mark.parametrize("file_name, text, line, words", MALFORMED)
def test_a_malformed_lock_is_located(tmp_path, file_name, text, line, words):
    path = tmp_path / file_name
    path.write_text(text)
    with pytest.raises(RequirementFileError) as raised:
        read_requirements([path])
    problems = raised.value.problems
    assert raised.value.exit_code == 2
    assert (problems[0].file, problems[0].line) == (str(path), line), problems
    for word in words:
        assert word in problems[0].message, problems[0]


def test_every_bad_package_is_reported_in_one_run(tmp_path):
    path = tmp_path / "pylock.toml"
    path.write_text(PYLOCK_HEAD + "[[packages]]\nname = 'a'\n\n[[packages]]\nname = 'b'\nversion = '1'\n[[packages]]\nname = 'c'\n")
    with pytest.raises(RequirementFileError) as raised:
        read_requirements([path])
    assert [(p.line, "'a'" in p.message or "'c'" in p.message) for p in raised.value.problems] == [(2, True), (8, True)]


@pytest.mark.parametrize("file_name, text", [
    ("pylock.toml", PYLOCK_HEAD + "x = " + "[" * 5000 + "]" * 5000 + "\n"),
    ("uv.lock", "version = 1\nx = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n"),
    ("Pipfile.lock", '{"_meta": ' + "[" * 100000 + "]" * 100000 + ', "default": {}}'),
    ("pylock.toml", PYLOCK_HEAD + "[[packages]]\nname = 'x'\nversion = '1'\nmarker = \"" + "(" * 5000 + "os_name == 'nt'" + ")" * 5000 + "\"\n"),
    ("uv.lock", "version = 1\n[[package]]\nname = 1\n"),
    ("poetry.lock", "package = [1, 2]\n"),
    ("Pipfile.lock", '["not", "an", "object"]'),
    ("Pipfile.lock", '{"_meta": {}, "default": {"x": "==1"}}'),
])  # fmt: skip
def test_hostile_locks_are_bad_input_never_a_crash(tmp_path, file_name, text):
    path = tmp_path / file_name
    path.write_text(text)
    with pytest.raises(RequirementFileError) as raised:
        read_requirements([path])
    assert all(p.file == str(path) for p in raised.value.problems)


def test_a_huge_lock_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "uv.lock"
    with path.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    with pytest.raises(RequirementFileError, match="too large"):
        read_requirements([path])


def test_many_marker_paths_are_capped_and_said(tmp_path):
    # 2**12 paths to "leaf" through twelve diamonds: the walk stays bounded and says so.
    parts = ['version = 1\n[[package]]\nname = "app"\nversion = "1"\nsource = { virtual = "." }\n'
             'dependencies = [{ name = "l0a", marker = "os_name == \'a0\'" }, { name = "l0b", marker = "os_name == \'b0\'" }]\n']
    for level in range(12):
        following = "leaf" if level == 11 else None
        for side in "ab":
            if following:
                deps = f'[{{ name = "{following}" }}]'
            else:
                deps = (f'[{{ name = "l{level + 1}a", marker = "os_name == \'a{level + 1}\'" }}, '
                        f'{{ name = "l{level + 1}b", marker = "os_name == \'b{level + 1}\'" }}]')
            parts.append(f'[[package]]\nname = "l{level}{side}"\nversion = "1"\nsource = {{ registry = "https://i" }}\n'
                         f'dependencies = {deps}\n')
    parts.append('[[package]]\nname = "leaf"\nversion = "1"\nsource = { registry = "https://i" }\n')
    path = tmp_path / "uv.lock"
    path.write_text("".join(parts))
    result = read_requirements([path])
    leaf = next(r for r in result.requirements if r.name == "leaf")
    assert leaf.marker is None
    assert any("leaf" in note.message and "every target" in note.message for note in result.notes)


# ---- the command line ---------------------------------------------------------------------------


def debvenv(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    return subprocess.run([sys.executable, "-m", "debvenv", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_lock_policy_compatible_is_refused_for_now(tmp_path):
    result = debvenv("check", str(LOCKS / "uv.lock"), "--lock-policy", "compatible", "--format", "json")
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert "not implemented yet" in result.stderr and str(LOCKS / "uv.lock") in result.stderr


def test_malformed_lock_on_the_command_line(tmp_path):
    (tmp_path / "poetry.lock").write_text('[[package]]\nname = "x"\nversion = 1\n[metadata]\nlock-version = "2.1"\n')
    result = debvenv("check", "poetry.lock", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith("debvenv: poetry.lock:1: [[package]] 'x': version")


def test_check_installed_reads_a_lock_with_its_origins():
    # python3-six is installed wherever these tests run (python3-hypothesis needs it).
    result = debvenv("check", str(LOCKS / "pylock.toml"), "-t", "installed", "--format", "json", "--group", "dev")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {row["name"]: row for row in report["requirements"]}
    assert set(by_name) == {"six", "colorama", "pytest", "attrs"}
    assert (by_name["six"]["file"], by_name["six"]["line"]) == (str(LOCKS / "pylock.toml"), 11)
    assert by_name["six"]["results"]["installed"]["package"] == "python3-six"
    assert by_name["colorama"]["results"]["installed"]["status"] == "not-applicable"
    assert by_name["attrs"]["results"]["installed"]["status"] == "url"
    assert by_name["attrs"]["url"] == ATTRS_GIT
