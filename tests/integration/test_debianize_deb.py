"""``debvenv debianize`` for real: dpkg-buildpackage, lintian, apt-get install, run, purge.

The application (``hello-debvenv``, a local setuptools project) requires
PyYAML, which python3-yaml satisfies, and ``debvenv-test-greeting``, a wheel
``wheelhouse.write_wheel`` writes into the project's ``wheels/``. Nothing
comes from the network: the build's pip runs with ``--no-index
--find-links=wheels --no-build-isolation`` and the machine's pip
configuration switched off. The .deb must Depend on python3-yaml and the
target's python3, hold the application and the wheel's module in
/opt/venvs/hello-debvenv and nothing of PyYAML, pass lintian without an
error or warning, link its console script into /usr/bin, install with apt
and run that command with Debian's yaml. ``--source`` gives a source
package that unpacks with ``dpkg-source -x`` and builds the same .deb with
``dpkg-buildpackage -us -uc -b`` from that clean unpack.

Build-Depends are not given: debianize derives python3-setuptools and
python3-wheel from the project's ``[build-system]`` (installed here, as
debvenv's own Build-Depends).

python3-yaml stays installed throughout (other packages on a test machine
depend on it): apt resolving the Depends is checked by installing the .deb
through apt-get, which refuses a .deb whose Depends it cannot satisfy.

debian/rules runs ``$(DEBVENV) build`` and ``$(DEBVENV) relocate``; the test
points DEBVENV at this source tree's debvenv under the system Python.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from wheelhouse import write_wheel

from debvenv.commands import debianize_requirements
from debvenv.targets import TargetOptions

pytestmark = pytest.mark.root

NAME = "hello-debvenv"
VENV = Path("/opt/venvs") / NAME
SRC = str(Path(__file__).resolve().parents[2] / "src")
MAINTAINER = "debvenv tests <tests@users.noreply.example.org>"
NOW = datetime(2026, 11, 21, 16, 39, 58, tzinfo=timezone.utc)

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "hello-debvenv"
version = "1.0"
dependencies = ["PyYAML>=6.0", "debvenv-test-greeting==1.0"]

[project.scripts]
hello-debvenv = "hello_debvenv:main"

[tool.setuptools]
py-modules = ["hello_debvenv"]
"""

MODULE = """\
import debvenv_test_greeting
import yaml


def main():
    print(yaml.safe_dump({"greeting": debvenv_test_greeting.GREETING, "yaml": yaml.__file__}), end="")
"""



# lintian's tag lines: "C: package[ type]: tag [context]"; C is the severity code.
LINTIAN_TAG = re.compile(r"^(?P<code>[EWIPXOCM]): (?P<package>\S+)(?: \S+)?: (?P<tag>[a-z0-9][a-z0-9+.-]*)")


def lintian_tags(path: Path) -> List[Tuple[str, str]]:
    """(severity code, tag) of each tag lintian emits for ``path``, none left out by its display limit."""
    completed = subprocess.run(
        ["lintian", "--tag-display-limit", "0", "--show-overrides", str(path)], capture_output=True, text=True
    )
    assert completed.returncode in (0, 1, 2), completed.stderr
    return [(m.group("code"), m.group("tag")) for m in map(LINTIAN_TAG.match, completed.stdout.splitlines()) if m]


