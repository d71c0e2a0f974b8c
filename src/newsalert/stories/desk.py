"""The desk: stories for the pipeline. Assigns a scored batch to stories under the
stories lock (clusterer over the store's story index), keeps the deliveries the update
policy allows, and threads messages (e-mail headers, Telegram replies, Slack threads)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from newsalert.models import StoryUpdate
from newsalert.render import render, render_update
from newsalert.routing import alert_for
from newsalert.store.storystore import StoryStore
from newsalert.stories.clusterer import Clusterer
from newsalert.stories.policy import Notice, UpdatePolicy, route_story
from newsalert.stories.state import (
    UPDATE,
    Assignment,
    Changes,
    Incoming,
    Prepared,
    Settings,
    StoryState,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from newsalert.models import Alert, Delivery, Message, PlannedDelivery, Score, StoredItem
    from newsalert.store import Store


log = logging.getLogger("newsalert.stories")  # one logger for the package, as before the split


@dataclass(slots=True)
class StoryPlan:
    """An item batch's story decisions: filtered deliveries, and what to write with them."""

    deliveries: list[list[PlannedDelivery]]
    assignments: list[Assignment] = field(default_factory=list)
    changes: Changes = field(default_factory=Changes)
    notices: list[tuple[int, Notice]] = field(default_factory=list)  # (item that told, notice)
    desk: StoryDesk | None = None
    now: datetime | None = None

    def write(self, conn: Connection, saved: set[int]) -> None:
        """``Store.save_scores(also=...)``: story rows in the scores' transaction."""
        if self.desk is None or self.now is None:
            return
        told = [n for item_id, n in self.notices if item_id in saved]
        self.desk.index.write(conn, self.changes, told, saved, self.now)


@dataclass(frozen=True, slots=True)
class Chosen:
    """:meth:`StoryDesk.prepare`'s result: the batch's items to cluster (their indexes,
    in the order they are assigned) and their prepared features."""

    chosen: list[int]
    prepared: Prepared


def item_time(published: datetime | None, now: datetime, window: timedelta) -> datetime:
    """When a report counts as seen: its publication time, kept within (now - window, now]."""
    if published is None or published > now:
        return now
    return max(published, now - window)


