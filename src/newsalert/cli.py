"""The ``newsalert`` command line. Exit codes: 0 ok, 1 failure, 2 bad config or usage."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from newsalert import __version__
from newsalert.config import ENV_CONFIG, LoadedConfig, load_config
from newsalert.errors import ConfigError, ModelError, NewsalertError, StoreError
from newsalert.models import Item
from newsalert.normalize import canonical_link

log = logging.getLogger("newsalert")

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsalert",
        description="Watch RSS/Atom feeds and push security-incident alerts.",
    )
    parser.add_argument("--version", action="version", version=f"newsalert {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"config file (default: ${ENV_CONFIG} or config/newsalert.yaml)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)"
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text (default) or json: one JSON object per line (or $NEWSALERT_LOG_FORMAT)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="validate the config, rules and every subscriber URL")
    p.add_argument(
        "--strict", action="store_true", help="treat warnings (e.g. unset secrets) as errors"
    )

    p = sub.add_parser("poll", help="run the whole pipeline once in this process")
    p.add_argument(
        "--once", action="store_true", required=True, help="poll every due feed once, then exit"
    )
    p.add_argument("--feed", metavar="NAME", help="only this feed")

    sub.add_parser("run", help="the background service: Celery worker + beat in one process")

    p = sub.add_parser("score", help="score JSON lines (title, summary) from a file or stdin")
    p.add_argument("file", nargs="?", default="-", help="JSON lines file, or - for stdin")

    p = sub.add_parser("explain", help="show how a text or a stored item is scored")
    p.add_argument("text", nargs="+", help="text to score, or the id of a stored item")

    p = sub.add_parser("model", help="train or evaluate the classifier")
    msub = p.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    t = msub.add_parser("train", help="rebuild the model from the packaged data (and --data files)")
    t.add_argument("--data", metavar="FILE", action="append", type=Path, help="labelled JSON lines")
    t.add_argument("--out", metavar="DIR", type=Path, help="where to write the model")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--with-feedback",
        action="store_true",
        help="build a candidate with the feedback, measured against the running model on "
        "held-out labels (`model promote` puts a passing one in place); with --out: "
        "train into DIR without the gate",
    )
    pr = msub.add_parser(
        "promote", help="replace the running model with a candidate that passed the gate"
    )
    pr.add_argument("candidate", nargs="?", help="the candidate's id (default: the newest)")
    msub.add_parser("candidates", help="candidates with their numbers and the gate's decision")
    e = msub.add_parser("evaluate", help="precision, recall, F1, PR-AUC on labelled data")
    e.add_argument("--data", metavar="FILE", type=Path, default=Path("data/dev.jsonl"))
    e.add_argument("--out", metavar="DIR", type=Path, help="also write plots here")

    sub.add_parser("feeds", help="feed health table")

    p = sub.add_parser("stories", help="recent stories with their items and sources")
    p.add_argument("--hours", type=float, default=48.0, help="seen in the last HOURS (48)")
    p.add_argument("--limit", type=int, default=50, help="at most this many stories (50)")

    p = sub.add_parser(
        "items", help="recent scored items: score, category, story, and who was alerted"
    )
    p.add_argument("--hours", type=float, default=24.0, help="fetched in the last HOURS (24)")
    p.add_argument("--min-score", type=float, metavar="S", help="only items scoring S or more")
    p.add_argument("--feed", metavar="NAME", help="only this feed")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--relevant", dest="relevant", action="store_const", const=True, help="only relevant"
    )
    which.add_argument(
        "--not-relevant",
        dest="relevant",
        action="store_const",
        const=False,
        help="only items scored not relevant (the place to look for misses)",
    )
    p.add_argument("--limit", type=int, default=100, help="at most this many items (100)")
    p.add_argument("--json", action="store_true", help="print the items as JSON")

    p = sub.add_parser("deliveries", help="list deliveries or replay dead ones")
    p.add_argument("action", choices=("list", "replay"), nargs="?", default="list")
    p.add_argument(
        "--status", choices=("pending", "held", "sending", "failed", "sent", "dead", "ambiguous")
    )
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--id", type=int, action="append", dest="ids", help="replay only these ids")

    p = sub.add_parser("send-test", help="send a test alert to each target of a subscriber")
    p.add_argument("name")

    _operator_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    from newsalert import logs

    try:
        log_format = logs.log_format(args.log_format)
    except ValueError as exc:
        print(f"error: {exc} (check {logs.ENV_LOG_FORMAT})", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "run":  # the worker formats its own logs: tell it which way
        os.environ[logs.ENV_LOG_FORMAT] = log_format
    logs.setup(level, log_format)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "check": cmd_check,
        "poll": cmd_poll,
        "run": cmd_run,
        "score": cmd_score,
        "explain": cmd_explain,
        "model": cmd_model,
        "feeds": cmd_feeds,
        "stories": cmd_stories,
        "items": cmd_items,
        "deliveries": cmd_deliveries,
        "send-test": cmd_send_test,
        "backtest": cmd_backtest,
        "stats": cmd_stats,
        "metrics": cmd_metrics,
        "feedback": cmd_feedback,
        "web": cmd_web,
    }
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        print(f"config error ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except (ModelError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except NewsalertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130


# --- helpers -----------------------------------------------------------------


def _load(args: argparse.Namespace) -> LoadedConfig:
    loaded = load_config(args.config)
    for warning in loaded.warnings:
        log.warning("%s", warning)
    return loaded


def _store(loaded: LoadedConfig) -> Any:
    from newsalert.store import Store

    return Store(loaded.database_url)


def _pipeline(loaded: LoadedConfig) -> Any:
    from newsalert.pipeline import build_pipeline

    return build_pipeline(loaded)


def _scorer(loaded: LoadedConfig) -> Any:
    from newsalert.classifier import load_or_train
    from newsalert.rules import RuleSet
    from newsalert.scoring import Scorer

    model = load_or_train(loaded.model_path, loaded.data_dir, loaded.model_embedding)
    feed_tags = {f.name: frozenset(f.tags) for f in loaded.feeds}
    return Scorer(
        RuleSet(loaded.rules, feed_tags),
        model,
        loaded.config.model.threshold,
        feed_languages={f.name: f.language for f in loaded.feeds},
    )


def _table(
    rows: Iterable[Sequence[object]], headers: Sequence[str], out: TextIO | None = None
) -> None:
    out = out or sys.stdout  # looked up per call: tests and callers swap sys.stdout
    text = [[str(c) for c in headers]] + [
        ["" if c is None else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    for n, row in enumerate(text):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


# --- commands ----------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)  # subscriber URLs included (config._check_targets)
    warnings = loaded.warnings
    from newsalert import parse

    # about this Python, not the config: said here only, and never fails --strict
    if expat := parse.expat_warning():
        print(f"warning: {expat}", file=sys.stderr)
    if args.strict and warnings:
        raise ConfigError(list(warnings))  # printed once, by main, as errors
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from newsalert.store import masked_database_url

    targets = sum(len(t) for t in loaded.targets.values())
    rules = loaded.rules
    print(f"config OK: {loaded.path}")
    print(f"  feeds: {len(loaded.feeds)}")
    print(f"  subscribers: {_subscribers_label(loaded)}")
    print(f"  targets: {targets} of {loaded.written_targets} enabled")
    print(
        f"  rules: {len(rules.include)} include, {len(rules.exclude)} exclude, {len(rules.boost)} boost"
    )
    print(f"  store: {masked_database_url(loaded.database_url)}")
    print(f"  broker: {_broker_label(loaded)}")
    print(f"  model: {loaded.model_path or loaded.data_dir / 'model' / 'model.joblib'}")
    print(f"  locations: {_locations_label(loaded)}")
    if warnings:
        print(f"  {len(warnings)} warning(s), see above")
    return EXIT_OK


def _locations_label(loaded: LoadedConfig) -> str:
    """How items are located; the re-ranker's packaged weights are read here, so a broken
    install fails ``check`` (``GeoDataError``, exit 1) rather than the worker's first
    batch."""
    if not loaded.config.geo.rerank:
        return "hand rules alone (geo.rerank: false)"
    from newsalert.geo.rerank import load_reranker

    load_reranker()
    return "hand rules + learned country re-ranker (geo.rerank: true)"


def _subscribers_label(loaded: LoadedConfig) -> str:
    """``3 configured, 0 enabled (3 disabled: unset A, B)``: a subscriber is disabled
    when the variables its URLs use are unset or empty."""
    enabled = {s.name for s in loaded.subscribers}
    off = {n: v for n, v in loaded.disabled.items() if n not in enabled}
    label = f"{len(enabled) + len(off)} configured, {len(enabled)} enabled"
    if off:
        variables = loaded.describe_variables(v for names in off.values() for v in names)
        label += f" ({len(off)} disabled: {variables})"
    return label


def _broker_label(loaded: LoadedConfig) -> str:
    if not loaded.broker_url:
        return f"embedded (under {loaded.data_dir})"
    from newsalert.store import masked_database_url

    return masked_database_url(loaded.broker_url)


def cmd_poll(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if args.feed:
        try:
            loaded.feed(args.feed)
        except KeyError:
            names = ", ".join(f.name for f in loaded.feeds)
            print(f"error: no feed named {args.feed!r}; configured: {names}", file=sys.stderr)
            return EXIT_CONFIG
    pipeline = _pipeline(loaded)
    try:
        summary = pipeline.run_once(args.feed, warm_up=True)
    finally:
        pipeline.close()
    _table(
        ((f.feed, f.status, f.entries, len(f.new_item_ids), f.error or "") for f in summary.feeds),
        ("feed", "status", "entries", "new", "error"),
    )
    sent = summary.delivered.get("sent", 0)
    retry = summary.delivered.get("failed", 0) + summary.delivered.get("throttled", 0)
    dead = summary.delivered.get("dead", 0)
    print(
        f"\n{summary.new_items} new items, {summary.scored} scored, {summary.relevant} relevant; "
        f"{summary.deliveries_created} alerts queued, {sent} sent, {retry} to retry, {dead} dead; "
        f"{len(summary.failed_feeds)} feed(s) failed; {summary.elapsed:.2f}s"
    )
    if summary.model_error:
        print(
            f"model unavailable, {summary.unscored} items kept for scoring later: {summary.model_error}",
            file=sys.stderr,
        )
        return EXIT_FAIL
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from workers.service import run_service

    return run_service(args.config, verbose=args.verbose)


def cmd_score(args: argparse.Namespace) -> int:
    from newsalert.geo import load_geoparser
    from newsalert.geo.geoparser import default_cache_dir

    loaded = _load(args)
    scorer = _scorer(loaded)
    geo = load_geoparser(default_cache_dir(), loaded.config.geo.rerank)
    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    batch: list[tuple[dict[str, Any], Item]] = []
    bad = 0
    with stream:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                print(f"{args.file}:{n}: skipped, not a JSON object: {exc}", file=sys.stderr)
                bad += 1
                continue
            batch.append((record, _item_from(record)))
            if len(batch) >= 2000:
                _emit(scorer, geo, batch)
                batch = []
        _emit(scorer, geo, batch)
    return EXIT_FAIL if bad else EXIT_OK


def _item_from(record: dict[str, Any]) -> Item:
    return Item(
        key="",
        feed=str(record.get("feed") or record.get("source") or "-"),
        title=str(record.get("title") or ""),
        summary=str(record.get("summary") or ""),
        # the link tells the item's kind (/opinion/, /videos/): scored as a feed's would be
        link=canonical_link(record["link"]) if isinstance(record.get("link"), str) else None,
        published=None,
    )


def _emit(scorer: Any, geo: Any, batch: list[tuple[dict[str, Any], Item]]) -> None:
    if not batch:
        return
    scores = scorer.score_batch([item for _, item in batch], explain_relevant=False)
    # a line's "country" (ISO alpha-2) stands in for its feed's home country
    places = geo.locate_many(
        (item.title, item.summary, None, _country_of(record)) for record, item in batch
    )
    out = sys.stdout
    for (record, _), score, place in zip(batch, scores, places, strict=True):
        record.update(
            score=score.score,
            relevant=score.relevant,
            category=score.category,
            reasons=[r.label for r in score.reasons],
            language=_language_dict(score.language),
            **place.as_dict(),
        )
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _language_dict(language: Any) -> dict[str, Any] | None:
    if language is None:
        return None
    return {"code": language.code, "confidence": language.confidence, "method": language.method}


def _country_of(record: dict[str, Any]) -> str | None:
    value = record.get("country")
    return value if isinstance(value, str) and len(value) == 2 and value.isalpha() else None


def cmd_explain(args: argparse.Namespace) -> int:
    loaded = _load(args)
    scorer = _scorer(loaded)
    text = " ".join(args.text)
    if text.isdigit():
        stored = _store(loaded).get_item(int(text))
        item = stored.item
    else:
        title, _, summary = text.partition("\n")
        item = Item(key="", feed="-", title=title, summary=summary, link=None, published=None)
    score = scorer.explain(item, top=10)
    print(f"score     {score.score:.3f}  ({'relevant' if score.relevant else 'not relevant'})")
    print(f"category  {score.category}")
    if score.language is not None:
        lang = score.language
        said = f"{lang.code} ({lang.method} {lang.confidence:.2f})"
        print(f"language  {said}" + ("" if lang.english else ": not English, rules only"))
    if score.model_probability is None:
        print("model     not asked (it reads English only)")
    else:
        print(f"model     {score.model_probability:.3f} (calibrated probability)")
    print(f"how       {score.arithmetic}")
    rules = [r for r in score.reasons if r.kind == "rule"]
    terms = [r for r in score.reasons if r.kind == "model"]
    print("rules     " + ("; ".join(r.label for r in rules) if rules else "none fired"))
    print("terms     (contribution to the model's log-odds)")
    for reason in terms:
        print(f"  {reason.weight:+.3f}  {reason.label}")
    _explain_place(loaded, item, score.language.code if score.language else None)
    return EXIT_OK


def _explain_place(loaded: LoadedConfig, item: Item, language: str | None = None) -> None:
    """Where the event happened, how that was chosen, and which place filters it passes."""
    from newsalert.geo import load_geoparser
    from newsalert.geo.filters import GeoFilter, describe, map_link
    from newsalert.geo.geoparser import default_cache_dir

    geo = load_geoparser(default_cache_dir(), loaded.config.geo.rerank)
    country = next((f.country for f in loaded.feeds if f.name == item.feed), None)
    result = geo.locate(item.title, item.summary, item.link, country, language)
    where = result.where
    print(f"where     {describe(where) + '  ' + map_link(where) if where else 'nowhere named'}")
    print(f"          {result.why}")
    if result.places:
        print("places    " + "; ".join(f"{p.place} ({p.country})" for p in result.places))
    for sub in loaded.subscribers:
        if sub.countries or sub.near:
            verdict = GeoFilter(sub, geo.country_at).check(where, 1.0, "")
            hit = f" ({verdict.zone.zone})" if verdict.zone else ""
            print(
                f"  {sub.name}: {'passes' if verdict.passes else 'filtered out'}: {verdict.why}{hit}"
            )


def cmd_model(args: argparse.Namespace) -> int:
    from newsalert import classifier

    loaded = _load(args)
    if args.model_command in ("promote", "candidates") or (
        args.model_command == "train" and args.with_feedback and not args.out and not args.data
    ):
        return _model_gate(args, loaded)
    if args.model_command == "train":
        out = args.out or (
            loaded.model_path.parent
            if loaded.model_path
            else classifier.managed_dir(loaded.data_dir, loaded.model_embedding)
        )
        data = [classifier.packaged_data(), *args.data] if args.data else None
        extra = _feedback_items(loaded, out) if args.with_feedback else None
        meta = classifier.train(
            out,
            data,
            seed=args.seed,
            progress=sys.stderr.isatty(),
            extra_items=extra,
            embedding=loaded.model_embedding,
        )
        print(f"model written to {out}")
        print(json.dumps(meta.get("metrics", {}), indent=2))
        return EXIT_OK
    model = classifier.load_or_train(loaded.model_path, loaded.data_dir, loaded.model_embedding)
    report = classifier.evaluate(model, args.data, args.out)
    print(report.format())
    return EXIT_OK


def _model_gate(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from newsalert import promote

    if args.model_command == "train":
        gate = promote.train_candidate(loaded, _store(loaded), seed=args.seed)
        _print_gates([gate])
        print(
            f"candidate {gate.id} "
            + (
                "passed: `newsalert model promote` puts it in place"
                if gate.passed
                else "did not pass"
            )
        )
        return EXIT_OK
    gates = promote.candidates(loaded)
    if args.model_command == "candidates":
        if not gates:
            print("no candidates yet: `newsalert model train --with-feedback`")
        _print_gates(gates)
        return EXIT_OK
    wanted = [g for g in gates if args.candidate in (None, g.id)]
    if not wanted:
        print(f"error: no candidate {args.candidate or ''}".rstrip(), file=sys.stderr)
        return EXIT_FAIL
    try:
        done = promote.promote(loaded, wanted[0])
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"candidate {done.id} promoted: workers use it from their next batch")
    return EXIT_OK


def _print_gates(gates: list[Any]) -> None:
    _table(
        (
            (
                g.id,
                f"{g.candidate.pr_auc:.3f} / {g.running.pr_auc:.3f}",
                f"{g.candidate.recall:.3f} / {g.running.recall:.3f}",
                f"{g.trained_feedback}+{g.held_out_feedback}",
                "promoted" if g.promoted_at else ("passed" if g.passed else "refused"),
                g.reason,
            )
            for g in gates
        ),
        ("candidate", "PR-AUC cand/run", "recall cand/run", "feedback", "gate", "why"),
    )


def cmd_feeds(args: argparse.Namespace) -> int:
    from newsalert import health
    from newsalert.store import utcnow

    loaded = _load(args)
    store = _store(loaded)
    store.sync_feeds((f.name, f.url) for f in loaded.feeds)
    configured = {f.name for f in loaded.feeds}
    now = utcnow()
    from newsalert.stats import feed_activity

    activity = feed_activity(store)
    rows = [
        (
            s.name,
            health.label(s, now),
            s.last_status or "never",
            _when(s.last_polled_at),
            _when(s.next_poll_at),
            _until(s.next_poll_at, now, s.disabled),
            s.items_seen,
            activity[s.name].alerts if s.name in activity else 0,
            s.error_streak,
            "removed from config" if s.name not in configured else (s.last_error or "")[:80],
        )
        for s in store.feed_states()
    ]
    _table(
        rows,
        (
            "feed",
            "health",
            "status",
            "last poll (UTC)",
            "next poll (UTC)",
            "next in",
            "items",
            "alerts",
            "errors",
            "last error",
        ),
    )
    return EXIT_OK


def cmd_stories(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from newsalert.store import utcnow
    from newsalert.stories import StoryStore

    loaded = _load(args)
    index = StoryStore(_store(loaded), timedelta(hours=loaded.config.stories.window_hours))
    found = index.recent(utcnow() - timedelta(hours=args.hours), args.limit)
    if not found:
        print(f"no stories in the last {args.hours:g} hours")
        return EXIT_OK
    from newsalert.geo.combine import story_location
    from newsalert.geo.filters import describe
    from newsalert.geo.records import locations_of

    members = index.members([s.id for s in found])
    places = locations_of(
        index.store.engine, [row.item_id for rows in members.values() for row in rows]
    )
    for story in found:
        print(
            f"story {story.id}  {_when(story.first_seen)} .. {_when(story.last_seen)}  "
            f"{story.item_count} items, {len(story.sources)} sources  "
            f"peak {story.peak_score:.2f} {story.category}"
        )
        print(f"  {story.title[:160]}")
        print(f"  sources: {', '.join(story.sources)}")
        rows = members.get(story.id, [])
        where, why = story_location([places.get(r.item_id, (None, ""))[0] for r in rows])
        print(f"  where: {describe(where) if where else 'nowhere named'} ({why})")
        for row in rows:
            at = places.get(row.item_id, (None, ""))[0]
            print(
                f"    {row.kind:<9} {_when(row.seen_at)}  {row.feed:<20} {(row.title or '')[:90]}"
                + (f"  [{at.place}, {at.country}]" if at else "")
            )
        print()
    return EXIT_OK


def cmd_items(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from newsalert.geo.filters import describe
    from newsalert.listings import recent_items
    from newsalert.store import utcnow

    if not 0 < args.hours <= 24 * 365 or args.limit < 1:
        print("error: --hours must be above 0 (at most 8760), --limit at least 1", file=sys.stderr)
        return EXIT_CONFIG
    loaded = _load(args)
    store = _store(loaded)
    if args.feed and args.feed not in {f.name for f in loaded.feeds}:
        known = {s.name for s in store.feed_states()}
        if args.feed not in known:
            names = ", ".join(f.name for f in loaded.feeds)
            print(f"error: no feed named {args.feed!r}; configured: {names}", file=sys.stderr)
            return EXIT_CONFIG
    rows, matching = recent_items(
        store,
        utcnow() - timedelta(hours=args.hours),
        min_score=args.min_score,
        feed=args.feed,
        relevant=args.relevant,
        limit=args.limit,
    )
    if args.json:  # ASCII: feed text cannot reach the terminal as control or bidi characters
        print(json.dumps([_item_json(r) for r in rows], indent=2, ensure_ascii=True))
        return EXIT_OK
    if not rows:
        print(f"no scored items matching in the last {args.hours:g} hours")
        return EXIT_OK
    _table(
        (
            (
                r.id,
                _when(r.fetched_at),
                _terminal(r.feed, 20),
                f"{r.score:.2f}",
                "yes" if r.relevant else "no",
                r.category if r.relevant else "-",
                f"{r.story_id} {r.story_kind}" if r.story_id is not None else "-",
                _alerted(r.alerted) or "-",
                _terminal(describe(r.where), 30) if r.where else "-",
                _terminal(r.title, 80),
            )
            for r in rows
        ),
        (
            "id",
            "fetched (UTC)",
            "feed",
            "score",
            "relevant",
            "category",
            "story",
            "alerted",
            "where",
            "title",
        ),
    )
    shown = f"; the newest {len(rows)} shown (--limit)" if len(rows) < matching else ""
    print(f"\n{matching} item(s) in the last {args.hours:g} hours{shown}")
    return EXIT_OK


def _terminal(text: str | None, width: int) -> str:
    """Feed text for a terminal: one line, no control or bidi characters (render.clean)."""
    from newsalert.render import clean, cut

    return cut(clean(text, single_line=True), width)


def _alerted(alerted: dict[str, str]) -> str:
    """ "desk, ops (dead)": who was alerted, with the status where it is not sent."""
    return ", ".join(
        name if status == "sent" else f"{name} ({status})" for name, status in alerted.items()
    )


def _item_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "fetched_at": row.fetched_at.isoformat(),
        "published_at": row.published_at.isoformat() if row.published_at else None,
        "feed": row.feed,
        "title": row.title,
        "link": row.link,
        "score": round(row.score, 4),
        "relevant": row.relevant,
        "category": row.category,
        "story": {"id": row.story_id, "kind": row.story_kind} if row.story_id is not None else None,
        "alerted": row.alerted,
        "where": row.where.as_dict() if row.where else None,
    }


def cmd_deliveries(args: argparse.Namespace) -> int:
    from newsalert.store import utcnow

    loaded = _load(args)
    store = _store(loaded)
    if args.action == "replay":
        n = store.replay_dead(utcnow(), args.ids)
        print(
            f"{n} dead deliveries queued again; `newsalert poll --once` or the service sends them"
        )
        return EXIT_OK
    from newsalert.listings import list_deliveries

    rows, matching = list_deliveries(store, args.status, args.limit)
    if args.status and not rows:
        print(f"no {args.status} deliveries")
        return EXIT_OK
    _table(
        (
            (
                d.id,
                d.item_id if d.notice_id is None else f"feed notice {d.notice_id}",
                d.subscriber,
                _short_target(d.target_label),
                d.status + (" (ambiguous)" if d.ambiguous else ""),
                d.attempts,
                _when(d.next_attempt_at)
                if d.status in ("pending", "held", "failed")
                else _when(d.sent_at),
                _target_error(d.target_label, d.last_error or "")[:80],
            )
            for d in rows
        ),
        ("id", "item", "subscriber", "target", "status", "tries", "when (UTC)", "last error"),
    )
    shown = f" (the newest {len(rows)} shown)" if len(rows) < matching else ""
    if args.status:  # the footer counts what the table lists, not every status
        print(f"\n{args.status}: {matching}{shown}")
        return EXIT_OK
    counts = store.delivery_counts()
    print(
        "\n" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + shown
        if counts
        else "\nno deliveries"
    )
    return EXIT_OK


def _short_target(label: str) -> str:
    from newsalert.channels import short_label

    return short_label(label)


def _target_error(label: str, error: str) -> str:
    """A delivery error without the target's privacy URL it starts with (shown beside it)."""
    return error.removeprefix(f"{label}: ")


