"""Plans from verdicts on real Debian packages: Debian relations, venv lines, the files, JSON and table.

Regenerate the golden files after an intended change with
``DEBVENV_UPDATE_GOLDEN=1 python -m pytest tests/test_plan.py``.
"""

import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from debvenv.commands import plan_requirements
from debvenv.errors import EXIT_BAD_INPUT, InputError
from debvenv.evaluate import MISSING, NOT_APPLICABLE, OUTDATED, SATISFIED, URL, check
from debvenv.index import (
    MAPPING_CONTENTS,
    VERSION_FROM_DEBIAN,
    VERSION_FROM_METADATA,
    Provider,
    SuiteIndex,
    Target,
    marker_environment_for,
)
from debvenv.names import normalize
from debvenv.plan import (
    APT,
    APT_PACKAGES_FILE,
    DEBIAN_DEPENDS_FILE,
    NONE,
    VENV,
    VENV_REQUIREMENTS_FILE,
    is_not_automatic,
    make_plan,
    plan_document,
    render_plan_json,
    render_plan_table,
    write_plan,
)
from debvenv.requirements import read_requirements
from debvenv.targets import TargetOptions

GOLDEN = Path(__file__).parent / "golden" / "plan"


def provider(name, package, debian_version, version, suite="bookworm", source=VERSION_FROM_METADATA, arch="all"):
    return Provider(
        name=name, package=package, debian_version=debian_version, version=version,
        version_source=source, mapping=MAPPING_CONTENTS, arch=arch, suite=suite,
    )


# Real packages: bookworm and bookworm-backports unless said otherwise.
DJANGO = provider("Django", "python3-django", "3:3.2.19-1", "3.2.19")
DJANGO_BPO = provider("Django", "python3-django", "3:4.2.16-1~bpo12+1", "4.2.16", suite="bookworm-backports")
NOVACLIENT = provider("python-novaclient", "python3-novaclient", "2:18.1.0-3", "18.1.0")
YAML = provider("PyYAML", "python3-yaml", "6.0-3+b2", "6.0", arch="amd64")
REQUESTS = provider("requests", "python3-requests", "2.28.1+dfsg-1", "2.28.1")
NUMPY = provider("numpy", "python3-numpy", "1:1.24.2-1", "1.24.2", arch="amd64")
NUMPY_BULLSEYE = provider("numpy", "python3-numpy", "1:1.19.5-1", "1.19.5", suite="bullseye", arch="amd64")
URLLIB3 = provider("urllib3", "python3-urllib3", "1.26.12-1+deb12u1", "1.26.12")
DATEUTIL = provider("python-dateutil", "python3-dateutil", "2.8.2-2", "2.8.2")
# The dist-info says 2.0.7 while the Debian version says 2.1.0 (docs/design.md's trap).
DEPRECATION = provider("deprecation", "python3-deprecation", "2.1.0-2", "2.0.7")
# The shape of experimental's pre-release uploads: the version comes from Debian's ~rc1.
FLASK_RC = provider("Flask", "python3-flask", "2.0~rc1-1", "2.0rc1", suite="experimental", source=VERSION_FROM_DEBIAN)

# docs/design.md's +really trap: Debian version 0.3.2+really+0.3.1 packages upstream 0.3.1.
REALLY = provider("example", "python3-example", "0.3.2+really+0.3.1-0.1", "0.3.1", source=VERSION_FROM_DEBIAN)
# Ubuntu jammy: metadata version not PEP 440.
DISTRO_INFO = provider("distro-info", "python3-distro-info", "1.1build1", "1.1build1", suite="jammy")

BOOKWORM = (DJANGO, NOVACLIENT, YAML, REQUESTS, NUMPY, URLLIB3, DATEUTIL, DEPRECATION)


def make_index(providers, target_id="bookworm+bookworm-backports", python="3.11.2", arch="amd64"):
    grouped = {}
    for p in providers:
        grouped.setdefault(normalize(p.name), []).append(p)
    target = Target(id=target_id, kind="suite", python=python.rsplit(".", 1)[0], arch=arch,
                    marker_environment=marker_environment_for(python, arch))
    return SuiteIndex(target=target, providers={k: tuple(v) for k, v in grouped.items()})


def plan_for(tmp_path, text, providers, *, env=None, name="requirements.txt"):
    path = tmp_path / name
    path.write_text(text)
    requirements = read_requirements([path], env=env or {})
    index = make_index(providers)
    return make_plan(check(requirements, [index]), index.target.id, requirement_set=requirements)


