"""``debvenv build`` against this machine's real dpkg, apt and /usr/bin/python3.

Needs python3-yaml installed (the README's test command installs it).

Where the wheels come from, without the network: the test package
(``debvenv-test-sixuser``, which requires six) is written as a wheel by
``wheelhouse.write_wheel`` into a wheelhouse used with ``--no-index
--find-links``; pip's configuration on the machine is switched off
(``PIP_CONFIG_FILE=/dev/null``, no ``PIP_*`` variables) so that nothing but
the wheelhouse can answer. With python3-six installed (as on a machine
running these tests: python3-hypothesis needs it), six comes from Debian and
the venv holds the test package alone.

The issue's own case -- python3-six not installed, so that six lands in the
venv -- runs two ways. Offline, as root: in a private mount namespace the
system's dist-packages is replaced by a copy without python3-six's files
(dpkg and the rest of the machine untouched), and the six wheel is made from
those very files. With the network, as root: python3-six's .deb is fetched
with ``apt-get download``, the wheel made from it, python3-six removed when
nothing else depends on it and put back from that .deb afterwards (skipped,
with the reason, where other packages need it). Shadowing needs a six newer
than Debian's from the package index: ``network`` too.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest
from virtualenv.seed.wheels.embed import get_embed_wheel
from wheelhouse import wheel_from_deb, wheel_from_dist_packages, write_wheel

from debvenv.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_ENVIRONMENT, EXIT_OK, EnvironmentFailure, InputError
from debvenv.files import locked_directory
from debvenv.requirements import read_requirements
from debvenv.venv import (
    CHECKPOINTS,
    MANIFEST_NAME,
    SCHEMA,
    BuildFailure,
    UnsafeVenvError,
    build_venv,
    recover_leftovers,
    render_build,
)

PYTHON = Path("/usr/bin/python3")
DIST_PACKAGES = "/usr/lib/python3/dist-packages/"
SRC = str(Path(__file__).resolve().parents[2] / "src")
TEST_PACKAGE = "debvenv-test-sixuser"
TEST_MODULE = "debvenv_test_sixuser"
SIXUSER_CODE = b"import six\nVALUE = six.ensure_text(b'made with six')\n"
MISSING = "debvenv-test-not-in-the-wheelhouse"


# ---- the machine ------------------------------------------------------------------------


def installed_version(package: str) -> Optional[str]:
    """dpkg's version of ``package`` when it is installed, else None."""
    completed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", package], capture_output=True, text=True
    )
    state, _, version = completed.stdout.partition(" ")
    return version if completed.returncode == 0 and state == "installed" else None


def system_version(distribution: str) -> str:
    script = "import sys, importlib.metadata as m; print(m.version(sys.argv[1]))"
    return subprocess.run(
        [str(PYTHON), "-E", "-c", script, distribution], capture_output=True, text=True, check=True
    ).stdout.strip()


def python_version() -> str:
    script = "import platform; print(platform.python_version())"
    return subprocess.run([str(PYTHON), "-c", script], capture_output=True, text=True, check=True).stdout.strip()


def venv_distributions(venv: Path) -> Set[str]:
    """The dist-info/egg-info names in the venv's own site-packages."""
    found = glob.glob(str(venv / "lib" / "python3*" / "site-packages" / "*.*-info"))
    return {os.path.basename(path) for path in found}


