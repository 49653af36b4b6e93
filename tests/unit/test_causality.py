import pytest

from aefi.investigation.causality import (
    CATEGORY_LABELS,
    CHINA_CLASSIFICATION_LABELS,
    Answer,
    Assessment,
    CausalityCategory,
    Checklist,
    ChinaClassification,
    Eligibility,
    Step,
    assess,
    china_classification_matches,
    classification_warning,
)

Y, N, U, NA = Answer.yes, Answer.no, Answer.unknown, Answer.na
A1, A2, A3, A4 = (
    CausalityCategory.A1,
    CausalityCategory.A2,
    CausalityCategory.A3,
    CausalityCategory.A4,
)
B1, B2, C, D = CausalityCategory.B1, CausalityCategory.B2, CausalityCategory.C, CausalityCategory.D

ELIGIBLE = Eligibility(True, True, True, vaccine="DTaP", diagnosis="febrile seizure")


def answered(**answers: Answer) -> Checklist:
    """A checklist with every question answered "no" except those given."""
    defaults = {
        "other_cause_confirmed": N,
        "in_published_literature": N,
        "biologically_plausible": N,
        "specific_test_confirms_vaccine": N,
        "quality_defect": N,
        "immunization_error": N,
        "immunization_anxiety": N,
        "within_time_window": N,
        "evidence_against": N,
        "similar_event_after_previous_dose": N,
        "could_occur_without_vaccination": N,
        "pre_existing_condition": N,
        "other_exposure": N,
    }
    return Checklist(**(defaults | answers))


SCENARIOS = [
    pytest.param(
        ELIGIBLE,
        answered(in_published_literature=Y, within_time_window=Y),
        True,
        A1,
        id="A1-known-product-reaction-in-window",
    ),
    pytest.param(
        ELIGIBLE,
        answered(specific_test_confirms_vaccine=Y, within_time_window=Y),
        True,
        A1,
        id="A1-specific-test",
    ),
    pytest.param(
        ELIGIBLE,
        answered(quality_defect=Y, within_time_window=Y),
        True,
        A2,
        id="A2-quality-defect",
    ),
    pytest.param(
        ELIGIBLE,
        answered(immunization_error=Y, within_time_window=Y),
        True,
        A3,
        id="A3-immunization-error",
    ),
    pytest.param(
        ELIGIBLE,
        answered(immunization_anxiety=Y, within_time_window=Y),
        True,
        A4,
        id="A4-immunization-anxiety",
    ),
    pytest.param(
        ELIGIBLE,
        answered(in_published_literature=Y, immunization_error=Y, within_time_window=Y),
        True,
        A3,
        id="A3-error-takes-precedence-over-product",
    ),
    pytest.param(
        ELIGIBLE,
        answered(within_time_window=Y),
        True,
        B1,
        id="B1-in-window-no-known-association",
    ),
    pytest.param(
        ELIGIBLE,
        answered(within_time_window=Y, similar_event_after_previous_dose=Y),
        True,
        B1,
        id="B1-recurrence-without-known-association",
    ),
    pytest.param(
        ELIGIBLE,
        answered(other_cause_confirmed=Y, in_published_literature=Y, within_time_window=Y),
        True,
        B2,
        id="B2-other-cause-and-known-association-conflict",
    ),
    pytest.param(
        ELIGIBLE,
        answered(within_time_window=Y, pre_existing_condition=Y),
        True,
        B2,
        id="B2-in-window-but-pre-existing-condition",
    ),
    pytest.param(
        ELIGIBLE,
        answered(in_published_literature=Y, similar_event_after_previous_dose=Y),
        True,
        B2,
        id="B2-outside-window-but-recurrence",
    ),
    pytest.param(
        ELIGIBLE,
        answered(other_cause_confirmed=Y),
        True,
        C,
        id="C-other-cause-confirmed",
    ),
    pytest.param(
        ELIGIBLE,
        answered(other_cause_confirmed=Y, in_published_literature=Y, within_time_window=N),
        True,
        C,
        id="C-other-cause-association-outside-window",
    ),
    pytest.param(
        ELIGIBLE,
        answered(within_time_window=Y, evidence_against=Y),
        True,
        C,
        id="C-published-evidence-against",
    ),
    pytest.param(
        ELIGIBLE,
        answered(in_published_literature=Y, within_time_window=N),
        True,
        C,
        id="C-known-association-outside-window",
    ),
    pytest.param(ELIGIBLE, Checklist(), True, D, id="D-nothing-known"),
    pytest.param(
        ELIGIBLE,
        answered(in_published_literature=Y, within_time_window=U),
        True,
        D,
        id="D-association-but-timing-unknown",
    ),
    pytest.param(
        ELIGIBLE,
        answered(within_time_window=NA),
        True,
        D,
        id="D-timing-not-applicable-is-not-an-answer",
    ),
    pytest.param(
        Eligibility(True, None, True),
        answered(within_time_window=Y),
        False,
        D,
        id="D-eligibility-unknown",
    ),
    pytest.param(
        Eligibility(False, True, True),
        answered(in_published_literature=Y),
        False,
        None,
        id="ineligible-no-vaccine-before-event",
    ),
    pytest.param(
        Eligibility(True, False, True),
        answered(in_published_literature=Y),
        False,
        None,
        id="ineligible-no-valid-diagnosis",
    ),
    pytest.param(
        Eligibility(True, True, False),
        answered(),
        False,
        None,
        id="ineligible-event-not-clear",
    ),
]


