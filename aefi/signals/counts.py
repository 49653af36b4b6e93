"""The scan's counting half: grouped SQL over ``report_dose``/``report``/``dose`` (with
indexes), assembled into :class:`aefi.signals.scan.Cells` by :func:`build_cells`.

The definitions of O, E and T are in ``scan``'s docstring (DOMAIN.md, "Signal detection");
the decisions over the cells are ``scan``'s pure half."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Integer, bindparam, column, text
from sqlmodel import Session

from aefi.db import UTCDateTime
from aefi.registry import dose_summary
from aefi.signals.expected import ALL_VACCINES, Rate
from aefi.signals.scan import (
    SCOPES,
    Cells,
    Collector,
    Thresholds,
    flat,
    index_of,
    matrix,
    rate_matrices,
    scanned_groups,
    upper_limits,
)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# The dose's site (else the report's) by one primary-key look-up per report dose: as a
# join, PostgreSQL hashed the whole dose table (5 M rows) to find 50,000 of them.
_SITE = "COALESCE((SELECT d.site_id FROM dose d WHERE d.id = rd.dose_id), r.site_id)"


def _event_rows_ctes(dialect: str, where: str, *, dose_sites: bool = True) -> str:
    """``b``: one row per report dose of non-VAERS reports, with the days from dose to
    onset and the dose's site (one look-up in the dose table per report dose, done once);
    ``ev``: one row per (report dose, event group), pseudo-groups all_aefi and
    serious_aefi added.

    ``dose_sites=False``: ``site_id`` is the report's site and ``dose_id`` comes along, for
    a caller that looks the doses' sites up itself (:func:`observed_cells_all`)."""
    if dialect == "postgresql":
        unnest = "CROSS JOIN LATERAL json_array_elements_text(b.eg) AS g(value)"
        days = "(EXTRACT(EPOCH FROM (r.onset_at - rd.administered_at)) / 86400.0)"
    else:
        unnest = "JOIN json_each(b.eg) AS g"
        days = "(julianday(r.onset_at) - julianday(rd.administered_at))"
    cond = f"r.source <> 'vaers'{(' AND ' + where) if where else ''}"
    base = (
        "SELECT rd.report_id AS report_id, rd.lot_id AS lot_id, rd.vaccine_id AS vaccine_id, "
        f"{_SITE if dose_sites else 'r.site_id'} AS site_id, r.onset_at AS onset_at, "
        f"{'' if dose_sites else 'rd.dose_id AS dose_id, '}"
        f"{days} AS dt, r.event_groups AS eg, r.serious AS serious "
        f"FROM report_dose rd JOIN report r ON r.id = rd.report_id WHERE {cond}"
    )
    cols = "b.report_id, b.lot_id, b.vaccine_id, b.site_id, b.onset_at, b.dt"
    if not dose_sites:
        cols += ", b.dose_id"
    return (
        f"b AS MATERIALIZED ({base}), "
        f"ev AS (SELECT {cols}, CAST(g.value AS VARCHAR(32)) AS grp FROM b {unnest} "
        f"UNION ALL SELECT {cols}, 'all_aefi' AS grp FROM b "
        f"UNION ALL SELECT {cols}, 'serious_aefi' AS grp FROM b WHERE b.serious)"
    )


def _windowed_ctes(
    dialect: str, where: str, *, materialized: bool = False, dose_sites: bool = True
) -> str:
    """``ev`` (event rows) and ``w``: those inside the risk window of their vaccine's rate
    row (a vaccine's own row wins over the '*' row; a rate of 0 switches the pair off)."""
    mat = "MATERIALIZED " if materialized else ""
    return (
        f"WITH {_event_rows_ctes(dialect, where, dose_sites=dose_sites)}, "
        f"w AS {mat}(SELECT ev.report_id, ev.lot_id, ev.vaccine_id, ev.site_id, ev.grp, "
        f"ev.onset_at{'' if dose_sites else ', ev.dose_id'} "
        "FROM ev JOIN vaccine v ON v.id = ev.vaccine_id "
        "LEFT JOIN expected_rate ws ON ws.vaccine_code = v.code AND ws.event_group = ev.grp "
        "LEFT JOIN expected_rate wa ON wa.vaccine_code = '*' AND wa.event_group = ev.grp "
        "WHERE COALESCE(ws.rate_per_dose, wa.rate_per_dose) > 0 "
        "AND ev.dt >= COALESCE(ws.window_start_days, wa.window_start_days) "
        "AND ev.dt <= COALESCE(ws.window_end_days, wa.window_end_days)) "
    )


