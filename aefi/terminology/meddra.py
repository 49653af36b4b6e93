"""MedDRA's ASCII distribution files, read without a database (pure).

MedDRA is licensed: aefi ships none of it. A county with a licence loads its own release
(``aefi terminology load-meddra DIR``). The release's ``MedAscii`` folder holds ``$``-separated
files, one record a line, every field followed by a ``$``:

* ``llt.asc``: llt_code $ llt_name $ pt_code $ llt_whoart_code $ llt_harts_code $
  llt_costart_sym $ llt_icd9_code $ llt_icd9cm_code $ llt_icd10_code $ llt_currency $
  llt_jart_code $
* ``pt.asc``: pt_code $ pt_name $ null_field $ pt_soc_code $ pt_whoart_code $ pt_harts_code $
  pt_costart_sym $ pt_icd9_code $ pt_icd9cm_code $ pt_icd10_code $ pt_jart_code $
* ``mdhier.asc``: pt_code $ hlt_code $ hlgt_code $ soc_code $ pt_name $ hlt_name $
  hlgt_name $ soc_name $ soc_abbrev $ null_field $ pt_soc_code $ primary_soc_fg $

Only the fields aefi uses are kept: codes, names, an LLT's PT and currency, and each PT's
primary SOC (``primary_soc_fg`` = Y in ``mdhier.asc``; ``pt_soc_code`` of ``pt.asc`` where
the hierarchy file has no row for a PT). Files are read as UTF-8, or Latin-1 where they are
not valid UTF-8 (older English releases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class MeddraFormatError(ValueError):
    """A file is missing or a line does not have the layout above."""


@dataclass(frozen=True)
class LLT:
    code: str
    name: str
    pt_code: str
    current: bool


@dataclass(frozen=True)
class PT:
    code: str
    name: str
    soc_code: str


@dataclass(frozen=True)
class SOC:
    code: str
    name: str
    abbrev: str


@dataclass
class Release:
    llts: list[LLT] = field(default_factory=list)
    pts: dict[str, PT] = field(default_factory=dict)
    socs: dict[str, SOC] = field(default_factory=dict)  # from mdhier.asc
    primary_soc: dict[str, str] = field(default_factory=dict)  # pt_code -> soc_code
    version: str = ""

    def primary_soc_abbrev(self, pt_code: str) -> str:
        soc = self.socs.get(self.primary_soc.get(pt_code, ""))
        return soc.abbrev if soc else ""


def _lines(path: Path) -> list[str]:
    if not path.exists():
        raise MeddraFormatError(f"{path.name} is missing in {path.parent}")
    raw = path.read_bytes()
    try:
        body = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        body = raw.decode("latin-1")
    return body.splitlines()


def _fields(path: Path, lineno: int, line: str, at_least: int) -> list[str]:
    parts = line.split("$")
    # Every field ends in '$', so a well-formed line splits into fields + one empty tail.
    if parts and parts[-1] == "":
        parts = parts[:-1]
    if len(parts) < at_least:
        raise MeddraFormatError(
            f"{path.name} line {lineno}: {len(parts)} '$'-separated fields, "
            f"expected at least {at_least}"
        )
    return [p.strip() for p in parts]


def _code(path: Path, lineno: int, value: str, what: str) -> str:
    if not value.isdigit():
        raise MeddraFormatError(f"{path.name} line {lineno}: {what} {value!r} is not a code")
    return value


def read_dir(directory: Path) -> Release:
    """Read ``llt.asc``, ``pt.asc`` and ``mdhier.asc`` (names in any case) of one release."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MeddraFormatError(f"{directory} is not a folder")
    names = {p.name.lower(): p for p in directory.iterdir()}

    def find(name: str) -> Path:
        return names.get(name, directory / name)

    rel = Release()
    version_file = names.get("meddra_release.asc")
    if version_file is not None:
        first = next((ln for ln in _lines(version_file) if ln.strip()), "")
        rel.version = first.split("$")[0].strip()

    pt_path = find("pt.asc")
    for n, line in enumerate(_lines(pt_path), 1):
        if not line.strip():
            continue
        f = _fields(pt_path, n, line, 4)
        code = _code(pt_path, n, f[0], "pt_code")
        if not f[1]:
            raise MeddraFormatError(f"{pt_path.name} line {n}: PT {code} has no name")
        rel.pts[code] = PT(code, f[1], f[3])

    hier_path = find("mdhier.asc")
    for n, line in enumerate(_lines(hier_path), 1):
        if not line.strip():
            continue
        f = _fields(hier_path, n, line, 12)
        pt_code = _code(hier_path, n, f[0], "pt_code")
        soc_code = _code(hier_path, n, f[3], "soc_code")
        rel.socs.setdefault(soc_code, SOC(soc_code, f[7], f[8]))
        if f[11].upper() == "Y":
            rel.primary_soc[pt_code] = soc_code
    for pt in rel.pts.values():
        if pt.code not in rel.primary_soc and pt.soc_code in rel.socs:
            rel.primary_soc[pt.code] = pt.soc_code

    llt_path = find("llt.asc")
    for n, line in enumerate(_lines(llt_path), 1):
        if not line.strip():
            continue
        f = _fields(llt_path, n, line, 3)
        code = _code(llt_path, n, f[0], "llt_code")
        pt_code = _code(llt_path, n, f[2], "pt_code")
        if pt_code not in rel.pts:
            raise MeddraFormatError(
                f"{llt_path.name} line {n}: LLT {code} names PT {pt_code}, not in pt.asc"
            )
        current = (f[9].upper() != "N") if len(f) > 9 else True
        rel.llts.append(LLT(code, f[1], pt_code, current))
    return rel
