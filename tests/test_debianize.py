"""debian/ directories from plans on real Debian packages, venv relocation, and the checks before writing.

Regenerate the golden files after an intended change with
``DEBVENV_UPDATE_GOLDEN=1 python -m pytest tests/test_debianize.py``.
"""

import os
import re
import stat
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from virtualenv import cli_run

from debvenv import __version__
from debvenv.commands import debianize_requirements
from debvenv.debianize import (
    PROJECT_FILE,
    DebianizeError,
    DebianPackage,
    debian_files,
    default_maintainer,
    project_line,
    python_relations,
    relocate_venv,
    tree_path,
    write_debian,
)
from debvenv.errors import EXIT_BAD_INPUT
from debvenv.evaluate import check
from debvenv.index import MAPPING_CONTENTS, VERSION_FROM_METADATA, Provider, SuiteIndex, Target, marker_environment_for
from debvenv.names import normalize
from debvenv.plan import make_plan
from debvenv.requirements import read_requirements
from debvenv.targets import TargetOptions

GOLDEN = Path(__file__).parent / "golden" / "debianize"
NOW = datetime(2026, 11, 21, 16, 39, 58, tzinfo=timezone.utc)
MAINTAINER = "debvenv developers <maintainers@users.noreply.example.org>"


def provider(name, package, debian_version, version, arch="all"):
    return Provider(
        name=name, package=package, debian_version=debian_version, version=version,
        version_source=VERSION_FROM_METADATA, mapping=MAPPING_CONTENTS, arch=arch, suite="bookworm",
    )


# Real bookworm packages; Django and novaclient carry epochs.
BOOKWORM = (
    provider("Django", "python3-django", "3:3.2.19-1", "3.2.19"),
    provider("python-novaclient", "python3-novaclient", "2:18.1.0-3", "18.1.0"),
    provider("PyYAML", "python3-yaml", "6.0-3+b2", "6.0", arch="amd64"),
    provider("requests", "python3-requests", "2.28.1+dfsg-1", "2.28.1"),
)

REQUIREMENTS = """\
--find-links wheels
Django>=3.2,<4
python-novaclient~=18.1
PyYAML>=5.4
requests>=2.25,!=2.28.0
celery>=5.3
pywin32>=306 ; sys_platform == "win32"
"""


def bookworm_index(python="3.11.2"):
    """Bookworm's packages; ``python`` is the target's Python (bookworm's by default)."""
    grouped = {}
    for p in BOOKWORM:
        grouped.setdefault(normalize(p.name), []).append(p)
    major_minor = ".".join(python.split(".")[:2])
    target = Target(id="bookworm", kind="suite", python=major_minor, arch="amd64",
                    marker_environment=marker_environment_for(python, "amd64"))
    return SuiteIndex(target=target, providers={k: tuple(v) for k, v in grouped.items()})


def package(**changes):
    fields = dict(
        name="orders-service", version="2.4.1-1", maintainer=MAINTAINER, date=NOW,
        requirement_files=("requirements.txt",), project="..", pip_args=("--no-index", "--find-links=wheels"),
    )
    fields.update(changes)
    return DebianPackage(**fields)


