"""The escalation: which step happens how many days after J+0, per freelancer.

Defaults follow DESIGN.md ("The fallback: dunning"): J+0 notice with the
"fix my payment" link, card retries at J+1, J+3, J+5, a friendly reminder at
J+7, a formal reminder at J+15, the mise en demeure at J+30 and the recourse
pack at J+45. Big amounts get a "call the client" task before the formal
steps. Every delay and template is a per-freelancer setting (the
`dunning_settings` row holds only what differs from these defaults).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

NOTICE = "notice"
FRIENDLY = "friendly"
FORMAL = "formal"
FORMAL_NOTICE = "formal_notice"  # the mise en demeure
RECOURSE = "recourse"
CALL = "call"
RETRY_PREFIX = "retry_"

# Steps whose text the freelancer may override, per locale.
EMAIL_STEPS = (NOTICE, FRIENDLY, FORMAL, FORMAL_NOTICE)
FREELANCER = "freelancer"
ACCOUNTS_DEPARTMENT = "accounts_department"


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One step of a case's plan.

    `track` groups steps that replace each other when several are overdue at
    once (only the latest of a track runs, the others are recorded skipped),
    unless `required`: the notice and the mise en demeure always happen.
    """

    name: str
    day: int
    track: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class DunningConfig:
    """A freelancer's escalation settings; the defaults are the advised French practice."""

    retry_days: tuple[int, ...] = (1, 3, 5)
    friendly_day: int = 7
    formal_day: int = 15
    formal_notice_day: int = 30
    recourse_day: int = 45
    # The final deadline the mise en demeure gives (8–15 days is customary).
    final_deadline_days: int = 10
    # At or above this amount (minor units) a "call the client" task appears.
    call_threshold_minor: int = 1_000_00
    call_day: int = 10
    signature: str = FREELANCER
    accounts_department_name: str = ""
    # Issue a separate penalty invoice with the mise en demeure.
    bill_penalties: bool = True
    # {step: {locale: {"subject": str, "body": str}}} overriding the default texts.
    templates: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = asdict(self)
        out["retry_days"] = list(self.retry_days)
        return out


DEFAULT_CONFIG = DunningConfig()


class InvalidConfig(ValueError):
    """Settings that would make an impossible plan; `fields` says which and why."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(str(fields))
        self.fields = fields


def config_from(stored: dict[str, Any] | None) -> DunningConfig:
    """The defaults overlaid with what the freelancer stored (unknown keys ignored)."""
    values = {k: v for k, v in (stored or {}).items() if k in DunningConfig.__dataclass_fields__}
    if "retry_days" in values:
        values["retry_days"] = tuple(values["retry_days"])
    return validate(replace(DEFAULT_CONFIG, **values))


def validate(config: DunningConfig) -> DunningConfig:
    """Refuse a plan out of order: retries, then reminders, then the legal steps."""
    errors: dict[str, list[str]] = {}
    days = list(config.retry_days)
    if sorted(set(days)) != days or any(d < 1 or d > 30 for d in days) or len(days) > 5:
        errors["retry_days"] = ["Up to 5 distinct increasing days between 1 and 30."]
    order = [
        ("friendly_day", config.friendly_day),
        ("formal_day", config.formal_day),
        ("formal_notice_day", config.formal_notice_day),
        ("recourse_day", config.recourse_day),
    ]
    for (_, before), (name, after) in zip(order, order[1:], strict=False):
        if after <= before:
            errors[name] = ["Must come after the previous step."]
    if not 1 <= config.friendly_day <= 365 or config.recourse_day > 365:
        errors.setdefault("friendly_day", []).append("Steps happen between day 1 and day 365.")
    if not 8 <= config.final_deadline_days <= 15:
        errors["final_deadline_days"] = ["Between 8 and 15 days."]
    if not 1 <= config.call_day < config.formal_day:
        errors["call_day"] = ["The call comes before the formal reminder."]
    if config.call_threshold_minor < 0:
        errors["call_threshold_minor"] = ["Must not be negative."]
    if config.signature not in (FREELANCER, ACCOUNTS_DEPARTMENT):
        errors["signature"] = [f"One of {FREELANCER}, {ACCOUNTS_DEPARTMENT}."]
    for step, by_locale in config.templates.items():
        if step not in EMAIL_STEPS or not isinstance(by_locale, dict):
            errors.setdefault("templates", []).append(f"Unknown step {step!r}.")
            continue
        for locale, text in by_locale.items():
            if locale not in ("fr", "en") or not isinstance(text, dict):
                errors.setdefault("templates", []).append(f"{step}: locale fr or en.")
            elif set(text) - {"subject", "body"}:
                errors.setdefault("templates", []).append(f"{step}: subject and body only.")
    if errors:
        raise InvalidConfig(errors)
    return config


def plan(config: DunningConfig, *, amount_minor: int, retries: bool) -> list[PlannedStep]:
    """The steps of a case, in day order. `retries` False: no card to retry, or a hard decline."""
    steps = [PlannedStep(NOTICE, 0, "letters", required=True)]
    if retries:
        steps += [
            PlannedStep(f"{RETRY_PREFIX}{n}", day, "retries")
            for n, day in enumerate(config.retry_days, start=1)
        ]
    if amount_minor >= config.call_threshold_minor:
        steps.append(PlannedStep(CALL, config.call_day, "call"))
    steps += [
        PlannedStep(FRIENDLY, config.friendly_day, "letters"),
        PlannedStep(FORMAL, config.formal_day, "letters"),
        PlannedStep(FORMAL_NOTICE, config.formal_notice_day, "letters", required=True),
        PlannedStep(RECOURSE, config.recourse_day, "letters", required=True),
    ]
    return sorted(steps, key=lambda s: (s.day, s.name))


def steps_to_run(
    planned: list[PlannedStep], done: set[str], elapsed_days: int
) -> tuple[list[PlannedStep], list[PlannedStep]]:
    """(to run, to record as skipped) among the steps due after `elapsed_days` days.

    When the sweep was late (the worker was down), running every missed
    reminder at once would spam the client: per track only the latest due step
    runs, plus the required ones.
    """
    due = [s for s in planned if s.day <= elapsed_days and s.name not in done]
    run: list[PlannedStep] = []
    skip: list[PlannedStep] = []
    for step in due:
        later_same_track = any(o.track == step.track and o.day > step.day for o in due)
        (skip if later_same_track and not step.required else run).append(step)
    return run, skip


def next_step(planned: list[PlannedStep], done: set[str]) -> PlannedStep | None:
    """The first step not done yet."""
    return next((s for s in planned if s.name not in done), None)