@pytest.mark.parametrize(("eligibility", "checklist", "eligible", "category"), SCENARIOS)
def test_assess_category(eligibility, checklist, eligible, category):
    result = assess(eligibility, checklist)

    assert isinstance(result, Assessment)
    assert result.eligible is eligible
    assert result.category == category
    assert result.reasons, "every outcome explains itself"


def test_several_a_categories_are_all_listed_primary_first():
    checklist = answered(
        in_published_literature=Y, quality_defect=Y, immunization_anxiety=Y, within_time_window=Y
    )

    result = assess(ELIGIBLE, checklist)

    assert result.category is A2
    assert result.applicable == (A2, A4, A1)


def test_a1_path_goes_through_i_ii_and_time_window():
    result = assess(ELIGIBLE, answered(in_published_literature=Y, within_time_window=Y))

    assert result.path == (
        Step.eligibility,
        Step.other_causes,
        Step.known_association,
        Step.time_window,
    )
    assert result.missing == ()


def test_b1_path_reviews_evidence_against_and_qualifying_factors():
    result = assess(ELIGIBLE, answered(within_time_window=Y))

    assert result.path == (
        Step.eligibility,
        Step.other_causes,
        Step.known_association,
        Step.evidence_against,
        Step.qualifying_factors,
        Step.time_window,
    )
    assert "signal" in result.reasons[-1]


def test_d_names_every_unknown_item():
    result = assess(ELIGIBLE, Checklist())

    codes = [item.split()[0] for item in result.missing]
    assert codes == [
        "I.1",
        "II.1",
        "II.2",
        "II.3",
        "II.4",
        "II.5",
        "II.6",
        "III.1",
        "IV.1",
        "V.1",
        "V.2",
        "V.3",
        "V.4",
    ]


def test_d_with_known_association_names_the_time_window():
    result = assess(ELIGIBLE, answered(in_published_literature=Y, within_time_window=U))

    assert result.category is D
    assert result.missing == ("III.1 event within the time window of increased risk",)


def test_time_window_not_applicable_is_listed_as_missing():
    result = assess(ELIGIBLE, answered(within_time_window=NA))

    assert result.category is D
    assert result.missing == ("III.1 event within the time window of increased risk",)


def test_unknown_other_cause_does_not_block_a_but_is_listed():
    checklist = answered(other_cause_confirmed=U, immunization_error=Y, within_time_window=Y)

    result = assess(ELIGIBLE, checklist)

    assert result.category is A3
    assert [item.split()[0] for item in result.missing] == ["I.1"]


def test_unknown_quality_defect_is_a_gap_for_a1_only_if_it_could_change_it():
    checklist = answered(
        in_published_literature=Y, biologically_plausible=U, quality_defect=U, within_time_window=Y
    )

    result = assess(ELIGIBLE, checklist)

    assert result.category is A1
    assert [item.split()[0] for item in result.missing] == ["II.4"]


def test_conflict_reason_names_both_trends():
    checklist = answered(other_cause_confirmed=Y, quality_defect=Y, within_time_window=Y)

    result = assess(ELIGIBLE, checklist)

    assert result.category is B2
    assert "I.1" in result.reasons[-1] and "II.4" in result.reasons[-1]


