"""Configuration: YAML files validated by pydantic, with errors that say how to fix them.

Every model refuses unknown keys (a typo must not silently disable a rule). A
failed load raises ``ConfigError`` carrying every problem found, each naming the
file, the dotted key and a hint.

Secrets come from the environment: ``${VAR}`` anywhere in a string is replaced
by the variable's value. A variable set to the empty string counts as unset (as
``cp .env.example .env`` leaves them), and ``${VAR:-default}`` takes the default
for both, as in the shell. A subscriber URL whose variable is unset disables that
one target with a warning instead of stopping the service (``check --strict``
turns warnings into errors).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from newsalert.channels import check_template, check_url, rate_limit_defaults, url_label
from newsalert.errors import ConfigError, ConfigProblem, first_line

DEFAULT_CONFIG = "config/newsalert.yaml"
ENV_CONFIG = "NEWSALERT_CONFIG"
ENV_DATABASE_URL = "NEWSALERT_DATABASE_URL"
ENV_BROKER_URL = "NEWSALERT_BROKER_URL"
ENV_DATA_DIR = "NEWSALERT_DATA_DIR"
# merged into the database URL by SQLAlchemy: a password needs no URL encoding
ENV_DATABASE_PASSWORD = "NEWSALERT_DATABASE_PASSWORD"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    # no .inf or .nan: durations and counts become timedelta and int at run time
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --- feeds -------------------------------------------------------------------


MIN_INTERVAL = 30  # seconds; lower it with fetch.min_interval (tests, own feeds)


def _country_code(value: str) -> str:
    """ISO 3166-1 alpha-2 (``XK`` for Kosovo, as GeoNames has it), upper case."""
    import pycountry

    code = value.strip().upper()
    if code != "XK" and (len(code) != 2 or pycountry.countries.get(alpha_2=code) is None):
        raise ValueError(
            f"{value!r} is not an ISO 3166-1 alpha-2 country code; "
            "write two letters, e.g. RS for Serbia, XK for Kosovo, US, GB"
        )
    return code


class FeedConfig(_Strict):
    name: Annotated[str, Field(pattern=_NAME)]
    url: str
    interval: Annotated[int, Field(ge=1, le=86_400)] = 300
    allow_private: bool = False
    enabled: bool = True
    tags: tuple[str, ...] = ()
    country: str | None = None  # the feed's home country: a tie-breaker for place names
    language: str | None = None  # the items' language, when the operator knows it better

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return None if value is None else _country_code(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and not _LANGUAGE.match(value):
            raise ValueError(
                f"language {value!r} is not a language code; use codes like en, sr or sr-Latn"
            )
        return value

    @field_validator("interval")
    @classmethod
    def _not_too_often(cls, value: int, info: ValidationInfo) -> int:
        floor = (info.context or {}).get("min_interval", MIN_INTERVAL)
        if value < floor:
            raise ValueError(
                f"polls every {value}s, more often than fetch.min_interval ({floor}s); "
                "raise the interval, or lower fetch.min_interval for feeds you run yourself"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from newsalert.fetch import check_url

        problem = check_url(value)
        if problem:
            raise ValueError(problem)
        return value


# --- rules -------------------------------------------------------------------

Field_ = Literal["title", "summary", "content"]
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _regexes_compile(value: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None
    return value


def _combined_compiles(regex: tuple[str, ...]) -> None:
    """A rule's terms and regexes are matched as one pattern (rules.compile_rule): each
    regex compiling alone is not enough ("(?i)" in the middle, a group name twice)."""
    try:
        re.compile("|".join(["x", *(f"(?:{r})" for r in regex)]))
    except re.error as exc:
        raise ValueError(
            f"the regexes {list(regex)} do not compile together ({exc}); a rule's terms and "
            "regexes are matched as one pattern: write flags as (?i:...) around the part "
            "they apply to (or use case_sensitive), and give each named group its own name"
        ) from None


class RequireClause(_Strict):
    """A second clause a rule needs as well: the rule fires only when this matches too."""

    terms: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    fields: tuple[Field_, ...] = ("title", "summary")

    @field_validator("terms", "regex", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_tuple(value)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _regexes_compile(value)

    @model_validator(mode="after")
    def _something_to_match(self) -> RequireClause:
        if not any(t.strip() for t in self.terms) and not self.regex:
            raise ValueError("`require` needs `terms` or `regex`")
        _combined_compiles(self.regex)
        return self


class RuleConfig(_Strict):
    """One rule: terms (whole words/phrases, case-insensitive) and/or regexes."""

    name: str | None = None
    terms: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    fields: tuple[Field_, ...] = ("title", "summary")
    feeds: tuple[str, ...] = ()  # restrict to these feed names (empty: all feeds)
    weight: float | None = None  # boost: added to the score; include: score floor
    category: str | None = None  # category to report when this rule fires
    case_sensitive: bool = False
    tags: tuple[str, ...] = ()  # only items from feeds with one of these tags (empty: all)
    languages: tuple[str, ...] = ()  # only items in these languages, "en" matches "en-GB"
    require: RequireClause | None = None  # must match as well for the rule to fire

    @field_validator("regex", "tags", "languages", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not _LANGUAGE.match(code):
                raise ValueError(
                    f"language {code!r} is not a language code; use codes like en, sr or en-GB"
                )
        return value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _regexes_compile(value)

    @model_validator(mode="after")
    def _something_to_match(self) -> RuleConfig:
        if not any(t.strip() for t in self.terms) and not self.regex:  # "" would match all
            raise ValueError("a rule needs `terms` (not blank) or `regex`")
        _combined_compiles(self.regex)
        return self


class BoostRuleConfig(RuleConfig):
    weight: float  # required: what the rule adds to the score (negative lowers it)


class RulesConfig(_Strict):
    include: tuple[RuleConfig, ...] = ()
    exclude: tuple[RuleConfig, ...] = ()
    boost: tuple[BoostRuleConfig, ...] = ()


# --- model, storage, broker, fetch, delivery ---------------------------------


class ModelConfig(_Strict):
    path: str | None = None  # None: the managed model under data_dir/model
    threshold: Annotated[float, Field(gt=0, lt=1)] | None = None  # None: the model's own
    # a scheduled candidate with the feedback, promoted only if it passes (promote.py)
    retrain: Literal["weekly"] | None = None
    # the heavier variant: dense text embeddings beside the TF-IDF features (newsalert[embed])
    embedding: Literal["wordllama"] | None = None

    @field_validator("embedding")
    @classmethod
    def _embedding_installed(cls, value: str | None) -> str | None:
        from newsalert import embedding

        if value is not None and not embedding.available(value):
            raise ValueError(embedding.missing_message(value))
        return value


class StorageConfig(_Strict):
    database_url: str | None = None  # None: SQLite file under data_dir
    data_dir: str = "var"


class BrokerConfig(_Strict):
    url: str | None = None  # None: embedded broker under data_dir (no server needed)


class MetricsConfig(_Strict):
    """Prometheus endpoint on the worker; the section's presence turns it on."""

    host: str = "127.0.0.1"  # listen address; 0.0.0.0 exposes it to the network
    port: Annotated[int, Field(ge=0, le=65_535)] = 9464  # 0: any free port