def dpkg_satisfies(debian_version, relation_group):
    """Whether the real dpkg says debian_version meets every relation of "a (>= 1), a (<< 2) | a (>= 3)"."""
    for relation in relation_group.split(", "):
        alternatives = []
        for alternative in relation.split(" | "):
            if "(" not in alternative:
                alternatives.append(True)
                continue
            op, bound = alternative.split("(", 1)[1].rstrip(")").split(" ")
            dpkg_op = {">=": "ge", "<<": "lt", "<=": "le", ">>": "gt", "=": "eq"}[op]
            command = ["dpkg", "--compare-versions", debian_version, dpkg_op, bound]
            alternatives.append(subprocess.run(command).returncode == 0)
        if not any(alternatives):
            return False
    return True


# ---- Debian relations ---------------------------------------------------------------


@pytest.mark.parametrize(
    "line, providers, relation, apt_package",
    [
        ("Django>=3.2", (DJANGO,), "python3-django (>= 3:3.2)", "python3-django"),
        ("Django>=3.2,<4", (DJANGO,), "python3-django (>= 3:3.2), python3-django (<< 3:4~)", "python3-django"),
        ("Django", (DJANGO,), "python3-django", "python3-django"),
        # The best satisfying version is backports': apt must be told the pocket.
        ("Django>=4.2,<5.0", (DJANGO, DJANGO_BPO), "python3-django (>= 3:4.2), python3-django (<< 3:5~)",
         "python3-django/bookworm-backports"),
        ("Django>=3.2,<4", (DJANGO, DJANGO_BPO), "python3-django (>= 3:3.2), python3-django (<< 3:4~)",
         "python3-django"),
        ("python-novaclient~=18.1.0", (NOVACLIENT,),
         "python3-novaclient (>= 2:18.1.0), python3-novaclient (<< 2:18.2~)", "python3-novaclient"),
        ("python-novaclient~=18.1", (NOVACLIENT,),
         "python3-novaclient (>= 2:18.1), python3-novaclient (<< 2:19~)", "python3-novaclient"),
        ("numpy==1.24.2", (NUMPY,), "python3-numpy (>= 1:1.24.2), python3-numpy (<< 1:1.24.2.1~)", "python3-numpy"),
        ("numpy==1.19.5", (NUMPY_BULLSEYE,), "python3-numpy (>= 1:1.19.5), python3-numpy (<< 1:1.19.5.1~)",
         "python3-numpy"),
        ("numpy==1.19.*", (NUMPY_BULLSEYE,), "python3-numpy (>= 1:1.19~), python3-numpy (<< 1:1.20~)", "python3-numpy"),
        ("requests!=2.28.0", (REQUESTS,),
         "python3-requests (<< 2.28) | python3-requests (>= 2.28.0~), python3-requests (<< 2.28.0) | python3-requests (>= 2.28.0.1~)", "python3-requests"),
        ("requests>=2.25,!=2.28.0", (REQUESTS,),
         "python3-requests (>= 2.25), python3-requests (<< 2.28) | python3-requests (>= 2.28.0~), python3-requests (<< 2.28.0) | python3-requests (>= 2.28.0.1~)",
         "python3-requests"),
        ("urllib3<2", (URLLIB3,), "python3-urllib3 (<< 2~)", "python3-urllib3"),
        ("urllib3<=1.26.12", (URLLIB3,), "python3-urllib3 (<< 1.26.12.1~)", "python3-urllib3"),
        ("PyYAML", (YAML,), "python3-yaml", "python3-yaml"),
        ("PyYAML[libyaml]>=5.4", (YAML,), "python3-yaml (>= 5.4)", "python3-yaml"),
        ("Flask>=2.0rc1", (FLASK_RC,), "python3-flask (>= 2.0~rc1)", "python3-flask/experimental"),
        ("Flask>=1.0rc1", (FLASK_RC,), "python3-flask (>= 1.0~rc1)", "python3-flask/experimental"),
        ("Flask==2.0rc1", (FLASK_RC,), "python3-flask (>= 2.0~rc1), python3-flask (<< 2.0~rc1.1~)",
         "python3-flask/experimental"),
        ("Flask<2.1", (FLASK_RC,), "python3-flask (<< 2.1~)", "python3-flask/experimental"),
        ("example>=0.3.1", (REALLY,), "python3-example (>= 0.3.1)", "python3-example"),
    ],
)
def test_satisfied_requirement_becomes_a_debian_relation(tmp_path, line, providers, relation, apt_package):
    plan = plan_for(tmp_path, line + "\n", providers)
    (planned,) = plan.requirements
    assert (planned.status, planned.destination) == (SATISFIED, APT)
    assert plan.debian_depends == (relation,)
    assert plan.apt_packages == (apt_package,)
    assert plan.apt_command == f"apt-get install {apt_package}"
    # The package that satisfies the requirement satisfies its Depends, as dpkg sees it.
    assert dpkg_satisfies(planned.provider.debian_version, relation)
    assert not [w for w in plan.warnings if "fails" in w]


