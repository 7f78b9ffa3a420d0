"""``debvenv build --apt-install``: apt takes what Debian satisfies, pip only the rest.

The decisions (which distribution goes to apt, which stays with pip, and
why) are tested offline on real bookworm package versions; the acceptance
runs against this machine's real apt, dpkg and /usr/bin/python3.

The acceptance's library is python3-tomli-w (tomli_w 1.0.0 in bookworm): a
leaf package nothing on this machine depends on, so that it can be absent
before the test and removed again after. (python3-six, the issue's example,
cannot be removed here: python3-hypothesis needs it.) A test package in a
wheelhouse of the test's making requires tomli_w; the wheelhouse also
offers a tomli_w wheel, so that pip, without ``--apt-install``, would put
tomli_w into the venv. With ``--apt-install`` apt installs python3-tomli-w
(that needs root and the mirror: ``root`` and ``network``) and the venv
holds the test package alone. python3-tomli-w is purged afterwards, and
one that was installed before is put back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest
from test_build import (
    DIST_PACKAGES,
    SRC,
    clean_pip_environment,
    installed_version,
    module_files,
    venv_distributions,
    write_requirements,
)
from wheelhouse import write_wheel

from debvenv.errors import EXIT_BAD_INPUT, EXIT_ENVIRONMENT
from debvenv.evaluate import check
from debvenv.index import (
    MAPPING_CONTENTS,
    MAPPING_GUESSED,
    VERSION_FROM_METADATA,
    Provider,
    SuiteIndex,
    Target,
    marker_environment_for,
)
from debvenv.names import normalize
from debvenv.plan import make_plan
from debvenv.requirements import read_requirements
from debvenv.venv import (
    APT_DESTINATION,
    MANIFEST_NAME,
    PIP_DESTINATION,
    AptInstallFailure,
    AptInstallRefused,
    apt_get_install,
    build_venv,
    _resolve,
    _Seen,
    _VenvView,
    direct_apt_moves,
    explained_by_apt,
    pip_apt_moves,
    refuse_apt_install_unless_root,
    render_build,
)

PYTHON = Path("/usr/bin/python3")
LEAF_PACKAGE = "python3-tomli-w"
LEAF_DISTRIBUTION = "tomli_w"
USER_PACKAGE = "debvenv-test-tomliuser"
USER_MODULE = "debvenv_test_tomliuser"


# ---- the decisions, offline --------------------------------------------------------------

ENVIRONMENT = dict(marker_environment_for("3.11.2", "amd64"))


def provider(name: str, package: str, debian_version: str, version: str, mapping: str = MAPPING_CONTENTS) -> Provider:
    return Provider(
        name=name, package=package, debian_version=debian_version, version=version,
        version_source=VERSION_FROM_METADATA, mapping=mapping, arch="all",
    )  # fmt: skip


def index_of(target_id: str, kind: str, *providers: Provider) -> SuiteIndex:
    grouped: Dict[str, List[Provider]] = {}
    for p in providers:
        grouped.setdefault(normalize(p.name), []).append(p)
    target = Target(id=target_id, kind=kind, python="3.11", arch="amd64", marker_environment=ENVIRONMENT)
    return SuiteIndex(target=target, providers={key: tuple(group) for key, group in grouped.items()})


# Real bookworm versions (the apt lists' candidates when this was written).
YAML = provider("PyYAML", "python3-yaml", "6.0-3+b2", "6.0")
SIX = provider("six", "python3-six", "1.16.0-4", "1.16.0")
DJANGO = provider("Django", "python3-django", "3:3.2.25-0+deb12u7", "3.2.25", MAPPING_GUESSED)
ASGIREF = provider("asgiref", "python3-asgiref", "3.6.0-1", "3.6.0", MAPPING_GUESSED)
SQLPARSE = provider("sqlparse", "python3-sqlparse", "0.4.2-1+deb12u1", "0.4.2", MAPPING_GUESSED)
KOMBU = provider("kombu", "python3-kombu", "5.2.4-1", "5.2.4", MAPPING_GUESSED)
REQUESTS = provider("requests", "python3-requests", "2.28.1+dfsg-1", "2.28.1", MAPPING_GUESSED)
TOMLI_W = provider("tomli_w", "python3-tomli-w", "1.0.0-2", "1.0.0", MAPPING_GUESSED)

INSTALLED = index_of("installed", "installed", YAML, SIX)
APT = index_of("apt", "apt", YAML, SIX, DJANGO, ASGIREF, SQLPARSE, KOMBU, REQUESTS, TOMLI_W)
DPKG = {"python3-yaml": "6.0-3+b2", "python3-six": "1.16.0-4"}


def requirement_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str):
    """``text`` read from ``requirements.txt``, named so (relative) in every origin."""
    write_requirements(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    return read_requirements([Path("requirements.txt")])


@pytest.mark.parametrize(
    "requirements, dpkg, moved",
    [
        (
            "PyYAML>=5\nDjango>=3.2,<4.3\n",
            DPKG,
            [("Django", "python3-django", "python3-django 3:3.2.25-0+deb12u7 satisfies Django>=3.2,<4.3 "
                                          "(requirements.txt:2)")],
        ),
        # Debian's 3.2 is outdated for this requirement: pip installs Django.
        ("Django>=4.2\n", DPKG, []),
        # The installed copy already satisfies.
        ("PyYAML>=5\nsix\n", DPKG, []),
        ('Django ; python_version < "3"\n', DPKG, []),
        ("Django @ https://example.org/Django-3.2.25.tar.gz\n", DPKG, []),
        # Installed at apt's version, yet the installed index has no Django: the
        # guessed mapping is wrong, and installing it again would change nothing.
        ("Django\n", {**DPKG, "python3-django": "3:3.2.25-0+deb12u7"}, []),
        # Two requirements on one distribution make one move.
        ("tomli-w\ntomli_w>=1\n", DPKG, [("tomli-w", "python3-tomli-w", "python3-tomli-w 1.0.0-2 satisfies tomli-w "
                                                                         "(requirements.txt:1)")]),
    ],
    ids=["satisfied-by-apt", "outdated-in-apt", "installed-satisfies", "marker-false", "url",
         "installed-at-candidate", "one-package-twice"],
)
def test_round_one_takes_what_apt_satisfies_and_the_installed_packages_do_not(
    tmp_path, monkeypatch, requirements, dpkg, moved
):
    moves = direct_apt_moves(requirement_set(tmp_path, monkeypatch, requirements), INSTALLED, APT, dpkg)

    assert [(m.name, m.provider.package, m.reason) for m in moves] == moved


def pip_item(
    name: str, version: str, *requires: str, requested: bool = False, extras: Sequence[str] = ()
) -> Dict[str, Any]:
    """One entry of ``pip install --report``'s "install" list, as pip 23 writes it."""
    item: Dict[str, Any] = {
        "download_info": {"url": f"https://files.example/{name}-{version}-py3-none-any.whl", "archive_info": {}},
        "is_direct": False,
        "requested": requested,
        "metadata": {"metadata_version": "2.1", "name": name, "version": version, "requires_dist": list(requires)},
    }
    if extras:
        item["requested_extras"] = list(extras)
    return item


