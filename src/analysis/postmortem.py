"""The human parts of a post-mortem, as written in ``incident.toml``'s ``[postmortem]`` table.

Status, owners, severity, root causes as they were stated over time (each with a date and a
source), trigger, contributing factors, resolution steps, action items, lessons and open
questions. Everything is optional; everything is validated with the file and the key named
in the error. Text may be one string or a table of translations (``text.en``, ``text.fr``,
``text.nl``): the report shows the reader's language and falls back to English.

Dates may come without a clock time (``date = 2018-03-02``): a statement known only by its
day is shown as a day, never at an invented hour.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from analysis.catalogues import languages
from analysis.errors import ConfigError, quote
from analysis.timeparse import parse_config_time
from analysis.tomlkeys import TableKeys

#: Languages a translated text may carry.
STATUSES = ("draft", "in_review", "final")
PRIORITIES = ("high", "medium", "low")
ACTION_STATUSES = ("open", "in_progress", "done", "wont_do")
LESSON_KINDS = ("went_well", "went_wrong", "got_lucky")

Text = Mapping[str, str]


def pick(value: Text | None, language: str) -> str | None:
    """``value`` in ``language``, else English, else any language it has; ``None`` when empty."""
    if not value:
        return None
    return value.get(language) or value.get("en") or next(iter(value.values()))


@dataclass(frozen=True)
class When:
    """A moment of the post-mortem: a UTC time, or a local day when no clock time is known."""

    time: dt.datetime
    date_only: bool = False


@dataclass(frozen=True)
class Item:
    """A sentence with the sources that back it (e.g. a contributing factor)."""

    text: Text
    source: str | None = None


@dataclass(frozen=True)
class RootCause:
    """One statement of the cause, dated, with who said it: causes are restated over time."""

    when: When
    statement: Text
    source: str | None = None
    stated_by: Text | None = None
    current: bool = False  # the version the review retains


@dataclass(frozen=True)
class Step:
    """A resolution step (what was done to restore service), distinct from announcements."""

    when: When | None
    step: Text
    source: str | None = None


@dataclass(frozen=True)
class ActionItem:
    """A follow-up with an owner, a priority and a status."""

    action: Text
    owner: Text
    priority: str
    status: str
    due: When | None = None
    source: str | None = None


@dataclass(frozen=True)
class Reference:
    """One source of the evidence: an id cited elsewhere (``S1``), its outlet, date and URL."""

    id: str
    outlet: str
    url: str | None = None
    published: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Account:
    """One side of a conflict: what a source says."""

    says: Text
    source: str


@dataclass(frozen=True)
class Conflict:
    """A question the sources answer differently, with every account kept."""

    topic: Text
    accounts: tuple[Account, ...]


@dataclass(frozen=True)
class PostMortem:
    """The ``[postmortem]`` table of an incident; every part optional."""

    status: str | None = None
    severity: str | None = None
    severity_note: Text | None = None
    owners: tuple[Text, ...] = ()
    root_causes: tuple[RootCause, ...] = ()
    trigger: Item | None = None
    contributing_factors: tuple[Item, ...] = ()
    resolution: tuple[Step, ...] = ()
    action_items: tuple[ActionItem, ...] = ()
    lessons: Mapping[str, tuple[Item, ...]] = field(default_factory=lambda: MappingProxyType({}))
    open_questions: tuple[Item, ...] = ()
    references: tuple[Reference, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    #: The incident's own service(s) (e.g. ``("tv",)``): the impact counts only these. Empty: every service.
    service: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing was written."""
        return not any(
            (
                self.status,
                self.severity,
                self.owners,
                self.root_causes,
                self.trigger,
                self.contributing_factors,
                self.resolution,
                self.action_items,
                any(self.lessons.values()),
                self.open_questions,
            )
        )

    @property
    def current_cause(self) -> RootCause | None:
        """The cause marked ``current``, else the latest stated one."""
        marked = [c for c in self.root_causes if c.current]
        if marked:
            return marked[-1]
        return max(self.root_causes, key=lambda c: c.when.time) if self.root_causes else None


# --------------------------------------------------------------------------- parsing


