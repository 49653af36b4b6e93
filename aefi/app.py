"""create_app(): routers, static files, templates, middleware, error pages."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import itsdangerous
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from aefi import i18n, overload, types, wiring
from aefi.deps import LoginRequired
from aefi.errors import DomainError, Invalid
from aefi.i18n import N_
from aefi.settings import Settings, get_settings
from aefi.web import is_htmx, render

log = logging.getLogger("aefi")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _routers() -> list:
    """Every router, in DESIGN.md's order: per domain its API, then its pages, then those
    of its use-case slices (API routers first). Imported by name, so a misspelled module
    fails at start-up; a path routed twice is served by the first listed."""
    from aefi import home
    from aefi.aftercare.certificate import views as aftercare_certificate
    from aefi.aftercare.checkin import api as aftercare_checkin_api
    from aefi.aftercare.checkin import views as aftercare_checkin
    from aefi.aftercare.queue import api as aftercare_queue_api
    from aefi.aftercare.queue import views as aftercare_queue
    from aefi.auth import admin_views
    from aefi.auth import api as auth_api
    from aefi.auth import views as auth_views
    from aefi.intake import api as intake_api
    from aefi.intake.drafts import views as intake_drafts
    from aefi.intake.filing import views as intake_filing
    from aefi.intake.follow_up import views as intake_follow_up
    from aefi.intake.listing import views as intake_listing
    from aefi.intake.report import views as intake_report
    from aefi.interchange import api as interchange_api
    from aefi.interchange import fhir_api as interchange_fhir
    from aefi.interchange import views as interchange_views
    from aefi.interchange.upstream import views as interchange_upstream
    from aefi.investigation import api as investigation_api
    from aefi.investigation.assessments import views as investigation_assessments
    from aefi.investigation.cases import views as investigation_cases
    from aefi.investigation.evidence import views as investigation_evidence
    from aefi.investigation.form import views as investigation_form
    from aefi.investigation.overview import views as investigation_overview
    from aefi.investigation.panel import views as investigation_panel
    from aefi.notifications import views as notifications_views
    from aefi.observation import views as observation_views
    from aefi.referral.desk import views as referral_desk
    from aefi.referral.inbox import api as referral_inbox_api
    from aefi.referral.inbox import views as referral_inbox
    from aefi.referral.sending import api as referral_sending_api
    from aefi.referral.sending import views as referral_sending
    from aefi.referral.steps import api as referral_steps_api
    from aefi.referral.steps import views as referral_steps
    from aefi.registry import api as registry_api
    from aefi.registry import views as registry_views
    from aefi.reporting import api as reporting_api
    from aefi.reporting import views as reporting_views
    from aefi.search import api as search_api
    from aefi.search import views as search_views
    from aefi.signals.halts import api as halts_api
    from aefi.signals.halts import views as halts_views
    from aefi.signals.rates import views as rates_views
    from aefi.signals.review import api as review_api
    from aefi.signals.review import views as review_views
    from aefi.signals.scans import api as scans_api
    from aefi.signals.scans import views as scans_views
    from aefi.terminology import views as terminology_views
    from aefi.triage.cluster_review import api as cluster_review_api
    from aefi.triage.cluster_review import views as cluster_review_views
    from aefi.triage.escalation import api as escalation_api
    from aefi.triage.escalation import views as escalation_views
    from aefi.triage.rules_in_force import api as rules_in_force_api
    from aefi.triage.rules_in_force import views as rules_in_force_views

    return [
        admin_views.router,
        home.router,
        auth_api.router,
        auth_views.router,
        registry_api.router,
        registry_views.router,
        notifications_views.router,
        intake_api.router,
        intake_filing.router,
        intake_drafts.router,
        intake_report.router,
        intake_follow_up.router,
        intake_listing.router,
        escalation_api.router,
        cluster_review_api.router,
        rules_in_force_api.router,
        escalation_views.router,
        cluster_review_views.router,
        rules_in_force_views.router,
        referral_inbox_api.router,
        referral_sending_api.router,
        referral_steps_api.router,
        referral_desk.router,
        referral_inbox.router,
        referral_steps.router,
        referral_sending.router,
        investigation_api.router,
        investigation_overview.router,
        investigation_cases.router,
        investigation_form.router,
        investigation_evidence.router,
        investigation_assessments.router,
        investigation_panel.router,
        scans_api.router,
        review_api.router,
        halts_api.router,
        review_views.router,
        scans_views.router,
        halts_views.router,
        rates_views.router,
        observation_views.router,
        reporting_api.router,
        reporting_views.router,
        terminology_views.router,
        search_api.router,
        search_views.router,
        interchange_api.router,
        interchange_fhir.router,
        interchange_views.router,
        interchange_upstream.router,
        aftercare_checkin_api.router,
        aftercare_queue_api.router,
        aftercare_checkin.router,
        aftercare_queue.router,
        aftercare_certificate.router,
    ]


@asynccontextmanager
async def _lifespan(app: FastAPI):
    task = None
    if app.state.settings.background_enabled:
        from aefi import background

        task = asyncio.create_task(background.loop())
    yield
    if task is not None:
        task.cancel()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    from aefi.auth import keys

    if settings.demo:
        keys.use_demo_key(settings)
    keys.check(settings)  # refuses to start on a missing, public or short key
    wiring.wire()
    types.refuse_nul_in_statements()
    app = FastAPI(
        lifespan=_lifespan,
        title="aefi",
        summary="AEFI surveillance and case management",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    overload.install(app, settings)  # first: the innermost middleware (aefi/overload.py)

    @app.middleware("http")
    async def locale_middleware(request: Request, call_next):
        chosen = request.cookies.get("aefi_lang") or i18n.negotiate(
            request.headers.get("accept-language"), settings.default_locale
        )
        token = i18n.set_locale(chosen)
        try:
            response = await call_next(request)
        finally:
            i18n._current.reset(token)
        response.headers.setdefault("Content-Language", chosen.replace("_", "-"))
        return response

    # Browser state only (the CSRF token, flash messages): who is logged in lives in the
    # login_session table, the aefi_session cookie (aefi/deps.py) carries only its id.
    app.add_middleware(
        _StateMiddleware,
        secret_keys=settings.verification_keys,
        session_cookie="aefi_state",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.https,
    )
    _install_security_headers(app, settings)

    for router in _routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static")
    _install_error_handlers(app)
    return app


class _StateMiddleware(SessionMiddleware):
    """Starlette's signed cookie session, verifying with every listed key (rotation) and
    signing with the last, the current one."""

    def __init__(self, app, secret_keys: list[str], **kw) -> None:
        super().__init__(app, secret_key=secret_keys[-1], **kw)
        self.signer = itsdangerous.TimestampSigner(secret_keys)


# The one <style> element aefi's pages carry: matplotlib writes it into every inline SVG
# chart (signals, reporting). Allowed by its hash, nothing else inline.
SVG_CHART_STYLE = "*{stroke-linejoin: round; stroke-linecap: butt}"


def _style_hash(css: str) -> str:
    import base64
    import hashlib

    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


# No inline script anywhere (htmx is told not to add its indicator <style> and not to eval,
# base.html's htmx-config); style attributes (progress bars) stay allowed.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' {_style_hash(SVG_CHART_STYLE)}",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def apply_security_headers(path: str, headers, https: bool) -> None:
    """CSP, no framing, no sniffing, a strict referrer, HSTS behind HTTPS."""
    if not path.startswith("/api/docs"):
        headers.setdefault("Content-Security-Policy", CSP)
    else:  # Swagger UI loads its script and styles from a CDN and runs inline script.
        headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if https:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _install_security_headers(app: FastAPI, settings: Settings) -> None:
    """Every response carries the security headers (the 500 page adds them itself: it is
    answered outside every middleware)."""

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        apply_security_headers(request.url.path, response.headers, settings.https)
        return response


def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {
        401: N_("Please log in"),
        403: N_("Not allowed"),
        404: N_("Not found"),
        409: N_("Conflict"),
        422: N_("Please correct the input"),
        429: N_("Too many attempts"),
        500: N_("Something went wrong"),
    }
    return render(
        request,
        "errors.html",
        {"status": status, "title": i18n.gettext(titles.get(status, "Error")), "message": message},
        status_code=status,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        if _wants_json(request):
            return JSONResponse({"detail": i18n.gettext("Not authenticated.")}, status_code=401)
        target = f"/login?next={request.url.path}"
        if is_htmx(request):
            from urllib.parse import urlparse

            from aefi.web import KEEP_PAGE_ON_EXPIRY

            if urlparse(request.headers.get("HX-Current-URL", "")).path in KEEP_PAGE_ON_EXPIRY:
                return HTMLResponse("", status_code=401)
            return HTMLResponse("", status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        message = i18n.gettext(exc.message, **exc.params)
        if _wants_json(request):
            if isinstance(exc, Invalid) and exc.fields:
                detail = [
                    {"loc": ["body", k], "msg": i18n.gettext(v), "type": "value_error"}
                    for k, v in exc.fields.items()
                ]
                return JSONResponse({"detail": detail, "message": message}, exc.status_code)
            if exc.status_code == 422:
                # The documented 422 shape (FastAPI's) is a list of errors, even for one.
                detail = [{"loc": ["body"], "msg": message, "type": "value_error"}]
                return JSONResponse({"detail": detail, "message": message}, 422)
            headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
            if getattr(exc, "wait_s", None):  # a throttled login: when to try again
                headers = {"Retry-After": str(exc.wait_s)}
            return JSONResponse({"detail": message}, exc.status_code, headers=headers)
        return _error_page(request, exc.status_code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        message = (
            exc.detail
            if exc.status_code != 404
            else i18n.gettext("The page you asked for does not exist.")
        )
        return _error_page(request, exc.status_code, str(message))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if _wants_json(request):
            errors = [
                {"loc": list(e.get("loc", [])), "msg": e.get("msg"), "type": e.get("type")}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        return _error_page(request, 422, i18n.gettext("Some fields are missing or malformed."))

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError):
        # The database refused a value (too long, out of range, malformed) that validation
        # let through: the input is wrong, not the server; logged so the gap gets closed.
        log.warning("database refused a value on %s: %s", request.url.path, exc.orig)
        message = i18n.gettext(
            "A value is too long or out of range for what aefi stores. "
            "Shorten or correct it and send it again."
        )
        if _wants_json(request):
            detail = [{"loc": ["body"], "msg": message, "type": "value_error"}]
            return JSONResponse({"detail": detail, "message": message}, status_code=422)
        return _error_page(request, 422, message)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        https = get_settings().https
        if _wants_json(request):
            response = JSONResponse({"detail": "Internal error; it has been logged."}, 500)
            apply_security_headers(request.url.path, response.headers, https)
            return response
        response = _error_page(
            request,
            500,
            i18n.gettext(
                "aefi hit an error it did not expect. It has been logged; "
                "go back and try again, and tell the administrator if it repeats."
            ),
        )
        apply_security_headers(request.url.path, response.headers, https)
        return response
