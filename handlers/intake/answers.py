"""Answers: one input (typed text, a file or a button) applied to the conversation."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.intake.model import (
    ASSET_MAX,
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    EDITABLE,
    FIELD_MAX,
    MAX_ATTACHMENTS,
    NOT_SOLVED,
    PREFIX,
    URGENCIES,
    Answered,
    Draft,
    Input,
    Outcome,
    State,
    Step,
    choice,
)
from handlers.intake.questions import ask, ask_next, reask, step_after_description
from handlers.messages import Attachment, Button, Reply
from handlers.tickets import Level

_PHONE_ALLOWED = re.compile(r"^\+?[0-9\s\-().]+$")


_INVENTORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/.#]{2,39}$")


def answer(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    """The conversation after one input: a button, more of the description, a file, or the
    typed answer to the current question."""
    if given.choice.startswith(PREFIX):
        field_name, _, value = given.choice[len(PREFIX) :].partition(":")
        return _on_choice(state, field_name, value, now, config)
    if _is_burst_of_description(state, given, now, config):
        merged = f"{state.draft.description}\n{given.text.strip()}"[:DESCRIPTION_MAX]
        return Outcome(
            replace(state, draft=replace(state.draft, description=merged), last_text_at=now)
        )
    caption_first = given.file and given.text.strip() and not state.draft.description
    if caption_first and state.step == Step.CATEGORY:
        return _on_description(state, given, now, config)
    if given.file and state.step != Step.DESCRIPTION:
        return _add_file(state, given.file, now, config)
    handler = _TEXT_HANDLERS.get(state.step)
    if handler is None:
        return reask(state, config, "intake.use_buttons")
    return handler(state, given, now, config)


def _on_category_text(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    typed = given.text.strip().casefold()
    for index, category in enumerate(config.categories, start=1):
        if typed in (str(index), category.id, category.label(state.language).casefold()):
            return _set(state, now, config, category=category.id)
    if state.draft.description or not typed:
        return reask(state, config, "intake.use_buttons")
    # Free text before a category was chosen is the problem itself: keep it, ask the category.
    return _on_description(replace(state, step=Step.DESCRIPTION, editing=False), given, now, config)


def _on_description(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    text = given.text.strip()
    if given.file and len(text) < DESCRIPTION_MIN:
        # The screenshot is kept; the problem still needs describing in words.
        return _add_file(state, given.file, now, config)
    if len(text) < DESCRIPTION_MIN:
        return reask(state, config, "invalid.description_short", min=DESCRIPTION_MIN)
    if len(text) > DESCRIPTION_MAX:
        return reask(state, config, "invalid.description_long", max=DESCRIPTION_MAX)
    with_file = _with_file(state.draft, given.file)
    return _set(replace(state, draft=with_file, last_text_at=now), now, config, description=text)


def _on_free_field(step_name: Step, max_len: int = FIELD_MAX):
    """A handler for a short free-text field (location, name)."""

    def handler(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
        text = " ".join(given.text.split())
        if len(text) < 2:
            return reask(state, config, f"invalid.{step_name}")
        if len(text) > max_len:
            return reask(state, config, "invalid.too_long", max=max_len)
        return _set(state, now, config, **{str(step_name): text})

    return handler


def normalise_phone(text: str) -> str | None:
    """'+380 (67) 123-45-67' -> '+380671234567'; None if it is not a phone number."""
    text = text.strip()
    if not _PHONE_ALLOWED.match(text):
        return None
    digits = re.sub(r"[^0-9]", "", text)
    if not 7 <= len(digits) <= 15:
        return None
    return ("+" if text.startswith("+") else "") + digits


def _on_phone(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    phone = normalise_phone(given.phone or given.text)
    if phone is None:
        return reask(state, config, "invalid.phone")
    changes = {"phone": phone}
    if given.contact_name and not state.draft.name:
        changes["name"] = given.contact_name
    saved = Reply(t(state.language, "intake.phone_saved", phone=phone), remove_keyboard=True)
    outcome = _set(state, now, config, **changes)
    return replace(outcome, replies=(saved, *outcome.replies))


def valid_asset(text: str) -> bool:
    """An IPv4 address, an IPv6 address without a zone (``%eth0``), or an inventory number
    like 'INV-00123'; at most :data:`ASSET_MAX` characters."""
    if len(text) > ASSET_MAX:
        return False
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        looks_like_ip = "." in text and bool(re.fullmatch(r"[0-9.]+", text))
        return not looks_like_ip and bool(_INVENTORY.match(text))
    return not (isinstance(address, ipaddress.IPv6Address) and address.scope_id)


def _on_asset(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    text = given.text.strip()
    if not valid_asset(text):
        return reask(state, config, "invalid.asset")
    return _set(state, now, config, asset=text, asset_done=True)


def _on_files(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    if given.file:
        return _add_file(state, given.file, now, config)
    return reask(state, config, "invalid.files")


def _on_urgency(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    typed = given.text.strip()
    if typed in ("1", "2", "3"):
        return _set(state, now, config, urgency=URGENCIES[int(typed) - 1].value)
    return reask(state, config, "intake.use_buttons")


def _with_file(draft: Draft, file: Attachment | None) -> Draft:
    if file is None or len(draft.attachments) >= MAX_ATTACHMENTS:
        return draft
    return replace(draft, attachments=(*draft.attachments, file))


def _add_file(state: State, file: Attachment, now: datetime, config: DeskConfig) -> Outcome:
    lang = state.language
    if len(state.draft.attachments) >= MAX_ATTACHMENTS:
        return reask(state, config, "invalid.too_many_files", max=MAX_ATTACHMENTS)
    moved = replace(state, draft=_with_file(state.draft, file), updated_at=now)
    if state.step != Step.FILES:
        # A screenshot sent early is kept; the current question still stands.
        return Outcome(moved, (Reply(t(lang, "intake.file_kept")),))
    done = ((Button(t(lang, "btn.files_done"), choice(Step.FILES, "done")),),)
    count = len(moved.draft.attachments)
    return Outcome(moved, (Reply(t(lang, "intake.file_added", count=count), done),))


_TEXT_HANDLERS = {
    Step.CATEGORY: _on_category_text,
    Step.DESCRIPTION: _on_description,
    Step.LOCATION: _on_free_field(Step.LOCATION),
    Step.NAME: _on_free_field(Step.NAME, 100),
    Step.PHONE: _on_phone,
    Step.ASSET: _on_asset,
    Step.FILES: _on_files,
    Step.URGENCY: _on_urgency,
}


def _is_burst_of_description(state: State, given: Input, now: datetime, config: DeskConfig) -> bool:
    """A text arriving right after the description (forwarded or split messages) belongs to it."""
    return bool(
        given.text.strip()
        and not given.file
        and state.draft.description
        and state.last_text_at is not None
        and now - state.last_text_at <= config.desk.burst_window
        and state.step in (Step.CATEGORY, Step.SOLUTIONS, step_after_description(state))
    )


def _on_choice(
    state: State, field_name: str, value: str, now: datetime, config: DeskConfig
) -> Outcome:
    if field_name != state.step:
        # A button from an earlier question: say so and repeat the current one.
        return reask(state, config, "intake.stale_button")
    match state.step, value:
        case Step.CATEGORY, _ if config.category(value):
            return _set(state, now, config, category=value)
        case Step.INCIDENT, "yes":
            return _joined(state)
        case Step.INCIDENT, "no":
            return ask_next(replace(state, incident_answered=True), config, now)
        case Step.PROFILE, "same":
            p = state.profile
            moved = replace(state, profile_answered=True)
            return _set(moved, now, config, name=p.name, phone=p.phone, location=p.location)
        case Step.PROFILE, "change":
            return ask_next(replace(state, profile_answered=True), config, now)
        case Step.LOCATION, "remembered" if state.profile.location:
            return _set(state, now, config, location=state.profile.location)
        case Step.NAME, "remembered" if state.platform_name:
            return _set(state, now, config, name=state.platform_name[:100])
        case Step.ASSET, "skip":
            return _set(state, now, config, asset="", asset_done=True)
        case Step.FILES, "done":
            return _set(state, now, config, files_done=True)
        case Step.URGENCY, _ if value in tuple(URGENCIES):
            return _set(state, now, config, urgency=value)
        case Step.SOLUTIONS, _ if state.draft.offer is not None:
            return _on_offer_answer(state, value, state.draft.offer, now, config)
        case Step.SUMMARY, "submit":
            return Outcome(None, submit=state.draft)
        case Step.SUMMARY, "edit":
            moved = replace(state, step=Step.EDIT, updated_at=now)
            return Outcome(moved, ask(moved, config))
        case Step.SUMMARY, "cancel":
            return Outcome(None, (Reply(t(state.language, "intake.cancelled")),), cancelled=True)
        case Step.EDIT, _ if value in tuple(EDITABLE):
            moved = replace(state, step=Step(value), editing=True, updated_at=now)
            return Outcome(moved, ask(moved, config))
    return reask(state, config, "intake.use_buttons")


def _joined(state: State) -> Outcome:
    """ "Yes, add me": the draft so far goes to the incident; what was not asked yet comes from
    the remembered profile (or the platform name), urgency medium."""
    d, p = state.draft, state.profile
    draft = replace(
        d,
        name=d.name or p.name or state.platform_name[:100],
        phone=d.phone or p.phone,
        location=d.location or p.location,
        urgency=d.urgency or Level.MEDIUM.value,
    )
    return Outcome(None, submit=draft, join=state.incident)


def _on_offer_answer(
    state: State, value: str, offer: int, now: datetime, config: DeskConfig
) -> Outcome:
    lang = state.language
    if value == NOT_SOLVED:
        going_on = Reply(t(lang, "solutions.registering"))
        outcome = ask_next(state, config, now, lead=(going_on,))
        return replace(outcome, answered=Answered(offer, None))
    solved_by = next((sid for sid, _ in state.offered if str(sid) == value), None)
    if solved_by is None:
        return reask(state, config, "intake.use_buttons")
    glad = Reply(t(lang, "solutions.glad"), remove_keyboard=True)
    return Outcome(None, (glad,), answered=Answered(offer, solved_by))


def _set(state: State, now: datetime, config: DeskConfig, **changes: Any) -> Outcome:
    return ask_next(replace(state, draft=replace(state.draft, **changes)), config, now)
