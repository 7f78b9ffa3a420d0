"""Audit verdicts from manifests that build's own code writes, over real bookworm packages.

Each case starts from one venv as ``build`` would record it -- PyYAML,
requests[socks], six and urllib3 from Debian, sentry-sdk, PySocks and
tomli-w in the venv, certifi forced past Debian's 2022.9.24 into the venv by
a security pin -- and changes the system the way apt, dpkg or a hand-run pip
would. The manifest is made by ``venv._resolve`` and ``manifest_document``
from that world, exactly as a build makes it.

Regenerate the golden files after an intended change with
``DEBVENV_UPDATE_GOLDEN=1 python -m pytest tests/test_audit.py``.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from debvenv.audit import (
    BROKEN,
    CHANGED,
    OK,
    REDUNDANT,
    SCHEMA,
    SHADOWING,
    STATUSES,
    ManifestError,
    PipCheck,
    SyncFailure,
    audit_document,
    audit_venv,
    evaluate_audit,
    manifest_from_document,
    read_manifest,
    render_audit,
    render_sync,
    repair_line,
    SyncResult,
    sync_venv,
)
from debvenv.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK
from debvenv.evaluate import check
from debvenv.index import MAPPING_METADATA, VERSION_FROM_METADATA, Provider, SuiteIndex, Target, marker_environment_for
from debvenv.names import normalize
from debvenv.plan import make_plan
from debvenv.requirements import Origin, RequirementSet, parse_requirement_line
from debvenv.sources import dpkglog
from debvenv.venv import (
    MANIFEST_NAME,
    BuildResult,
    InstalledDistribution,
    Shadow,
    _resolve,
    _Seen,
    _VenvView,
    manifest_document,
)

GOLDEN = Path(__file__).parent / "golden" / "audit"
VENV = Path("/srv/app/venv")
PYTHON = Path("/usr/bin/python3")
DIST_PACKAGES = "/usr/lib/python3/dist-packages"
VENV_SITE = f"{VENV}/lib/python3.11/site-packages"
LOCAL_SITE = "/usr/local/lib/python3.11/dist-packages"
ENVIRONMENT = dict(marker_environment_for("3.11.2", "amd64"))
BUILT_AT = datetime(2024, 5, 2, 9, 30, tzinfo=timezone.utc)

REQUIREMENTS = (
    "PyYAML>=5",
    "requests[socks]>=2.25",
    "sentry-sdk==1.40.6",
    "certifi>=2023.7.22",  # a security pin: bookworm's python3-certifi is 2022.9.24
    "six>=1.16",
    "tomli-w>=1.0",
    "urllib3<2",
    'Django>=4.2 ; python_version < "3.10"',
)


@dataclass(frozen=True)
class Deb:
    """A dpkg-installed distribution: its package and what its metadata says."""

    package: str
    debian_version: str
    name: str
    version: str
    requires: Tuple[str, ...] = ()
    info: str = "egg-info"

    @property
    def path(self) -> str:
        return f"{DIST_PACKAGES}/{self.name.replace('-', '_')}-{self.version}.{self.info}"


@dataclass(frozen=True)
class Copy:
    """A distribution pip put somewhere: the venv's site-packages or /usr/local."""

    name: str
    version: str
    requires: Tuple[str, ...] = ()
    site: str = VENV_SITE

    @property
    def path(self) -> str:
        return f"{self.site}/{self.name.replace('-', '_')}-{self.version}.dist-info"


