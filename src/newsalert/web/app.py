"""The console's pages and the feedback pages; ``create_app(loaded, store)`` builds them.

Every page is rendered on the server (Jinja2, autoescaped; no JavaScript). Feed text is
passed through ``render.clean`` (no control characters, no bidi overrides) and escaped
by the templates; a feed's link becomes an ``href`` only if it is plain http(s).

Public: ``/feedback/TOKEN`` (GET shows a confirmation, POST records the answer),
``/login``, ``/static``, ``/healthz``. Everything else needs a logged-in operator; a
visitor without a session gets the login form with status 401.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from newsalert import answers, feedback
from newsalert.channels import short_label
from newsalert.config import LoadedConfig
from newsalert.errors import BadToken, StoreError
from newsalert.feedback_links import PATH, LinkSigner
from newsalert.models import CATEGORIES
from newsalert.render import clean, safe_link, severity
from newsalert.signing import Signer
from newsalert.store import DEAD, Store, utcnow
from newsalert.web import queries
from newsalert.web.security import Guard, SecurityHeaders, Session

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MAX_BODY = 64 * 1024  # forms are a few fields
STATUSES = ("pending", "held", "sending", "failed", "sent", "dead")
CONFIRM_SECONDS = 86_400.0
LOGIN_ATTEMPTS, LOGIN_WINDOW = 5, 900.0  # failed logins allowed per address and name
Handler = Callable[[Request, FormData | None], Response]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["t"] = lambda text: clean(text or "", single_line=True)
    env.filters["p"] = lambda text: clean(text or "")
    env.filters["href"] = safe_link
    env.filters["target"] = short_label  # masked, without the ?settings, as the CLI shows it
    env.filters["when"] = _when
    env.filters["score"] = lambda v: "-" if v is None else f"{v:.2f}"
    env.filters["severity"] = lambda v: "" if v is None else severity(v)
    env.globals["answer_words"] = answers.ACTIONS
    return env


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def _int(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


class Console:
    """The application's state: config, store, signers; one per app."""

    def __init__(
        self, loaded: LoadedConfig, store: Store, *, clock: Callable[[], float] | None = None
    ) -> None:
        web = loaded.config.web
        if web is None:
            raise ValueError("the config has no `web:` section")
        self.loaded = loaded
        self.store = store
        self.clock = clock or time.time
        self.env = _environment()
        base = web.base_url or f"http://{web.host}:{web.port}"
        secure = urlsplit(base).scheme == "https"
        self.links = LinkSigner(web.secret, base, days=web.link_days)
        self.confirm = Signer(web.secret, "confirm")
        self.guard = Guard(web.secret, web.users, session_hours=web.session_hours, secure=secure)
        self.secure = secure
        # failed logins per (client address, user name): times within LOGIN_WINDOW
        self.failures: dict[tuple[str, str], list[float]] = {}
        self.failures_lock = threading.Lock()
        queries.ensure_schema(store.engine)

    # --- rendering ------------------------------------------------------------------------

    def page(
        self,
        name: str,
        request: Request,
        session: Session | None = None,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        text = self.env.get_template(name).render(session=session, path=request.url.path, **values)
        return HTMLResponse(text, status_code=status)

    def login_page(self, request: Request, *, status: int, error: str = "") -> HTMLResponse:
        token = self.guard.login_token()
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        nxt = request.query_params.get("next") or (target if request.url.path != "/login" else "/")
        response = self.page(
            "login.html", request, status=status, error=error, token=token, next=_local(nxt)
        )
        self.guard.set_login_cookie(response, token)
        return response

    # --- routing helpers ------------------------------------------------------------------

    def public(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            form = await request.form() if request.method == "POST" else None
            return await run_in_threadpool(handler, request, form)

        return endpoint

    def operator(
        self, handler: Callable[[Request, FormData | None, Session], Response]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A page for logged-in operators; a POST must carry the session's CSRF token."""

        async def endpoint(request: Request) -> Response:
            session = self.guard.session(request)
            if session is None:
                if request.method == "POST":
                    return PlainTextResponse("log in first", status_code=403)
                return self.login_page(request, status=401)
            form = None
            if request.method == "POST":
                form = await request.form()
                if not self.guard.form_ok(session, form.get("csrf")):
                    return self.page(
                        "message.html",
                        request,
                        session,
                        status=403,
                        title="Form expired",
                        text="This form is no longer valid (or did not come from this "
                        "console). Go back, reload the page and try again.",
                    )
            return await run_in_threadpool(handler, request, form, session)

        return endpoint

    # --- public pages ---------------------------------------------------------------------

    def feedback_page(self, request: Request, form: FormData | None) -> Response:
        token = request.path_params["token"]
        try:
            claim = self.links.verify(token, self.clock())
        except BadToken as exc:
            expired = str(exc) == "expired"
            return self.page(
                "refused.html",
                request,
                status=410 if expired else 400,
                expired=expired,
            )
        try:
            item = self.store.get_item(claim.item_id)
        except StoreError:
            return self.page(
                "message.html",
                request,
                status=404,
                title="Item not found",
                text="The alert this link answers is no longer stored.",
            )
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        if form is None:  # GET: show, record nothing (mail scanners fetch every link)
            confirm = self.confirm.sign(digest, self.clock() + CONFIRM_SECONDS)
            return self.page("confirm.html", request, claim=claim, item=item, confirm=confirm)
        try:
            ok = self.confirm.unsign(str(form.get("confirm", "")), self.clock()) == digest
        except BadToken:
            ok = False
        if not ok:
            return self.page(
                "message.html",
                request,
                status=400,
                title="Please confirm again",
                text="This confirmation is out of date. Open the link from the alert again.",
            )
        saved = answers.record(
            self.store,
            claim.item_id,
            claim.action,
            given_by=f"subscriber:{claim.subscriber}",
            subscriber=claim.subscriber,
        )
        log.info(
            "feedback: %s says %s about item %s", claim.subscriber, claim.action, claim.item_id
        )
        return self.page("thanks.html", request, claim=claim, item=item, answer=saved)

    def login(self, request: Request, form: FormData | None) -> Response:
        if form is None:
            if self.guard.session(request):
                return RedirectResponse(_local(request.query_params.get("next")), status_code=303)
            return self.login_page(request, status=200)
        if not self.guard.login_form_ok(request, form.get("token")):
            return self.login_page(
                request, status=400, error="The form expired. Please log in again."
            )
        user = str(form.get("user", ""))[:64]
        key = (request.client.host if request.client else "", user)
        now = self.clock()
        with self.failures_lock:
            recent = [t for t in self.failures.get(key, []) if t > now - LOGIN_WINDOW]
            self.failures[key] = recent
        if len(recent) >= LOGIN_ATTEMPTS:  # guessing: this name from this address waits
            return self.login_page(
                request, status=429, error="Too many failed attempts. Try again later."
            )
        if not self.guard.check_password(user, str(form.get("password", ""))[:1024]):
            with self.failures_lock:
                self.failures.setdefault(key, []).append(now)
                if len(self.failures) > 10_000:  # bounded, whatever a flood sends
                    self.failures.clear()
            log.warning("console: failed login for %r", user[:64])
            return self.login_page(request, status=401, error="Wrong user name or password.")
        with self.failures_lock:
            self.failures.pop(key, None)
        response = RedirectResponse(_local(str(form.get("next", "/"))), status_code=303)
        self.guard.log_in(response, user)
        log.info("console: %s logged in", user)
        return response

    # --- operator pages -------------------------------------------------------------------

    def logout(self, request: Request, form: FormData | None, session: Session) -> Response:
        response = RedirectResponse("/login", status_code=303)
        self.guard.log_out(response)
        return response

    def alerts(self, request: Request, form: FormData | None, session: Session) -> Response:
        q = request.query_params
        filters = queries.Filters(
            subscriber=q.get("subscriber") or None,
            category=q.get("category") or None,
            feed=q.get("feed") or None,
            country=(q.get("country") or "").strip().upper()[:2] or None,
        )
        rows = queries.alerts(self.store, filters, before=_int(q.get("before")))
        older = None
        if len(rows) == queries.PAGE:
            params = {k: v for k, v in q.items() if k != "before" and v}
            params["before"] = str(rows[-1].id)
            older = "/?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in params.items())
        return self.page(
            "alerts.html",
            request,
            session,
            rows=rows,
            filters=filters,
            subscribers=[s.name for s in self.loaded.subscribers],
            categories=CATEGORIES,
            feeds=[f.name for f in self.loaded.feeds],
            older=older,
        )

    def item(self, request: Request, form: FormData | None, session: Session) -> Response:
        item_id = _int(request.path_params["item_id"])
        page = queries.item_page(self.store, item_id) if item_id is not None else None
        if page is None:
            return self.page(
                "message.html",
                request,
                session,
                status=404,
                title="Not found",
                text="No such item.",
            )
        if form is not None:  # an operator's own answer
            action = str(form.get("action", ""))
            if action not in answers.ACTIONS or action == "mute":
                return PlainTextResponse("unknown answer", status_code=400)
            answers.record(self.store, page.id, action, given_by=f"operator:{session.user}")
            return RedirectResponse(f"/items/{page.id}", status_code=303)
        return self.page("item.html", request, session, item=page)

    def stories(self, request: Request, form: FormData | None, session: Session) -> Response:
        category = request.query_params.get("category") or None
        rows = queries.recent_stories(self.store, category=category)
        return self.page(
            "stories.html", request, session, rows=rows, category=category, categories=CATEGORIES
        )

    def map(self, request: Request, form: FormData | None, session: Session) -> Response:
        points = queries.located(self.store)
        return self.page("map.html", request, session, points=points)

    def feeds(self, request: Request, form: FormData | None, session: Session) -> Response:
        from newsalert.health import duration

        now = utcnow()
        configured = {f.name: f for f in self.loaded.feeds}
        rows = []
        for state in self.store.feed_states():
            if state.disabled:
                health = "gone"
            elif state.unhealthy_since:
                health = "unhealthy"
            elif state.error_streak:
                health = "failing"
            else:
                health = "ok" if state.last_polled_at else "new"
            failing = duration(now - state.failing_since) if state.failing_since else ""
            rows.append((state, health, failing, state.name in configured))
        return self.page("feeds.html", request, session, rows=rows)

    def deliveries(self, request: Request, form: FormData | None, session: Session) -> Response:
        if form is not None:  # replay dead letters
            ids = [i for i in (_int(v) for v in form.getlist("id")) if i is not None]
            replay_all = form.get("all") == "dead"
            if not ids and not replay_all:
                return RedirectResponse("/deliveries?status=dead", status_code=303)
            n = self.store.replay_dead(utcnow(), None if replay_all else ids)
            log.info("console: %s replayed %d dead deliveries", session.user, n)
            return RedirectResponse(f"/deliveries?status=dead&replayed={n}", status_code=303)
        q = request.query_params
        status = q.get("status") if q.get("status") in STATUSES else None
        rows = queries.delivery_page(self.store, status=status, before=_int(q.get("before")))
        titles = queries.titles(self.store, [d.item_id for d in rows if d.item_id])
        older = None
        if len(rows) == queries.PAGE:
            older = f"/deliveries?before={rows[-1].id}" + (f"&status={status}" if status else "")
        return self.page(
            "deliveries.html",
            request,
            session,
            rows=rows,
            titles=titles,
            shown=status,
            statuses=STATUSES,
            counts=self.store.delivery_counts(),
            replayed=_int(q.get("replayed")),
            older=older,
            dead=DEAD,
        )

    def models(self, request: Request, form: FormData | None, session: Session) -> Response:
        from newsalert import promote

        gates = promote.candidates(self.loaded)
        return self.page(
            "models.html",
            request,
            session,
            gates=gates,
            retrain=self.loaded.config.model.retrain,
        )

    def received(self, request: Request, form: FormData | None, session: Session) -> Response:
        rows = answers.recent(self.store, before=_int(request.query_params.get("before")))
        labels = feedback.recent(self.store, 50)
        return self.page("feedback.html", request, session, rows=rows, labels=labels)


def _local(target: str | None) -> str:
    """Only a path on this site: a ``next`` parameter must not send anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def create_app(
    loaded: LoadedConfig, store: Store, *, clock: Callable[[], float] | None = None
) -> Starlette:
    """The console for ``loaded`` (which must have a ``web:`` section) over ``store``."""
    console = Console(loaded, store, clock=clock)
    op, pub = console.operator, console.public
    routes = [
        Route("/", op(console.alerts), methods=["GET"]),
        Route("/items/{item_id}", op(console.item), methods=["GET", "POST"]),
        Route("/stories", op(console.stories), methods=["GET"]),
        Route("/map", op(console.map), methods=["GET"]),
        Route("/feeds", op(console.feeds), methods=["GET"]),
        Route("/deliveries", op(console.deliveries), methods=["GET", "POST"]),
        Route("/feedback", op(console.received), methods=["GET"]),
        Route("/models", op(console.models), methods=["GET"]),
        Route("/logout", op(console.logout), methods=["POST"]),
        Route("/login", pub(console.login), methods=["GET", "POST"]),
        Route(PATH + "{token}", pub(console.feedback_page), methods=["GET", "POST"]),
        Route("/healthz", lambda _: PlainTextResponse("ok"), methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, hsts=console.secure),
            Middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY),
        ],
    )
    app.state.console = console
    return app


__all__ = ["Console", "create_app"]
