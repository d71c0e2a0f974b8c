"""Route scored items to subscribers: who gets what, on which targets, told as what alert."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from newsalert.config import SubscriberConfig
from newsalert.geo.filters import CountryAt, GeoFilter
from newsalert.geo.model import Location
from newsalert.holds import release_time
from newsalert.models import Alert, Item, PlannedDelivery, Score, StoredItem
from newsalert.rules import keyword_matcher


@dataclass(frozen=True, slots=True)
class Target:
    """One apprise URL of one subscriber. ``url`` holds secrets: never log it."""

    subscriber: str
    target_id: str
    label: str  # the URL with secrets masked
    url: str


@dataclass(frozen=True, slots=True)
class Route:
    subscriber: SubscriberConfig
    targets: tuple[Target, ...]
    keywords: re.Pattern[str] | None
    places: GeoFilter | None = None

    def wants(self, item: Item, score: Score, where: Location | None = None) -> bool:
        sub = self.subscriber
        if not score.relevant or score.score < sub.min_score:
            return False
        if sub.categories and score.category not in sub.categories:
            return False
        if sub.feeds and item.feed not in sub.feeds:
            return False
        if (
            self.places is not None
            and not self.places.check(where, score.score, score.category).passes
        ):
            return False
        return not (self.keywords and not self.keywords.search(f"{item.title}\n{item.summary}"))


class Router:
    def __init__(
        self,
        subscribers: tuple[SubscriberConfig, ...],
        targets: dict[str, tuple[Target, ...]],
        country_at: CountryAt | None = None,
    ) -> None:
        self.routes = tuple(
            Route(
                sub,
                targets.get(sub.name, ()),
                keyword_matcher(sub.keywords),
                GeoFilter(sub, country_at) if (sub.countries or sub.near) else None,
            )
            for sub in subscribers
        )

    @property
    def needs_places(self) -> bool:
        """Whether any subscriber filters by place (else locating can wait)."""
        return any(r.places is not None for r in self.routes)

    def route(
        self, item: Item, score: Score, now: datetime, where: Location | None = None
    ) -> list[PlannedDelivery]:
        """Deliveries for every subscriber who wants the item; held ones carry their time."""
        planned = []
        for route in self.routes:
            if route.wants(item, score, where):
                hold = release_time(route.subscriber, score.score, now)
                planned.extend(
                    PlannedDelivery(t.subscriber, t.target_id, t.label, hold) for t in route.targets
                )
        return planned

    def subscriber(self, name: str) -> SubscriberConfig | None:
        for route in self.routes:
            if route.subscriber.name == name:
                return route.subscriber
        return None

    def target(self, subscriber: str, target_id: str) -> Target | None:
        for route in self.routes:
            if route.subscriber.name == subscriber:
                for t in route.targets:
                    if t.target_id == target_id:
                        return t
        return None


def alert_for(stored: StoredItem, subscriber: str = "") -> Alert:
    """What ``subscriber`` is told of a stored item (for the pipeline and for stories)."""
    score = stored.score
    return Alert(
        item_id=stored.id,
        title=stored.item.title,
        source=stored.feed,
        published=stored.item.published,
        score=score.score if score else 0.0,
        category=score.category if score else "none",
        reasons=score.reasons if score else (),
        link=stored.item.link,
        summary=stored.item.summary,
        subscriber=subscriber,
    )