class FetchConfig(_Strict):
    connect_timeout: Annotated[float, Field(gt=0, le=3600)] = 10.0
    read_timeout: Annotated[float, Field(gt=0, le=3600)] = 20.0
    deadline: Annotated[float, Field(gt=0, le=3600)] = 60.0
    max_bytes: Annotated[int, Field(gt=0)] = 10 * 1024 * 1024
    max_decompressed: Annotated[int, Field(gt=0)] = 50 * 1024 * 1024
    max_redirects: Annotated[int, Field(ge=0, le=20)] = 5
    allow_private: bool = False  # allow private addresses for every feed
    max_items_per_feed: Annotated[int, Field(gt=0)] = 500
    # the smallest feeds[].interval allowed; also sets the scheduler's resolution
    min_interval: Annotated[int, Field(ge=1, le=86_400)] = MIN_INTERVAL
    # seconds a feed may fail before it is marked unhealthy and operators are told
    unhealthy_after: Annotated[float, Field(ge=0, le=30 * 86_400)] = 3600.0
    # feeds polled by one task, fetched at once (a thread each): a slow server holds
    # up no other feed, and the cost of a task is shared by the batch
    batch: Annotated[int, Field(ge=1, le=256)] = 16


class DeliveryConfig(_Strict):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_base: Annotated[float, Field(gt=0, le=86_400)] = 30.0  # seconds; doubles per attempt
    backoff_max: Annotated[float, Field(gt=0, le=7 * 86_400)] = 3600.0
    timeout: Annotated[float, Field(gt=0, le=3600)] = 15.0
    lease: Annotated[float, Field(gt=0, le=86_400)] = (
        120.0  # a send not marked within this is ambiguous
    )
    # messages per second, shared by every worker process (token buckets)
    rate_limits: RateLimitsConfig = Field(default_factory=lambda: RateLimitsConfig())
    # wait this long in-process for a token; longer waits go back to the queue
    max_inline_wait: Annotated[float, Field(ge=0, le=60)] = 2.0