def test_equal_never_becomes_a_textual_digit_append(tmp_path):
    # "<< 1.110~" for ==1.19 lets 1.100 through; the bound must sit right above 1.19.5.
    plan = plan_for(tmp_path, "numpy==1.19.5\n", (NUMPY_BULLSEYE,))
    (relation,) = plan.debian_depends
    assert "1.19.51" not in relation and "1.19.6~" not in relation
    assert not dpkg_satisfies("1:1.19.50-1", relation)
    assert not dpkg_satisfies("1:1.19.5.1-1", relation)
    assert dpkg_satisfies("1:1.19.5+dfsg-2", relation)


@pytest.mark.parametrize(
    "line, providers, relation, change",
    [
        # The metadata's 2.0.7 meets <2.1; the package's own 2.1.0-2 cannot meet "<< 2.1~".
        ("deprecation<2.1", (DEPRECATION,), "python3-deprecation",
         "2.1.0-2 (version 2.0.7) fails python3-deprecation (<< 2.1~): left out of Depends"),
        # A release spelled longer than Debian spells it: 6.0-3+b2 sorts below 6.0.0.
        ("PyYAML>=6.0.0", (YAML,), "python3-yaml (>= 6.0)",
         "6.0-3+b2 (version 6.0) fails python3-yaml (>= 6.0.0): Depends says python3-yaml (>= 6.0) instead"),
        # 0.3.1 meets <0.3.2, but its Debian version sorts above 0.3.2~.
        ("example<0.3.2", (REALLY,), "python3-example",
         "0.3.2+really+0.3.1-0.1 (version 0.3.1) fails python3-example (<< 0.3.2~): left out of Depends"),
    ],
)
def test_relation_the_package_itself_fails_is_never_written(tmp_path, line, providers, relation, change):
    plan = plan_for(tmp_path, line + "\n", providers)
    (planned,) = plan.requirements
    assert planned.destination == APT
    assert plan.debian_depends == (relation,)
    assert dpkg_satisfies(providers[0].debian_version, relation)
    assert planned.reason.endswith(f"; {change}")
    assert f"requirements.txt:1: {line}: {change}" in "\n".join(plan.warnings)


@pytest.mark.parametrize(
    "suite, not_automatic",
    [
        ("bookworm-backports", True), ("bullseye-backports-sloppy", True), ("noble-backports", True),
        ("experimental", True), ("bookworm", False), ("bookworm-updates", False),
        ("bookworm-security", False), (None, False),
    ],
)
def test_not_automatic_pockets(suite, not_automatic):
    assert is_not_automatic(suite) is not_automatic


def test_one_name_satisfied_by_two_versions_line_by_line_is_decided_once(tmp_path):
    # Each line alone is satisfied, by different versions of one package; pip reads them as one
    # requirement that no version satisfies, so apt gets neither and the venv the combined line.
    plan = plan_for(tmp_path, "Django>=4.2\nDjango[argon2]<4 ; python_version >= '3.9'\n", (DJANGO, DJANGO_BPO))
    high, low = plan.requirements
    assert (high.destination, low.destination) == (VENV, NONE)
    assert high.status == "outdated" and high.requirement.extras == ("argon2",)
    assert plan.apt_packages == () and plan.debian_depends == ()
    assert "Django[argon2]<4,>=4.2; python_version >= \"3.9\"" in plan.venv_requirements


# ---- venv-requirements.txt -------------------------------------------------------------


