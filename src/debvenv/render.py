"""Reports -> text: terminal table, JSON (``debvenv.report/2``), Markdown and HTML.

Decide first, render last: everything here reads a finished ``CheckReport``
and returns a string; nothing here prints or decides a status.
"""

from __future__ import annotations

import json
import textwrap
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    import jinja2

from debvenv.commands import SuiteStatus
from debvenv.evaluate import (
    ALL_STATUSES,
    MISSING,
    NOT_INSTALLED,
    STATUSES,
    Candidate,
    CheckReport,
    RequirementResult,
    Verdict,
    candidate_note,
)
from debvenv.index import Target
from debvenv.requirements import requirement_document
from debvenv.targets import age_text

# /2 added each result's "candidates"; a /1 reader that ignores unknown keys reads /2 as it was.
SCHEMA = "debvenv.report/2"
FORMATS = ("table", "json", "markdown", "html")
TABLE_WIDTH = 80

# Short cell labels for the multi-target matrix, so several targets fit in 80 columns.
_MATRIX_LABELS = {
    "satisfied": "ok",
    "outdated": "old",
    "too-new": "new",
    "excluded": "excl",
    "missing": "-",
    "url": "url",
    "not-applicable": "n/a",
    "unknown-version": "?",
}


# ---- JSON -------------------------------------------------------------------------


def _candidate_document(candidate: Candidate) -> Dict[str, Any]:
    ships = candidate.ships
    return {
        "package": candidate.package,
        "version": candidate.debian_version,
        "ships": {"name": ships[0], "version": ships[1]} if ships is not None else None,
        "reason": candidate.reason,
    }


def _result_document(verdict: Verdict) -> Dict[str, Any]:
    provider = verdict.provider
    return {
        "status": verdict.status,
        "package": provider.package if provider else None,
        "debian_version": provider.debian_version if provider else None,
        "version": provider.version if provider else None,
        "mapping": provider.mapping if provider else None,
        "candidates": [_candidate_document(c) for c in verdict.candidates],
    }


def _target_document(target: Target) -> Dict[str, Optional[str]]:
    return {
        "id": target.id,
        "kind": target.kind,
        "python": target.python,
        "arch": target.arch,
        # null when the target was answered; else why not (its results and summary are absent).
        "error": target.error,
    }


def report_document(report: CheckReport) -> Dict[str, Any]:
    """The ``debvenv.report/2`` document: docs/design.md's keys, and each result's ``candidates``."""
    requirements = []
    for result in report.results:
        document = requirement_document(result.requirement)
        document["results"] = {
            target_id: _result_document(verdict) for target_id, verdict in result.verdicts.items()
        }
        requirements.append(document)
    return {
        "schema": SCHEMA,
        "targets": [_target_document(t) for t in report.targets],
        "requirements": requirements,
        "summary": report.summary(),
    }


def render_json(report: CheckReport) -> str:
    return json.dumps(report_document(report), indent=2, sort_keys=True) + "\n"


# ---- terminal table ---------------------------------------------------------------


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _column_widths(rows: Sequence[Tuple[str, ...]]) -> List[int]:
    """Widths for left-aligned columns; the first gives way to keep the table in 80 columns."""
    count = len(rows[0])
    widths = [max(len(row[i]) for row in rows) for i in range(count)]
    rest = sum(widths[1:]) + 2 * count
    widths[0] = max(12, min(widths[0], TABLE_WIDTH - rest))
    return widths


def _row(cells: Tuple[str, ...], widths: Sequence[int]) -> str:
    if not any(cells[1:]):
        # Nothing beside it (missing, url, not-applicable): the requirement may use the line.
        return "  " + _fit(cells[0], TABLE_WIDTH - 2)
    laid = [_fit(cell, width).ljust(width) for cell, width in zip(cells, widths)]
    return ("  " + "  ".join(laid)).rstrip()


def _wrapped(text: str, indent: str = "") -> List[str]:
    """``text`` broken at spaces into lines of at most 80 columns."""
    return textwrap.wrap(text, TABLE_WIDTH, subsequent_indent=indent, break_on_hyphens=False) or [""]


# A matrix cell, and verdict_line's status, for a target that could not be answered.
UNAVAILABLE = "unavailable"


def _target_heading(target: Target) -> str:
    if target.error is not None:
        return f"{target.id}: {UNAVAILABLE}: {target.error}"
    kinds = {"installed": "installed Debian packages", "apt": "this machine's apt lists"}
    what = kinds.get(target.kind, "suite")
    return f"{target.id}: {what}, Python {target.python}, {target.arch or 'any arch'}"


def _summary_line(counts: Dict[str, int]) -> str:
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    return ", ".join(parts) if parts else "no requirements"


def _single_target_table(report: CheckReport, target: Target) -> str:
    def cells(result: RequirementResult) -> Tuple[str, ...]:
        provider = result.verdicts[target.id].provider
        package = f"{provider.package} {provider.debian_version}" if provider else ""
        return (result.requirement.text, package, provider.version if provider else "")

    lines = [_target_heading(target), ""]
    if report.results:
        widths = _column_widths([cells(result) for result in report.results])
    for status in ALL_STATUSES:
        group = [r for r in report.results if r.verdicts[target.id].status == status]
        if not group:
            continue
        lines.append(f"{status} ({len(group)})")
        for result in group:
            lines.append(_row(cells(result), widths))
            for note in result.verdicts[target.id].notes:
                lines.append(f"      {_fit(note, TABLE_WIDTH - 6)}")
    lines.append("")
    lines.extend(
        _wrapped(f"{len(report.results)} requirements: {_summary_line(report.summary()[target.id])}", "  ")
    )
    return "\n".join(lines) + "\n"