TOMLIUSER = pip_item(USER_PACKAGE, "1.0", "tomli_w>=1.0", requested=True)


@pytest.mark.parametrize(
    "requirements, items, dpkg, moved, left",
    [
        (
            f"{USER_PACKAGE}\n",
            [TOMLIUSER, pip_item("tomli_w", "1.0.0")],
            DPKG,
            [("tomli_w", "python3-tomli-w", f"python3-tomli-w 1.0.0-2 satisfies tomli_w>=1.0 "
                                            f"(required by {USER_PACKAGE} 1.0)")],
            [(USER_PACKAGE, f"no package in the apt lists provides {USER_PACKAGE}")],
        ),
        (
            # celery 5.3 needs a kombu newer than bookworm's: it stays with pip.
            "celery==5.3.0\n",
            [pip_item("celery", "5.3.0", "kombu<6.0,>=5.3.0", "vine<6.0,>=5.0.0", requested=True),
             pip_item("kombu", "5.3.1", "vine"), pip_item("vine", "5.0.0")],
            DPKG,
            [],
            [("celery", "no package in the apt lists provides celery"),
             ("kombu", "the apt lists' python3-kombu 5.2.4-1 (kombu 5.2.4) does not satisfy "
                       "kombu<6.0,>=5.3.0 (required by celery 5.3.0): outdated"),
             ("vine", "no package in the apt lists provides vine")],
        ),
        (
            # The requirement accepts Debian's requests; what pip's resolution adds does not.
            "requests>=2.25\ndebvenv-test-oldrequests\n",
            [pip_item("requests", "2.27.1", requested=True),
             pip_item("debvenv-test-oldrequests", "1.0", "requests<2.28", requested=True)],
            DPKG,
            [],
            [("requests", "the apt lists' python3-requests 2.28.1+dfsg-1 (requests 2.28.1) does not satisfy "
                          "requests<2.28,>=2.25 (requirements.txt:1; required by debvenv-test-oldrequests 1.0): "
                          "too-new"),
             ("debvenv-test-oldrequests", "no package in the apt lists provides debvenv-test-oldrequests")],
        ),
        (
            # Django's extra is not asked for: its requirements put nothing on sqlparse.
            "debvenv-test-djangouser\n",
            [pip_item("debvenv-test-djangouser", "1.0", "Django>=3.2", requested=True),
             pip_item("Django", "3.2.25", "asgiref<4,>=3.3.2", "sqlparse>=0.2.2",
                      "argon2-cffi>=19.1.0; extra == 'argon2'"),
             pip_item("asgiref", "3.8.1"), pip_item("sqlparse", "0.5.0")],
            DPKG,
            [("Django", "python3-django", "python3-django 3:3.2.25-0+deb12u7 satisfies Django>=3.2 "
                                          "(required by debvenv-test-djangouser 1.0)"),
             ("asgiref", "python3-asgiref", "python3-asgiref 3.6.0-1 satisfies asgiref<4,>=3.3.2 "
                                            "(required by Django 3.2.25)"),
             ("sqlparse", "python3-sqlparse", "python3-sqlparse 0.4.2-1+deb12u1 satisfies sqlparse>=0.2.2 "
                                              "(required by Django 3.2.25)")],
            [("debvenv-test-djangouser", "no package in the apt lists provides debvenv-test-djangouser")],
        ),
        (
            "six @ https://example.org/six-1.16.0-py2.py3-none-any.whl\n",
            [pip_item("six", "1.16.0", requested=True)],
            DPKG,
            [],
            [("six", "six @ https://example.org/six-1.16.0-py2.py3-none-any.whl (requirements.txt:1) is a URL: "
                     "only pip installs it")],
        ),
        (
            # apt installed python3-tomli-w in an earlier round, and pip still wants tomli_w.
            f"{USER_PACKAGE}\n",
            [TOMLIUSER, pip_item("tomli_w", "1.0.0")],
            {**DPKG, "python3-tomli-w": "1.0.0-2"},
            [],
            [(USER_PACKAGE, f"no package in the apt lists provides {USER_PACKAGE}"),
             ("tomli_w", "python3-tomli-w 1.0.0-2 is installed, yet provides no tomli_w "
                         "(the apt lists' mapping to it is a guess)")],
        ),
    ],
    ids=["transitive-to-apt", "combined-specifiers-outdated", "combined-specifiers-too-new", "extras-and-chain",
         "url", "installed-but-not-provided"],
)
def test_later_rounds_move_what_pip_would_install_when_apt_satisfies_every_specifier_on_it(
    tmp_path, monkeypatch, requirements, items, dpkg, moved, left
):
    requirements_set = requirement_set(tmp_path, monkeypatch, requirements)
    report = check(requirements_set, [INSTALLED])
    plan = make_plan(report, INSTALLED.target.id, requirement_set=requirements_set)
    pip_report = {"version": "1", "install": items, "environment": ENVIRONMENT}

    moves, stays = pip_apt_moves(pip_report, plan, requirements_set, APT, dpkg)

    assert [(m.name, m.provider.package, m.reason) for m in moves] == moved
    assert [(c.name, c.reason) for c in stays] == left
    assert {c.destination for c in stays} <= {PIP_DESTINATION}