HASH_A = "2" * 64
HASH_B = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(
    "written, line",
    [
        ('requests[security,socks]>=99; python_version >= "3.8"',
         'requests[security,socks]>=99; python_version >= "3.8"'),
        # As written when it says what was parsed: spacing, quotes and specifier order kept.
        ("requests[socks] >= 99 ; python_version>='3.8'", "requests[socks] >= 99 ; python_version>='3.8'"),
        ("Django>=5.0,<6  # too new for bookworm", "Django>=5.0,<6"),
        ("celery[redis]>=5.3", "celery[redis]>=5.3"),
        (f"psycopg2-binary==2.9.9 --hash=sha256:{HASH_A} --hash sha256:{HASH_B.upper()}",
         f"psycopg2-binary==2.9.9 --hash=sha256:{HASH_A} --hash=sha256:{HASH_B}"),
        (f"psycopg2-binary==2.9.9 \\\n    --hash=sha256:{HASH_A} \\\n    --hash=sha256:{HASH_B}",
         f"psycopg2-binary==2.9.9 --hash=sha256:{HASH_A} --hash=sha256:{HASH_B}"),
        ('foo @ https://example.org/foo-1.0.zip ; python_version >= "3.8"',
         'foo @ https://example.org/foo-1.0.zip ; python_version >= "3.8"'),
        ("https://example.org/pkgs/foo-1.0.tar.gz", "foo @ https://example.org/pkgs/foo-1.0.tar.gz"),
        ('https://example.org/pkgs/foo-1.0.tar.gz; sys_platform == "linux"',
         'foo @ https://example.org/pkgs/foo-1.0.tar.gz ; sys_platform == "linux"'),
        ("git+https://example.org/repo.git@v1#egg=bar", "bar @ git+https://example.org/repo.git@v1#egg=bar"),
        ("-e git+https://example.org/repo.git#egg=baz[extra]", "-e git+https://example.org/repo.git#egg=baz[extra]"),
        # pip expands ${TOKEN} itself: the secret stays out of the file.
        ("mytool @ https://${TOKEN}@example.org/mytool-1.0.zip",
         "mytool @ https://${TOKEN}@example.org/mytool-1.0.zip"),
    ],
)
def test_venv_line_keeps_markers_extras_hashes_and_urls(tmp_path, written, line):
    plan = plan_for(tmp_path, written + "\n", BOOKWORM, env={"TOKEN": "s3cret"})
    (planned,) = plan.requirements
    assert planned.destination == VENV
    assert planned.line == line
    assert plan.venv_requirements[2:] == (line,)
    assert plan.apt_packages == () and plan.debian_depends == ()
    assert "s3cret" not in "\n".join(plan.venv_requirements)


def test_local_paths_become_absolute_file_urls(tmp_path):
    project = tmp_path / "vendor" / "proj"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "1.0"\n')
    plan = plan_for(tmp_path, "-e ./vendor/proj[test]\n./vendor/proj\n", BOOKWORM)
    uri = project.as_uri()
    assert [p.line for p in plan.requirements] == [f"-e {uri}[test]", f"proj @ {uri}"]
    assert all(p.status == URL for p in plan.requirements)


def test_pip_options_and_constraint_files_head_the_venv_file(tmp_path):
    (tmp_path / "wheels").mkdir()
    (tmp_path / "constraints.txt").write_text("requests==99.0\n")
    text = (
        "--index-url https://example.org/simple\n"
        "-f ./wheels\n"
        "--extra-index-url ${EXTRA_INDEX}\n"
        "-c constraints.txt\n"
        "requests>=2\n"
        "PyYAML>=5\n"
    )
    plan = plan_for(tmp_path, text, BOOKWORM)
    assert plan.venv_requirements[2:] == (
        "--index-url https://example.org/simple",
        f"--find-links {tmp_path / 'wheels'}",
        "--extra-index-url ${EXTRA_INDEX}",
        f"-c {tmp_path / 'constraints.txt'}",
        "requests==99.0,>=2",  # narrowed by the constraint: rebuilt, not as written
    )
    assert plan.apt_packages == ("python3-yaml",)


def test_constraint_with_a_marker_applies_per_target(tmp_path):
    (tmp_path / "constraints.txt").write_text('requests==99.0 ; python_version >= "3.11"\n')
    plan = plan_for(tmp_path, "-c constraints.txt\nrequests>=2\n", BOOKWORM)
    (planned,) = plan.requirements
    assert (planned.status, planned.destination) == (OUTDATED, VENV)
    assert planned.line == "requests==99.0,>=2"


