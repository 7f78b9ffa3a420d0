"""Requirement files: pip's format, pyproject.toml, setup.cfg, includes, constraints, errors."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from debvenv.errors import EXIT_BAD_INPUT, Problem
from debvenv.requirements import (
    MAX_FILE_SIZE,
    MAX_INCLUDE_DEPTH,
    Origin,
    Requirement,
    RequirementFileError,
    apply_constraints,
    default_requirement_files,
    parse_requirement_line,
    read_requirements,
)

DATA = Path(__file__).parent / "data" / "requirements"

PIP_TOOLS_HASHES = (
    "sha256:50288eb066ce66dbef5401a21530712a93c659fe480c7d8d34e2379300555fa1",
    "sha256:ba427b68443466c389e3b0b0ef55f537ab39344190ea980dfebb333d0e6a50a3",
)


@pytest.fixture
def in_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the fixture directory, so file names read as a user would type them."""
    monkeypatch.chdir(DATA)
    return DATA


def packaging_says(text: str) -> str:
    """The first line of packaging's own error for requirement ``text``, in this machine's packaging.

    The wording is packaging's and changes between its versions (23.0, 25.0):
    the tests assert what debvenv adds (file:line, the requirement as
    written, debvenv's own hints) and that packaging's reason comes along.
    """
    with pytest.raises(InvalidRequirement) as raised:
        PackagingRequirement(text)
    return str(raised.value).splitlines()[0]


def wheel_filename_says(filename: str) -> str:
    """packaging's own error for a bad wheel filename, in this machine's packaging."""
    with pytest.raises(InvalidWheelFilename) as raised:
        parse_wheel_filename(filename)
    return str(raised.value)


def read_one(tmp_path: Path, content: str, **kwargs: object):
    """Write ``content`` as tmp_path/requirements.txt and read it from inside tmp_path."""
    (tmp_path / "requirements.txt").write_text(content, encoding="utf-8")
    return read_requirements([tmp_path / "requirements.txt"], **kwargs)


def problems_of(paths, **kwargs) -> list[str]:
    with pytest.raises(RequirementFileError) as caught:
        read_requirements([Path(path) for path in paths], **kwargs)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    return [str(problem) for problem in caught.value.problems]


