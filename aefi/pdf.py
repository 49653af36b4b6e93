"""HTML → PDF with WeasyPrint, from the same Jinja templates as the pages.

Chinese needs a CJK font (Debian fonts-noto-cjk) and libharfbuzz-subset0 (without it
WeasyPrint falls back to a subsetter about 50 times slower)."""

from __future__ import annotations

from typing import Any

from aefi import i18n
from aefi.web import templates

PAGE_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
        @bottom-center { content: counter(page) " / " counter(pages);
                         font-size: 8pt; color: #666; } }
html { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Micro Hei", sans-serif;
       font-size: 10pt; line-height: 1.45; color: #111; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 4mm; }
h2 { font-size: 11.5pt; margin: 5mm 0 2mm; border-bottom: 1px solid #444; }
table { width: 100%; border-collapse: collapse; margin: 1mm 0 3mm; }
th, td { border: 0.6pt solid #333; padding: 1.2mm 1.6mm; vertical-align: top; text-align: left; }
th { background: #eee; font-weight: bold; width: 22%; }
.meta { text-align: right; font-size: 9pt; color: #333; }
.muted { color: #555; }
.flag { color: #b3261e; font-weight: bold; }
.sign { margin-top: 10mm; display: flex; justify-content: space-between; }
"""


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """Render ``templates/pdf/<template>`` in the current language to PDF bytes."""
    from weasyprint import CSS, HTML

    html = templates().env.get_template(template).render(locale=i18n.get_locale(), **context)
    return HTML(string=html).write_pdf(stylesheets=[CSS(string=PAGE_CSS)])