def run_in(venv: Path, code: str) -> str:
    completed = subprocess.run(
        [str(venv / "bin" / "python"), "-E", "-c", code], capture_output=True, text=True, cwd="/"
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def module_files(venv: Path, *modules: str) -> Dict[str, str]:
    code = f"import json, importlib; print(json.dumps({{m: importlib.import_module(m).__file__ for m in {list(modules)!r}}}))"
    return json.loads(run_in(venv, code))


def pip_check(python: Path) -> Set[str]:
    """``pip check`` as virtualenv's own pip wheel answers it under ``python``: the problem lines."""
    wheel = get_embed_wheel("pip", ".".join(python_version().split(".")[:2]))
    completed = subprocess.run(
        [str(python), "-E", f"{wheel.path}/pip", "check"], capture_output=True, text=True,
        env=clean_pip_environment(),
    )
    assert completed.returncode in (0, 1), completed.stderr
    return {line.strip() for line in completed.stdout.splitlines() if line.strip()}


def clean_pip_environment() -> Dict[str, str]:
    """The caller's environment without the machine's pip configuration: only the wheelhouse answers."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    environment["PIP_CONFIG_FILE"] = os.devnull
    return environment


def listing(directory: Path) -> List[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


# ---- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yaml_package() -> str:
    version = installed_version("python3-yaml")
    assert version, "apt-get install -y python3-yaml first (the README's test command does)"
    return version


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wheelhouse")
    write_wheel(directory, TEST_PACKAGE, "1.0", {f"{TEST_MODULE}.py": SIXUSER_CODE}, requires=["six>=1.10"])
    write_wheel(
        directory, "debvenv-test-needs-six-99", "1.0", {"debvenv_test_needs_six_99.py": b""}, requires=["six>=99"]
    )
    return directory


def write_requirements(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "requirements.txt"
    path.write_text(textwrap.dedent(text))
    return path


def build(requirements_file: Path, venv: Path, *pip_args: str, env: Optional[Dict[str, str]] = None):
    return build_venv(
        read_requirements([requirements_file]),
        venv,
        pip_args=pip_args,
        env=clean_pip_environment() if env is None else env,
    )


def offline(wheelhouse: Path) -> List[str]:
    return ["--no-index", "--find-links", str(wheelhouse)]


# ---- the venv holds what Debian lacks, and nothing else --------------------------------

REQUIREMENTS = """\
    PyYAML>=5
    six
    debvenv-test-sixuser
    Django ; python_version < "3"
"""


def test_debian_keeps_what_it_satisfies_and_the_venv_gets_the_rest(tmp_path, wheelhouse, yaml_package):
    six_package = installed_version("python3-six")
    if six_package is None:
        pytest.skip("python3-six is not installed: test_six_missing_from_debian_goes_into_the_venv covers this")
    requirements_file = write_requirements(tmp_path / "project", REQUIREMENTS)
    venv = tmp_path / "venv"

    result = build(requirements_file, venv, *offline(wheelhouse))

    assert [(d.name, d.version, d.requested) for d in result.installed] == [(TEST_PACKAGE, "1.0", True)]
    assert venv_distributions(venv) == {f"{TEST_MODULE}-1.0.dist-info"}
    files = module_files(venv, "yaml", "six", TEST_MODULE)
    assert files["yaml"].startswith(DIST_PACKAGES)
    assert files["six"].startswith(DIST_PACKAGES)
    assert files[TEST_MODULE].startswith(str(venv) + "/")
    assert run_in(venv, f"import {TEST_MODULE}; print({TEST_MODULE}.VALUE)") == "made with six"
    # pip check over venv + system finds nothing the system alone does not already have.
    assert pip_check(venv / "bin" / "python") <= pip_check(PYTHON)

    assert {r.requirement.name: r.provenance_text for r in result.resolutions} == {
        "pyyaml": f"debian: python3-yaml {yaml_package}",
        "six": f"debian: python3-six {six_package}",
        TEST_PACKAGE: "venv: 1.0",
        "django": "not-applicable",
    }
    assert result.shadowed == ()
    assert f"PyYAML=={system_version('PyYAML')}" in result.constraints
    assert f"six=={system_version('six')}" in result.constraints

    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    assert manifest["schema"] == SCHEMA
    assert manifest["venv"] == str(venv)
    assert manifest["python"] == {"path": str(PYTHON), "version": python_version()}
    assert [(r["requirement"], r["file"], r["line"], r["provenance"]) for r in manifest["requirements"]] == [
        ("PyYAML>=5", str(requirements_file), 1, "debian"),
        ("six", str(requirements_file), 2, "debian"),
        (TEST_PACKAGE, str(requirements_file), 3, "venv"),
        ('Django ; python_version < "3"', str(requirements_file), 4, None),
    ]
    assert manifest["requirements"][3]["status"] == "not-applicable"
    distributions = {d["name"]: d for d in manifest["distributions"]}
    assert {
        name: (d["provenance"], d["version"], d["package"], d["debian_version"]) for name, d in distributions.items()
    } == {
        "PyYAML": ("debian", system_version("PyYAML"), "python3-yaml", yaml_package),
        "six": ("debian", system_version("six"), "python3-six", six_package),
        TEST_PACKAGE: ("venv", "1.0", None, None),
    }
    assert distributions["six"]["path"].startswith(DIST_PACKAGES)
    assert distributions["six"]["required_by"] == ["", TEST_PACKAGE]
    assert distributions[TEST_PACKAGE]["source"] == (wheelhouse / f"{TEST_MODULE}-1.0-py3-none-any.whl").as_uri()
    assert manifest["debian_packages"] == {"python3-six": six_package, "python3-yaml": yaml_package}
    assert manifest["shadowed"] == []
    assert manifest["pip"]["args"] == offline(wheelhouse)

    summary = render_build(result)
    assert f"PyYAML>=5: debian: python3-yaml {yaml_package}" in summary
    assert f"{TEST_PACKAGE}: venv: 1.0" in summary
    assert f"manifest: {venv / MANIFEST_NAME}" in summary


def test_everything_satisfied_needs_no_pip(tmp_path, yaml_package):
    requirements_file = write_requirements(tmp_path / "project", "PyYAML\n")
    venv = tmp_path / "venv"

    result = build(requirements_file, venv)

    assert result.pip_version is None and result.installed == () and result.constraints == ()
    assert venv_distributions(venv) == set()
    assert module_files(venv, "yaml")["yaml"].startswith(DIST_PACKAGES)
    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    assert [(d["name"], d["provenance"], d["package"]) for d in manifest["distributions"]] == [
        ("PyYAML", "debian", "python3-yaml")
    ]


@pytest.fixture
def six_absent(tmp_path_factory: pytest.TempPathFactory):
    """A real six wheel made from Debian's python3-six .deb, with python3-six not installed meanwhile."""
    installed = installed_version("python3-six")
    if installed is not None:
        if os.geteuid() != 0:
            pytest.skip("python3-six is installed and removing it for the test needs root")
        simulated = subprocess.run(
            ["apt-get", "-s", "remove", "python3-six"], capture_output=True, text=True, check=True
        ).stdout
        others = sorted(line.split()[1] for line in simulated.splitlines() if line.startswith("Remv "))
        others.remove("python3-six")
        if others:
            pytest.skip(f"removing python3-six would also remove {', '.join(others)}")
    downloads = tmp_path_factory.mktemp("debs")
    spec = f"python3-six={installed}" if installed else "python3-six"
    fetched = subprocess.run(["apt-get", "download", spec], cwd=downloads, capture_output=True, text=True)
    if fetched.returncode != 0:
        pytest.skip(f"cannot fetch python3-six's .deb: {fetched.stderr.strip()}")
    deb = next(downloads.glob("python3-six_*.deb"))
    wheels = tmp_path_factory.mktemp("six-wheel")
    wheel_from_deb(deb, "six", wheels, tmp_path_factory.mktemp("six-deb"))
    if installed is None:
        yield wheels
        return
    automatic = "python3-six" in subprocess.run(
        ["apt-mark", "showauto", "python3-six"], capture_output=True, text=True
    ).stdout.split()
    subprocess.run(["apt-get", "remove", "-y", "python3-six"], capture_output=True, check=True)
    try:
        yield wheels
    finally:
        # Back from the very .deb that was installed: no network needed to restore.
        subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, check=True)
        if automatic:
            subprocess.run(["apt-mark", "auto", "python3-six"], capture_output=True, check=True)


