"""Asking: the next question a conversation needs, its buttons, the summary, and how the texts
of one step become as few messages as the keyboards allow."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.intake.model import (
    EDITABLE,
    MAX_ATTACHMENTS,
    NOT_SOLVED,
    ORDER,
    PARAGRAPH,
    URGENCIES,
    Draft,
    Outcome,
    State,
    Step,
    choice,
)
from handlers.messages import Button, Reply


def _missing(state: State) -> Step | None:
    d = state.draft
    filled = {
        Step.CATEGORY: bool(d.category),
        Step.DESCRIPTION: bool(d.description),
        Step.INCIDENT: not state.incident or state.incident_answered,
        Step.PROFILE: state.profile_answered or not state.profile.complete,
        Step.LOCATION: bool(d.location),
        Step.NAME: bool(d.name),
        Step.PHONE: bool(d.phone),
        Step.ASSET: d.asset_done,
        Step.FILES: d.files_done,
        Step.URGENCY: bool(d.urgency),
    }
    return next((s for s in ORDER if not filled[s]), None)


def ask_next(
    state: State, config: DeskConfig, now: datetime, lead: tuple[Reply, ...] = ()
) -> Outcome:
    following = Step.SUMMARY if state.editing else (_missing(state) or Step.SUMMARY)
    moved = replace(state, step=following, editing=False, updated_at=now)
    return Outcome(moved, (*lead, *ask(moved, config)))


def ask(state: State, config: DeskConfig) -> tuple[Reply, ...]:
    lang = state.language
    match state.step:
        case Step.CATEGORY:
            rows = tuple(
                (Button(c.label(lang), choice(Step.CATEGORY, c.id)),) for c in config.categories
            )
            return (Reply(t(lang, "ask.category"), rows),)
        case Step.DESCRIPTION:
            return (Reply(t(lang, "ask.description")),)
        case Step.INCIDENT:
            buttons = (
                (
                    Button(t(lang, "btn.incident_yes"), choice(Step.INCIDENT, "yes"), "primary"),
                    Button(t(lang, "btn.incident_no"), choice(Step.INCIDENT, "no")),
                ),
            )
            about = t(
                lang,
                "incident.offer_title" if state.incident_title else "incident.offer_untitled",
                parent=state.incident,
                category=category_label(state.draft.category, lang, config),
                summary=state.incident_title,
            )
            return (Reply(t(lang, "incident.offer", title=about), buttons),)
        case Step.PROFILE:
            p = state.profile
            buttons = (
                (
                    Button(t(lang, "btn.same"), choice(Step.PROFILE, "same"), "primary"),
                    Button(t(lang, "btn.change"), choice(Step.PROFILE, "change")),
                ),
            )
            text = t(lang, "ask.profile", name=p.name, phone=p.phone, location=p.location)
            return (Reply(text, buttons),)
        case Step.LOCATION:
            remembered = _remembered(state.profile.location, Step.LOCATION)
            return (Reply(t(lang, "ask.location"), remembered),)
        case Step.NAME:
            return (Reply(t(lang, "ask.name"), _remembered(state.platform_name, Step.NAME)),)
        case Step.PHONE:
            return (Reply(t(lang, "ask.phone"), ask_contact=t(lang, "btn.share_phone")),)
        case Step.ASSET:
            skip = ((Button(t(lang, "btn.skip"), choice(Step.ASSET, "skip")),),)
            return (Reply(t(lang, "ask.asset"), skip),)
        case Step.FILES:
            done = ((Button(t(lang, "btn.files_done"), choice(Step.FILES, "done")),),)
            return (Reply(t(lang, "ask.files", max=MAX_ATTACHMENTS), done),)
        case Step.URGENCY:
            rows = tuple(
                (Button(t(lang, f"urgency.{u}"), choice(Step.URGENCY, u)),) for u in URGENCIES
            )
            return (Reply(t(lang, "ask.urgency"), rows),)
        case Step.SOLUTIONS:
            titles = [f"{n}. {title}" for n, (_, title) in enumerate(state.offered, start=1)]
            text = "\n".join([t(lang, "solutions.choose"), *titles])
            return (Reply(text, solution_buttons(state)),)
        case Step.SUMMARY:
            return (_summary(state, config),)
        case Step.EDIT:
            rows = tuple((Button(t(lang, f"field.{s}"), choice(Step.EDIT, s)),) for s in EDITABLE)
            return (Reply(t(lang, "ask.edit"), rows),)
    raise AssertionError(state.step)


def solution_buttons(state: State) -> tuple[tuple[Button, ...], ...]:
    lang, offered = state.language, state.offered
    solved = [
        Button(
            t(lang, "btn.solved") if len(offered) == 1 else t(lang, "btn.solved_n", n=n),
            choice(Step.SOLUTIONS, str(sid)),
            "primary",
        )
        for n, (sid, _title) in enumerate(offered, start=1)
    ]
    no = Button(t(lang, "btn.not_solved"), choice(Step.SOLUTIONS, NOT_SOLVED))
    return (*((b,) for b in solved), (no,))


def _remembered(value: str, step_name: Step) -> tuple[tuple[Button, ...], ...]:
    if not value:
        return ()
    return ((Button(value[:60], choice(step_name, "remembered")),),)


def category_label(category_id: str, language: str, config: DeskConfig) -> str:
    category = config.category(category_id)
    return category.label(language) if category else category_id


def summary_lines(draft: Draft, language: str, config: DeskConfig) -> list[str]:
    """The draft as 'Field: value' lines, in the user's language."""
    values = {
        Step.CATEGORY: category_label(draft.category, language, config),
        Step.DESCRIPTION: draft.description,
        Step.LOCATION: draft.location,
        Step.NAME: draft.name,
        Step.PHONE: draft.phone,
        Step.ASSET: draft.asset or "—",
        Step.FILES: str(len(draft.attachments)),
        Step.URGENCY: t(language, f"urgency.{draft.urgency}") if draft.urgency else "",
    }
    return [f"{t(language, f'field.{s}')}: {values[s]}" for s in EDITABLE]