# one setting per rate limit of the channel registry (channels.py): email, slack,
# telegram, telegram_bot, text, with the registry's defaults
RateLimitsConfig = create_model(
    "RateLimitsConfig",
    __base__=_Strict,
    __doc__="Messages per second per token bucket (a target, a webhook, a chat, a bot).",
    **{
        key: (Annotated[float, Field(gt=0)], limit.per_second)
        for key, limit in rate_limit_defaults().items()
    },
)


class StoriesConfig(_Strict):
    """Story clustering and per-story alerting (stories.py; defaults from bench/stories.py)."""

    enabled: bool = True
    window_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 72.0
    similarity: Annotated[float, Field(gt=0, le=1)] = 0.4  # cosine to join a story
    duplicate_similarity: Annotated[float, Field(gt=0, le=1)] = 0.4  # Jaccard: near-duplicate
    update_interval_minutes: Annotated[float, Field(ge=0, le=7 * 24 * 60)] = 60.0
    update_score_margin: Annotated[float, Field(gt=0, le=1)] = 0.1
    update_new_terms: Annotated[int, Field(ge=0)] = 2  # 0: new words never make an update
    update_source_milestones: tuple[Annotated[int, Field(ge=2)], ...] = (3, 5, 10, 20, 50)


class TemplatesConfig(_Strict):
    """Operator overrides of the alert layout. Placeholders: {title} {severity} {score}
    {category} {source} {time} {why} {link} {summary} {ref}, escaped per channel."""

    subject: str | None = None  # e-mail subject; Slack and plain-text title
    email: str | None = None  # HTML
    slack: str | None = None  # Markdown (apprise converts it to Slack mrkdwn)
    telegram: str | None = None  # Telegram HTML
    text: str | None = None  # any other apprise URL

    @field_validator("subject", "email", "slack", "telegram", "text")
    @classmethod
    def _valid(cls, value: str | None) -> str | None:
        if value is not None and (problem := check_template(value)):
            raise ValueError(problem)
        return value


class WebConfig(_Strict):
    """The web console and the feedback links in alerts (newsalert/web); presence turns it on."""

    host: str = "127.0.0.1"  # listen address; 0.0.0.0 exposes it to the network
    port: Annotated[int, Field(ge=0, le=65_535)] = 8080  # 0: any free port
    # the console's address as subscribers reach it: links in alerts point here (none: no links)
    base_url: str | None = None
    # signs feedback links and sessions: at least 32 characters, from the environment
    secret: Annotated[str, Field(min_length=32)]
    users: dict[str, str] = Field(default_factory=dict)  # name -> `newsalert web hash-password`
    link_days: Annotated[float, Field(gt=0, le=366)] = 30.0  # feedback links expire after this
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(
                f"base_url {value!r} is not an http(s) address; write the console's address "
                "as subscribers reach it, e.g. https://alerts.example.org"
            )
        return value.strip().rstrip("/")

    @field_validator("secret")
    @classmethod
    def _secret_set(cls, value: str) -> str:
        if "${" in value:  # an unset variable is reported on its own; never a weak default
            raise ValueError("the secret's environment variable is not set")
        return value

    @field_validator("users")
    @classmethod
    def _users(cls, value: dict[str, str]) -> dict[str, str]:
        from newsalert.passwords import check_hash

        for name, hashed in value.items():
            if not re.match(_NAME, name):
                raise ValueError(f"user name {name!r}: use letters, digits, '.', '_' or '-'")
            problem = check_hash(hashed)
            if problem:
                raise ValueError(f"user {name!r}: {problem}")
        return value


# --- subscribers -------------------------------------------------------------

_QUIET = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})(?:\s+(\S+))?$")


class ZoneConfig(_Strict):
    """A watch zone: alerts for events within ``radius_km`` of a point."""

    name: Annotated[str, Field(pattern=_NAME)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    radius_km: Annotated[float, Field(gt=0, le=20_000)]
    categories: tuple[str, ...] = ()
    min_score: Annotated[float, Field(ge=0, le=1)] | None = None

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value)


