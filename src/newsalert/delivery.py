"""Send one rendered :class:`Message` to one apprise URL. The only module importing apprise.

One target per call: every :meth:`Notifier.send` builds a fresh apprise plugin instance for
its single URL, so a retry never re-sends to anybody else, and apprise's per-instance
throttle (``request_rate_per_sec``: e-mail 5.5 s, Slack 1.2 s between sends *on the same
instance*) never sleeps; it is also set to 0. Provider rate limits are enforced elsewhere.
apprise's own retries (``?retry=N``) are switched off: retrying is the caller's job.

Failures map to the error tree: :class:`PermanentDeliveryError` when the URL cannot be
built into a notifier, or when the service answered with a definite rejection (HTTP 400,
401, 403, 404, 410 ...: bad token, chat not found, bot blocked, webhook revoked);
:class:`TransientDeliveryError` for everything else (429, 5xx, timeouts, connection or
SMTP errors), with ``retry_after`` when the service said how long to wait.

Retry-After: apprise does not surface HTTP responses (it only logs the status and body).
While a send runs, the responses returned by ``requests.post`` / ``requests.request`` (the
two calls apprise's HTTP plugins make) are recorded for this context only: the module
attributes are wrapped once with a pass-through that appends the response to a
context-local list when one is active (a no-op otherwise, and safe under threads). The
``Retry-After`` header (seconds or HTTP date) wins; Telegram's JSON ``parameters.retry_after``
and its "retry after N" text in apprise's warning are fallbacks.

Replies: a send returns the service's id of the message where it gives one (Telegram's
``message_id``; ``ts`` of a Slack bot token's ``chat.postMessage``), for one chat or
channel only. A message with ``reply_to`` becomes a Telegram reply: apprise has no option
for it, so the same wrapper adds ``reply_parameters`` to the JSON of this send's
``sendMessage`` POSTs (and nothing else); a Slack bot token threads natively when its
channel reads ``#channel:thread_ts``. Webhooks and other services send it unchanged.

Secrets: messages and logs carry ``privacy_url`` only. apprise is NOT safe by itself at
DEBUG (measured with 2.3): it logs "Telegram POST URL: https://api.telegram.org/bot<TOKEN>/
sendMessage" and "Slack POST URL: https://hooks.slack.com/services/<A>/<B>/<C>", at TRACE
the whole raw URL ("URL ... unpacked as"), and at WARNING an invalid token verbatim
("The Telegram Bot Token specified (...) is invalid"); urllib3 logs the request path (with
the bot token) at DEBUG. A logging filter on the ``apprise`` and ``urllib3`` loggers
therefore rewrites every record that contains a secret of a URL this module has seen: the
private tokens of the parsed plugin plus every URL fragment that ``url(privacy=True)``
hides, and, while a URL is being parsed, every fragment of it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
import requests
from apprise import NotifyFormat, OverflowMode
from apprise.exception import AppriseImproperlyConfigured

from newsalert.errors import PermanentDeliveryError, TransientDeliveryError
from newsalert.models import Message

log = logging.getLogger(__name__)

__all__ = ["Notifier", "privacy_url", "target_id", "validate_url"]

_FORMATS = {"text": NotifyFormat.TEXT, "html": NotifyFormat.HTML, "markdown": NotifyFormat.MARKDOWN}
# 4xx answers that will not change on retry; 408/425/429 (and anything else) are transient.
_PERMANENT_STATUS = frozenset({400, 401, 403, 404, 405, 410, 413, 422})
_MAX_RETRY_AFTER = 86_400.0
_REDACTED = "***"
_SCHEME_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_FRAGMENT_SPLIT = re.compile(r"[/:@?&=#,;+\s]+")
# Shorter strings are not worth redacting (and would shred every log line): while a URL is
# parsed, fragments of at least _MIN_PARSING_FRAGMENT; afterwards secrets of _MIN_SECRET.
_MIN_PARSING_FRAGMENT = 4
_MIN_SECRET = 3
_PLAIN = re.compile(r"[a-z]{1,12}|(?:[a-z0-9-]+\.)+[a-z]{2,}")


def target_id(url: str) -> str:
    """A stable short id for a target, stored instead of the URL: sha256, 16 hex chars."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def privacy_url(url: str) -> str:
    """apprise's ``url(privacy=True)`` of the parsed plugin; else a masked ``scheme://****``."""
    with _parsing(url):
        plugin = _instantiate(url, quiet=True)
    if plugin is None:
        return _masked(url)
    return plugin.url(privacy=True)


