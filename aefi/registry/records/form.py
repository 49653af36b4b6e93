"""A registry record's admin form, parsed by a pydantic model made from its kind's fields.

Every field of the kind is kept as typed (``None`` when the browser sent nothing, as for
an unticked box), so a form shown again with messages loses nothing; the service coerces
and checks the values (``records.save_record``). A protected field the request names (a
lot's status, a site's halt) is kept too, so that the service refuses it instead of the
form dropping it silently: those states change only through their decisions."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from aefi.registry.records.service import Kind, get_kind, protected_fields


@cache
def _model(kind_name: str) -> type[BaseModel]:
    kind = get_kind(kind_name)
    names = [*(f.name for f in kind.fields), *protected_fields(kind)]
    fields: dict[str, Any] = {name: (str | None, None) for name in dict.fromkeys(names)}
    return create_model(
        f"{kind.name.title()}Form",
        __config__=ConfigDict(extra="ignore", frozen=True),
        **fields,
    )


def record_values(kind: Kind, form: Any) -> dict[str, str | None]:
    """The kind's values from Starlette's FormData (a file sent under a field's name counts
    as nothing typed), with the protected fields the request named."""
    sent = {k: v if isinstance(v, str) else None for k, v in form.items()}
    parsed = _model(kind.name).model_validate(sent)
    values = {f.name: getattr(parsed, f.name) for f in kind.fields}
    values.update({f: getattr(parsed, f) for f in protected_fields(kind) if f in sent})
    return values
