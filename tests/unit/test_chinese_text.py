"""Chinese text reads as Chinese: full-width punctuation beside Chinese characters in every
zh_CN catalog entry, and codes passed into messages (a role, a status) shown by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from aefi import i18n

LOCALE = Path(i18n.__file__).parent / "locale" / "zh_CN"
CJK = r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]"
# An ASCII , : ; ( ) touching a Chinese character (or full-width punctuation) on either side.
ASCII_BESIDE_CJK = re.compile(rf"(?<={CJK})[,:;()]|[,:;()](?={CJK})")


def _entries():
    for po in sorted(LOCALE.glob("*.po")):
        with po.open("rb") as fh:
            for m in read_po(fh, locale="zh_CN"):
                strings = m.string if isinstance(m.string, tuple) else (m.string,)
                for s in strings:
                    if m.id and s:
                        yield po.name, m.id, s


def test_no_ascii_punctuation_beside_chinese_characters():
    bad = [
        f"{name}: {msgstr!r}"
        for name, _msgid, msgstr in _entries()
        if ASCII_BESIDE_CJK.search(re.sub(r"\{[^}]*\}", "", msgstr))
    ]
    assert not bad, "use ，：；（） in Chinese text:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("状态为halted:已叫停", True),
        ("批号（A1）", False),
        ("剂量 0.3 mg, 肌注", False),
        ("(°C)", False),
    ],
)
def test_the_check_itself(text, found):
    assert bool(ASCII_BESIDE_CJK.search(text)) is found


@pytest.fixture
def zh():
    token = i18n.set_locale("zh_CN")
    yield
    i18n._current.reset(token)


def test_a_role_or_status_in_a_message_is_shown_by_name(zh):
    refused = i18n.gettext("Your role ({role}) may not do this.", role="reporter")
    assert "reporter" not in refused and i18n.gettext("Observation physician") in refused
    lot = i18n.gettext(
        "Lot {lot} is {status}: {note}. Do not use it; set the stock aside.",
        lot="A1",
        status="halted",
        note="叫停〔2026〕1号：疑似过敏性休克聚集。",
    )
    assert "halted" not in lot and "已叫停" in lot and "。。" not in lot
