"""Nothing raw in the Chinese UI: each main page of each role, the detail pages and every
PDF, rendered in zh_CN from a small county with a report, a case, a referral, a cluster and
a halt, show no English word and none of aefi's own code identifiers (every value of every
Enum in aefi, collected here, e.g. ``serious_aefi``, ``halted``, ``im``).

Allowed: a short list of abbreviations and units that Chinese forms print as they are, and
the data itself (lot numbers, vaccine and site codes, report numbers, user names)."""

from __future__ import annotations

import enum
import importlib
import pkgutil
import re
import shutil
import subprocess
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlmodel import select

import aefi
from aefi import clock
from aefi.auth.models import User
from aefi.intake.models import Report
from aefi.investigation.models import CaseFile
from aefi.navigation import NAV
from aefi.referral.models import Referral
from aefi.registry.models import Hospital, Lot, Region, Site, Vaccine
from aefi.triage.models import Cluster
from tests.conftest import login
from tests.factories import T0, file, lots, new_dose

ZH = {"Accept-Language": "zh-CN"}
RATES = Path(aefi.__file__).parent / "signals" / "rates.csv"

# Printed as they are in Chinese forms and reports.
ALLOWED = {
    "aefi", "id", "who", "meddra", "vaers", "fhir", "csv", "xlsx", "pdf", "icsr", "e2b", "r3",
    "hl7", "mg", "kg", "ml", "cm", "mm", "mmhg", "spo", "bpm", "hhe", "llr", "rr", "hr", "bp",
    "am", "pm", "utc", "gmt", "api", "url", "json", "xml", "sms", "igg", "igm", "crp", "ct",
    "mri", "icu", "ecg", "eeg", "cdc", "bcg", "dtap", "hepb", "mmr", "flu", "ipv", "opv",
    "hpv", "hib", "mpsv", "je", "ev", "ppsv", "pcv", "hav", "ww", "yyyy", "dd", "hh",
    "llt", "pt", "soc", "hlt", "min", "mb", "kb", "jpg", "png", "docx", "txt", "vvm", "log",
    "maxsprt", "brighton", "excel", "avpu",
    # The language switch names the other language in that language.
    "english",
}  # fmt: skip


def enum_values() -> set[str]:
    """Every value of every Enum defined in aefi (the app's own code identifiers)."""
    values: set[str] = set()
    for info in pkgutil.walk_packages(aefi.__path__, "aefi."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - a module that needs what a test lacks (a CLI extra)
            continue
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, enum.Enum) and obj.__module__ == info.name:
                values.update(str(m.value) for m in obj if isinstance(m.value, str))
    # The vocabularies kept as plain keys: event groups, and the signals' pseudo-groups.
    from aefi.intake import symptoms

    values.update(symptoms.EVENT_GROUPS)
    values.update({"all_aefi", "serious_aefi"})
    return values


