"""CPU per item of an alert storm's stages, in one process: poll, score, deliver.

Usage (from the repository root)::

    .venv/bin/python bench/storm_cpu.py .                 # this checkout
    .venv/bin/python bench/storm_cpu.py /path/to/other    # another checkout (before/after)

``--feeds`` loopback feeds x ``--items`` items (the mail_all.py feeds, every item alerting
by an include rule, e-mail rate limit lifted, stories off), SQLite and the store's rate
limiter; the feed and SMTP servers run in a child process, so the CPU is the pipeline's
alone (``time.process_time``). Deliveries go in batches of 20, as a worker's. The delivery
steps are timed with ``time.thread_time``. ``--prof FILE`` writes a cProfile of the stages
(CPU time). ``--dump FILE`` writes the e-mails as sent, sorted, with what differs from
run to run blanked (Date, Message-ID, the random MIME boundaries, item ids), and prints
a digest of them: two checkouts that send the same e-mails print the same digest.
"""

import argparse
import cProfile
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("project")
ap.add_argument("--feeds", type=int, default=20)
ap.add_argument("--items", type=int, default=30)
ap.add_argument("--prof")
ap.add_argument("--redis")
ap.add_argument("--dump", help="write every e-mail sent, what varies blanked")
ap.add_argument("--score-chunk", type=int, default=500, help="items scored per batch")
args = ap.parse_args()
SCORE_CHUNK = args.score_chunk
project = Path(args.project).resolve()
sys.path[:0] = [str(project / "src"), str(project)]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # this checkout's helpers
from steptimer import time_step  # noqa: E402

MODEL = Path(__file__).resolve().parent.parent / ".pytest_cache/d/newsalert-data/model/model.joblib"


def serve(q, n, items):
    from bench.mail_all import Feeds
    from tests.smtpserver import SMTPServer

    feeds = Feeds(n, items)
    feeds.arm()
    smtp = SMTPServer()
    smtp.start()
    q.put(([feeds.url(k) for k in range(n)], smtp.url()))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    mp.set_start_method("fork")
    q = mp.Queue()
    p = mp.Process(target=serve, args=(q, args.feeds, args.items), daemon=True)
    p.start()
    urls, smtp_url = q.get()
    import yaml

    work = Path(tempfile.mkdtemp(prefix="storm-cpu-"))
    config = {
        "storage": {
            "data_dir": str(work / "data"),
            "database_url": f"sqlite:///{work / 'store.db'}",
        },
        "model": {"path": str(MODEL)},
        "fetch": {"min_interval": 1, "deadline": 20},
        "delivery": {"rate_limits": {"email": 100000}},
        "stories": {"enabled": False},
        "subscribers": [{"name": "desk", "urls": [smtp_url]}],
        "feeds": [
            {"name": f"f{k}", "url": u, "interval": 1, "allow_private": True}
            for k, u in enumerate(urls)
        ],
        "rules": {"include": [{"name": "every-item", "terms": ["officials"]}]},
    }
    (work / "c.yaml").write_text(yaml.safe_dump(config))
    if args.redis:
        os.environ["NEWSALERT_BROKER_URL"] = args.redis
    from newsalert.config import load_config
    from newsalert.geo import shared_geoparser
    from newsalert.geo.geoparser import default_cache_dir
    from newsalert.language import shared_detector
    from newsalert.pipeline import build_pipeline

    loaded = load_config(work / "c.yaml")
    pipe = build_pipeline(loaded)
    pipe.scorer()
    shared_geoparser(default_cache_dir())
    shared_detector()
    names = [f"f{k}" for k in range(args.feeds)]
    n = args.feeds * args.items
    # CPU, not wall: a profile of waits on the loopback servers would hide the work
    prof = cProfile.Profile(time.process_time) if args.prof else None
    out = {}

    def stage(name, fn):
        t0, c0 = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        r = fn()
        if prof:
            prof.disable()
        out[name] = ((time.process_time() - c0) * 1000 / n, (time.perf_counter() - t0) * 1000 / n)
        return r

    ids = []

    def poll():
        for o in pipe.poll_feeds(names[:]):
            ids.extend(o.new_item_ids)

    stage("poll", poll)
    created = []

    def score():
        for st in range(0, len(ids), SCORE_CHUNK):
            created.extend(pipe.score_items(ids[st : st + SCORE_CHUNK]).delivery_ids)

    stage("score", score)

    def deliver():
        c = {}
        for st in range(0, len(created), 20):
            for k, v in pipe.deliver_many(created[st : st + 20]).items():
                c[k] = c.get(k, 0) + v
        return c

    spent = {}

    def timed(owner, name, step):
        time_step(owner, name, step, spent, time.thread_time)

    import smtplib

    timed(pipe.store, "lease_deliveries", "lease")
    timed(pipe, "_take_token", "token")
    timed(pipe, "_message", "render")
    import apprise.plugins.email.base as apprise_email

    from newsalert import delivery

    timed(pipe.notifier, "send", "send(all)")
    timed(delivery, "_instantiate", " plugin")
    timed(apprise_email.NotifyEmail, "send", " apprise e-mail send")
    timed(apprise_email, "convert_between", "  html to text")
    timed(smtplib.SMTP, "sendmail", " smtp sendmail")
    timed(pipe.store, "mark_sent", "mark")
    sent: list[str] = []
    if args.dump:
        import re

        real_sendmail = smtplib.SMTP.sendmail

        def recording(self, from_addr, to_addrs, msg, *a, **kw):
            sent.append(msg if isinstance(msg, str) else msg.decode("utf-8", "replace"))
            return real_sendmail(self, from_addr, to_addrs, msg, *a, **kw)

        smtplib.SMTP.sendmail = recording
    counts = stage("deliver", deliver)
    tot = sum(v[0] for v in out.values())
    print(f"{project.name}: {n} items, delivered {counts}")
    for k, (cpu, wall) in out.items():
        print(f"  {k:<8} CPU {cpu:6.3f} ms/item  wall {wall:6.3f}")
    print(f"  total    CPU {tot:6.3f} ms/item")
    for k, v in spent.items():
        print(f"    {k:<18} {v * 1000 / n:6.3f}")
    if prof:
        prof.dump_stats(args.prof)
    if args.dump:
        import hashlib

        blank = [
            (re.compile(r"^(Date|Message-ID): .*$", re.M), r"\1: -"),
            (re.compile(r"={15}\d+==(\.\d+)?"), "=BOUNDARY="),
            # item ids follow the order the parallel fetches stored the items in
            (re.compile(r"\b(item|feedback) \d+\b"), r"\1 N"),
        ]
        for k, text in enumerate(sent):
            for pattern, to in blank:
                text = pattern.sub(to, text)
            sent[k] = text
        sent.sort()  # feeds are fetched in parallel: items (and e-mails) come in any order
        Path(args.dump).write_text("\n\x00\n".join(sent))
        digest = hashlib.sha256("\x00".join(sent).encode()).hexdigest()[:16]
        print(f"  {len(sent)} e-mails sent, digest {digest} (what varies blanked)")
    p.terminate()