@pytest.mark.parametrize(
    "requirements, status, reason",
    [
        # Not installed, and the apt lists' version is too old: that is why the venv holds it.
        ("Django>=4.2\n", "outdated",
         "outdated: python3-django has 3.2.25, needs >=4.2 (the apt lists' python3-django 3:3.2.25-0+deb12u7; "
         "nothing installed provides it)"),
        ("kombu<5\n", "too-new",
         "too-new: python3-kombu has 5.2.4, needs <5 (the apt lists' python3-kombu 5.2.4-1; "
         "nothing installed provides it)"),
        # Nothing anywhere provides it: missing is the truth.
        ("debvenv-test-sixuser\n", "missing", "missing: no Debian package provides debvenv-test-sixuser"),
    ],
    ids=["outdated-in-apt", "too-new-in-apt", "missing-everywhere"],
)
def test_after_apt_install_the_venv_copy_is_explained_by_the_apt_lists_verdict(
    tmp_path, monkeypatch, requirements, status, reason
):
    """django-environ: the --apt-install report said outdated; the venv's reason said missing."""
    requirements_set = requirement_set(tmp_path, monkeypatch, requirements)
    report = check(requirements_set, [INSTALLED])
    plan = make_plan(report, INSTALLED.target.id, requirement_set=requirements_set)

    explained = explained_by_apt(plan, requirements_set, INSTALLED, APT)

    [planned] = explained.requirements
    assert (planned.destination, planned.status, planned.reason) == ("venv", status, reason)
    # The manifest's record of it (build's resolution) carries the same verdict.
    name = planned.requirement.display_name
    path = f"/srv/venv/lib/python3.11/site-packages/{name}-9.0.dist-info"
    view = _VenvView(
        environment={**ENVIRONMENT, "python_full_version": "3.11.2"}, site=("/srv/venv/lib/python3.11/site-packages",),
        visible={planned.requirement.name: _Seen(name, "4.9" if name == "Django" else "4.0", path, ())},
    )  # fmt: skip
    [resolution], _used, problems, _warnings = _resolve(report, explained, INSTALLED, view)
    assert problems == []
    assert (resolution.status, resolution.reason) == (status, reason)