def _summary(state: State, config: DeskConfig) -> Reply:
    lang = state.language
    text = "\n".join([t(lang, "summary.title"), *summary_lines(state.draft, lang, config)])
    buttons = (
        (
            Button(t(lang, "btn.submit"), choice(Step.SUMMARY, "submit"), "primary"),
            Button(t(lang, "btn.edit"), choice(Step.SUMMARY, "edit")),
            Button(t(lang, "btn.cancel"), choice(Step.SUMMARY, "cancel"), "danger"),
        ),
    )
    return Reply(text, buttons)


def reask(state: State, config: DeskConfig, key: str, **params: object) -> Outcome:
    return Outcome(state, (Reply(t(state.language, key, **params)), *ask(state, config)))


def as_few_messages(outcome: Outcome) -> Outcome:
    """One step, one message: the texts of a step ("Phone number saved", an error, the
    greeting) go in front of the question that follows, as paragraphs of one message. A text
    stays a message of its own only where the one after it needs a different keyboard: taking
    the share-contact keyboard away cannot ride on a message that brings buttons."""
    replies: list[Reply] = []
    for reply in outcome.replies:
        before = replies[-1] if replies else None
        if before is not None and _joinable(before, reply):
            replies[-1] = Reply(
                f"{before.text}{PARAGRAPH}{reply.text}",
                reply.buttons,
                reply.ask_contact,
                before.remove_keyboard or reply.remove_keyboard,
            )
        else:
            replies.append(reply)
    if len(replies) == len(outcome.replies):
        return outcome
    return replace(outcome, replies=tuple(replies))


def _joinable(first: Reply, second: Reply) -> bool:
    """Whether ``first`` can be the opening paragraph of ``second``: it has no keyboard of its
    own, and any keyboard it takes away is not replaced by one that ``second`` brings."""
    if first.buttons or first.ask_contact:
        return False
    return not (first.remove_keyboard and (second.buttons or second.ask_contact))


def touched(outcome: Outcome, now: datetime) -> Outcome:
    """Any answer, even a wrong one, is activity: the idle clock restarts."""
    if outcome.state is None or outcome.state.updated_at >= now:
        return outcome
    return replace(outcome, state=replace(outcome.state, updated_at=now))


def step_after_description(state: State) -> Step | None:
    return _missing(replace(state, draft=replace(state.draft, description="x")))