def test_not_applicable_is_left_out_with_a_comment(tmp_path):
    plan = plan_for(tmp_path, 'PyYAML>=5\npywin32>=306 ; sys_platform == "win32"\n', BOOKWORM)
    yaml, pywin32 = plan.requirements
    assert (pywin32.status, pywin32.destination, pywin32.line, pywin32.relation) == (NOT_APPLICABLE, NONE, None, None)
    assert plan.venv_requirements[-1] == (
        '# not applicable on bookworm+bookworm-backports: pywin32>=306 ; sys_platform == "win32" '
        f"({tmp_path / 'requirements.txt'}:2)"
    )
    assert [line for line in plan.venv_requirements if not line.startswith("#")] == []
    assert plan.apt_packages == ("python3-yaml",) and plan.debian_depends == ("python3-yaml (>= 5)",)


def test_satisfied_requirement_with_extras_also_goes_to_pip(tmp_path):
    # requests is Debian's; the socks extra's own requirements (PySocks) are pip's job.
    plan = plan_for(tmp_path, "requests[socks]>=2.25\n", BOOKWORM)
    (planned,) = plan.requirements
    assert (planned.status, planned.destination, planned.line) == (SATISFIED, APT, "requests[socks]>=2.25")
    assert "[socks]" in planned.reason
    assert plan.apt_packages == ("python3-requests",)
    assert plan.venv_requirements[2:] == ("requests[socks]>=2.25",)


@pytest.mark.parametrize(
    "line, status, reason",
    [
        ("PyYAML>=5", SATISFIED, "satisfied by python3-yaml 6.0-3+b2"),
        ("Django>=4.2", SATISFIED, "satisfied by python3-django 3:4.2.16-1~bpo12+1 from bookworm-backports"),
        ("requests>=99", OUTDATED, "outdated: python3-requests has 2.28.1, needs >=99"),
        ("python-dateutil>=2.9,<3", OUTDATED, "outdated: python3-dateutil has 2.8.2, needs >=2.9"),
        ("Django<3", "too-new", "too-new: python3-django has 4.2.16, needs <3"),
        ("urllib3!=1.26.12", "excluded", "excluded: python3-urllib3 has 1.26.12, needs !=1.26.12"),
        ("notapackage-xyz", MISSING, "missing: no Debian package provides notapackage-xyz"),
        ("distro-info>=1.0", "unknown-version",
         "unknown-version: python3-distro-info has '1.1build1', not a PEP 440 version"),
        ("foo @ https://example.org/foo.zip", URL, "url: direct URL, never satisfied by the distribution"),
        ('Django ; python_version < "3"', NOT_APPLICABLE,
         "not-applicable: marker is false on bookworm+bookworm-backports (Python 3.11, amd64)"),
    ],
)
def test_reasons(tmp_path, line, status, reason):
    plan = plan_for(tmp_path, line + "\n", BOOKWORM + (DJANGO_BPO, DISTRO_INFO))
    (planned,) = plan.requirements
    assert (planned.status, planned.reason) == (status, reason)
    assert plan.reasons == ((line, reason),)


# ---- a realistic plan: golden files ---------------------------------------------------

REQUIREMENTS = """\
# A Django service, deployed on bookworm with backports.
--index-url https://example.org/simple
--find-links https://example.org/wheels
Django>=4.2,<5.0
PyYAML>=5.4
requests[socks]>=2.25,!=2.28.0
urllib3<2
python-novaclient~=18.1
numpy==1.24.2
deprecation<2.1
python-dateutil>=2.9
celery[redis]>=5.3 ; python_version >= "3.8"
mytool @ git+https://example.org/mytool.git@v1.2
pywin32>=306 ; sys_platform == "win32"
"""


