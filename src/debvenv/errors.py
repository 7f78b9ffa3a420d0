"""The error types debvenv raises, each carrying the exit code docs/design.md gives it.

Only ``cli.main`` turns them into a message and an exit code; the core raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can."""

    file: str
    line: Optional[int]
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class DebvenvError(Exception):
    """Base of every error debvenv reports without a traceback."""

    exit_code = EXIT_ENVIRONMENT


class InputError(DebvenvError):
    """Bad input from the user: usage, unreadable or malformed file (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class EnvironmentFailure(DebvenvError):
    """The environment failed: network, signature, corrupt index, interpreter, pip (exit 3)."""

    exit_code = EXIT_ENVIRONMENT


class ProblemsError(InputError):
    """Several located problems found in one pass over the input, all reported together."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: Tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