def expect_six_in_the_venv(venv, installed, files, venv_problems, system_problems, yaml_package, six_wheels):
    """The issue's acceptance: the venv holds six and the test package, and nothing else.

    The venv's six is the wheel offered in ``six_wheels``, whatever version
    the machine's python3-six is.
    """
    (six_wheel,) = six_wheels.glob("six-*.whl")
    six_version = six_wheel.name.split("-")[1]
    assert installed == {"six", TEST_PACKAGE}
    assert venv_distributions(venv) == {f"six-{six_version}.dist-info", f"{TEST_MODULE}-1.0.dist-info"}
    assert files["yaml"].startswith(DIST_PACKAGES)
    assert files["six"].startswith(str(venv) + "/")
    assert files[TEST_MODULE].startswith(str(venv) + "/")
    # pip check over venv + system finds nothing the system alone does not already have.
    assert set(venv_problems) <= set(system_problems)
    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    distributions = {d["name"]: (d["provenance"], d["package"]) for d in manifest["distributions"]}
    assert distributions == {"PyYAML": ("debian", "python3-yaml"), "six": ("venv", None), TEST_PACKAGE: ("venv", None)}
    assert [(r["name"], r["provenance"]) for r in manifest["requirements"][:3]] == [
        ("pyyaml", "debian"), ("six", "venv"), (TEST_PACKAGE, "venv")]
    assert manifest["debian_packages"] == {"python3-yaml": yaml_package}
    assert manifest["shadowed"] == []


@pytest.mark.network
@pytest.mark.root
def test_six_missing_from_debian_goes_into_the_venv(tmp_path, wheelhouse, yaml_package, six_absent):
    assert installed_version("python3-six") is None
    requirements_file = write_requirements(tmp_path / "project", REQUIREMENTS)
    venv = tmp_path / "venv"

    result = build(requirements_file, venv, *offline(wheelhouse), "--find-links", str(six_absent))

    expect_six_in_the_venv(
        venv,
        {d.name for d in result.installed},
        module_files(venv, "yaml", "six", TEST_MODULE),
        pip_check(venv / "bin" / "python"),
        pip_check(PYTHON),
        yaml_package,
        six_absent,
    )


# The exit status of the namespace's shell when its bind mount fails (Python never exits so by itself).
_MOUNT_FAILED = 97

# Runs inside a private mount namespace, where the system's dist-packages lacks six.
_HIDDEN_SIX_SCRIPT = """
import json, subprocess, sys
from pathlib import Path
from debvenv.requirements import read_requirements
from debvenv.venv import build_venv

requirements_file, venv, pip_wheel, *pip_args = sys.argv[1:]
venv = Path(venv)
result = build_venv(read_requirements([Path(requirements_file)]), venv, pip_args=pip_args)

def problems(python):
    output = subprocess.run([python, "-E", pip_wheel + "/pip", "check"], capture_output=True, text=True).stdout
    return [line.strip() for line in output.splitlines() if line.strip()]

code = "import json, importlib; print(json.dumps({m: importlib.import_module(m).__file__ for m in sys.argv[1:]}))"
files = subprocess.run([str(venv / "bin" / "python"), "-E", "-c", "import sys; " + code, "yaml", "six", %r],
                       capture_output=True, text=True, check=True).stdout
system_sees_six = subprocess.run(["/usr/bin/python3", "-E", "-c", "import six"], capture_output=True).returncode == 0
print(json.dumps({"installed": [d.name for d in result.installed], "files": json.loads(files),
                  "venv_problems": problems(str(venv / "bin" / "python")),
                  "system_problems": problems("/usr/bin/python3"), "system_sees_six": system_sees_six}))
""" % TEST_MODULE


