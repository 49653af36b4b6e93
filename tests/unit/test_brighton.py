import pytest

from aefi.investigation.brighton import (
    CRITERIA,
    CRITERION_LABELS,
    BrightonResult,
    Criterion,
    OrganSystem,
    Rank,
    Sign,
    brighton_level,
    criteria_from_signs,
)

Cr = Criterion

# Major
URTICARIA = Cr.generalized_urticaria_or_erythema
ANGIOEDEMA = Cr.angioedema
HYPOTENSION = Cr.measured_hypotension
SHOCK = Cr.uncompensated_shock
WHEEZE = Cr.bilateral_wheeze
STRIDOR = Cr.stridor
AIRWAY_SWELLING = Cr.upper_airway_swelling
# Minor
ITCH = Cr.generalized_pruritus_without_rash
SITE_URTICARIA = Cr.injection_site_urticaria
PERIPHERAL = Cr.reduced_peripheral_circulation
COUGH = Cr.persistent_dry_cough
HOARSE = Cr.hoarse_voice
SNEEZING = Cr.sneezing_rhinorrhoea
VOMITING = Cr.vomiting
NAUSEA = Cr.nausea
TRYPTASE = Cr.tryptase_elevated

LEVELS = [
    # Level 1: major dermatologic and major cardiovascular and/or respiratory.
    pytest.param({URTICARIA, HYPOTENSION}, True, True, True, 1, id="L1-derm-cv"),
    pytest.param({ANGIOEDEMA, WHEEZE}, True, True, True, 1, id="L1-derm-resp"),
    pytest.param({URTICARIA, SHOCK, STRIDOR, VOMITING}, True, True, True, 1, id="L1-all"),
    pytest.param({URTICARIA, WHEEZE}, True, None, True, 1, id="L1-organ-systems-derived"),
    # Level 2, first branch: major cardiovascular and major respiratory.
    pytest.param({HYPOTENSION, WHEEZE}, True, True, True, 2, id="L2a-major-cv-major-resp"),
    pytest.param({SHOCK, AIRWAY_SWELLING, COUGH}, True, True, True, 2, id="L2a-with-minor"),
    # Level 2, second branch: major cardiovascular or respiratory and a minor criterion of
    # a system other than cardiovascular or respiratory.
    pytest.param({HYPOTENSION, VOMITING}, True, True, True, 2, id="L2b-major-cv-minor-gi"),
    pytest.param({STRIDOR, ITCH}, True, True, True, 2, id="L2b-major-resp-minor-derm"),
    pytest.param({WHEEZE, TRYPTASE}, True, True, True, 2, id="L2b-major-resp-tryptase"),
    # Level 2, third branch: major dermatologic and minor cardiovascular and/or respiratory.
    pytest.param({URTICARIA, COUGH}, True, True, True, 2, id="L2c-major-derm-minor-resp"),
    pytest.param({ANGIOEDEMA, PERIPHERAL}, True, True, True, 2, id="L2c-major-derm-minor-cv"),
    pytest.param(
        {URTICARIA, PERIPHERAL, HOARSE}, True, True, True, 2, id="L2c-major-derm-minor-both"
    ),
    # Level 3: minor cardiovascular or respiratory and minor criteria of two more systems.
    pytest.param({COUGH, ITCH, VOMITING}, True, True, True, 3, id="L3-resp-derm-gi"),
    pytest.param({PERIPHERAL, NAUSEA, TRYPTASE}, True, True, True, 3, id="L3-cv-gi-lab"),
    pytest.param({PERIPHERAL, SNEEZING, SITE_URTICARIA}, True, True, True, 3, id="L3-cv-resp-derm"),
    pytest.param({HOARSE, COUGH, NAUSEA, VOMITING, ITCH}, True, None, True, 3, id="L3-derived"),
    # Level 4: reported as anaphylaxis, evidence insufficient.
    pytest.param({URTICARIA, HYPOTENSION}, None, True, True, 4, id="L4-onset-not-recorded"),
    pytest.param({COUGH, VOMITING}, True, True, True, 4, id="L4-minors-from-two-systems-only"),
    pytest.param({HYPOTENSION, COUGH}, True, True, True, 4, id="L4-major-cv-minor-resp-only"),
    pytest.param({URTICARIA, VOMITING}, True, True, True, 4, id="L4-no-cv-or-resp"),
    pytest.param({WHEEZE, TRYPTASE}, True, None, True, 4, id="L4-one-organ-system-derived"),
    pytest.param(set(), None, None, True, 4, id="L4-nothing-recorded"),
    pytest.param({COUGH, ITCH, VOMITING}, None, None, False, 4, id="L4-unreported-meets-level"),
    # Level 5: not a case.
    pytest.param({URTICARIA, HYPOTENSION}, False, True, True, 5, id="L5-onset-not-sudden"),
    pytest.param({URTICARIA, WHEEZE, SHOCK}, False, None, True, 5, id="L5-not-sudden-level1-signs"),
    pytest.param({WHEEZE, STRIDOR}, True, False, True, 5, id="L5-single-organ-system"),
    pytest.param({SITE_URTICARIA}, True, None, False, 5, id="L5-unreported-local-reaction"),
    pytest.param({COUGH, VOMITING}, True, True, False, 5, id="L5-unreported-no-level"),
]


