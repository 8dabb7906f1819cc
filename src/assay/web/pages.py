"""Page routes: login/logout (form posts with CSRF), the app shell, the API docs."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlparse

from fastapi import FastAPI, Form, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from assay.api.deps import CSRF_COOKIE, SESSION_COOKIE
from assay.core import logins, sessions
from assay.core.errors import RateLimited, Unauthorized

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
LOGIN_CSRF_COOKIE = "assay_login_csrf"


def _secure(request: Request) -> bool:
    return request.app.state.ctx.settings.environment == "production"


def _safe_next(value: str | None) -> str:
    """Only same-site relative paths, so the login form cannot redirect off-site."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    parsed = urlparse(value)
    return value if not parsed.netloc and not parsed.scheme else "/"


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str | None = None, error: str | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        response = templates.TemplateResponse(
            request, "login.html", {"csrf": token, "next": _safe_next(next), "error": error}
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            max_age=3600,
        )
        return response

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        email: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form()],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        ctx = request.app.state.ctx
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(expected, csrf):
            return RedirectResponse("/login?error=expired", status_code=303)
        try:
            _, token = logins.log_in(
                db=ctx.db,
                email=email,
                password=password,
                address=request.client.host if request.client else None,
                settings=ctx.settings,
            )
        except (Unauthorized, RateLimited) as exc:
            error = "locked" if isinstance(exc, RateLimited) else "invalid"
            again = quote(_safe_next(next), safe="/")
            return RedirectResponse(f"/login?error={error}&next={again}", status_code=303)
        response = RedirectResponse(_safe_next(next), status_code=303)
        secret = ctx.settings.secret_key.get_secret_value()
        max_age = ctx.settings.session_ttl_seconds
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            max_age=max_age,
        )
        # Readable by the page's scripts, which echo it in X-CSRF-Token on writes.
        response.set_cookie(
            CSRF_COOKIE,
            sessions.csrf_token(secret, token),
            httponly=False,
            samesite="strict",
            secure=_secure(request),
            max_age=max_age,
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        ctx = request.app.state.ctx
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            secret = ctx.settings.secret_key.get_secret_value()
            sent = request.headers.get("x-csrf-token") or ""
            if hmac.compare_digest(sessions.csrf_token(secret, token), sent):
                with ctx.db.write() as session:
                    sessions.delete_session(session=session, token=token)
            else:
                return Response("logout needs the X-CSRF-Token header", status_code=403)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        response.delete_cookie(CSRF_COOKIE)
        return response

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="Assay API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            # ~200 operations: the tags open collapsed (Swagger UI stopped rendering the whole
            # list expanded at this size: only the first two tags appeared).
            swagger_ui_parameters={"docExpansion": "none"},
        )

    # Every app page is the same shell; static/app.js routes the path to a page module.
    @app.get("/", include_in_schema=False)
    @app.get("/projects", include_in_schema=False)
    @app.get("/projects/{project_id}", include_in_schema=False)
    @app.get("/label/{project_id}", include_in_schema=False)
    @app.get("/review/{project_id}", include_in_schema=False)
    @app.get("/dashboard/{project_id}", include_in_schema=False)
    @app.get("/people", include_in_schema=False)
    @app.get("/datasets", include_in_schema=False)
    @app.get("/datasets/{dataset_id}", include_in_schema=False)
    @app.get("/datasets/{dataset_id}/models", include_in_schema=False)
    @app.get("/datasets/{dataset_id}/models/{evaluation_id}", include_in_schema=False)
    def shell(request: Request) -> Response:
        if not request.cookies.get(SESSION_COOKIE):
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)
        return templates.TemplateResponse(request, "app.html", {})
