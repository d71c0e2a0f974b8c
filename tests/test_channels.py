"""The channel registry: every family's entry drives URL recognition, the renderer's
limits, the rate-limit settings and reply support."""

from __future__ import annotations

import pytest

from newsalert.channels import (
    BODY_LIMITS,
    CHANNELS,
    FALLBACK,
    FAMILIES,
    REPLY_POSTS,
    channel_family,
    rate_limit_defaults,
)
from newsalert.config import DeliveryConfig, RateLimitsConfig
from newsalert.models import Alert
from newsalert.render import render


@pytest.mark.parametrize("family", FAMILIES)
def test_each_entry_recognises_its_urls(family: str) -> None:
    channel = CHANNELS[family]
    for scheme in channel.schemes:
        assert channel_family(f"{scheme.upper()}://user@example.org/x") == family
    for host in channel.hosts:
        assert channel_family(f"https://{host}/services/A/B/C") == family
    assert channel_family("https://example.org/hook") == FALLBACK
    assert channel_family("not a url") == FALLBACK


def test_the_rate_limit_settings_are_the_registrys() -> None:
    defaults = rate_limit_defaults()
    assert list(RateLimitsConfig.model_fields) == list(defaults)
    limits = DeliveryConfig().rate_limits
    assert {k: getattr(limits, k) for k in defaults} == {
        k: r.per_second for k, r in defaults.items()
    }
    assert defaults["telegram_bot"].per_second == 30.0
    with pytest.raises(ValueError, match="greater than 0"):
        RateLimitsConfig(slack=0)


def test_replies_are_where_the_registry_says() -> None:
    assert REPLY_POSTS == {"slack": "/chat.postMessage", "telegram": "/sendMessage"}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_has_a_renderer_within_its_body_limit(family: str) -> None:
    alert = Alert(
        item_id=1,
        title="Gunmen attack police patrol",
        source="wire",
        published=None,
        score=0.9,
        category="armed_conflict",
        reasons=(),
        link="https://example.org/a",
        summary="word " * 5000,
    )
    message = render(alert, family)
    assert message.body and len(message.body) <= BODY_LIMITS[family]
