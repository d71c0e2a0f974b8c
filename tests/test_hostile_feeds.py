"""Hostile feed servers, end to end through the real Pipeline.

Each case serves one hostile feed from the loopback feed server next to a healthy
feed carrying the seed article (the US asking Serbia to withdraw troops after the
Banjska attack). Every case must end the same way: the hostile feed is refused or
cut off with a clear error on that feed, the poll finishes, memory stays bounded,
and the healthy feed's alert reaches the real SMTP server exactly once (a second
poll sends nothing more).

Address policy: every feed here has ``allow_private: false``, as on the open
internet. The pipeline gets a Fetcher whose ``address_policy`` counts loopback (the
test server) as public and everything else exactly as in production, so the
metadata address, RFC 1918, CGNAT, NAT64 and IPv4-mapped forms are refused by the
real policy, and the ``loopback_only`` fixture proves that no connection to them
was even attempted.
"""

from __future__ import annotations

import gc
import ipaddress
import re
import resource
import textwrap
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsalert.cli import main
from newsalert.config import load_config
from newsalert.errors import ConfigError
from newsalert.fetch import is_public_address
from newsalert.pipeline import Pipeline, PollSummary, fetcher_for
from newsalert.store import Store
from tests.feedserver import FeedServer, Response
from tests.smtpserver import SMTPServer
from tests.test_pipeline import BALKANS, SEED_TITLE

from .conftest import install_fake_dns

MB = 1024 * 1024
MAX_BYTES = 4 * MB  # fetch.max_bytes for these tests
MAX_DECOMPRESSED = 8 * MB  # fetch.max_decompressed
DEADLINE = 1.5  # fetch.deadline, seconds
# Peak Python heap allowed during one poll of a hostile feed plus the healthy one.
# The fetcher may hold one body up to max_decompressed; everything else is small.
MEMORY_BOUND = 3 * MAX_DECOMPRESSED
# Peak RSS growth allowed during one poll (sampled; includes C allocations: zlib, expat).
RSS_BOUND = 64 * MB


def loopback_is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """The loopback test server plays a public feed server; all else as in production."""
    return ip.is_loopback or is_public_address(ip)


# --- building a pipeline ----------------------------------------------------------------


def write_config(
    tmp_path: Path, model_dir: Path, feeds: dict[str, str], mail_url: str, **fetch: object
) -> Path:
    settings = {
        "deadline": DEADLINE,
        "read_timeout": 5,
        "connect_timeout": 2,
        "max_bytes": MAX_BYTES,
        "max_decompressed": MAX_DECOMPRESSED,
        "max_redirects": 3,
        **fetch,
    }
    fetch_yaml = "".join(f"  {k}: {v}\n" for k, v in settings.items())
    feed_yaml = "".join(
        f'  - name: {name}\n    url: "{url}"\n    allow_private: false\n'
        for name, url in feeds.items()
    )
    text = textwrap.dedent(
        f"""\
        storage:
          data_dir: {model_dir}
          database_url: sqlite:///{tmp_path / "store.db"}
        rules:
          include:
            - name: probe
              terms: [XXE probe]
          exclude:
            - name: sport
              terms: [Premier League]
        subscribers:
          - name: duty-desk
            urls: ["{mail_url}"]
        """
    )
    path = tmp_path / "newsalert.yaml"
    path.write_text(text + "fetch:\n" + fetch_yaml + "feeds:\n" + feed_yaml, encoding="utf-8")
    return path


def build_pipeline(config: Path, classifier: object) -> Pipeline:
    loaded = load_config(config)
    pipeline = Pipeline(
        loaded,
        Store(loaded.database_url),
        fetcher=fetcher_for(loaded, address_policy=loopback_is_public),
        model_loader=lambda: classifier,  # type: ignore[arg-type,return-value]
    )
    # loaded before any measured poll, as the worker loads them before it forks: the
    # bounds are on what a hostile feed costs, not on the first load of the gazetteer
    # and language model (about 80 MB, which a test run alone would otherwise count)
    pipeline.scorer()
    pipeline.geoparser()
    return pipeline


@dataclass(frozen=True)
class Measured:
    summary: PollSummary
    seconds: float
    heap_peak: int  # bytes, tracemalloc peak during the poll (0: not traced)
    rss_growth: int  # bytes, peak RSS during the poll minus RSS before it (sampled)


def _rss() -> int:
    """Current resident set size in bytes (Linux /proc); else the peak so far."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _RSSSampler(threading.Thread):
    """Samples the RSS every few milliseconds: the peak growth over a baseline."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.baseline = _rss()
        self.peak = self.baseline
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, _rss())

    def finish(self) -> int:
        self._done.set()
        self.join()
        self.peak = max(self.peak, _rss())
        return self.peak - self.baseline