@pytest.fixture
def realistic(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text(REQUIREMENTS)
    (tmp_path / "wheels").mkdir()
    requirements = read_requirements([Path("requirements.txt")], env={})
    index = bookworm_index()
    return make_plan(check(requirements, [index]), index.target.id, requirement_set=requirements)


def assert_golden(name, text):
    path = GOLDEN / name
    if os.environ.get("DEBVENV_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


# ---- the generated files -----------------------------------------------------------


def test_generated_files_match_golden(realistic, tmp_path):
    texts = debian_files(realistic, package())
    assert sorted(texts) == sorted([
        "control", "rules", "changelog", "copyright", "orders-service.postinst", "orders-service.prerm",
        "orders-service.lintian-overrides", "source/format", PROJECT_FILE,
    ])
    for name, text in texts.items():
            # The version of debvenv that generated them is not part of the answer.
        assert_golden(name.replace("/", "-"), text.replace(__version__, "VERSION"))
    assert str(tmp_path) not in texts["control"]


def test_control_depends_keep_epochs_and_bind_the_target_python(realistic):
    control = debian_files(realistic, package())["control"]
    binary = control.split("\n\n")[1]
    depends = binary.split("Depends:\n", 1)[1].split("Description:")[0]
    assert [line.strip() for line in depends.splitlines()] == [
        "python3 (>= 3.11),",
        "python3 (<< 3.12),",
        "python3-django (>= 3:3.2), python3-django (<< 3:4~),",
        "python3-novaclient (>= 2:18.1), python3-novaclient (<< 2:19~),",
        "python3-requests (>= 2.25), python3-requests (<< 2.28) | python3-requests (>= 2.28.0~), python3-requests (<< 2.28.0) | python3-requests (>= 2.28.0.1~),",
        "python3-yaml (>= 5.4),",
        "${misc:Depends},",
        "${shlibs:Depends},",
    ]
    # The build machine must answer as the installing machine will.
    source = control.split("\n\n")[0]
    assert "python3-django (>= 3:3.2), python3-django (<< 3:4~)," in source
    assert "python3 (<< 3.12)," in source


def test_architecture_all_has_no_shlibs(realistic):
    control = debian_files(realistic, package(architecture="all"))["control"]
    assert "Architecture: all" in control and "shlibs" not in control


def machine_python3() -> str:
    """The upstream version of this machine's installed python3 package (``3.13.5`` of ``3.13.5-1``)."""
    completed = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "python3"], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    return re.match(r"^(?:\d+:)?(\d+\.\d+(?:\.\d+)?)", completed.stdout).group(1)


def test_dpkg_parses_the_control_and_changelog(tmp_path, monkeypatch):
    # Planned for this machine's Python, so that the python3 range is one dpkg finds met here.
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text(REQUIREMENTS)
    (tmp_path / "wheels").mkdir()
    requirements = read_requirements([Path("requirements.txt")], env={})
    index = bookworm_index(python=machine_python3())
    plan = make_plan(check(requirements, [index]), index.target.id, requirement_set=requirements)
    texts = debian_files(plan, package())
    write_debian(tmp_path / "tree", texts)
    completed = subprocess.run(
        ["dpkg-parsechangelog", "-S", "Version"], cwd=tmp_path / "tree", capture_output=True, text=True
    )
    assert completed.stdout.strip() == "2.4.1-1", completed.stderr
    # dpkg-checkbuilddeps parses debian/control (exit 1: unmet, not a parse error) and names
    # what this machine lacks, after the last ": " of its message (whatever dpkg's wording):
    # python3-yaml is installed here (as for the build tests), Django and novaclient are not.
    completed = subprocess.run(["dpkg-checkbuilddeps"], cwd=tmp_path / "tree", capture_output=True, text=True)
    assert completed.returncode == 1, completed.stderr
    [message] = [line for line in completed.stderr.splitlines() if "python3-django" in line]
    unmet = message.rpartition(": ")[2]
    assert "python3-django (>= 3:3.2) python3-django (<< 3:4~)" in unmet, completed.stderr
    assert "python3-novaclient (>= 2:18.1)" in unmet, completed.stderr
    assert "python3-yaml" not in unmet and "python3 (" not in unmet, completed.stderr


@pytest.mark.parametrize(
    "python, relations",
    [
        ("3.11", ("python3 (>= 3.11)", "python3 (<< 3.12)")),
        ("3.13", ("python3 (>= 3.13)", "python3 (<< 3.14)")),
        ("3.9", ("python3 (>= 3.9)", "python3 (<< 3.10)")),
        ("3.12.3", ("python3 (>= 3.12)", "python3 (<< 3.13)")),
    ],
)
def test_python_relations(python, relations):
    assert python_relations(python) == relations


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": "Orders"}, "Debian package name"),
        ({"name": "o"}, "Debian package name"),
        ({"name": "orders_service"}, "Debian package name"),
        ({"version": "2.4.1-"}, "revision"),
        ({"version": "a:1.0"}, "epoch"),
        ({"version": "1.0_1"}, "invalid character"),
        ({"maintainer": "root@localhost"}, "Full Name <address>"),
        ({"maintainer": "Ops Team"}, "Full Name <address>"),
    ],
)
def test_unusable_names_are_refused(realistic, changes, message):
    with pytest.raises(DebianizeError, match=message) as caught:
        debian_files(realistic, package(**changes))
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_make_words_are_quoted_for_the_shell_and_make(realistic):
    rules = debian_files(realistic, package(pip_args=("--find-links=/srv/my wheels", "--index-url=${INDEX}")))["rules"]
    assert "'--pip-arg=--find-links=/srv/my wheels'" in rules
    assert "'--pip-arg=--index-url=$${INDEX}'" in rules