def test_an_installed_package_whose_metadata_disagrees_stays_with_pip(tmp_path, monkeypatch):
    """The apt lists translate python3-django-model-utils 4.2.0-2 to 4.2.0; its egg-info says 0.0.0."""
    model_utils = provider("django-model-utils", "python3-django-model-utils", "4.2.0-2", "4.2.0", MAPPING_GUESSED)
    apt_index = index_of("apt", "apt", model_utils)
    installed_index = index_of(
        "installed", "installed", provider("django-model-utils", "python3-django-model-utils", "4.2.0-2", "0.0.0")
    )
    requirements_set = requirement_set(tmp_path, monkeypatch, "django-model-utils>=4.2\n")
    plan = make_plan(check(requirements_set, [installed_index]), "installed", requirement_set=requirements_set)
    pip_report = {"install": [pip_item("django-model-utils", "5.0.0", "Django>=3.2", requested=True)],
                  "environment": ENVIRONMENT}  # fmt: skip

    moves, stays = pip_apt_moves(
        pip_report, plan, requirements_set, apt_index, {"python3-django-model-utils": "4.2.0-2"},
        installed_index=installed_index,
    )  # fmt: skip

    assert moves == []
    assert [(c.name, c.version, c.reason) for c in stays] == [(
        "django-model-utils", "5.0.0",
        "python3-django-model-utils 4.2.0-2 is installed, but its metadata says django-model-utils 0.0.0, "
        "which does not satisfy django-model-utils>=4.2 (requirements.txt:1)",
    )]  # fmt: skip


@pytest.mark.parametrize("euid, refused", [(0, False), (65534, True), (1000, True)])
def test_apt_install_is_for_root_only(euid, refused):
    if not refused:
        refuse_apt_install_unless_root(euid)
        return
    with pytest.raises(AptInstallRefused, match=f"needs root \\(running as uid {euid}\\)") as raised:
        refuse_apt_install_unless_root(euid)
    assert raised.value.exit_code == EXIT_BAD_INPUT