def cmd_send_test(args: argparse.Namespace) -> int:
    from newsalert.delivery import Notifier
    from newsalert.errors import DeliveryError
    from newsalert.models import Alert
    from newsalert.pipeline import build_targets
    from newsalert.render import channel_family, render

    loaded = _load(args)
    try:
        loaded.subscriber(args.name)
    except KeyError:
        names = ", ".join(s.name for s in loaded.subscribers)
        print(f"error: no subscriber named {args.name!r}; configured: {names}", file=sys.stderr)
        return EXIT_CONFIG
    alert = Alert(
        item_id=0,
        title="newsalert delivery check, not an incident",
        source="newsalert send-test",
        published=datetime.now(UTC),
        score=0.0,
        category="test",
        reasons=(),
        link=None,
        summary=(
            f"This is a TEST message sent by `newsalert send-test {args.name}` to check that "
            "alerts reach this target. It is not an incident. No action needed."
        ),
        subscriber=args.name,
        test=True,
    )
    notifier = Notifier(timeout=loaded.config.delivery.timeout)
    failed = 0
    for target in build_targets(loaded).get(args.name, ()):
        try:
            templates = loaded.config.templates.model_dump()
            notifier.send(
                target.url, render(alert, channel_family(target.url), templates=templates)
            )
            print(f"ok      {_short_target(target.label)}")
        except DeliveryError as exc:
            failed += 1
            print(f"FAILED  {_short_target(target.label)}: {_target_error(target.label, str(exc))}")
    return EXIT_FAIL if failed else EXIT_OK