# Real bookworm packages with the metadata they install (requests' egg-info
# lists only its extras: Debian drops the pinned base requirements).
URLLIB3_REQUIRES = (
    'certifi; extra == "secure"',
    'idna>=2.0.0; extra == "secure"',
    'PySocks!=1.5.7,<2.0,>=1.5.6; extra == "socks"',
)
DEBIAN = {
    "pyyaml": Deb("python3-yaml", "6.0-3+b2", "PyYAML", "6.0", info="dist-info"),
    "requests": Deb(
        "python3-requests", "2.28.1+dfsg-1", "requests", "2.28.1",
        ('PySocks!=1.5.7,>=1.5.6; extra == "socks"', 'chardet<6,>=3.0.2; extra == "use_chardet_on_py3"'),
    ),
    "urllib3": Deb("python3-urllib3", "1.26.12-1+deb12u4", "urllib3", "1.26.12", URLLIB3_REQUIRES),
    "certifi": Deb("python3-certifi", "2022.9.24-1", "certifi", "2022.9.24"),
    "six": Deb("python3-six", "1.16.0-4", "six", "1.16.0"),
    "idna": Deb("python3-idna", "3.3-1+deb12u1", "idna", "3.3"),
    "chardet": Deb("python3-chardet", "5.1.0+dfsg-2", "chardet", "5.1.0", info="dist-info"),
}  # fmt: skip
VENV_COPIES = {
    "sentry-sdk": Copy(
        "sentry-sdk", "1.40.6",
        ("certifi", 'urllib3>=1.26.11; python_version >= "3.6"', 'flask>=0.11; extra == "flask"'),
    ),
    "pysocks": Copy("PySocks", "1.7.1"),
    "certifi": Copy("certifi", "2024.2.2"),
    "tomli-w": Copy("tomli_w", "1.0.0"),
}  # fmt: skip


@dataclass
class World:
    """The machine as the venv's interpreter and dpkg see it."""

    debian: Dict[str, Deb]
    venv: Dict[str, Copy]
    local: Dict[str, Copy]  # pip-installed under /usr/local: owned by no package
    packages: Dict[str, str]  # dpkg: installed package -> version

    @classmethod
    def as_built(cls) -> "World":
        return cls(
            debian=dict(DEBIAN),
            venv=dict(VENV_COPIES),
            local={},
            packages={deb.package: deb.debian_version for deb in DEBIAN.values()},
        )

    def install(self, key: str, deb: Deb) -> None:
        self.debian[key] = deb
        self.packages[deb.package] = deb.debian_version

    def remove(self, key: str) -> None:
        self.packages.pop(self.debian.pop(key).package)

    def index(self) -> SuiteIndex:
        providers = {
            key: (
                Provider(
                    name=deb.name, package=deb.package, debian_version=deb.debian_version, version=deb.version,
                    version_source=VERSION_FROM_METADATA, mapping=MAPPING_METADATA, arch="all", path=deb.path,
                ),
            )
            for key, deb in self.debian.items()
        }  # fmt: skip
        target = Target(id="installed", kind="installed", python="3.11", arch="amd64", marker_environment=ENVIRONMENT)
        return SuiteIndex(target=target, providers=providers)

    def view(self) -> _VenvView:
        visible: Dict[str, _Seen] = {}
        # sys.path order: the venv, then /usr/local, then Debian's dist-packages.
        for copies in (self.venv, self.local):
            for key, c in copies.items():
                visible.setdefault(key, _Seen(c.name, c.version, c.path, c.requires))
        for key, deb in self.debian.items():
            visible.setdefault(key, _Seen(deb.name, deb.version, deb.path, deb.requires))
        return _VenvView(
            environment={**ENVIRONMENT, "python_full_version": "3.11.2"}, site=(VENV_SITE,), visible=visible
        )


def requirement_set() -> RequirementSet:
    return RequirementSet(
        requirements=tuple(
            parse_requirement_line(text, Origin("requirements.txt", number))
            for number, text in enumerate(REQUIREMENTS, start=1)
        ),
        constraints=(), pip_options=(), notes=(), files=("requirements.txt",),
    )  # fmt: skip


