"""debian/ directories from plans on real Debian packages, venv relocation, and the checks before writing.

Regenerate the golden files after an intended change with
``DEBVENV_UPDATE_GOLDEN=1 python -m pytest tests/test_debianize.py``.
"""

import os
import re
import stat
import subprocess
import tarfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from virtualenv import cli_run

from debvenv import __version__
from debvenv.application import ApplicationError, read_application
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
    texts = debian_files(realistic, package(scripts=("orders", "orders-admin")))
    assert sorted(texts) == sorted([
        "control", "rules", "changelog", "copyright", "orders-service.postinst", "orders-service.prerm",
        "orders-service.lintian-overrides", "orders-service.links", "README.source", "source/format", PROJECT_FILE,
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


# ---- the application's declarations -------------------------------------------------


def write_project(directory, pyproject=None, setup_cfg=None, setup_py=False):
    directory.mkdir(parents=True, exist_ok=True)
    if pyproject is not None:
        (directory / "pyproject.toml").write_text(pyproject)
    if setup_cfg is not None:
        (directory / "setup.cfg").write_text(setup_cfg)
    if setup_py:
        (directory / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    return directory


SCRIPTS_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "orders"
version = "1.0"

[project.scripts]
orders = "orders.cli:main"
orders-admin = "orders.admin:main"
"../../etc/cron.d/x" = "orders:evil"

[project.gui-scripts]
orders-gui = "orders.gui:main"
"""


def test_scripts_and_build_requirements_come_from_pyproject(tmp_path):
    application = read_application(write_project(tmp_path / "app", SCRIPTS_PYPROJECT))
    assert application.scripts == ("orders", "orders-admin", "orders-gui")
    assert application.refused_scripts == ("../../etc/cron.d/x",)
    # setuptools asks for wheel as well when it builds one.
    assert application.build_requires == ("setuptools>=61", "wheel")


@pytest.mark.parametrize(
    "pyproject, build_requires",
    [
        ('[project]\nname = "a"\nversion = "1"\n', ("setuptools>=40.8.0", "wheel")),
        ('[build-system]\nrequires = ["flit_core>=3.4"]\nbuild-backend = "flit_core.buildapi"\n'
         '[project]\nname = "a"\nversion = "1"\n', ("flit_core>=3.4",)),
        ('[build-system]\nrequires = ["setuptools", "Wheel>=0.38"]\n[project]\nname = "a"\nversion = "1"\n',
         ("setuptools", "Wheel>=0.38")),
    ],
)
def test_build_requirements_as_pip_sees_them(tmp_path, pyproject, build_requires):
    assert read_application(write_project(tmp_path / "app", pyproject)).build_requires == build_requires


@pytest.mark.parametrize(
    "files, reason",
    [
        ({"pyproject": '[project]\nname = "a"\nversion = "1"\ndynamic = ["scripts"]\n'}, "dynamic"),
        ({"setup_py": True}, "setup.py"),
        ({"setup_cfg": "[metadata]\nname = a\n", "setup_py": True}, "setup.py"),
        ({"setup_cfg": "[options]\nentry_points = file: entry_points.cfg\n"}, "from a file"),
    ],
)
def test_scripts_only_a_build_can_tell_are_unknown(tmp_path, files, reason):
    application = read_application(write_project(tmp_path / "app", **files))
    assert application.scripts is None
    assert reason in application.unknown_reason


def test_scripts_from_setup_cfg(tmp_path):
    setup_cfg = (
        "[metadata]\nname = a\n\n[options.entry_points]\n"
        "console_scripts =\n    Orders = a:main\n    orders-db=a.db:main\n"
    )
    application = read_application(write_project(tmp_path / "app", setup_cfg=setup_cfg, setup_py=True))
    assert application.scripts == ("Orders", "orders-db")


def test_scripts_from_a_wheel(tmp_path):
    wheel = tmp_path / "orders-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("orders.py", "def main(): pass\n")
        archive.writestr(
            "orders-1.0.dist-info/entry_points.txt",
            "[console_scripts]\nOrders = orders:main\n\n[gui_scripts]\norders-gui = orders:main\n\n"
            "[orders.plugins]\nnot-a-script = orders:plugin\n",
        )
    application = read_application(wheel)
    assert application.scripts == ("Orders", "orders-gui")
    assert application.build_requires == ()


@pytest.mark.parametrize(
    "files, message",
    [
        ({"pyproject": "[project\n"}, "invalid TOML"),
        ({"pyproject": '[build-system]\nrequires = "setuptools"\n[project]\nname = "a"\n'}, "list of strings"),
        ({"pyproject": '[project]\nname = "a"\nscripts = ["a"]\n'}, "must be a table"),
        ({}, "no pyproject.toml"),
    ],
)
def test_unreadable_declarations_are_refused(tmp_path, files, message):
    with pytest.raises(ApplicationError, match=message) as caught:
        read_application(write_project(tmp_path / "app", **files))
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_a_broken_wheel_is_refused(tmp_path):
    wheel = tmp_path / "orders-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ApplicationError, match="not a readable wheel"):
        read_application(wheel)


# ---- what the command writes for an application ------------------------------------------


def test_console_scripts_are_linked_into_usr_bin(tmp_path):
    write_project(tmp_path, SCRIPTS_PYPROJECT)
    result = debianize_requirements(
        [tmp_path / "pyproject.toml"], "installed", TargetOptions(), name="orders", version="1.0",
        output_dir=tmp_path, maintainer=MAINTAINER, now=NOW,
    )
    assert result.package.scripts == ("orders", "orders-admin", "orders-gui")
    assert (tmp_path / "debian" / "orders.links").read_text().splitlines() == [
        "opt/venvs/orders/bin/orders usr/bin/orders",
        "opt/venvs/orders/bin/orders-admin usr/bin/orders-admin",
        "opt/venvs/orders/bin/orders-gui usr/bin/orders-gui",
    ]
    assert any("../../etc/cron.d/x" in warning for warning in result.warnings)
    rules = (tmp_path / "debian" / "rules").read_text()
    assert "for script in orders orders-admin orders-gui; do" in rules
    # The build requirements are Build-Depends: python3-setuptools and python3-wheel are installed here.
    source = (tmp_path / "debian" / "control").read_text().split("\n\n")[0]
    assert " python3-setuptools (>= 61),\n" in source
    assert " python3-wheel,\n" in source
    assert " python3-virtualenv (>= 20.17.1),\n" in source
    # Without --no-build-isolation pip would fill a build environment from the index.
    assert any("--no-build-isolation" in warning for warning in result.warnings)


def test_no_bin_links(tmp_path):
    write_project(tmp_path, SCRIPTS_PYPROJECT)
    result = debianize_requirements(
        [tmp_path / "pyproject.toml"], "installed", TargetOptions(), name="orders", version="1.0",
        output_dir=tmp_path, maintainer=MAINTAINER, now=NOW, bin_links=False,
        pip_args=("--no-build-isolation",),
    )
    assert result.package.scripts == ()
    assert not (tmp_path / "debian" / "orders.links").exists()
    assert "for script in" not in (tmp_path / "debian" / "rules").read_text()
    assert not any("../../etc" in warning or "isolation" in warning for warning in result.warnings)


def test_without_a_project_the_package_says_it_holds_no_application(tmp_path):
    (tmp_path / "requirements.txt").write_text("PyYAML>=5.4\n")
    result = debianize_requirements(
        [tmp_path / "requirements.txt"], "installed", TargetOptions(), name="orders-deps", version="1.0",
        output_dir=tmp_path, maintainer=MAINTAINER, now=NOW,
    )
    assert result.package.project is None
    assert any("code is not built" in warning for warning in result.warnings)
    debian = tmp_path / "debian"
    assert "not the application's own code" in (debian / "changelog").read_text()
    assert "not the application's own code" in (debian / "README.source").read_text()
    assert "The application's own code is not in this package" in (debian / "control").read_text()
    assert not (debian / PROJECT_FILE).exists()
    completed = subprocess.run(
        ["dpkg-parsechangelog", "-S", "Version"], cwd=tmp_path, capture_output=True, text=True
    )
    assert completed.stdout.strip() == "1.0", completed.stderr


def test_shlibs_depends_is_always_defined_for_architecture_any(realistic):
    rules = debian_files(realistic, package())["rules"]
    override = rules.split("override_dh_shlibdeps:\n", 1)[1]
    assert override.splitlines()[0].strip() == "dh_shlibdeps"
    assert "echo 'shlibs:Depends=' >> debian/orders-service.substvars" in override
    assert "shlibs" not in debian_files(realistic, package(architecture="all"))["rules"]


def test_rules_stop_clearly_without_debvenv(realistic, tmp_path):
    # The real make and shell run the recipe's first line with a DEBVENV that is not there.
    write_debian(tmp_path, debian_files(realistic, package()))
    completed = subprocess.run(
        ["make", "-f", "debian/rules", "override_dh_auto_install", "DEBVENV=/nonexistent/debvenv"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert completed.returncode != 0
    assert "DEBVENV='/nonexistent/debvenv'" in completed.stderr
    assert "debian/README.source" in completed.stderr
    assert not (tmp_path / "debian" / "orders-service").exists()


# ---- --source ----------------------------------------------------------------------


def test_source_package_native(tmp_path):
    tree = write_project(tmp_path / "orders", SCRIPTS_PYPROJECT)
    (tree / "orders.py").write_text("def main(): pass\n")
    result = debianize_requirements(
        [tree / "pyproject.toml"], "installed", TargetOptions(), name="orders", version="1.0",
        output_dir=tree, maintainer=MAINTAINER, now=NOW, source=True,
    )
    assert [p.name for p in result.source] == ["orders_1.0.dsc", "orders_1.0.tar.xz"]
    dsc = (tmp_path / "orders_1.0.dsc").read_text()
    assert "Format: 3.0 (native)" in dsc
    assert "python3-setuptools (>= 61)" in dsc.split("Build-Depends:", 1)[1].split("\n")[0]
    unpacked = tmp_path / "unpacked"
    subprocess.run(["dpkg-source", "-x", str(tmp_path / "orders_1.0.dsc"), str(unpacked)],
                   capture_output=True, check=True)
    assert (unpacked / "orders.py").read_text() == "def main(): pass\n"
    assert (unpacked / "debian" / "orders.links").exists()
    assert os.access(unpacked / "debian" / "rules", os.X_OK)


def test_source_package_quilt_gets_an_orig_tarball(tmp_path):
    tree = write_project(tmp_path / "orders", SCRIPTS_PYPROJECT)
    (tree / ".git").mkdir()
    (tree / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    result = debianize_requirements(
        [tree / "pyproject.toml"], "installed", TargetOptions(), name="orders", version="2:1.0-3",
        output_dir=tree, maintainer=MAINTAINER, now=NOW, source=True,
    )
    assert [p.name for p in result.source] == [
        "orders_1.0-3.debian.tar.xz", "orders_1.0-3.dsc", "orders_1.0.orig.tar.xz",
    ]
    with tarfile.open(tmp_path / "orders_1.0.orig.tar.xz") as orig:
        names = orig.getnames()
    assert "orders-1.0/pyproject.toml" in names
    assert not [n for n in names if "/debian" in n or "/.git" in n]
    assert "Format: 3.0 (quilt)" in (tmp_path / "orders_1.0-3.dsc").read_text()


def test_source_refuses_what_it_cannot_carry_or_would_overwrite(tmp_path):
    tree = write_project(tmp_path / "orders", SCRIPTS_PYPROJECT)
    outside = tmp_path / "requirements.txt"
    outside.write_text("PyYAML\n")
    with pytest.raises(DebianizeError, match="outside") as caught:
        debianize_requirements(
            [tree / "pyproject.toml", outside], "installed", TargetOptions(), name="orders", version="1.0",
            output_dir=tree, maintainer=MAINTAINER, now=NOW, source=True,
        )
    assert caught.value.exit_code == EXIT_BAD_INPUT
    (tmp_path / "orders_1.0.dsc").write_text("mine\n")
    with pytest.raises(DebianizeError, match="exists"):
        debianize_requirements(
            [tree / "pyproject.toml"], "installed", TargetOptions(), name="orders", version="1.0",
            output_dir=tree, maintainer=MAINTAINER, now=NOW, source=True,
        )
    # Refused before anything was written.
    assert not (tree / "debian").exists()
    assert (tmp_path / "orders_1.0.dsc").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders", "orders_1.0.dsc", "requirements.txt"]