_KEY = {"lot": "lot_id", "vaccine": "vaccine_id", "site": "site_id"}
_FILTER = {
    "lot": "rd.lot_id IN :ids",
    "vaccine": "rd.vaccine_id IN :ids",
    "site": f"{_SITE} IN :ids",
}


def observed_counts(
    session: Session, scope: str, ids: Iterable[int] | None = None
) -> list[tuple[int, str, int]]:
    """(target id, event group, O) for a scope, all targets or only ``ids``."""
    key = _KEY[scope]
    params: dict = {}
    where = ""
    if ids is not None:
        params["ids"] = sorted({int(i) for i in ids})
        if not params["ids"]:
            return []
        where = _FILTER[scope]
    sql = (
        f"{_windowed_ctes(_dialect(session), where)}"
        f"SELECT w.{key}, w.grp, COUNT(DISTINCT w.report_id) FROM w GROUP BY w.{key}, w.grp"
    )
    stmt = text(sql)
    if "ids" in params:
        stmt = stmt.bindparams(bindparam("ids", expanding=True))
    return [(int(t), str(g), int(n)) for t, g, n in session.execute(stmt, params)]


@dataclass
class ObservedCells:
    """O of one scope as arrays, one element per (target, group) with O > 0: ``group``
    indexes ``groups``."""

    groups: list[str]
    target: np.ndarray
    group: np.ndarray
    n: np.ndarray

    def rows(self) -> list[tuple[int, str, int]]:
        cols = (self.target.tolist(), self.group.tolist(), self.n.tolist())
        return [(int(t), self.groups[int(g)], int(k)) for t, g, k in zip(*cols, strict=True)]

    def matrix(self, targets: np.ndarray, groups: list[str]) -> np.ndarray:
        """As :func:`aefi.signals.scan.matrix`: targets x groups, without a row per cell in
        Python."""
        obs = np.zeros((targets.size, len(groups)))
        if not self.n.size:
            return obs
        gi = {g: j for j, g in enumerate(groups)}
        col_of = np.array([gi.get(g, -1) for g in self.groups], dtype=np.int64)[self.group]
        k, ok = index_of(targets, self.target)
        ok &= col_of >= 0
        obs[k[ok], col_of[ok]] = self.n[ok]
        return obs


def observed_counts_all(session: Session) -> dict[str, list[tuple[int, str, int]]]:
    """Every scope's (target id, event group, O), from :func:`observed_cells_all`."""
    return {scope: o.rows() for scope, o in observed_cells_all(session).items()}