def measured_poll(pipeline: Pipeline, *, trace: bool) -> Measured:
    """One ``run_once``: its time, its RSS growth and (traced) its Python heap peak.

    tracemalloc slows pure-Python parsing several times over, so time limits are
    only meaningful on untraced polls.
    """
    gc.collect()
    sampler = _RSSSampler()
    sampler.start()
    if trace:
        tracemalloc.start()
    started = time.monotonic()
    try:
        summary = pipeline.run_once()
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
    finally:
        if trace:
            tracemalloc.stop()
        rss_growth = sampler.finish()
    return Measured(summary, seconds, peak, rss_growth)


def outcome(summary: PollSummary, feed: str):  # type: ignore[no-untyped-def]
    [found] = [f for f in summary.feeds if f.feed == feed]
    return found


def all_stored_text(store: Store) -> str:
    from sqlalchemy import select

    from newsalert.store import feeds, items

    with store.engine.connect() as conn:
        rows = [*conn.execute(select(items)), *conn.execute(select(feeds))]
    return "\n".join(str(value) for row in rows for value in row)


def all_mail_text(smtp: SMTPServer) -> str:
    return "\n".join(e.data.decode("utf-8", "replace") for e in smtp.envelopes)


def assert_seed_alert_once(smtp: SMTPServer, others: int = 0) -> None:
    subjects = [str(m["Subject"]) for m in smtp.messages]
    assert sum(SEED_TITLE in s for s in subjects) == 1, subjects
    assert len(subjects) == 1 + others, subjects


# --- hostile payloads -------------------------------------------------------------------


def _laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">']
    for n in range(1, 10):
        prev = "lol" if n == 1 else f"lol{n - 1}"
        entities.append(f'<!ENTITY lol{n} "{f"&{prev};" * 10}">')
    doctype = "<!DOCTYPE rss [\n" + "\n".join(entities) + "\n]>"
    return (
        f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>Laughs</title>'
        "<item><guid>laughs-1</guid><title>&lol9;</title><description>&lol9;&lol9;</description>"
        "</item></channel></rss>"
    ).encode()


def _quadratic() -> bytes:
    """One 50 kB entity referenced 20,000 times: 1 GB if a parser expanded it."""
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [ <!ENTITY a "{"a" * 50_000}"> ]>\n'
        '<rss version="2.0"><channel><title>Quadratic</title><item><guid>quad-1</guid>'
        f"<title>quadratic &a;</title><description>{'&a;' * 20_000}</description>"
        "</item></channel></rss>"
    ).encode()


def _xxe(secret: Path) -> bytes:
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss [ <!ENTITY xxe SYSTEM "file://{secret}"> '
        f'<!ENTITY % remote SYSTEM "file://{secret}"> %remote; ]>\n'
        '<rss version="2.0"><channel><title>XXE &xxe;</title>'
        "<item><guid>xxe-1</guid><title>XXE probe: gunmen attack a border post &xxe;</title>"
        "<link>https://news.example.org/xxe</link>"
        "<description>Gunmen attacked &xxe; the post.</description></item></channel></rss>"
    ).encode()


def _xxe_remote_dtd() -> bytes:
    # an external DTD on the metadata address: nothing may try to fetch it
    return (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss SYSTEM "http://169.254.169.254/latest/meta-data/iam">\n'
        b'<rss version="2.0"><channel><title>DTD</title><item><guid>dtd-1</guid>'
        b"<title>Remote DTD &ent;</title><description>x</description></item></channel></rss>"
    )