def built_manifest(world: World) -> dict:
    """The manifest build writes for ``world``, made by build's own resolution and writer."""
    requirements = requirement_set()
    index = world.index()
    report = check(requirements, [index])
    plan = make_plan(report, index.target.id, requirement_set=requirements)
    resolutions, used, problems, _warnings = _resolve(report, plan, index, world.view())
    assert problems == []
    installed = tuple(
        InstalledDistribution(c.name, c.version, requested=c.name != "PySocks",
                              source=f"file:///srv/wheels/{c.name.replace('-', '_')}-{c.version}-py3-none-any.whl")
        for _key, c in sorted(world.venv.items())
    )  # fmt: skip
    result = BuildResult(
        venv=VENV, python=PYTHON, python_version="3.11.2", pip_version="23.3.1",
        pip_args=("--find-links", "/srv/wheels"), installed=installed, resolutions=resolutions,
        distributions=used,
        shadowed=(Shadow("certifi", "2024.2.2", "python3-certifi", "2022.9.24-1", "2022.9.24",
                         "certifi>=2023.7.22 (requirements.txt:4)"),),
        constraints=(), manifest=VENV / MANIFEST_NAME, replaced_previous=False,
    )  # fmt: skip
    document = json.loads(json.dumps(manifest_document(result, now=BUILT_AT)))
    document["debvenv_version"] = "0.1.0"  # the golden files must not change with each release
    return document


MANIFEST = built_manifest(World.as_built())


def audit(world: World, pip_check: PipCheck = PipCheck(ran=True), removed: Optional[Dict[str, str]] = None):
    manifest = manifest_from_document(copy.deepcopy(MANIFEST), VENV / MANIFEST_NAME)
    return evaluate_audit(
        manifest, world.index(), world.view(), world.packages, venv=VENV, pip_check=pip_check, removed=removed or {}
    )


def statuses(report) -> Dict[str, str]:
    return {d.key: d.status for d in report.distributions}


AS_BUILT = {
    "pyyaml": OK, "requests": OK, "pysocks": OK, "sentry-sdk": OK, "certifi": SHADOWING, "urllib3": OK,
    "six": OK, "tomli-w": OK,
}  # fmt: skip


# ---- the manifest as build writes it ----------------------------------------------------


def test_the_manifest_reads_back_as_build_wrote_it():
    manifest = manifest_from_document(copy.deepcopy(MANIFEST), VENV / MANIFEST_NAME)

    assert (manifest.venv, manifest.python, manifest.python_version) == (str(VENV), PYTHON, "3.11.2")
    assert manifest.pip_args == ("--find-links", "/srv/wheels") and manifest.created == "2024-05-02T09:30:00Z"
    assert [(r.requirement.name, r.requirement.specifier, r.requirement.origin.line, r.status) for r in
            manifest.requirements] == [
        ("pyyaml", ">=5", 1, "satisfied"), ("requests", ">=2.25", 2, "satisfied"),
        ("sentry-sdk", "==1.40.6", 3, "missing"), ("certifi", ">=2023.7.22", 4, "outdated"),
        ("six", ">=1.16", 5, "satisfied"), ("tomli-w", ">=1.0", 6, "missing"), ("urllib3", "<2", 7, "satisfied"),
        ("django", ">=4.2", 8, "not-applicable"),
    ]  # fmt: skip
    assert manifest.requirements[1].requirement.extras == ("socks",)
    assert manifest.requirements[7].distribution is None
    assert {normalize(d.name): (d.provenance, d.package, d.required_by) for d in manifest.distributions} == {
        "pyyaml": ("debian", "python3-yaml", ("",)),
        "requests": ("debian", "python3-requests", ("",)),
        "pysocks": ("venv", None, ("requests",)),
        "sentry-sdk": ("venv", None, ("",)),
        "certifi": ("venv", None, ("", "sentry-sdk")),
        "urllib3": ("debian", "python3-urllib3", ("", "sentry-sdk")),
        "six": ("debian", "python3-six", ("",)),
        "tomli-w": ("venv", None, ("",)),
    }
    assert manifest.sources["tomli-w"] == "file:///srv/wheels/tomli_w-1.0.0-py3-none-any.whl"
    assert [(s.name, s.package, s.reason) for s in manifest.shadowed] == [
        ("certifi", "python3-certifi", "certifi>=2023.7.22 (requirements.txt:4)")
    ]
    assert manifest.debian_packages["python3-urllib3"] == "1.26.12-1+deb12u4"


