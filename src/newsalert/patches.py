"""Monkey-patches of other libraries, in one place. ``delivery`` applies them; nothing else
should patch apprise or requests. Each is a pass-through outside the case it exists for,
idempotent, and re-checked where a test (or other code) may have replaced the target.

1. ``requests.post`` / ``requests.request`` (requests 2.34, called by apprise 2.3's HTTP
   plugins): wrapped so that, while a send runs (:data:`SEEN` set), the responses are
   recorded for that send only (apprise does not surface them: the ``Retry-After`` of a
   429, Telegram's ``message_id``, Slack's ``ts``), and a reply's message POSTs get
   ``reply_parameters`` (Telegram) or ``thread_ts`` (Slack), which apprise has no option
   for. Installed by every send (:func:`install_requests_recorder`). Proved by
   tests/test_delivery.py ``test_429_with_retry_after_header``,
   ``test_telegram_reply_parameters_go_to_send_message_only``,
   ``test_slack_bot_token_returns_ts_and_threads_a_reply``.
2. ``ssl`` as seen by apprise 2.3's SMTP plugin (``apprise.plugins.email.smtp.ssl``): a
   proxy whose ``create_default_context()`` hands out one of two shared contexts
   (verifying, and not) instead of loading the CA bundle on every e-mail (~40 ms, most of
   an e-mail's cost; measured in bench/poll_once.py). Proved by tests/test_smtp_tls.py
   ``test_self_signed_certificate_is_refused_unless_verify_is_off`` (verification stays on,
   ``verify=no`` does not weaken the shared verifying context).
3. ``AppriseSMTPController.sendmail`` (apprise 2.3): a pass-through that reads the
   Message-ID apprise made for each e-mail the server accepted, so a story update can
   answer it. Proved by tests/test_delivery.py
   ``test_email_send_returns_the_message_id_of_each_e_mail_sent``.
4. The MIME classes apprise 2.3's e-mail plugin builds its messages with
   (``apprise.plugins.email.base.MIMEText`` / ``MIMEMultipart``): the same classes on a
   policy (:class:`PlainHeaders`) that writes a header whose value is printable ASCII as
   ``Name: value`` at once, instead of through ``email.header.Header.encode`` (with 3.,
   a quarter of the CPU of building an e-mail: ``bench/email_build.py``). That is exactly what the email package writes for such a
   value when it does not fold (``as_string()``, which apprise calls, never folds); every
   other value (non-ASCII, control characters, CR/LF: the header-injection guard; an
   RFC 2047 charset) and every folding generator take the email package's own path. Proved
   byte for byte by tests/test_delivery.py ``test_plain_headers_write_what_compat32_writes``.
   The same multipart class flattens itself (``as_string``) with a generator whose
   ``_make_boundary`` looks for the boundary's ``--`` line in the text as a substring
   before compiling the email package's regex for it: the email package compiles one regex
   per e-mail (a random boundary, never in ``re``'s cache, which it floods and so evicts
   other modules' patterns). The same random draw, the same boundary, the same suffixes
   when the line does occur. The text class keeps what ``set_param`` makes of a header
   value (every part sets the charset its Content-Type already names: parsed and written
   back unchanged, each time). Proved by tests/test_email_build.py.
5. ``convert_between`` as apprise 2.3's e-mail plugin sees it: the text/plain part of an
   HTML e-mail is the renderer's own text of the same parts (``Message.attach_text``, in
   :attr:`Seen.plain` for the send) when apprise converts exactly the HTML body we
   rendered: parsing our own HTML back costs more than building the rest of the e-mail,
   and loses the feedback links' URLs. Any other body (an operator template, a digest, a
   body apprise changed) gets apprise's conversion, kept for the last few bodies (a pure
   function of the body), so an alert e-mailed to several targets is converted once.
   Proved by tests/test_email_build.py.
6. ``NotifyEmail._get_charset`` (apprise 2.3): whether a header is ASCII by
   ``str.isascii`` rather than a generator over its characters. Proved by
   tests/test_email_build.py.

The Celery layer's patches of kombu live in workers/compat.py (the core does not import
kombu).
"""

from __future__ import annotations

import email.message
import functools
import json
import random
import re
import ssl
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from email._policybase import Compat32
from email.generator import Generator
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import HeaderParser
from io import StringIO
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from newsalert.channels import REPLY_POSTS

# --- what a send saw: the state the patches below record into --------------------------------


