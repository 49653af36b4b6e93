"""Every string aefi shows has its Chinese translation."""

from tests.catalog import missing


def test_every_shown_string_is_translated_to_chinese():
    gaps = missing()
    assert not gaps, "untranslated (run python -m tests.catalog): " + "; ".join(
        f"{m!r} at {w}" for m, w in list(gaps.items())[:20]
    )