def observed_cells_all(session: Session) -> dict[str, ObservedCells]:
    """Every scope's counts from one statement: the database finds the windowed rows
    (report, lot, vaccine, site, group) in one pass, and they are counted here, three ways,
    by sorting int64 keys. What a full scan reads.

    Grouping the same rows three times with ``COUNT(DISTINCT ...)`` in SQL cost more than
    finding them (each grouping sorts every row in a temporary B-tree on SQLite); 100,000
    rows sort in milliseconds in numpy."""
    # PostgreSQL looked the dose's site up once per report dose, at random in the dose
    # table's heap: 2.1-3.5 s at 5 M doses, against 0.6 s for the same rows with the dose
    # id and 0.6 s for the sites of those ids looked up in one sorted ``= ANY`` (index
    # order). SQLite's look-ups by rowid cost nothing next to the rest: kept in the SQL.
    dialect = _dialect(session)
    pg = dialect == "postgresql"
    empty = np.zeros(0, dtype=np.int64)
    for _attempt in range(3):
        # Every column an integer, so the rows become one int64 array in C: the group as
        # its index in the rate table's groups, a NULL site or dose as -1. (Strings and
        # NULLs turned into arrays in Python cost 0.5 s of a 2.3 s scan at 20 M doses.)
        groups = sorted(
            str(g) for (g,) in raw_rows(session, "SELECT DISTINCT event_group FROM expected_rate")
        )
        if not groups:
            return {s: ObservedCells([], empty, empty, empty) for s in _KEY}
        mark = "%s" if pg else "?"
        grp_index = f"CASE w.grp {' '.join(f'WHEN {mark} THEN {j}' for j in range(len(groups)))} "
        sql = f"{_windowed_ctes(dialect, '', dose_sites=not pg)}" + (
            "SELECT w.report_id, w.lot_id, w.vaccine_id, COALESCE(w.site_id, -1), "
            f"{grp_index}ELSE -1 END{', COALESCE(w.dose_id, -1)' if pg else ''} FROM w"
        )
        rows = raw_rows(session, sql, groups)
        if not rows:
            return {s: ObservedCells(groups, empty, empty, empty) for s in _KEY}
        table = np.array(rows, dtype=np.int64)
        if not (table[:, 4] < 0).any():
            break
        # (A rate row for a new group came between the two statements: read both again.)
    else:
        raise RuntimeError("the expected-rate groups kept changing during the scan")
    report, grp, site = table[:, 0], table[:, 4], table[:, 3]
    if pg:
        site = _dose_sites(session, table[:, 5], site)
    columns = {"lot": table[:, 1], "vaccine": table[:, 2], "site": site}
    out: dict[str, ObservedCells] = {}
    for scope, target in columns.items():
        ok = target >= 0
        key = target[ok] * len(groups) + grp[ok]
        rep = report[ok]
        order = np.lexsort((rep, key))
        key, rep = key[order], rep[order]
        first = np.ones(key.size, dtype=bool)  # one row per distinct (cell, report)
        first[1:] = (key[1:] != key[:-1]) | (rep[1:] != rep[:-1])
        cell, n = np.unique(key[first], return_counts=True)
        out[scope] = ObservedCells(groups, cell // len(groups), cell % len(groups), n)
    return out


def _dose_sites(session: Session, dose: np.ndarray, report_site: np.ndarray) -> np.ndarray:
    """The dose's site where the row has a registry dose (``dose`` >= 0) with a site, else
    the report's (``_SITE``), by one look-up of the distinct dose ids in index order."""
    ids = np.unique(dose[dose >= 0])
    if not ids.size:
        return report_site
    dbapi = session.connection().connection.dbapi_connection
    cur = dbapi.cursor()
    try:
        cur.execute("SELECT id, site_id FROM dose WHERE id = ANY(%s)", (ids.tolist(),))
        found = cur.fetchall()
    finally:
        cur.close()
    if not found:
        return report_site
    fid_c, fsite_c = zip(*found, strict=True)
    fid = np.array(fid_c, dtype=np.int64)
    fsite = np.nan_to_num(np.array(fsite_c, dtype=float), nan=-1.0).astype(np.int64)
    order = np.argsort(fid)
    fid, fsite = fid[order], fsite[order]
    k, ok = index_of(fid, dose)
    ok &= (dose >= 0) & (fsite[k] >= 0)
    return np.where(ok, fsite[k], report_site)


def has_reports(session: Session, source: str = "vaers") -> bool:
    """Is there any report from ``source``? One probe of ``ix_report_source``."""
    stmt = text("SELECT 1 FROM report WHERE source = :src LIMIT 1")
    return session.execute(stmt, {"src": source}).first() is not None


def observed_reports(
    session: Session, scope: str, target_id: int, group: str
) -> list[tuple[int, object]]:
    """(report id, onset) of the reports counted in one cell's O, by onset."""
    sql = (
        f"{_windowed_ctes(_dialect(session), _FILTER[scope])}"
        "SELECT DISTINCT w.report_id, w.onset_at FROM w "
        "WHERE w.grp = :grp ORDER BY w.onset_at, w.report_id"
    )
    stmt = (
        text(sql)
        .bindparams(bindparam("ids", expanding=True))
        .columns(column("report_id", Integer), column("onset_at", UTCDateTime()))
    )
    rows = session.execute(stmt, {"ids": [int(target_id)], "grp": group}).all()
    return [(int(r), t) for r, t in rows]


def raw_rows(session: Session, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    """Plain tuples straight from the driver, in the session's transaction: a full scan
    reads up to a row per (lot, site) pair, and Row objects cost ~2 µs each. ``params``
    fill the driver's own placeholders (``?`` on SQLite, ``%s`` on PostgreSQL)."""
    dbapi = session.connection().connection.dbapi_connection
    cur = dbapi.cursor()
    try:
        if params:
            cur.execute(sql, tuple(params))
        else:
            cur.execute(sql)
        return cur.fetchall()
    finally:
        cur.close()


@dataclass
class DoseCounts:
    """Doses per (lot, site): every denominator of a scan."""

    lot_id: np.ndarray
    site_id: np.ndarray
    n: np.ndarray


def _dose_counts(rows: list) -> DoseCounts:
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return DoseCounts(arr[:, 0], arr[:, 1], arr[:, 2])


def dose_counts(session: Session, lot_ids: Iterable[int] | None = None) -> DoseCounts:
    """``SELECT lot_id, site_id, count(*) FROM dose GROUP BY lot_id, site_id`` — one pass
    over the (lot_id, site_id) index."""
    if lot_ids is None:
        return _dose_counts(
            raw_rows(session, "SELECT lot_id, site_id, COUNT(*) FROM dose GROUP BY lot_id, site_id")
        )
    ids = sorted({int(i) for i in lot_ids})
    if not ids:
        return _dose_counts([])
    stmt = text(
        "SELECT lot_id, site_id, COUNT(*) FROM dose WHERE lot_id IN :ids GROUP BY lot_id, site_id"
    ).bindparams(bindparam("ids", expanding=True))
    return _dose_counts([tuple(r) for r in session.execute(stmt, {"ids": ids})])


def full_dose_counts(session: Session) -> DoseCounts:
    """Doses per (lot, site) of every dose, as :func:`dose_counts` with no ids, from the
    registry's summary of doses per (lot, site, local day) (``registry.dose_summary``,
    migration 0033), topped up with the doses added since in the caller's transaction: a
    rolled-back scan rolls its fold back too."""
    return _dose_counts(dose_summary.lot_site_counts(session))


def site_dose_counts(session: Session, site_ids: Iterable[int]) -> DoseCounts:
    """Doses per (lot, site) at the given sites (a site scan of a few sites)."""
    ids = sorted({int(i) for i in site_ids})
    if not ids:
        return _dose_counts([])
    stmt = text(
        "SELECT lot_id, site_id, COUNT(*) FROM dose WHERE site_id IN :ids GROUP BY lot_id, site_id"
    ).bindparams(bindparam("ids", expanding=True))
    return _dose_counts([tuple(r) for r in session.execute(stmt, {"ids": ids})])


@dataclass
class LotInfo:
    """Every lot's vaccine and size, and every vaccine's code."""

    lot_id: np.ndarray  # sorted
    vaccine_id: np.ndarray
    doses_received: np.ndarray  # float, nan unknown
    vaccine_code: dict[int, str]  # vaccine id -> code

    def vaccine_of(self, lot_ids: np.ndarray) -> np.ndarray:
        """The vaccine of each lot (-1 for a lot not known)."""
        k = np.searchsorted(self.lot_id, lot_ids)
        k = np.minimum(k, max(self.lot_id.size - 1, 0))
        if self.lot_id.size == 0:
            return np.full(np.shape(lot_ids), -1, dtype=np.int64)
        return np.where(self.lot_id[k] == lot_ids, self.vaccine_id[k], -1)

    def received_of(self, lot_ids: np.ndarray) -> np.ndarray:
        k = np.minimum(np.searchsorted(self.lot_id, lot_ids), max(self.lot_id.size - 1, 0))
        if self.lot_id.size == 0:
            return np.full(np.shape(lot_ids), np.nan)
        return np.where(self.lot_id[k] == lot_ids, self.doses_received[k], np.nan)


def lot_info(session: Session) -> LotInfo:
    rows = raw_rows(session, "SELECT id, vaccine_id, doses_received FROM lot ORDER BY id")
    codes = {int(i): str(c) for i, c in raw_rows(session, "SELECT id, code FROM vaccine")}
    return LotInfo(
        lot_id=np.array([r[0] for r in rows], dtype=np.int64),
        vaccine_id=np.array([r[1] for r in rows], dtype=np.int64),
        doses_received=np.array(
            [np.nan if r[2] is None else float(r[2]) for r in rows], dtype=float
        ),
        vaccine_code=codes,
    )


def report_counts(
    session: Session, source: str = "vaers"
) -> tuple[list[tuple[int, str, int]], list[tuple[int, int]], list[tuple[str, int]], int]:
    """Counts of spontaneous reports (no denominators) for disproportionality:
    (vaccine, group, n), (vaccine, n), (group, n), N — each a count of distinct reports."""
    dialect = _dialect(session)
    if dialect == "postgresql":
        unnest = "CROSS JOIN LATERAL json_array_elements_text(r.event_groups) AS g(value)"
    else:
        unnest = "JOIN json_each(r.event_groups) AS g"
    rg = (
        f"SELECT r.id AS report_id, CAST(g.value AS VARCHAR(32)) AS grp FROM report r {unnest} "
        "WHERE r.source = :src UNION SELECT r.id, 'serious_aefi' FROM report r "
        "WHERE r.source = :src AND r.serious"
    )
    rv = (
        "SELECT DISTINCT rd.report_id, rd.vaccine_id FROM report_dose rd "
        "JOIN report r ON r.id = rd.report_id WHERE r.source = :src"
    )
    p = {"src": source}
    vg = session.execute(
        text(
            f"SELECT rv.vaccine_id, rg.grp, COUNT(*) FROM ({rv}) rv "
            f"JOIN ({rg}) rg ON rg.report_id = rv.report_id GROUP BY rv.vaccine_id, rg.grp"
        ),
        p,
    ).all()
    v = session.execute(
        text(f"SELECT rv.vaccine_id, COUNT(*) FROM ({rv}) rv GROUP BY rv.vaccine_id"), p
    ).all()
    g = session.execute(text(f"SELECT rg.grp, COUNT(*) FROM ({rg}) rg GROUP BY rg.grp"), p).all()
    n = session.execute(text("SELECT COUNT(*) FROM report WHERE source = :src"), p).scalar_one()
    return (
        [(int(a), str(b), int(c)) for a, b, c in vg],
        [(int(a), int(b)) for a, b in v],
        [(str(a), int(b)) for a, b in g],
        int(n),
    )


_LEVEL_ITEM = {
    "term": "t.text",
    "symptom": "t.symptom_code",
    "body_system": "t.body_system",
}


def level_counts(
    session: Session, level: str, source: str = "vaers"
) -> tuple[list[tuple[int, str, int]], list[tuple[int, int]], list[tuple[str, int]], int]:
    """:func:`report_counts` at one level of the term hierarchy (``disproportionality
    .LEVELS``): reported term, symptom code, body system through each report's terms
    (``report_term``), or the event group. Each a count of distinct reports."""
    if level == "event_group":
        return report_counts(session, source)
    item = _LEVEL_ITEM[level]
    ri = (
        f"SELECT DISTINCT rt.report_id AS report_id, {item} AS item FROM report_term rt "
        "JOIN reported_term t ON t.id = rt.term_id JOIN report r ON r.id = rt.report_id "
        f"WHERE r.source = :src AND {item} IS NOT NULL AND {item} <> ''"
    )
    rv = (
        "SELECT DISTINCT rd.report_id, rd.vaccine_id FROM report_dose rd "
        "JOIN report r ON r.id = rd.report_id WHERE r.source = :src"
    )
    p = {"src": source}
    vi = session.execute(
        text(
            f"SELECT rv.vaccine_id, ri.item, COUNT(*) FROM ({rv}) rv "
            f"JOIN ({ri}) ri ON ri.report_id = rv.report_id GROUP BY rv.vaccine_id, ri.item"
        ),
        p,
    ).all()
    v = session.execute(
        text(f"SELECT rv.vaccine_id, COUNT(*) FROM ({rv}) rv GROUP BY rv.vaccine_id"), p
    ).all()
    i = session.execute(text(f"SELECT ri.item, COUNT(*) FROM ({ri}) ri GROUP BY ri.item"), p).all()
    n = session.execute(text("SELECT COUNT(*) FROM report WHERE source = :src"), p).scalar_one()
    return (
        [(int(a), str(b), int(c)) for a, b, c in vi],
        [(int(a), int(b)) for a, b in v],
        [(str(a), int(b)) for a, b in i],
        int(n),
    )


def build_cells(
    session: Session,
    rates: list[Rate],
    th: Thresholds,
    *,
    lot_ids: Iterable[int] | None = None,
    vaccine_ids: Iterable[int] | None = None,
    site_ids: Iterable[int] | None = None,
    scopes: tuple[str, ...] = SCOPES,
) -> Cells:
    """Counts and rates of every cell to evaluate. ``None`` ids mean every target of the
    scope (a full scan); an empty list skips the scope. Only targets with doses have
    cells: E needs a denominator."""
    groups = scanned_groups(rates)
    out = Collector(groups)
    if not groups:
        return out.cells()
    full = lot_ids is None and vaccine_ids is None and site_ids is None
    lot_ids = None if lot_ids is None else np.array(sorted({int(i) for i in lot_ids}), np.int64)
    vaccine_ids = (
        None if vaccine_ids is None else np.array(sorted({int(i) for i in vaccine_ids}), np.int64)
    )
    site_ids = None if site_ids is None else np.array(sorted({int(i) for i in site_ids}), np.int64)

    info = lot_info(session)
    if full:
        dc = full_dose_counts(session)
        dc_sites = dc
        observed = observed_cells_all(session)
    else:
        wanted = set() if lot_ids is None else set(lot_ids.tolist())
        if vaccine_ids is not None and vaccine_ids.size:
            wanted |= set(info.lot_id[np.isin(info.vaccine_id, vaccine_ids)].tolist())
        dc = dose_counts(session, wanted)
        dc_sites = site_dose_counts(session, [] if site_ids is None else site_ids.tolist())
        observed: dict[str, ObservedCells] = {}
    dose_vaccine = info.vaccine_of(dc.lot_id)

    # --- lots --------------------------------------------------------------------------
    if "lot" in scopes and (lot_ids is None or lot_ids.size):
        lots = np.unique(dc.lot_id)
        if lot_ids is not None:
            lots = lots[np.isin(lots, lot_ids)]
        if lots.size:
            k, ok = index_of(lots, dc.lot_id)
            n_lot = np.bincount(k[ok], weights=dc.n[ok], minlength=lots.size)
            vids = info.vaccine_of(lots)
            uv, vinv = np.unique(vids, return_inverse=True)
            R, W0, W1 = rate_matrices(rates, uv, info.vaccine_code, groups)
            rate, w0, w1 = R[vinv], W0[vinv], W1[vinv]
            obs = (
                observed["lot"].matrix(lots, groups)
                if full
                else matrix(lots, groups, observed_counts(session, "lot", lots))
            )
            E = n_lot[:, None] * rate
            received = info.received_of(lots)
            r, c = flat(rate > 0)
            T = upper_limits(E[r, c], rate[r, c], n_lot[r], received[r], th.t_factor)
            out.add(
                scope=np.full(r.size, 0),
                target_id=lots[r],
                lot_id=lots[r],
                vaccine_id=vids[r],
                site_id=np.full(r.size, -1),
                group=c,
                observed=obs[r, c],
                doses=n_lot[r],
                expected=E[r, c],
                upper=T,
                rate=rate[r, c],
                window_start=w0[r, c],
                window_end=w1[r, c],
            )

    # --- vaccines ----------------------------------------------------------------------
    if "vaccine" in scopes and (vaccine_ids is None or vaccine_ids.size):
        valid = dose_vaccine >= 0
        vs = np.unique(dose_vaccine[valid])
        if vaccine_ids is not None:
            vs = vs[np.isin(vs, vaccine_ids)]
        if vs.size:
            k, ok = index_of(vs, dose_vaccine)
            ok &= valid
            n_v = np.bincount(k[ok], weights=dc.n[ok], minlength=vs.size)
            R, W0, W1 = rate_matrices(rates, vs, info.vaccine_code, groups)
            obs = (
                observed["vaccine"].matrix(vs, groups)
                if full
                else matrix(vs, groups, observed_counts(session, "vaccine", vs))
            )
            E = n_v[:, None] * R
            r, c = flat((R > 0) & (n_v[:, None] > 0))
            out.add(
                scope=np.full(r.size, 1),
                target_id=vs[r],
                lot_id=np.full(r.size, -1),
                vaccine_id=vs[r],
                site_id=np.full(r.size, -1),
                group=c,
                observed=obs[r, c],
                doses=n_v[r],
                expected=E[r, c],
                upper=E[r, c] * th.t_factor,
                rate=R[r, c],
                window_start=W0[r, c],
                window_end=W1[r, c],
            )

    # --- sites -------------------------------------------------------------------------
    if "site" in scopes and (site_ids is None or site_ids.size):
        sdv = info.vaccine_of(dc_sites.lot_id)
        valid = sdv >= 0
        ss = np.unique(dc_sites.site_id[valid])
        if site_ids is not None:
            ss = ss[np.isin(ss, site_ids)]
        if ss.size:
            vs_all, vinv = np.unique(sdv[valid], return_inverse=True)
            sk, sok = index_of(ss, dc_sites.site_id[valid])
            D = np.zeros((ss.size, vs_all.size))
            np.add.at(D, (sk[sok], vinv[sok]), dc_sites.n[valid][sok])
            R, _W0, _W1 = rate_matrices(rates, vs_all, info.vaccine_code, groups)
            E = D @ R  # sites x groups: sum over vaccines of doses x rate
            n_s = D.sum(axis=1)
            obs = (
                observed["site"].matrix(ss, groups)
                if full
                else matrix(ss, groups, observed_counts(session, "site", ss))
            )
            general = {
                r.event_group: (r.window_start_days, r.window_end_days)
                for r in rates
                if r.vaccine_code == ALL_VACCINES
            }
            gw0 = np.array([general.get(g, (np.nan, np.nan))[0] for g in groups], dtype=float)
            gw1 = np.array([general.get(g, (np.nan, np.nan))[1] for g in groups], dtype=float)
            r, c = flat(E > 0)
            out.add(
                scope=np.full(r.size, 2),
                target_id=ss[r],
                lot_id=np.full(r.size, -1),
                vaccine_id=np.full(r.size, -1),
                site_id=ss[r],
                group=c,
                observed=obs[r, c],
                doses=n_s[r],
                expected=E[r, c],
                upper=E[r, c] * th.t_factor,
                rate=E[r, c] / np.maximum(n_s[r], 1),
                window_start=gw0[c],
                window_end=gw1[c],
            )
    return out.cells()
