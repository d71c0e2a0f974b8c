"""Signed one-click feedback links for alerts: subscriber, item, answer and expiry under
an HMAC (:mod:`newsalert.signing`), pointing at the console's ``/feedback/TOKEN`` page.

Opening a link only shows a confirmation page; the answer is recorded by that page's
POST (``newsalert.web``), so a mail scanner that fetches every link records nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from newsalert.answers import ACTIONS, OFFERED
from newsalert.errors import BadToken
from newsalert.models import Alert
from newsalert.signing import Signer

if TYPE_CHECKING:
    from newsalert.config import LoadedConfig

PURPOSE = "feedback"
PATH = "/feedback/"
_CODES = {"relevant": "r", "not_relevant": "n", "duplicate": "d", "wrong_place": "w", "mute": "m"}
_ACTIONS = {code: action for action, code in _CODES.items()}


@dataclass(frozen=True, slots=True)
class Claim:
    """What a valid link says: this subscriber gives this answer about this item."""

    subscriber: str
    item_id: int
    action: str

    @property
    def words(self) -> str:
        return ACTIONS[self.action]


class LinkSigner:
    def __init__(self, secret: str, base_url: str, *, days: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.seconds = days * 86_400
        self._signer = Signer(secret, PURPOSE)

    @classmethod
    def from_config(cls, loaded: LoadedConfig) -> LinkSigner | None:
        """None when the config has no ``web.base_url`` (alerts then carry no links)."""
        web = loaded.config.web
        if web is None or not web.base_url:
            return None
        return cls(web.secret, web.base_url, days=web.link_days)

    def token(self, subscriber: str, item_id: int, action: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        return self._signer.sign(f"{_CODES[action]}|{item_id}|{subscriber}", now + self.seconds)

    def url(self, subscriber: str, item_id: int, action: str, now: float | None = None) -> str:
        return f"{self.base_url}{PATH}{self.token(subscriber, item_id, action, now)}"

    def actions(
        self, subscriber: str, item_id: int, now: float | None = None, *, located: bool = False
    ) -> tuple[tuple[str, str], ...]:
        """(words, url) for every answer offered in alerts ("Wrong place" only when the
        alert says where the event happened: there is no place to call wrong otherwise)."""
        offered = (*OFFERED[:-1], "wrong_place", OFFERED[-1]) if located else OFFERED
        return tuple((ACTIONS[a], self.url(subscriber, item_id, a, now)) for a in offered)

    def with_actions(self, alert: Alert, now: float | None = None) -> Alert:
        """``alert`` carrying its subscriber's feedback links (unchanged without both)."""
        if not alert.subscriber or alert.item_id <= 0:
            return alert
        actions = self.actions(alert.subscriber, alert.item_id, now, located=bool(alert.where))
        return replace(alert, actions=actions)

    def verify(self, token: str, now: float | None = None) -> Claim:
        """The claim of a valid token; BadToken ("tampered" or "expired") otherwise."""
        payload = self._signer.unsign(token, now)
        code, _, rest = payload.partition("|")
        item, _, subscriber = rest.partition("|")
        if code not in _ACTIONS or not item.isdigit() or not subscriber:
            raise BadToken("tampered")
        return Claim(subscriber, int(item), _ACTIONS[code])


__all__ = ["PATH", "Claim", "LinkSigner"]