def _known(value: tuple[str, ...]) -> tuple[str, ...]:
    from newsalert.models import CATEGORIES

    unknown = [c for c in value if c not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown categories {unknown}; choose from {list(CATEGORIES)}")
    return value


class SubscriberConfig(_Strict):
    name: Annotated[str, Field(pattern=_NAME)]
    urls: Annotated[tuple[str, ...], Field(min_length=1)]
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.0
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    quiet_hours: str | None = None
    digest: Literal["hourly", "daily"] | None = None
    digest_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "08:00"
    timezone: str = "UTC"  # for digest_time, and quiet_hours without a zone of their own
    break_through: Annotated[float, Field(ge=0, le=1)] | None = None
    rate_limit: Annotated[float, Field(gt=0)] | None = None  # messages/s per target
    countries: tuple[str, ...] = ()  # ISO alpha-2: events in these countries
    near: tuple[ZoneConfig, ...] = ()  # or within one of these zones
    unlocated: bool = True  # with countries/near: items the text gives no place for pass

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_country_code(c) for c in value)

    @model_validator(mode="after")
    def _zone_names_unique(self) -> SubscriberConfig:
        names = [z.name for z in self.near]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"zone names must be unique; repeated: {dupes}")
        return self

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like Europe/Belgrade"
            ) from None
        return value

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _QUIET.match(value.strip())
        if (
            not match
            or int(match[1]) > 23
            or int(match[3]) > 23
            or max(int(match[2]), int(match[4])) > 59
        ):
            raise ValueError('expected "HH:MM-HH:MM Area/City", e.g. "22:00-07:00 Europe/Belgrade"')
        if match[5]:
            try:
                ZoneInfo(match[5])
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {match[5]!r}") from None
        return value


class GeoConfig(_Strict):
    """Locating items (``newsalert.geo``)."""

    # the learned country re-ranker over the hand rules (geo/rerank.py); false: the rules
    # alone. The default is ``newsalert.geo.geoparser.RERANK`` (a test keeps them equal)
    rerank: bool = True


class Config(_Strict):
    feeds: tuple[FeedConfig, ...] = ()
    rules: RulesConfig | str = RulesConfig()
    model: ModelConfig = ModelConfig()
    subscribers: tuple[SubscriberConfig, ...] = ()
    storage: StorageConfig = StorageConfig()
    broker: BrokerConfig = BrokerConfig()
    fetch: FetchConfig = FetchConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    stories: StoriesConfig = StoriesConfig()
    geo: GeoConfig = GeoConfig()
    metrics: MetricsConfig | None = None  # None: no metrics endpoint
    operators: tuple[str, ...] = ()  # subscribers told about feed health (see health.py)
    templates: TemplatesConfig = TemplatesConfig()
    web: WebConfig | None = None  # None: no console, no feedback links in alerts

    @model_validator(mode="after")
    def _names_unique_and_known(self) -> Config:
        feed_names = [f.name for f in self.feeds]
        dupes = sorted({n for n in feed_names if feed_names.count(n) > 1})
        if dupes:
            raise ValueError(f"feed names must be unique; repeated: {dupes}")
        sub_names = [s.name for s in self.subscribers]
        dupes = sorted({n for n in sub_names if sub_names.count(n) > 1})
        if dupes:
            raise ValueError(f"subscriber names must be unique; repeated: {dupes}")
        return self


# --- loaded configuration ----------------------------------------------------


class LoadedConfig:
    """A validated config plus what was resolved around it (paths, env, rules)."""

    def __init__(
        self,
        config: Config,
        path: Path,
        rules: RulesConfig,
        rules_path: Path,
        environ: Mapping[str, str],
        warnings: list[ConfigProblem],
        targets: dict[str, tuple[str, ...]],
        disabled: Mapping[str, tuple[str, ...]] | None = None,
        written_targets: int | None = None,
    ) -> None:
        self.config = config
        self.path = path
        self.rules = rules
        self.rules_path = rules_path
        self.warnings = warnings
        # subscriber name -> resolved apprise URLs (secrets substituted; never log these)
        self.targets = targets
        # subscriber name -> the unset (or empty) variables that disabled its targets
        self.disabled = dict(disabled or {})
        self.written_targets = (
            sum(len(t) for t in targets.values()) if written_targets is None else written_targets
        )
        # which of those variables are set but empty (the others are unset)
        self.empty_variables = frozenset(
            name for names in self.disabled.values() for name in names if name in environ
        )
        base = path.parent
        data_dir = environ.get(ENV_DATA_DIR) or config.storage.data_dir
        self.data_dir = _resolve(base.parent if base.name == "config" else base, data_dir)
        self.database_url = _with_password(
            environ.get(ENV_DATABASE_URL)
            or config.storage.database_url
            or (f"sqlite:///{self.data_dir / 'newsalert.db'}"),
            environ.get(ENV_DATABASE_PASSWORD),
        )
        self.broker_url = environ.get(ENV_BROKER_URL) or config.broker.url
        self.model_path = _resolve(base, config.model.path) if config.model.path else None
        self.model_embedding = config.model.embedding  # the recipe variant to train
        self._feeds = {f.name: f for f in config.feeds}  # names are unique (validated)

    @property
    def feeds(self) -> tuple[FeedConfig, ...]:
        return self.config.feeds

    @property
    def subscribers(self) -> tuple[SubscriberConfig, ...]:
        return self.config.subscribers

    def feed(self, name: str) -> FeedConfig:
        return self._feeds[name]

    def describe_variables(self, names: Iterable[str]) -> str:
        """``unset A, B; empty C`` for the variables that disabled subscriber targets."""
        names = sorted(set(names))
        unset = [n for n in names if n not in self.empty_variables]
        empty = [n for n in names if n in self.empty_variables]
        parts = [
            f"{word} {', '.join(group)}"
            for word, group in (("unset", unset), ("empty", empty))
            if group
        ]
        return "; ".join(parts)

    def subscriber(self, name: str) -> SubscriberConfig:
        for sub in self.config.subscribers:
            if sub.name == name:
                return sub
        raise KeyError(name)