@pytest.fixture
def realistic(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text(REQUIREMENTS)
    requirements = read_requirements([Path("requirements.txt")], env={})
    index = make_index(BOOKWORM + (DJANGO_BPO,))
    return make_plan(check(requirements, [index]), index.target.id, requirement_set=requirements)


def assert_golden(name, text):
    path = GOLDEN / name
    if os.environ.get("DEBVENV_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_written_files_match_golden(realistic, tmp_path):
    paths = write_plan(realistic, tmp_path / "plan")
    assert [p.name for p in paths] == [APT_PACKAGES_FILE, VENV_REQUIREMENTS_FILE, DEBIAN_DEPENDS_FILE]
    for path in paths:
        assert_golden(path.name, path.read_text())
    assert sorted(p.name for p in (tmp_path / "plan").iterdir()) == sorted(p.name for p in paths)


def test_json_and_table_match_golden(realistic):
    assert_golden("plan.json", render_plan_json(realistic))
    assert_golden("plan.txt", render_plan_table(realistic))


def test_realistic_plan_answers(realistic):
    assert realistic.apt_packages == (
        "python3-deprecation",
        "python3-django/bookworm-backports",
        "python3-novaclient",
        "python3-numpy",
        "python3-requests",
        "python3-urllib3",
        "python3-yaml",
    )
    by_name = {p.requirement.name: p for p in realistic.requirements}
    assert {name: p.destination for name, p in by_name.items()} == {
        "django": APT, "pyyaml": APT, "requests": APT, "urllib3": APT, "python-novaclient": APT, "numpy": APT,
        "deprecation": APT, "python-dateutil": VENV, "celery": VENV, "mytool": VENV, "pywin32": NONE,
    }
    # Every Depends entry holds for the very package apt installs.
    for planned in realistic.requirements:
        if planned.destination == APT:
            assert dpkg_satisfies(planned.provider.debian_version, planned.relation), planned.relation
    assert realistic.apt_command.startswith("apt-get install python3-deprecation python3-django/bookworm-backports ")


def test_json_has_exactly_the_schema_keys(realistic):
    document = plan_document(realistic)
    assert set(document) == {
        "schema", "target", "apt_packages", "apt_command", "venv_requirements", "debian_depends", "requirements",
    }
    assert document["schema"] == "debvenv.plan/1"
    assert set(document["target"]) == {"id", "kind", "python", "arch"}
    for row in document["requirements"]:
        assert set(row) == {
            "requirement", "file", "line", "status", "destination", "package", "debian_version", "relation", "reason",
        }
        assert row["destination"] in ("apt", "venv", "none")
    assert json.loads(render_plan_json(realistic)) == document


def test_table_fits_80_columns(realistic):
    lines = render_plan_table(realistic).splitlines()
    assert [line for line in lines if len(line) > 80] == []
    # The apt-get line, wrapped, is still one shell command.
    command = render_plan_table(realistic).split("\n\n")[-1]
    assert command.replace(" \\\n  ", " ").strip() == realistic.apt_command


def test_nothing_for_apt_says_so(tmp_path):
    plan = plan_for(tmp_path, "notapackage-xyz\n", BOOKWORM)
    assert plan.apt_command is None and plan.apt_packages == ()
    assert plan.file_texts()[APT_PACKAGES_FILE] == "" and plan.file_texts()[DEBIAN_DEPENDS_FILE] == ""
    assert "nothing to install with apt" in render_plan_table(plan)
    assert plan_document(plan)["apt_command"] is None


# ---- write_plan: all or nothing -----------------------------------------------------------


def test_write_plan_makes_the_directory_with_umask_permissions(realistic, tmp_path):
    paths = write_plan(realistic, tmp_path / "new" / "dir")
    umask = os.umask(0)
    os.umask(umask)
    for path in paths:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert realistic.file_texts() == {p.name: p.read_text() for p in paths}


def test_directory_that_is_a_file_is_bad_input(realistic, tmp_path):
    target = tmp_path / "plan"
    target.write_text("not a directory\n")
    with pytest.raises(InputError) as caught:
        write_plan(realistic, target)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert str(target) in str(caught.value) and "cannot write" in str(caught.value)
    assert target.read_text() == "not a directory\n"


def write_plan_failure(plan, target: Path):
    """write_plan's InputError as (exit code, message); as root, who writes anywhere, from a child running as nobody."""
    if os.geteuid() != 0:
        with pytest.raises(InputError) as caught:
            write_plan(plan, target)
        return caught.value.exit_code, str(caught.value)
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        answer = "the child wrote nothing back"
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            write_plan(plan, target)
            answer = "write_plan raised nothing"
        except InputError as error:
            answer = f"{error.exit_code} {error}"
        except BaseException as error:
            answer = f"unexpected {error!r}"
        finally:
            os.write(write_end, answer.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(pid, 0)
    code, _, message = answer.partition(" ")
    assert code.isdigit(), answer
    return int(code), message


def test_unwritable_directory_is_bad_input_and_nothing_is_written(realistic, tmp_path):
    # pytest's tmp_path is private to root; nobody must reach the directory to be refused by it.
    base = Path(tempfile.mkdtemp(prefix="debvenv-unwritable.", dir="/var/tmp")) if os.geteuid() == 0 else tmp_path
    try:
        base.chmod(0o755)
        target = base / "plan"
        target.mkdir()
        target.chmod(0o555)
        try:
            code, message = write_plan_failure(realistic, target)
        finally:
            target.chmod(0o755)
        assert code == EXIT_BAD_INPUT and "Permission denied" in message, message
        assert list(target.iterdir()) == []
    finally:
        if base != tmp_path:
            shutil.rmtree(base)


def test_failure_midway_leaves_the_old_files_and_no_partial_one(realistic, tmp_path):
    # A real write failure, as a full disk gives, also as root: the file size limit (EFBIG).
    target = tmp_path / "plan"
    target.mkdir()
    (target / APT_PACKAGES_FILE).write_text("old\n")
    texts = realistic.file_texts()
    limit = 300
    assert len(texts[APT_PACKAGES_FILE]) < limit < len(texts[VENV_REQUIREMENTS_FILE].encode())
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    previous_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, previous_limit[1]))
    try:
        with pytest.raises(InputError) as caught:
            write_plan(realistic, target)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous_limit)
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert sorted(p.name for p in target.iterdir()) == [APT_PACKAGES_FILE]
    assert (target / APT_PACKAGES_FILE).read_text() == "old\n"


