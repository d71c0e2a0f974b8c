"""Measure `poll --once` in-process: items/s on fresh feeds, feeds/s when all answer 304.

Everything runs on loopback: a threaded feed server and a real SMTP server.
Run: python bench/poll_once.py [--feeds 50] [--items 40]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsalert.config import load_config  # noqa: E402
from newsalert.pipeline import Pipeline  # noqa: E402
from newsalert.store import Store  # noqa: E402
from tests.feedserver import FeedServer, Request, Response  # noqa: E402
from tests.smtpserver import SMTPServer  # noqa: E402
from tests.test_pipeline import rss  # noqa: E402

TOPICS = [
    (
        "Gunmen attack police checkpoint in {}",
        "Several officers were killed when armed men opened fire on a checkpoint.",
    ),
    (
        "{} central bank holds interest rates",
        "The bank kept its main rate unchanged, citing easing inflation.",
    ),
    ("Football: {} beat rivals 3-1", "A late goal sealed the win in front of a home crowd."),
    (
        "Troops massed on the border with {}",
        "Satellite images show armoured units moving towards the frontier.",
    ),
]
PLACES = ["Kosovo", "Mali", "Yemen", "Peru", "Chile", "Ghana", "Nepal", "Laos"]


def feed(n: int, items: int) -> bytes:
    rows = []
    for i in range(items):
        title, summary = TOPICS[(n + i) % len(TOPICS)]
        place = PLACES[(n * 7 + i) % len(PLACES)]
        rows.append((f"f{n}-i{i}", title.format(place) + f" ({n}/{i})", summary))
    return rss(*rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--items", type=int, default=40)
    args = parser.parse_args()
    server, smtp = FeedServer(), SMTPServer()
    smtp.start()
    bodies = {f"/f{n}": feed(n, args.items) for n in range(args.feeds)}

    def handler(request: Request) -> Response:
        if request.headers.get("if-none-match") == '"v1"':
            return Response(304, headers={"ETag": '"v1"'})
        return Response(200, body=bodies[request.path], headers={"ETag": '"v1"'})

    for path in bodies:
        server.handler(path, handler)
    with tempfile.TemporaryDirectory() as tmp:
        feeds = "".join(
            f'  - {{name: f{n}, url: "{server.url(f"/f{n}")}", allow_private: true}}\n'
            for n in range(args.feeds)
        )
        config = Path(tmp) / "newsalert.yaml"
        config.write_text(
            textwrap.dedent(
                f"""\
                storage: {{data_dir: {ROOT / "var"}, database_url: "sqlite:///{tmp}/db.sqlite"}}
                delivery: {{rate_limits: {{email: 1000}}}}
                subscribers:
                  - {{name: desk, urls: ["{smtp.url()}"], min_score: 0.5}}
                feeds:
                """
            )
            + feeds
        )
        loaded = load_config(config)
        pipeline = Pipeline(loaded, Store(loaded.database_url))
        pipeline.scorer()  # load (or train once) the model outside the timing
        start = time.perf_counter()
        fresh = pipeline.run_once()
        fresh_s = time.perf_counter() - start
        start = time.perf_counter()
        steady = pipeline.run_once()
        steady_s = time.perf_counter() - start
        pipeline.close()
    smtp.stop()
    server.close()
    print(
        f"{'run':<28}{'feeds':>7}{'items':>8}{'alerts':>8}{'seconds':>9}{'feeds/s':>9}{'items/s':>9}"
    )
    print(
        f"{'fresh feeds (200)':<28}{args.feeds:>7}{fresh.new_items:>8}{fresh.delivered.get('sent', 0):>8}"
        f"{fresh_s:>9.2f}{args.feeds / fresh_s:>9.1f}{fresh.new_items / fresh_s:>9.0f}"
    )
    print(
        f"{'steady state (all 304)':<28}{args.feeds:>7}{steady.new_items:>8}{steady.delivered.get('sent', 0):>8}"
        f"{steady_s:>9.2f}{args.feeds / steady_s:>9.1f}{'-':>9}"
    )


if __name__ == "__main__":
    main()