def _with_password(url: str, password: str | None) -> str:
    """``url`` with ``password`` set by SQLAlchemy, which encodes what a URL cannot carry
    as written (``@ / : %``). Left alone when unset or when the URL has no host (SQLite)."""
    if not password:
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # the store reports an unusable URL when it opens it
    if not parsed.host:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)


def _resolve(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base / path).resolve()


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)


# libyaml's scanner and parser when PyYAML was built with it (the constructor, where the
# duplicate-key check below lives, is Python either way): reading a config of 100 feeds
# took a tenth of a second of every start-up with the pure-Python parser
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """``yaml.safe_load``, but a key given twice in one mapping is an error (PyYAML
    keeps the last silently: a second ``subscribers:`` would drop the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # unhashable: construct_mapping below says so
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice; keep one (the second would replace the first)",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path, problems: list[ConfigProblem], what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(
            ConfigProblem(
                str(path),
                "(file)",
                f"{what} file not found",
                f"create it, pass --config PATH, or set {ENV_CONFIG}",
            )
        )
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(str(path), "(file)", f"cannot read: {exc}"))
        return None
    try:
        data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except RecursionError:
        problems.append(ConfigProblem(str(path), "(file)", "nested too deeply to read"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problems.append(
            ConfigProblem(
                str(path),
                where,
                f"not valid YAML: {getattr(exc, 'problem', exc)}",
                "check indentation and quoting (quote strings containing ':' or '#')",
            )
        )
        return None
    if data is None:  # nothing but comments: most likely a file caught half-written
        empty = "{}" if what == "rules" else "the feeds and subscribers"
        problems.append(
            ConfigProblem(
                str(path),
                "(file)",
                "the file is empty",
                f"write {empty} (an empty file is refused, so that a file truncated while "
                "being saved is never taken for the new config)",
            )
        )
        return None
    return data


def _substitute(
    value: Any, environ: Mapping[str, str], missing: set[str], done: dict[int, Any] | None = None
) -> Any:
    """``${VAR}`` replaced in every string. A node YAML shares through an alias is done
    once and stays shared: copying it per use would let a few hundred bytes of nested
    aliases grow into gigabytes."""
    done = {} if done is None else done
    if isinstance(value, (list, dict)):
        if id(value) in done:
            return done[id(value)]
        if isinstance(value, list):
            out: Any = done.setdefault(id(value), [])
            out.extend(_substitute(v, environ, missing, done) for v in value)
        else:
            out = done.setdefault(id(value), {})
            out.update((k, _substitute(v, environ, missing, done)) for k, v in value.items())
        return out
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match[1], match[2]
            if environ.get(name):  # empty counts as unset, as in the shell's ${VAR:-x}
                return environ[name]
            if default is not None:
                return default
            missing.add(name)
            return match[0]

        return _VAR.sub(repl, value)
    return value


_HINTS: dict[str, str] = {
    "extra_forbidden": "remove the key or fix its spelling; see the README's configuration reference",
    "missing": "add this key; see the README's configuration reference",
    "float_parsing": "give a number, e.g. 0.1",
    "string_pattern_mismatch": "use letters, digits, '.', '_' or '-' (max 64), starting with a letter or digit",
    "greater_than_equal": "raise the value",
    "less_than_equal": "lower the value",
    "literal_error": "use one of the allowed values",
    "too_short": "give at least one entry",
    "tuple_type": "write a list, e.g. [Kosovo, Serbia] (one entry still needs the brackets)",
    "list_type": "write a list, e.g. [a, b]",
    "string_type": 'quote the value, e.g. "22:30" (YAML reads 22:30 and 08:00 as numbers)',
    "dict_type": "write a mapping of keys (key: value) under it",
    "model_type": "write a mapping of keys (key: value) under it",
    "bool_type": "use true or false",
    "bool_parsing": "use true or false",
    "int_type": "give a whole number, e.g. 10",
    "int_parsing": "give a whole number, e.g. 10",
    "int_from_float": "give a whole number, e.g. 10",
    "finite_number": "give a finite number (not .inf or .nan)",
    "greater_than": "raise the value",
    "less_than": "lower the value",
}


def _problems_from(exc: ValidationError, file: str, prefix: str = "") -> list[ConfigProblem]:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "tagged-"))]
        # pydantic reports `rules: RulesConfig | str` failures once per branch; keep the model one
        if loc and loc[0] == "rules" and len(loc) > 1 and loc[1] == "str":
            continue
        loc = [p for p in loc if p != "RulesConfig"]
        key = prefix + _dotted(loc) if loc else (prefix.rstrip(".") or "(top level)")
        message = err["msg"].removeprefix("Value error, ")
        hint = _HINTS.get(err["type"]) or _KEY_HINTS.get(re.sub(r"\[\d+\]", "", key), "")
        problems.append(ConfigProblem(file, key, message, hint))
    return problems


# hints for value errors, by key without list indices
_KEY_HINTS: dict[str, str] = {
    "feeds.country": "ISO 3166-1 alpha-2, e.g. country: RS (Kosovo is XK)",
    "subscribers.countries": "ISO 3166-1 alpha-2 codes, e.g. countries: [XK, RS]",
    "model.embedding": "install it (pip install 'newsalert[embed]'), or remove model.embedding "
    "for the default model",
    "feeds.url": "give the feed's http:// or https:// URL; local files and other schemes "
    "are never read",
}


def _dotted(loc: list[str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Load, substitute ``${VAR}``, validate; raise ConfigError listing every problem."""
    try:
        return _load_config(path, environ)
    except (ValueError, OSError, RecursionError) as exc:
        raise unforeseen_error(config_path(path), exc) from None


