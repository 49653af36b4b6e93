"""MedDRA's ASCII layout read from a small made-up release; the shipped seed; VAERS fixes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aefi.intake.symptoms import BY_CODE, EVENT_GROUPS
from aefi.signals import vaers
from aefi.terminology import body_systems, meddra
from aefi.terminology.service import TermInfo, codes_and_groups, normalise, seed_terms

RELEASE = Path(__file__).resolve().parents[1] / "data" / "meddra"


def test_release_is_read_with_hierarchy_and_primary_soc() -> None:
    rel = meddra.read_dir(RELEASE)
    assert rel.version == "99.0"
    assert set(rel.pts) == {"90000001", "90000002", "90000003", "90000004", "90000005"}
    assert rel.pts["90000002"].name == "Febrile convulsion"
    assert len(rel.llts) == 9
    fever = next(x for x in rel.llts if x.name == "Fever")
    assert fever.pt_code == "90000001" and fever.current
    assert not next(x for x in rel.llts if x.name == "Temperature raised").current
    # Gaze palsy sits under two SOCs; the row flagged primary (Y) wins.
    assert rel.primary_soc_abbrev("90000004") == "Nerv"
    assert rel.primary_soc_abbrev("90000001") == "Genrl"
    assert rel.socs["90900003"].abbrev == "Eye"
    assert {body_systems.SOC_ABBREV[s.abbrev] for s in rel.socs.values()} == {
        "general",
        "nervous",
        "eye",
    }


def test_file_names_in_upper_case_are_found(tmp_path: Path) -> None:
    for p in RELEASE.glob("*.asc"):
        shutil.copy(p, tmp_path / p.name.upper())
    assert len(meddra.read_dir(tmp_path).llts) == 9


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("llt.asc", "90000099$Orphan$91111111$$$$$$$Y$$\n", "not in pt.asc"),
        ("llt.asc", "ABC$Bad code$90000001$$$$$$$Y$$\n", "is not a code"),
        ("pt.asc", "90000001$Pyrexia\n", "expected at least 4"),
        ("mdhier.asc", "90000001$9$9$9$Pyrexia$\n", "expected at least 12"),
    ],
)
def test_malformed_files_name_file_and_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    for p in RELEASE.glob("*.asc"):
        shutil.copy(p, tmp_path / p.name)
    with (tmp_path / name).open("a", encoding="utf-8") as fh:
        fh.write(content)
    with pytest.raises(meddra.MeddraFormatError, match=message) as exc:
        meddra.read_dir(tmp_path)
    assert name in str(exc.value) and "line" in str(exc.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    shutil.copy(RELEASE / "pt.asc", tmp_path / "pt.asc")
    with pytest.raises(meddra.MeddraFormatError, match="mdhier.asc is missing"):
        meddra.read_dir(tmp_path)
    with pytest.raises(meddra.MeddraFormatError, match="not a folder"):
        meddra.read_dir(tmp_path / "nowhere")


def test_latin1_release_is_read(tmp_path: Path) -> None:
    for p in RELEASE.glob("*.asc"):
        shutil.copy(p, tmp_path / p.name)
    with (tmp_path / "llt.asc").open("ab") as fh:
        fh.write("90000013$Fi\xe8vre$90000001$$$$$$$Y$$\n".encode("latin-1"))
    assert any(x.name == "Fièvre" for x in meddra.read_dir(tmp_path).llts)


def test_seed_is_consistent_with_the_vocabularies() -> None:
    seeds = seed_terms()
    keys = [normalise(s.text) for s in seeds]
    assert len(keys) == len(set(keys))
    for s in seeds:
        assert s.symptom_code is None or s.symptom_code in BY_CODE
        assert s.event_group is None or s.event_group in EVENT_GROUPS
        if s.symptom_code:
            assert s.event_group == BY_CODE[s.symptom_code].group
        assert s.body_system in body_systems.BODY_SYSTEMS, s
    by = {normalise(s.text): s for s in seeds}
    # The terms the issue names, and aefi's own codes that had no row.
    assert by["vasodilatation"].symptom_code == "REDNESS"
    assert by["dermatitis bullous"].body_system == "skin"
    assert by["infection"].event_group == "other"
    for code in ("DIZZY", "CHESTPN", "HYPOTEN"):
        assert any(s.symptom_code == code for s in seeds), code
    # Every symptom code but OTHER has a default body system; every SOC one of ours.
    assert set(BY_CODE) - set(body_systems.OF_CODE) == {"OTHER"}
    assert set(body_systems.SOC_ABBREV.values()) == set(body_systems.BODY_SYSTEMS)


def test_report_codes_come_from_term_mappings() -> None:
    infos = [
        TermInfo(1, "FEBSEIZ", "seizure"),
        TermInfo(2, None, None),
        TermInfo(3, None, "anxiety"),
        TermInfo(4, "FEBSEIZ", "seizure"),
    ]
    assert codes_and_groups(infos, died=False) == (["FEBSEIZ"], ["seizure", "anxiety"])
    assert codes_and_groups(infos[1:2], died=True) == (["DEATH"], ["death"])


def test_vaers_lot_and_dose_cleaning() -> None:
    assert vaers.clean_lot("EJN*157A") == vaers.clean_lot("ejn-157a") == "EJN157A"
    assert vaers.clean_lot(" 0123 x ") == "0123X"
    for unknown in ("", "unk", "N/A", "UNKNOWN", "none", "0", "?"):
        assert vaers.clean_lot(unknown) == "UNKNOWN", unknown
    assert vaers.lot_number("MMR", "m*123.4") == "US-MMR-M1234"
    assert vaers.dose_number("") is None and vaers.dose_number("0") is None
    assert vaers.dose_number("UNK") is None and vaers.dose_number("2") == 2
    assert vaers.dose_number("150") is None