@pytest.mark.parametrize(
    "environ, maintainer",
    [
        ({"DEBFULLNAME": "Ada Lovelace", "DEBEMAIL": "ada@example.org"}, "Ada Lovelace <ada@example.org>"),
        ({"NAME": "Ada Lovelace", "EMAIL": "ada@example.org"}, "Ada Lovelace <ada@example.org>"),
        ({"DEBEMAIL": "ada@example.org"}, None),
        ({}, None),
    ],
)
def test_default_maintainer(environ, maintainer):
    assert default_maintainer(environ) == maintainer


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/src/app/requirements.txt", "requirements.txt"),
        ("/src/app/deploy/requirements.txt", "deploy/requirements.txt"),
        ("/src/application/requirements.txt", "/src/application/requirements.txt"),
        ("/etc/app/requirements.txt", "/etc/app/requirements.txt"),
    ],
)
def test_tree_paths(path, expected):
    assert tree_path(Path(path), Path("/src/app")) == expected


@pytest.mark.parametrize(
    "project, expected",
    [
        ("/src/app", ".."),
        ("/src/app/service", "../service"),
        ("/src/app/dist/app-1.0-py3-none-any.whl", "../dist/app-1.0-py3-none-any.whl"),
        ("/opt/src/app", "/opt/src/app"),
    ],
)
def test_project_lines(project, expected):
    assert project_line(Path(project), Path("/src/app")) == expected


# ---- writing -----------------------------------------------------------------------


def test_write_refuses_an_existing_debian_unless_replacing(realistic, tmp_path):
    texts = debian_files(realistic, package())
    root = tmp_path / "tree"
    (root / "debian").mkdir(parents=True)
    (root / "debian" / "control").write_text("Source: mine\n")
    with pytest.raises(DebianizeError, match="exists"):
        write_debian(root, texts)
    assert (root / "debian" / "control").read_text() == "Source: mine\n"
    written = write_debian(root, texts, replace=True)
    assert (root / "debian" / "control").read_text() == texts["control"]
    assert stat.S_IMODE((root / "debian" / "rules").stat().st_mode) == 0o755
    assert sorted(p.name for p in root.iterdir()) == ["debian"]  # nothing staged or set aside is left
    assert len(written) == len(texts)


