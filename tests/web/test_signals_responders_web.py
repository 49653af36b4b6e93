"""The check-in responders' review signal on the signals overview and the alert page, in
plain words and with its statistics in the panel, in both languages."""

from __future__ import annotations

import re

from sqlmodel import Session

from aefi import db
from aefi.auth.permissions import Actor, every_county
from aefi.registry.models import Lot
from aefi.signals.scans import service as scans
from tests.conftest import login
from tests.factories import answer_checkins


def test_responders_signal_in_both_languages(client, county):
    bad, good = county.lot_ids["HEPB"]
    with Session(db.get_engine(), expire_on_commit=False) as s:
        answer_checkins(s, county, bad, well=25, fever=15)
        answer_checkins(s, county, good, well=57, fever=3)
        scans.run_scan(s, Actor.system(every_county(s), reason="test"), trigger="timer")
        lot_number = s.get(Lot, bad).lot_number
    login(client, "bureau")
    listing = client.get("/signals", headers={"Accept-Language": "zh-CN"})
    assert listing.status_code == 200 and lot_number in listing.text
    sid = int(re.search(r'href="/signals/(\d+)"', listing.text).group(1))
    zh = client.get(f"/signals/{sid}", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 200
    assert "回复随访的 40 人中，有 15 人报告发热" in zh.text
    assert "占其中 37.5%" in zh.text and "不足以据此叫停" in zh.text
    assert "单侧 Fisher 精确检验 p 值" in zh.text and "随访应答者：与同品种其他批号比较" in zh.text
    assert "建议叫停" not in zh.text.split('id="alert-options"')[0]  # the level: review only
    client.cookies.set("aefi_lang", "en")
    en = client.get(f"/signals/{sid}")
    assert "15 of the 40 people who answered the check-ins after lot" in en.text
    assert "That is 37.5% of them" in en.text and "against 5.0% of the 60 people" in en.text
    assert "a reason to review the lot, not to halt it" in en.text
    assert "One-sided Fisher exact p" in en.text and "Check-in responders vs other lots" in en.text
    assert "<svg" not in en.text.split('id="alert-history"')[0]  # no observed/expected chart