# ---- verdicts ---------------------------------------------------------------------------


def _remove_yaml(world):
    world.remove("pyyaml")


def _urllib3_2(world):
    world.install("urllib3", Deb("python3-urllib3", "2.0.7-1", "urllib3", "2.0.7", URLLIB3_REQUIRES))


def _six_downgraded(world):
    world.install("six", Deb("python3-six", "1.15.0-2", "six", "1.15.0"))


def _urllib3_security_update(world):
    world.install("urllib3", Deb("python3-urllib3", "1.26.12-1+deb12u5", "urllib3", "1.26.12", URLLIB3_REQUIRES))


def _tomli_w_packaged(world):
    world.install("tomli-w", Deb("python3-tomli-w", "1.0.0-1", "tomli_w", "1.0.0", info="dist-info"))


def _certifi_caught_up(world):
    world.install("certifi", Deb("python3-certifi", "2024.2.2-1", "certifi", "2024.2.2"))


def _sentry_uninstalled(world):
    del world.venv["sentry-sdk"]


def _six_in_usr_local(world):
    world.local["six"] = Copy("six", "1.17.0", site=LOCAL_SITE)


def _yaml_without_metadata(world):
    del world.debian["pyyaml"]
    world.packages["python3-yaml"] = "6.0.1-1"


def _requests_without_extras(world):
    world.install("requests", Deb("python3-requests", "2.31.0+dfsg-1", "requests", "2.31.0"))


def _requests_needs_idna(world):
    deb = DEBIAN["requests"]
    world.install("requests", Deb(deb.package, "2.28.1+dfsg-1+deb12u1", deb.name, deb.version,
                                  deb.requires + ("idna<4,>=2.5",)))  # fmt: skip


def _pysocks_upgraded_by_hand(world):
    world.venv["pysocks"] = Copy("PySocks", "1.7.2")


def _idna_installed_by_hand(world):
    world.venv["idna"] = Copy("idna", "3.7")