def test_ineligible_without_vaccine_needs_no_more_information():
    result = assess(Eligibility(False, None, None), Checklist())

    assert result.category is None
    assert result.missing == ()
    assert result.path == (Step.eligibility,)


def test_ineligible_without_valid_diagnosis_says_what_is_missing():
    result = assess(Eligibility(True, False, True), Checklist())

    assert result.missing == ("valid diagnosis meeting a case definition",)
    assert "diagnosis" in result.reasons[0]


def test_unknown_eligibility_lists_what_to_collect():
    result = assess(Eligibility(None, True, None), Checklist())

    assert result.category is D
    assert result.missing == ("vaccine given before the event", "clearly stated event for review")


def test_every_category_has_both_labels():
    assert set(CATEGORY_LABELS) == set(CausalityCategory)
    assert CATEGORY_LABELS[A3]["zh"] == "预防接种差错相关反应"
    assert all(label["en"] and label["zh"] for label in CATEGORY_LABELS.values())
    assert set(CHINA_CLASSIFICATION_LABELS) == set(ChinaClassification)


CHINA = [
    pytest.param(A1, ChinaClassification.common_reaction, True, id="A1-common-agree"),
    pytest.param(A1, ChinaClassification.rare_reaction, True, id="A1-rare-agree"),
    pytest.param(A2, ChinaClassification.quality_defect, True, id="A2-agree"),
    pytest.param(A3, ChinaClassification.immunization_error, True, id="A3-agree"),
    pytest.param(A4, ChinaClassification.psychogenic, True, id="A4-agree"),
    pytest.param(C, ChinaClassification.coincidental, True, id="C-agree"),
    pytest.param(A1, ChinaClassification.coincidental, False, id="A1-vs-coincidental"),
    pytest.param(A2, ChinaClassification.rare_reaction, False, id="A2-vs-rare"),
    pytest.param(A3, ChinaClassification.quality_defect, False, id="A3-vs-quality"),
    pytest.param(C, ChinaClassification.rare_reaction, False, id="C-vs-rare"),
    pytest.param(B1, ChinaClassification.rare_reaction, None, id="B1-no-comparison"),
    pytest.param(B2, ChinaClassification.coincidental, None, id="B2-no-comparison"),
    pytest.param(D, ChinaClassification.common_reaction, None, id="D-no-comparison"),
    pytest.param(None, ChinaClassification.common_reaction, None, id="ineligible-no-comparison"),
]


@pytest.mark.parametrize(("category", "china_class", "matches"), CHINA)
def test_china_classification(category, china_class, matches):
    assert china_classification_matches(category, china_class) is matches

    warning = classification_warning(category, china_class)
    if matches is False:
        assert warning is not None
        assert warning.key == "causality.china_classification_mismatch"
        assert str(category) in warning.en and str(category) in warning.zh
        assert CHINA_CLASSIFICATION_LABELS[china_class]["zh"] in warning.zh
    else:
        assert warning is None


def test_warning_names_the_expected_chinese_class():
    warning = classification_warning(A2, ChinaClassification.rare_reaction)

    assert warning is not None
    assert "vaccine quality defect" in warning.en
    assert "疫苗质量事故" in warning.zh


@pytest.mark.parametrize(("eligibility", "checklist", "eligible", "category"), SCENARIOS)
def test_every_outcome_explains_itself_in_chinese_too(eligibility, checklist, eligible, category):
    result = assess(eligibility, checklist)

    assert len(result.reasons_zh) == len(result.reasons)
    assert len(result.missing_zh) == len(result.missing)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r) for r in result.reasons_zh)
    assert result.reasons_in("zh") == result.reasons_zh
    assert result.reasons_in("en") == result.reasons
    # Missing items keep their checklist number in both languages.
    assert [m.split()[0] for m in result.missing_zh if m[0] in "IV"] == [
        m.split()[0] for m in result.missing if m[0] in "IV"
    ]


def test_unclassifiable_says_in_chinese_what_to_collect():
    result = assess(ELIGIBLE, answered(in_published_literature=Y, within_time_window=U))

    assert result.category is D
    assert result.missing_zh == ("III.1 事件发生在风险增加的时间窗内",)
    assert "无法分类" in result.reasons_zh[-1]


def test_ineligible_reasons_in_chinese():
    result = assess(Eligibility(True, False, True), Checklist())

    assert result.category is None
    assert result.missing_zh == ("诊断有效（符合病例定义）",)
    assert "诊断" in result.reasons_zh[0]