@pytest.mark.parametrize(
    ("criteria", "sudden", "multiple", "reported", "level"),
    LEVELS,
)
def test_brighton_level(criteria, sudden, multiple, reported, level):
    result = brighton_level(
        criteria,
        sudden_onset_rapid_progression=sudden,
        multiple_organ_systems=multiple,
        reported_as_anaphylaxis=reported,
    )

    assert isinstance(result, BrightonResult)
    assert result.level == level
    assert result.reasons
    assert result.label and result.label_zh


def test_sudden_onset_requirement_fails_even_for_level_1_criteria():
    result = brighton_level([URTICARIA, HYPOTENSION, WHEEZE], False, True)

    assert result.level == 5
    assert result.label == "Not a case of anaphylaxis"
    assert "sudden" in result.reasons[0]


def test_level_4_explains_what_is_not_recorded():
    result = brighton_level([URTICARIA, HYPOTENSION], None, True)

    assert result.level == 4
    assert any("level 1" in reason for reason in result.reasons)
    assert any("not recorded" in reason for reason in result.reasons)


def test_reasons_name_the_branch_of_level_2():
    result = brighton_level([HYPOTENSION, VOMITING], True, True)

    assert "gastrointestinal" in result.reasons[0]


def test_criteria_accept_any_iterable():
    result = brighton_level(iter([ANGIOEDEMA, STRIDOR]), True, True)

    assert result.level == 1


def test_criteria_are_grouped_as_in_the_paper():
    def group(system, rank):
        return {c for c, spec in CRITERIA.items() if spec.system is system and spec.rank is rank}

    assert set(CRITERIA) == set(Criterion)
    assert len(group(OrganSystem.dermatologic, Rank.major)) == 3
    assert group(OrganSystem.cardiovascular, Rank.major) == {HYPOTENSION, SHOCK}
    assert len(group(OrganSystem.respiratory, Rank.major)) == 4
    assert len(group(OrganSystem.dermatologic, Rank.minor)) == 4
    assert group(OrganSystem.cardiovascular, Rank.minor) == {PERIPHERAL}
    assert len(group(OrganSystem.respiratory, Rank.minor)) == 5
    assert len(group(OrganSystem.gastrointestinal, Rank.minor)) == 4
    assert group(OrganSystem.laboratory, Rank.minor) == {TRYPTASE}
    assert all(label["en"] and label["zh"] for label in CRITERION_LABELS.values())


SIGNS = [
    pytest.param(
        {Sign.tachycardia, Sign.capillary_refill_over_3s, Sign.decreased_consciousness},
        {SHOCK, PERIPHERAL},
        id="three-shock-signs",
    ),
    pytest.param(
        {Sign.tachycardia, Sign.reduced_central_pulse},
        set(),
        id="two-shock-signs-not-peripheral",
    ),
    pytest.param(
        {Sign.tachycardia, Sign.capillary_refill_over_3s},
        {PERIPHERAL},
        id="reduced-peripheral-circulation",
    ),
    pytest.param(
        {Sign.measured_hypotension, Sign.tachycardia, Sign.capillary_refill_over_3s},
        {HYPOTENSION},
        id="hypotension-replaces-peripheral",
    ),
    pytest.param(
        {Sign.tachypnoea, Sign.cyanosis},
        {Cr.respiratory_distress},
        id="respiratory-distress-two-signs",
    ),
    pytest.param({Sign.grunting}, set(), id="one-distress-sign"),
]


@pytest.mark.parametrize(("signs", "criteria"), SIGNS)
def test_criteria_from_signs(signs, criteria):
    assert criteria_from_signs(signs) == criteria


@pytest.mark.parametrize(
    ("criteria", "sudden", "multiple", "reported", "level"),
    LEVELS,
)
def test_reasons_in_chinese_follow_the_english(criteria, sudden, multiple, reported, level):
    result = brighton_level(criteria, sudden, multiple, reported)

    assert len(result.reasons_zh) == len(result.reasons)
    assert result.reasons_in("zh") == result.reasons_zh
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r) for r in result.reasons_zh)
    if 1 <= level <= 3:
        assert f"符合{level}级标准" in result.reasons_zh[0]
