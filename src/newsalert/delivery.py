"""Send one rendered :class:`Message` to one apprise URL. The only module importing apprise
(with ``apprise_plugins``, which loads only the plugins of the schemes in use).

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
context-local list when one is active (a no-op otherwise, and safe under threads); that
wrapper and the other patches of apprise live in ``patches``. The
``Retry-After`` header (seconds or HTTP date) wins; Telegram's JSON ``parameters.retry_after``
and its "retry after N" text in apprise's warning are fallbacks.

Replies: a send returns the service's id of what it sent where it gives one (Telegram's
``message_id``; ``ts`` of a Slack bot token's ``chat.postMessage``; the ``Message-ID``
apprise made for an e-mail, read from the message its SMTP controller sends). A URL with
several chats or channels gets one message each: their ids come back as a compact JSON
object by chat or channel. A message with ``reply_to`` (such an id) answers it: apprise
has no option for that, so the same wrapper adds ``reply_parameters`` (Telegram) or
``thread_ts`` (Slack) to the JSON of this send's message POSTs, each chat or channel its
own message's id; a chat without one, webhooks and other services send it unchanged.

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
import copy
import functools
import hashlib
import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
from apprise import NotifyFormat, NotifyType, OverflowMode
from apprise.exception import AppriseImproperlyConfigured

from newsalert import patches
from newsalert.apprise_plugins import ensure_url
from newsalert.channels import REPLY_POSTS
from newsalert.errors import PermanentDeliveryError, TransientDeliveryError
from newsalert.models import Message
from newsalert.patches import ANY, SEEN, Seen, install_requests_recorder

log = logging.getLogger(__name__)
_T = TypeVar("_T")

__all__ = ["Notifier", "privacy_url", "target_id", "validate_url"]

_FORMATS = {"text": NotifyFormat.TEXT, "html": NotifyFormat.HTML, "markdown": NotifyFormat.MARKDOWN}
_NOTIFY_TYPES = {t.value: t for t in NotifyType}
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

        Returns the service's id of the message when it gives one (see :func:`_remote_id`):
        Telegram's ``message_id``, a Slack bot token's ``ts`` (``chat.postMessage``), an
        e-mail's ``Message-ID``; else None. ``message.reply_to`` (such an id) makes the
        message a Telegram reply or a Slack thread reply there; elsewhere it is ignored
        (e-mail threads by ``message.headers``).
        """
        body_format = _FORMATS.get(message.body_format)
        if body_format is None:
            raise PermanentDeliveryError(f"unknown body format {message.body_format!r}")
        with _parsing(url):
            plugin = _instantiate(url)  # raises PermanentDeliveryError
        where = _privacy(url, plugin)
        self._configure(plugin, url)
        if message.headers:
            _add_email_headers(plugin, message.headers)
        kind, targets = _replies_kind(plugin)
        replies: dict[str, str] = {}
        if message.reply_to and kind in REPLY_POSTS:
            replies = _reply_ids(kind, message.reply_to, single=targets == 1)
        install_requests_recorder()
        with _recording(kind, replies) as seen:
            if kind == "telegram" and message.buttons:
                seen.keyboard = _keyboard(message.buttons)
            if message.attach_text and body_format == NotifyFormat.HTML:
                # the e-mail's text/plain part: ours, not apprise's parse of our HTML
                seen.plain = (message.body, message.attach_text)
            try:
                ok = plugin.notify(
                    body=message.body,
                    title=message.title,
                    body_format=body_format,
                    notify_type=_NOTIFY_TYPES.get(message.notify_type, NotifyType.INFO),
                )
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
            return _remote_id(kind, seen, single=targets == 1)
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

# the longest remote id the store keeps (sent_messages.remote_id)
MAX_REMOTE_ID = 128
_TELEGRAM_MESSAGE_ID = re.compile(r"[0-9]{1,19}")
_SLACK_TS = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")  # what apprise's CHANNEL_RE accepts


def _replies_kind(plugin: Any) -> tuple[str | None, int]:
    """Which service's message ids a send can return ("telegram", "slack" for a bot token,
    "email"; None for webhooks and other services), and to how many chats or channels.

    Asks only the plugin modules already imported (``sys.modules``): a plugin is an
    instance of a class whose module is loaded, and importing the others here would undo
    ``apprise_plugins`` (a process sending e-mail only imports the e-mail plugin)."""
    telegram = sys.modules.get("apprise.plugins.telegram")
    if telegram is not None and isinstance(plugin, telegram.NotifyTelegram):
        return "telegram", len(plugin.targets)
    slack = sys.modules.get("apprise.plugins.slack")
    if slack is not None and isinstance(plugin, slack.NotifySlack):
        return ("slack", len(plugin.channels)) if plugin.mode is slack.SlackMode.BOT else (None, 0)
    email = sys.modules.get("apprise.plugins.email")
    if email is not None and isinstance(plugin, email.NotifyEmail):
        return "email", len(plugin.targets)
    return None, 0