def validate_url(url: str) -> str | None:
    """None if apprise can build a notifier from ``url``; else why not (never a secret)."""
    try:
        with _parsing(url):
            _instantiate(url)
    except PermanentDeliveryError as exc:
        return str(exc)
    return None


class Notifier:
    """Sends to one apprise URL per call. Stateless and thread-safe."""

    def __init__(self, *, timeout: float = 15.0) -> None:
        self.timeout = float(timeout)

    def send(self, url: str, message: Message) -> str | None:
        """Deliver ``message`` to ``url`` or raise Transient/PermanentDeliveryError.

        Returns the service's id of the message when it gives one and ``url`` names a
        single chat or channel: Telegram's ``message_id``, a Slack bot token's ``ts``
        (``chat.postMessage``); else None. ``message.reply_to`` (such an id) makes the
        message a Telegram reply or a Slack thread reply there; elsewhere it is ignored.
        """
        body_format = _FORMATS.get(message.body_format)
        if body_format is None:
            raise PermanentDeliveryError(f"unknown body format {message.body_format!r}")
        with _parsing(url):
            plugin = _instantiate(url)  # raises PermanentDeliveryError
        where = plugin.url(privacy=True)
        self._configure(plugin, url)
        if message.headers:
            _add_email_headers(plugin, message.headers)
        kind = _replies_kind(plugin)
        telegram_reply = None
        if message.reply_to and kind == "telegram":
            telegram_reply = _telegram_reply(message.reply_to)
        elif message.reply_to and kind == "slack":
            _thread_slack(plugin, message.reply_to)
        _install_recorder()
        with _recording(telegram_reply) as seen:
            try:
                ok = plugin.notify(body=message.body, title=message.title, body_format=body_format)
            except AppriseImproperlyConfigured as exc:  # e.g. an empty message: will not change
                detail = _redact(str(exc))
                raise PermanentDeliveryError(
                    f"{where}: apprise refused the message: {detail}"
                ) from None
            except Exception as exc:  # a plugin bug or an unexpected I/O error
                detail = _redact(f"{type(exc).__name__}: {exc}")
                raise TransientDeliveryError(f"{where}: apprise failed: {detail}") from None
        if ok:
            log.debug("delivered to %s", where)
            return _remote_id(kind, seen.calls)
        raise _failure(where, plugin, seen.responses, seen.warnings)

    def _configure(self, plugin: Any, url: str) -> None:
        plugin.request_rate_per_sec = 0  # fresh instance anyway: no 5.5 s sleep
        plugin.retry = 0  # our retries, with backoff, not apprise's
        plugin.socket_connect_timeout = self.timeout
        plugin.socket_read_timeout = self.timeout
        if "overflow" not in url.lower():
            # Our renderer fits each family's limit; for other services apprise cuts
            # rather than sending something the service rejects.
            plugin.overflow_mode = OverflowMode.TRUNCATE


_HEADER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")


def _add_email_headers(plugin: Any, headers: dict[str, str]) -> None:
    """Extra headers (e-mail threading) on an e-mail plugin; other plugins are left alone.

    apprise's e-mail plugin writes ``plugin.headers`` into every message it builds (the
    same dict its ``+Header=value`` URL arguments fill); it sets its own Message-ID after
    them, so that one cannot be chosen. Other plugins' ``headers`` are HTTP headers: the
    thread ids are not meant for them. Values are folded to one line (no header injection).
    """
    from apprise.plugins.email import NotifyEmail

    if not isinstance(plugin, NotifyEmail) or not isinstance(plugin.headers, dict):
        return
    for name, value in headers.items():
        text = " ".join(str(value).split())
        if _HEADER_NAME.match(name) and text:
            plugin.headers[name] = text


# --- remote ids and replies (story updates answer the first alert) ------------------------------

_TELEGRAM_MESSAGE_ID = re.compile(r"[0-9]{1,19}")
_SLACK_TS = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")  # what apprise's CHANNEL_RE accepts


