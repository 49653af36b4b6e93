"""The printed notices say what their numbers mean and keep numbers whole: rendered from
their templates with plain stand-ins for the records (no database), read back as text."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from aefi import i18n
from aefi.pdf import render_pdf

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AT = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def _text(pdf: bytes, *options: str) -> str:
    return subprocess.run(
        ["pdftotext", *options, "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def _signal(method: str, statistic: float, threshold: float, observed: int, expected: float):
    return NS(
        signal=NS(
            id=7,
            method=method,
            event_group="anaphylaxis",
            observed=observed,
            expected=expected,
            oe_ratio=observed / expected if expected else None,
            oe_lower=1.2,
            oe_upper=14.0,
            statistic=statistic,
            threshold=threshold,
        )
    )


def _halt_notice(lang: str, signals) -> str:
    halt = NS(
        number="叫停〔2026〕3号",
        scope="lot",
        effective_at=AT,
        target_label="HEPB2026001",
        reason="两例严重过敏反应",
        cluster_ids=[],
        lifted_at=None,
        issued_by_name="李局长",
        issued_at=AT,
    )
    v = NS(
        halt=halt,
        county=NS(name="示范县", name_en="Demo County"),
        vaccine=NS(name="乙型肝炎疫苗", name_en="Hepatitis B vaccine", manufacturer="华兰"),
        sites=[],
        signals=signals,
        reports=[NS(number="330782-2026-00001")],
    )
    token = i18n.set_locale(lang)
    try:
        pdf = render_pdf(
            "pdf/halt_notice.html",
            {
                "v": v,
                "group_label": lambda g: g,
                "method_label": lambda m: m,
                "_": i18n.gettext,
                "pick": i18n.pick,
            },
        )
    finally:
        i18n._current.reset(token)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"halt-notice-{lang}.pdf").write_bytes(pdf)
    # In reading order, the lines of a table cell joined again.
    return re.sub(r"\s+", "" if lang == "zh_CN" else " ", _text(pdf))


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_halt_notice_says_what_the_threshold_means(lang):
    text = _halt_notice(
        lang, [_signal("maxsprt", 4.2, 3.1, 5, 0.8), _signal("disproportionality", 0, 0, 3, 0)]
    )
    if lang == "en":
        assert "Above the alert threshold (log-likelihood ratio 4.2 ≥ critical value 3.1)" in text
        assert "observed 5 vs 0.8 expected" in text
        assert "No test statistic" in text
    else:
        assert "超过预警界值（对数似然比4.2≥临界值3.1）" in text
        assert "观察到5例，期望0.8例" in text
    assert "0.00" not in text
    assert "330782-2026-00001" in text  # the report number in one piece


def test_below_the_threshold_is_said_too():
    text = _halt_notice("en", [_signal("maxsprt", 1.5, 3.1, 2, 0.9)])
    assert "Below the alert threshold (log-likelihood ratio 1.5 < critical value 3.1)" in text


def _long_notice(n_signals: int) -> bytes:
    """A lot halt sent to twelve sites, on n signals, lifted since (the demo's halt)."""
    halt = NS(
        number="叫停〔2026〕1号",
        scope="lot",
        effective_at=AT,
        target_label="FLU202612001",
        reason="城关镇同日上午接种该批次后发生两例严重过敏反应，信号监测提示异常；暂停使用。" * 2,
        cluster_ids=[1],
        lifted_at=AT,
        lift_number="解除叫停〔2026〕1号",
        lifted_by_name="赵科长（县卫健局）",
        lift_reason="省药品检验所检验该批次质量合格；专家组诊断两例为异常反应。" * 2,
        issued_by_name="赵科长（县卫健局）",
        issued_at=AT,
    )
    v = NS(
        halt=halt,
        county=NS(name="示范县", name_en="Demo County"),
        vaccine=NS(name="流感病毒裂解疫苗", name_en="Influenza vaccine", manufacturer="华兰"),
        sites=[NS(name=f"第{i}镇卫生院预防接种门诊", name_en=f"Site {i}") for i in range(12)],
        signals=[_signal("maxsprt", 11.0, 3.8, 2, 0.0031) for _ in range(n_signals)],
        reports=[NS(number="330782-2026-00042"), NS(number="330782-2026-00043")],
    )
    token = i18n.set_locale("zh_CN")
    try:
        return render_pdf(
            "pdf/halt_notice.html",
            {
                "v": v,
                "group_label": lambda g: "严重过敏反应",
                "method_label": lambda m: "MaxSPRT 序贯检验",
                "_": i18n.gettext,
                "pick": i18n.pick,
            },
        )
    finally:
        i18n._current.reset(token)


@pytest.mark.parametrize("n_signals", range(1, 9))
def test_the_signature_block_stays_together(n_signals):
    # The demo's halt notice printed the issuer on page 1 and the signatory and seal alone
    # on page 2.
    pages = _text(_long_notice(n_signals)).split("\f")
    seal = next(p for p in pages if "盖章" in p)
    # The stamp's first line, the bureau's name, is on the page of the signatory and seal.
    assert "示范县卫生健康局" in seal[: seal.index("签发人")], seal
