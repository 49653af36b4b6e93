"""Every string aefi shows has its Chinese translation."""

from tests.catalog import clashes, missing


def test_every_shown_string_is_translated_to_chinese():
    gaps = missing()
    assert not gaps, "untranslated (run python -m tests.catalog): " + "; ".join(
        f"{m!r} at {w}" for m, w in list(gaps.items())[:20]
    )


def _clash_report(found):
    return "; ".join(
        f"{m!r}: " + ", ".join(f"{zh!r} in {' and '.join(files)}" for zh, files in by.items())
        for m, by in found.items()
    )


def test_each_msgid_has_one_translation_across_the_catalogs():
    found = clashes()
    assert not found, "msgid translated differently in two catalogs: " + _clash_report(found)


def test_a_clash_names_the_msgid_and_its_catalogs(tmp_path):
    (tmp_path / "zh_CN").mkdir()
    (tmp_path / "zh_CN" / "a.po").write_text('msgid "Sent"\nmsgstr "已发送"\n', encoding="utf-8")
    (tmp_path / "zh_CN" / "b.po").write_text('msgid "Sent"\nmsgstr "发送时间"\n', encoding="utf-8")
    (tmp_path / "zh_CN" / "c.po").write_text('msgid "Sent"\nmsgstr "已发送"\n', encoding="utf-8")
    found = clashes(tmp_path)
    assert found == {"Sent": {"已发送": ["a.po", "c.po"], "发送时间": ["b.po"]}}
    assert _clash_report(found) == "'Sent': '已发送' in a.po and c.po, '发送时间' in b.po"