def unforeseen_error(path: Path, exc: Exception) -> ConfigError:
    """What validation did not foresee (a NUL in a path, say), still as a config error."""
    return ConfigError(
        [
            ConfigProblem(
                str(path),
                "(file)",
                f"cannot load: {type(exc).__name__}: {first_line(exc, 200)}",
                "check the paths and values the config names",
            )
        ]
    )


def _load_config(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None
) -> LoadedConfig:
    environ = os.environ if environ is None else environ
    file = config_path(path)
    problems: list[ConfigProblem] = []
    raw = _read_yaml(file, problems, "config")
    if raw is None:
        raise ConfigError(problems)
    if not isinstance(raw, dict):
        raise ConfigError(
            [
                ConfigProblem(
                    str(file),
                    "(top level)",
                    "expected a mapping of keys",
                    "see config/newsalert.yaml",
                )
            ]
        )

    warnings: list[ConfigProblem] = []
    written = _subscriber_names(raw.get("subscribers"))
    disabled: dict[str, tuple[str, ...]] = {}
    subscribers = _subscriber_targets(
        raw.get("subscribers"), environ, str(file), warnings, disabled
    )
    written_targets = _targets_written(raw.get("subscribers"))
    missing: set[str] = set()
    rest = _substitute({k: v for k, v in raw.items() if k != "subscribers"}, environ, missing)
    if isinstance(subscribers, list):  # their other fields as everything else (URLs: above)
        subscribers = [
            {k: v if k == "urls" else _substitute(v, environ, missing) for k, v in sub.items()}
            if isinstance(sub, dict)
            else sub
            for sub in subscribers
        ]
    for name in sorted(missing):
        problems.append(_variable_problem(str(file), name, environ))
    raw = {**rest, "subscribers": subscribers} if "subscribers" in raw else rest

    try:
        config = Config.model_validate(raw, context={"min_interval": _min_interval(raw)})
    except ValidationError as exc:
        problems.extend(_problems_from(exc, str(file)))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)

    rules, rules_path = _load_rules(config, file, environ, problems)
    problems.extend(_cross_check(config, rules, file, rules_path))
    problems.extend(_check_operators(config, written, str(file), warnings))
    problems.extend(_check_targets(config, str(file)))
    if problems:
        raise ConfigError(problems)
    warnings.extend(_private_feeds(config, str(file)))
    targets = {s.name: s.urls for s in config.subscribers}
    loaded = LoadedConfig(
        config, file, rules, rules_path, environ, warnings, targets, disabled, written_targets
    )
    problems.extend(
        _check_database(loaded.database_url, str(file), bool(environ.get(ENV_DATABASE_URL)))
    )
    if problems:
        raise ConfigError(problems)
    return loaded


# the databases on which workers can assign stories one at a time (Store.exclusive):
# PostgreSQL by an advisory lock, SQLite by a file lock on its one host. On any other,
# the lock would be a file in each host's working directory, excluding nothing: two
# workers would each start a story for one incident and alert twice.
SUPPORTED_DATABASES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


