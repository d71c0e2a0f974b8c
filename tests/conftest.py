"""Suite-wide guards and fixtures.

Every test runs under a socket hook that fails it on any connection to an
address outside loopback: this machine has no network but the package
registries, and a test that reaches out is a bug (and traffic that gets flagged).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.feedserver", "tests.smtpserver"]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NonLoopbackConnect(AssertionError):
    pass


_attempts: list[str] = []


def _check(address: object) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ip = ipaddress.ip_address(str(host).split("%")[0])
        except ValueError as exc:  # a hostname reached connect(): resolution bypassed us
            _attempts.append(str(host))
            raise NonLoopbackConnect(f"connect() to unresolved host {host!r}") from exc
        if not ip.is_loopback and not (
            isinstance(ip, ipaddress.IPv6Address)
            and ip.ipv4_mapped is not None
            and ip.ipv4_mapped.is_loopback
        ):
            _attempts.append(str(host))
            raise NonLoopbackConnect(f"test tried to connect to non-loopback address {host}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail the test on any non-loopback connect (AF_UNIX sockets pass).

    The hook raises inside the library too, but a library may swallow that as
    an ordinary connection error; so attempts are also recorded and the test
    fails at teardown if there was any. Tests may read the list (the fixture
    value) to assert a refusal happened before any connection.
    """
    _attempts.clear()
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield _attempts
    if _attempts:
        found = list(_attempts)
        _attempts.clear()
        pytest.fail(f"non-loopback connect attempted: {found}")


# --- shared fixtures -----------------------------------------------------------

import os  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

POSTGRES_URL = os.environ.get(
    "NEWSALERT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("NEWSALERT_TEST_REDIS", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parent.parent


def service_unavailable(what: str, error: Exception) -> None:
    """Skip on a developer's machine without the service; fail in CI, where it must run."""
    message = f"{what} is not reachable: {error}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must start it: see .ci/run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        service_unavailable("PostgreSQL", exc)
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own, dropped afterwards (the server's
    ``test`` database is shared with every other run on the machine)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"newsalert_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's managed model lives: kept in pytest's cache between runs, or
    trained once for the session when the cache plugin is off (``-p no:cacheprovider``)."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.mktemp("newsalert-data")
    return Path(cache.mkdir("newsalert-data"))


@pytest.fixture(scope="session")
def session_model(model_dir: Path) -> tuple[Path, object, bool]:
    """The session's managed model, and whether this session trained it from an empty
    data dir (a fresh clone, CI): then it is the full-data first training that
    ``test_classifier``'s ``managed`` fixture needs, and one training serves both."""
    from newsalert.classifier import load_or_train

    trained_here = not (model_dir / "model").exists()
    return model_dir, load_or_train(None, model_dir), trained_here


@pytest.fixture(scope="session")
def classifier(session_model: tuple[Path, object, bool]) -> object:
    return session_model[1]


def install_fake_dns(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, list[str]], list[str]]:
    """Answer DNS for test names from a table (filled by the caller); record every lookup.

    Names ending in ``.test`` that are not in the table do not resolve; any other
    name goes to the real resolver.
    """
    table: dict[str, list[str]] = {}
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        lookups.append(name)
        if name in table:
            out = []
            for addr in table[name]:
                if ":" in addr:
                    out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (addr, port, 0, 0)))
                else:
                    out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, port)))
            return out
        if name.endswith(".test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table, lookups


def preload_for_pool(config: Path) -> None:
    """Run the worker's pre-fork warm-up (``workers.tasks.preload_model``) for ``config``,
    then unfreeze the heap it froze for the pool (this is the test process, not a pool)."""
    import gc
    from types import SimpleNamespace

    import workers.tasks as tasks

    app = SimpleNamespace(conf={"newsalert_config_path": str(config)})
    try:
        tasks.preload_model(sender=SimpleNamespace(app=app))
    finally:
        gc.unfreeze()


@pytest.fixture(scope="session")
def geo() -> object:
    """The geoparser on the user's cache, as the pipeline uses it: built once (about
    20 s), then unpickled; shared by every geoparsing test. NEWSALERT_TEST_GEO_RERANK=1
    or 0 runs the geo tests with the learned country re-ranker on or off, whatever the
    default (``geoparser.RERANK``)."""
    from newsalert.geo import load_geoparser
    from newsalert.geo.geoparser import default_cache_dir

    switch = os.environ.get("NEWSALERT_TEST_GEO_RERANK")
    return load_geoparser(default_cache_dir(), None if switch is None else switch == "1")


@pytest.fixture(scope="session")
def geo_rules(geo: object) -> object:
    """The hand rules alone (no learned re-ranker) on the same gazetteer: for the tests of
    ``geo/resolve.py``'s cases where the re-ranker answers otherwise (test_geo_rerank)."""
    from newsalert.geo import Geoparser

    return Geoparser(geo.gazetteer)  # type: ignore[attr-defined]