class Seen:
    def __init__(self, kind: str | None = None, replies: dict[str, str] | None = None) -> None:
        self.kind = kind  # of the plugin sending (see _replies_kind)
        self.replies = replies or {}  # message id to answer, by chat or channel key
        self.responses: list[Any] = []
        self.posts: list[tuple[str, Any]] = []  # (chat or channel key, response) per message
        self.message_ids: list[str] = []  # of the e-mails sent
        self.warnings: list[str] = []
        self.keyboard: dict[str, Any] | None = None  # Telegram reply_markup for each message
        # (HTML body, its plain text): our renderer's text alternative of the body it wrote
        self.plain: tuple[str, str] | None = None


SEEN: ContextVar[Seen | None] = ContextVar("newsalert_delivery_seen", default=None)


# --- 1. requests: record the responses, make replies answer ------------------------------------

# the reply key of a plain id (a one-chat or one-channel URL's): every message of the send
ANY = ""


def _target_key(kind: str, payload: dict[str, Any]) -> str | None:
    """The chat or channel a message POST goes to, as apprise names it in the payload (the
    key of its id); None for a Slack message the URL already sends to a thread."""
    if kind == "telegram":
        chat, topic = payload.get("chat_id"), payload.get("message_thread_id")
        if chat is None:
            return None
        return f"{chat}:{topic}" if topic else str(chat)
    channel = payload.get("channel")
    if "thread_ts" in payload or not isinstance(channel, str):
        return None
    return channel