# --- operator tooling: backtest, stats, metrics, feedback ----------------------


def _operator_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "backtest", help="replay items through the current and a proposed config; compare alerts"
    )
    p.add_argument(
        "--config",
        dest="proposed",
        metavar="NEW.yaml",
        help="the proposed config (default: the current one, alone)",
    )
    p.add_argument(
        "--since",
        default="7d",
        help="stored items fetched within this long: 30m, 12h, 7d, 2w, or all (default 7d)",
    )
    p.add_argument(
        "--data",
        metavar="FILE.jsonl",
        type=Path,
        help="replay a labelled JSON lines file (title, summary, label) instead of the store",
    )
    p.add_argument("--limit", type=int, default=20, help="items listed per gained/lost list")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")

    p = sub.add_parser("stats", help="items, alerts and deliveries per hour and per subscriber")
    p.add_argument("--hours", type=int, default=24, help="how many hours back (default 24)")

    p = sub.add_parser("metrics", help="serve the Prometheus metrics (or print them once)")
    p.add_argument("--port", type=int, help="default: metrics.port in the config, else 9464")
    p.add_argument("--host", help="default: metrics.host in the config, else 127.0.0.1")
    p.add_argument("--once", action="store_true", help="print the metrics once and exit")

    p = sub.add_parser("web", help="serve the web console (or make a password hash for it)")
    p.add_argument("action", choices=("serve", "hash-password"), nargs="?", default="serve")
    p.add_argument("--port", type=int, help="default: web.port in the config, else 8080")
    p.add_argument("--host", help="default: web.host in the config, else 127.0.0.1")

    p = sub.add_parser(
        "feedback", help="label a stored item relevant (yes) or not (no); no arguments: list"
    )
    p.add_argument("item", nargs="?", type=int, help="the item id (shown in every alert)")
    p.add_argument("label", nargs="?", help="yes or no")
    p.add_argument("--category", help="for yes: the item's category (default: as scored)")
    p.add_argument("--limit", type=int, default=50, help="rows listed without arguments")