def build_binary(tree: Path) -> subprocess.CompletedProcess:
    build = subprocess.run(
        ["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, env=build_environment(),
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    # dh_shlibdeps found no ELF object in the venv; the rules define the substvar anyway.
    assert "${shlibs:Depends}" not in build.stderr, build.stderr
    return build


def members_of(deb: Path) -> Dict[str, str]:
    """The .deb's paths, each with its symlink target ("" for anything else)."""
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    members = {}
    for line in listing.splitlines():
        path = line.split(None, 5)[5]
        name, _, target = path.partition(" -> ")
        members[name] = target
    return members


def build_environment() -> Dict[str, str]:
    # The generated debian/rules runs $(DEBVENV); this source tree's debvenv under the system Python.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    environment.update(
        DEBVENV="/usr/bin/python3 -m debvenv", PYTHONPATH=SRC, PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return environment


def purge() -> None:
    subprocess.run(["dpkg", "--purge", NAME], capture_output=True)


@pytest.fixture
def application(tmp_path: Path) -> Path:
    source = tmp_path / NAME
    source.mkdir()
    (source / "pyproject.toml").write_text(PYPROJECT)
    (source / "hello_debvenv.py").write_text(MODULE)
    write_wheel(
        source / "wheels", "debvenv-test-greeting", "1.0",
        {"debvenv_test_greeting.py": b"GREETING = 'hello from a local wheel'\n"},
    )
    return source


def test_debianized_application_builds_installs_and_runs(application: Path, tmp_path: Path, request) -> None:
    if os.geteuid() != 0:
        pytest.skip("installs a .deb with apt-get: needs root")
    for tool in ("dpkg-buildpackage", "lintian", "apt-get"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if subprocess.run(["dpkg-query", "-W", NAME], capture_output=True).returncode == 0:
        pytest.skip(f"{NAME} is already installed on this machine: not touching it")

    result = debianize_requirements(
        [application / "pyproject.toml"], "installed", TargetOptions(),
        name=NAME, version="1.0", output_dir=application, maintainer=MAINTAINER, now=NOW,
        pip_args=("--no-index", "--find-links=wheels", "--no-build-isolation"),
    )  # fmt: skip
    assert result.package.project == ".."
    assert result.package.scripts == (NAME,)
    assert any(relation.startswith("python3-yaml") for relation in result.plan.debian_depends)
    assert "python3-setuptools (>= 61)" in result.package.build_depends
    assert "python3-wheel" in result.package.build_depends

    build_binary(application)
    debs = sorted(tmp_path.glob(f"{NAME}_1.0_*.deb"))
    assert len(debs) == 1, sorted(p.name for p in tmp_path.iterdir())
    deb = debs[0]

    depends = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    python = subprocess.run(
        ["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    major, minor = python.split(".")
    assert f"python3 (>= {python})" in depends
    assert f"python3 (<< {major}.{int(minor) + 1})" in depends
    assert "python3-yaml (>= 6.0)" in depends

    members = members_of(deb)
    # dh_link: an absolute link, /usr and /opt being different top-level directories (Policy 10.5).
    assert members[f"./usr/bin/{NAME}"] == f"/opt/venvs/{NAME}/bin/{NAME}"
    site = f"./opt/venvs/{NAME}/lib/python{python}/site-packages/"
    assert f"./opt/venvs/{NAME}/bin/{NAME}" in members
    assert site + "hello_debvenv.py" in members
    assert site + "debvenv_test_greeting.py" in members
    assert not [m for m in members if m.startswith(site + "yaml") or "PyYAML" in m]
    assert not [m for m in members if "__pycache__" in m]

    tags = lintian_tags(deb)
    assert [tag for tag in tags if tag[0] in ("E", "W")] == [], tags
    # lintian did check it: the generated overrides were used (reported as O:).
    assert {("O", "dir-or-file-in-opt"), ("O", "no-manual-page")} <= set(tags), tags

    request.addfinalizer(purge)
    install = subprocess.run(
        ["apt-get", "install", "-y", str(deb)], capture_output=True, text=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    assert install.returncode == 0, install.stdout + install.stderr

    script = VENV / "bin" / NAME
    assert script.read_text().splitlines()[0] == f"#!{VENV}/bin/python"
    # The manifest names the installed venv; pip's sources (the wheelhouse) stay as they were.
    manifest = (VENV / "debvenv.json").read_text()
    assert json.loads(manifest)["venv"] == str(VENV)
    assert f"debian/{NAME}/opt" not in manifest
    run = subprocess.run([str(script)], capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout == textwrap.dedent(
        """\
        greeting: hello from a local wheel
        yaml: /usr/lib/python3/dist-packages/yaml/__init__.py
        """
    )
    command = subprocess.run([NAME], capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert command.returncode == 0, command.stderr
    assert command.stdout == run.stdout
    assert os.path.realpath(f"/usr/bin/{NAME}") == str(script)
    # postinst compiled the venv in place: its byte-code names the installed path.
    assert list(VENV.glob(f"lib/python{python}/site-packages/__pycache__/hello_debvenv.*.pyc"))

    purge()
    assert not VENV.exists()
    assert not os.path.lexists(f"/usr/bin/{NAME}")


def test_source_package_builds_from_a_clean_unpack(application: Path, tmp_path: Path) -> None:
    for tool in ("dpkg-buildpackage", "dpkg-source", "lintian"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    # A Debian revision: 3.0 (quilt), with the orig tarball debianize writes from the tree.
    result = debianize_requirements(
        [application / "pyproject.toml"], "installed", TargetOptions(),
        name=NAME, version="1.0-1", output_dir=application, maintainer=MAINTAINER, now=NOW,
        pip_args=("--no-index", "--find-links=wheels", "--no-build-isolation"), source=True,
    )  # fmt: skip
    assert sorted(path.name for path in result.source) == [
        f"{NAME}_1.0-1.debian.tar.xz", f"{NAME}_1.0-1.dsc", f"{NAME}_1.0.orig.tar.xz",
    ]
    dsc = tmp_path / f"{NAME}_1.0-1.dsc"
    assert [tag for tag in lintian_tags(dsc) if tag[0] in ("E", "W")] == []

    unpack = tmp_path / "unpack"
    unpack.mkdir()
    extract = subprocess.run(["dpkg-source", "-x", str(dsc)], cwd=unpack, capture_output=True, text=True)
    assert extract.returncode == 0, extract.stderr
    tree = unpack / f"{NAME}-1.0"
    # The wheel the build installs from travelled in the orig tarball.
    assert (tree / "wheels" / "debvenv_test_greeting-1.0-py3-none-any.whl").is_file()
    # Everything the build needs that the archive has is in Build-Depends, and installed here.
    checked = subprocess.run(["dpkg-checkbuilddeps"], cwd=tree, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    build_binary(tree)

    [deb] = sorted(unpack.glob(f"{NAME}_1.0-1_*.deb"))
    members = members_of(deb)
    assert members[f"./usr/bin/{NAME}"] == f"/opt/venvs/{NAME}/bin/{NAME}"
    assert f"./opt/venvs/{NAME}/bin/{NAME}" in members
    tags = lintian_tags(deb)
    assert [tag for tag in tags if tag[0] in ("E", "W")] == [], tags
    assert ("O", "no-manual-page") in tags, tags