def _answering(kind: str, payload: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The payload of a message that answers ``message_id`` in its chat or channel."""
    if kind == "slack":
        return {**payload, "thread_ts": message_id}
    if "reply_parameters" in payload:
        return payload
    # Bot API 7+; a deleted original must not make the update fail
    reply = {"message_id": int(message_id), "allow_sending_without_reply": True}
    return {**payload, "reply_parameters": reply}


_RECORDER_LOCK = threading.Lock()
_RECORDER_MARK = "__newsalert_records_responses__"


def install_requests_recorder() -> None:
    """Wrap ``requests.post`` / ``requests.request`` (what apprise calls) once.

    Re-checked on every send because tests (and other code) may replace them; the wrapper
    passes everything through and only records when a send in this context is active (and
    makes that send's message POSTs answer their chat's or channel's message when it is a
    reply).
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
        seen = SEEN.get()
        key = None
        if seen is not None and seen.kind in REPLY_POSTS:
            payload = _message_payload(seen.kind, method, url, kwargs)
            key = None if payload is None else _target_key(seen.kind, payload)
            message_id = seen.replies.get(key, seen.replies.get(ANY)) if key is not None else None
            if payload is not None and message_id is not None:
                payload = _answering(seen.kind, payload, message_id)
                kwargs = {**kwargs, "data": json.dumps(payload)}
            if payload is not None and seen.keyboard and "reply_markup" not in payload:
                # URL buttons under the message (apprise has no option for them)
                kwargs = {**kwargs, "data": json.dumps({**payload, "reply_markup": seen.keyboard})}
        response = function(*args, **kwargs)
        if seen is not None:
            seen.responses.append(response)
            if key is not None:
                seen.posts.append((key, response))
        return response

    setattr(call, _RECORDER_MARK, True)
    return call


def _path(url: Any) -> str:
    try:
        return urlsplit(str(url)).path
    except ValueError:  # not a URL (a bad IPv6 literal, say): not one we answer
        return ""


def _message_payload(
    kind: str, method: Any, url: Any, kwargs: dict[str, Any]
) -> dict[str, Any] | None:
    """The JSON payload of a POST that sends a message of ``kind``'s service, else None:
    other requests (the bot's photo, a user lookup, anything not JSON) are not messages."""
    if str(method).lower() != "post" or not _path(url).endswith(REPLY_POSTS[kind]):
        return None
    data = kwargs.get("data")
    if not isinstance(data, str | bytes):
        return None
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


# --- 2. apprise's SMTP controller: one TLS context for every e-mail -----------------------------------------------------
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


def share_smtp_tls_context() -> None:
    try:
        from apprise.plugins.email import smtp as apprise_smtp
    except ImportError:  # another apprise layout: keep its own behaviour
        return
    if getattr(apprise_smtp, "ssl", None) is ssl:
        apprise_smtp.ssl = _SSLModule()  # type: ignore[assignment]


# --- 3. apprise's SMTP controller: the Message-ID of each e-mail sent ------------------------
#
# apprise makes each e-mail's Message-ID itself (make_msgid) and does not say which: a
# pass-through around its SMTP controller's sendmail reads it from every message the server
# accepted during a send, so that a story update can answer the e-mail the subscriber has.


def header_block(message: str) -> str:
    """The headers of ``message``: what a header parser reads before the first empty line
    (the body, most of the text, is not fed to it). Cut at the first blank line when the
    headers use plain LF (what apprise's ``as_string()`` writes); else the whole text."""
    head, blank, _ = message.partition("\n\n")
    return head + "\n" if blank and "\r" not in head else message


def record_smtp_message_ids() -> None:
    try:
        from apprise.plugins.email.smtp import AppriseSMTPController
    except ImportError:  # another apprise layout: e-mail sends return no id
        return
    sendmail = AppriseSMTPController.sendmail
    if getattr(sendmail, _RECORDER_MARK, False):
        return

    @functools.wraps(sendmail)
    def recorded(self: Any, from_addr: str, to_addrs: list[str], message: str) -> bool:
        ok = sendmail(self, from_addr, to_addrs, message)
        seen = SEEN.get()
        if ok and seen is not None and isinstance(message, str):
            found = HeaderParser().parsestr(header_block(message)).get("Message-ID")
            if found:
                seen.message_ids.append(" ".join(str(found).split()))
        return ok

    setattr(recorded, _RECORDER_MARK, True)
    AppriseSMTPController.sendmail = recorded  # type: ignore[method-assign]


# --- 4. apprise's e-mail messages: headers that need no encoding written as they are ----------
#
# ``Message.as_string()`` flattens with ``max_line_length=0``: nothing is folded, and the
# compat32 policy still runs every header through ``Header(value).encode()`` (splitting it
# into words and joining them again), twelve to fifteen headers per e-mail.


def _plain(value: Any) -> str | None:
    """``value`` as written unchanged when not folded: printable ASCII (no CR, LF, tab or
    other control character), as a str or a one-part Header that needs no RFC 2047
    encoding; None for anything else."""
    if type(value) is str:
        text = value
    elif type(value) is Header:
        chunks = value._chunks  # [(text, Charset)]: one part, ASCII, not encoded
        if len(chunks) != 1 or chunks[0][1].header_encoding is not None:
            return None
        text = chunks[0][0]
    else:
        return None
    return text if text.isascii() and text.isprintable() else None


class PlainHeaders(Compat32):
    """compat32 (what apprise's MIME messages use), but a header that is not folded and
    needs no encoding is written without the email package's header machinery: byte for
    byte the same text."""

    def fold(self, name: str, value: Any) -> str:
        if not self.max_line_length:  # as_string(): no folding at all
            text = _plain(value)
            if text is not None:
                return f"{name}: {text}{self.linesep}"
        return super().fold(name, value)


PLAIN_HEADERS = PlainHeaders()


@functools.lru_cache(maxsize=64)
def _param_set(current: str | None, header: str, args: tuple[Any, ...]) -> str | None:
    """The ``header`` value ``Message.set_param(*args)`` leaves on a message whose first
    ``header`` is ``current`` (None: none): it reads nothing else. Worked out on a scratch
    message by the email package's own code."""
    scratch = email.message.Message(policy=PLAIN_HEADERS)
    if current is not None:
        scratch[header] = current
    email.message.Message.set_param(scratch, args[0], args[1], header, *args[2:])
    return scratch.get(header)


class _MIMEText(MIMEText):
    def __init__(self, *args: Any, policy: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, policy=policy or PLAIN_HEADERS, **kwargs)

    def set_param(
        self,
        param: str,
        value: Any,
        header: str = "Content-Type",
        requote: bool = True,
        charset: str | None = None,
        language: str = "",
        replace: bool = False,
    ) -> None:
        """``Message.set_param``, its new header value kept for the value it had: every
        e-mail's two parts set the charset their Content-Type already names (parsing the
        header's parameters and writing them back, unchanged, each time)."""
        current = self.get(header)
        if current is not None and type(current) is not str:  # a Header object: as ever
            super().set_param(param, value, header, requote, charset, language, replace)
            return
        try:
            ctype = _param_set(current, header, (param, value, requote, charset, language))
        except TypeError:  # an unhashable value: as ever
            super().set_param(param, value, header, requote, charset, language, replace)
            return
        if ctype != current:  # what Message.set_param then does
            if replace:
                self.replace_header(header, ctype)
            else:
                del self[header]
                self[header] = ctype


_BOUNDARY_FORMAT = f"%0{len(repr(sys.maxsize - 1))}d"  # the email package's _fmt


class _BoundaryGenerator(Generator):
    """The email package's generator, but a boundary whose ``--`` line cannot be in the
    text (not even as a substring, by far the usual case) is taken without compiling a
    regex for it. Otherwise the email package's own search and ``.N`` suffixes."""

    @classmethod
    def _make_boundary(cls, text: str | None = None) -> str:
        token = random.randrange(sys.maxsize)  # the same draw as the email package's
        boundary = ("=" * 15) + (_BOUNDARY_FORMAT % token) + "=="
        if text is None or "--" + boundary not in text:
            return boundary
        b, counter = boundary, 0
        while True:
            cre = cls._compile_re("^--" + re.escape(b) + "(--)?$", re.MULTILINE)
            if not cre.search(text):
                return b
            b = boundary + "." + str(counter)
            counter += 1


class _MIMEMultipart(MIMEMultipart):
    def __init__(self, *args: Any, policy: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, policy=policy or PLAIN_HEADERS, **kwargs)

    def as_string(self, unixfrom: bool = False, maxheaderlen: int = 0, policy: Any = None) -> str:
        """``Message.as_string`` (Python 3.11-3.13), on :class:`_BoundaryGenerator`."""
        policy = self.policy if policy is None else policy
        fp = StringIO()
        g = _BoundaryGenerator(fp, mangle_from_=False, maxheaderlen=maxheaderlen, policy=policy)
        g.flatten(self, unixfrom=unixfrom)
        return fp.getvalue()


def plain_email_headers() -> None:
    try:
        from apprise.plugins.email import base as apprise_email
    except ImportError:  # another apprise layout: the email package's own path
        return
    if getattr(apprise_email, "MIMEText", None) is MIMEText:
        apprise_email.MIMEText = _MIMEText  # type: ignore[misc]
    if getattr(apprise_email, "MIMEMultipart", None) is MIMEMultipart:
        apprise_email.MIMEMultipart = _MIMEMultipart  # type: ignore[misc]


# --- 5. apprise's e-mail plugin: an HTML body converted to text once --------------------------
#
# An HTML e-mail gets a text/plain alternative converted by apprise's HTMLParser-based
# converter, about a fifth of building the e-mail; the same alert to several e-mail targets
# (or a retry) converts the same body again. Bodies are at most ~20,000 characters (the
# e-mail body limit), so the cache holds a few hundred KB at most.

_CONVERTED_BODIES = 32


def _converting(convert: Callable[..., Any], html: Any, text: Any) -> Callable[..., Any]:
    """``convert`` (apprise's ``convert_between``), but the HTML body this send rendered
    becomes the text rendered with it; other bodies' results of the last few kept."""

    @functools.lru_cache(maxsize=_CONVERTED_BODIES)
    def to_text(body: str) -> Any:
        return convert(html, text, body)

    @functools.wraps(convert)
    def converted(from_format: Any, to_format: Any, content: Any) -> Any:
        if from_format == html and to_format == text and type(content) is str:
            seen = SEEN.get()
            plain = seen.plain if seen is not None else None
            if plain is not None and (plain[0] is content or plain[0] == content):
                return plain[1]
            return to_text(content)
        return convert(from_format, to_format, content)

    converted.cache_info = to_text.cache_info  # type: ignore[attr-defined]

    setattr(converted, _RECORDER_MARK, True)
    return converted


def convert_html_once() -> None:
    try:
        from apprise import NotifyFormat
        from apprise.plugins.email import base as apprise_email
    except ImportError:  # another apprise layout: converted every time
        return
    convert = getattr(apprise_email, "convert_between", None)
    if callable(convert) and not getattr(convert, _RECORDER_MARK, False):
        apprise_email.convert_between = _converting(  # type: ignore[assignment]
            convert, NotifyFormat.HTML, NotifyFormat.TEXT
        )


# --- 6. apprise's e-mail plugin: is a header ASCII -----------------------------------------
#
# ``NotifyEmail._get_charset`` decides a header's charset by ``all(ord(c) < 128 for c in
# text)``, a generator step per character of the subject and of every header; ``str.isascii``
# is the same test in C.


_APPRISE_GET_CHARSET: Callable[[Any], str | None] | None = None  # apprise's own


def _get_charset(input_string: Any) -> str | None:
    if type(input_string) is not str and _APPRISE_GET_CHARSET is not None:
        return _APPRISE_GET_CHARSET(input_string)
    if not input_string:
        return None
    return None if input_string.isascii() else "utf-8"


def ascii_headers_at_once() -> None:
    global _APPRISE_GET_CHARSET
    try:
        from apprise.plugins.email import NotifyEmail
    except ImportError:  # another apprise layout: its own test
        return
    current = NotifyEmail.__dict__.get("_get_charset")
    function = getattr(current, "__func__", None)
    if function is None or function is _get_charset:
        return
    _APPRISE_GET_CHARSET = function
    NotifyEmail._get_charset = staticmethod(_get_charset)  # type: ignore[method-assign]


def apply() -> None:
    """The patches made once, at import of ``delivery`` (1. is made by every send)."""
    share_smtp_tls_context()
    record_smtp_message_ids()
    plain_email_headers()
    convert_html_once()
    ascii_headers_at_once()