def _check_database(url: str, file: str, from_env: bool) -> list[ConfigProblem]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    key = (
        f"{ENV_DATABASE_URL} (overrides storage.database_url)"
        if from_env
        else "storage.database_url"
    )
    hint = "use postgresql+psycopg://user@host/db, or sqlite:///path/newsalert.db (one host)"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return [ConfigProblem(file, key, "not a database URL", hint)]
    backend = parsed.get_backend_name()
    if backend in SUPPORTED_DATABASES:
        return []
    shown = parsed.render_as_string(hide_password=True)
    supported = " and ".join(SUPPORTED_DATABASES.values())
    return [
        ConfigProblem(
            file,
            key,
            f"{shown}: {backend} is not supported; newsalert runs on {supported} only "
            "(the lock that keeps two workers from alerting twice for one incident)",
            hint,
        )
    ]


def _targets_written(raw: Any) -> int:
    if not isinstance(raw, list):
        return 0
    return sum(
        len(s["urls"]) for s in raw if isinstance(s, dict) and isinstance(s.get("urls"), list)
    )


def _private_feeds(config: Config, file: str) -> list[ConfigProblem]:
    """Feeds whose URL names a loopback or private address without ``allow_private``:
    fetch refuses them at every poll. Judged from the URL alone (a literal address, or
    a ``localhost`` name, which always means loopback): check never resolves names."""
    from newsalert.fetch import non_public_host

    if config.fetch.allow_private:
        return []
    found = []
    for i, feed in enumerate(config.feeds):
        if feed.allow_private or not feed.enabled:
            continue
        host = non_public_host(feed.url)
        if host:
            found.append(
                ConfigProblem(
                    file,
                    f"feeds[{i}].url",
                    f"feed {feed.name!r} is at {host}, not a public address: every poll "
                    "will be refused",
                    "add `allow_private: true` to this feed if it is meant to be internal "
                    "(or fetch.allow_private: true for every feed)",
                )
            )
    return found


def _check_targets(config: Config, file: str) -> list[ConfigProblem]:
    """Every subscriber URL apprise can build a notifier from: a hot reload must not
    take a URL that `check` refuses (it would fail at every send, naming no key)."""
    found = []
    for i, sub in enumerate(config.subscribers):
        for j, url in enumerate(sub.urls):
            message = check_url(url)
            if message:
                found.append(
                    ConfigProblem(
                        file,
                        f"subscribers[{i}].urls[{j}]",
                        f"{url_label(url)}: {message}",
                        "see https://github.com/caronc/apprise/wiki for the URL format of "
                        "each service",
                    )
                )
    return found


def _min_interval(raw: Mapping[str, Any]) -> int:
    """fetch.min_interval as written (validated with the rest; a bad value counts as unset)."""
    fetch = raw.get("fetch")
    value = fetch.get("min_interval") if isinstance(fetch, dict) else None
    return value if isinstance(value, int) and value >= 1 else MIN_INTERVAL


def _variable_problem(file: str, name: str, environ: Mapping[str, str]) -> ConfigProblem:
    return ConfigProblem(
        file,
        "(environment)",
        f"environment variable {name} is {_unset_or_empty(name, environ)}",
        f"set {name}, or write ${{{name}:-default}} to give a default",
    )


def _unset_or_empty(name: str, environ: Mapping[str, str]) -> str:
    return "empty" if name in environ else "not set"


def _subscriber_targets(
    raw: Any,
    environ: Mapping[str, str],
    file: str,
    warnings: list[ConfigProblem],
    disabled: dict[str, tuple[str, ...]],
) -> Any:
    """Substitute ${VAR} in subscriber URLs; a URL with an unset (or empty) variable is
    dropped, and a subscriber left with no URL too. One warning per subscriber: a
    subscriber losing every target is one fact, not one per URL plus one for it.
    ``disabled`` gets each affected subscriber's variables.
    """
    if not isinstance(raw, list):
        return raw
    kept = []
    for i, sub in enumerate(raw):
        if not (isinstance(sub, dict) and isinstance(sub.get("urls"), list)):
            kept.append(sub)
            continue
        urls = []
        off: list[tuple[int, set[str]]] = []
        for j, url in enumerate(sub["urls"]):
            unset: set[str] = set()
            resolved = _substitute(url, environ, unset)
            if unset:
                off.append((j, unset))
            else:
                urls.append(resolved)
        if off:
            disabled[str(sub.get("name"))] = tuple(sorted(set().union(*(u for _, u in off))))
        hint = (
            "set the variable(s) in the environment (or in the env file docker compose "
            "reads); an empty value counts as unset"
        )
        if urls or not sub["urls"]:
            kept.append({**sub, "urls": urls})
            for j, unset in off:
                warnings.append(
                    ConfigProblem(
                        file,
                        f"subscribers[{i}].urls[{j}]",
                        f"target disabled: {_variables_said(unset, environ)}",
                        hint,
                    )
                )
            continue
        names = set().union(*(u for _, u in off))
        key = f"subscribers[{i}].urls[{off[0][0]}]" if len(off) == 1 else f"subscribers[{i}].urls"
        warnings.append(
            ConfigProblem(
                file,
                key,
                f"subscriber {sub.get('name')!r} is disabled and receives nothing: "
                f"{_variables_said(names, environ)}",
                hint,
            )
        )
    return kept