# Real-world idioms: OpenStack global-requirements, Django projects, pip-compile output, VCS pins.
# (line as written, name, display name, specifier, extras, marker, url ("{dir}" = the file's directory), editable, text)
LINES = [
    ("pbr!=2.1.0,>=2.0.0 # Apache-2.0", "pbr", "pbr", "!=2.1.0,>=2.0.0", (), None, None, False,
     "pbr!=2.1.0,>=2.0.0"),
    ("oslo.config>=6.8.0  # Apache-2.0", "oslo-config", "oslo.config", ">=6.8.0", (), None, None, False,
     "oslo.config>=6.8.0"),
    ("cryptography>=3.4;python_version>='3.7'", "cryptography", "cryptography", ">=3.4", (),
     'python_version >= "3.7"', None, False, "cryptography>=3.4;python_version>='3.7'"),
    ('requests[socks,security] >= 2.31 ; python_version >= "3.8"', "requests", "requests", ">=2.31",
     ("security", "socks"), 'python_version >= "3.8"', None, False,
     'requests[socks,security] >= 2.31 ; python_version >= "3.8"'),
    ("Django>=4.2,<5.0", "django", "Django", "<5.0,>=4.2", (), None, None, False, "Django>=4.2,<5.0"),
    ("Django>=4.2,\\\n    <5.0", "django", "Django", "<5.0,>=4.2", (), None, None, False, "Django>=4.2,    <5.0"),
    ("PyYAML==6.0.1", "pyyaml", "PyYAML", "==6.0.1", (), None, None, False, "PyYAML==6.0.1"),
    ("zope.interface>=5.0.0", "zope-interface", "zope.interface", ">=5.0.0", (), None, None, False,
     "zope.interface>=5.0.0"),
    ("pywin32===306;sys_platform=='win32'", "pywin32", "pywin32", "===306", (), 'sys_platform == "win32"',
     None, False, "pywin32===306;sys_platform=='win32'"),
    ('backports.zoneinfo;python_version<"3.9"', "backports-zoneinfo", "backports.zoneinfo", "", (),
     'python_version < "3.9"', None, False, 'backports.zoneinfo;python_version<"3.9"'),
    ("SQLAlchemy~=2.0.20", "sqlalchemy", "SQLAlchemy", "~=2.0.20", (), None, None, False, "SQLAlchemy~=2.0.20"),
    ('urllib3<2; python_version < "3.10" and platform_machine == "x86_64"', "urllib3", "urllib3", "<2", (),
     'python_version < "3.10" and platform_machine == "x86_64"', None, False,
     'urllib3<2; python_version < "3.10" and platform_machine == "x86_64"'),
    ("certifi @ https://example.org/dist/certifi-2023.7.22.tar.gz", "certifi", "certifi", "", (), None,
     "https://example.org/dist/certifi-2023.7.22.tar.gz", False,
     "certifi @ https://example.org/dist/certifi-2023.7.22.tar.gz"),
    ("mypkg @ file:///srv/wheels/mypkg-1.0-py3-none-any.whl", "mypkg", "mypkg", "", (), None,
     "file:///srv/wheels/mypkg-1.0-py3-none-any.whl", False, "mypkg @ file:///srv/wheels/mypkg-1.0-py3-none-any.whl"),
    ("git+https://github.com/django/django.git@stable/4.2.x#egg=Django", "django", "Django", "", (), None,
     "git+https://github.com/django/django.git@stable/4.2.x#egg=Django", False,
     "git+https://github.com/django/django.git@stable/4.2.x#egg=Django"),
    ("git+ssh://git@github.com/org/private-lib.git@v1.2.0#egg=private_lib[cli]", "private-lib", "private_lib", "",
     ("cli",), None, "git+ssh://git@github.com/org/private-lib.git@v1.2.0#egg=private_lib[cli]", False,
     "git+ssh://git@github.com/org/private-lib.git@v1.2.0#egg=private_lib[cli]"),
    ('hg+https://hg.example.org/MyProject#egg=MyProject ; python_version >= "3.9"', "myproject", "MyProject", "",
     (), 'python_version >= "3.9"', "hg+https://hg.example.org/MyProject#egg=MyProject", False,
     'hg+https://hg.example.org/MyProject#egg=MyProject ; python_version >= "3.9"'),
    ("git+https://github.com/org/monorepo.git@main#subdirectory=libs/tool-kit", "tool-kit", "tool-kit", "", (),
     None, "git+https://github.com/org/monorepo.git@main#subdirectory=libs/tool-kit", False,
     "git+https://github.com/org/monorepo.git@main#subdirectory=libs/tool-kit"),
    ("https://example.org/archive/python-dateutil-2.8.2.tar.gz", "python-dateutil", "python-dateutil", "", (),
     None, "https://example.org/archive/python-dateutil-2.8.2.tar.gz", False,
     "https://example.org/archive/python-dateutil-2.8.2.tar.gz"),
    ("./dist/foo_bar-1.0-py3-none-any.whl", "foo-bar", "foo_bar", "", (), None,
     "file://{dir}/dist/foo_bar-1.0-py3-none-any.whl", False, "./dist/foo_bar-1.0-py3-none-any.whl"),
    ("vendor/simplejson-3.19.1.tar.gz", "simplejson", "simplejson", "", (), None,
     "file://{dir}/vendor/simplejson-3.19.1.tar.gz", False, "vendor/simplejson-3.19.1.tar.gz"),
    ("-e git+https://github.com/pallets/flask.git#egg=Flask", "flask", "Flask", "", (), None,
     "git+https://github.com/pallets/flask.git#egg=Flask", True, "-e git+https://github.com/pallets/flask.git#egg=Flask"),
    ("--editable=git+https://github.com/pallets/click.git@8.1.x#egg=click", "click", "click", "", (), None,
     "git+https://github.com/pallets/click.git@8.1.x#egg=click", True,
     "-e git+https://github.com/pallets/click.git@8.1.x#egg=click"),
    ("Pillow>=9.0 --global-option=build_ext", "pillow", "Pillow", ">=9.0", (), None, None, False, "Pillow>=9.0"),
]


@pytest.mark.parametrize(
    "line, name, display_name, specifier, extras, marker, url, editable, text",
    LINES,
    ids=[case[0].splitlines()[0][:60] for case in LINES],
)
def test_real_world_lines(tmp_path, line, name, display_name, specifier, extras, marker, url, editable, text):
    result = read_one(tmp_path, f"# header\n{line}\n")
    (requirement,) = result.requirements
    assert requirement.name == name
    assert requirement.display_name == display_name
    assert requirement.specifier == SpecifierSet(specifier)
    assert requirement.extras == extras
    assert requirement.marker == (Marker(marker) if marker else None)
    assert requirement.url == (url.format(dir=tmp_path) if url else None)
    assert requirement.editable is editable
    assert requirement.text == text
    assert requirement.origin == Origin(str(tmp_path / "requirements.txt"), 2)