def _replies_kind(plugin: Any) -> str | None:
    """Which service's message id a send can return and answer: "telegram" for one chat,
    "slack" for a bot token's one channel; None otherwise (webhooks, e-mail, many targets)."""
    from apprise.plugins.slack import CHANNEL_RE, NotifySlack, SlackMode
    from apprise.plugins.telegram import NotifyTelegram

    if isinstance(plugin, NotifyTelegram):
        return "telegram" if len(plugin.targets) == 1 else None
    if isinstance(plugin, NotifySlack) and plugin.mode is SlackMode.BOT:
        if len(plugin.channels) != 1 or not isinstance(plugin.channels[0], str):
            return None
        match = CHANNEL_RE.match(plugin.channels[0])  # not an e-mail address (user lookup)
        # a channel already set to a thread: everything goes there, no thread of our own
        return "slack" if match and not match.group("thread_ts") else None
    return None


def _telegram_reply(reply_to: str) -> dict[str, Any] | None:
    if not _TELEGRAM_MESSAGE_ID.fullmatch(reply_to):
        return None
    # Bot API 7+; a deleted original must not make the update fail
    return {"message_id": int(reply_to), "allow_sending_without_reply": True}


def _thread_slack(plugin: Any, ts: str) -> None:
    """apprise threads a bot token's message when its channel reads ``channel:thread_ts``."""
    if _SLACK_TS.fullmatch(ts):
        plugin.channels = [f"{plugin.channels[0]}:{ts}"]