def _until(when: datetime | None, now: datetime, disabled: bool) -> str:
    from newsalert.health import duration

    if disabled:
        return "disabled"
    if when is None or when <= now:
        return "due"
    return duration(when - now)


def _feedback_items(loaded: LoadedConfig, out: Path) -> list[dict[str, Any]]:
    from newsalert import feedback

    extra = feedback.training_items(_store(loaded))
    positives = sum(1 for i in extra if i["label"])
    print(f"with feedback: {len(extra)} labelled item(s), {positives} relevant", file=sys.stderr)
    return extra


def cmd_backtest(args: argparse.Namespace) -> int:
    from newsalert import backtest
    from newsalert.classifier import load_or_train
    from newsalert.store import utcnow

    current = _load(args)
    proposed = load_config(args.proposed) if args.proposed else current
    try:
        since = backtest.parse_since(args.since)
    except ValueError as exc:
        print(f"error: --since: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.data:
        try:
            cases = backtest.jsonl_cases(args.data)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAIL
        source = str(args.data)
    else:
        start = utcnow() - since if since is not None else None
        cases = backtest.stored_cases(_store(current), start)
        source = "the store" + (f", fetched since {_when(start)} UTC" if start else "")
    models = {}
    for loaded in (current, proposed):
        key = backtest.model_key(loaded)
        if key not in models:
            models[key] = load_or_train(loaded.model_path, current.data_dir, loaded.model_embedding)
    result = backtest.run(
        cases,
        backtest.Variant.from_config("current", current),
        backtest.Variant.from_config("proposed", proposed),
        models,
        progress=backtest.ProgressBar(sys.stderr),
        source=source,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        if not args.proposed:
            print("no proposed config (backtest --config NEW.yaml): the current one alone\n")
        print(backtest.format_report(result, limit=max(0, args.limit)))
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from newsalert import stats
    from newsalert.store import utcnow

    if not 1 <= args.hours <= 24 * 90:
        print("error: --hours must be between 1 and 2160", file=sys.stderr)
        return EXIT_CONFIG
    loaded = _load(args)
    store = _store(loaded)
    now = utcnow()
    hours = stats.hourly(store, args.hours, now)
    states = ("sent", "pending", "held", "sending", "failed", "dead")
    rows = [
        (
            h.hour.strftime("%Y-%m-%d %H:00"),
            h.items,
            h.alerts,
            h.deliveries_total,
            *(h.deliveries.get(s, 0) for s in states),
        )
        for h in hours
    ]
    rows.append(
        (
            "total",
            sum(h.items for h in hours),
            sum(h.alerts for h in hours),
            sum(h.deliveries_total for h in hours),
            *(sum(h.deliveries.get(s, 0) for h in hours) for s in states),
        )
    )
    print(f"last {args.hours} hour(s), UTC; deliveries by the hour they were queued, status now\n")
    _table(rows, ("hour (UTC)", "items", "alerts", "deliveries", *states))
    since = stats.floor_hour(now) + timedelta(hours=1 - args.hours)
    subs = stats.by_subscriber(store, since)
    print()
    if not subs:
        print("no deliveries in the period")
        return EXIT_OK
    _table(
        (
            (s.subscriber, s.alerts, *(s.deliveries.get(k, 0) for k in states), s.ambiguous)
            for s in subs
        ),
        ("subscriber", "alerts", *states, "ambiguous"),
    )
    return EXIT_OK


def cmd_metrics(args: argparse.Namespace) -> int:
    from newsalert import metrics

    loaded = _load(args)
    settings = loaded.config.metrics
    feed_names = [f.name for f in loaded.feeds]
    if args.once:
        sys.stdout.write(metrics.collect(_store(loaded), feed_names=feed_names))
        return EXIT_OK
    host = args.host or (settings.host if settings else metrics.DEFAULT_HOST)
    port = (
        args.port
        if args.port is not None
        else (settings.port if settings else metrics.DEFAULT_PORT)
    )
    try:
        server = metrics.MetricsServer(
            loaded.database_url, host=host, port=port, feed_names=feed_names
        )
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"serving metrics at {server.url} (Ctrl+C stops)", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.close()
    return EXIT_OK


def cmd_feedback(args: argparse.Namespace) -> int:
    from newsalert import feedback

    loaded = _load(args)
    store = _store(loaded)
    if args.item is None:
        rows = feedback.recent(store, args.limit)
        if not rows:
            print("no feedback yet: `newsalert feedback ITEM yes|no` (the id is in every alert)")
            return EXIT_OK
        _table(
            (
                (
                    f.item_id,
                    "yes" if f.label else "no",
                    f.category or "",
                    f.feed,
                    _when(f.updated_at),
                    f.title[:70],
                )
                for f in rows
            ),
            ("item", "relevant", "category", "feed", "when (UTC)", "title"),
        )
        return EXIT_OK
    if args.label is None:
        print("error: say yes or no: newsalert feedback ITEM yes|no", file=sys.stderr)
        return EXIT_CONFIG
    try:
        label = feedback.parse_label(args.label)
        saved = feedback.record(store, args.item, label, category=args.category)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(
        f"item {saved.item_id} marked {'relevant' if saved.label else 'not relevant'}"
        f"{f' ({saved.category})' if saved.category else ''}: {saved.title[:80]}\n"
        "it counts in `newsalert backtest` and in `newsalert model train --with-feedback`"
    )
    return EXIT_OK


def cmd_web(args: argparse.Namespace) -> int:
    if args.action == "hash-password":
        import getpass

        from newsalert.passwords import hash_password

        if sys.stdin.isatty():
            password = getpass.getpass("password: ")
            if getpass.getpass("again: ") != password:
                print("error: the passwords differ", file=sys.stderr)
                return EXIT_CONFIG
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            print("error: empty password", file=sys.stderr)
            return EXIT_CONFIG
        print(hash_password(password))
        return EXIT_OK
    from newsalert.web.serve import serve

    loaded = _load(args)
    web = loaded.config.web
    if web is None:
        print(
            "error: the config has no `web:` section; add one (see the README's `web` "
            "settings): web: {secret: ${NEWSALERT_WEB_SECRET}, users: {...}}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    host, port = args.host or web.host, web.port if args.port is None else args.port
    print(f"serving the console at http://{host}:{port} (Ctrl+C stops)", file=sys.stderr)
    try:
        serve(loaded, host=host, port=port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