def test_pip_compile_hashes_on_continuation_lines(tmp_path):
    result = read_one(
        tmp_path,
        "#\n# This file is autogenerated by pip-compile with Python 3.11\n#\n"
        "first==2.0.1 \\\n"
        "    --hash=sha256:3bb3de3582cb27071cfb514f00ed784dc444b7f96dc21e140de65fe00585c95e\n"
        "    # via -r requirements.in\n"
        "pip-tools==1.11.0 \\\n"
        f"    --hash={PIP_TOOLS_HASHES[0]} \\\n"
        f"    --hash={PIP_TOOLS_HASHES[1]}\n"
        "    # via -r requirements.in\n",
    )
    first, pip_tools = result.requirements
    assert (first.name, first.origin.line) == ("first", 4)
    assert first.hashes == ("sha256:3bb3de3582cb27071cfb514f00ed784dc444b7f96dc21e140de65fe00585c95e",)
    assert (pip_tools.text, pip_tools.origin.line, pip_tools.hashes) == ("pip-tools==1.11.0", 7, PIP_TOOLS_HASHES)


def test_guessed_name_is_noted(tmp_path):
    result = read_one(tmp_path, "git+https://github.com/org/repo.git@v1\n")
    (requirement,) = result.requirements
    assert (requirement.name, requirement.url) == ("repo", "git+https://github.com/org/repo.git@v1")
    assert [note.message for note in result.notes] == [
        "name of 'git+https://github.com/org/repo.git@v1' guessed from its path: repo"
    ]


def test_local_paths_are_named_by_their_project(in_data):
    result = read_requirements([Path("local/requirements.txt")])
    proj, editable, unbuilt = result.requirements
    assert (proj.name, proj.url, proj.editable) == ("local-proj", (DATA / "local" / "proj").as_uri(), False)
    assert (editable.name, editable.extras, editable.editable, editable.text) == (
        "local-proj", ("dev",), True, "-e ./proj[dev]")
    assert (unbuilt.name, unbuilt.url) == ("unbuilt-checkout", (DATA / "local" / "unbuilt-checkout").as_uri())
    assert [str(note) for note in result.notes] == [
        "local/requirements.txt:3: name of './unbuilt-checkout' guessed from its path: unbuilt-checkout"
    ]


@pytest.mark.parametrize(
    "spelling, constraint",
    [
        ("-r inc.txt", False),
        ("-rinc.txt", False),
        ("--requirement=inc.txt", False),
        ("--requirement inc.txt", False),
        ("--constr inc.txt", True),  # optparse, hence pip, takes unique prefixes
        ("-c inc.txt", True),
        ("-cinc.txt", True),
        ("--constraint=inc.txt", True),
        ("--constraint inc.txt", True),
    ],
)
def test_include_spellings(tmp_path, spelling, constraint):
    (tmp_path / "inc.txt").write_text("six>=1.16\n", encoding="utf-8")
    result = read_one(tmp_path, spelling + "\n")
    included = result.constraints if constraint else result.requirements
    assert [(r.name, str(r.specifier), r.origin.line) for r in included] == [("six", ">=1.16", 1)]
    assert len(result.requirements) + len(result.constraints) == 1
    assert result.files == (str(tmp_path / "requirements.txt"), str(tmp_path / "inc.txt"))


def test_includes_are_relative_to_the_including_file_and_read_once(in_data):
    result = read_requirements([Path("includes/requirements.txt")])
    assert [(r.name, str(r.origin)) for r in result.requirements] == [
        ("django", "includes/requirements/base.txt:1"),
        ("six", "includes/requirements/common.txt:1"),
        ("sqlparse", "includes/requirements/extra.txt:3"),
        ("gunicorn", "includes/requirements.txt:5"),
    ]
    assert result.files == (
        "includes/requirements.txt",
        "includes/requirements/base.txt",
        "includes/requirements/common.txt",
        "includes/requirements/extra.txt",
        "includes/requirements/constraints.txt",
    )


def test_constraints_narrow_requirements_of_the_same_name(in_data):
    result = read_requirements([Path("includes/requirements.txt")])
    django, six, sqlparse, gunicorn = result.requirements
    assert django.specifier == SpecifierSet(">=4.2,<5.0,===4.2.7")
    assert django.constraints == (Origin("includes/requirements/constraints.txt", 2),)
    assert sqlparse.specifier == SpecifierSet("===0.4.4")
    assert six.constraints == gunicorn.constraints == ()
    # A constraint nobody requires stays available for planning; so does one with a marker.
    assert [c.name for c in result.constraints] == ["django", "sqlparse", "urllib3", "pywin32"]
    assert django.text == "Django>=4.2,<5.0"