@pytest.mark.root
def test_six_hidden_from_the_system_goes_into_the_venv(tmp_path, wheelhouse, yaml_package):
    """The same acceptance offline, where python3-six cannot be removed: its files are hidden.

    In a private mount namespace, a copy of dist-packages without python3-six's
    files is mounted over the real one: the system Python (and so debvenv)
    sees no six, while dpkg and everything outside the namespace are
    untouched. The six wheel is made from python3-six's own installed files.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root for a private mount namespace")
    missing = [tool for tool in ("unshare", "mount") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} for a private mount namespace: not installed")
    if installed_version("python3-six") is None:
        pytest.skip("python3-six is not installed: test_six_missing_from_debian_goes_into_the_venv covers this")
    six_wheels = tmp_path / "six-wheel"
    wheel_from_dist_packages(Path(DIST_PACKAGES), "six", six_wheels)
    hidden = tmp_path / "dist-packages"
    shutil.copytree(
        DIST_PACKAGES, hidden, symlinks=True,
        ignore=lambda directory, names: [n for n in names if n == "six.py" or n.startswith(("six-", "six."))],
    )
    requirements_file = write_requirements(tmp_path / "project", REQUIREMENTS)
    venv = tmp_path / "venv"
    pip_wheel = get_embed_wheel("pip", ".".join(python_version().split(".")[:2])).path
    environment = clean_pip_environment()
    environment["PYTHONPATH"] = SRC
    script = [str(PYTHON), "-c", _HIDDEN_SIX_SCRIPT, str(requirements_file), str(venv), str(pip_wheel),
              *offline(wheelhouse), "--find-links", str(six_wheels)]
    # unshare(1) fails in some places (a chroot whose / is no mount point:
    # "cannot change root filesystem propagation"), and so may the mount:
    # either skips, quoting the tool, before debvenv runs at all.
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: unshare exited {probe.returncode}: {probe.stderr.strip()}")
    completed = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f'mount --bind "$0" {DIST_PACKAGES.rstrip("/")} || exit {_MOUNT_FAILED}; exec "$@"', str(hidden), *script],
        capture_output=True, text=True, env=environment,
    )
    if completed.returncode == _MOUNT_FAILED:
        pytest.skip(f"cannot bind-mount in a private mount namespace here: {completed.stderr.strip()}")
    assert completed.returncode == 0, completed.stderr
    facts = json.loads(completed.stdout)

    assert not facts["system_sees_six"]
    expect_six_in_the_venv(
        venv, set(facts["installed"]), facts["files"], facts["venv_problems"], facts["system_problems"], yaml_package,
        six_wheels,
    )


@pytest.mark.network
@pytest.mark.parametrize(
    "requirements, forced_by",
    [
        ("six>=1.17\n", "six>=1.17"),
        # Only pip's resolution shows that this package forces a newer six.
        ("debvenv-test-newsix\n", "debvenv-test-newsix 1.0 requires six>=1.17"),
    ],
)
def test_a_requirement_forcing_a_newer_copy_shadows_debian(tmp_path, requirements, forced_by):
    six_package = installed_version("python3-six")
    if six_package is None or not system_version("six").startswith("1.16"):
        # Shadowing needs a six newer than Debian's on the package index: 1.17 is the newest.
        pytest.skip(f"needs python3-six 1.16 installed, not {six_package}: six>=1.17 must be newer than Debian's")
    wheels = tmp_path / "wheels"
    write_wheel(wheels, "debvenv-test-newsix", "1.0", {"debvenv_test_newsix.py": b""}, requires=["six>=1.17"])
    requirements_file = write_requirements(tmp_path / "project", requirements)
    venv = tmp_path / "venv"

    # The machine's own pip configuration chooses the package index.
    result = build(requirements_file, venv, "--find-links", str(wheels), env=dict(os.environ))

    [shadow] = result.shadowed
    assert (shadow.name, shadow.package, shadow.debian_version, shadow.debian_distribution_version) == (
        "six", "python3-six", six_package, "1.16.0")
    assert forced_by in shadow.reason
    assert module_files(venv, "six")["six"].startswith(str(venv) + "/")
    assert f"six=={system_version('six')}" not in result.constraints
    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    assert [(s["name"], s["package"], s["version"]) for s in manifest["shadowed"]] == [
        ("six", "python3-six", shadow.version)
    ]
    assert f"six {shadow.version} shadows python3-six {six_package}" in render_build(result)


# ---- failures leave nothing half-built -------------------------------------------------


@pytest.mark.parametrize(
    "requirement, reason",
    [
        # pip's own words differ between pip versions: the report names what pip could not find.
        (MISSING, "debvenv-test-not-in-the-wheelhouse"),
        ("debvenv-test-needs-six-99", "six>=99"),
        ("PyYAML>=99", "PyYAML>=99"),
    ],
)
def test_a_failed_build_leaves_no_directory(tmp_path, wheelhouse, requirement, reason):
    requirements_file = write_requirements(tmp_path / "project", f"{requirement}\n")
    venv = tmp_path / "deploy" / "venv"  # its parent does not exist either

    with pytest.raises(BuildFailure) as raised:
        build(requirements_file, venv, *offline(wheelhouse))

    # pip reached its index (the wheelhouse): the requirements are unmet, not the machine.
    assert raised.value.exit_code == EXIT_CHECK_FAILED
    assert "pip install failed" in str(raised.value) and reason in str(raised.value)
    assert listing(tmp_path) == ["project"]


# A failing build's cause, printed amid as much noise as real setup.py runs print, before and after.
PG_CONFIG_MISSING = "Error: pg_config executable not found."
FAILING_SETUP_PY = f"""\
import sys
for number in range(30):
    print(f"running step {{number}} of a build that prints a lot before its cause")
sys.stderr.write({PG_CONFIG_MISSING!r} + "\\n")
sys.stderr.write("Please add the directory containing pg_config to the PATH.\\n")
for number in range(30):
    print(f"and {{number}} lines of advice after it")