@pytest.mark.parametrize(
    "change, expected, reasons",
    [
        pytest.param(None, {}, {}, id="as-built"),
        pytest.param(_remove_yaml, {"pyyaml": BROKEN}, {
            "pyyaml": "PyYAML>=5 (requirements.txt:1) is not met: python3-yaml is no longer installed "
                      "(manifest had 6.0-3+b2)",
        }, id="apt-get-remove"),
        pytest.param(_urllib3_2, {"urllib3": BROKEN}, {
            "urllib3": "urllib3<2 (requirements.txt:7) is not met: python3-urllib3 was upgraded from "
                       "1.26.12-1+deb12u4 to 2.0.7-1 (urllib3 2.0.7)",
        }, id="upgraded-past-a-bound"),
        pytest.param(_six_downgraded, {"six": BROKEN}, {
            "six": "six>=1.16 (requirements.txt:5) is not met: python3-six was downgraded from 1.16.0-4 to "
                   "1.15.0-2 (six 1.15.0)",
        }, id="downgraded"),
        pytest.param(_urllib3_security_update, {"urllib3": CHANGED}, {
            "urllib3": "python3-urllib3 was upgraded from 1.26.12-1+deb12u4 to 1.26.12-1+deb12u5 (1.26.12 -> "
                       "1.26.12); still satisfies urllib3>=1.26.11; python_version >= \"3.6\" (sentry-sdk 1.40.6), "
                       "urllib3<2 (requirements.txt:7)",
        }, id="security-update-within-bounds"),
        pytest.param(_tomli_w_packaged, {"tomli-w": REDUNDANT}, {
            "tomli-w": "python3-tomli-w 1.0.0-1 (tomli_w 1.0.0) satisfies tomli-w>=1.0 (requirements.txt:6): "
                       "the venv's copy 1.0.0 can go (sync --drop-redundant)",
        }, id="debian-now-packages-it"),
        pytest.param(_certifi_caught_up, {"certifi": REDUNDANT}, {
            "certifi": "python3-certifi 2024.2.2-1 (certifi 2024.2.2) satisfies certifi (sentry-sdk 1.40.6), "
                       "certifi>=2023.7.22 (requirements.txt:4): the venv's copy 2024.2.2 can go "
                       "(sync --drop-redundant)",
        }, id="shadowed-package-caught-up"),
        pytest.param(_sentry_uninstalled, {"sentry-sdk": BROKEN}, {
            "sentry-sdk": "sentry-sdk==1.40.6 (requirements.txt:3) is not met: the venv's copy 1.40.6 is gone",
        }, id="venv-copy-removed"),
        pytest.param(_six_in_usr_local, {"six": CHANGED}, {
            "six": f"now foreign: 1.17.0 at {LOCAL_SITE}/six-1.17.0.dist-info, owned by no Debian package",
        }, id="pip-in-usr-local"),
        pytest.param(_yaml_without_metadata, {"pyyaml": BROKEN}, {
            "pyyaml": "PyYAML>=5 (requirements.txt:1) is not met: python3-yaml was upgraded from 6.0-3+b2 to "
                      "6.0.1-1 and no longer provides PyYAML",
        }, id="package-no-longer-provides"),
        pytest.param(_requests_without_extras, {"requests": CHANGED, "pysocks": CHANGED}, {
            "pysocks": "no longer required (was required by requests)",
        }, id="dependency-dropped"),
        pytest.param(_requests_needs_idna, {"requests": CHANGED, "idna": CHANGED}, {
            "idna": "newly relied on: python3-idna 3.3-1+deb12u1 (3.3)",
        }, id="dependency-added"),
        pytest.param(_pysocks_upgraded_by_hand, {"pysocks": CHANGED}, {
            "pysocks": "the venv's copy changed from 1.7.1 to 1.7.2",
        }, id="venv-copy-changed-by-hand"),
        pytest.param(_idna_installed_by_hand, {"idna": SHADOWING}, {
            "idna": "the venv's copy 3.7 hides python3-idna 3.3-1+deb12u1 (idna 3.3): nothing requires it",
        }, id="hand-installed-copy-hides-debian"),
    ],
)
def test_verdicts(change, expected, reasons):
    world = World.as_built()
    if change is not None:
        change(world)

    report = audit(world)

    assert statuses(report) == {**AS_BUILT, **expected}
    for key, reason in reasons.items():
        [judged] = [d for d in report.distributions if d.key == key]
        assert reason in judged.reasons
    broken = BROKEN in expected.values()
    assert report.exit_code == (EXIT_CHECK_FAILED if broken else EXIT_OK)
    assert report.needs_attention == (broken or REDUNDANT in expected.values())
    assert [d.status for d in report.distributions] == sorted(
        (d.status for d in report.distributions), key=STATUSES.index
    )


DPKG_ROOT = Path(__file__).parent / "data" / "dpkg-root"  # scripts/cut-dpkg-log: real dpkg wrote it


@pytest.mark.parametrize(
    "log, reason",
    [
        # dpkg's log: python3-yaml was upgraded to 6.0.2-1+b2 after the build, then removed.
        (DPKG_ROOT / "var" / "log" / "dpkg.log", "python3-yaml 6.0.2-1+b2 was removed (manifest had 6.0-3+b2)"),
        # The log removed what the manifest had.
        ("6.0-3+b2", "python3-yaml 6.0-3+b2 was removed"),
        # No log, or one that does not say: only what is known.
        (None, "python3-yaml is no longer installed (manifest had 6.0-3+b2)"),
    ],
    ids=["upgraded-then-removed", "removed-as-built", "log-silent"],
)
def test_a_removed_package_is_named_with_the_version_dpkg_removed(log, reason):
    world = World.as_built()
    world.remove("pyyaml")
    if isinstance(log, Path):
        removed = dpkglog.removed_versions(dpkglog.default_log(DPKG_ROOT / "var" / "lib" / "dpkg"))
    else:
        removed = {"python3-yaml": log} if log else {}

    [yaml] = [d for d in audit(world, removed=removed).distributions if d.key == "pyyaml"]

    assert yaml.status == BROKEN
    assert yaml.reasons == (f"PyYAML>=5 (requirements.txt:1) is not met: {reason}",)


