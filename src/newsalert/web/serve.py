"""Run the console: in the foreground (``newsalert web``) or, like the metrics endpoint,
in a thread of the worker's main process (``newsalert run`` with ``web:`` configured).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from newsalert.config import LoadedConfig
from newsalert.store import Store

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)


def _server(loaded: LoadedConfig, store: Store, host: str, port: int) -> uvicorn.Server:
    # imported here: a worker without ``web:`` never loads uvicorn (about 2 MiB)
    import uvicorn

    from newsalert.web.app import create_app

    config = uvicorn.Config(
        create_app(loaded, store),
        host=host,
        port=port,
        log_config=None,  # our logging setup (logs.py), not uvicorn's
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="off",
    )
    return uvicorn.Server(config)


def serve(loaded: LoadedConfig, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted (Ctrl+C, SIGTERM)."""
    web = loaded.config.web
    if web is None:
        raise ValueError("the config has no `web:` section")
    store = Store(loaded.database_url)
    try:
        _server(loaded, store, host or web.host, web.port if port is None else port).run()
    finally:
        store.close()


class Background:
    """The console in a daemon thread; ``url`` once it listens."""

    def __init__(self, loaded: LoadedConfig) -> None:
        web = loaded.config.web
        if web is None:
            raise ValueError("the config has no `web:` section")
        self.store = Store(loaded.database_url)
        self.server = _server(loaded, self.store, web.host, web.port)
        self.thread = threading.Thread(target=self.server.run, name="newsalert-web", daemon=True)
        # Celery forks its pool after this: a child must not use (or close) our connections
        os.register_at_fork(after_in_child=lambda: self.store.engine.dispose(close=False))

    def start(self) -> Background:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.store.close()


def on_worker_init(sender: Any = None, **_: Any) -> Background | None:
    """Celery ``worker_init`` receiver: serve the console when the config has ``web:``
    (returns the console started, for callers other than Celery; None when it is off)."""
    app = getattr(sender, "app", None)
    path = app.conf.get("newsalert_config_path") if app is not None else None
    if path is None:
        return None
    from newsalert.config import load_config

    try:
        loaded = load_config(path)
        web = loaded.config.web
        if web is None:
            return None
        started = Background(loaded).start()
        log.info("console at http://%s:%s", web.host, web.port)
        return started
    except Exception as exc:  # the console must never stop the worker
        log.warning("web console not started: %s", exc)
        return None


__all__ = ["Background", "on_worker_init", "serve"]
