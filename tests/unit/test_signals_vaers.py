"""VAERS files: parsing, MedDRA mapping, the replay's first-appearing signals; the chart."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from aefi.signals import charts, replay, vaers
from tests.factories import data_row, write_year

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "vaers"


def test_parse_date_and_names() -> None:
    assert vaers.parse_date("01/02/1996") == date(1996, 1, 2)
    assert vaers.parse_date("") is None and vaers.parse_date("13/40/1996") is None
    assert vaers.lot_number("MMR", " 0123 x ") == "US-MMR-0123X"
    assert vaers.lot_number("MMR", "unk") == "US-MMR-UNKNOWN"
    assert vaers.lot_number("OPV", "") == "US-OPV-UNKNOWN"
    assert vaers.vaccine_code("FLU3") == "US-FLU3"
    assert vaers.generic_name("INFLUENZA (SEASONAL) (FLUZONE)") == "INFLUENZA (SEASONAL)"
    assert vaers.generic_name("TD ADSORBED (NO BRAND NAME)") == "TD ADSORBED"


def test_meddra_terms_map_to_codes_and_unmapped_are_kept() -> None:
    mapping = vaers.meddra_map()
    codes, unmapped = vaers.map_terms(
        ["Febrile convulsion", "Pyrexia", "Gaze palsy", "Pyrexia", "Anaphylactic reaction"],
        mapping,
    )
    assert codes == ["FEBSEIZ", "FEVER", "ANAPH"]
    assert unmapped == ["Gaze palsy"]
    # Every code of the table is in intake's vocabulary.
    from aefi.intake.symptoms import BY_CODE

    assert set(mapping.values()) <= set(BY_CODE)


def test_read_dir_joins_files_and_counts_rows(tmp_path: Path) -> None:
    write_year(
        tmp_path,
        1996,
        [data_row("000001", "01/05/1996"), data_row("000002", "02/10/1996", died="Y")],
        [
            "000001,MMR,MERCK,ab12,1,SC,LA,MMR II\n",
            "000001,OPV,LEDERLE,,2,PO,,POLIO\n",
            "000002,DTP,CONNAUGHT,X9,1,IM,RL,DTP\n",
        ],
        [
            "000001,Febrile convulsion,8.1,Pyrexia,8.1,,,,,,\n",
            "000001,Irritability,8.1,,,,,,,,\n",
            "000002,Sudden infant death syndrome,8.1,,,,,,,,\n",
        ],
    )
    records, counts = vaers.read_dir(tmp_path)
    assert (counts.data_rows, counts.vax_rows, counts.symptom_rows) == (2, 3, 3)
    first = records[0]
    assert first.vaers_id == "000001" and first.received_on == date(1996, 1, 5)
    assert first.terms == ["Febrile convulsion", "Pyrexia", "Irritability"]
    assert [v.vax_type for v in first.vaxes] == ["MMR", "OPV"]
    codes, groups, unmapped = vaers.record_codes(records[1], vaers.meddra_map())
    assert codes == ["DEATH"] and groups == ["death"] and unmapped == []
    assert records[1].died


def test_read_dir_refuses_symptoms_of_unknown_reports(tmp_path: Path) -> None:
    write_year(
        tmp_path,
        1996,
        [data_row("000001", "01/05/1996")],
        ["000001,MMR,MERCK,1,1,SC,LA,MMR II\n"],
        ["000009,Pyrexia,8.1,,,,,,,,\n"],
    )
    with pytest.raises(ValueError):
        vaers.read_dir(tmp_path)


def test_replay_reports_each_signal_once_when_it_first_appears(tmp_path: Path) -> None:
    # January: background only. February: MMR seizures pile up (Evans needs a >= 3).
    data, vax, sym = [], [], []
    k = 0

    def add(recv: str, vtype: str, term: str) -> None:
        nonlocal k
        k += 1
        vid = f"{k:06d}"
        data.append(data_row(vid, recv))
        vax.append(f"{vid},{vtype},M,L{k},1,IM,LA,{vtype}\n")
        sym.append(f"{vid},{term},8.1,,,,,,,,\n")

    for i in range(40):
        add("01/10/1996", ["DTP", "HEP", "MMR", "OPV"][i % 4], "Pyrexia")
    for _ in range(5):
        add("02/10/1996", "MMR", "Febrile convulsion")
    for _ in range(3):
        add("03/10/1996", "MMR", "Febrile convulsion")
    write_year(tmp_path, 1996, data, vax, sym)
    records, _ = vaers.read_dir(tmp_path)
    result = replay.first_signals(vaers.replay_items(records), step="month")
    assert [s.label for s in result.steps] == ["1996-01", "1996-02", "1996-03"]
    assert [s.total for s in result.steps] == [40, 45, 48]
    assert result.steps[0].new_groups == result.steps[0].new_terms == 0
    groups = {(x.vaccine, x.name): x for x in result.of_level("group")}
    sig = groups[("MMR", "seizure")]
    assert sig.step == "1996-02" and sig.a == 5 and sig.prr >= 2 and sig.chi2_yates >= 4
    term = next(x for x in result.of_level("term") if x.name == "Febrile convulsion")
    assert (term.vaccine, term.step, term.a) == ("MMR", "1996-02", 5)
    # Each pair once: March adds reports, not a second MMR x seizure signal.
    assert len({(x.level, x.vaccine, x.name) for x in result.signals}) == len(result.signals)


@pytest.mark.skipif(not SHARED.exists(), reason="shared VAERS data not present")
def test_shared_years_are_read_completely() -> None:
    records, counts = vaers.read_dir(SHARED)
    for year in (1996, 1997):
        for kind, attr in (("DATA", None), ("VAX", None), ("SYMPTOMS", None)):
            path = SHARED / f"{year}VAERS{kind}.csv"
            with path.open(encoding="latin-1", newline="") as fh:
                rows = sum(1 for _ in csv.DictReader(fh))
            assert counts.files[path.name] == rows, (path.name, attr)
    assert len(records) == counts.data_rows == 21785
    assert sum(len(r.vaxes) for r in records) == counts.vax_rows == 34828


def test_chart_svg_has_both_languages_labels() -> None:
    times = [datetime(2026, 11, d, tzinfo=UTC) for d in range(1, 11)]
    svg = charts.observed_expected_svg(
        times,
        observed=np.array([0, 0, 1, 1, 2, 3, 3, 4, 4, 5], dtype=float),
        expected=np.linspace(0.1, 1.0, 10),
        boundary=np.array([2, 2, 2, 3, 3, 3, 3, 4, 4, 4], dtype=float),
        text=charts.ChartText(
            title="批号 HEPB202611001 · 严重过敏反应",
            observed="观察数（累计）",
            expected="期望数（累计）",
            boundary="MaxSPRT 边界",
            x_label="日期",
            y_label="例数",
            note="alpha 0.05, M = 2",
        ),
    )
    assert svg.startswith("<svg") and "</svg>" in svg
    assert "严重过敏反应" in svg and "观察数（累计）" in svg and "MaxSPRT 边界" in svg
    assert "Noto Sans CJK SC" in svg


def test_the_phone_chart_puts_its_title_on_two_lines() -> None:
    # On one line at phone width the title ran past the figure and was cut mid-word.
    times = [datetime(2026, 11, d, tzinfo=UTC) for d in range(1, 11)]
    svg = charts.observed_expected_svg(
        times,
        observed=np.arange(10, dtype=float),
        expected=np.linspace(0.1, 1.0, 10),
        boundary=None,
        narrow=True,
        text=charts.ChartText(
            title="批号 DTAP2026001（DTAP） · 严重过敏反应",
            observed="观察数（累计）",
            expected="期望数（累计）",
            boundary="MaxSPRT 边界",
            x_label="日期",
            y_label="例数",
            note="",
        ),
    )
    assert ">批号 DTAP2026001（DTAP）</text>" in svg and ">严重过敏反应</text>" in svg