def test_constraints_with_markers_wait_for_the_target(tmp_path):
    (tmp_path / "constraints.txt").write_text(
        "importlib-metadata===6.8.0;python_version=='3.11'\nimportlib-metadata===4.13.0;python_version=='3.9'\n",
        encoding="utf-8",
    )
    result = read_one(tmp_path, "-c constraints.txt\nimportlib-metadata>=4\n")
    (requirement,) = result.requirements
    assert requirement.specifier == SpecifierSet(">=4")
    bookworm = {"python_version": "3.11", "python_full_version": "3.11.2"}
    narrowed = apply_constraints(requirement, result.constraints, bookworm)
    assert narrowed.specifier == SpecifierSet(">=4,===6.8.0")
    assert narrowed.constraints == (Origin(str(tmp_path / "constraints.txt"), 1),)
    assert apply_constraints(narrowed, result.constraints, bookworm) == narrowed


def test_constraint_url_becomes_the_requirement_source(tmp_path):
    (tmp_path / "c.txt").write_text("django @ https://example.org/dist/Django-4.2.7.tar.gz\n", encoding="utf-8")
    result = read_one(tmp_path, "-c c.txt\nDjango>=4.2\n")
    (django,) = result.requirements
    assert (django.url, django.specifier) == ("https://example.org/dist/Django-4.2.7.tar.gz", SpecifierSet(">=4.2"))


def test_conflicting_constraint_url_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("c.txt").write_text("foo @ https://mirror.example.org/foo-1.0.tar.gz\n", encoding="utf-8")
    Path("requirements.txt").write_text("-c c.txt\nfoo @ https://example.org/foo-1.0.tar.gz\n", encoding="utf-8")
    assert problems_of(["requirements.txt"]) == [
        "c.txt:1: constraint URL https://mirror.example.org/foo-1.0.tar.gz conflicts with "
        "https://example.org/foo-1.0.tar.gz for foo (requirements.txt:2)"
    ]


@pytest.mark.parametrize(
    "constraint_line, message",
    [
        ("-e git+https://github.com/pallets/flask.git#egg=Flask",
         "c.txt:1: editable requirements are not allowed as constraints"),
        ("requests[socks]<3", "c.txt:1: constraints cannot have extras: 'requests[socks]<3'"),
    ],
)
def test_constraint_files_follow_pips_rules(tmp_path, monkeypatch, constraint_line, message):
    monkeypatch.chdir(tmp_path)
    Path("c.txt").write_text(constraint_line + "\n", encoding="utf-8")
    Path("requirements.txt").write_text("-c c.txt\nrequests\n", encoding="utf-8")
    assert problems_of(["requirements.txt"]) == [message]


def test_include_loop_names_the_chain(in_data):
    assert problems_of(["loop/a.txt"]) == ["loop/b.txt:2: include loop: loop/a.txt -> loop/b.txt -> loop/a.txt"]


def test_global_options_are_kept_aside(tmp_path):
    result = read_one(
        tmp_path,
        "-i https://pypi.example.org/simple\n"
        "--extra-index-url https://${INDEX_TOKEN}@private.example.org/simple\n"
        "--trusted-host private.example.org\n--pre\n--prefer-binary --no-binary :all:\n"
        "-f ./wheels\n--require-hashes\n--use-feature=truststore\nsix\n",
        env={"INDEX_TOKEN": "secret"},
    )
    assert [r.name for r in result.requirements] == ["six"]
    # As written: ${INDEX_TOKEN}, not its value; pip expands it itself when given the option.
    assert [(origin.line, option) for origin, option in result.pip_options] == [
        (1, "--index-url https://pypi.example.org/simple"),
        (2, "--extra-index-url https://${INDEX_TOKEN}@private.example.org/simple"),
        (3, "--trusted-host private.example.org"),
        (4, "--pre"),
        (5, "--prefer-binary"),
        (5, "--no-binary :all:"),
        (6, "--find-links ./wheels"),
        (7, "--require-hashes"),
        (8, "--use-feature truststore"),
    ]
    assert str(result.notes[3]).endswith("requirements.txt:4: pip option --pre ignored for evaluation")


def test_environment_variables_expand_like_pip(tmp_path):
    line = "git+https://${GITHUB_TOKEN}@github.com/org/private.git@v2#egg=private-lib"
    result = read_one(tmp_path, f"{line}\nfoo-${{SUFFIX_2}}>=1.0\n", env={"GITHUB_TOKEN": "ghp_x", "SUFFIX_2": "bar"})
    private, foo = result.requirements
    assert private.url == "git+https://ghp_x@github.com/org/private.git@v2#egg=private-lib"
    assert private.text == line  # as written: ${GITHUB_TOKEN}, not its value
    assert (foo.name, foo.text) == ("foo-bar", "foo-${SUFFIX_2}>=1.0")