def test_a_shadowing_copy_names_what_needs_it():
    [certifi] = [d for d in audit(World.as_built()).distributions if d.key == "certifi"]

    assert certifi.reasons == (
        "the venv's copy 2024.2.2 hides python3-certifi 2022.9.24-1 (certifi 2022.9.24): "
        "certifi>=2023.7.22 (requirements.txt:4) needs the venv's copy",
    )
    assert (certifi.debian.package, certifi.now.provenance, certifi.built.provenance) == (
        "python3-certifi", "venv", "venv")


def test_an_extra_walks_to_its_requirements():
    """requests[socks] reaches PySocks through requests' own 'extra == "socks"' requirement."""
    [pysocks] = [d for d in audit(World.as_built()).distributions if d.key == "pysocks"]

    assert [(d.requirement, d.required_by, d.origin, d.met) for d in pysocks.demands] == [
        ('PySocks!=1.5.7,>=1.5.6; extra == "socks"', "requests", "requests 2.28.1", True)
    ]


def test_a_requirement_whose_marker_is_false_is_not_judged():
    report = audit(World.as_built())

    assert "django" not in statuses(report)
    assert "flask" not in statuses(report)  # sentry-sdk[flask] was not asked for


def test_pip_check_problems_the_venv_brings_fail_the_audit():
    problem = "sentry-sdk 1.40.6 has requirement urllib3>=1.26.11, but you have urllib3 1.26.5."
    report = audit(World.as_built(), PipCheck(ran=True, problems=(problem,), system=()))

    assert report.exit_code == EXIT_CHECK_FAILED and report.needs_attention
    assert problem in render_audit(report, quiet=True)
    assert audit_document(report)["pip_check"] == {"ran": True, "problems": [problem], "system": []}


def test_problems_the_system_already_has_do_not():
    system = "pygobject 3.42.2 requires pycairo, which is not installed."
    report = audit(World.as_built(), PipCheck(ran=True, problems=(), system=(system,)))

    assert report.exit_code == EXIT_OK and not report.needs_attention


# ---- what sync asks pip for ---------------------------------------------------------------


@pytest.mark.parametrize(
    "change, key, line",
    [
        (_remove_yaml, "pyyaml", "PyYAML>=5"),
        # Every requirement on the distribution at once: the top-level bound and sentry-sdk's.
        (_urllib3_2, "urllib3", "urllib3<2,>=1.26.11"),
        (_sentry_uninstalled, "sentry-sdk", "sentry-sdk==1.40.6"),
        (lambda world: world.remove("requests"), "requests", "requests[socks]>=2.25"),
    ],
    ids=["removed", "too-new", "venv-copy-gone", "extras"],
)
def test_repair_line(change, key, line):
    world = World.as_built()
    change(world)
    report = audit(world)

    [judged] = [d for d in report.distributions if d.key == key]

    assert judged.status == BROKEN
    assert repair_line(judged, report.manifest) == line


def test_a_url_requirement_is_reinstalled_from_its_url_unless_masked():
    manifest = copy.deepcopy(MANIFEST)
    entry = manifest["requirements"][2]
    url = "https://files.example.org/sentry_sdk-1.40.6-py2.py3-none-any.whl"
    entry.update(requirement=f"sentry-sdk @ {url}", specifier="", url=url)
    world = World.as_built()
    _sentry_uninstalled(world)

    def broken_sentry(document):
        parsed = manifest_from_document(document, VENV / MANIFEST_NAME)
        report = evaluate_audit(parsed, world.index(), world.view(), world.packages)
        return next(d for d in report.distributions if d.key == "sentry-sdk"), parsed

    judged, parsed = broken_sentry(manifest)
    assert repair_line(judged, parsed) == f"sentry-sdk @ {url}"
    entry["url"] = "https://***@files.example.org/sentry_sdk-1.40.6-py2.py3-none-any.whl"
    judged, parsed = broken_sentry(manifest)
    with pytest.raises(SyncFailure, match="masked"):
        repair_line(judged, parsed)


