"""The daily report summary and the indicators as plain tables: the same rows for the CSV
download, the terminal (``aefi report``) and the tests. Headers are in the current
language; CSV files carry a byte-order mark so that spreadsheet programs read Chinese.

Every CSV aefi writes goes through ``aefi.spreadsheet.csv_writer``, the one home of the
formula-escaping rule (OWASP "CSV injection")."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from aefi.i18n import _, pick
from aefi.reporting.county.service import Indicators
from aefi.reporting.daily.service import STATE_LABELS, DayStatus, Summary
from aefi.reporting.indicators import KEY_FIELDS, RateLine, Share
from aefi.reporting.models import FIGURES
from aefi.spreadsheet import csv_writer

Table = tuple[str, list[str], list[list[str]]]  # title, header, rows


def _n(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _pct(share: Share) -> str:
    return _n(share.percent, 1)


def daily_tables(summary: Summary, status: DayStatus | None = None) -> list[Table]:
    """Per site: (for one day) the submission state, and the figures of the latest version
    of each day's report added up; then the county's doses by vaccine and dose number."""
    header = [_("Site code"), _("Site"), _("Township")]
    if status is not None:
        header += [_("Status"), _("Version"), _("Submitted at"), _("Submitted by")]
    else:
        header += [_("Days submitted"), _("Days late"), _("Days missing")]
    header += [_(label) for _name, label in FIGURES]
    by_site = {s.site.id: s for s in status.sites} if status else {}
    rows = []
    for r in summary.rows:
        row = [r.site.code, pick(r.site.name, r.site.name_en)]
        row.append(pick(r.township.name, r.township.name_en) if r.township else "")
        if status is not None:
            s = by_site[r.site.id]
            row += [
                _(STATE_LABELS[s.state]),
                str(s.latest.version) if s.latest else "",
                s.latest.submitted_at.astimezone(status.deadline_at.tzinfo).strftime(
                    "%Y-%m-%d %H:%M"
                )
                if s.latest
                else "",
                s.latest.submitted_by_name if s.latest else "",
            ]
        else:
            row += [str(r.submitted), str(r.late), str(r.missing)]
        if status is not None and by_site[r.site.id].latest is None:
            row += ["–"] * len(FIGURES)  # not submitted is not the same as zero
        else:
            row += [str(r.figures.value(name)) for name, _label in FIGURES]
        rows.append(row)
    if summary.total is not None:
        t = summary.total
        total = [_("Total"), "", ""]
        total += (
            ["", "", "", ""]
            if status is not None
            else [
                str(t.submitted),
                str(t.late),
                str(t.missing),
            ]
        )
        total += [str(t.figures.value(name)) for name, _label in FIGURES]
        rows.append(total)
    if summary.since == summary.until:
        title = _("Daily reports of {day}", day=summary.since.isoformat())
    else:
        title = _(
            "Daily reports {since} to {until}",
            since=summary.since.isoformat(),
            until=summary.until.isoformat(),
        )
    doses = [
        [line.vaccine_code, pick(line.vaccine_zh, line.vaccine_en), str(line.dose_number),
         str(line.count)]
        for line in summary.vaccines
    ]  # fmt: skip
    return [
        (title, header, rows),
        (
            _("Doses by vaccine and dose number"),
            [_("Code"), _("Vaccine"), _("Dose number"), _("Doses given")],
            doses,
        ),
    ]


def _rate_rows(lines: Sequence[RateLine]) -> list[list[str]]:
    return [
        [
            line.key,
            pick(line.label_zh, line.label_en),
            str(line.reports),
            str(line.doses),
            _n(line.rate),
            _n(line.expected_rate),
            _n(line.expected_reports),
            _n(line.oe),
            _n(line.oe_lower),
            _n(line.oe_upper),
            {"above": _("above expected"), "below": _("below expected")}.get(line.flag, ""),
        ]
        for line in lines
    ]


def indicator_tables(result: Indicators) -> list[Table]:
    share_header = [_("Indicator"), _("On time / done"), _("Of"), _("Pending"), _("Percent")]
    timeliness = [
        (_("Reports filed within 48 h of discovery"), result.reports_on_time),
        (_("Investigations started within 48 h of receipt"), result.investigations_started),
        (_("Investigation forms completed within 3 days"), result.forms_completed),
        (_("Cases with a final classification"), result.classified),
        (_("Reports with every key field filled"), result.completeness.complete),
    ]
    rate_header = [
        _("Code"),
        _("Name"),
        _("Reports"),
        _("Doses given"),
        _("Rate per 100,000 doses"),
        _("Expected rate"),
        _("Expected reports"),
        _("Observed / expected"),
        _("95% lower"),
        _("95% upper"),
        _("Finding"),
    ]
    return [
        (
            _("Timeliness"),
            share_header,
            [[lbl, str(s.done), str(s.total), str(s.pending), _pct(s)] for lbl, s in timeliness],
        ),
        (
            _("Completeness of key fields"),
            [_("Field"), _("Filled"), _("Of"), _("Percent")],
            [
                [
                    _(label),
                    str(result.completeness.fields[name].done),
                    str(result.completeness.fields[name].total),
                    _pct(result.completeness.fields[name]),
                ]
                for name, label in KEY_FIELDS
            ],  # fmt: skip
        ),
        (_("Reporting rate by vaccine"), rate_header, _rate_rows(result.by_vaccine)),
        (_("Reporting rate by township"), rate_header, _rate_rows(result.by_township)),
        (_("County"), rate_header, _rate_rows([result.county])),
    ]


def to_csv(tables: Sequence[Table]) -> str:
    """Sections one under the other, each with its title line and header."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv_writer(buf)
    for i, (title, header, rows) in enumerate(tables):
        if i:
            w.writerow([])
        w.writerow([title])
        w.writerow(header)
        w.writerows(rows)
    return buf.getvalue()


def rows_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """A header of ``columns`` and one line per row (keys not in ``columns`` are refused)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv_writer(buf)
    names = list(columns)
    w.writerow(names)
    for row in rows:
        extra = set(row) - set(names)
        if extra:
            raise ValueError(f"rows_csv: keys not in columns: {sorted(extra)}")
        w.writerow([row.get(name, "") for name in names])
    return buf.getvalue()


def to_text(tables: Sequence[Table]) -> str:
    """For the terminal: columns padded to the widest cell (CJK counted double)."""

    def width(s: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)

    out = []
    for title, header, rows in tables:
        out.append(f"\n{title}")
        cols = [header, *rows]
        widths = [max(width(r[i]) for r in cols if i < len(r)) for i in range(len(header))]
        for r in cols:
            out.append(
                "  ".join(c + " " * (widths[i] - width(c)) for i, c in enumerate(r)).rstrip()
            )
    return "\n".join(out) + "\n"