@pytest.mark.parametrize(
    "line, env, name, notes",
    [
        # Unset and empty variables stay as written (pip's rule), here inside a URL's password.
        ("https://user:${PASSWORD}@example.org/pkgs/tool-1.0.tar.gz", {}, "tool",
         ["environment variable ${PASSWORD} is not set; left as written"]),
        ("https://user:${PASSWORD}@example.org/pkgs/tool-1.0.tar.gz", {"PASSWORD": ""}, "tool",
         ["environment variable ${PASSWORD} is not set; left as written"]),
        # Lowercase is not pip's syntax: not a variable at all.
        ("https://example.org/${lower}/tool-1.0.tar.gz", {"lower": "x"}, "tool", []),
    ],
)
def test_environment_variables_left_as_written(tmp_path, line, env, name, notes):
    result = read_one(tmp_path, line + "\n", env=env)
    assert [r.name for r in result.requirements] == [name]
    assert result.requirements[0].url == line
    assert [n.message for n in result.notes] == notes


def test_coding_declaration_and_non_utf8(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("latin.txt").write_bytes("# -*- coding: latin-1 -*-\n# caf\u00e9 deps\nsix\n".encode("latin-1"))
    assert [r.name for r in read_requirements([Path("latin.txt")]).requirements] == ["six"]
    Path("broken.txt").write_bytes(b"six\n# na\xefve\nrequests\n")
    assert problems_of(["broken.txt"]) == [
        "broken.txt:2: cannot read: not utf-8 text (invalid continuation byte, byte 0xef)"
    ]


def test_every_bad_line_is_reported_in_one_run(in_data):
    assert problems_of(["bad/requirements.txt"]) == [
        f"bad/requirements.txt:2: invalid requirement 'Django>>3': {packaging_says('Django>>3')}",
        f"bad/requirements.txt:4: invalid requirement 'flask[async     ==2.3': {packaging_says('flask[async     ==2.3')}",
        "bad/requirements.txt:6: no such option: --frobnicate",
        f"bad/requirements.txt:7: invalid requirement 'pyyaml=6.0': {packaging_says('pyyaml=6.0')} (did you mean '=='?)",
        "bad/requirements.txt:8: --hash 'md5:0123456789abcdef': allowed algorithms are sha256, sha384, sha512",
        "bad/requirements.txt:9: invalid requirement 'urllib3 ; python_version >> \"3\"': "
        + packaging_says('urllib3 ; python_version >> "3"'),
        "bad/requirements.txt:10: cannot read bad/does-not-exist.txt: No such file or directory",
        "bad/requirements.txt:12: 'https://example.org/not-editable.tar.gz' is not a valid editable requirement: "
        "it should be a local project path or a VCS URL (git+, hg+, svn+, bzr+)",
    ]


def test_problems_from_several_files_come_together(in_data):
    assert problems_of(["missing.txt", "loop/a.txt", "pyproject-malformed/pyproject.toml"]) == [
        "missing.txt: cannot read: No such file or directory",
        "loop/b.txt:2: include loop: loop/a.txt -> loop/b.txt -> loop/a.txt",
        "pyproject-malformed/pyproject.toml:5: invalid TOML: Unclosed array (column 5)",
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ("-r https://example.org/requirements.txt",
         "remote requirement files are not supported: https://example.org/requirements.txt"),
        ("six --hash=sha256:abc", "--hash 'sha256:abc': a sha256 digest is 64 hexadecimal digits"),
        ("six --hash", "--hash option requires 1 argument"),
        ("--index-url 'https://unclosed", "cannot split options \"--index-url 'https://unclosed\": No closing quotation"),
        ("./dist/not_a-wheel.whl", "invalid wheel filename 'not_a-wheel.whl': " + wheel_filename_says("not_a-wheel.whl")),
    ],
)
def test_bad_option_lines(tmp_path, line, message):
    with pytest.raises(RequirementFileError) as caught:
        read_one(tmp_path, f"six\n{line}\n")
    assert caught.value.problems == (Problem(str(tmp_path / "requirements.txt"), 2, message),)


def test_per_requirement_options_are_noted(tmp_path):
    result = read_one(tmp_path, 'psycopg2==2.9.9 --config-settings="--build-option=--static"\n--pre six\n')
    assert [r.name for r in result.requirements] == ["psycopg2"]
    assert [n.message for n in result.notes] == [
        "option --config-settings ignored",
        "'six' after the options is ignored (pip ignores it too)",
        "pip option --pre ignored for evaluation",
    ]