def test_debianize_against_the_installed_packages(tmp_path):
    """The whole command on this machine's dpkg database (python3-yaml installed, as for the build tests)."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "hello"\nversion = "1.0"\ndependencies = ["PyYAML>=5.4", "debvenv-no-such-dist"]\n'
    )
    result = debianize_requirements(
        [tmp_path / "pyproject.toml"], "installed", TargetOptions(), name="hello", version="1.0",
        output_dir=tmp_path, maintainer=MAINTAINER, now=NOW,
    )
    assert result.package.project == ".."
    assert result.package.requirement_files == ("pyproject.toml",)
    assert "python3-yaml (>= 5.4)" in result.plan.debian_depends
    control = (tmp_path / "debian" / "control").read_text()
    assert " python3-yaml (>= 5.4),\n" in control
    assert "  debvenv-no-such-dist\n" in control
    assert (tmp_path / "debian" / PROJECT_FILE).read_text().splitlines()[-1] == ".."
    assert (tmp_path / "debian" / "source" / "format").read_text() == "3.0 (native)\n"
    assert "debian/debvenv-project.txt" in (tmp_path / "debian" / "rules").read_text()


# ---- relocating --------------------------------------------------------------------


@pytest.fixture
def built_venv(tmp_path):
    venv = tmp_path / "debian" / "pkg" / "opt" / "venvs" / "pkg"
    cli_run(["--no-seed", "--system-site-packages", "--quiet", str(venv)], setup_logging=False)
    site = next(venv.glob("lib/python3*/site-packages"))
    script = venv / "bin" / "hello"
    script.write_text(f"#!{venv}/bin/python\nimport sys\nprint(sys.prefix)\n")
    script.chmod(0o755)
    (site / "extra.pth").write_text(f"{venv}/src\n")
    (site / "compiled.so").write_bytes(b"\x7fELF\0" + str(venv).encode() + b"\0")
    (site / "__pycache__").mkdir(exist_ok=True)
    (site / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0" + str(venv).encode())
    (venv / "bin" / "python-link").symlink_to(venv / "bin" / "python")
    (venv / "debvenv.json").write_text(f'{{"venv": "{venv}"}}\n')
    return venv


def test_relocate_rewrites_what_names_the_build_path(built_venv):
    final = "/opt/venvs/pkg"
    result = relocate_venv(built_venv, final)
    for relative in ("bin/hello", "bin/activate", "debvenv.json"):
        assert relative in result.rewritten
    assert any(path.endswith("extra.pth") for path in result.rewritten)
    assert (built_venv / "bin" / "hello").read_text().splitlines()[0] == f"#!{final}/bin/python"
    assert stat.S_IMODE((built_venv / "bin" / "hello").stat().st_mode) == 0o755
    assert os.readlink(built_venv / "bin" / "python-link") == f"{final}/bin/python"
    assert result.relinked == ("bin/python-link",)
    assert result.removed_caches >= 1 and not list(built_venv.rglob("__pycache__"))
    # Compiled code keeps its bytes: a path in it is not ours to resize.
    site = next(built_venv.glob("lib/python3*/site-packages"))
    assert str(built_venv).encode() in (site / "compiled.so").read_bytes()
    leftover = [
        str(p.relative_to(built_venv)) for p in built_venv.rglob("*")
        if p.is_file() and not p.is_symlink() and p.suffix != ".so" and str(built_venv) in p.read_text(errors="replace")
    ]
    assert leftover == []
    # The venv's interpreter link points outside it, at the system's python3: untouched.
    assert os.readlink(built_venv / "bin" / "python").startswith("/usr/bin/python3")


@pytest.mark.parametrize("final", ["opt/venvs/pkg", "venvs"])
def test_relocate_refuses_a_relative_final_path(built_venv, final):
    with pytest.raises(DebianizeError, match="not an absolute path"):
        relocate_venv(built_venv, final)


def test_relocate_refuses_what_is_not_a_venv(tmp_path):
    with pytest.raises(DebianizeError, match="not a venv"):
        relocate_venv(tmp_path, "/opt/venvs/pkg")


def test_relocate_turns_pips_long_path_trampoline_into_a_shebang(tmp_path):
    # A build path over 127 bytes: pip writes its /bin/sh trampoline instead of a shebang.
    venv = tmp_path / ("d" * 120) / "debian" / "pkg" / "opt" / "venvs" / "pkg"
    cli_run(["--no-seed", "--quiet", str(venv)], setup_logging=False)
    script = venv / "bin" / "tool"
    body = "import sys\nprint(sys.executable)\n"
    script.write_text(f"#!/bin/sh\n'''exec' {venv}/bin/python \"$0\" \"$@\"\n' '''\n{body}")
    relocate_venv(venv, "/opt/venvs/pkg")
    assert script.read_text() == f"#!/opt/venvs/pkg/bin/python\n{body}"
