"""Distribution names: PEP 503 normalization and the naming rule used only as a last resort."""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

_PYTHON3_PREFIX = "python3-"


def normalize(name: str) -> str:
    """The PEP 503 form of a distribution name (``PyYAML`` -> ``pyyaml``)."""
    return str(canonicalize_name(name))


def guessed_package(name: str) -> str:
    """Debian's naming rule for a distribution: ``python3-`` plus the lowercased name.

    Only for targets without metadata (an apt list with no Contents); the
    report then says ``mapping: guessed``.
    """
    return _PYTHON3_PREFIX + re.sub(r"[-_.]+", "-", name).lower()