# ---- the core function, against this machine's installed packages ---------------------------


def test_plan_requirements_against_installed(tmp_path):
    # The README's test command installs python3-yaml and python3-requests.
    (tmp_path / "requirements.txt").write_text(
        'PyYAML>=5\nrequests>=99\nDjango>=4 ; python_version < "3"\nnotapackage-xyz\n'
    )
    plan = plan_requirements([], "installed", TargetOptions(), directory=tmp_path)
    assert plan.target.id == "installed"
    assert plan.apt_packages == ("python3-yaml",)
    assert [p.destination for p in plan.requirements] == [APT, VENV, NONE, VENV]
    assert plan.venv_requirements[2:4] == ("requests>=99", "notapackage-xyz")


# ---- one name on several lines ------------------------------------------------------


def test_lines_of_one_name_are_planned_once_as_their_intersection(tmp_path):
    # A merged file: each line alone is satisfied by 2.28.1; together they are not.
    plan = plan_for(tmp_path, "requests>=2.25\nPyYAML>=5\nrequests<2.28,>=2.20\n", BOOKWORM)
    first, yaml, second = plan.requirements
    assert (first.status, first.destination) == ("too-new", VENV)
    assert first.requirement.specifier == SpecifierSet(">=2.25,<2.28,>=2.20")
    assert first.line == "requests<2.28,>=2.20,>=2.25"
    assert (second.status, second.destination, second.line, second.relation) == ("too-new", NONE, None, None)
    assert second.reason == f"combined into {tmp_path / 'requirements.txt'}:1: decided once per name"
    assert plan.debian_depends == ("python3-yaml (>= 5)",)  # no python3-requests relation beside the venv line
    assert [line for line in plan.venv_requirements if not line.startswith("#")] == ["requests<2.28,>=2.20,>=2.25"]


def test_lines_of_one_name_satisfied_together_depend_once(tmp_path):
    plan = plan_for(tmp_path, "requests>=2.25\nrequests[socks]<3,!=2.28.0\n", BOOKWORM)
    first, second = plan.requirements
    assert (first.destination, second.destination) == (APT, NONE)
    assert first.requirement.extras == ("socks",)
    assert plan.debian_depends == (
        "python3-requests (>= 2.25), "
        "python3-requests (<< 2.28) | python3-requests (>= 2.28.0~), "
        "python3-requests (<< 2.28.0) | python3-requests (>= 2.28.0.1~), "
        "python3-requests (<< 3~)",
    )
    assert plan.apt_packages == ("python3-requests",)


def test_a_line_for_another_python_is_not_combined(tmp_path):
    plan = plan_for(tmp_path, 'requests>=2.25\nrequests<2.28; python_version < "3.9"\n', BOOKWORM)
    first, second = plan.requirements
    assert (first.status, first.destination) == (SATISFIED, APT)
    assert (second.status, second.destination) == (NOT_APPLICABLE, NONE)