def _matrix_cell(verdict: Verdict) -> str:
    label = _MATRIX_LABELS[verdict.status]
    if verdict.provider is not None and verdict.status != "missing":
        return f"{label} {verdict.provider.version}"
    return label


def _matrix_table(report: CheckReport) -> str:
    header = ("requirement",) + tuple(t.id for t in report.targets)
    rows = [header]
    for result in report.results:
        rows.append(
            (result.requirement.text,)
            + tuple(
                _matrix_cell(result.verdicts[t.id]) if t.error is None else UNAVAILABLE
                for t in report.targets
            )
        )
    lines = [line for t in report.targets for line in _wrapped(_target_heading(t), "  ")] + [""]
    widths = _column_widths(rows)
    lines.extend(_row(row, widths) for row in rows)
    lines.append("")
    legend = ", ".join(f"{_MATRIX_LABELS[s]}={s}" for s in ALL_STATUSES)
    lines.extend(_wrapped(legend, "  "))
    summary = report.summary()
    for target in report.answered:
        lines.extend(_wrapped(f"{target.id}: {_summary_line(summary[target.id])}", "  "))
    for target in report.failed:
        lines.extend(_wrapped(f"{target.id}: {UNAVAILABLE} (see above)", "  "))
    return "\n".join(lines) + "\n"


def render_table(report: CheckReport) -> str:
    if len(report.targets) == 1:
        return _single_target_table(report, report.targets[0])
    return _matrix_table(report)


# ---- templates --------------------------------------------------------------------


def _template_directory() -> Path:
    installed = Path(__file__).parent / "templates"
    if installed.is_dir():
        return installed
    # Running from a source checkout: templates/ sits at the top of the tree.
    return Path(__file__).resolve().parents[2] / "templates"


def template_environment() -> "jinja2.Environment":
    # Imported here: the table and JSON formats, the common case, need no templates.
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_template_directory())),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html.j2"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _template_context(report: CheckReport) -> Dict[str, Any]:
    return {
        "document": report_document(report),
        "statuses": STATUSES,
        "results": report.results,
        # The grid shows the answered targets; the failed ones are listed with their reason.
        "targets": report.answered,
        "failed": report.failed,
        "summary": report.summary(),
        "warnings": report.warnings,
        # A missing cell says what exists under a look-alike name.
        "candidate_note": candidate_note,
    }


def render_markdown(report: CheckReport) -> str:
    return template_environment().get_template("report.md.j2").render(_template_context(report))


def render_html(report: CheckReport) -> str:
    return template_environment().get_template("report.html.j2").render(_template_context(report))


RENDERERS = {
    "table": render_table,
    "json": render_json,
    "markdown": render_markdown,
    "html": render_html,
}


def render(report: CheckReport, output_format: str) -> str:
    return RENDERERS[output_format](report)


def verdict_line(result: RequirementResult, target: Target) -> str:
    """One line answering ``which``: the reviewer's question for one target."""
    if target.error is not None:
        return f"{target.id}: {result.requirement.text}: {UNAVAILABLE}: {target.error}"
    verdict = result.verdicts[target.id]
    provider = verdict.provider
    if provider is None and verdict.status == MISSING and verdict.candidates:
        # The verdict stays: "missing: not installed (apt offers python3-django 4.2.30)",
        # "missing (python3-thumbhash exists and ships thumbhash_py 0.1.2)".
        first, rest = verdict.candidates[0], verdict.candidates[1:]
        hints = "; ".join(candidate_note(c) for c in rest)
        if first.reason == NOT_INSTALLED:
            said = f"{verdict.status}: {candidate_note(first)}" + (f"; {hints}" if hints else "")
        else:
            said = f"{verdict.status} ({'; '.join(filter(None, (candidate_note(first), hints)))})"
        return f"{target.id}: {result.requirement.text}: {said}"
    if provider is None:
        found = "no Debian package"
    else:
        found = f"{provider.package} {provider.debian_version} ({provider.name} {provider.version}, {provider.mapping})"
    return f"{target.id}: {result.requirement.text}: {verdict.status}: {found}"


def render_suite_statuses(statuses: Sequence[SuiteStatus], now: datetime, output_format: str) -> str:
    """``debvenv index``: one line per suite (or a JSON list)."""
    if output_format == "json":
        return json.dumps(
            [
                {
                    "suite": s.suite,
                    "mirror": s.mirror,
                    "components": list(s.components),
                    "arch": s.arch,
                    "date": s.release_date.isoformat(),
                    "fetched_at": s.fetched_at.isoformat(),
                    "offline": s.offline,
                    "python": s.python,
                    "distributions": s.distributions,
                }
                for s in statuses
            ],
            indent=2,
            sort_keys=True,
        ) + "\n"
    rows = [("suite", "date", "python", "dists", "fetched", "mirror")]
    for s in statuses:
        age = age_text(now - s.fetched_at) + " ago" + (" (offline)" if s.offline else "")
        rows.append(
            (s.suite, f"{s.release_date:%Y-%m-%d}", s.python, str(s.distributions), age, s.mirror)
        )
    # Not squeezed into 80 columns: a cut URL is no use to anyone.
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(_row(row, widths) for row in rows) + "\n"