def _gzip_bomb(total: int = 1 << 30) -> Iterator[bytes]:
    """1 GB of zeros, gzip-compressed lazily (only what the client reads is produced)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MB)
    for _ in range(total // len(zeros)):
        out = comp.compress(zeros)
        if out:
            yield out
    yield comp.flush()


def _zeros(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    block = bytes(chunk)
    for _ in range(total // chunk):
        yield block


@dataclass(frozen=True)
class Case:
    id: str
    install: Callable[[FeedServer, Path], str]  # routes the feed, returns its path
    statuses: tuple[str, ...]  # acceptable outcome statuses for the hostile feed
    error: str | None  # regex the feed's error must match (None: no error expected)
    requests: int | None = None  # requests the hostile path may receive (None: any)
    alerts: int = 0  # alerts the hostile feed itself is expected to cause


def _route(path: str, body: object, **kw: object) -> Callable[[FeedServer, Path], str]:
    """Serve ``body``; a callable is called per request (a fresh lazy stream each time)."""

    def install(server: FeedServer, _tmp: Path) -> str:
        if callable(body):
            server.handler(path, lambda _req: Response(200, body(), **kw))  # type: ignore[arg-type]
        else:
            server.route(path, body, **kw)  # type: ignore[arg-type]
        return path

    return install


def _install_xxe(server: FeedServer, tmp: Path) -> str:
    secret = tmp / "secret.txt"
    secret.write_text("XXE-SECRET-7f3a9c local file content", encoding="utf-8")
    server.route("/xxe", _xxe(secret), headers={"Content-Type": "application/rss+xml"})
    return "/xxe"


def _install_redirect(path: str, to: str, status: int = 302) -> Callable[[FeedServer, Path], str]:
    def install(server: FeedServer, _tmp: Path) -> str:
        server.redirect(path, to, status)
        return path

    return install


def _install_loop(server: FeedServer, _tmp: Path) -> str:
    server.redirect("/loop-a", "/loop-b", 302)
    server.redirect("/loop-b", "/loop-a", 302)
    return "/loop-a"


def _install_chain(server: FeedServer, _tmp: Path) -> str:
    for n in range(10):
        server.redirect(f"/hop{n}", f"/hop{n + 1}", 302)
    return "/hop0"


def _install_drip_headers(server: FeedServer, _tmp: Path) -> str:
    def drip(h) -> None:  # type: ignore[no-untyped-def]  # the status line, a byte every 2 s
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n":
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            if not server.sleep(2.0):
                return

    server.raw("/drip-headers", drip)
    return "/drip-headers"


CASES = [
    # entities are never expanded (feedparser drops unsafe DTD entities; expat caps the rest)
    Case("billion-laughs", _route("/laughs", _laughs()), ("ok", "error"), None, 1),
    Case("quadratic-blowup", _route("/quadratic", _quadratic()), ("ok", "error"), None, 1),
    # its item is alerted on purpose (an include rule): the e-mail must not hold the file
    Case("xxe-local-file", _install_xxe, ("ok",), None, 1, alerts=1),
    Case("xxe-remote-dtd", _route("/dtd", _xxe_remote_dtd()), ("ok", "error"), None, 1),
    Case(
        "gzip-bomb",
        _route("/bomb", _gzip_bomb, headers={"Content-Encoding": "gzip"}),
        ("rejected",),
        rf"decoded body exceeds max_decompressed={MAX_DECOMPRESSED}.*compression bomb",
        1,
    ),
    Case(
        "200MB-body",
        _route("/huge", lambda: _zeros(200 * MB)),
        ("rejected",),
        rf"body exceeds max_bytes={MAX_BYTES} \(stopped after \d+ bytes on the wire\)",
        1,
    ),
    Case(
        "200MB-declared",
        _route("/declared", lambda: _zeros(200 * MB), headers={"Content-Length": str(200 * MB)}),
        ("rejected",),
        rf"body exceeds max_bytes={MAX_BYTES} \(Content-Length: {200 * MB}\)",
        1,
    ),
    Case(
        "slow-drip-body",
        _route("/drip", BALKANS.replace(b"seed-1", b"drip-1"), drip=2.0),
        ("error",),
        rf"deadline of {DEADLINE:g}s exceeded",
        1,
    ),
    Case(
        "slow-drip-headers",
        _install_drip_headers,
        ("error",),
        rf"deadline of {DEADLINE:g}s exceeded",
        1,
    ),
    Case(
        "redirect-to-metadata",
        _install_redirect("/meta", "http://169.254.169.254/latest/meta-data/"),
        ("rejected",),
        r"169\.254\.169\.254.*redirected from .*refusing to connect to 169\.254\.169\.254: "
        r"not a public address",
        1,
    ),
    Case(
        "redirect-to-mapped-metadata",
        _install_redirect("/meta6", "http://[::ffff:a9fe:a9fe]/latest/meta-data/", 301),
        ("rejected",),
        r"refusing to connect to ::ffff:(a9fe:a9fe|169\.254\.169\.254): not a public address",
        1,
    ),
    Case("redirect-loop", _install_loop, ("rejected",), r"redirect loop at .*/loop-a", 1),
    Case(
        "redirect-chain", _install_chain, ("rejected",), r"too many redirects.*max_redirects=3", 1
    ),
    Case(
        "redirect-to-file",
        _install_redirect("/to-file", "file:///etc/passwd"),
        ("rejected",),
        r"scheme 'file' is not allowed",
        1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_feed_is_cut_off_and_the_healthy_alert_goes_out_once(
    case: Case,
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    loopback_only: list[str],
    classifier: object,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = case.install(feed_server, tmp_path)
    feed_server.route("/balkans", BALKANS, headers={"Content-Type": "application/rss+xml"})
    config = write_config(
        tmp_path,
        model_dir,
        {"hostile": feed_server.url(path), "balkans": feed_server.url("/balkans")},
        smtp_server.url(),
    )
    pipeline = build_pipeline(config, classifier)
    try:
        first = measured_poll(pipeline, trace=True)  # memory
        second = measured_poll(pipeline, trace=False)  # time; the feed again, nothing new
    finally:
        pipeline.close()
    with capsys.disabled():
        print(
            f"\n[{case.id}] traced poll: heap peak {first.heap_peak / MB:.1f} MB, RSS peak "
            f"growth {first.rss_growth / MB:.1f} MB, {first.seconds:.2f}s; untraced poll: "
            f"{second.seconds:.2f}s, RSS peak growth {second.rss_growth / MB:.1f} MB"
        )

    for run in (first, second):
        hostile = outcome(run.summary, "hostile")
        assert hostile.status in case.statuses, hostile
        if case.error is None:
            assert hostile.error is None or hostile.status == "error", hostile
        else:
            assert hostile.error is not None and _matches(case.error, hostile.error), hostile
            assert run.summary.failed_feeds == [hostile]
        assert outcome(run.summary, "balkans").status == "ok"
        assert run.rss_growth < RSS_BOUND, f"RSS grew by {run.rss_growth} bytes"
    # bounded: memory, and time (the deadline decides, not the server)
    assert first.heap_peak < MEMORY_BOUND, f"heap peak {first.heap_peak} bytes"
    assert first.seconds < 60, first.seconds  # traced: only "it did not hang"
    assert second.seconds < DEADLINE + 3, second.seconds
    sent = 1 + case.alerts
    assert first.summary.deliveries_created == sent and first.summary.delivered == {"sent": sent}
    assert second.summary.deliveries_created == 0 and second.summary.delivered == {}
    assert_seed_alert_once(smtp_server, others=case.alerts)

    # refused before any connection off loopback; each poll asked the server at most once
    assert loopback_only == []
    if case.requests is not None:
        asked = [r for r in feed_server.requests if r.path == path]
        assert len(asked) == 2 * case.requests, feed_server.requests

    state = pipeline.store.feed_state("hostile")
    if first.summary.failed_feeds:
        assert state.error_streak == 2 and state.last_error == hostile.error
    # nothing hostile was expanded or leaked: not in the store, the e-mail or the logs
    stored = all_stored_text(pipeline.store)
    mail = all_mail_text(smtp_server)
    for text in (stored, mail, caplog.text):
        assert "XXE-SECRET-7f3a9c" not in text
        assert "lollollol" not in text
        assert "a" * 1000 not in text
    assert len(stored) < 200_000


def _matches(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


def test_all_hostile_feeds_at_once_do_not_hold_up_the_poll(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    loopback_only: list[str],
    classifier: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feeds = {
        case.id: feed_server.url(case.install(feed_server, tmp_path))
        for case in CASES
        if case.id != "redirect-chain"  # its hops share the loop's shape; one is enough
    }
    feed_server.route("/balkans", BALKANS)
    feeds["balkans"] = feed_server.url("/balkans")
    config = write_config(tmp_path, model_dir, feeds, smtp_server.url())
    pipeline = build_pipeline(config, classifier)
    try:
        run = measured_poll(pipeline, trace=False)
    finally:
        pipeline.close()
    with capsys.disabled():
        print(
            f"\n[all at once] {len(feeds)} feeds in {run.seconds:.2f}s, "
            f"RSS peak growth {run.rss_growth / MB:.1f} MB"
        )
    statuses = {f.feed: f.status for f in run.summary.feeds}
    assert statuses["balkans"] == "ok"
    for case in CASES:
        if case.id in statuses:
            assert statuses[case.id] in case.statuses, (case.id, statuses[case.id])
    # two slow drips in a row, each cut at the deadline; the rest is quick
    assert run.seconds < 2 * DEADLINE + 5
    assert run.rss_growth < RSS_BOUND
    assert_seed_alert_once(smtp_server, others=sum(c.alerts for c in CASES))
    assert "XXE-SECRET-7f3a9c" not in all_mail_text(smtp_server)
    assert loopback_only == []


# --- file:// feed URLs never get past the config -------------------------------------------


def test_file_feed_url_is_refused_by_config_validation(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        model_dir,
        {"balkans": "http://127.0.0.1:9/balkans", "local": "file:///etc/passwd"},
        "mailto://127.0.0.1:25?to=a@example.org",
    )
    with pytest.raises(ConfigError) as info:
        load_config(config)
    [problem] = info.value.problems
    assert problem.file == str(config)
    assert problem.key == "feeds[1].url"
    assert "scheme 'file' is not allowed" in problem.message
    assert "http" in problem.hint

    assert main(["--config", str(config), "check"]) == 2
    err = capsys.readouterr().err
    assert f"{config}: feeds[1].url: scheme 'file' is not allowed" in err
    assert f"hint: {problem.hint}" in err
    assert "root:" not in err  # nothing was read from the file


# --- DNS answers and literal forms of non-public addresses -----------------------------------


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, list[str]], list[str]]:
    """Map test host names to addresses; record every lookup (of any name)."""
    return install_fake_dns(monkeypatch)


DNS_ANSWERS = {
    "rfc1918-10.test": ["10.0.0.7"],
    "rfc1918-172.test": ["172.16.5.4"],
    "rfc1918-192.test": ["192.168.1.1"],
    "metadata.test": ["169.254.169.254"],
    "cgnat.test": ["100.64.0.1"],
    "nat64.test": ["64:ff9b::a9fe:a9fe"],  # NAT64 (RFC 6052) of 169.254.169.254
    "nat64-local.test": ["64:ff9b:1::a00:1"],  # RFC 8215 local-use NAT64 prefix
    "mapped.test": ["::ffff:10.0.0.1"],  # IPv4-mapped RFC 1918
    "ula.test": ["fd00::1"],
    "mixed.test": ["127.0.0.1", "192.168.0.10"],  # one good answer does not save it
}
LITERALS = {
    "lit-metadata": "169.254.169.254",
    "lit-rfc1918": "10.1.2.3",
    "lit-172": "172.31.255.254",
    "lit-mapped": "[::ffff:169.254.169.254]",
    "lit-mapped-hex": "[::ffff:a00:1]",
    "lit-nat64": "[64:ff9b::a00:1]",
    "lit-cgnat": "100.100.100.100",
    "lit-zero": "0.0.0.0",
}


def test_private_destinations_are_refused_before_connect_through_the_pipeline(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    loopback_only: list[str],
    fake_dns: tuple[dict[str, list[str]], list[str]],
    classifier: object,
) -> None:
    table, lookups = fake_dns
    table.update(DNS_ANSWERS)
    table["internal-redirect.test"] = ["10.20.30.40"]
    feed_server.route("/balkans", BALKANS)
    feed_server.redirect("/to-internal", "http://internal-redirect.test/admin", 302)
    port = feed_server.port
    feeds = {name.removesuffix(".test"): f"http://{name}:{port}/feed" for name in DNS_ANSWERS}
    feeds |= {name: f"http://{host}:{port}/feed" for name, host in LITERALS.items()}
    feeds["redirect-internal"] = feed_server.url("/to-internal")
    feeds["balkans"] = feed_server.url("/balkans")
    config = write_config(tmp_path, model_dir, feeds, smtp_server.url())
    pipeline = build_pipeline(config, classifier)
    try:
        run = measured_poll(pipeline, trace=True)
    finally:
        pipeline.close()

    by_name = {f.feed: f for f in run.summary.feeds}
    assert by_name.pop("balkans").status == "ok"
    for result in by_name.values():
        assert result.status == "rejected", result
        assert "not a public address" in (result.error or ""), result
    for name, addresses in DNS_ANSWERS.items():
        refused = [str(ipaddress.ip_address(a)) for a in addresses if a != "127.0.0.1"]
        assert any(a in (by_name[name.removesuffix(".test")].error or "") for a in refused)
    assert "10.20.30.40" in (by_name["redirect-internal"].error or "")
    # the names were resolved (the policy judged their answers), the private literals
    # were refused before any lookup, and no socket connected anywhere but loopback
    assert set(lookups) == {*DNS_ANSWERS, "internal-redirect.test", "127.0.0.1"}
    assert loopback_only == []
    assert {r.path for r in feed_server.requests} == {"/balkans", "/to-internal"}
    assert_seed_alert_once(smtp_server)
    assert run.heap_peak < MEMORY_BOUND and run.rss_growth < RSS_BOUND
    states = {s.name: s for s in pipeline.store.feed_states()}
    assert all(states[name].error_streak == 1 for name in by_name)
