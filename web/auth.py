"""Sign-in, sessions, roles and CSRF for the pages, the JSON API and the event stream.

Sessions are Flask's signed cookies (``SECRET_KEY``): HttpOnly, SameSite=Lax, Secure when
``PUBLIC_BASE_URL`` is https. They hold the user's id and a CSRF token. ``guard`` runs before every
view of the web blueprints:

- not signed in → 401 (the error handler sends pages to ``/login``, the API gets JSON);
- a state-changing method without the session's CSRF token (form field ``csrf_token`` or header
  ``X-CSRF-Token``) → 400;
- a role the view does not allow → 403.

Views say who may use them with ``@allow("agent")``, ``@allow("supervisor")``, ``@allow(*ROLES)`` or
``@public``; a view that says nothing is refused to everyone.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import gettext, ngettext
from werkzeug.exceptions import BadRequest, Forbidden, Unauthorized
from werkzeug.security import check_password_hash, generate_password_hash

from core.clock import iso, parse_time
from core.constants import ROLES
from store import desk
from web.context import services

log = logging.getLogger(__name__)

HOME = {"agent": "pages.agent", "supervisor": "pages.supervisor"}
# Sign-in throttling: this many failures within the window lock the account, or the address, until the oldest
# of them is older than the window (429 with Retry-After).
FAILURES_PER_ACCOUNT, FAILURES_PER_ADDRESS, FAILURE_WINDOW = 5, 20, timedelta(minutes=15)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

View = TypeVar("View", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)


def allow(*roles: str) -> Callable[[View], View]:
    """Declare the roles that may use a view."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"roles are {ROLES}, got {roles}")

    def mark(view: View) -> View:
        view.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return view

    return mark


def public(view: View) -> View:
    """Declare a view open to anyone (still CSRF-checked when it changes state)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def current_user() -> dict[str, Any] | None:
    """The signed-in person (id, name, role), read from the store once per request; a session ended by a logout
    or a new password (its epoch is behind the account's) is nobody."""
    if "user" not in g:
        user_id = session.get("user_id")
        row = desk.user(services().store.db(), user_id) if user_id else None
        valid = row is not None and row["session_epoch"] == session.get("epoch") and may_sign_in(row)
        g.user = {k: row[k] for k in ("id", "name", "role", "ui_language")} if valid else None
    return g.user


def may_sign_in(row: dict[str, Any]) -> bool:
    """Demo logins (known passwords) only in local mode."""
    return not row["demo"] or services().local_mode


def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def check_csrf() -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    expected = session.get(CSRF_FIELD)
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise BadRequest("the CSRF token is missing or wrong; reload the page and try again")


def guard() -> None:
    """Sign-in, then CSRF, then role: before every view of a web blueprint."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:  # no such route: the error handler answers 404/405
        return
    if getattr(view, "public", False):
        check_csrf()
        return
    user = current_user()
    if user is None:
        raise Unauthorized("sign in first")
    check_csrf()
    if user["role"] not in getattr(view, "allowed_roles", frozenset()):
        raise Forbidden(f"{user['role']}s may not use this")


@functools.cache
def _decoy_hash() -> str:
    """Checked for unknown users too, so the time taken does not tell which user names exist."""
    return generate_password_hash(secrets.token_hex(16))


def authenticate(user_id: str, password: str) -> dict[str, Any] | None:
    row = desk.user(services().store.db(), user_id) if user_id else None
    ok = check_password_hash(row["password_hash"] if row else _decoy_hash(), password)
    return row if row and ok else None


def home_url(role: str) -> str:
    return url_for(HOME[role])


def safe_next(target: str | None) -> str | None:
    """Only a path on this server (no scheme, no host) may be followed after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


bp.before_request(guard)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str | tuple[str, int]:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None)
    username = request.form.get("username", "").strip()[:64]
    keys = [f"user:{username}", f"address:{request.remote_addr}"]
    wait_s = throttled(keys)
    if wait_s:
        log.warning("sign-in for %r from %s refused for %s s: too many failures", username, request.remote_addr, wait_s)
        minutes = max(1, round(wait_s / 60))
        error = ngettext("Too many failed sign-ins. Try again in %(num)d minute.",
                         "Too many failed sign-ins. Try again in %(num)d minutes.", minutes)
        page = render_template("login.html", next=target, error=error)
        return Response(page, 429, {"Retry-After": str(wait_s)}, mimetype="text/html")
    user = authenticate(username, request.form.get("password", ""))
    if user is None:
        log.info("failed sign-in for %r from %s", username, request.remote_addr)
        now = services().clock()
        desk.failed_sign_in(services().store.db(), keys, iso(now), iso(now - FAILURE_WINDOW))
        return render_template("login.html", next=target, error=gettext("Wrong user name or password.")), 401
    if not may_sign_in(user):
        log.warning("demo login %r refused: demo logins work in local mode only", username)
        return render_template("login.html", next=target, error=gettext("Demo logins work in local mode only.")), 403
    desk.signed_in(services().store.db(), keys[0])
    session.clear()  # a new session (and CSRF token) on sign-in: no fixation
    session["user_id"] = user["id"]
    session["epoch"] = user["session_epoch"]
    csrf_token()
    log.info("%s %s signed in", user["role"], user["id"])
    return redirect(target or home_url(user["role"]))


def throttled(keys: list[str]) -> int:
    """Seconds until sign-in is allowed again for this account and address (0: now)."""
    now = services().clock()
    failures = desk.sign_in_failures(services().store.db(), keys, iso(now - FAILURE_WINDOW))
    waits = [(parse_time(times[-limit]) + FAILURE_WINDOW - now).total_seconds()
             for times, limit in ((failures[keys[0]], FAILURES_PER_ACCOUNT), (failures[keys[1]], FAILURES_PER_ADDRESS))
             if len(times) >= limit]
    return max(1, int(max(waits)) + 1) if waits else 0


@bp.post("/logout")
@allow(*ROLES)
def logout() -> Response:
    """Signs out everywhere: every session of this person ends, the one in this browser's cookie and any copy."""
    desk.end_sessions(services().store.db(), current_user()["id"])
    session.clear()
    return redirect(url_for("auth.login"))


class PeopleOnlySessions(SecureCookieSessionInterface):
    """Sessions are for people at the pages: Twilio's webhooks, prompt audio and static files never open one (no
    cookie to verify on the hot path)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(NO_SESSION_PATHS):
            return None
        return super().open_session(app, request)


NO_SESSION_PATHS = ("/voice/", "/prompts/", "/static/", "/healthz")


def init_app(app: Flask) -> None:
    """Session cookie flags, the template helpers and the sign-in routes."""
    app.session_interface = PeopleOnlySessions()
    app.config.update(
        SESSION_COOKIE_NAME="cc_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["PUBLIC_BASE_URL"].startswith("https://"),
    )
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)
    app.register_blueprint(bp)