# ---- rendering ----------------------------------------------------------------------------


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DEBVENV_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def drifted() -> World:
    """A security update past a bound, a newly packaged library and a binNMU, at once."""
    world = World.as_built()
    _urllib3_2(world)
    _tomli_w_packaged(world)
    world.install("pyyaml", Deb("python3-yaml", "6.0-3+b3", "PyYAML", "6.0", info="dist-info"))
    return world


@pytest.mark.parametrize(
    "output_format, quiet, golden",
    [("table", False, "audit.txt"), ("table", True, "audit-quiet.txt"), ("json", False, "audit.json")],
)
def test_reports(output_format, quiet, golden):
    text = render_audit(audit(drifted()), output_format, quiet=quiet)

    if output_format == "table":
        assert [line for line in text.splitlines() if len(line) > 80] == []
    assert_golden(golden, text)


def test_quiet_says_nothing_when_nothing_needs_attention():
    world = World.as_built()
    _urllib3_security_update(world)  # changed, shadowing, ok: nothing for cron to mail
    report = audit(world)

    assert render_audit(report, "table", quiet=True) == ""
    assert render_audit(report, "json", quiet=True) == ""
    assert render_audit(report, "table") != ""


def test_json_has_exactly_the_schema_keys():
    document = audit_document(audit(drifted()))

    assert set(document) == {
        "schema", "venv", "manifest", "python", "distributions", "pip_check", "summary", "exit_code", "warnings"
    }  # fmt: skip
    assert document["schema"] == SCHEMA
    assert set(document["manifest"]) == {"path", "created", "debvenv_version"}
    assert set(document["python"]) == {"path", "built", "now"}
    assert set(document["summary"]) == set(STATUSES)
    assert document["summary"] == {"broken": 1, "redundant": 1, "shadowing": 1, "changed": 1, "ok": 4}
    assert document["exit_code"] == EXIT_CHECK_FAILED
    for row in document["distributions"]:
        assert set(row) == {"name", "status", "reasons", "now", "built", "debian", "required_by", "requirements"}
        for copy_ in (row["now"], row["built"]):
            assert copy_ is None or set(copy_) == {"provenance", "version", "package", "debian_version", "path"}
        assert row["debian"] is None or set(row["debian"]) == {"package", "debian_version", "version", "path"}
        for demand in row["requirements"]:
            assert set(demand) == {"requirement", "required_by", "origin", "specifier", "met"}


def test_sync_summary():
    world = drifted()
    report = audit(world)
    [tomli_w] = report.with_status(REDUNDANT)
    result = SyncResult(
        venv=VENV, before=report, requested=("urllib3<2,>=1.26.11",),
        installed=(InstalledDistribution("urllib3", "1.26.18", True, None),),
        removed=(tomli_w.now,), kept_redundant=(), build=None,
    )  # fmt: skip

    text = render_sync(result)

    assert text.startswith(f"{VENV}: synced\n")
    assert "installed into the venv (1):\n  urllib3 1.26.18\n" in text
    assert "repaired (1):\n  urllib3: urllib3<2 (requirements.txt:7) is not met: python3-urllib3 was" in text
    assert "removed from the venv, Debian satisfies them (1):\n  tomli_w 1.0.0 (now python3-tomli-w 1.0.0-1)\n" in text
    assert [line for line in text.splitlines() if len(line) > 80] == []


# ---- a manifest that cannot be trusted ------------------------------------------------------


def _without(key):
    def change(document):
        del document[key]
        return json.dumps(document)
    return change


