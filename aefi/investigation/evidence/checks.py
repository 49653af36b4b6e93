"""Which files a case file accepts as evidence: by extension AND by content, so that a
renamed executable or an HTML page called "scan.pdf" is refused.

Pure: a file name and its first bytes (or, for Office files, the whole file) in, the kind
or the reason for refusal out.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from aefi.i18n import N_

# kind -> (extensions, MIME type served on download)
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "pdf": ((".pdf",), "application/pdf"),
    "jpg": ((".jpg", ".jpeg"), "image/jpeg"),
    "png": ((".png",), "image/png"),
    "docx": (
        (".docx",),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xlsx": ((".xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "txt": ((".txt",), "text/plain; charset=utf-8"),
}
ALLOWED_EXTENSIONS = tuple(ext for exts, _mime in KINDS.values() for ext in exts)


@dataclass(frozen=True)
class Verdict:
    kind: str | None  # None when refused
    error: str = ""  # msgid
    params: dict[str, str] | None = None


def kind_of_name(filename: str) -> str | None:
    lower = filename.lower().strip()
    for kind, (exts, _mime) in KINDS.items():
        if lower.endswith(exts):
            return kind
    return None


def _zip_has(content: bytes, prefix: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        return False
    return "[Content_Types].xml" in names and any(n.startswith(prefix) for n in names)


def _looks_like_text(content: bytes) -> bool:
    if b"\x00" in content:
        return False
    sample = content[:65536]
    for encoding in ("utf-8", "gb18030"):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            # A multi-byte character cut at the end of the sample is not an error.
            try:
                text = sample[:-3].decode(encoding)
            except UnicodeDecodeError:
                continue
        lowered = text.lstrip().lower()
        # An HTML or SVG page named .txt would be served as text, but refuse it anyway:
        # evidence is not markup.
        return not lowered.startswith(("<!doctype html", "<html", "<svg", "<script"))
    return False


def sniff(kind: str, content: bytes) -> bool:
    """Whether the content is what the extension claims."""
    if kind == "pdf":
        return content[:1024].lstrip().startswith(b"%PDF-")
    if kind == "jpg":
        return content.startswith(b"\xff\xd8\xff")
    if kind == "png":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    if kind == "docx":
        return content.startswith(b"PK\x03\x04") and _zip_has(content, "word/")
    if kind == "xlsx":
        return content.startswith(b"PK\x03\x04") and _zip_has(content, "xl/")
    if kind == "txt":
        return _looks_like_text(content)
    return False


def check(filename: str, content: bytes, size: int, max_bytes: int) -> Verdict:
    """Accept or refuse one upload. ``content`` is the whole file (it is at most
    ``max_bytes`` long; the caller stops reading beyond that and passes the size seen)."""
    name = (filename or "").strip()
    if not name:
        return Verdict(None, N_("Choose a file."))
    if size == 0:
        return Verdict(None, N_("The file is empty."))
    if size > max_bytes:
        return Verdict(
            None,
            N_("The file is larger than {limit} MB."),
            {"limit": f"{max_bytes / (1024 * 1024):g}"},
        )
    kind = kind_of_name(name)
    if kind is None:
        return Verdict(
            None,
            N_("Files of this type are not accepted; allowed: {allowed}."),
            {"allowed": "PDF, JPG, PNG, DOCX, XLSX, TXT"},
        )
    if not sniff(kind, content):
        return Verdict(
            None,
            N_("The content of the file is not a {kind} file; it was refused."),
            {"kind": kind.upper()},
        )
    return Verdict(kind)


def mime_type(kind: str) -> str:
    return KINDS[kind][1]


def safe_display_name(filename: str) -> str:
    """The original name without any path, for showing and for Content-Disposition."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?')
    return cleaned[:200] or "file"