class _Keys(TableKeys):
    """Errors that name the file and the full key; unknown keys refused."""

    documented_in = "docs/postmortem.md"

    def raw(self, name: str) -> Any:
        self.used.add(name)
        return self.table.get(name)

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise self.fail(name, "is required but missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, f"expected a non-empty string, got {quote(value)}")
        return value.strip()

    def choice(self, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
        return self.chosen(name, self.string(name), choices, default)

    def text(self, name: str, *, required: bool = False) -> Text | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise self.fail(name, "is required but missing")
            return None
        return _text(self, name, value)

    def boolean(self, name: str) -> bool:
        value = self.raw(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(name, f"expected true/false, got {quote(value)}")
        return value

    def when(self, name: str, tz: ZoneInfo, *, required: bool = False) -> When | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise self.fail(name, "is required but missing (a date such as 2018-03-02, or a time)")
            return None
        return parse_when(value, tz, where=f"{self.path}: key '{self.prefix}{name}'")

    def items(self, name: str) -> list[tuple[str, Any]]:
        value = self.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(name, f"expected a list, got {type(value).__name__}")
        return [(f"{name}[{i}]", v) for i, v in enumerate(value)]

    def sub(self, name: str, value: Any) -> _Keys:
        if not isinstance(value, dict):
            raise self.fail(name, f"expected a table, got {type(value).__name__} {quote(value)}")
        return _Keys(self.path, value, f"{self.prefix}{name}.")


def _text(keys: _Keys, name: str, value: Any) -> Text:
    """A string, or a table of translations keyed by language code."""
    if isinstance(value, str):
        if not value.strip():
            raise keys.fail(name, "must not be empty")
        return MappingProxyType({"en": value.strip()})
    if isinstance(value, dict):
        if not value:
            raise keys.fail(name, "an empty table of translations")
        out = {}
        for lang, words in value.items():
            if lang not in languages():
                raise keys.fail(f"{name}.{lang}", f"unknown language (expected one of {', '.join(languages())})")
            if not isinstance(words, str) or not words.strip():
                raise keys.fail(f"{name}.{lang}", f"expected a non-empty string, got {quote(words)}")
            out[lang] = words.strip()
        return MappingProxyType(out)
    raise keys.fail(name, f"expected a string or a table of translations (en, fr, nl), got {type(value).__name__}")


def parse_when(value: Any, tz: ZoneInfo, *, where: str) -> When:
    """A TOML date (day only), a TOML datetime or an ISO string; naive times are local to ``tz``.

    Times go through :func:`analysis.timeparse.parse_config_time` (same year range, same DST
    rules, same bounded error text); a day alone is noon local time, flagged ``date_only``.
    """
    day: dt.date | None = None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            day = None
    if isinstance(value, str) and day is None:
        try:
            dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: not an ISO 8601 date or time: {quote(value)}") from None
    if day is not None:
        if not 1900 <= day.year <= 2099:
            raise ConfigError(f"{where}: year {day.year} is outside 1900–2099 (a typo?)")
        return When(dt.datetime.combine(day, dt.time(12), tzinfo=tz).astimezone(dt.UTC), date_only=True)
    return When(parse_config_time(value, tz, where=where))


def _item(keys: _Keys, name: str, value: Any) -> Item:
    """A list entry: a string, a table of translations, or ``{text = ..., source = ...}``."""
    if isinstance(value, dict) and "text" in value:
        k = keys.sub(name, value)
        item = Item(text=k.text("text", required=True) or {}, source=k.string("source"))
        k.check_unknown()
        return item
    return Item(text=_text(keys, name, value))


def _services(keys: _Keys) -> tuple[str, ...]:
    """``service = "tv"`` or ``service = ["tv", "internet"]``, lower-cased as the data's service column is."""
    value = keys.raw("service")
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise keys.fail("service", f'expected a service name or a list of them (e.g. "tv"), got {quote(value)}')
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_ -]{0,39}", v.strip()):
            where = "service" if isinstance(value, str) else f"service[{i}]"
            raise keys.fail(where, f'expected a short service name such as "tv", got {quote(v)}')
        out.append(v.strip().lower())
    return tuple(dict.fromkeys(out))


def parse_postmortem(path: Path, raw: Any, tz: ZoneInfo) -> PostMortem:
    """Validate the ``[postmortem]`` table of ``path`` (``None``: an empty post-mortem)."""
    if raw is None:
        return PostMortem()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: key 'postmortem': expected a table ([postmortem]), got {type(raw).__name__}")
    p = _Keys(path, raw, "postmortem.")
    owners = [_text(p, name, value) for name, value in p.items("owners")]
    causes = _root_causes(p, tz)
    trigger = None
    if (value := p.raw("trigger")) is not None:
        trigger = _item(p, "trigger", value)
    steps = []
    for name, value in p.items("resolution"):
        k = p.sub(name, value)
        steps.append(Step(when=k.when("time", tz), step=k.text("step", required=True), source=k.string("source")))  # type: ignore[arg-type]
        k.check_unknown()
    actions = _action_items(p, tz)
    lessons: dict[str, tuple[Item, ...]] = {}
    if (value := p.raw("lessons")) is not None:
        k = p.sub("lessons", value)
        for kind in LESSON_KINDS:
            lessons[kind] = tuple(_item(k, n, v) for n, v in k.items(kind))
        k.check_unknown()
    refs, conflicts = _references(p), _conflicts(p)  # checked in this order: the first problem is the one raised
    pm = PostMortem(
        service=_services(p),
        status=p.choice("status", STATUSES, None),
        severity=p.string("severity"),
        severity_note=p.text("severity_note"),
        owners=tuple(owners),
        root_causes=tuple(sorted(causes, key=lambda c: c.when.time)),
        trigger=trigger,
        contributing_factors=tuple(_item(p, n, v) for n, v in p.items("contributing_factors")),
        resolution=tuple(sorted(steps, key=lambda s: s.when.time if s.when else dt.datetime.max.replace(tzinfo=dt.UTC))),
        action_items=actions,
        lessons=MappingProxyType(lessons),
        open_questions=tuple(_item(p, n, v) for n, v in p.items("open_questions")),
        references=refs,
        conflicts=conflicts,
    )
    p.check_unknown()
    return pm


def _root_causes(p: _Keys, tz: ZoneInfo) -> list[RootCause]:
    """``[[postmortem.root_causes]]``: what was said to be the cause, when and by whom; at most one current."""
    causes = []
    for name, value in p.items("root_causes"):
        k = p.sub(name, value)
        causes.append(
            RootCause(
                when=k.when("date", tz, required=True),  # type: ignore[arg-type]
                statement=k.text("statement", required=True),  # type: ignore[arg-type]
                source=k.string("source", required=True),
                stated_by=k.text("stated_by"),
                current=k.boolean("current"),
            )
        )
        k.check_unknown()
    if sum(c.current for c in causes) > 1:
        raise p.fail("root_causes", "at most one root cause may be marked current = true")
    return causes


def _action_items(p: _Keys, tz: ZoneInfo) -> tuple[ActionItem, ...]:
    """``[[postmortem.action_items]]``: action, owner, priority, status, due date."""
    actions = []
    for name, value in p.items("action_items"):
        k = p.sub(name, value)
        actions.append(
            ActionItem(
                action=k.text("action", required=True),  # type: ignore[arg-type]
                owner=k.text("owner", required=True),  # type: ignore[arg-type]
                priority=k.choice("priority", PRIORITIES, "medium"),  # type: ignore[arg-type]
                status=k.choice("status", ACTION_STATUSES, "open"),  # type: ignore[arg-type]
                due=k.when("due", tz),
                source=k.string("source"),
            )
        )
        k.check_unknown()
    return tuple(actions)


def _references(p: _Keys) -> tuple[Reference, ...]:
    """``[[postmortem.references]]``: short unique ids, outlets, http(s) addresses."""
    refs = []
    for name, value in p.items("references"):
        k = p.sub(name, value)
        ref_id = k.string("id", required=True) or ""
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,15}", ref_id):
            raise k.fail("id", f"expected a short id such as 'S1' (letters, digits, - and _), got {quote(ref_id)}")
        url = k.string("url")
        if url is not None and not re.match(r"https?://[^\s<>\"']+$", url):
            raise k.fail("url", f"expected an http(s) address, got {quote(url)}")
        refs.append(
            Reference(
                id=ref_id,
                outlet=k.string("outlet", required=True) or "",
                url=url,
                published=k.string("published"),
                language=k.string("language"),
            )
        )
        k.check_unknown()
    ids = [r.id for r in refs]
    if len(set(ids)) != len(ids):
        raise p.fail("references", f"reference ids must be unique; repeated: {sorted({i for i in ids if ids.count(i) > 1})}")
    return tuple(refs)


def _conflicts(p: _Keys) -> tuple[Conflict, ...]:
    """``[[postmortem.conflicts]]``: a topic and at least two accounts of it."""
    conflicts = []
    for name, value in p.items("conflicts"):
        k = p.sub(name, value)
        accounts = []
        for aname, avalue in k.items("accounts"):
            ak = k.sub(aname, avalue)
            accounts.append(Account(says=ak.text("says", required=True), source=ak.string("source", required=True)))  # type: ignore[arg-type]
            ak.check_unknown()
        if len(accounts) < 2:
            raise k.fail("accounts", "a conflict needs at least two accounts")
        conflicts.append(Conflict(topic=k.text("topic", required=True), accounts=tuple(accounts)))  # type: ignore[arg-type]
        k.check_unknown()
    return tuple(conflicts)