def test_parse_requirement_line():
    origin = Origin("requirements.txt", 12)
    requirement = parse_requirement_line("Django[argon2]>=4.2,<5.0; python_version >= '3.8'", origin)
    assert requirement == Requirement(
        text="Django[argon2]>=4.2,<5.0; python_version >= '3.8'",
        name="django",
        display_name="Django",
        specifier=SpecifierSet("<5.0,>=4.2"),
        extras=("argon2",),
        marker=Marker("python_version >= '3.8'"),
        url=None,
        origin=origin,
    )
    assert str(origin) == "requirements.txt:12"
    with pytest.raises(RequirementFileError) as caught:
        parse_requirement_line("Django>>3", origin)
    assert str(caught.value) == f"requirements.txt:12: invalid requirement 'Django>>3': {packaging_says('Django>>3')}"


# --- pyproject.toml ---


def test_pyproject_dependencies_with_lines(in_data):
    result = read_requirements([Path("pyproject/pyproject.toml")])
    assert [(r.name, str(r.specifier), r.extras, r.origin.line) for r in result.requirements] == [
        ("django", "<5.0,>=4.2", (), 10),
        ("psycopg2-binary", ">=2.9", (), 11),
        ("pyyaml", ">=6.0", (), 12),
        ("requests", ">=2.31", ("socks",), 13),
        ("certifi", "", (), 13),
    ]
    assert result.files == ("pyproject/pyproject.toml",)


@pytest.mark.parametrize(
    "extras, expected",
    [
        (["docs"], [("sphinx", 23, None)]),
        (["test"], [("pytest", 19, None), ("redis", 17, None)]),
        # all -> demo_app[test, redis] (with its marker) -> redis -> demo-app[all]: a loop, read once.
        (["All"], [("redis", 17, 'python_version >= "3.10"'), ("pytest", 19, 'python_version >= "3.10"')]),
        (["test", "redis"], [("pytest", 19, None), ("redis", 17, None)]),
        # Selected directly, redis comes without the marker all's self-reference would add.
        (["all", "redis"], [("pytest", 19, 'python_version >= "3.10"'), ("redis", 17, None)]),
    ],
)
def test_pyproject_extras_and_self_references(in_data, extras, expected):
    result = read_requirements([Path("pyproject/pyproject.toml")], extras=extras)
    selected = result.requirements[5:]
    assert [(r.name, r.origin.line, None if r.marker is None else str(r.marker)) for r in selected] == expected


@pytest.mark.parametrize(
    "path, extras, message",
    [
        ("pyproject/pyproject.toml", ["dev"],
         "pyproject/pyproject.toml:16: unknown extra 'dev' of Demo_App; it defines: all, docs, redis, test"),
        ("pyproject-dynamic/pyproject.toml", [],
         "pyproject-dynamic/pyproject.toml:8: dependencies are dynamic (project.dynamic): they are only known to "
         "the build backend; name the file they come from instead ([tool.setuptools.dynamic] reads them from "
         "requirements.txt)"),
        ("pyproject-malformed/pyproject.toml", [],
         "pyproject-malformed/pyproject.toml:5: invalid TOML: Unclosed array (column 5)"),
    ],
)
def test_pyproject_errors(in_data, path, extras, message):
    assert problems_of([path], extras=extras) == [message]


def test_pyproject_without_project_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("pyproject.toml").write_text(
        '[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\npython = "^3.9"\n', encoding="utf-8")
    assert problems_of(["pyproject.toml"]) == [
        "pyproject.toml: no [project] table (PEP 621) ([tool.poetry] is not read: name a requirements file)"
    ]


# --- setup.cfg ---


@pytest.mark.parametrize(
    "extras, expected",
    [
        ([], ["requests:8", "importlib-metadata:10", "click:11"]),
        (["test"], ["requests:8", "importlib-metadata:10", "click:11", "pytest:15"]),
        (["all"], ["requests:8", "importlib-metadata:10", "click:11",
                   "sphinx:setupcfg/docs-requirements.txt:1", "sphinx-rtd-theme:setupcfg/docs-requirements.txt:2",
                   "pytest:15"]),
    ],
)
def test_setup_cfg(in_data, extras, expected):
    result = read_requirements([Path("setupcfg/setup.cfg")], extras=extras)
    shown = [
        f"{r.name}:{r.origin.line}" if r.origin.file == "setupcfg/setup.cfg" else f"{r.name}:{r.origin}"
        for r in result.requirements
    ]
    assert shown == expected
    assert result.requirements[1].marker == Marker('python_version < "3.10"')


