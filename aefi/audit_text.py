"""How an audit event reads on a timeline, in the reader's language.

Audit rows keep what happened as data (``changes``) and a short ``summary`` written when
the row was recorded. A summary that is a code or an English sentence is shown through the
catalog instead: the triage outcome from its flags, a cluster's reason in the reader's
language, the fixed sentences below; the system actor is named as aefi, never by its
internal reason. Anything else (a note someone typed) is shown as written."""

from __future__ import annotations

import re
from typing import Any

from aefi import i18n
from aefi.i18n import N_
from aefi.intake import symptoms

TRIAGE_FLAGS = {
    "serious": N_("serious"),
    "escalated": N_("escalated"),
    "investigation_required": N_("investigation required"),
    "referral_required": N_("referral required"),
}
# Summaries recorded as fixed English sentences, shown through the catalog.
FIXED = {
    "signals asked to evaluate the lots of the cluster": N_(
        "signals asked to evaluate the lots of the cluster"
    ),
}


# The actions recorded by name (case files, clusters, outboxes), shown through the catalog.
ACTION_NAMES = {
    "appraisal": N_("appraisal"),
    "assigned": N_("assigned"),
    "attachment": N_("evidence attached"),
    "attachment_removed": N_("evidence removed"),
    "brighton": N_("Brighton level"),
    "case_opened": N_("case file opened"),
    "causality": N_("causality assessed"),
    "cluster_grew": N_("more reports joined the group"),
    "cluster_join": N_("joined the cluster"),
    "compensation": N_("compensation"),
    "evaluation_requested": N_("evaluation requested"),
    "fhir_push": N_("sent as FHIR"),
    "form_completed": N_("investigation form completed"),
    "form_section": N_("form section saved"),
    "note": N_("note"),
    "overdue": N_("deadline passed"),
    "preliminary_report": N_("preliminary report"),
    "retriaged": N_("re-triaged"),
}
# Words the system writes into its own summaries of lots, signals and halts ("HEPB01: hold
# (signal #1)", "site 1 all_aefi halt_recommended"), shown through the catalog.
SYSTEM_WORDS = {
    "lot": N_("lot"),
    "vaccine": N_("vaccine"),
    "site": N_("site"),
    "hold": N_("hold"),
    "halt": N_("halt"),
    "recall": N_("recall"),
    "signal": N_("signal"),
    "halt_recommended": N_("halt_recommended"),
    "planned": N_("planned"),
    "doses": N_("doses"),
}
SYSTEM_SUMMARIES = {"signal", "halt_decision", "lot", "surveillance_plan", "expected_rate"}
_PLANS = re.compile(r"^(\d+) surveillance plans started \(first #(\d+)\)$")


def action_text(action: str) -> str:
    """An audit action in the reader's language."""
    return i18n.gettext(ACTION_NAMES.get(action, action))


def _system_words(summary: str) -> str:
    plans = _PLANS.match(summary)
    if plans:
        return i18n.gettext(
            "{n} surveillance plans started (the first no. {first})",
            n=int(plans.group(1)),
            first=plans.group(2),
        )

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        if w in SYSTEM_WORDS:
            return i18n.gettext(SYSTEM_WORDS[w])
        if w in symptoms.EVENT_GROUPS or w in symptoms.PSEUDO_GROUPS:
            return symptoms.group_name(w)
        return w

    return re.sub(r"(?<![A-Za-z0-9])[a-z_]{2,}(?![A-Za-z0-9])", word, summary)


_COUNTS = re.compile(r"O=(\d+) E=([0-9.eE+-]+)")


def _pair(value: Any) -> tuple[Any, Any]:
    """An audit diff's [old, new] (or a plain value recorded as the new one)."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    return None, value


def signal_text(action: str, summary: str, changes: dict[str, Any]) -> str:
    """A signal's history line in plain words, from what the row recorded: raised (with its
    reports and the expected count), raised to a higher level, reopened, its status changed
    (with the reviewer's note or the halt decision's number). Other rows read as before."""
    from aefi.signals import plain, presenters

    def level(v: Any) -> str:
        return i18n.gettext(presenters.LEVELS.get(str(v), str(v)))

    def status(v: Any) -> str:
        return i18n.gettext(presenters.STATUSES.get(str(v), str(v)))

    def counts(observed: Any, expected: Any) -> str:
        try:
            o, e = int(observed), float(expected)
        except (TypeError, ValueError):
            return ""
        return i18n.gettext(
            "{reports}, {expected} expected", reports=plain.reports(o), expected=plain.amount(e)
        )

    zh = i18n.get_locale().startswith("zh")
    sep = "；" if zh else "; "
    if action == "create":
        line = i18n.gettext("Signal raised: {level}", level=level(_pair(changes.get("level"))[1]))
        more = counts(changes.get("observed"), changes.get("expected"))
        return line + (sep + more if more else "")
    if action in ("raise", "reopen"):
        new = level(_pair(changes.get("level"))[1])
        line = (
            i18n.gettext("Reopened: {level}", level=new)
            if action == "reopen"
            else i18n.gettext("Raised to: {level}", level=new)
        )
        m = _COUNTS.search(summary)
        more = counts(m.group(1), m.group(2)) if m else ""
        return line + (sep + more if more else "")
    if action == "status" and "status" in changes:
        old, new = _pair(changes["status"])
        line = (
            i18n.gettext("Status: {old} → {new}", old=status(old), new=status(new))
            if old
            else i18n.gettext("Status: {new}", new=status(new))
        )
        note = _pair(changes.get("status_note"))[1] if "status_note" in changes else ""
        if not note and summary and not summary.startswith(f"{new}:"):
            note = summary  # the halt decision's number
        return line + (sep + str(note) if note else "")
    return _system_words(summary)


def triage_text(changes: dict[str, Any], summary: str = "") -> str:
    """``triage: serious, escalated`` as the reader's words: 分级研判：严重、已升级."""
    flags = [i18n.gettext(label) for key, label in TRIAGE_FLAGS.items() if changes.get(key)]
    what = "、".join(flags) if i18n.get_locale().startswith("zh") else ", ".join(flags)
    what = what or i18n.gettext("not serious")
    if summary.startswith("re-triage"):
        return i18n.gettext("Re-triaged: {what}", what=what)
    return i18n.gettext("Triaged: {what}", what=what)


def summary_text(entity_type: str, action: str, summary: str, changes: Any) -> str:
    """The summary of an audit event as the reader reads it."""
    ch = changes if isinstance(changes, dict) else {}
    if entity_type == "report" and action == "triage":
        return triage_text(ch, summary)
    if entity_type == "cluster" and action in ("create", "grow"):
        return i18n.pick(ch.get("reason_zh") or summary, summary)
    if summary in FIXED:
        return i18n.gettext(FIXED[summary])
    if entity_type == "signal":
        return signal_text(action, summary, ch)
    if entity_type in SYSTEM_SUMMARIES:
        return _system_words(summary)
    return summary


def event_summary(event: Any) -> str:
    """``summary_text`` of an AuditEvent (for templates)."""
    return summary_text(event.entity_type, event.action, event.summary or "", event.changes)


def actor_text(event: Any) -> str:
    """Who did it: a person's name, or aefi itself for the system actor."""
    if getattr(event, "actor_role", "") == "system":
        return i18n.gettext("aefi (automatic)")
    return event.actor_name