class StoryDesk:
    """Stories for the pipeline: assign a scored batch, filter its deliveries, thread messages."""

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        policy: UpdatePolicy | None = None,
        *,
        enabled: bool = True,
        clusterer: Clusterer | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.policy = policy or UpdatePolicy()
        self.enabled = enabled
        self.index = StoryStore(store, self.settings.window)
        self._clusterer = clusterer

    @classmethod
    def from_config(cls, store: Store, config: Any) -> StoryDesk:
        """From the ``stories`` section of the config (``StoriesConfig``)."""
        settings = Settings(
            window=timedelta(hours=config.window_hours),
            similarity=config.similarity,
            duplicate_similarity=config.duplicate_similarity,
        )
        policy = UpdatePolicy(
            interval=timedelta(minutes=config.update_interval_minutes),
            score_margin=config.update_score_margin,
            new_terms=config.update_new_terms,
            milestones=tuple(sorted(config.update_source_milestones)),
        )
        return cls(store, settings, policy, enabled=config.enabled)

    @property
    def clusterer(self) -> Clusterer:
        if self._clusterer is None:
            self._clusterer = Clusterer(self.settings)
        return self._clusterer

    def prepare(
        self,
        stored: Sequence[StoredItem],
        scores: Sequence[Score],
        routed: Sequence[Sequence[PlannedDelivery]],
        now: datetime,
    ) -> Chosen | None:
        """The part of :meth:`plan` that reads no index: which items are clustered, in what
        order, and their features. A worker does it before taking the stories lock, so
        that other workers wait less. ``None`` when there is nothing to cluster, or it
        failed (``plan`` then tries again and falls back as it does)."""
        if not self.enabled:
            return None
        try:
            chosen, batch = self._choose(stored, scores, routed, now)
            return Chosen(chosen, self.clusterer.prepare(batch)) if batch else None
        except Exception:
            log.exception("story features failed; trying again under the lock")
            return None

    def plan(
        self,
        stored: Sequence[StoredItem],
        scores: Sequence[Score],
        routed: Sequence[Sequence[PlannedDelivery]],
        now: datetime,
        prepared: Chosen | None = None,
    ) -> StoryPlan:
        """Assign the batch to stories; keep the deliveries the story rules allow.
        ``prepared``: what :meth:`prepare` gave for the same arguments.

        If clustering fails, the error propagates and the batch is not saved: routed
        without stories, it would alert again for stories told already. A passing
        error (``errors.is_transient``) is retried by the task; any other is the
        pipeline's to isolate, as a scoring failure: the item it fails on stays
        unscored (counted, tried again each sweep), the rest of the batch goes on.
        """
        if not self.enabled:
            return StoryPlan([list(r) for r in routed])
        return self._plan(stored, scores, routed, now, prepared)

    def _choose(
        self,
        stored: Sequence[StoredItem],
        scores: Sequence[Score],
        routed: Sequence[Sequence[PlannedDelivery]],
        now: datetime,
    ) -> tuple[list[int], list[Incoming]]:
        window = self.settings.window
        # stories are of incidents: an item that is neither relevant nor routed to anyone
        # can neither alert nor update, and is left out (most of a feed's items; their
        # clustering would cost more than the rest of scoring)
        chosen = [
            i for i, (sc, r) in enumerate(zip(scores, routed, strict=True)) if sc.relevant or r
        ]
        # the earliest report starts the story, whichever feed answered first
        chosen.sort(key=lambda i: (item_time(stored[i].item.published, now, window), stored[i].id))
        batch = [
            Incoming(
                item_id=s.id,
                feed=s.feed,
                title=s.item.title,
                summary=s.item.summary,
                link=s.item.link,
                time=item_time(s.item.published, now, window),
                score=sc.score if sc.relevant else 0.0,
                category=sc.category if sc.relevant else "none",
            )
            for s, sc in ((stored[i], scores[i]) for i in chosen)
        ]
        return chosen, batch

    def _plan(
        self,
        stored: Sequence[StoredItem],
        scores: Sequence[Score],
        routed: Sequence[Sequence[PlannedDelivery]],
        now: datetime,
        prepared: Chosen | None,
    ) -> StoryPlan:
        if prepared is not None:
            chosen, work = prepared.chosen, prepared.prepared
        else:
            chosen, batch = self._choose(stored, scores, routed, now)
            if not batch:
                return StoryPlan([list(r) for r in routed])
            work = self.clusterer.prepare(batch)
        assignments, changes = self.clusterer.assign(work, self.index)
        known = self.index.notices(sorted({a.story_id for a in assignments}))
        current: dict[int, dict[str, Notice]] = {sid: dict(n) for sid, n in known.items()}
        deliveries = [list(r) for r in routed]
        written: dict[tuple[int, str], tuple[int, Notice]] = {}
        for a, i in zip(assignments, chosen, strict=True):
            notices = current.setdefault(a.story_id, {})
            keep, told = route_story(a, scores[i].score, routed[i], notices, now, self.policy)
            notices.update(told)
            for sub, n in told.items():
                written[(a.story_id, sub)] = (a.item_id, n)
            deliveries[i] = keep
        return StoryPlan(deliveries, assignments, changes, list(written.values()), self, now)

    # --- rendering -----------------------------------------------------------------------------

    def digest_alert(self, delivery: Delivery, alert: Alert) -> Alert:
        """A held delivery's line in a digest: marked as an update, with what it adds,
        when it is one (else the alert as it is)."""
        if not self.enabled or delivery.item_id is None:
            return alert
        link = self.index.delivery_story(delivery.id)
        if link is None or link[1] != UPDATE:
            return alert
        return replace(alert, update=link[2])

    def decorate(
        self,
        delivery: Delivery,
        stored: StoredItem,
        family: str,
        message: Message,
        alert: Alert | None = None,
    ) -> Message:
        """The message for a story delivery: an update message, and e-mail thread headers
        or, elsewhere, ``reply_to`` the first alert's remote id (when the service gave one).

        ``alert`` is the report as the first alert would show it (with its place); without
        it the update is built from the stored item alone."""
        if not self.enabled or delivery.item_id is None:
            return message
        link = self.index.delivery_story(delivery.id)
        if link is None:
            return message
        story_id, kind, changes = link
        story = self.index.stories([story_id]).get(story_id)
        if story is None:
            return message
        root = thread_id(story, delivery.target_id)
        if kind != UPDATE:
            if family == "email":
                return replace(message, headers={"References": root})
            return message
        subject = None
        if family == "email":
            notice = self.index.notices([story_id]).get(story_id, {}).get(delivery.subscriber)
            if notice is not None:
                try:
                    first = self.index.store.get_item(notice.first_item_id)
                    subject = render(alert_for(first, delivery.subscriber), "email").title
                except Exception:  # the first item is gone: a subject of our own
                    subject = None
        update = StoryUpdate(
            alert=alert if alert is not None else alert_for(stored, delivery.subscriber),
            story_id=story_id,
            story_title=story.title,
            sources=tuple(story.sources),
            item_count=story.item_count,
            changes=changes,
            reply_subject=subject,
        )
        out = render_update(update, family)
        # the message that told this target of the story: the first alert, or the digest
        # that listed it (its Telegram message_id, Slack ts or e-mail Message-ID; per chat
        # for several)
        first_id = self.index.first_alert_remote_id(
            story_id, delivery.subscriber, delivery.target_id
        )
        if family == "email":
            # answer the e-mail the subscriber has; the story's own id keeps the thread
            # for clients that thread by References, and when that e-mail's id is unknown
            answered = first_id or root
            references = f"{root} {first_id}" if first_id else root
            out = replace(out, headers={"In-Reply-To": answered, "References": references})
        elif first_id is not None:  # a Telegram reply, a Slack bot token's thread reply
            out = replace(out, reply_to=first_id)
        return out


def thread_id(story: StoryState, target_id: str) -> str:
    """The e-mail thread of a story for one target: a Message-ID that no message has.

    apprise sets each message's own Message-ID; every alert and update of the story names
    this one in ``References`` (updates also in ``In-Reply-To``), so mail clients thread
    them together. The story's first-seen time keeps ids of two installations apart.
    """
    return f"<story-{story.id}.{int(story.first_seen.timestamp())}.{target_id}@newsalert>"