class _Text(HTMLParser):
    """What a person reads: text nodes, and the attributes a screen reader speaks."""

    # Not read as prose: scripts, and literal text (a CSV header to type, a cited title).
    SKIP = {"script", "style", "template", "svg", "code", "kbd", "samp", "cite", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


TOKEN = re.compile(r"[A-Za-zÀ-ÿ0-9][A-Za-zÀ-ÿ0-9_\-./:#+]*")
WORD = re.compile(r"[A-Za-zÀ-ÿ]{2,}")


def raw_words(text: str, data: set[str], codes: set[str]) -> list[str]:
    """English words and code identifiers in ``text``, the data's own values left out."""
    found: list[str] = []
    for token in TOKEN.findall(text):
        token = token.rstrip(".:-/#")
        if token in data or token.lower() in data or re.search(r"\d", token):
            continue  # the data's own values; numbers, versions, ID and lot numbers
        if re.fullmatch(r"AEFI_[A-Z0-9_]+", token):
            continue  # a setting's name, as the admin types it
        if token in codes and len(token) > 1:
            found.append(token)
            continue
        for word in WORD.findall(token):
            if word.lower() in ALLOWED or word in data:
                continue
            found.append(word)
    return found


def _english_names(session) -> set[str]:
    """The English names the registry keeps beside the Chinese ones (its admin pages show
    both: they are the data an admin edits)."""
    words: set[str] = set()
    for model in (Site, Hospital, Region, Vaccine):
        for row in session.exec(select(model)):
            words.update(WORD.findall(getattr(row, "name_en", "") or ""))
    return words


def _data_values(session) -> set[str]:
    """Values the county's data prints as they are (they may well be ASCII)."""
    values: set[str] = set()
    for lot in session.exec(select(Lot)):
        values.add(lot.lot_number)
    for v in session.exec(select(Vaccine)):
        values.add(v.code)
        values.update(re.findall(r"[A-Za-z]{2,}", v.name))  # a Chinese name with "HPV" in it
    for model in (Site, Hospital, Region):
        for row in session.exec(select(model)):
            values.add(str(getattr(row, "code", "")))
            values.update(re.findall(r"[A-Za-z0-9]+", getattr(row, "name", "")))
    for r in session.exec(select(Report)):
        values.add(r.number)
    for c in session.exec(select(CaseFile)):
        values.add(str(getattr(c, "number", "")))
    for u in session.exec(select(User)):
        values.add(u.username)
    values.discard("")
    return values


@pytest.fixture
def busy_county(session, county):
    """Two anaphylaxis reports on one lot (a cluster; serious: a case and a referral), a halt
    of that lot."""
    from aefi.signals.halts import service as halts

    clock.freeze(T0 + timedelta(hours=6))
    lot = lots(session)[0]
    doses = [new_dose(session, county, site_index=0, lot=lot, minutes=m) for m in (0, 30)]
    reports = [file(session, county, "reporter", d) for d in doses]
    halt = halts.issue_halt(
        session,
        county.actor(session, "bureau"),
        scope="lot",
        target=lot.lot_number,
        reason="县卫健局叫停决定2026年第3号",
        report_ids=[r.id for r in reports],
        confirmed=True,
    )
    session.commit()
    return county, reports, halt


def _details(session, reports, halt) -> dict[str, list[str]]:
    """The detail pages, and the PDFs, of the county's records, by the role that reads them."""
    report = reports[0]
    case = session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first()
    referral = session.exec(select(Referral).where(Referral.report_id == report.id)).first()
    cluster = session.exec(select(Cluster)).first()
    lot = session.exec(select(Lot).order_by(Lot.id)).first()
    pages = {
        "reporter": [f"/reports/{report.id}", "/reports/drafts"],
        "investigator": [f"/reports/{report.id}", f"/lots/{lot.lot_number}"],
        "bureau": [f"/halts/{halt.id}", "/registry/sites", "/daily/summary"],
        "hospital": [],
    }
    if case is not None:
        pages["investigator"].append(f"/cases/{case.id}")
    if referral is not None:
        pages["reporter"].append(f"/referrals/{referral.id}")
        pages["hospital"].append(f"/referrals/{referral.id}")
    if cluster is not None:
        pages["investigator"].append(f"/clusters/{cluster.id}")
    pdfs = {
        "reporter": [f"/reports/{report.id}.pdf"],
        "bureau": [f"/halts/{halt.id}/notice.pdf", "/daily/summary.pdf"],
        "hospital": [f"/referrals/{referral.id}/handover.pdf"] if referral else [],
        "investigator": [f"/cases/{case.id}/report.pdf"] if case else [],
    }
    return {"pages": pages, "pdfs": pdfs}


CJK = r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]"
ASCII_PUNCT = re.compile(rf"(?<={CJK}) ?[,:;](?! ?\d)|(?<![\w.])[,:;] ?(?={CJK})")


def ascii_punctuation(text: str) -> list[str]:
    """ASCII , : ; beside Chinese characters (Chinese text takes ，：；)."""
    return [
        f"{m.group(0).strip()!r} in {' '.join(line.split())[:90]!r}"
        for line in text.splitlines()
        for m in ASCII_PUNCT.finditer(line)
    ]


