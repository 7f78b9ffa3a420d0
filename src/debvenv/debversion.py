"""Debian versions: their order, the PEP 440 version they carry, and PEP 440 specifiers as Debian relations.

Grammar of a Debian version (Debian Policy 5.6.12, as dpkg splits it)::

    version   = [epoch ":"] upstream ["-" revision]
    epoch     = digit+
    upstream  = [A-Za-z0-9.+~:-]+   ; ":" only after an epoch, "-" only before a revision
    revision  = [A-Za-z0-9.+~]+     ; everything after the *last* "-"

Like dpkg, an upstream part not starting with a digit is accepted (dpkg only
warns); an empty epoch, upstream part or revision (``1.0-``) is a
``DebianVersionError``.

Order: python-debian's pure-Python ``NativeVersion``, chosen explicitly.
``debian.debian_support.Version`` silently becomes the ``apt_pkg`` backend
when python3-apt is importable, so which code orders versions would depend
on the machine.

Debian version -> upstream PEP 440 version (``upstream_version``), in this order:

1. The epoch (``2:``) is dropped: it is a packaging artefact, never a PEP 440
   epoch. The revision (after the last ``-``, which holds ``+bN`` binNMUs,
   ``+debNuM``, ``~bpoN+M`` and Ubuntu's ``ubuntuN``/``buildN``) is dropped.
2. ``A+reallyB`` (also ``A+really+B``, ``A+really.B``, ``A+0.really.B``) is B:
   the packager went back to upstream B under a higher Debian version. The
   last ``really`` after a ``+`` or ``.`` wins.
3. Repack suffixes are dropped wherever they appear: ``+dfsg``, ``+ds``,
   ``+repack``, spelled with ``+``, ``~`` or ``.`` and followed by optional
   digits or ``.N`` (``+dfsg1``, ``+ds.1``, ``~dfsg``, ``.dfsg``, ``~repack0``).
4. The text before the first remaining ``+`` is the public version. In it,
   each Debian pre-release ``~WORD[N]`` (WORD one of a, b, c, rc, alpha,
   beta, pre, preview, dev) loses its ``~`` and packaging normalizes it:
   ``~rc1`` -> ``rc1``, ``~beta2`` -> ``b2``, ``~pre1`` -> ``rc1``,
   ``~dev3`` -> ``.dev3``. Any other ``~`` (``0.0~git2023...``) is left,
   so the result is not PEP 440.
5. The text after that ``+`` (``+git20230101.abc123``, ``+nmu1``) becomes a
   PEP 440 local label, further ``+`` read as ``.``, if packaging accepts it;
   otherwise it is dropped and a note says so (``+~1.11.4``).
6. packaging's ``Version`` parses the result. When it refuses (Ubuntu's
   native ``0.23ubuntu1``, ``1.1build1``, OpenSSH's ``9.2p1``), ``version``
   is None and the note says "not a PEP 440 version"; nothing raises.

Every step that changes something adds a short note ("epoch 2 dropped",
"+dfsg dropped", "+really: 0.3.1 taken", "~rc1 -> rc1").

PEP 440 version -> Debian upstream spelling (``debian_upstream``): the
release as written, ``~a1``/``~b1``/``~rc1`` for pre-releases (so they sort
below the release), ``.postN``, ``~devN``, ``+local``. A PEP 440 epoch has
no Debian counterpart (``DebianRelationError``).

PEP 440 specifier -> Debian relations (``specifier_to_relations``). Debian
spellings of one PEP 440 version V are many: ``1.19``, ``1.19.0``,
``1.19+dfsg``, ``1.19+git2023`` each with any revision. Two bounds carry the
translation:

* ``low(V)`` = V as written (``1.19``, ``1.0~rc1``): the lowest spelling of V
  that spells its release the way the requirement does. It is above every
  pre-release of V spelled the same way.
* ``high(V)`` = the release padded with zeros to at least three components,
  then ``.1~`` (``1.19`` -> ``1.19.0.1~``, ``2`` -> ``2.0.0.1~``,
  ``1.4.5`` -> ``1.4.5.1~``); for a pre-, post- or dev release, its spelling
  plus ``.1~`` (``1.0~rc1.1~``). It is above every spelling of V
  (``1.19.0+dfsg-3``: ``+`` and ``-`` sort below ``.``) and below the next
  release (``1.19.0.1``, ``1.19.1``, ``1.20~rc1``). Digits cannot make a bound
  above all of ``1.19(.0)*`` yet below all of ``1.19(.0)*.1``, so the padding
  stops somewhere: every release of up to four components is placed right.
  A textual "append a digit" (``<< 1.110~`` for ``==1.19``) is the known
  bug this avoids.

Then, with S the release with trailing zeros stripped (``1.0`` -> ``1``) and
``next(P)`` the prefix P with its last component plus one:

====================  =========================================================
``>=V``               ``>= low(V)``
``>V``                ``>= high(V)``: V's local and repacked spellings are
                      below it, as PEP 440 wants
``<=V``               ``<< high(V)``
``<V``                ``<< S~`` for a final V: below every spelling of V and of
                      its pre-releases (``<1.0`` rejects ``1.0~rc1`` and
                      ``1~rc1``); ``<< V`` for a pre-release V; ``<< V~`` for
                      a post-release V
``==V``, ``===V``     ``>= low(V)``, ``<< high(V)`` (``===`` is read as ``==``)
``!=V``               one ``<< A | >= B`` per spelling of V's release with
                      as many zeros as high(V) or fewer: ``!=5.0.0`` is
                      ``<< 5 | >= 5.0~``, ``<< 5.0 | >= 5.0.0~``,
                      ``<< 5.0.0 | >= 5.0.0.1~``. PEP 440 calls ``5-1``,
                      ``5.0-1`` and ``5.0.0+dfsg-1`` all 5.0.0, but
                      ``5.0~rc1`` (between them in dpkg's order) is not.
                      A pre-release is placed right in up to three
                      components (or V's own number); a post-release or
                      local V is ``<< low(V) | >= high(V)``
``==P.*``             ``>= S(P)~``, ``<< next(P)~``
``!=P.*``             ``<< S(P)~ | >= next(P)~``
``~=V``               ``>= low(V)``, ``<< next(V's release minus its last)~``
                      (``~=1.4.5`` -> ``>= 1.4.5``, ``<< 1.5~``)
====================  =========================================================

Every bound gets the epoch of the Debian version that is meant to satisfy
it: ``Django>=3.2`` against ``3:3.2.19-1`` is ``python3-django (>= 3:3.2)``.
An empty specifier is the bare package name.

Known limits, each where dpkg's order and PEP 440's cannot agree, so no
relation can be right:

* ``.postN`` sorts above every further release component in dpkg
  (``1.2.post1`` > ``1.2.5``) but below in PEP 440; so ``>1.2`` also lets in
  ``1.2.post1``, which PEP 440 excludes.
* ``~devN`` sorts above ``~aN``/``~bN`` in dpkg, below in PEP 440.
* A final release spelled with fewer components than the requirement spells
  (``6.0`` for ``>=6.0.0``) sorts below ``low(V)``; a pre-release spelled with
  more (``1.0~rc1`` for ``>=1``) sorts above it. ``low(V)`` assumes Debian
  spells the release as the requirement does, as a packager copying
  upstream's version usually makes it.
* A release of five or more components with a nonzero fifth one
  (``1.19.0.0.1`` for ``==1.19``) is past ``high(V)``'s padding.
* ``~dfsg`` repacks sort below the release they repack.
* packaging's ``>V`` and ``<V`` also compare base versions (``>1.0rc1``
  rejects ``1.0.post1``; ``<1.0.post2`` rejects ``1.0rc1``): not an order,
  so not followed.
* Local labels in ``==``/``!=`` are matched approximately.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from debian.debian_support import NativeVersion
from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from debvenv import errors


class DebianVersionError(errors.EnvironmentFailure):
    """A Debian version that dpkg would refuse; such versions come from index data."""


class DebianRelationError(errors.InputError):
    """A PEP 440 specifier (from the user's requirements) that Debian relations cannot express."""


@dataclass(frozen=True)
class DebianVersion:
    """A Debian version split the way dpkg splits it."""

    epoch: int  # 0 when absent
    upstream: str
    revision: str  # "" for a native version


@dataclass(frozen=True)
class UpstreamVersion:
    """The PEP 440 version a Debian version carries, and what was changed to get it."""

    debian: str  # the Debian version given
    upstream: str  # the translated upstream version: normalized when version is not None
    version: Optional[Version]  # None when the result is not PEP 440
    notes: Tuple[str, ...] = ()


_EPOCH_RE = re.compile(r"[0-9]+")
_UPSTREAM_RE = re.compile(r"[A-Za-z0-9.+~:-]+")
_REVISION_RE = re.compile(r"[A-Za-z0-9.+~]+")


def parse_debian_version(text: str) -> DebianVersion:
    """Split a Debian version into epoch, upstream and revision, refusing what dpkg refuses."""
    rest = text
    epoch = 0
    if ":" in rest:
        epoch_text, rest = rest.split(":", 1)
        if not _EPOCH_RE.fullmatch(epoch_text):
            raise DebianVersionError(f"invalid Debian version {text!r}: epoch {epoch_text!r} is not a number")
        epoch = int(epoch_text)
    revision = ""
    if "-" in rest:
        rest, revision = rest.rsplit("-", 1)
        if not _REVISION_RE.fullmatch(revision):
            raise DebianVersionError(f"invalid Debian version {text!r}: bad or empty revision {revision!r}")
    if not rest:
        raise DebianVersionError(f"invalid Debian version {text!r}: empty upstream version")
    if not _UPSTREAM_RE.fullmatch(rest):
        raise DebianVersionError(f"invalid Debian version {text!r}: invalid character in upstream version")
    return DebianVersion(epoch=epoch, upstream=rest, revision=revision)


def debian_version_key(text: str) -> NativeVersion:
    """A sort key ordering Debian versions as dpkg does (pure Python, never apt_pkg)."""
    parse_debian_version(text)
    return NativeVersion(text)


def compare_debian_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version a sorts below, equal to or above b."""
    ka, kb = debian_version_key(a), debian_version_key(b)
    return (ka > kb) - (ka < kb)


# Debian -> PEP 440 -----------------------------------------------------------

_REALLY_RE = re.compile(r"[+.]really")
_REPACK_RE = re.compile(r"[+~.](?:dfsg|ds|repack)(?:\.?[0-9]+)*(?=$|[+~.-])")
_PRE_RE = re.compile(
    r"~(?P<word>alpha|beta|preview|pre|rc|dev|a|b|c)(?P<number>\.?[0-9]+)?(?![A-Za-z])",
    re.IGNORECASE,
)


def _normalized_pre(word: str, number: str) -> str:
    # packaging's own spelling of the segment: "beta2" -> "b2", "dev3" -> ".dev3".
    return str(Version("0" + word + number))[1:]


def upstream_version(debian_version: str) -> UpstreamVersion:
    """Translate a Debian version into the upstream PEP 440 version it packages (module docstring, steps 1-6)."""
    parsed = parse_debian_version(debian_version)
    notes: List[str] = []
    if parsed.epoch:
        notes.append(f"epoch {parsed.epoch} dropped")
    text = parsed.upstream

    # trixie's click is 8.2.0+0.really.8.1.8: a "+0" before the ".really" keeps it above 8.2.0.
    really = [m for m in _REALLY_RE.finditer(text) if "+" in text[: m.end()]]
    if really and len(text) > really[-1].end():
        taken = text[really[-1].end():]
        if taken[0] in "+.":
            taken = taken[1:]
        if taken:
            text = taken
            notes.append(f"+really: {taken} taken")

    def drop_repack(match: re.Match) -> str:
        notes.append(f"{match.group(0)} dropped")
        return ""

    text = _REPACK_RE.sub(drop_repack, text)

    public, plus, local = text.partition("+")
    pre_notes: List[str] = []

    def map_pre(match: re.Match) -> str:
        word, number = match.group("word"), match.group("number") or ""
        pre_notes.append(f"~{word}{number} -> {_normalized_pre(word, number)}")
        return word + number

    mapped = _PRE_RE.sub(map_pre, public)
    candidates = []
    if plus:
        candidates.append((f"{mapped}+{local.replace('+', '.')}", None))
        candidates.append((mapped, f"+{local} dropped: not a PEP 440 local label"))
    else:
        candidates.append((mapped, None))
    for candidate, note in candidates:
        try:
            version = Version(candidate)
        except InvalidVersion:
            continue
        all_notes = notes + pre_notes + ([note] if note else [])
        return UpstreamVersion(debian_version, str(version), version, tuple(all_notes))
    notes.append("not a PEP 440 version")
    return UpstreamVersion(debian_version, text, None, tuple(notes))


# PEP 440 -> Debian -----------------------------------------------------------


def debian_upstream(version: Version) -> str:
    """Spell a PEP 440 version the Debian way: ``1.0rc1`` -> ``1.0~rc1``, ``1.0.dev1`` -> ``1.0~dev1``."""
    if version.epoch:
        raise DebianRelationError(f"{version}: a PEP 440 epoch has no Debian counterpart")
    text = _join(version.release)
    if version.pre is not None:
        text += f"~{version.pre[0]}{version.pre[1]}"
    if version.post is not None:
        text += f".post{version.post}"
    if version.dev is not None:
        text += f"~dev{version.dev}"
    if version.local is not None:
        text += f"+{version.local}"
    return text


def _join(release: Tuple[int, ...]) -> str:
    return ".".join(str(part) for part in release)


def _stripped(release: Tuple[int, ...]) -> Tuple[int, ...]:
    end = len(release)
    while end > 1 and release[end - 1] == 0:
        end -= 1
    return release[:end]


def _next(prefix: Tuple[int, ...]) -> Tuple[int, ...]:
    return prefix[:-1] + (prefix[-1] + 1,)


def _is_final(version: Version) -> bool:
    return version.pre is None and version.post is None and version.dev is None


def _high(version: Version) -> str:
    """Above every Debian spelling of version, below every later release (see the module docstring)."""
    if _is_final(version) and version.local is None:
        release = version.release + (0,) * max(0, 3 - len(version.release))
        return _join(release) + ".1~"
    return debian_upstream(version) + ".1~"


def _not_equal(version: Version) -> List[_Clause]:
    """``!=V``: one excluded interval per Debian spelling of V's release (see the module docstring).

    dpkg sorts ``5 < 5-1 < 5+dfsg-1 < 5.0~rc1 < 5.0 < 5.0-1 < 5.0.0``; PEP 440
    calls all of them but ``5.0~rc1`` equal to 5.0.0, so a single
    ``<< low | >= high`` either lets ``5-1`` through or rejects ``5.0~rc1``.
    Each interval runs from one spelling to just below the next one's
    pre-releases (``[5, 5.0~)``); the last ends at high(V). For post-releases
    and local labels dpkg and PEP 440 disagree on zeros anyway
    (``1.0.0.post1`` sorts below ``1.0.post1``), so V's own spelling is kept.
    """
    if version.post is not None or version.local is not None:
        return [(("<<", debian_upstream(version)), (">=", _high(version)))]
    release = _stripped(version.release)
    longest = max(3, len(version.release))
    suffix = debian_upstream(version)[len(_join(version.release)) :]  # ~rc1, ~dev2 or nothing
    clauses: List[_Clause] = []
    for length in range(len(release), longest + 1):
        spelled = release + (0,) * (length - len(release))
        low = _join(spelled) + suffix
        if length < longest and not suffix:
            high = _join(spelled + (0,)) + "~"
        else:
            high = low + ".1~"
        clauses.append((("<<", low), (">=", high)))
    return clauses


def _below(version: Version) -> str:
    """The bound of ``<V``: below V and, unless V is itself one, below V's pre-releases."""
    if version.is_prerelease:
        return debian_upstream(version)
    if _is_final(version):
        return _join(_stripped(version.release)) + "~"
    return debian_upstream(version) + "~"


def _spec_version(spec: Specifier, text: str) -> Version:
    try:
        version = Version(text)
    except InvalidVersion:
        raise DebianRelationError(f"{spec}: {text!r} is not a PEP 440 version") from None
    if version.epoch:
        raise DebianRelationError(f"{spec}: a PEP 440 epoch has no Debian counterpart")
    return version


# A clause is a disjunction of (operator, Debian version) alternatives.
_Clause = Tuple[Tuple[str, str], ...]


def _clauses(spec: Specifier) -> List[_Clause]:
    op, text = spec.operator, spec.version
    if op in ("==", "!=") and text.endswith(".*"):
        prefix = _spec_version(spec, text[:-2]).release
        low = _join(_stripped(prefix)) + "~"
        high = _join(_next(prefix)) + "~"
        if op == "==":
            return [((">=", low),), (("<<", high),)]
        return [(("<<", low), (">=", high))]
    version = _spec_version(spec, text)
    low = debian_upstream(version)
    if op == "~=":
        return [((">=", low),), (("<<", _join(_next(version.release[:-1])) + "~"),)]
    if op in ("==", "==="):
        return [((">=", low),), (("<<", _high(version)),)]
    if op == "!=":
        return _not_equal(version)
    if op == ">=":
        return [((">=", low),)]
    if op == ">":
        return [((">=", _high(version)),)]
    if op == "<=":
        return [(("<<", _high(version)),)]
    if op == "<":
        return [(("<<", _below(version)),)]
    raise DebianRelationError(f"{spec}: unknown operator {op!r}")


_OPERATOR_ORDER = {">=": 0, ">": 1, "~=": 2, "==": 3, "===": 4, "!=": 5, "<=": 6, "<": 7}


def _spec_order(spec: Specifier) -> Tuple[Version, int, str]:
    # Lower bounds first, then by version: the order a reader expects.
    try:
        version = Version(spec.version[:-2] if spec.version.endswith(".*") else spec.version)
    except InvalidVersion:
        version = Version("0")
    return (version, _OPERATOR_ORDER.get(spec.operator, 8), str(spec))


def specifier_to_relations(
    package: str, specifier: SpecifierSet, debian_version: Optional[str] = None
) -> Tuple[str, ...]:
    """Translate a PEP 440 specifier into Debian relations on package, all of which must hold.

    Each string is one Depends entry, possibly with ``|`` alternatives. The
    epoch of ``debian_version`` (the package meant to satisfy them) is put on
    every bound. Raises DebianRelationError for what Debian cannot express
    (PEP 440 epochs, ``===`` on a non-version).
    """
    epoch = parse_debian_version(debian_version).epoch if debian_version is not None else 0
    prefix = f"{epoch}:" if epoch else ""
    relations: List[str] = []
    for spec in sorted(specifier, key=_spec_order):
        for clause in _clauses(spec):
            text = " | ".join(f"{package} ({op} {prefix}{bound})" for op, bound in clause)
            if text not in relations:
                relations.append(text)
    return tuple(relations) if relations else (package,)
