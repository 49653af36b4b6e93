"""Shared web helpers: templates, page-or-fragment rendering for htmx, CSRF, flash,
local time formatting."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import inspect as sa_inspect

from aefi import clock, i18n
from aefi.errors import Forbidden
from aefi.i18n import N_
from aefi.settings import get_settings

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

_templates: Jinja2Templates | None = None


def templates() -> Jinja2Templates:
    global _templates
    if _templates is None:
        settings = get_settings()
        _templates = Jinja2Templates(directory=str(settings.templates_dir))
        env = _templates.env
        env.globals.update(
            _=i18n.gettext,
            ngettext=i18n.ngettext,
            pick=i18n.pick,
            get_locale=i18n.get_locale,
            now=clock.now,
        )
        from aefi import audit_text, navigation
        from aefi.auth.permissions import sees_all_sites

        env.globals.update(
            colon=i18n.colon,
            sep=i18n.list_separator,
            audit_summary=audit_text.event_summary,
            audit_actor=audit_text.actor_text,
            audit_action=audit_text.action_text,
            nav_items=navigation.items_for,
            role_label=role_label,
            role_description=role_description,
            sees_all_sites=sees_all_sites,
            banners=banners,
        )
        env.filters["local"] = format_local
        env.filters["local_date"] = format_local_date
        env.filters["iso_local"] = iso_local
        env.filters["keep_codes"] = keep_codes  # {{ e.summary|keep_codes }}
        from aefi.registry import lot_states
        from aefi.registry.models import route_name

        env.filters["route_name"] = route_name  # {{ dose.route|route_name }}

        env.tests["unusable"] = lot_states.is_unusable  # {% if lot.status is unusable %}
    return _templates


ROLE_LABELS = i18n.ROLE_LABELS
ROLE_DESCRIPTIONS = {
    "reporter": N_(
        "Watch vaccinees in observation, file suspected-reaction reports and follow them."
    ),
    "investigator": N_("Investigate reports, assess causality and classify cases."),
    "bureau": N_("Watch serious cases, clusters and signals; decide emergency halts."),
    "hospital": N_("Receive green-channel referrals and report their outcome."),
    "admin": N_("Keep users and reference data in order."),
    "api_client": N_("Push dose records and lots; pull halts."),
    "province": N_(
        "Watch every county of the province: signals, halts and reference data; halt a "
        "lot, product or site across the counties."
    ),
}

# Pages that hold unsaved input (paths): an htmx request from such a page that finds the
# session expired gets a bare 401, not a redirect to the login page, so that a background
# request (the notification badge's poll) cannot throw away what is typed there. The report
# form autosaves and survives an expired session (aefi/intake/filing/views.py).
KEEP_PAGE_ON_EXPIRY = frozenset({"/reports/new"})


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def role_description(role: str) -> str:
    return ROLE_DESCRIPTIONS.get(role, "")


def banners(user) -> list:
    """The banners above every page: each of ``aefi.ui_wiring.BANNER_PROVIDERS`` in turn
    (imported at call time: the providers' modules import this one)."""
    if user is None:
        return []
    from aefi.ui_wiring import BANNER_PROVIDERS

    out = []
    for provider in BANNER_PROVIDERS:
        out.extend(provider(user))
    return out


def format_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return clock.to_local(value).strftime(fmt)


def format_local_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = clock.to_local(value).date()
    return value.isoformat()


def iso_local(value: datetime | None) -> str:
    """For ``<input type=datetime-local>``."""
    return "" if value is None else clock.to_local(value).strftime("%Y-%m-%dT%H:%M")


def parse_local(value: str | None) -> datetime | None:
    """A ``datetime-local`` value typed in the configured zone, as aware UTC."""
    if not value:
        return None
    from aefi.types import sane_year

    try:
        dt = sane_year(datetime.fromisoformat(value))
    except ValueError:
        from aefi.types import BadValue

        raise BadValue(
            N_("Enter a date and time as YYYY-MM-DD HH:MM."), fields={"when": N_("Enter a date.")}
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=clock.local_zone())
    return dt.astimezone(clock.now().tzinfo)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def verify_csrf(request: Request) -> None:
    """Router dependency: every state-changing form post carries the session's token,
    in the form or (for htmx) in the X-CSRF-Token header."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        ctype = request.headers.get("content-type", "")
        if "form" in ctype:
            form = await request.form()
            sent = form.get(CSRF_FIELD)
    if not expected or not sent or not secrets.compare_digest(str(sent), expected):
        raise Forbidden(
            "The form has expired or did not come from aefi. Reload the page and submit again."
        )


def flash(request: Request, message: str, category: str = "info") -> None:
    request.session.setdefault("flash", []).append([category, message])


def pop_flashes(request: Request) -> list[list[str]]:
    return request.session.pop("flash", [])


def page_user(request: Request) -> Any:
    """The logged-in user for a template, safe to read after the request's session is gone.

    An error page is rendered after the request's database session has been rolled back
    (which expires the user's attributes) and closed (which detaches it); reading
    ``user.role`` then would raise instead of showing the page. Such a user is read
    again in a short session of its own; one that no longer exists shows as logged out."""
    user = getattr(request.state, "user", None)
    if user is None:
        return None
    state = sa_inspect(user, raiseerr=False)
    if state is None or not (state.detached and state.expired_attributes):
        return user
    from aefi import db

    with db.session_scope() as fresh_session:
        fresh = fresh_session.get(type(user), state.identity[0]) if state.identity else None
    request.state.user = fresh
    return fresh


def wants_block(request: Request) -> bool:
    """An htmx request for part of a page, not htmx restoring a page it has no copy of.

    On Back or Forward to a pushed url whose snapshot is gone, htmx asks for the url again
    with ``HX-History-Restore-Request`` and puts the answer in place of the whole body:
    that answer must be the whole page, not the block the url usually serves."""
    return is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The whole page for a normal request (and a history restore); only ``block`` for an
    htmx request.

    One template is the single source of markup for both. A response that can be either
    carries ``Vary: HX-Request``, so neither the browser's cache nor a proxy hands the
    block to a request for the page (pressing Back to a url htmx pushed, for one)."""
    partial = block is not None and wants_block(request)
    ctx = {
        "request": request,
        "user": page_user(request),
        "csrf_token": csrf_token(request),
        "flashes": [] if wants_block(request) else pop_flashes(request),
        "locale": i18n.get_locale(),
        **(context or {}),
    }
    if block is not None:
        headers = {**(headers or {}), "Vary": "HX-Request, HX-History-Restore-Request"}
    if partial:
        html = render_block(template, block, ctx)
        return HTMLResponse(html, status_code=status_code, headers=headers)
    return templates().TemplateResponse(
        request, template, ctx, status_code=status_code, headers=headers
    )


# A report, case, lot or phone number inside prose: letters and digits joined by hyphens,
# with a digit in it (330782-2026-00003, 0571-88011234, 2020-01-01).
_CODE = re.compile(r"(?<![\w-])(?=[\w-]*\d)\w+(?:-\w+)+(?![\w-])")


def keep_codes(text: Any) -> Markup:
    """Text with each hyphenated code kept on one line (a browser breaks lines after a
    hyphen, so "330782-2026-" would end one line and "00003" start the next on a narrow
    cell); the rest of the text still wraps. Escaped."""
    escaped = str(Markup.escape("" if text is None else text))
    return Markup(_CODE.sub(lambda m: f'<span class="nowrap">{m.group(0)}</span>', escaped))


def render_block(template: str, block: str, context: dict[str, Any]) -> Markup:
    env = templates().env
    tmpl = env.get_template(template)
    return Markup("".join(tmpl.blocks[block](tmpl.new_context(context))))
