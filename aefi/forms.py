"""Form bodies parsed once by a pydantic model, the way the API parses JSON bodies.

``await parse_form(request, Model)`` gives the model, or ``FormErrors``: what was entered
(so the page shows the form again as it was typed), one translated message per field and a
summary. Two conventions of HTML forms that pydantic does not know are applied first: a
blank input of a field that is not text means "not given" (the field's default), and a
field typed as a list takes every value sent under its name (check boxes, multi-selects).
A field whose form name differs from its attribute (``e.clear_event``) says so with
``Field(alias=...)``.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import Request
from pydantic import BaseModel, BeforeValidator, ValidationError
from starlette.datastructures import FormData

from aefi import i18n
from aefi.errors import Invalid

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class FormErrors:
    """A form that did not parse: the values as typed, a message per field, a summary."""

    values: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    message: str = ""


def tri(raw: object) -> bool | None:
    return {"yes": True, "no": False}.get(str(raw or "").strip())


# A yes / no / unknown radio group: anything but "yes" or "no" is "not known".
Tri = Annotated[bool | None, BeforeValidator(tri)]


def _members(annotation: Any) -> set[Any]:
    """Every type an annotation may hold (``Annotated`` and unions unwrapped)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return set().union(*(_members(a) for a in get_args(annotation)))
    return {origin or annotation}


def _is_list(annotation: Any) -> bool:
    return bool(_members(annotation) & {list, set, tuple, frozenset})


def form_values(form: FormData, model: type[BaseModel]) -> dict[str, Any]:
    """The input of ``model`` from a submitted form, keyed by form name."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if _is_list(info.annotation):
            data[key] = [v for v in form.getlist(key) if isinstance(v, str)]
            continue
        raw = form.get(key)
        if raw is None:
            continue
        if isinstance(raw, str) and not raw.strip() and str not in _members(info.annotation):
            continue  # blank: not given
        data[key] = raw
    if model.model_config.get("extra") == "allow":
        # A form whose inputs are named by data (one per dose line): the rest as typed.
        data.update({k: v for k, v in entered(form).items() if k not in data})
    return data


def _message(model: type[BaseModel], error: dict[str, Any]) -> str:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, Invalid):
        return i18n.gettext(next(iter(cause.fields.values()), cause.message), **cause.params)
    info = model.model_fields.get(str(error["loc"][0])) if error["loc"] else None
    if info is None:
        info = next((f for f in model.model_fields.values() if f.alias == error["loc"][0]), None)
    kinds = _members(info.annotation) if info is not None else set()
    if kinds & {date, datetime}:
        return i18n.gettext("Enter a date as YYYY-MM-DD.")
    if kinds & {int, float} and not kinds & {str}:
        return i18n.gettext("Enter a number.")
    return i18n.gettext("Choose or correct this field.")


def entered(form: FormData) -> dict[str, str]:
    """The text inputs of a form as typed, to show the form again."""
    return {k: v for k, v in form.items() if isinstance(v, str)}


def read_form(form: FormData, model: type[M]) -> M | FormErrors:
    """``form`` parsed into ``model``, or what is wrong with it."""
    typed = entered(form)
    try:
        return model.model_validate(form_values(form, model))
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "_"
            fields.setdefault(key, _message(model, error))
        return FormErrors(typed, fields, i18n.gettext("Some fields need correcting."))


async def parse_form(request: Request, model: type[M]) -> M | FormErrors:
    """The request's form body parsed into ``model``, or what is wrong with it."""
    return read_form(await request.form(), model)


# --- the small forms many pages share ------------------------------------------------------


class NoteForm(BaseModel):
    """A button with an optional note (acknowledge, close)."""

    note: str = ""


class ReasonForm(BaseModel):
    """A button that asks why (decline, cancel, lift, reroute)."""

    reason: str = ""