@pytest.mark.parametrize(
    "content, messages",
    [
        ("[options]\ninstall_requires =\n    six\n    foo>>1\n",
         [f"setup.cfg:4: invalid requirement 'foo>>1': {packaging_says('foo>>1')}"]),
        ('[options]\ninstall_requires = six; python_version < "3.10"\n',
         ["setup.cfg:2: 'python_version < \"3.10\"' is a marker, but setuptools splits a one-line value on ';': "
          "put each requirement on its own line"]),
        ("install_requires = six\n[options]\n", ["setup.cfg:1: no [section] before 'install_requires = six'"]),
        ("[options]\ninstall_requires = six\nzip_safe False\n[metadata]\nname\n",
         ["setup.cfg:3: invalid setup.cfg line 'zip_safe False'", "setup.cfg:5: invalid setup.cfg line 'name'"]),
        ("[options]\ninstall_requires = six\ninstall_requires = seven\n",
         ["setup.cfg:3: option 'install_requires' appears twice in [options]"]),
        ("[options]\ninstall_requires = file: missing.txt\n",
         ["setup.cfg:2: cannot read missing.txt: No such file or directory"]),
    ],
)
def test_setup_cfg_errors(tmp_path, monkeypatch, content, messages):
    monkeypatch.chdir(tmp_path)
    Path("setup.cfg").write_text(content, encoding="utf-8")
    assert problems_of(["setup.cfg"]) == messages


# --- which file when none is named ---


@pytest.mark.parametrize(
    "files, chosen",
    [
        ({"requirements.txt": "six\n", "pyproject.toml": "[project]\nname='x'\n", "setup.cfg": ""},
         "requirements.txt"),
        ({"pyproject.toml": "[project]\nname='x'\n", "setup.cfg": "[options]\n"}, "pyproject.toml"),
        ({"pyproject.toml": "[build-system]\nrequires=['setuptools']\n", "setup.cfg": "[options]\n"}, "setup.cfg"),
        ({"pyproject.toml": "[build-system]\nrequires=['setuptools']\n"}, "pyproject.toml"),
        ({"setup.cfg": "[options]\n"}, "setup.cfg"),
    ],
)
def test_default_requirement_files(tmp_path, files, chosen):
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    assert default_requirement_files(tmp_path) == (tmp_path / chosen,)


def test_default_requirement_files_none(tmp_path):
    with pytest.raises(RequirementFileError) as caught:
        default_requirement_files(tmp_path)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert str(caught.value) == f"{tmp_path}: no requirements.txt, pyproject.toml or setup.cfg here; name a requirement file"


# ---- hostile input: unbounded, non-regular, deep, huge, quadratic -----------------------------


def _one_problem_at(problems: list[str], where: str) -> str:
    assert len(problems) == 1, problems
    assert problems[0].startswith(where + ": "), problems
    assert len(problems[0]) < 1000  # a huge line is quoted short
    return problems[0]


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_an_include_must_be_a_regular_file(tmp_path, special):
    (tmp_path / "requirements.txt").write_text(f"six\n-r {special}\n")
    _one_problem_at(problems_of([tmp_path / "requirements.txt"]), f"{tmp_path / 'requirements.txt'}:2")


def test_an_included_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "requirements.txt").write_text("-c fifo.txt\n")
    _one_problem_at(problems_of([tmp_path / "requirements.txt"]), f"{tmp_path / 'requirements.txt'}:1")


def test_setup_cfg_file_reference_to_a_device_is_refused(tmp_path):
    (tmp_path / "setup.cfg").write_text("[options]\ninstall_requires = file: /dev/zero\n")
    _one_problem_at(problems_of([tmp_path / "setup.cfg"]), f"{tmp_path / 'setup.cfg'}:2")


def test_a_named_device_is_read_up_to_the_limit_then_refused():
    _one_problem_at(problems_of(["/dev/zero"]), "/dev/zero")


def test_a_named_fifo_is_read_like_a_file(tmp_path):
    # debvenv check /dev/stdin < requirements.txt works: only includes must be regular files.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("six>=1\n"))
    writer.start()
    result = read_requirements([fifo])
    writer.join()
    assert [r.name for r in result.requirements] == ["six"]


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:
        handle.truncate(MAX_FILE_SIZE + 1)  # sparse: no disk, no memory
    (tmp_path / "requirements.txt").write_text("-r big.txt\n")
    assert "too large" in _one_problem_at(
        problems_of([tmp_path / "requirements.txt"]), f"{tmp_path / 'requirements.txt'}:1"
    )


def test_an_include_chain_too_deep_is_one_located_problem(tmp_path):
    depth = 3 * MAX_INCLUDE_DEPTH
    for number in range(depth):
        (tmp_path / f"r{number}.txt").write_text(f"-r r{number + 1}.txt\n")
    (tmp_path / f"r{depth}.txt").write_text("six\n")
    problems = problems_of([tmp_path / "r0.txt"])
    _one_problem_at(problems, f"{tmp_path / f'r{MAX_INCLUDE_DEPTH - 1}.txt'}:1")