def _in_context(text: str, words: list[str]) -> list[str]:
    """Each word with the line it stands in (what the failure message shows)."""
    out = []
    for word in dict.fromkeys(words):
        pattern = re.compile(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])")
        line = next((ln for ln in text.splitlines() if pattern.search(ln)), "")
        out.append(f"{word!r} in {' '.join(line.split())[:90]!r}")
    return out


def _check(found: dict[str, list[str]]) -> None:
    bad = {url: sorted(set(words)) for url, words in found.items() if words}
    assert not bad, "raw English or codes in the Chinese UI:\n" + "\n".join(
        f"  {url}:\n    " + "\n    ".join(words) for url, words in bad.items()
    )


ROLES = ("reporter", "investigator", "bureau", "hospital", "admin")


def test_every_main_page_reads_chinese(client, session, busy_county):
    county, reports, halt = busy_county
    data, codes = _data_values(session), enum_values()
    english = _english_names(session)
    # Expected-rate tables list vaccine codes the small county does not carry.
    data |= {line.split(",")[0] for line in RATES.read_text().splitlines()[1:] if line}
    details = _details(session, reports, halt)["pages"]
    found: dict[str, list[str]] = {}
    for role in ROLES:
        client.cookies.clear()
        login(client, role)
        urls = [path for path, _label in NAV[role]] + details.get(role, [])
        for url in dict.fromkeys(urls):
            r = client.get(url, headers=ZH)
            assert r.status_code == 200, (role, url, r.status_code)
            text = visible_text(r.text)
            known = data | english if url.startswith("/registry/") else data
            found[f"{role} {url}"] = _in_context(
                text, raw_words(text, known, codes)
            ) + ascii_punctuation(text)
    _check(found)


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils missing")
def test_every_pdf_reads_chinese(client, session, busy_county, tmp_path):
    county, reports, halt = busy_county
    data, codes = _data_values(session), enum_values()
    found: dict[str, list[str]] = {}
    for role, urls in _details(session, reports, halt)["pdfs"].items():
        client.cookies.clear()
        login(client, role)
        for url in urls:
            r = client.get(url, headers=ZH)
            assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", url
            pdf = tmp_path / "doc.pdf"
            pdf.write_bytes(r.content)
            text = subprocess.run(
                ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
            ).stdout
            found[url] = _in_context(text, raw_words(text, data, codes)) + ascii_punctuation(text)
    _check(found)


def test_the_scanner_finds_english_and_codes():
    codes = enum_values()
    assert {"serious_aefi", "im", "halted", "reporter"} <= codes
    text = visible_text(
        '<p title="Close">分诊：serious_aefi</p><script>var x = "ok";</script><p>批号 A-12 10mg</p>'
    )
    assert raw_words(text, {"A-12"}, codes) == ["Close", "serious_aefi"]
    assert raw_words("途径 im", set(), codes) == ["im"]
    assert raw_words("AEFI 个案 FHIR CSV", set(), codes) == []


def _history(html: str) -> str:
    start = html.index(">", html.index('id="alert-history"')) + 1
    return html[start : html.index("</section>", start)]


def test_signal_history_reads_chinese(client, session, busy_county):
    """The history of a signal's alert page is told in words (aefi/audit_text.py): no
    level, status or action codes, no English, in zh_CN; the same lines in English."""
    from aefi.signals.models import Signal

    county, reports, halt = busy_county
    signal = session.exec(select(Signal).order_by(Signal.id)).first()
    assert signal is not None, "two anaphylaxis reports on one lot raise a signal"
    data, codes = _data_values(session), enum_values()
    login(client, "bureau")
    r = client.get(f"/signals/{signal.id}", headers=ZH)
    assert r.status_code == 200
    history = visible_text(_history(r.text))
    assert "建议" in history or "信号" in history, history
    _check(
        {
            f"/signals/{signal.id} history": _in_context(
                history, raw_words(history, data | {halt.number}, codes)
            )
            + ascii_punctuation(history)
        }
    )
    english = visible_text(
        _history(client.get(f"/signals/{signal.id}", headers={"Accept-Language": "en"}).text)
    )
    assert "Signal raised:" in english and "expected" in english
    assert "halt_recommended" not in english and "O=" not in english
