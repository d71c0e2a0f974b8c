"""The store: feeds, items, scores and deliveries, on SQLAlchemy Core.

SQLite by default (a file under the data directory), PostgreSQL by URL. Items are
unique per (feed, key), so re-polling never stores or alerts an item twice;
deliveries are unique per (subscriber, target, item) and are written in the same
transaction as the item's score (the outbox): an item is never relevant without
its deliveries, and a crash never loses one.

The package: ``schema`` (tables, delivery states, the engine, column upgrades),
``feedstore`` (feeds and their health), ``itemstore`` (items and scores, the outbox),
``deliverystore`` (the leasing state machine), each a part of :class:`Store`; and
``storystore`` (the story index's raw SQL; imported by ``newsalert.stories`` only, as it
imports the story data). The plain data the store hands out (``FeedState``,
``StoredItem``, ``Delivery``, ...) lives in ``newsalert.models``, re-exported here so
old imports keep working.

Public API: :class:`Store`, :func:`utcnow`, :func:`aware_utc`, :func:`masked_database_url`,
the delivery states (``PENDING`` ... ``DEAD``, ``DELIVERY_STATES``), :class:`PollRecord`,
and the tables (``metadata``, ``feeds``, ``items``, ``deliveries``, ...) for the modules
that query them directly (stats, metrics, feedback, backtest, the story index).
"""

from __future__ import annotations

from newsalert.models import (
    Delivery,
    FeedNotice,
    FeedState,
    PlannedDelivery,
    StoredItem,
)
from newsalert.store.deliverystore import DeliveryStore
from newsalert.store.deliverystore import _delivery as _delivery  # row mappers: old imports
from newsalert.store.feedstore import FeedStore, PollRecord
from newsalert.store.feedstore import _feed_state as _feed_state
from newsalert.store.itemstore import ItemStore
from newsalert.store.itemstore import _stored_item as _stored_item
from newsalert.store.schema import (
    DEAD,
    DELIVERY_STATES,
    FAILED,
    HELD,
    PENDING,
    RETRYABLE,
    SENDING,
    SENT,
    UTCDateTime,
    aware_utc,
    deliveries,
    delivery_stories,
    feed_notices,
    feeds,
    items,
    masked_database_url,
    metadata,
    sent_messages,
    stories,
    story_items,
    story_keys,
    story_notices,
    utcnow,
)


class Store(FeedStore, ItemStore, DeliveryStore):
    """All reads and writes of newsalert's state. Build one per process."""


__all__ = [
    "DEAD",
    "DELIVERY_STATES",
    "FAILED",
    "HELD",
    "PENDING",
    "RETRYABLE",
    "SENDING",
    "SENT",
    "Delivery",
    "FeedNotice",
    "FeedState",
    "PlannedDelivery",
    "PollRecord",
    "Store",
    "StoredItem",
    "UTCDateTime",
    "aware_utc",
    "deliveries",
    "delivery_stories",
    "feed_notices",
    "feeds",
    "items",
    "masked_database_url",
    "metadata",
    "sent_messages",
    "stories",
    "story_items",
    "story_keys",
    "story_notices",
    "utcnow",
]
