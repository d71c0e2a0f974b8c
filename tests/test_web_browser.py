"""The console in a real browser: Debian's chromium driven by Playwright.

Log in, open the alert's item page, follow the *Not relevant* link of the real e-mail
the SMTP server caught, confirm, and see the label on the item page; a changed link is
refused; a hostile title stays text (no script runs: a dialog would fail the test).
Screenshots of the main pages go to $NEWSALERT_SCREENSHOTS (default: the test's tmp dir).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsalert import feedback
from tests.conftest import service_unavailable
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer
from tests.webconsole import HOSTILE_TITLE, PASSWORD, USER, Console, link, start_console

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        service_unavailable("chromium", FileNotFoundError(CHROMIUM))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        yield page
        browser.close()
        assert dialogs == [], f"a script ran in the page: {dialogs}"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("NEWSALERT_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def console(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    monkeypatch: pytest.MonkeyPatch,
    classifier: object,
) -> Iterator[Console]:
    import html

    yield from start_console(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'store.db'}",
        feed_server,
        smtp_server,
        monkeypatch,
        title=html.escape(HOSTILE_TITLE) + " The US asks Serbia to withdraw troops",
    )


def test_browser_login_item_feedback_link_and_refusals(
    console: Console, browser_page: object, shots: Path
) -> None:
    page = browser_page  # playwright.sync_api.Page
    url = console.url
    # not logged in: the login form, not the page
    page.goto(url + "/deliveries")  # type: ignore[attr-defined]
    assert page.locator("h1").inner_text() == "Log in"  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "login.png"))  # type: ignore[attr-defined]
    page.fill("input[name=user]", USER)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    assert page.locator("h1").inner_text() == "Deliveries"  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "deliveries.png"), full_page=True)  # type: ignore[attr-defined]

    page.goto(url + "/")  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "alerts.png"), full_page=True)  # type: ignore[attr-defined]
    # the hostile title is shown as text, in the alert list and on the item page
    first = page.locator("tbody tr td:nth-child(4) a").first  # type: ignore[attr-defined]
    assert "<script>" in first.inner_text()
    assert page.locator("main script, main img").count() == 0  # type: ignore[attr-defined]
    first.click()
    assert "<script>" in page.locator("h1.item-title").inner_text()  # type: ignore[attr-defined]
    assert page.locator("a[href^='javascript:']").count() == 0  # type: ignore[attr-defined]
    assert page.locator("#label").inner_text() == "none"  # type: ignore[attr-defined]
    item_url = page.url  # type: ignore[attr-defined]

    # the subscriber's link from the real e-mail: a confirmation, nothing recorded yet
    not_relevant = link(console.mail, "Not relevant")
    page.goto(not_relevant)  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "confirm.png"), full_page=True)  # type: ignore[attr-defined]
    assert feedback.labels(console.store) == {}
    page.click("text=Confirm: Not relevant")  # type: ignore[attr-defined]
    assert "Recorded" in page.locator("main").inner_text()  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "thanks.png"))  # type: ignore[attr-defined]

    page.goto(item_url)  # type: ignore[attr-defined]
    assert page.locator("#label").inner_text() == "not relevant"  # type: ignore[attr-defined]
    answers = page.locator("table.answers").inner_text()  # type: ignore[attr-defined]
    assert "Not relevant" in answers and "subscriber:duty-desk" in answers
    page.screenshot(path=str(shots / "item.png"), full_page=True)  # type: ignore[attr-defined]

    # a changed link: refused, with a page that says so
    head, mac = not_relevant.rsplit("/", 1)[1].split(".")
    tampered = f"{url}/feedback/{head[:-2]}xx.{mac}"
    response = page.goto(tampered)  # type: ignore[attr-defined]
    assert response.status == 400
    assert "not valid" in page.locator("h1").inner_text()  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "refused.png"))  # type: ignore[attr-defined]

    for name in ("feeds", "stories", "feedback"):
        page.goto(f"{url}/{name}")  # type: ignore[attr-defined]
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
    page.goto(f"{url}/map")  # type: ignore[attr-defined]
    dots = page.locator("main svg a circle").count()  # type: ignore[attr-defined]
    assert dots == page.locator("main ul li a").count()  # type: ignore[attr-defined]
    assert page.locator("main svg line").count() > 10  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "map.png"), full_page=True)  # type: ignore[attr-defined]
    assert len(list(shots.glob("*.png"))) == 11
