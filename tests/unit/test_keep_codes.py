"""Hyphenated codes in prose are kept on one line; the rest is escaped and still wraps."""

from __future__ import annotations

from aefi.web import keep_codes


def test_codes_are_kept_whole_and_text_escaped():
    html = keep_codes("330782-2026-00003 转 <b>医院</b> 0571-88011234; re-triaged")
    assert '<span class="nowrap">330782-2026-00003</span>' in html
    assert '<span class="nowrap">0571-88011234</span>' in html
    assert "&lt;b&gt;医院&lt;/b&gt;" in html
    assert "re-triaged" in html and 'nowrap">re-triaged' not in html  # no digit: a word
    assert keep_codes(None) == ""