@pytest.mark.parametrize(
    "line",
    [
        "six>=" + "9" * 5000,  # past Python's int digit limit
        "six; " + "(" * 5000 + 'python_version > "3"' + ")" * 5000,  # past the recursion limit
        "./x ; " + "(" * 5000 + 'python_version > "3"' + ")" * 5000,
        "six" + ">=1," * 250_000,  # a quarter of a million clauses
    ],
    ids=["5000-digit-version", "deep-marker", "deep-marker-on-a-path", "many-clauses"],
)
def test_requirements_beyond_packagings_limits_are_located_problems(tmp_path, line):
    (tmp_path / "requirements.txt").write_text(f"six\n{line}\n")
    _one_problem_at(problems_of([tmp_path / "requirements.txt"]), f"{tmp_path / 'requirements.txt'}:2")


@pytest.mark.parametrize(
    "document, line",
    [
        ('[project]\nname = "x"\nversion = ' + "9" * 6000 + "\n", 3),
        ('[project]\nname = "x"\nx = ' + "[" * 5000 + "]" * 5000 + "\n", 3),
        ('[project]\nname = "x"\n\nx = ' + "{a = " * 2000 + "}" * 2000 + "\n", 4),
    ],
    ids=["6000-digit-integer", "5000-deep-arrays", "2000-deep-inline-tables"],
)
def test_toml_beyond_tomllibs_limits_is_a_located_problem(tmp_path, document, line):
    (tmp_path / "pyproject.toml").write_text(document)
    _one_problem_at(problems_of([tmp_path / "pyproject.toml"]), f"{tmp_path / 'pyproject.toml'}:{line}")


@pytest.mark.parametrize("name, content", [
    ("pyproject.toml", '[project]\nname = "x"\ndependencies = ["six"]\n'),
    ("setup.cfg", "[options]\ninstall_requires =\n    six\n"),
])
def test_a_utf8_byte_order_mark_is_read_past_with_a_note(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + content.encode())
    result = read_requirements([path])
    assert [r.name for r in result.requirements] == ["six"]
    assert [(n.file, n.line) for n in result.notes] == [(str(path), 1)]


MEGABYTE = 1_000_000


@pytest.mark.parametrize(
    "line, names",
    [
        # Each shape made pip's patterns (and ours, once) backtrack quadratically.
        ("six" + " " * MEGABYTE + "x", None),  # the comment and named-URL patterns
        ("six" + " " * MEGABYTE + "# a comment", ["six"]),
        ("six" + "\t" * MEGABYTE + "=1", None),  # the "did you mean ==" pattern
        ("six" + " " * MEGABYTE + "[x]" + " " * MEGABYTE + "@", None),
        ("./x" + "[" * MEGABYTE, 1),  # the extras-suffix pattern: a local path, its name guessed
        ("six " + "-" * MEGABYTE, None),  # shlex on one long word
    ],
    ids=["spaces", "spaces-comment", "tabs-equals", "spaces-extras-at", "brackets", "long-option"],
)
def test_megabyte_lines_are_judged_in_linear_time(tmp_path, line, names):
    (tmp_path / "requirements.txt").write_text(line + "\n")
    if names is None:
        _one_problem_at(problems_of([tmp_path / "requirements.txt"]), f"{tmp_path / 'requirements.txt'}:1")
    elif isinstance(names, int):
        assert len(read_requirements([tmp_path / "requirements.txt"]).requirements) == names
    else:
        assert [r.name for r in read_requirements([tmp_path / "requirements.txt"]).requirements] == names


def test_combine_repeated_keeps_markers_per_line():
    from debvenv.requirements import combine_repeated

    lines = [
        parse_requirement_line(text, Origin(file="requirements.txt", line=number))
        for number, text in enumerate(
            [
                "aiohttp>=3.8.0",
                'aiohttp[speedups]<3.10,>=3.8.5 ; python_version >= "3.8"',
                'aiohttp<3 ; python_version < "3"',
                "aiohttp @ https://example.org/aiohttp.tar.gz",
                "yarl",
            ],
            start=1,
        )
    ]
    combined = combine_repeated(lines, {"python_version": "3.11", "python_full_version": "3.11.2"})
    first, second, other_python, url, yarl = combined
    assert first is second
    assert first.specifier == SpecifierSet("<3.10,>=3.8.0,>=3.8.5")
    assert first.extras == ("speedups",)
    assert str(first.marker) == 'python_version >= "3.8"'
    assert (first.origin.line, first.combined) == (1, (Origin(file="requirements.txt", line=2),))
    # A line for another Python, a direct URL and another name are left as written.
    assert (other_python, url, yarl) == tuple(lines[2:])