sys.exit(1)
"""


def write_sdist(directory: Path, name: str, version: str, setup_py: str) -> Path:
    """An sdist (PEP 517's .tar.gz layout: NAME-VERSION/ with PKG-INFO and setup.py)."""
    import tarfile

    directory.mkdir(parents=True, exist_ok=True)
    tree = directory / f"{name}-{version}"
    tree.mkdir()
    (tree / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (tree / "setup.py").write_text(setup_py)
    path = directory / f"{name}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(tree, arcname=tree.name)
    shutil.rmtree(tree)
    return path


def apt_offers(package: str) -> bool:
    """Whether this machine's apt lists have a candidate for ``package``."""
    completed = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True)
    return completed.returncode == 0 and "Candidate:" in completed.stdout and "(none)" not in completed.stdout


def test_a_failing_build_keeps_its_cause_and_says_what_apt_offers(tmp_path):
    """psycopg2 without pg_config: the cause survives pip's summary; the hint names apt's package."""
    if subprocess.run([str(PYTHON), "-c", "import setuptools"], capture_output=True).returncode != 0:
        pytest.skip("needs setuptools for /usr/bin/python3 (python3-setuptools) to run a setup.py")
    if installed_version("python3-psycopg2") is not None:
        pytest.skip("python3-psycopg2 is installed: psycopg2 would come from Debian")
    sdists = tmp_path / "sdists"
    write_sdist(sdists, "psycopg2", "2.9.10", FAILING_SETUP_PY)
    requirements_file = write_requirements(tmp_path / "project", "psycopg2>=2.9\n")
    venv = tmp_path / "venv"

    with pytest.raises(BuildFailure) as raised:
        build(requirements_file, venv, *offline(sdists), "--no-build-isolation")

    message = str(raised.value)
    assert raised.value.exit_code == EXIT_CHECK_FAILED
    assert PG_CONFIG_MISSING in message
    assert len(message.splitlines()) < 60  # bounded, however much the build printed
    if apt_offers("python3-psycopg2"):
        [hint] = [line for line in message.splitlines() if "use --apt-install" in line]
        assert hint.startswith("python3-psycopg2 ") and f"psycopg2>=2.9 ({requirements_file}:1)" in hint
    assert listing(tmp_path) == ["project", "sdists"]


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_index_is_an_environment_failure_that_says_so(tmp_path):
    port = closed_port()
    requirements_file = write_requirements(tmp_path / "project", "debvenv-test-not-anywhere\n")
    venv = tmp_path / "venv"
    environment = clean_pip_environment()
    environment["PYTHONPATH"] = SRC
    command = [
        str(PYTHON), "-m", "debvenv", "build", str(requirements_file), "--venv", str(venv),
        f"--pip-arg=--index-url=http://127.0.0.1:{port}/simple", "--pip-arg=--retries=1",
    ]  # fmt: skip

    completed = subprocess.run(command, capture_output=True, text=True, env=environment)

    assert completed.returncode == EXIT_ENVIRONMENT, completed.stderr
    assert "Traceback" not in completed.stderr
    # pip's retry line names where it could not connect.
    assert f"127.0.0.1:{port}" in completed.stderr or "/simple/debvenv-test-not-anywhere/" in completed.stderr
    assert re.search(r"connection|Connection", completed.stderr)
    assert listing(tmp_path) == ["project"]


@pytest.mark.parametrize("hash_ok", [True, False])
def test_hashes_reach_pip(tmp_path, wheelhouse, hash_ok):
    digest = hashlib.sha256((wheelhouse / f"{TEST_MODULE}-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    if not hash_ok:
        digest = "0" * 64
    requirements_file = write_requirements(tmp_path / "project", f"{TEST_PACKAGE}==1.0 --hash=sha256:{digest}\n")
    venv = tmp_path / "venv"

    if hash_ok:
        result = build(requirements_file, venv, "--require-hashes", *offline(wheelhouse))
        assert [d.name for d in result.installed] == [TEST_PACKAGE]
    else:
        with pytest.raises(BuildFailure, match="DO NOT MATCH THE HASHES"):
            build(requirements_file, venv, "--require-hashes", *offline(wheelhouse))
        assert not venv.exists()


@pytest.fixture
def previous_venv(tmp_path, wheelhouse):
    """A working venv built from a requirements file that names its own wheelhouse (relative)."""
    project = tmp_path / "project"
    shutil.copytree(wheelhouse, project / "wheels")
    requirements_file = write_requirements(project, f"--no-index\n--find-links ./wheels\n{TEST_PACKAGE}\n")
    venv = tmp_path / "venv"
    build(requirements_file, venv)
    return venv, (venv / MANIFEST_NAME).read_text()


def test_a_failed_rebuild_keeps_the_previous_venv_working(tmp_path, previous_venv):
    venv, manifest = previous_venv
    requirements_file = write_requirements(
        tmp_path / "project", f"--no-index\n--find-links ./wheels\n{TEST_PACKAGE}\n{MISSING}\n"
    )

    with pytest.raises(BuildFailure, match=MISSING):
        build(requirements_file, venv)

    assert run_in(venv, f"import {TEST_MODULE}; print({TEST_MODULE}.VALUE)") == "made with six"
    assert (venv / MANIFEST_NAME).read_text() == manifest
    assert listing(tmp_path) == ["project", "venv"]


def test_a_rebuild_replaces_the_previous_venv(tmp_path, previous_venv, yaml_package):
    venv, _ = previous_venv
    requirements_file = write_requirements(tmp_path / "project", "PyYAML\n")

    result = build(requirements_file, venv)

    assert result.replaced_previous
    assert venv_distributions(venv) == set()
    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    assert [r["requirement"] for r in manifest["requirements"]] == ["PyYAML"]
    assert listing(tmp_path) == ["project", "venv"]


_BUILD_SCRIPT = """
import sys
from pathlib import Path
from debvenv.requirements import read_requirements
from debvenv.venv import build_venv
build_venv(read_requirements([Path(sys.argv[1])]), Path(sys.argv[2]), pip_args=sys.argv[3:])
"""


def _sigint_as_on_a_terminal() -> None:
    # A shell starts a background job with SIGINT ignored, and an ignored
    # signal stays ignored across exec: when the tests run so, the build
    # would never see Ctrl-C. It gets SIGINT's default, as on a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    "signum, rebuild", [(signal.SIGINT, False), (signal.SIGTERM, True)], ids=["ctrl-c-build", "sigterm-rebuild"]
)
def test_an_interrupted_build_leaves_no_half_built_venv(tmp_path, wheelhouse, previous_venv, signum, rebuild):
    venv = tmp_path / "venv" if rebuild else tmp_path / "fresh"
    manifest = previous_venv[1]
    requirements_file = write_requirements(tmp_path / "other", f"{TEST_PACKAGE}\n")
    environment = clean_pip_environment()
    environment["PYTHONPATH"] = SRC
    process = subprocess.Popen(
        [str(PYTHON), "-c", _BUILD_SCRIPT, str(requirements_file), str(venv), *offline(wheelhouse)],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_sigint_as_on_a_terminal,
    )
    # Strike once the new venv exists in its staging directory: virtualenv has run, pip has not finished.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if glob.glob(str(tmp_path / f".{venv.name}.debvenv-new-*" / "pyvenv.cfg")):
            break
        time.sleep(0.005)
    assert process.poll() is None, "the build ended before it could be interrupted"
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert listing(tmp_path) == sorted(["other", "project", "venv"])
    if rebuild:
        assert (venv / MANIFEST_NAME).read_text() == manifest
        assert run_in(venv, f"import {TEST_MODULE}; print({TEST_MODULE}.VALUE)") == "made with six"


# ---- SIGKILL at every point: DIR is always whole -------------------------------------------

# The child kills itself with SIGKILL when the build reaches the checkpoint named in argv[3]
# (build_venv's documented test seam): no handler, no cleanup, as with the OOM killer.
_KILLED_BUILD_SCRIPT = """
import os, signal, sys
from pathlib import Path
from debvenv.requirements import read_requirements
from debvenv.venv import build_venv

def checkpoint(name):
    if name == sys.argv[3]:
        os.kill(os.getpid(), signal.SIGKILL)

build_venv(read_requirements([Path(sys.argv[1])]), Path(sys.argv[2]), pip_args=sys.argv[4:], checkpoint=checkpoint)
"""


def _killed_build(requirements_file: Path, venv: Path, kill_at: str, pip_args: List[str]) -> None:
    environment = clean_pip_environment()
    environment["PYTHONPATH"] = SRC
    completed = subprocess.run(
        [str(PYTHON), "-c", _KILLED_BUILD_SCRIPT, str(requirements_file), str(venv), kill_at, *pip_args],
        env=environment, capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == -signal.SIGKILL, (kill_at, completed.returncode, completed.stderr)


def _reached(requirements_file: Path, venv: Path, pip_args: List[str]) -> List[str]:
    """The checkpoints a whole build passes, in order (it builds the venv in passing)."""
    reached: List[str] = []
    build_venv(
        read_requirements([requirements_file]), venv, pip_args=pip_args, env=clean_pip_environment(),
        checkpoint=reached.append,
    )
    return reached


def _whole(venv: Path) -> str:
    """The manifest of a venv that works: pyvenv.cfg, its interpreter runs, its manifest is complete."""
    assert (venv / "pyvenv.cfg").is_file()
    assert run_in(venv, "print('ok')") == "ok"
    text = (venv / MANIFEST_NAME).read_text()
    assert json.loads(text)["venv"] == str(venv)
    return text


def test_a_rebuild_killed_anywhere_leaves_the_old_or_the_new_venv_and_is_recovered(tmp_path, wheelhouse):
    venv = tmp_path / "venv"
    old_file = write_requirements(tmp_path / "old", "six\n")
    new_file = write_requirements(tmp_path / "new", f"{TEST_PACKAGE}\n")
    pip_args = offline(wheelhouse)
    build(old_file, venv)
    reached = _reached(new_file, venv, pip_args)  # a whole rebuild, for the list of points
    assert reached == [point for point in CHECKPOINTS if point in reached]
    assert "installed" in reached and "removing" in reached
    new_requirements = [r["requirement"] for r in json.loads(_whole(venv))["requirements"]]
    swapped = reached.index("swapped")

    for position, point in enumerate(reached):
        build(old_file, venv)
        old_manifest = _whole(venv)
        _killed_build(new_file, venv, point, pip_args)

        manifest = _whole(venv)  # never half-built, at any point
        if position < swapped:
            assert manifest == old_manifest, point
        else:
            assert [r["requirement"] for r in json.loads(manifest)["requirements"]] == new_requirements, point
            assert run_in(venv, f"import {TEST_MODULE}; print({TEST_MODULE}.VALUE)") == "made with six"
        leftovers = [name for name in listing(tmp_path) if name.startswith(".venv.")]
        assert bool(leftovers) == (reached[0] != point != "done"), (point, leftovers)

        messages = recover_leftovers(venv)  # what the next build or sync does first
        assert len(messages) == len(leftovers) and all(str(tmp_path) in m for m in messages), messages
        assert listing(tmp_path) == ["new", "old", "venv"], point
        assert _whole(venv) == manifest, point


def test_a_first_build_killed_anywhere_leaves_nothing_or_the_venv(tmp_path, wheelhouse):
    venv = tmp_path / "parents" / "made" / "venv"
    requirements_file = write_requirements(tmp_path / "project", f"{TEST_PACKAGE}\n")
    pip_args = offline(wheelhouse)
    reached = _reached(requirements_file, tmp_path / "probe", pip_args)
    assert "removing" not in reached  # nothing to remove on a first build
    swapped = reached.index("swapped")

    for position, point in enumerate(reached):
        _killed_build(requirements_file, venv, point, pip_args)
        if position < swapped:
            # Neither DIR nor the parents the build would have made exist.
            assert not (tmp_path / "parents").exists(), point
        else:
            _whole(venv)
        messages = recover_leftovers(venv)
        assert listing(tmp_path) == sorted(["probe", "project"] + (["parents"] if position >= swapped else [])), (
            point, messages,
        )
        if position >= swapped:
            shutil.rmtree(tmp_path / "parents")


def test_the_next_build_says_what_it_recovered(tmp_path, wheelhouse):
    venv = tmp_path / "venv"
    requirements_file = write_requirements(tmp_path / "project", f"{TEST_PACKAGE}\n")
    build(requirements_file, venv, *offline(wheelhouse))
    _killed_build(requirements_file, venv, "removing", offline(wheelhouse))
    (leftover,) = [name for name in listing(tmp_path) if name.startswith(".venv.debvenv-new-")]

    result = build(requirements_file, venv, *offline(wheelhouse))

    assert any(str(tmp_path / leftover) in warning for warning in result.warnings), result.warnings
    assert listing(tmp_path) == ["project", "venv"]


def test_a_venv_set_aside_by_an_older_debvenv_is_put_back(tmp_path, wheelhouse):
    # What a SIGKILL left before builds were staged: a half-built DIR without its manifest
    # and the previous venv beside it.
    venv = tmp_path / "venv"
    requirements_file = write_requirements(tmp_path / "project", "six\n")
    build(requirements_file, venv)
    manifest = _whole(venv)
    aside = tmp_path / ".venv.debvenv-old-0123abcd"
    os.rename(venv, aside)
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")

    messages = recover_leftovers(venv)

    assert len(messages) == 1 and str(aside) in messages[0]
    assert _whole(venv) == manifest
    assert listing(tmp_path) == ["project", "venv"]


def test_recovery_leaves_the_staging_directory_of_a_live_run_alone(tmp_path):
    venv = tmp_path / "venv"
    live = tmp_path / ".venv.debvenv-new-0123abcd"
    dead = tmp_path / ".venv.debvenv-new-4567cdef"
    for staging in (live, dead):
        staging.mkdir()
        (staging / "pyvenv.cfg").write_text("home = /usr/bin\n")
    with locked_directory(live):  # as the run building there holds it
        messages = recover_leftovers(venv)
    assert len(messages) == 1 and str(dead) in messages[0]
    assert listing(tmp_path) == [live.name]


def test_a_venv_built_under_umask_000_has_nothing_world_writable(tmp_path, wheelhouse):
    venv = tmp_path / "venv"
    requirements_file = write_requirements(tmp_path / "project", f"{TEST_PACKAGE}\n")
    previous = os.umask(0)
    try:
        build(requirements_file, venv, *offline(wheelhouse))
    finally:
        os.umask(previous)
    writable = [
        path
        for path in [venv, *venv.rglob("*")]
        if not path.is_symlink() and path.lstat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ]
    assert writable == []
    assert os.umask(previous) == previous  # the caller's umask is back


# ---- refusing to build over what is not a venv -----------------------------------------


def _existing_directory(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "keep.txt").write_text("precious\n")
    return directory


def _existing_file(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.write_text("precious\n")
    return path


@pytest.mark.parametrize(
    "where, message",
    [
        (lambda tmp: Path("/usr"), "system prefix /usr"),
        (lambda tmp: Path("/usr/local"), "system prefix /usr/local"),
        (lambda tmp: Path("/"), "system prefix"),
        (lambda tmp: Path(DIST_PACKAGES) / "debvenv-test-venv", "inside the system site-packages"),
        (_existing_directory, "is not a virtualenv (no pyvenv.cfg)"),
        (_existing_file, "is not a directory"),
    ],
    ids=["usr", "usr-local", "root", "dist-packages", "non-venv-directory", "file"],
)
def test_refuses_what_is_not_a_venv_and_touches_nothing(tmp_path, where, message):
    venv = where(tmp_path)
    before = listing(venv) if venv.is_dir() else None
    requirements_file = write_requirements(tmp_path / "project", "PyYAML\n")

    with pytest.raises(UnsafeVenvError, match=re.escape(message)) as raised:
        build(requirements_file, venv)

    assert raised.value.exit_code == EXIT_BAD_INPUT
    if before is not None:
        assert listing(venv) == before
    if venv.parent == tmp_path:
        assert (venv / "keep.txt" if venv.is_dir() else venv).read_text() == "precious\n"
    else:
        assert not venv.exists() or before is not None


@pytest.mark.parametrize(
    "pip_args",
    [["--target", "/usr/lib/python3/dist-packages"], ["--targ=/tmp/x"], ["-qt", "/tmp/x"], ["--user"],
     ["--prefix=/usr"], ["--root", "/"]],
)
def test_refuses_pip_arguments_that_install_outside_the_venv(tmp_path, pip_args):
    requirements_file = write_requirements(tmp_path / "project", f"{MISSING}\n")

    with pytest.raises(InputError, match="installs outside the venv") as raised:
        build(requirements_file, tmp_path / "venv", *pip_args)

    assert raised.value.exit_code == EXIT_BAD_INPUT
    assert listing(tmp_path) == ["project"]


def test_an_interpreter_answering_the_wrong_shape_is_an_environment_failure(tmp_path):
    # Any executable can be named by --python; one that prints valid JSON of another shape
    # must not reach the build as a KeyError.
    impostor = tmp_path / "python"
    impostor.write_text('#!/bin/sh\necho \'{"a": 1}\'\n')
    impostor.chmod(0o755)
    requirements_file = write_requirements(tmp_path / "project", "six\n")
    with pytest.raises(EnvironmentFailure) as raised:
        build_venv(read_requirements([requirements_file]), tmp_path / "venv", python=impostor)
    assert raised.value.exit_code == EXIT_ENVIRONMENT
    assert listing(tmp_path) == ["project", "python"]


# ---- build accepts only what audit will find met ---------------------------------------

# Runs under /usr/bin/python3: a dpkg-installed distribution one of whose requirements (no
# extra, marker true) names a distribution nothing on the system provides. On bookworm with
# python3-gi but not python3-cairo: PyGObject requires pycairo>=1.16.0.
_UNMET_DEBIAN_PROBE = r"""
import json, sys, importlib.metadata as metadata
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
dists = [d for d in metadata.distributions() if str(getattr(d, "_path", "")).startswith("/usr/lib/python3/dist-packages/")]
present = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions() if d.metadata["Name"]}
for dist in sorted(dists, key=lambda d: d.metadata["Name"] or ""):
    for text in dist.requires or ():
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        if canonicalize_name(requirement.name) not in present:
            print(json.dumps([dist.metadata["Name"], requirement.name, str(requirement.specifier)]))
            sys.exit(0)
"""


@pytest.fixture(scope="module")
def debian_requirement_unmet() -> List[str]:
    """[Debian's distribution, the distribution it requires, the specifier] for one such case here."""
    found = subprocess.run([str(PYTHON), "-E", "-c", _UNMET_DEBIAN_PROBE], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    if not found.stdout.strip():
        pytest.skip("no Debian package here requires a distribution that nothing provides (python3-gi does)")
    return json.loads(found.stdout)


def satisfying_version(specifier: str) -> str:
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(specifier)
    candidates = ["99.0"] + [s.version.replace("*", "0") for s in spec]
    return next(v for v in candidates if spec.contains(v, prereleases=True))


def test_what_a_debian_package_requires_and_nothing_provides_goes_into_the_venv(tmp_path, debian_requirement_unmet):
    """build and audit judge alike: the venv a build accepts audits clean."""
    from debvenv.audit import BROKEN, audit_venv

    debian, missing, specifier = debian_requirement_unmet
    wheels = tmp_path / "wheels"
    version = satisfying_version(specifier)
    module = re.sub(r"[-.]", "_", missing.lower())
    write_wheel(wheels, missing, version, {f"{module}_made_by_the_test.py": b""})
    requirements_file = write_requirements(tmp_path / "project", f"{debian}\n")
    venv = tmp_path / "venv"

    result = build(requirements_file, venv, *offline(wheels))

    assert [(d.name, d.version) for d in result.installed] == [(missing, version)]
    [resolution] = result.resolutions
    assert resolution.distribution.provenance == "debian"
    report = audit_venv(venv, env=clean_pip_environment())
    assert report.exit_code == EXIT_OK, render_build(result)
    assert report.with_status(BROKEN) == ()
    assert report.pip_check.problems == ()


def test_a_build_that_cannot_meet_a_debian_packages_requirement_fails(tmp_path, debian_requirement_unmet):
    debian, missing, _specifier = debian_requirement_unmet
    requirements_file = write_requirements(tmp_path / "project", f"{debian}\n")

    with pytest.raises(BuildFailure) as raised:
        build(requirements_file, tmp_path / "venv", "--no-index")

    assert raised.value.exit_code == EXIT_CHECK_FAILED
    assert missing in str(raised.value) and debian in str(raised.value)
    assert listing(tmp_path) == ["project"]


@pytest.mark.parametrize("hash_ok", [True, False])
def test_a_pylock_builds_with_its_hashes_and_is_the_manifests_origin(tmp_path, wheelhouse, hash_ok):
    wheel = wheelhouse / f"{TEST_MODULE}-1.0-py3-none-any.whl"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest() if hash_ok else "0" * 64
    lock = tmp_path / "project" / "pylock.toml"
    lock.parent.mkdir()
    lock.write_text(textwrap.dedent(f"""\
        lock-version = '1.0'
        created-by = 'debvenv tests'

        [[packages]]
        name = 'six'
        version = '{system_version("six")}'

        [[packages]]
        name = '{TEST_PACKAGE}'
        version = '1.0'
        wheels = [{{name = '{wheel.name}', url = '{wheel.as_uri()}', hashes = {{sha256 = '{digest}'}}}}]
    """))
    venv = tmp_path / "venv"
    requirements = read_requirements([lock])
    # No --require-hashes given: the lock's hashes switch pip to checking every file.
    assert [option for _, option in requirements.pip_options] == ["--require-hashes"]

    if not hash_ok:
        with pytest.raises(BuildFailure, match="DO NOT MATCH THE HASHES"):
            build(lock, venv, *offline(wheelhouse))
        assert not venv.exists()
        return
    result = build(lock, venv, *offline(wheelhouse))
    assert [d.name for d in result.installed] == [TEST_PACKAGE]
    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    rows = {row["name"]: row for row in manifest["requirements"]}
    assert (rows[TEST_PACKAGE]["file"], rows[TEST_PACKAGE]["line"]) == (str(lock), 8)
    assert (rows["six"]["file"], rows["six"]["line"], rows["six"]["provenance"]) == (str(lock), 4, "debian")
    assert rows[TEST_PACKAGE]["provenance"] == "venv"
    assert run_in(venv, f"import {TEST_MODULE}; print({TEST_MODULE}.VALUE)") == "made with six"