def _with(path, value):
    def change(document):
        target = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        return json.dumps(document)
    return change


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no manifest: {venv} was not built by debvenv build"),
        ("", "debvenv.json:1: corrupt: not JSON: Expecting value"),
        ('{"schema": "debvenv.manifest/1",\n "venv": }', "debvenv.json:2: corrupt: not JSON"),
        (b"\xff\xfe{}", "corrupt: not UTF-8"),
        ("[]", "not a debvenv manifest: a JSON list, not an object"),
        (_with(["schema"], "debvenv.manifest/2"),
         "written by a newer debvenv (schema debvenv.manifest/2; this debvenv reads debvenv.manifest/1)"),
        (_with(["schema"], "debvenv.report/1"), "not a debvenv manifest: schema 'debvenv.report/1'"),
        (_without("schema"), "not a debvenv manifest: schema None"),
        (_without("requirements"), "corrupt: requirements: expected a list, found missing"),
        (_with(["python", "path"], None), "corrupt: python.path: expected a string, found a null"),
        (_with(["requirements", 1, "specifier"], ">=>2"), "corrupt: requirements[1].specifier: Invalid specifier"),
        (_with(["requirements", 7, "marker"], 'python_version <'), "corrupt: requirements[7].marker"),
        (_with(["requirements", 0, "line"], "1"), "requirements[0].line: expected an integer, found a string"),
        (_with(["distributions", 2, "provenance"], "pypi"),
         "corrupt: distributions[2].provenance: unknown provenance 'pypi'"),
        (_with(["distributions", 0], "PyYAML"), "distributions[0]: expected an object, found a string"),
        (_with(["pip", "args"], [1]), "corrupt: pip.args: expected a list of strings"),
        ("[" * 100_000 + "]" * 100_000, "corrupt: JSON nested too deeply"),
        (_with(["venv"], "relative/venv"), "corrupt: venv: expected an absolute path"),
        (_with(["venv"], "/" + "v" * 100_000), "corrupt: venv: expected at most 4096 characters"),
        (_with(["created"], "yesterday"), "corrupt: created: expected a UTC time"),
        (_with(["created"], "2024-05-02T09:30:00"), "corrupt: created: expected a UTC time"),
        (_with(["created"], "2" * 100_000), "corrupt: created: expected at most 100 characters"),
        (_with(["requirements", 1, "specifier"], ">=" + "9" * 5000), "corrupt: requirements[1].specifier"),
        (_with(["requirements", 7, "marker"], "(" * 5000 + 'python_version < "3"' + ")" * 5000),
         "corrupt: requirements[7].marker"),
    ],
    ids=["missing", "empty", "truncated", "not-utf8", "list", "newer-schema", "other-schema", "no-schema",
         "no-requirements", "null-python", "bad-specifier", "bad-marker", "line-type", "provenance",
         "distribution-type", "pip-args", "100k-deep", "relative-venv", "long-venv", "bad-created",
         "created-without-zone", "long-created", "5000-digit-specifier", "deep-marker"],
)
def test_a_bad_manifest_is_refused_and_nothing_changes(tmp_path, content, message):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = true\n")
    if content is not None:
        data = content(copy.deepcopy(MANIFEST)) if callable(content) else content
        (venv / MANIFEST_NAME).write_bytes(data if isinstance(data, bytes) else data.encode())
    before = snapshot(tmp_path)

    attempts = (lambda: read_manifest(venv), lambda: audit_venv(venv), lambda: sync_venv(venv, drop_redundant=True))
    for attempt in attempts:
        with pytest.raises(ManifestError) as raised:
            attempt()
        assert raised.value.exit_code == EXIT_BAD_INPUT
        assert message.format(venv=venv) in str(raised.value)
        assert str(venv / MANIFEST_NAME) in str(raised.value)
    assert snapshot(tmp_path) == before


def test_a_missing_directory_is_bad_input(tmp_path):
    with pytest.raises(ManifestError, match="no such directory") as raised:
        audit_venv(tmp_path / "nowhere")
    assert raised.value.exit_code == EXIT_BAD_INPUT
    assert not (tmp_path / "nowhere").exists()


def snapshot(directory: Path) -> Dict[str, Tuple[bytes, int]]:
    found: Dict[str, Tuple[Optional[bytes], int]] = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(root) / name
            found[str(path)] = (path.read_bytes() if path.is_file() else None, path.stat().st_mtime_ns)
    return found