def _remote_id(kind: str | None, calls: list[tuple[str, Any]]) -> str | None:
    """The id in the service's answer to the (first) message sent, if any."""
    endpoint = {"telegram": "/sendMessage", "slack": "/chat.postMessage"}.get(kind or "")
    if endpoint is None:
        return None
    for url, response in calls:
        if not _path(url).endswith(endpoint) or _status(response) != 200:
            continue
        try:
            data = json.loads(response.content)
        except (AttributeError, TypeError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        if kind == "telegram":
            result = data.get("result")
            found = result.get("message_id") if isinstance(result, dict) else None
            if isinstance(found, int) and not isinstance(found, bool):
                return str(found)
            return None
        found = data.get("ts")
        return found if isinstance(found, str) and _SLACK_TS.fullmatch(found) else None
    return None


# --- building plugins -----------------------------------------------------------------------

_ASSET = apprise.AppriseAsset()


def _instantiate(url: str, *, quiet: bool = False) -> Any:
    """The apprise plugin for ``url``; PermanentDeliveryError (or None if quiet) if none."""
    if not isinstance(url, str) or not url.strip():
        if quiet:
            return None
        raise PermanentDeliveryError("empty URL: expected an apprise URL such as mailto://...")
    warnings: list[str] = []
    plugin = None
    error: str | None = None
    with _capture_warnings(warnings):
        try:
            plugin = apprise.Apprise.instantiate(url, asset=_ASSET, suppress_exceptions=False)
        except Exception as exc:  # the plugin's own validation (AppriseImproperlyConfigured, ...)
            error = _redact(str(exc)) or type(exc).__name__
    if plugin is not None:
        _register_secrets(url, plugin)
        return plugin
    if quiet:
        return None
    raise PermanentDeliveryError(_explain(url, error, warnings))


def _explain(url: str, error: str | None, warnings: list[str]) -> str:
    match = _SCHEME_RE.match(url)
    if match is None:
        return "not an apprise URL: expected scheme://... (e.g. mailto://, slack://, tgram://)"
    scheme = match.group(1).lower()
    manager = apprise.NotificationManager()  # a singleton: the loaded plugins
    if scheme not in manager:
        if scheme in ("http", "https"):
            return (
                f"no apprise service recognises this {scheme}:// URL "
                "(generic webhooks are json://, form:// or xml://)"
            )
        return f"unsupported scheme {scheme}:// (not an apprise service)"
    name = manager[scheme].service_name
    reasons = [text for text in (error, *warnings) if text]
    reason = "; ".join(dict.fromkeys(reasons)) or "the URL is malformed or misses required parts"
    return f"apprise cannot use this {name} URL: {reason}"


def _masked(url: str) -> str:
    match = _SCHEME_RE.match(url) if isinstance(url, str) else None
    return f"{match.group(1).lower()}://****" if match else "****"


# --- secrets: which strings, and the logging filter ------------------------------------------

_SECRETS: set[str] = set()  # of every URL seen by this process (one entry set per target)
_SECRETS_LOCK = threading.Lock()
_SORTED_SECRETS: tuple[str, ...] = ()
_PARSING_SECRETS: ContextVar[tuple[str, ...]] = ContextVar("newsalert_parsing_secrets", default=())


def _fragments(url: str) -> set[str]:
    """Every piece of a URL that could be a secret, raw and %-decoded."""
    text = _SCHEME_RE.sub("", url, count=1)
    try:
        parts = urlsplit("x://" + text)
        pieces = [parts.netloc, parts.path, parts.fragment]
        pieces += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    except ValueError:
        pieces = [text]
    found: set[str] = set()
    for piece in pieces:
        for candidate in (piece, unquote(piece)):
            found.update(f for f in _FRAGMENT_SPLIT.split(candidate) if f)
    return found


def _register_secrets(url: str, plugin: Any) -> None:
    """Remember what must never be logged: private tokens and what the privacy URL hides."""
    secrets: set[str] = {url.strip(), unquote(url.strip())}
    specs = {**getattr(plugin, "template_tokens", {}), **getattr(plugin, "template_args", {})}
    for key, spec in specs.items():
        if isinstance(spec, dict) and spec.get("private"):
            value = getattr(plugin, spec.get("map_to", key), None)
            if isinstance(value, str) and value:
                secrets.add(value)
    password = getattr(plugin, "password", None)
    if isinstance(password, str) and password:
        secrets.add(password)
    shown = _fragments(plugin.url(privacy=True))
    port = getattr(plugin, "port", None)
    if port:
        shown.add(str(port))
    # Safety net for plugins that do not declare a token private: whatever the privacy URL
    # hides, except plain words and host names (e.g. "services", "hooks.slack.com").
    secrets |= {f for f in _fragments(url) - shown if not _PLAIN.fullmatch(f)}
    _remember(secrets)


def _remember(secrets: set[str]) -> None:
    global _SORTED_SECRETS
    secrets = {s for s in secrets if len(s) >= _MIN_SECRET}
    with _SECRETS_LOCK:
        if secrets <= _SECRETS:
            return
        _SECRETS.update(secrets)
        _SORTED_SECRETS = tuple(sorted(_SECRETS, key=len, reverse=True))


@contextlib.contextmanager
def _parsing(url: str) -> Iterator[None]:
    """While apprise parses ``url`` it may log any part of it: redact them all meanwhile."""
    pieces = set()
    if isinstance(url, str):
        pieces = _fragments(url) | {url, url.strip()}
    pieces = {p for p in pieces if len(p) >= _MIN_PARSING_FRAGMENT}
    token = _PARSING_SECRETS.set(tuple(sorted(pieces, key=len, reverse=True)))
    try:
        yield
    finally:
        _PARSING_SECRETS.reset(token)


def _redact(text: str) -> str:
    for secret in (*_PARSING_SECRETS.get(), *_SORTED_SECRETS):
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


class _RedactSecrets(logging.Filter):
    """Rewrites records of apprise / urllib3 that contain a known secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's problem, not ours
            return True
        redacted = _redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = _redact(text), None
        return True


_FILTER = _RedactSecrets()
for _name in (
    apprise.LOGGER_NAME,
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.response",
    "urllib3.util.retry",
):
    logging.getLogger(_name).addFilter(_FILTER)


# --- what happened during a send: apprise's warnings and the HTTP responses -------------------


class _Seen:
    def __init__(self) -> None:
        self.responses: list[Any] = []
        self.calls: list[tuple[str, Any]] = []  # (request URL, response)
        self.warnings: list[str] = []


_SEEN: ContextVar[_Seen | None] = ContextVar("newsalert_delivery_seen", default=None)
# Telegram's reply_parameters for the active send: apprise's plugin has no option for them
_TELEGRAM_REPLY: ContextVar[dict[str, Any] | None] = ContextVar(
    "newsalert_telegram_reply", default=None
)
_WARNINGS: ContextVar[list[str] | None] = ContextVar("newsalert_apprise_warnings", default=None)


class _CaptureFilter(logging.Filter):
    """Hands apprise's WARNING+ lines (already redacted) to the active send, plus the
    DEBUG line where apprise hides the cause of a failure (the SMTP reply, say).

    To see that DEBUG line the apprise logger must let DEBUG through; this filter then
    passes on only what the root logger's level would have let through anyway.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        sink = _WARNINGS.get()
        if sink is not None:
            message = record.getMessage()
            if record.levelno >= logging.WARNING or message.startswith("Socket Exception"):
                sink.append(_redact(message))
        return record.levelno >= logging.getLogger().getEffectiveLevel()


_apprise_logger = logging.getLogger(apprise.LOGGER_NAME)
_apprise_logger.addFilter(_CaptureFilter())
if _apprise_logger.level == logging.NOTSET:
    _apprise_logger.setLevel(logging.DEBUG)


@contextlib.contextmanager
def _capture_warnings(sink: list[str]) -> Iterator[list[str]]:
    token = _WARNINGS.set(sink)
    try:
        yield sink
    finally:
        _WARNINGS.reset(token)


@contextlib.contextmanager
def _recording(telegram_reply: dict[str, Any] | None = None) -> Iterator[_Seen]:
    seen = _Seen()
    token = _SEEN.set(seen)
    reply_token = _TELEGRAM_REPLY.set(telegram_reply)
    try:
        with _capture_warnings(seen.warnings):
            yield seen
    finally:
        _TELEGRAM_REPLY.reset(reply_token)
        _SEEN.reset(token)


_RECORDER_LOCK = threading.Lock()
_RECORDER_MARK = "__newsalert_records_responses__"


def _install_recorder() -> None:
    """Wrap ``requests.post`` / ``requests.request`` (what apprise calls) once.

    Re-checked on every send because tests (and other code) may replace them; the wrapper
    passes everything through and only records when a send in this context is active (and
    adds Telegram's reply_parameters when that send is a reply).
    """
    with _RECORDER_LOCK:
        for name in ("post", "request"):
            current = getattr(requests, name)
            if not getattr(current, _RECORDER_MARK, False):
                setattr(requests, name, _recorder(current, name))


def _recorder(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(function, updated=())
    def call(*args: Any, **kwargs: Any) -> Any:
        if name == "post":  # post(url, data=None, ...)
            method, url = "post", args[0] if args else kwargs.get("url")
        else:  # request(method, url, ...)
            method = args[0] if args else kwargs.get("method")
            url = args[1] if len(args) > 1 else kwargs.get("url")
        reply = _TELEGRAM_REPLY.get()
        if reply is not None:
            kwargs = _with_telegram_reply(method, url, kwargs, reply)
        response = function(*args, **kwargs)
        seen = _SEEN.get()
        if seen is not None:
            seen.responses.append(response)
            seen.calls.append((str(url), response))
        return response

    setattr(call, _RECORDER_MARK, True)
    return call


def _path(url: Any) -> str:
    try:
        return urlsplit(str(url)).path
    except ValueError:  # not a URL (a bad IPv6 literal, say): not one we answer
        return ""


def _with_telegram_reply(
    method: Any, url: Any, kwargs: dict[str, Any], reply: dict[str, Any]
) -> dict[str, Any]:
    """``kwargs`` with reply_parameters in a sendMessage POST's JSON ``data``; other
    requests (the bot's photo, getUpdates, anything not JSON) are passed on untouched."""
    if str(method).lower() != "post" or not _path(url).endswith("/sendMessage"):
        return kwargs
    data = kwargs.get("data")
    if not isinstance(data, str | bytes):
        return kwargs
    try:
        payload = json.loads(data)
    except ValueError:
        return kwargs
    if not isinstance(payload, dict) or "reply_parameters" in payload:
        return kwargs
    return {**kwargs, "data": json.dumps({**payload, "reply_parameters": reply})}


# --- classifying a failure ---------------------------------------------------------------------

_STATUS_IN_LOG = re.compile(r"error=(\d{3})\b")
_RETRY_IN_TEXT = re.compile(r"retry after (\d+(?:\.\d+)?)", re.IGNORECASE)


def _failure(where: str, plugin: Any, responses: list[Any], warnings: list[str]) -> Exception:
    service = getattr(plugin, "service_name", "service")
    failed = [r for r in responses if _status(r) not in (None, 200)]
    status = _status(failed[-1]) if failed else None
    if status is None:
        found = [int(m.group(1)) for w in warnings for m in _STATUS_IN_LOG.finditer(w)]
        status = found[-1] if found else None
    causes = [
        w.removeprefix("Socket Exception: ") for w in warnings if w.startswith("Socket Exception")
    ]
    others = [w for w in warnings if not w.startswith("Socket Exception")]
    detail = "; ".join([*others[-1:], *causes[-1:]]) or "no details"
    if status in _PERMANENT_STATUS:
        return PermanentDeliveryError(
            f"{where}: {service} refused the message (HTTP {status}): {detail}"
        )
    retry_after = None
    if status == 429:
        retry_after = _retry_after(failed[-1]) if failed else None
        if retry_after is None:
            hints = [float(m.group(1)) for w in warnings for m in _RETRY_IN_TEXT.finditer(w)]
            retry_after = min(hints[-1], _MAX_RETRY_AFTER) if hints else None
    what = f"HTTP {status}" if status is not None else "not delivered"
    return TransientDeliveryError(f"{where}: {service}: {what}: {detail}", retry_after=retry_after)


def _status(response: Any) -> int | None:
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after(response: Any) -> float | None:
    """Seconds to wait from a 429: Retry-After header (seconds or date), else Telegram's JSON."""
    headers = getattr(response, "headers", None) or {}
    value = None
    with contextlib.suppress(AttributeError, TypeError):
        value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if value is not None:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            seconds = None
            with contextlib.suppress(TypeError, ValueError, IndexError):
                when = parsedate_to_datetime(text)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                seconds = (when - datetime.now(UTC)).total_seconds()
        if seconds is not None and seconds == seconds:  # not NaN
            return min(max(seconds, 0.0), _MAX_RETRY_AFTER)
    with contextlib.suppress(AttributeError, TypeError, ValueError, KeyError):
        data = json.loads(response.content)
        seconds = float(data["parameters"]["retry_after"])
        return min(max(seconds, 0.0), _MAX_RETRY_AFTER)
    return None


# --- one TLS context for every e-mail -----------------------------------------------------
#
# apprise's SMTP controller calls ssl.create_default_context() on every send, even for
# plain SMTP: loading the CA bundle costs ~40 ms, most of an e-mail's cost here. It then
# switches verification off on that context when the URL says verify=no. We hand it a
# proxy over two shared contexts instead (verifying, and not), chosen by those very
# assignments; every other use passes through. Measured in bench/poll_once.py.


class _SharedTLSContext:
    _lock = threading.Lock()
    _contexts: ClassVar[dict[bool, ssl.SSLContext]] = {}

    def __init__(self) -> None:
        object.__setattr__(self, "_verify", True)

    @classmethod
    def _shared(cls, verify: bool) -> ssl.SSLContext:
        with cls._lock:
            if verify not in cls._contexts:
                context = ssl.create_default_context()
                if not verify:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                cls._contexts[verify] = context
            return cls._contexts[verify]

    def __setattr__(self, name: str, value: Any) -> None:
        if (name, value) in (("check_hostname", False), ("verify_mode", ssl.CERT_NONE)):
            object.__setattr__(self, "_verify", False)
        elif (name, value) in (("check_hostname", True), ("verify_mode", ssl.CERT_REQUIRED)):
            pass  # already so on the verifying context
        else:  # anything else would change a shared context: refuse loudly
            raise AttributeError(f"newsalert's shared TLS context does not support setting {name}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shared(self._verify), name)


class _SSLModule:
    """The ``ssl`` module as apprise's SMTP controller sees it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)

    @staticmethod
    def create_default_context(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return ssl.create_default_context(*args, **kwargs)
        return _SharedTLSContext()


def _share_smtp_tls_context() -> None:
    try:
        from apprise.plugins.email import smtp as apprise_smtp
    except ImportError:  # another apprise layout: keep its own behaviour
        return
    if getattr(apprise_smtp, "ssl", None) is ssl:
        apprise_smtp.ssl = _SSLModule()  # type: ignore[assignment]


_share_smtp_tls_context()
