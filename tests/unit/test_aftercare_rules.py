"""The pure rules after the vaccinee leaves: the personal link's token, the check-in
schedule, red flags and the public pages' rate limit."""

from __future__ import annotations

from datetime import date

import pytest
from itsdangerous import URLSafeSerializer

from aefi.aftercare import questions, schedule, tokens
from aefi.aftercare.ratelimit import RateLimiter

KEY = "k" * 40


def test_a_token_reads_back_its_dose_until_its_last_day():
    t = tokens.sign(42, date(2026, 12, 20), KEY)
    assert tokens.read(t, [KEY], date(2026, 12, 20)).dose_id == 42
    with pytest.raises(tokens.TokenRejected) as exc:
        tokens.read(t, [KEY], date(2026, 12, 21))
    assert exc.value.reason == "expired"


def test_a_tampered_token_or_another_key_is_invalid():
    t = tokens.sign(42, date(2026, 12, 20), KEY)
    for bad in (t[:-2] + ("AA" if not t.endswith("AA") else "BB"), t + "x", "", "x" * 300):
        with pytest.raises(tokens.TokenRejected) as exc:
            tokens.read(bad, [KEY], date(2026, 12, 1))
        assert exc.value.reason == "invalid"
    with pytest.raises(tokens.TokenRejected):
        tokens.read(t, ["another-key" * 4], date(2026, 12, 1))


def test_a_token_cannot_be_turned_into_another_dose():
    t = tokens.sign(42, date(2026, 12, 20), KEY)
    payload, _, sig = t.rpartition(".")
    forged_payload = URLSafeSerializer("guess", salt=tokens.SALT).dumps(
        [43, date(2026, 12, 20).toordinal()]
    )
    forged = forged_payload.rpartition(".")[0] + "." + sig
    with pytest.raises(tokens.TokenRejected):
        tokens.read(forged, [KEY], date(2026, 12, 1))
    # Signed with the right key but a token of another purpose (salt) is refused too.
    other = URLSafeSerializer(KEY, salt="aefi.other").dumps([43, date(2026, 12, 20).toordinal()])
    with pytest.raises(tokens.TokenRejected):
        tokens.read(other, [KEY], date(2026, 12, 1))


def test_old_keys_verify_but_an_empty_key_never_signs():
    t = tokens.sign(7, date(2026, 12, 20), "old" * 20)
    assert tokens.read(t, ["old" * 20, KEY], date(2026, 12, 1)).dose_id == 7
    with pytest.raises(ValueError):
        tokens.sign(7, date(2026, 12, 20), "")


def test_the_schedule_per_vaccine():
    assert schedule.days_for("HEPB") == (1, 3, 7)
    assert schedule.days_for("MMR") == (1, 3, 7, 12)
    assert schedule.days_for("HEPB", "2, 5 ,14") == (2, 5, 14)
    assert schedule.days_for("HEPB", "nonsense") == (1, 3, 7)
    with pytest.raises(ValueError):
        schedule.parse_days("0,3")
    given = date(2026, 12, 1)
    assert schedule.day_due(given, (1, 3, 7), given) is None
    assert schedule.day_due(given, (1, 3, 7), date(2026, 12, 2)) == 1
    assert schedule.day_due(given, (1, 3, 7), date(2026, 12, 3)) == 1
    assert schedule.day_due(given, (1, 3, 7), date(2026, 12, 4)) == 3
    assert schedule.day_due(given, (1, 3, 7), date(2026, 12, 30)) == 7
    assert schedule.valid_until(given, (1, 3, 7, 12)) == date(2026, 12, 20)


def test_red_flags_high_fever_only_for_an_infant():
    flags = questions.DEFAULT_RED_FLAGS
    assert questions.red_flags_in(["fever", "rash"], age_days=100, red_flags=flags) == []
    assert questions.red_flags_in(["high_fever"], age_days=100, red_flags=flags) == ["high_fever"]
    assert questions.red_flags_in(["high_fever"], age_days=800, red_flags=flags) == []
    assert questions.red_flags_in(["rash", "breathing"], age_days=None, red_flags=flags) == [
        "breathing"
    ]
    assert questions.parse_red_flags("rash") == ("rash",)
    assert questions.parse_red_flags(" ") == questions.DEFAULT_RED_FLAGS


def test_plain_answers_map_onto_report_symptoms():
    from aefi.intake.symptoms import BY_CODE

    for s in questions.SYMPTOMS:
        assert s.report_codes and all(c in BY_CODE for c in s.report_codes), s.code
    assert questions.report_codes(["face_swelling", "fever"]) == ["ANGIO", "LARYNX", "FEVER"]


def test_the_rate_limit_slides():
    lim = RateLimiter(3, 60)
    assert [lim.allow("a", t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert lim.allow("b", 3)
    assert lim.retry_after("a", 3) >= 57
    assert lim.allow("a", 60.5)


def test_exact_intervals_match_published_clopper_pearson_values():
    from aefi.aftercare import active

    # Clopper & Pearson (1934) / standard tables: 5 of 20 → 0.0866–0.4910; 0 of 10 → 0–0.3085;
    # 10 of 10 → 0.6915–1.
    low, high = active.exact_interval(5, 20)
    assert round(low, 4) == 0.0866 and round(high, 4) == 0.4910
    assert active.exact_interval(0, 10) == (0.0, pytest.approx(0.3085, abs=1e-4))
    assert active.exact_interval(10, 10) == (pytest.approx(0.6915, abs=1e-4), 1.0)
    assert active.exact_interval(0, 0) == (0.0, 1.0)


def test_exact_interval_coverage_by_simulation():
    import numpy as np

    from aefi.aftercare import active

    rng = np.random.default_rng(17)
    n, p, trials = 40, 0.1, 2000
    ks = rng.binomial(n, p, trials)
    covered = sum(lo <= p <= hi for lo, hi in (active.exact_interval(int(k), n) for k in ks))
    assert covered / trials >= 0.95  # exact: never below the nominal level
    assert active.compare(8, 40, 2, 40) < 0.1 and active.compare(2, 40, 2, 40) == 1.0


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("1,3,7", "1,3,7"), (" 2, 5 ,14 ", "2,5,14"), ("1，3，60", "1,3,60"), ("", ""), ("7", "7")],
)
def test_the_admins_check_in_days_are_kept_tidy(typed, kept):
    assert schedule.checked_days(typed) == kept


@pytest.mark.parametrize(
    "typed", ["0,3", "1,61", "3,1", "1,1", "1,,3", "1 3 7", "1.5", "一,三", "１,３"]
)
def test_the_admins_check_in_days_refused_with_one_clear_message(typed):
    with pytest.raises(ValueError, match="from 1 to 60, in ascending order"):
        schedule.checked_days(typed)