def _variables_said(names: set[str], environ: Mapping[str, str]) -> str:
    """``A and B are not set; C is empty``."""
    said = []
    for word in ("not set", "empty"):
        group = [n for n in sorted(names) if _unset_or_empty(n, environ) == word]
        if group:
            listed = ", ".join(group[:-1]) + f" and {group[-1]}" if len(group) > 1 else group[0]
            said.append(f"{listed} {'are' if len(group) > 1 else 'is'} {word}")
    return "; ".join(said)


def _subscriber_names(raw: Any) -> list[str]:
    """Subscriber names as written (before unset-variable targets are dropped)."""
    if not isinstance(raw, list):
        return []
    return [str(s["name"]) for s in raw if isinstance(s, dict) and "name" in s]


def _check_operators(
    config: Config, written: list[str], file: str, warnings: list[ConfigProblem]
) -> list[ConfigProblem]:
    """``operators`` must name subscribers; one disabled by unset variables is a warning."""
    problems = []
    kept = [s.name for s in config.subscribers]
    for i, name in enumerate(config.operators):
        if name in kept:
            continue
        if name in written:
            warnings.append(
                ConfigProblem(
                    file,
                    f"operators[{i}]",
                    f"operator subscriber {name!r} has no usable target: feed-health "
                    "notices are only logged",
                    "set the environment variables its URLs use",
                )
            )
            continue
        problems.append(
            ConfigProblem(
                file,
                f"operators[{i}]",
                f"no subscriber named {name!r}",
                f"name one of the subscribers: {kept}" if kept else "add it under subscribers",
            )
        )
    return problems


def _load_rules(
    config: Config, file: Path, environ: Mapping[str, str], problems: list[ConfigProblem]
) -> tuple[RulesConfig, Path]:
    if not isinstance(config.rules, str):
        return config.rules, file
    rules_file = _resolve(file.parent, config.rules)
    raw = _read_yaml(rules_file, problems, "rules")
    if raw is None:
        return RulesConfig(), rules_file
    if isinstance(raw, dict) and set(raw) == {"rules"}:
        raw = raw["rules"]
    missing: set[str] = set()
    raw = _substitute(raw, environ, missing)
    for name in sorted(missing):  # a term left as "${WATCH}" would silently never match
        problems.append(_variable_problem(str(rules_file), name, environ))
    try:
        return RulesConfig.model_validate(raw), rules_file
    except ValidationError as exc:
        problems.extend(_problems_from(exc, str(rules_file), "rules."))
        return RulesConfig(), rules_file


def _cross_check(
    config: Config, rules: RulesConfig, file: Path, rules_path: Path
) -> list[ConfigProblem]:
    """Checks that need the whole config: references to feed names, categories."""
    from newsalert.models import CATEGORIES

    problems = []
    feed_names = {f.name for f in config.feeds}
    feed_tags = {tag for f in config.feeds for tag in f.tags}
    for i, sub in enumerate(config.subscribers):
        for name in sub.feeds:
            if name not in feed_names:
                problems.append(
                    ConfigProblem(
                        str(file),
                        f"subscribers[{i}].feeds",
                        f"no feed named {name!r}",
                        f"use one of {sorted(feed_names)}",
                    )
                )
    for kind in ("include", "exclude", "boost"):
        for i, rule in enumerate(getattr(rules, kind)):
            for name in rule.feeds:
                if name not in feed_names:
                    problems.append(
                        ConfigProblem(
                            str(rules_path),
                            f"rules.{kind}[{i}].feeds",
                            f"no feed named {name!r}",
                            f"use one of {sorted(feed_names)}",
                        )
                    )
            for tag in rule.tags:
                if tag not in feed_tags:
                    problems.append(
                        ConfigProblem(
                            str(rules_path),
                            f"rules.{kind}[{i}].tags",
                            f"no feed has the tag {tag!r}",
                            f"use one of {sorted(feed_tags)}"
                            if feed_tags
                            else "add it to a feed's `tags`",
                        )
                    )
            if rule.category and rule.category not in CATEGORIES:
                problems.append(
                    ConfigProblem(
                        str(rules_path),
                        f"rules.{kind}[{i}].category",
                        f"unknown category {rule.category!r}",
                        f"use one of {list(CATEGORIES)}",
                    )
                )
    return problems
