"""Answers of the service APIs we cannot reach (Slack, Telegram), for tests that fake
them at the HTTP layer, as apprise's own tests do: the request is asserted exactly,
the answer is built here."""

from __future__ import annotations

import json

import requests
from requests.structures import CaseInsensitiveDict


def api_response(
    status: int = 200,
    body: bytes | dict[str, object] = b"ok",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """A ``requests.Response`` with this status, body (a dict is sent as JSON) and headers."""
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode() if isinstance(body, dict) else body
    answer.headers = CaseInsensitiveDict(headers or {})
    return answer
