"""The tree-based scan statistic (aefi.signals.treescan) run on the database: one product
against all others over reported term -> symptom code -> event group -> body system.

Two sources: ``county`` — the county's own reports (intake), whose leaves are the symptom
codes the reporter chose; ``vaers`` — imported reports, whose leaves are the reported terms
(every term kept, mapped or not). Counts are (report, leaf) occurrences, as in TreeScan.
County scope: ``county`` counts only the reports of the actor's counties. Seeded Monte
Carlo (999 replicates by default), so the same data give the same p-values.

The hierarchy (:func:`parents`): a term's parent is its symptom code, else its body
system, else "unmapped"; a symptom's parent is its event group (intake's vocabulary); an
event group's parent is the body system most of its symptoms belong to; body systems
are the roots.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import bindparam, text
from sqlmodel import Session, select

from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid
from aefi.i18n import N_
from aefi.intake.symptoms import BY_CODE, SYMPTOMS
from aefi.registry.models import Vaccine
from aefi.signals import access, treescan
from aefi.terminology import body_systems

UNMAPPED = "body:unmapped"


def parents(terms: Iterable[tuple[str, str | None, str | None]]) -> dict[str, str | None]:
    """Parent links of the tree from (term text, symptom code, body system) rows. Pure."""
    group_body: dict[str, Counter] = {}
    for s in SYMPTOMS:
        group_body.setdefault(s.group, Counter())[body_systems.OF_CODE.get(s.code, "other")] += 1
    out: dict[str, str | None] = {}
    for group, cnt in group_body.items():
        body = cnt.most_common(1)[0][0] or "other"
        out[f"group:{group}"] = f"body:{body}"
        out.setdefault(f"body:{body}", None)
    for s in SYMPTOMS:
        out[f"symptom:{s.code}"] = f"group:{s.group}"
    out[UNMAPPED] = None
    for term, code, body in terms:
        if code and code in BY_CODE:
            out[f"term:{term}"] = f"symptom:{code}"
        elif body:
            out[f"term:{term}"] = f"body:{body}"
            out.setdefault(f"body:{body}", None)
        else:
            out[f"term:{term}"] = UNMAPPED
    return out


def _rows(session: Session, sql: str, params: dict) -> list[tuple]:
    stmt = text(sql)
    if "counties" in params:
        stmt = stmt.bindparams(bindparam("counties", expanding=True))
    return [tuple(r) for r in session.execute(stmt, params)]


def run_tree_scan(
    session: Session,
    actor: Actor,
    vaccine_code: str,
    *,
    source: str = "county",
    replications: int = 999,
    seed: int = 20261201,
) -> treescan.TreeScanResult:
    require_role(actor, *access.READERS)
    if source not in ("county", "vaers"):
        raise Invalid(
            "Some fields need correcting.", fields={"source": N_("Choose county or vaers.")}
        )
    vac = session.exec(select(Vaccine).where(Vaccine.code == vaccine_code.strip().upper())).first()
    if vac is None:
        raise Invalid(
            "Some fields need correcting.", fields={"vaccine": "No vaccine with this code."}
        )
    rv = (
        "SELECT DISTINCT rd.report_id, rd.vaccine_id FROM report_dose rd "
        "JOIN report r ON r.id = rd.report_id WHERE "
    )
    if source == "vaers":
        where = "r.source = 'vaers'"
        params: dict = {}
        leaf = (
            "SELECT rt.report_id, 'term:' || t.text AS node FROM report_term rt "
            "JOIN reported_term t ON t.id = rt.term_id JOIN report r ON r.id = rt.report_id "
            f"WHERE {where}"
        )
        terms = _rows(
            session,
            "SELECT DISTINCT t.text, t.symptom_code, t.body_system FROM reported_term t "
            "JOIN report_term rt ON rt.term_id = t.id",
            {},
        )
    else:
        where = "r.source <> 'vaers' AND r.county_id IN :counties"
        params = {"counties": sorted(actor.county_ids) or [-1]}
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            unnest = "CROSS JOIN LATERAL json_array_elements_text(r.symptoms) AS s(value)"
        else:
            unnest = "JOIN json_each(r.symptoms) AS s"
        leaf = (
            f"SELECT r.id AS report_id, 'symptom:' || CAST(s.value AS VARCHAR(16)) AS node "
            f"FROM report r {unnest} WHERE {where}"
        )
        terms = []
    counts = _rows(
        session,
        f"SELECT rv.vaccine_id, l.node, COUNT(*) FROM ({rv}{where}) rv "
        f"JOIN ({leaf}) l ON l.report_id = rv.report_id GROUP BY rv.vaccine_id, l.node",
        params,
    )
    links = parents(terms)
    for _v, node, _n in counts:
        links.setdefault(str(node), UNMAPPED)
    tree = treescan.build_tree(links)
    cases: Counter = Counter()
    totals: Counter = Counter()
    for vid, node, n in counts:
        totals[str(node)] += int(n)
        if int(vid) == vac.id:
            cases[str(node)] += int(n)
    return treescan.tree_scan(
        tree, dict(cases), dict(totals), model="bernoulli", replications=replications, seed=seed
    )
