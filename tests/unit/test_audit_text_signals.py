"""A signal's history lines in words, from what its audit rows recorded."""

from __future__ import annotations

import pytest

from aefi import i18n
from aefi.audit_text import summary_text


@pytest.fixture
def english():
    token = i18n.set_locale("en")
    yield
    i18n._current.reset(token)


@pytest.mark.parametrize(
    ("action", "summary", "changes", "text"),
    [
        (
            "create",
            "lot 13 anaphylaxis halt_recommended",
            {"observed": 2, "expected": 0.0031, "level": "halt_recommended"},
            "Signal raised: Halt recommended; 2 reports, 0.0031 expected",
        ),
        (
            "raise",
            "halt_recommended O=3 E=0.12",
            {"level": ["signal", "halt_recommended"]},
            "Raised to: Halt recommended; 3 reports, 0.12 expected",
        ),
        (
            "reopen",
            "signal O=1 E=0.5",
            {"level": [None, "signal"]},
            "Reopened: Signal for review; 1 report, 0.5 expected",
        ),
        (
            "status",
            "dismissed: a known batch of mild rashes",
            {"status": ["new", "dismissed"], "status_note": ["", "a known batch of mild rashes"]},
            "Status: New, not reviewed → Dismissed; a known batch of mild rashes",
        ),
        (
            "status",
            "叫停〔2026〕1号",
            {"status": ["under_review", "escalated"]},
            "Status: Under review → Escalated for decision; 叫停〔2026〕1号",
        ),
    ],
)
def test_signal_rows_read_as_words(english, action, summary, changes, text):
    assert summary_text("signal", action, summary, changes) == text
