"""Shared setup for the console's tests: a config with `web:`, a seed-article feed, a
real SMTP server, one poll, and the console served by uvicorn on loopback."""

from __future__ import annotations

import re
import socket
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx

from newsalert.cli import main
from newsalert.config import LoadedConfig, load_config
from newsalert.passwords import hash_password
from newsalert.store import Store
from newsalert.web.serve import Background
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer
from tests.test_pipeline import SEED_SUMMARY, SEED_TITLE, rss

SECRET = "test-secret-0123456789-abcdefghijklmnop"
USER, PASSWORD = "ops", "correct horse battery staple"
HOSTILE_TITLE = (
    '<script>alert("t")</script><img src=x onerror=alert(1)> '
    '<a href="javascript:alert(2)">click</a> \u202egnp.exe Banjska attack'
)
# a low-cost hash keeps the tests quick; the parameters are part of the hash
_HASH = hash_password(PASSWORD, n=2**10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    tmp_path: Path, model_dir: Path, database_url: str, feed_url: str, mail_url: str, port: int
) -> Path:
    text = textwrap.dedent(
        f"""\
        storage:
          data_dir: {model_dir}
          database_url: {database_url}
        subscribers:
          - name: duty-desk
            urls: ["{mail_url}"]
        feeds:
          - name: balkans
            url: {feed_url}
            allow_private: true
        web:
          host: 127.0.0.1
          port: {port}
          base_url: http://127.0.0.1:{port}
          secret: ${{NEWSALERT_WEB_SECRET}}
          users:
            {USER}: ${{NEWSALERT_WEB_OPS_HASH}}
        """
    )
    path = tmp_path / "newsalert.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Console:
    loaded: LoadedConfig
    config: Path
    url: str
    mail: EmailMessage
    store: Store

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)

    def login(self, client: httpx.Client) -> None:
        page = client.get("/login")
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token, page.text
        answer = client.post(
            "/login", data={"token": token[1], "user": USER, "password": PASSWORD, "next": "/"}
        )
        assert answer.status_code == 303, answer.text


def link(mail: EmailMessage, words: str) -> str:
    """The href of the anchor whose text is exactly ``words`` in the mail's HTML part."""
    html = mail.get_body(("html",)).get_content()
    found = re.findall(r'<a href="([^"]+)">' + re.escape(words) + "</a>", html)
    assert len(found) == 1, html
    return found[0].replace("&amp;", "&")


def start_console(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    monkeypatch: object,
    *,
    title: str = SEED_TITLE,
) -> Iterator[Console]:
    monkeypatch.setenv("NEWSALERT_WEB_SECRET", SECRET)  # type: ignore[attr-defined]
    monkeypatch.setenv("NEWSALERT_WEB_OPS_HASH", _HASH)  # type: ignore[attr-defined]
    feed_server.route(
        "/balkans",
        body=rss(("seed-1", title, SEED_SUMMARY)),
        headers={"Content-Type": "application/rss+xml"},
    )
    port = free_port()
    config = write_config(
        tmp_path, model_dir, database_url, feed_server.url("/balkans"), smtp_server.url(), port
    )
    assert main(["--config", str(config), "poll", "--once"]) == 0
    [mail] = smtp_server.messages
    loaded = load_config(config)
    server = Background(loaded).start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    store = Store(loaded.database_url)
    try:
        yield Console(loaded, config, url, mail, store)
    finally:
        server.stop()
        store.close()