def _reply_ids(kind: str, reply_to: str, *, single: bool) -> dict[str, str]:
    """``reply_to`` (a remote id, see :func:`_remote_id`) as the message id to answer per
    chat or channel key; {} when it answers nothing here."""
    valid = _TELEGRAM_MESSAGE_ID if kind == "telegram" else _SLACK_TS
    if not reply_to.startswith("{"):
        # a plain id is of a one-chat URL: in another chat it names an unrelated message
        return {ANY: reply_to} if single and valid.fullmatch(reply_to) else {}
    try:
        ids = json.loads(reply_to)
    except ValueError:
        return {}
    if not isinstance(ids, dict):
        return {}
    return {str(k): str(v) for k, v in ids.items() if valid.fullmatch(str(v))}


def _answer_id(kind: str, response: Any) -> str | None:
    """The id of the message in the service's answer to posting it, if any."""
    if _status(response) != 200:
        return None
    try:
        data = json.loads(response.content)
    except (AttributeError, TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if kind == "telegram":
        result = data.get("result")
        found = result.get("message_id") if isinstance(result, dict) else None
        return str(found) if isinstance(found, int) and not isinstance(found, bool) else None
    found = data.get("ts")
    return found if isinstance(found, str) and _SLACK_TS.fullmatch(found) else None


def _remote_id(kind: str | None, seen: Seen, *, single: bool) -> str | None:
    """What a send returns as the service's id of what it sent.

    One chat or channel: its message's id as the service gave it. Several: a compact JSON
    object of each one's id by chat or channel key (Telegram ids as numbers), so that an
    update answers each in its own chat. E-mail: the Message-ID of each message sent (one
    per recipient), space-separated as In-Reply-To takes them. Only what fits the store's
    MAX_REMOTE_ID is kept: chats or recipients left out get updates that stand alone.
    """
    if kind == "email":
        return _fit(seen.message_ids, " ".join)
    if kind is None:
        return None
    ids: dict[str, str] = {}
    for key, response in seen.posts:
        if key not in ids and (found := _answer_id(kind, response)) is not None:
            ids[key] = found
    if single:
        return next(iter(ids.values()), None)
    entries = [(k, int(v) if kind == "telegram" else v) for k, v in ids.items()]
    return _fit(entries, lambda kept: json.dumps(dict(kept), separators=(",", ":")))


def _fit(entries: list[_T], encode: Callable[[list[_T]], str]) -> str | None:
    """``encode`` of as many of the first entries as fit MAX_REMOTE_ID; None if none do
    (a cut id would name another message)."""
    for n in range(len(entries), 0, -1):
        text = encode(entries[:n])
        if len(text) <= MAX_REMOTE_ID:
            return text
    return None


# --- building plugins -----------------------------------------------------------------------

_ASSET = apprise.AppriseAsset()


def _instantiate(url: str, *, quiet: bool = False) -> Any:
    """The apprise plugin for ``url``; PermanentDeliveryError (or None if quiet) if none."""
    if not isinstance(url, str) or not url.strip():
        if quiet:
            return None
        raise PermanentDeliveryError("empty URL: expected an apprise URL such as mailto://...")
    ensure_url(url)  # apprise's plugin for this scheme (only it, when that is safe)
    warnings: list[str] = []
    plugin = None
    error: str | None = None
    with _capture_warnings(warnings):
        try:
            parsed = _parsed(url)
            plugin = apprise.Apprise.instantiate(
                _copied(parsed) if parsed is not None else url,
                asset=_ASSET,
                suppress_exceptions=False,
            )
        except Exception as exc:  # the plugin's own validation (AppriseImproperlyConfigured, ...)
            error = _redact(str(exc)) or type(exc).__name__
    if plugin is not None:
        if url not in _REGISTERED:
            _register_secrets(url, plugin)
            _REGISTERED.add(url)
        return plugin
    if quiet:
        return None
    raise PermanentDeliveryError(_explain(url, error, warnings))


# URLs whose secrets are registered already (the same URL always gives the same secrets)
_REGISTERED: set[str] = set()


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> dict[str, Any] | None:
    """apprise's parse of ``url`` (what ``Apprise.instantiate`` does first), once per URL:
    a plugin is still built fresh for every send, from a copy. None: not parsed (the
    caller lets ``instantiate`` parse it, and report why)."""
    from apprise.plugins import url_to_dict

    return url_to_dict(url, secure_logging=_ASSET.secure_logging)


def _copied(value: Any) -> Any:
    """A deep copy of a parse (dicts, lists of strings, numbers): apprise's plugins may
    change what they are given. ``copy.deepcopy`` for anything of another type."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is dict:
        return {k: _copied(v) for k, v in value.items()}
    if kind is list:
        return [_copied(v) for v in value]
    return copy.deepcopy(value)


def _privacy(url: str, plugin: Any) -> str:
    """``plugin.url(privacy=True)`` of a plugin just built from ``url``, once per URL (it
    is made from the URL alone)."""
    where = _WHERE.get(url)
    if where is None:
        where = plugin.url(privacy=True)
        if len(_WHERE) >= 1024:
            _WHERE.clear()
        _WHERE[url] = where
    return where


_WHERE: dict[str, str] = {}


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
    token = _PARSING_SECRETS.set(_parsing_pieces(url) if isinstance(url, str) else ())
    try:
        yield
    finally:
        _PARSING_SECRETS.reset(token)


@functools.lru_cache(maxsize=1024)
def _parsing_pieces(url: str) -> tuple[str, ...]:
    """What :func:`_parsing` redacts for ``url``, longest first (once per URL)."""
    pieces = _fragments(url) | {url, url.strip()}
    return tuple(
        sorted((p for p in pieces if len(p) >= _MIN_PARSING_FRAGMENT), key=len, reverse=True)
    )


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
            if record.levelno >= logging.WARNING or message.startswith(_SOCKET_EXCEPTION):
                sink.append(_redact(message))
        return record.levelno >= logging.getLogger().getEffectiveLevel()


_apprise_logger = logging.getLogger(apprise.LOGGER_NAME)
_apprise_logger.addFilter(_CaptureFilter())
if _apprise_logger.level == logging.NOTSET:
    _apprise_logger.setLevel(logging.DEBUG)

_SOCKET_EXCEPTION = "Socket Exception"


def _may_be_socket_exception(msg: Any, args: tuple[Any, ...]) -> bool:
    """Whether ``msg`` formatted with ``args`` (as ``LogRecord.getMessage`` does) could
    start with the prefix: what comes before its first ``%`` starts every text it formats
    to; only when that is a start of the prefix is the text made to be sure."""
    if type(msg) is not str:
        return True
    head = msg.split("%", 1)[0]
    if head.startswith(_SOCKET_EXCEPTION):
        return True
    if not _SOCKET_EXCEPTION.startswith(head):
        return False
    if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
        args = args[0]  # type: ignore[assignment]  # as LogRecord takes a lone mapping
    try:
        text = msg % args if args else msg
    except Exception:  # the record's own formatting will say what is wrong
        return True
    return text.startswith(_SOCKET_EXCEPTION)


def _skipping_debug(debug: Callable[..., None]) -> Callable[..., None]:
    """apprise's ``logger.debug``, but a call whose record :class:`_CaptureFilter` would
    drop unseen (the root logger above DEBUG, and no send to hand a "Socket Exception"
    line to) makes no record: apprise logs several DEBUG lines per e-mail, each a
    LogRecord, a stack walk and both filters. A message whose start could turn into that
    prefix once formatted is logged as before."""

    @functools.wraps(debug)
    def call(msg: Any, *args: Any, **kwargs: Any) -> None:
        if logging.root.getEffectiveLevel() > logging.DEBUG and (
            _WARNINGS.get() is None or not _may_be_socket_exception(msg, args)
        ):
            return
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # the record names apprise's line
        debug(msg, *args, **kwargs)

    call.__newsalert_skips__ = True  # type: ignore[attr-defined]
    return call


if not getattr(_apprise_logger.debug, "__newsalert_skips__", False):
    _apprise_logger.debug = _skipping_debug(_apprise_logger.debug)  # type: ignore[method-assign]


@contextlib.contextmanager
def _capture_warnings(sink: list[str]) -> Iterator[list[str]]:
    token = _WARNINGS.set(sink)
    try:
        yield sink
    finally:
        _WARNINGS.reset(token)


@contextlib.contextmanager
def _recording(kind: str | None = None, replies: dict[str, str] | None = None) -> Iterator[Seen]:
    seen = Seen(kind, replies)
    token = SEEN.set(seen)
    try:
        with _capture_warnings(seen.warnings):
            yield seen
    finally:
        SEEN.reset(token)


def _keyboard(buttons: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """A Telegram inline keyboard of URL buttons, two to a row."""
    keys = [{"text": words, "url": url} for words, url in buttons]
    return {"inline_keyboard": [keys[i : i + 2] for i in range(0, len(keys), 2)]}


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


patches.apply()