def test_the_cli_refuses_apt_install_to_a_user_and_touches_nothing():
    """The real thing: ``debvenv build --apt-install`` as ``nobody`` (as the caller, when not root)."""
    directory = Path(tempfile.mkdtemp(prefix="debvenv-apt-install-"))
    # nobody may not read the clone (a clone in /root, mode 0700): it runs a
    # copy of debvenv's source, in a directory of its own that it can read.
    source = Path(tempfile.mkdtemp(prefix="debvenv-apt-install-src-"))
    try:
        os.chmod(directory, 0o755)
        os.chmod(source, 0o755)
        shutil.copytree(Path(SRC) / "debvenv", source / "debvenv",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        for path in (source / "debvenv").rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (directory / "requirements.txt").write_text("PyYAML\n")
        (directory / "requirements.txt").chmod(0o644)
        command = [str(PYTHON), "-m", "debvenv", "build", str(directory / "requirements.txt"),
                   "--venv", str(directory / "venv"), "--apt-install"]  # fmt: skip
        if os.geteuid() == 0:
            command = ["runuser", "-u", "nobody", "--", "env", f"PYTHONPATH={source}", *command]
        environment = dict(os.environ, PYTHONPATH=str(source), PYTHONDONTWRITEBYTECODE="1")
        completed = subprocess.run(command, capture_output=True, text=True, env=environment, cwd="/")

        assert completed.returncode == EXIT_BAD_INPUT, completed.stderr
        assert completed.stdout == ""
        assert "--apt-install installs Debian packages with apt-get, which needs root" in completed.stderr
        assert "Traceback" not in completed.stderr
        assert sorted(os.listdir(directory)) == ["requirements.txt"]
    finally:
        shutil.rmtree(source)
        for path in sorted(directory.rglob("*"), reverse=True):
            path.unlink() if not path.is_dir() else path.rmdir()
        directory.rmdir()


def test_a_failing_apt_get_is_an_environment_failure_with_apts_own_words():
    # apt-get refuses a package no list names before it downloads or changes anything.
    with pytest.raises(AptInstallFailure) as raised:
        apt_get_install(["debvenv-test-no-such-package"], dict(os.environ))
    assert raised.value.exit_code == EXIT_ENVIRONMENT
    message = str(raised.value)
    assert message.startswith(
        "apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends debvenv-test-no-such-package failed"
    )
    # apt-get's error status, and its own lines after it (their wording is apt's).
    assert "failed (exit 100):\n  " in message


# ---- the acceptance, with the real apt --------------------------------------------------


def apt(*args: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", *args], capture_output=True, text=True, env=environment
    )


def removable_alone(package: str) -> bool:
    simulated = apt("-s", "remove", package).stdout
    return [line.split()[1] for line in simulated.splitlines() if line.startswith("Remv ")] == [package]


@pytest.fixture
def leaf_absent():
    """python3-tomli-w not installed during the test; afterwards as it was before."""
    if os.geteuid() != 0:
        pytest.skip("apt-get install needs root")
    if apt_candidate(LEAF_PACKAGE) in (None, "(none)"):
        pytest.skip(f"the apt lists offer no {LEAF_PACKAGE}")
    before = installed_version(LEAF_PACKAGE)
    automatic = False
    if before is not None:
        if not removable_alone(LEAF_PACKAGE):
            pytest.skip(f"{LEAF_PACKAGE} is installed and other packages need it")
        automatic = LEAF_PACKAGE in apt_mark("showauto", LEAF_PACKAGE)
        assert apt("remove", "--purge", "-y", LEAF_PACKAGE).returncode == 0
    try:
        yield
    finally:
        # Only the leaf itself (it depends on python3 alone): packages something
        # else installed meanwhile are not this test's to remove.
        if installed_version(LEAF_PACKAGE) is not None:
            apt("remove", "--purge", "-y", LEAF_PACKAGE)
        if before is not None:
            assert apt("install", "-y", "--no-install-recommends", f"{LEAF_PACKAGE}={before}").returncode == 0
            if automatic:
                apt_mark("auto", LEAF_PACKAGE)


def apt_mark(*args: str) -> str:
    return subprocess.run(["apt-mark", *args], capture_output=True, text=True).stdout


@pytest.fixture
def tomli_wheelhouse(tmp_path: Path) -> Path:
    """The test package requiring tomli_w, and a tomli_w wheel pip would install without apt."""
    directory = tmp_path / "wheels"
    write_wheel(
        directory, USER_PACKAGE, "1.0",
        {f"{USER_MODULE}.py": b"import tomli_w\nVALUE = tomli_w.dumps({'made': 'with tomli_w'})\n"},
        requires=["tomli_w>=1.0"],
    )  # fmt: skip
    write_wheel(directory, LEAF_DISTRIBUTION, "1.0.0", {"tomli_w/__init__.py": b"def dumps(obj):\n    return ''\n"})
    return directory


def build(requirements_file: Path, venv: Path, wheels: Path, *, apt_install: bool):
    return build_venv(
        read_requirements([requirements_file]),
        venv,
        pip_args=["--no-index", "--find-links", str(wheels)],
        env=clean_pip_environment(),
        apt_install=apt_install,
    )


@pytest.mark.root
@pytest.mark.network
@pytest.mark.parametrize(
    "requirements, round, reason",
    [
        (f"{USER_PACKAGE}\n", 2,
         f"python3-tomli-w {{version}} satisfies tomli_w>=1.0 (required by {USER_PACKAGE} 1.0)"),
        (f"tomli-w>=1.0\n{USER_PACKAGE}\n", 1, "python3-tomli-w {version} satisfies tomli-w>=1.0 ({file}:1)"),
    ],
    ids=["transitive", "direct"],
)
def test_apt_install_takes_the_library_from_apt_and_the_venv_holds_only_the_test_package(
    tmp_path, leaf_absent, tomli_wheelhouse, requirements, round, reason
):
    requirements_file = write_requirements(tmp_path / "project", requirements)
    candidate = apt_candidate(LEAF_PACKAGE)

    # Without --apt-install, pip takes tomli_w from the wheelhouse.
    plain = build(requirements_file, tmp_path / "plain", tomli_wheelhouse, apt_install=False)
    assert {d.name for d in plain.installed} == {USER_PACKAGE, LEAF_DISTRIBUTION}
    assert installed_version(LEAF_PACKAGE) is None

    venv = tmp_path / "venv"
    result = build(requirements_file, venv, tomli_wheelhouse, apt_install=True)

    assert installed_version(LEAF_PACKAGE) == candidate
    assert [(d.name, d.version) for d in result.installed] == [(USER_PACKAGE, "1.0")]
    assert venv_distributions(venv) == {f"{USER_MODULE}-1.0.dist-info"}
    files = module_files(venv, "tomli_w", USER_MODULE)
    assert files["tomli_w"].startswith(DIST_PACKAGES)
    assert files[USER_MODULE].startswith(str(venv) + "/")

    expected_reason = reason.format(version=candidate, file=requirements_file)
    to_apt = [c for c in result.apt_choices if c.destination == APT_DESTINATION]
    assert [(c.package, c.debian_version, c.round, c.reason) for c in to_apt] == [
        (LEAF_PACKAGE, candidate, round, expected_reason)
    ]
    assert [(c.name, c.reason) for c in result.apt_choices if c.destination == PIP_DESTINATION] == [
        (USER_PACKAGE, f"no package in the apt lists provides {USER_PACKAGE}")
    ]
    assert result.apt_packages == ((LEAF_PACKAGE, candidate),)

    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    assert manifest["apt_install"] is True
    assert [(e["package"], e["debian_version"], e["round"], e["reason"]) for e in manifest["apt_installed"]] == [
        (LEAF_PACKAGE, candidate, round, expected_reason)
    ]
    assert [e["name"] for e in manifest["apt_left_to_pip"]] == [USER_PACKAGE]
    assert manifest["apt_packages"] == {LEAF_PACKAGE: candidate}
    distributions = {d["name"]: (d["provenance"], d["package"]) for d in manifest["distributions"]}
    assert distributions[LEAF_DISTRIBUTION] == ("debian", LEAF_PACKAGE)
    assert distributions[USER_PACKAGE] == ("venv", None)
    assert manifest["debian_packages"][LEAF_PACKAGE] == candidate

    summary = render_build(result)
    assert "apt-get installed for --apt-install (1):" in summary
    assert f"{expected_reason}" in summary
    assert "left to pip by --apt-install (1):" in summary
    assert f"{USER_PACKAGE} 1.0: no package in the apt lists provides {USER_PACKAGE}" in summary

    # Once apt has it, a second build has nothing more for apt.
    again = build(requirements_file, tmp_path / "again", tomli_wheelhouse, apt_install=True)
    assert [c.destination for c in again.apt_choices] == [PIP_DESTINATION] and again.apt_packages == ()
    assert "apt-get installed nothing" in render_build(again)


def apt_candidate(package: str) -> Optional[str]:
    policy = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True).stdout
    for line in policy.splitlines():
        if line.strip().startswith("Candidate:"):
            return line.split(":", 1)[1].strip()
    return None


def test_without_apt_install_the_manifest_says_so(tmp_path):
    requirements_file = write_requirements(tmp_path / "project", "PyYAML\n")
    result = build_venv(read_requirements([requirements_file]), tmp_path / "venv", env=clean_pip_environment())

    manifest = json.loads((tmp_path / "venv" / MANIFEST_NAME).read_text())
    apt_keys = ("apt_install", "apt_installed", "apt_left_to_pip", "apt_packages")
    assert [manifest[key] for key in apt_keys] == [False, [], [], {}]
    assert "--apt-install" not in render_build(result)
