"""The intake conversation as a pure state machine: every question, validation and shortcut.

``step(state, input, now, config) -> Outcome`` has no I/O, so these tests drive it directly with
fixed aware datetimes and the built-in :class:`DeskConfig`. Texts are compared to the message
catalog (``t(language, key)``), never to literals, so rewording a text does not break a test.
"""

from __future__ import annotations

import json
import string
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.standins.samples import DRAFT
from handlers.config import DeskConfig, DeskSettings
from handlers.i18n import LOCALES, t
from handlers.intake import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    EDITABLE,
    FIELD_MAX,
    MAX_ATTACHMENTS,
    NOT_SOLVED,
    PARAGRAPH,
    PREFIX,
    Answered,
    Draft,
    Found,
    Input,
    Outcome,
    Profile,
    Search,
    State,
    Step,
    choice,
    expired,
    normalise_phone,
    start,
    step,
    summary_lines,
    valid_asset,
)
from handlers.messages import Attachment, Button, Reply
from handlers.solutions import KnownSolution
from handlers.tickets import Level

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONFIG = DeskConfig()
BURST = CONFIG.desk.burst_window
GAP = timedelta(seconds=30)  # comfortably longer than the burst window

PLATFORM_NAME = "Olena P."
DESCRIPTION = "The printer on the 2nd floor jams on every page"
PHOTO = Attachment("photo", "photo-1")
DOC = Attachment("document", "doc-1", "error.log")
PROFILE = Profile(name="Olena Petrenko", phone="+380501112233", location="HQ, room 301")

FULL = replace(
    DRAFT,
    description=DESCRIPTION,
    location="Office 2, room 14",
    name="Olena Petrenko",
    asset="10.0.12.7",
    attachments=(PHOTO,),
    urgency="medium",
)

# What answering each step fills in, in the order the questions are asked.
_STEP_FIELDS: dict[Step, dict[str, object]] = {
    Step.CATEGORY: {"category": ""},
    Step.DESCRIPTION: {"description": ""},
    Step.LOCATION: {"location": ""},
    Step.NAME: {"name": ""},
    Step.PHONE: {"phone": ""},
    Step.ASSET: {"asset": "", "asset_done": False},
    Step.FILES: {"files_done": False, "attachments": ()},
    Step.URGENCY: {"urgency": ""},
}
_ASKED_IN_ORDER = list(_STEP_FIELDS)


# --- helpers ----------------------------------------------------------------------------------


def draft_before(at: Step) -> Draft:
    """:data:`FULL` with the field of ``at`` and of every later question still empty."""
    if at in (Step.SUMMARY, Step.EDIT):
        return FULL
    if at == Step.PROFILE:  # offered between the description and the location
        at = Step.LOCATION
    cleared: dict[str, object] = {}
    for later in _ASKED_IN_ORDER[_ASKED_IN_ORDER.index(at) :]:
        cleared.update(_STEP_FIELDS[later])
    return replace(FULL, **cleared)


def state_at(at: Step, language: str = "en", **changes: object) -> State:
    """A state waiting for the answer to ``at``, everything before it answered."""
    base = State(
        step=at,
        draft=draft_before(at),
        language=language,
        updated_at=NOW,
        platform_name=PLATFORM_NAME,
    )
    return replace(base, **changes)


def ask_text(at: Step, language: str = "en") -> str:
    """The catalog text of the question asked at ``at``."""
    if at == Step.FILES:
        return t(language, "ask.files", max=MAX_ATTACHMENTS)
    return t(language, f"ask.{at}")


def texts(outcome: Outcome) -> list[str]:
    return [reply.text for reply in outcome.replies]


def one(*parts: str) -> list[str]:
    """The texts of a step said as one message: its parts as paragraphs."""
    return [PARAGRAPH.join(parts)]


def paragraphs(outcome: Outcome) -> list[str]:
    return [part for reply in outcome.replies for part in reply.text.split(PARAGRAPH)]


def datas(reply: Reply) -> list[str]:
    return [button.data for row in reply.buttons for button in row]


def labels(reply: Reply) -> list[str]:
    return [button.label for row in reply.buttons for button in row]


def summary_text(draft: Draft, language: str = "en") -> str:
    return "\n".join([t(language, "summary.title"), *summary_lines(draft, language, CONFIG)])


def run(state: State, given: Input, after: timedelta = GAP) -> Outcome:
    return step(state, given, NOW + after, CONFIG)


def press(at: Step | str, value: str) -> Input:
    return Input(choice=choice(at, value))


class Chat:
    """One user's conversation: a clock that moves by ``GAP`` per message unless told otherwise."""

    def __init__(
        self,
        language: str = "en",
        platform_name: str = PLATFORM_NAME,
        profile: Profile | None = None,
        description: str = "",
        config: DeskConfig = CONFIG,
        found: Found | None = None,
    ) -> None:
        self.now = NOW
        self.config = config
        self.found = found  # what the desk finds whenever the machine asks for a search
        self.first = start(NOW, config, language, platform_name, profile, description)
        assert self.first.state is not None
        self.state: State = self.first.state
        self.outcomes: list[Outcome] = [self.first]

    def send(self, after: timedelta = GAP, **given: object) -> Outcome:
        self.now += after
        typed = Input(**given)  # type: ignore[arg-type]
        outcome = step(self.state, typed, self.now, self.config)
        if outcome.search is not None and self.found is not None:
            outcome = step(self.state, typed, self.now, self.config, found=self.found)
        self.outcomes.append(outcome)
        if outcome.state is not None:
            self.state = outcome.state
        return outcome

    def press(self, at: Step | str, value: str, after: timedelta = GAP) -> Outcome:
        return self.send(after, choice=choice(at, value))

    def states(self) -> list[State]:
        return [o.state for o in self.outcomes if o.state is not None]


def reach_summary(chat: Chat) -> Outcome:
    """Answer every question of a new user's conversation with valid input."""
    chat.press(Step.CATEGORY, "printers")
    chat.send(text=DESCRIPTION)
    chat.send(text="Office 2, room 14")
    chat.send(text="Olena Petrenko")
    chat.send(text="+380 (67) 123-45-67")
    chat.send(text="10.0.12.7")
    chat.send(file=PHOTO)
    chat.press(Step.FILES, "done")
    outcome = chat.press(Step.URGENCY, "medium")
    assert chat.state.step == Step.SUMMARY
    return outcome


# --- the happy path ---------------------------------------------------------------------------


def test_start_greets_and_asks_the_category_with_one_button_per_category() -> None:
    outcome = start(NOW, CONFIG, "en", PLATFORM_NAME)

    assert outcome.state is not None
    assert outcome.state.step == Step.CATEGORY
    assert outcome.state.draft == Draft()
    assert outcome.state.updated_at == NOW
    assert outcome.state.last_text_at is None
    assert outcome.submit is None and not outcome.cancelled
    assert texts(outcome) == one(t("en", "intake.intro"), t("en", "ask.category"))
    question = outcome.replies[-1]
    assert question.buttons == tuple(
        (Button(c.label("en"), f"i:category:{c.id}"),) for c in CONFIG.categories
    )


def test_new_user_happy_path_asks_each_question_and_submits_the_draft() -> None:
    chat = Chat()

    outcome = chat.press(Step.CATEGORY, "printers")
    assert chat.state.step == Step.DESCRIPTION
    assert texts(outcome) == [t("en", "ask.description")]

    outcome = chat.send(text=f"  {DESCRIPTION}  ")
    assert chat.state.step == Step.LOCATION
    assert texts(outcome) == [t("en", "ask.location")]
    assert outcome.replies[0].buttons == ()  # nothing remembered for a new user

    outcome = chat.send(text="Office 2,   room 14")
    assert chat.state.step == Step.NAME
    assert texts(outcome) == [t("en", "ask.name")]
    assert outcome.replies[0].buttons == ((Button(PLATFORM_NAME, "i:name:remembered"),),)

    outcome = chat.press(Step.NAME, "remembered")
    assert chat.state.step == Step.PHONE
    assert texts(outcome) == [t("en", "ask.phone")]
    assert outcome.replies[0].ask_contact == t("en", "btn.share_phone")

    outcome = chat.send(text="+380 (67) 123-45-67")
    assert chat.state.step == Step.ASSET
    saved = t("en", "intake.phone_saved", phone="+380671234567")
    assert texts(outcome) == [saved, t("en", "ask.asset")]
    assert outcome.replies[0].remove_keyboard  # the share-contact keyboard goes away
    assert outcome.replies[1].buttons == ((Button(t("en", "btn.skip"), "i:asset:skip"),),)

    outcome = chat.send(text="10.0.12.7")
    assert chat.state.step == Step.FILES
    assert texts(outcome) == [t("en", "ask.files", max=MAX_ATTACHMENTS)]
    assert datas(outcome.replies[0]) == ["i:files:done"]

    outcome = chat.send(file=PHOTO)
    assert chat.state.step == Step.FILES
    assert texts(outcome) == [t("en", "intake.file_added", count=1)]
    assert datas(outcome.replies[0]) == ["i:files:done"]
    outcome = chat.send(file=DOC)
    assert texts(outcome) == [t("en", "intake.file_added", count=2)]

    outcome = chat.press(Step.FILES, "done")
    assert chat.state.step == Step.URGENCY
    assert texts(outcome) == [t("en", "ask.urgency")]
    assert outcome.replies[0].buttons == tuple(
        (Button(t("en", f"urgency.{level}"), f"i:urgency:{level}"),)
        for level in (Level.HIGH, Level.MEDIUM, Level.LOW)
    )

    outcome = chat.press(Step.URGENCY, "medium")
    expected = Draft(
        category="printers",
        description=DESCRIPTION,
        location="Office 2, room 14",
        name=PLATFORM_NAME,
        phone="+380671234567",
        asset="10.0.12.7",
        asset_done=True,
        files_done=True,
        attachments=(PHOTO, DOC),
        urgency="medium",
    )
    assert chat.state.step == Step.SUMMARY
    assert chat.state.draft == expected
    assert texts(outcome) == [summary_text(expected)]
    assert outcome.replies[0].buttons == (
        (
            Button(t("en", "btn.submit"), "i:summary:submit", "primary"),
            Button(t("en", "btn.edit"), "i:summary:edit"),
            Button(t("en", "btn.cancel"), "i:summary:cancel", "danger"),
        ),
    )

    outcome = chat.press(Step.SUMMARY, "submit")
    assert outcome == Outcome(None, submit=expected)
    assert not outcome.cancelled


@pytest.mark.parametrize(
    ("name_input", "expected_name"),
    [
        pytest.param({"choice": "i:name:remembered"}, PLATFORM_NAME, id="name-remembered"),
        pytest.param({"text": "  Ivan   Franko "}, "Ivan Franko", id="name-typed"),
    ],
)
@pytest.mark.parametrize(
    ("phone_input", "expected_phone"),
    [
        pytest.param({"text": "+380 (67) 123-45-67"}, "+380671234567", id="phone-typed"),
        pytest.param({"text": "067.123.45.67"}, "0671234567", id="phone-dots"),
        pytest.param(
            {"phone": "380671234567", "contact_name": "Contact Name"},
            "380671234567",
            id="phone-contact",
        ),
    ],
)
@pytest.mark.parametrize(
    ("asset_input", "expected_asset"),
    [
        pytest.param({"text": "192.168.1.20"}, "192.168.1.20", id="asset-ip"),
        pytest.param({"text": " INV-0042 "}, "INV-0042", id="asset-inventory"),
        pytest.param({"choice": "i:asset:skip"}, "", id="asset-skip"),
    ],
)
def test_happy_path_variants_end_in_the_expected_draft(
    name_input: dict[str, str],
    expected_name: str,
    phone_input: dict[str, str],
    expected_phone: str,
    asset_input: dict[str, str],
    expected_asset: str,
) -> None:
    chat = Chat()
    chat.press(Step.CATEGORY, "network")
    chat.send(text="The Wi-Fi keeps dropping in the meeting room")
    chat.send(text="Meeting room B")
    chat.send(**name_input)
    assert chat.state.step == Step.PHONE
    chat.send(**phone_input)
    assert chat.state.step == Step.ASSET
    chat.send(**asset_input)
    assert chat.state.step == Step.FILES
    chat.press(Step.FILES, "done")
    chat.press(Step.URGENCY, "high")
    outcome = chat.press(Step.SUMMARY, "submit")

    assert outcome.state is None
    assert outcome.submit == Draft(
        category="network",
        description="The Wi-Fi keeps dropping in the meeting room",
        location="Meeting room B",
        name=expected_name,  # a shared contact's name never replaces the name already given
        phone=expected_phone,
        asset=expected_asset,
        asset_done=True,
        files_done=True,
        urgency="high",
    )


def test_every_intake_button_fits_telegram_callback_data() -> None:
    chat = Chat(profile=PROFILE)
    chat.press(Step.CATEGORY, "accounts")
    chat.send(text="I cannot log in to the accounting system")
    chat.press(Step.PROFILE, "change")
    chat.press(Step.LOCATION, "remembered")
    chat.press(Step.NAME, "remembered")
    chat.send(text="0671234567")
    chat.press(Step.ASSET, "skip")
    chat.press(Step.FILES, "done")
    chat.press(Step.URGENCY, "low")
    chat.press(Step.SUMMARY, "edit")

    buttons = [b for o in chat.outcomes for r in o.replies for row in r.buttons for b in row]
    assert len(buttons) > 20
    for button in buttons:
        assert button.data.startswith(PREFIX)
        assert len(button.data.encode()) <= 64


def test_choice_builds_callback_data() -> None:
    assert choice(Step.URGENCY, "high") == "i:urgency:high"
    assert choice("summary", "submit") == "i:summary:submit"


# --- starting with free text ------------------------------------------------------------------


def test_starting_text_is_the_description_and_category_is_asked_first() -> None:
    chat = Chat(description="  my printer is broken again  ")

    assert chat.state.step == Step.CATEGORY
    assert chat.state.draft.description == "my printer is broken again"
    assert chat.state.last_text_at == NOW
    assert texts(chat.first) == one(t("en", "intake.intro"), t("en", "ask.category"))

    outcome = chat.press(Step.CATEGORY, "printers")
    assert chat.state.step == Step.LOCATION  # the description question is skipped
    assert texts(outcome) == [t("en", "ask.location")]
    assert chat.state.draft.description == "my printer is broken again"


def test_starting_text_longer_than_the_maximum_is_cut() -> None:
    chat = Chat(description="x" * (DESCRIPTION_MAX + 50))
    assert chat.state.draft.description == "x" * DESCRIPTION_MAX


def test_starting_text_that_is_too_short_does_not_replace_the_description_question() -> None:
    chat = Chat(description="hi")
    outcome = chat.press(Step.CATEGORY, "printers")

    assert chat.state.step == Step.DESCRIPTION
    assert texts(outcome)[-1] == t("en", "ask.description")


def test_free_text_at_the_category_question_is_kept_as_the_description() -> None:
    chat = Chat()
    outcome = chat.send(text="  Outlook does not open since this morning ")

    assert chat.state.step == Step.CATEGORY
    assert chat.state.draft.description == "Outlook does not open since this morning"
    assert chat.state.last_text_at == chat.now
    assert texts(outcome) == [t("en", "ask.category")]

    outcome = chat.press(Step.CATEGORY, "software")
    assert chat.state.step == Step.LOCATION
    assert chat.state.draft.category == "software"


def test_too_short_free_text_at_the_category_question_asks_for_a_description() -> None:
    chat = Chat()
    outcome = chat.send(text="help")

    assert chat.state.step == Step.DESCRIPTION
    assert chat.state.draft.description == ""
    assert texts(outcome) == one(
        t("en", "invalid.description_short", min=DESCRIPTION_MIN),
        t("en", "ask.description"),
    )

    outcome = chat.send(text="My monitor stays black after boot")
    assert chat.state.step == Step.CATEGORY  # the category is still missing
    assert texts(outcome) == [t("en", "ask.category")]


def test_every_step_is_answered_in_one_message_except_where_a_keyboard_goes_away() -> None:
    chat = Chat()
    chat.send(text="help")  # too short: the hint and the question again
    chat.send(text=DESCRIPTION)
    chat.press(Step.CATEGORY, "printers")
    chat.send(text="Office 2, room 14")
    chat.press(Step.NAME, "remembered")
    chat.send(text="+380 (67) 123-45-67")  # the share-contact keyboard goes, Skip comes
    chat.press(Step.ASSET, "skip")
    chat.send(file=PHOTO)
    chat.press(Step.FILES, "done")
    chat.press(Step.URGENCY, "low")

    counts = [len(outcome.replies) for outcome in chat.outcomes]
    assert counts == [1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1]
    saved, asset = chat.outcomes[6].replies
    assert saved.remove_keyboard and saved.buttons == ()
    assert datas(asset) == ["i:asset:skip"]


# --- validation: the step does not move and the catalog text is re-asked ----------------------


def same_but_touched(after: State | None, before: State) -> bool:
    """``after`` is ``before`` except that the idle clock restarted (any answer is activity)."""
    return after is not None and replace(after, updated_at=before.updated_at) == before


def assert_reasked(state: State, outcome: Outcome, key: str, **params: object) -> None:
    assert same_but_touched(outcome.state, state)  # same step, same draft; idle clock restarted
    assert outcome.submit is None and not outcome.cancelled
    assert texts(outcome) == one(t(state.language, key, **params), ask_text(state.step))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("broken", id="short"),
        pytest.param("x" * (DESCRIPTION_MIN - 1), id="one-below-min"),
        pytest.param("   abc      ", id="padded-short"),
    ],
)
def test_too_short_description_is_reasked(text: str) -> None:
    state = state_at(Step.DESCRIPTION)
    outcome = run(state, Input(text=text))
    assert_reasked(state, outcome, "invalid.description_short", min=DESCRIPTION_MIN)


def test_too_long_description_is_reasked() -> None:
    state = state_at(Step.DESCRIPTION)
    outcome = run(state, Input(text="y" * (DESCRIPTION_MAX + 1)))
    assert_reasked(state, outcome, "invalid.description_long", max=DESCRIPTION_MAX)


@pytest.mark.parametrize("length", [DESCRIPTION_MIN, DESCRIPTION_MAX])
def test_description_at_the_limits_is_accepted(length: int) -> None:
    state = state_at(Step.DESCRIPTION)
    outcome = run(state, Input(text="d" * length))
    assert outcome.state is not None
    assert outcome.state.step == Step.LOCATION
    assert outcome.state.draft.description == "d" * length


@pytest.mark.parametrize(
    ("at", "text", "key", "params"),
    [
        pytest.param(Step.LOCATION, "", "invalid.location", {}, id="location-empty"),
        pytest.param(Step.LOCATION, "A", "invalid.location", {}, id="location-1"),
        pytest.param(Step.LOCATION, "  B  ", "invalid.location", {}, id="location-padded-1"),
        pytest.param(
            Step.LOCATION,
            "l" * (FIELD_MAX + 1),
            "invalid.too_long",
            {"max": FIELD_MAX},
            id="loc-long",
        ),
        pytest.param(Step.NAME, "", "invalid.name", {}, id="name-empty"),
        pytest.param(Step.NAME, "J", "invalid.name", {}, id="name-1"),
        pytest.param(Step.NAME, "n" * 101, "invalid.too_long", {"max": 100}, id="name-long"),
    ],
)
def test_short_fields_too_short_or_too_long_are_reasked(
    at: Step, text: str, key: str, params: dict[str, object]
) -> None:
    state = state_at(at)
    outcome = run(state, Input(text=text))
    assert_reasked(state, outcome, key, **params)


@pytest.mark.parametrize(
    ("at", "text", "field_name", "stored", "next_step"),
    [
        pytest.param(Step.LOCATION, "B2", "location", "B2", Step.NAME, id="location-2"),
        pytest.param(
            Step.LOCATION, "l" * FIELD_MAX, "location", "l" * FIELD_MAX, Step.NAME, id="loc-max"
        ),
        pytest.param(
            Step.LOCATION,
            " Warehouse \n gate   3 ",
            "location",
            "Warehouse gate 3",
            Step.NAME,
            id="location-spaces",
        ),
        pytest.param(Step.NAME, "Al", "name", "Al", Step.PHONE, id="name-2"),
        pytest.param(Step.NAME, "n" * 100, "name", "n" * 100, Step.PHONE, id="name-max"),
    ],
)
def test_short_fields_are_stored_with_whitespace_collapsed(
    at: Step, text: str, field_name: str, stored: str, next_step: Step
) -> None:
    outcome = run(state_at(at), Input(text=text))
    assert outcome.state is not None
    assert getattr(outcome.state.draft, field_name) == stored
    assert outcome.state.step == next_step
    assert texts(outcome) == [ask_text(next_step)]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+380 (67) 123-45-67", "+380671234567"),
        ("+380671234567", "+380671234567"),
        ("067 123 45 67", "0671234567"),
        ("067-123-45-67", "0671234567"),
        ("(067) 123.45.67", "0671234567"),
        ("  +1 555 0100  ", "+15550100"),
        ("1234567", "1234567"),  # 7 digits: the shortest accepted
        ("+123456789012345", "+123456789012345"),  # 15 digits: the longest accepted
    ],
)
def test_normalise_phone_accepts_and_normalises(typed: str, expected: str) -> None:
    assert normalise_phone(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("", id="empty"),
        pytest.param("call me", id="letters"),
        pytest.param("067 123 45 6x", id="one-letter"),
        pytest.param("+380 67 ext 12", id="extension-word"),
        pytest.param("123456", id="six-digits"),
        pytest.param("+1 (23) 45", id="five-digits"),
        pytest.param("1234567890123456", id="sixteen-digits"),
        pytest.param("380+671234567", id="plus-inside"),
        pytest.param("++380671234567", id="double-plus"),
        pytest.param("----()----", id="no-digits"),
        pytest.param("067/123/45/67", id="slashes"),
    ],
)
def test_bad_phone_is_rejected_and_reasked_with_the_contact_button(typed: str) -> None:
    assert normalise_phone(typed) is None

    state = state_at(Step.PHONE)
    outcome = run(state, Input(text=typed))
    assert_reasked(state, outcome, "invalid.phone")
    assert outcome.replies[-1].ask_contact == t("en", "btn.share_phone")


def test_shared_contact_with_a_bad_number_is_reasked() -> None:
    state = state_at(Step.PHONE)
    outcome = run(state, Input(phone="12", contact_name="Someone"))
    assert_reasked(state, outcome, "invalid.phone")


def test_shared_contact_wins_over_text_and_keeps_the_given_name() -> None:
    state = state_at(Step.PHONE)
    outcome = run(state, Input(phone="+380 50 999 88 77", contact_name="Contact Card Name"))

    assert outcome.state is not None
    assert outcome.state.draft.phone == "+380509998877"
    assert outcome.state.draft.name == FULL.name
    assert outcome.state.step == Step.ASSET


def test_shared_contact_name_fills_a_missing_name() -> None:
    state = state_at(Step.PHONE, draft=replace(draft_before(Step.PHONE), name=""))
    outcome = run(state, Input(phone="380509998877", contact_name="Taras Shevchenko"))

    assert outcome.state is not None
    assert outcome.state.draft.name == "Taras Shevchenko"
    assert outcome.state.draft.phone == "380509998877"


@pytest.mark.parametrize(
    ("typed", "ok"),
    [
        ("10.0.12.7", True),
        ("255.255.255.255", True),
        ("fe80::1", True),
        ("2001:db8::42", True),
        ("INV-0042", True),
        ("pc-114", True),
        ("WS/12.3#4", True),
        ("A_1", True),
        ("x" * 40, True),
        ("999.1.1.1", False),
        ("10.0.12", False),
        ("10.0.12.7.1", False),
        ("1.2.3.", False),
        ("a", False),
        ("ab", False),
        ("", False),
        ("INV 0042", False),
        ("-INV42", False),
        ("x" * 41, False),
        ("інв-42", False),
        ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", True),
        ("fe80::1%eth0", False),
        ("fe80::1%" + "x" * 2500, False),
        ("fe80::1%1", False),
        ("1" * 46, False),
    ],
)
def test_valid_asset(typed: str, ok: bool) -> None:
    assert valid_asset(typed) is ok


@pytest.mark.parametrize("typed", ["999.1.1.1", "a", "10.0.12", "my laptop", ""])
def test_bad_asset_is_reasked_with_skip_still_offered(typed: str) -> None:
    state = state_at(Step.ASSET)
    outcome = run(state, Input(text=typed))
    assert_reasked(state, outcome, "invalid.asset")
    assert datas(outcome.replies[-1]) == ["i:asset:skip"]


def test_a_long_ipv6_zone_is_reasked() -> None:
    state = state_at(Step.ASSET)
    assert_reasked(state, run(state, Input(text="fe80::1%" + "x" * 2500)), "invalid.asset")


HOSTILE = "\u202eexe.txt\u202c \u2066ab\u2069\x00c\u202a\u202b\u202d\u2067\u2068"


def test_every_text_of_an_input_is_cleaned() -> None:
    given = Input(
        text=HOSTILE,
        choice=f"i:summary:{HOSTILE}",
        phone="+380\x00671234567\u202e",
        contact_name=HOSTILE,
        file=Attachment("document", "doc-1", HOSTILE),
    )
    cleaned = "exe.txt abc"
    assert (given.text, given.contact_name) == (cleaned, cleaned)
    assert given.choice == f"i:summary:{cleaned}"
    assert given.phone == "+380671234567"
    assert given.file == Attachment("document", "doc-1", cleaned)


@pytest.mark.parametrize(
    ("at", "field_name"),
    [(Step.DESCRIPTION, "description"), (Step.LOCATION, "location"), (Step.NAME, "name")],
)
def test_hostile_controls_never_reach_the_draft(at: Step, field_name: str) -> None:
    typed = "Room\u202e 14\x00, floor\u2066 2\u2069 (printer jams)"
    outcome = run(state_at(at), Input(text=typed))
    assert outcome.state is not None
    assert getattr(outcome.state.draft, field_name) == "Room 14, floor 2 (printer jams)"


def test_asset_is_stripped_before_it_is_stored() -> None:
    outcome = run(state_at(Step.ASSET), Input(text="  10.0.12.7  "))
    assert outcome.state is not None
    assert outcome.state.draft.asset == "10.0.12.7"
    assert outcome.state.draft.asset_done


@pytest.mark.parametrize("typed", ["10148002", "004512"])
def test_digits_only_inventory_number_is_accepted(typed: str) -> None:
    assert valid_asset(typed)


@pytest.mark.parametrize(
    ("typed", "level"), [("1", Level.HIGH), (" 2 ", Level.MEDIUM), ("3", Level.LOW)]
)
def test_urgency_typed_as_a_number(typed: str, level: Level) -> None:
    outcome = run(state_at(Step.URGENCY), Input(text=typed))
    assert outcome.state is not None
    assert outcome.state.draft.urgency == level.value
    assert outcome.state.step == Step.SUMMARY


@pytest.mark.parametrize("typed", ["0", "4", "high", "urgent!!", ""])
def test_urgency_typed_otherwise_is_reasked(typed: str) -> None:
    state = state_at(Step.URGENCY)
    outcome = run(state, Input(text=typed))
    assert_reasked(state, outcome, "intake.use_buttons")


def test_unknown_urgency_button_is_reasked() -> None:
    state = state_at(Step.URGENCY)
    assert_reasked(state, run(state, press(Step.URGENCY, "critical")), "intake.use_buttons")


@pytest.mark.parametrize(
    ("typed", "category"),
    [
        ("1", "hardware"),
        (" 2 ", "printers"),
        ("8", "other"),
        ("network", "network"),
        ("POS", "pos"),
        ("Printers and office equipment", "printers"),
        ("  accounts AND access ", "accounts"),
    ],
)
def test_category_typed_as_number_id_or_label(typed: str, category: str) -> None:
    state = state_at(Step.CATEGORY, draft=Draft(description=DESCRIPTION))
    outcome = run(state, Input(text=typed))
    assert outcome.state is not None
    assert outcome.state.draft.category == category
    assert outcome.state.step == Step.LOCATION


@pytest.mark.parametrize("typed", ["0", "9", "printer", "the network", ""])
def test_unknown_category_text_is_reasked_once_the_description_is_known(typed: str) -> None:
    state = state_at(Step.CATEGORY, draft=Draft(description=DESCRIPTION))
    outcome = run(state, Input(text=typed))
    assert_reasked(state, outcome, "intake.use_buttons")
    assert len(outcome.replies[-1].buttons) == len(CONFIG.categories)


def test_unknown_category_button_is_reasked() -> None:
    state = state_at(Step.CATEGORY)
    assert_reasked(state, run(state, press(Step.CATEGORY, "plumbing")), "intake.use_buttons")


@pytest.mark.parametrize(
    ("at", "given"),
    [
        pytest.param(Step.PROFILE, Input(text="yes please"), id="profile-text"),
        pytest.param(Step.PROFILE, press(Step.PROFILE, "maybe"), id="profile-bad-button"),
        pytest.param(Step.SUMMARY, Input(text="send it"), id="summary-text"),
        pytest.param(Step.SUMMARY, press(Step.SUMMARY, "later"), id="summary-bad-button"),
        pytest.param(Step.EDIT, Input(text="phone"), id="edit-text"),
        pytest.param(Step.EDIT, press(Step.EDIT, "profile"), id="edit-not-editable"),
        pytest.param(Step.EDIT, press(Step.EDIT, "summary"), id="edit-summary"),
        pytest.param(Step.FILES, press(Step.FILES, "more"), id="files-bad-button"),
        pytest.param(Step.ASSET, press(Step.ASSET, "later"), id="asset-bad-button"),
    ],
)
def test_buttons_only_steps_reask_with_use_buttons(at: Step, given: Input) -> None:
    state = state_at(at, profile=PROFILE)
    outcome = run(state, given)
    assert same_but_touched(outcome.state, state)
    assert len(outcome.replies) == 1  # one message, the question again below the hint
    assert paragraphs(outcome)[0] == t("en", "intake.use_buttons")


def test_text_at_files_step_is_reasked() -> None:
    state = state_at(Step.FILES)
    assert_reasked(state, run(state, Input(text="no files")), "invalid.files")


def test_remembered_buttons_without_anything_remembered_are_reasked() -> None:
    state = state_at(Step.NAME, platform_name="")
    assert ask_text(Step.NAME) == t("en", "ask.name")
    outcome = run(state, press(Step.NAME, "remembered"))
    assert same_but_touched(outcome.state, state)
    assert texts(outcome) == one(t("en", "intake.use_buttons"), t("en", "ask.name"))
    assert outcome.replies[-1].buttons == ()

    state = state_at(Step.LOCATION)
    outcome = run(state, press(Step.LOCATION, "remembered"))
    assert same_but_touched(outcome.state, state)
    assert texts(outcome) == one(t("en", "intake.use_buttons"), t("en", "ask.location"))


def test_long_platform_name_is_cut_on_the_button_and_in_the_draft() -> None:
    long_name = "N" * 150
    state = state_at(Step.NAME, platform_name=long_name)
    asked = run(state_at(Step.LOCATION, platform_name=long_name), Input(text="Room 5"))
    assert asked.replies[0].buttons == ((Button("N" * 60, "i:name:remembered"),),)

    outcome = run(state, press(Step.NAME, "remembered"))
    assert outcome.state is not None
    assert outcome.state.draft.name == "N" * 100


# --- stale buttons, early files, the attachment limit -----------------------------------------


@pytest.mark.parametrize(
    ("at", "stale"),
    [
        (Step.CATEGORY, press(Step.ASSET, "skip")),
        (Step.DESCRIPTION, press(Step.CATEGORY, "printers")),
        (Step.LOCATION, press(Step.CATEGORY, "network")),
        (Step.PHONE, press(Step.NAME, "remembered")),
        (Step.FILES, press(Step.URGENCY, "high")),
        (Step.URGENCY, press(Step.SUMMARY, "submit")),
        (Step.SUMMARY, press(Step.URGENCY, "low")),
        (Step.SUMMARY, press(Step.EDIT, "phone")),
        (Step.EDIT, press(Step.SUMMARY, "submit")),
        (Step.ASSET, Input(choice="i:nonsense")),
    ],
)
def test_stale_button_repeats_the_current_question(at: Step, stale: Input) -> None:
    state = state_at(at)
    outcome = run(state, stale)

    assert same_but_touched(outcome.state, state)
    assert outcome.submit is None and not outcome.cancelled
    assert len(outcome.replies) == 1
    assert paragraphs(outcome)[0] == t("en", "intake.stale_button")
    if at not in (Step.SUMMARY, Step.EDIT):
        assert paragraphs(outcome)[1] == ask_text(at)
    elif at == Step.SUMMARY:
        assert paragraphs(outcome)[1] == summary_text(FULL)
    else:
        assert paragraphs(outcome)[1] == t("en", "ask.edit")


@pytest.mark.parametrize(
    "at", [Step.CATEGORY, Step.LOCATION, Step.NAME, Step.PHONE, Step.ASSET, Step.URGENCY]
)
def test_file_sent_early_is_kept_and_the_question_stands(at: Step) -> None:
    state = state_at(at)
    outcome = run(state, Input(file=DOC))

    assert outcome.state is not None
    assert outcome.state.step == at
    assert outcome.state.draft.attachments == (*state.draft.attachments, DOC)
    assert outcome.state.updated_at == NOW + GAP
    assert texts(outcome) == [t("en", "intake.file_kept")]


def test_photo_sent_at_the_category_step_reaches_the_submitted_draft() -> None:
    chat = Chat()
    chat.send(file=PHOTO)
    assert chat.state.step == Step.CATEGORY
    reach_summary(chat)
    outcome = chat.press(Step.SUMMARY, "submit")
    assert outcome.submit is not None
    assert outcome.submit.attachments == (PHOTO, PHOTO)  # the early one and the one at FILES


def test_file_without_text_at_the_description_step_is_kept() -> None:
    state = state_at(Step.DESCRIPTION)
    outcome = run(state, Input(file=PHOTO))
    assert outcome.state is not None
    assert outcome.state.step == Step.DESCRIPTION
    assert outcome.state.draft.attachments == (PHOTO,)
    assert texts(outcome) == [t("en", "intake.file_kept")]


def test_file_with_a_caption_at_the_description_step_gives_both() -> None:
    state = state_at(Step.DESCRIPTION)
    outcome = run(state, Input(text=DESCRIPTION, file=PHOTO))
    assert outcome.state is not None
    assert outcome.state.draft.description == DESCRIPTION
    assert outcome.state.draft.attachments == (PHOTO,)
    assert outcome.state.step == Step.LOCATION


def test_photo_with_a_too_short_caption_is_not_lost() -> None:
    state = state_at(Step.DESCRIPTION)
    outcome = run(state, Input(text="look", file=PHOTO))
    assert outcome.state is not None
    assert outcome.state.draft.attachments == (PHOTO,)


def test_caption_of_a_photo_at_the_category_step_becomes_the_description() -> None:
    chat = Chat()
    chat.send(text="The card terminal shows this error", file=PHOTO)
    assert chat.state.draft.attachments == (PHOTO,)
    assert chat.state.draft.description == "The card terminal shows this error"


def test_attachment_limit_at_the_files_step() -> None:
    state = state_at(Step.FILES)
    for number in range(1, MAX_ATTACHMENTS + 1):
        outcome = run(state, Input(file=Attachment("photo", f"p{number}")))
        assert outcome.state is not None
        assert texts(outcome) == [t("en", "intake.file_added", count=number)]
        state = outcome.state
    assert len(state.draft.attachments) == MAX_ATTACHMENTS

    outcome = run(state, Input(file=Attachment("photo", "one-too-many")))
    assert_reasked(state, outcome, "invalid.too_many_files", max=MAX_ATTACHMENTS)
    assert len(outcome.state.draft.attachments) == MAX_ATTACHMENTS  # type: ignore[union-attr]


def test_attachment_limit_before_the_files_step() -> None:
    full = tuple(Attachment("photo", f"p{n}") for n in range(MAX_ATTACHMENTS))
    state = state_at(Step.LOCATION, draft=replace(draft_before(Step.LOCATION), attachments=full))
    outcome = run(state, Input(file=DOC))
    assert_reasked(state, outcome, "invalid.too_many_files", max=MAX_ATTACHMENTS)

    # a caption that is a valid description is still taken; the extra file is not
    state = state_at(Step.DESCRIPTION, draft=Draft(category="printers", attachments=full))
    outcome = run(state, Input(text=DESCRIPTION, file=DOC))
    assert outcome.state is not None
    assert outcome.state.draft.description == DESCRIPTION
    assert outcome.state.draft.attachments == full


# --- burst merging ----------------------------------------------------------------------------


def test_texts_within_the_burst_window_after_the_description_are_appended() -> None:
    chat = Chat()
    chat.press(Step.CATEGORY, "printers")
    chat.send(text=DESCRIPTION)
    answered_at = chat.now
    assert chat.state.step == Step.LOCATION

    outcome = chat.send(after=timedelta(seconds=1), text="  It also smells of burning. ")
    assert outcome.replies == ()
    assert chat.state.step == Step.LOCATION
    assert chat.state.draft.description == f"{DESCRIPTION}\nIt also smells of burning."
    assert chat.state.last_text_at == answered_at + timedelta(seconds=1)

    # each merged text restarts the window: a chain of forwarded messages stays together
    chat.send(after=BURST, text="Model HP LaserJet 400")
    assert chat.state.draft.description.endswith("\nModel HP LaserJet 400")
    assert chat.state.draft.location == ""

    # after the window, a text answers the current question
    outcome = chat.send(after=BURST + timedelta(seconds=1), text="Office 2, room 14")
    assert chat.state.draft.location == "Office 2, room 14"
    assert chat.state.step == Step.NAME
    assert texts(outcome) == [t("en", "ask.name")]


def test_burst_after_a_starting_text_is_appended_at_the_category_step() -> None:
    chat = Chat(description="My printer is broken again")
    outcome = chat.send(after=timedelta(seconds=2), text="and the scanner too")

    assert outcome.replies == ()
    assert chat.state.step == Step.CATEGORY
    assert chat.state.draft.description == "My printer is broken again\nand the scanner too"


def test_text_after_the_burst_window_at_the_category_step_is_not_merged() -> None:
    chat = Chat(description="My printer is broken again")
    outcome = chat.send(after=BURST + timedelta(seconds=1), text="and the scanner too")

    assert chat.state.draft.description == "My printer is broken again"
    assert texts(outcome) == one(t("en", "intake.use_buttons"), t("en", "ask.category"))


def test_burst_is_merged_while_the_profile_question_is_open() -> None:
    chat = Chat(profile=PROFILE)
    chat.press(Step.CATEGORY, "hardware")
    chat.send(text="The laptop does not charge any more")
    assert chat.state.step == Step.PROFILE

    outcome = chat.send(after=timedelta(seconds=1), text="The LED is off")
    assert outcome.replies == ()
    assert chat.state.step == Step.PROFILE
    assert chat.state.draft.description.endswith("\nThe LED is off")


@pytest.mark.parametrize(
    ("after", "merged"),
    [
        (timedelta(0), True),
        (BURST, True),
        (BURST + timedelta(microseconds=1), False),
    ],
)
def test_burst_window_boundary(after: timedelta, merged: bool) -> None:
    state = state_at(Step.LOCATION, last_text_at=NOW)
    outcome = step(state, Input(text="Second part of it"), NOW + after, CONFIG)
    assert outcome.state is not None
    if merged:
        assert outcome.state.draft.description == f"{DESCRIPTION}\nSecond part of it"
        assert outcome.state.step == Step.LOCATION
    else:
        assert outcome.state.draft.description == DESCRIPTION
        assert outcome.state.draft.location == "Second part of it"


def test_burst_respects_a_configured_window() -> None:
    config = DeskConfig(desk=DeskSettings(burst_window="10s"))
    state = state_at(Step.LOCATION, last_text_at=NOW)
    outcome = step(state, Input(text="more words"), NOW + timedelta(seconds=9), config)
    assert outcome.state is not None
    assert outcome.state.draft.description.endswith("\nmore words")


def test_burst_is_cut_at_the_description_maximum() -> None:
    long = "z" * (DESCRIPTION_MAX - 5)
    state = state_at(
        Step.LOCATION,
        draft=replace(draft_before(Step.LOCATION), description=long),
        last_text_at=NOW,
    )
    outcome = step(state, Input(text="0123456789"), NOW + timedelta(seconds=1), CONFIG)
    assert outcome.state is not None
    assert outcome.state.draft.description == f"{long}\n0123"


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(press(Step.LOCATION, "remembered"), id="button"),
        pytest.param(Input(text="caption", file=PHOTO), id="file-with-caption"),
        pytest.param(Input(text="   "), id="blank-text"),
    ],
)
def test_buttons_files_and_blank_texts_are_never_a_burst(given: Input) -> None:
    state = state_at(Step.LOCATION, last_text_at=NOW, profile=PROFILE, profile_answered=True)
    outcome = step(state, given, NOW + timedelta(seconds=1), CONFIG)
    assert outcome.state is not None
    assert outcome.state.draft.description == DESCRIPTION
    assert outcome.replies != ()


@pytest.mark.parametrize("at", [Step.SUMMARY, Step.EDIT])
def test_burst_does_not_apply_once_every_question_is_answered(at: Step) -> None:
    # e.g. the description was just edited from the summary
    state = state_at(at, last_text_at=NOW)
    outcome = step(state, Input(text="one more thing"), NOW + timedelta(seconds=1), CONFIG)
    assert same_but_touched(outcome.state, state)
    assert paragraphs(outcome)[0] == t("en", "intake.use_buttons")


# --- returning users --------------------------------------------------------------------------


def returning_chat() -> Chat:
    chat = Chat(profile=PROFILE)
    chat.press(Step.CATEGORY, "hardware")
    return chat


def test_returning_user_is_offered_the_remembered_details() -> None:
    chat = returning_chat()
    outcome = chat.send(text="The laptop does not charge any more")

    assert chat.state.step == Step.PROFILE
    assert texts(outcome) == [
        t(
            "en",
            "ask.profile",
            name=PROFILE.name,
            phone=PROFILE.phone,
            location=PROFILE.location,
        )
    ]
    assert outcome.replies[0].buttons == (
        (
            Button(t("en", "btn.same"), "i:profile:same", "primary"),
            Button(t("en", "btn.change"), "i:profile:change"),
        ),
    )


def test_returning_user_same_details_jumps_to_the_asset() -> None:
    chat = returning_chat()
    chat.send(text="The laptop does not charge any more")
    outcome = chat.press(Step.PROFILE, "same")

    assert chat.state.step == Step.ASSET
    assert chat.state.profile_answered
    assert chat.state.draft.name == PROFILE.name
    assert chat.state.draft.phone == PROFILE.phone
    assert chat.state.draft.location == PROFILE.location
    assert texts(outcome) == [t("en", "ask.asset")]

    chat.press(Step.ASSET, "skip")
    chat.press(Step.FILES, "done")
    chat.press(Step.URGENCY, "low")
    submitted = chat.press(Step.SUMMARY, "submit").submit
    assert submitted is not None
    assert (submitted.name, submitted.phone, submitted.location) == (
        PROFILE.name,
        PROFILE.phone,
        PROFILE.location,
    )


def test_returning_user_change_asks_location_with_the_remembered_one_offered() -> None:
    chat = returning_chat()
    chat.send(text="The laptop does not charge any more")
    outcome = chat.press(Step.PROFILE, "change")

    assert chat.state.step == Step.LOCATION
    assert chat.state.profile_answered
    assert texts(outcome) == [t("en", "ask.location")]
    assert outcome.replies[0].buttons == ((Button(PROFILE.location, "i:location:remembered"),),)

    outcome = chat.press(Step.LOCATION, "remembered")
    assert chat.state.draft.location == PROFILE.location
    assert chat.state.step == Step.NAME
    assert texts(outcome) == [t("en", "ask.name")]

    outcome = chat.send(text="Olena Ivanivna")
    assert chat.state.step == Step.PHONE
    chat.send(text="0501112233")
    assert chat.state.step == Step.ASSET
    assert chat.state.draft.name == "Olena Ivanivna"
    assert chat.state.draft.phone == "0501112233"


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(Profile(), id="none"),
        pytest.param(replace(PROFILE, phone=""), id="no-phone"),
        pytest.param(replace(PROFILE, name=""), id="no-name"),
    ],
)
def test_incomplete_profile_is_not_offered(profile: Profile) -> None:
    chat = Chat(profile=profile)
    chat.press(Step.CATEGORY, "hardware")
    outcome = chat.send(text="The laptop does not charge any more")

    assert chat.state.step == Step.LOCATION
    assert texts(outcome) == [t("en", "ask.location")]
    expected = ((Button(profile.location, "i:location:remembered"),),) if profile.location else ()
    assert outcome.replies[0].buttons == expected


def test_profile_is_asked_after_the_description_when_it_started_the_conversation() -> None:
    chat = Chat(profile=PROFILE, description="The laptop does not charge any more")
    outcome = chat.press(Step.CATEGORY, "hardware")
    assert chat.state.step == Step.PROFILE
    assert outcome.replies[0].buttons[0][0].data == "i:profile:same"


# --- summary, edit, cancel --------------------------------------------------------------------


def test_summary_shows_every_editable_field() -> None:
    chat = Chat()
    outcome = reach_summary(chat)
    lines = texts(outcome)[0].split("\n")

    assert lines[0] == t("en", "summary.title")
    assert lines[1:] == [
        f"{t('en', 'field.category')}: Printers and office equipment",
        f"{t('en', 'field.description')}: {DESCRIPTION}",
        f"{t('en', 'field.location')}: Office 2, room 14",
        f"{t('en', 'field.name')}: Olena Petrenko",
        f"{t('en', 'field.phone')}: +380671234567",
        f"{t('en', 'field.asset')}: 10.0.12.7",
        f"{t('en', 'field.files')}: 1",
        f"{t('en', 'field.urgency')}: {t('en', 'urgency.medium')}",
    ]


def test_summary_of_a_skipped_asset_shows_a_dash() -> None:
    lines = summary_lines(replace(FULL, asset=""), "en", CONFIG)
    assert f"{t('en', 'field.asset')}: —" in lines


def test_summary_edit_lists_every_editable_field() -> None:
    state = state_at(Step.SUMMARY)
    outcome = run(state, press(Step.SUMMARY, "edit"))

    assert outcome.state is not None
    assert outcome.state.step == Step.EDIT
    assert outcome.state.draft == FULL
    assert texts(outcome) == [t("en", "ask.edit")]
    assert outcome.replies[0].buttons == tuple(
        (Button(t("en", f"field.{s}"), f"i:edit:{s}"),) for s in EDITABLE
    )


EDIT_CASES = [
    pytest.param(
        Step.CATEGORY, [press(Step.CATEGORY, "network")], {"category": "network"}, id="category"
    ),
    pytest.param(Step.CATEGORY, [Input(text="5")], {"category": "accounts"}, id="category-typed"),
    pytest.param(
        Step.DESCRIPTION,
        [Input(text="Now the scanner is broken as well")],
        {"description": "Now the scanner is broken as well"},
        id="description",
    ),
    pytest.param(
        Step.LOCATION,
        [Input(text="Warehouse, gate 3")],
        {"location": "Warehouse, gate 3"},
        id="location",
    ),
    pytest.param(Step.NAME, [Input(text="Ivan Franko")], {"name": "Ivan Franko"}, id="name"),
    pytest.param(
        Step.NAME, [press(Step.NAME, "remembered")], {"name": PLATFORM_NAME}, id="name-remembered"
    ),
    pytest.param(Step.PHONE, [Input(text="067 765 43 21")], {"phone": "0677654321"}, id="phone"),
    pytest.param(
        Step.PHONE,
        [Input(phone="+380509998877", contact_name="Card Name")],
        {"phone": "+380509998877"},
        id="phone-contact",
    ),
    pytest.param(Step.ASSET, [Input(text="INV-0042")], {"asset": "INV-0042"}, id="asset"),
    pytest.param(Step.ASSET, [press(Step.ASSET, "skip")], {"asset": ""}, id="asset-skip"),
    pytest.param(
        Step.FILES,
        [Input(file=DOC), press(Step.FILES, "done")],
        {"attachments": (PHOTO, DOC)},
        id="files",
    ),
    pytest.param(Step.URGENCY, [press(Step.URGENCY, "high")], {"urgency": "high"}, id="urgency"),
    pytest.param(Step.URGENCY, [Input(text="3")], {"urgency": "low"}, id="urgency-typed"),
]


@pytest.mark.parametrize(("field_step", "answers", "changes"), EDIT_CASES)
def test_edit_a_field_comes_back_to_the_summary(
    field_step: Step, answers: list[Input], changes: dict[str, object]
) -> None:
    chat = Chat()
    reach_summary(chat)
    before = chat.state.draft
    chat.press(Step.SUMMARY, "edit")

    outcome = chat.press(Step.EDIT, str(field_step))
    assert chat.state.step == field_step
    assert chat.state.editing
    assert texts(outcome) == [ask_text(field_step)]

    for answer in answers:
        outcome = chat.send(**{k: v for k, v in vars(answer).items() if v})

    expected = replace(before, **changes)
    assert chat.state.step == Step.SUMMARY
    assert not chat.state.editing
    assert chat.state.draft == expected
    assert texts(outcome)[-1] == summary_text(expected)
    if field_step == Step.PHONE:  # a new phone number is confirmed before the summary
        assert texts(outcome)[0] == t("en", "intake.phone_saved", phone=expected.phone)

    submitted = chat.press(Step.SUMMARY, "submit").submit
    assert submitted == expected


def test_edit_with_a_bad_answer_stays_on_the_field_in_edit_mode() -> None:
    state = state_at(Step.SUMMARY)
    state = run(state, press(Step.SUMMARY, "edit")).state
    assert state is not None
    state = run(state, press(Step.EDIT, "phone")).state
    assert state is not None

    outcome = run(state, Input(text="not a phone"))
    assert same_but_touched(outcome.state, state)
    assert outcome.state.editing  # type: ignore[union-attr]
    assert texts(outcome) == one(t("en", "invalid.phone"), t("en", "ask.phone"))

    outcome = run(state, Input(text="0671234567"))
    assert outcome.state is not None
    assert outcome.state.step == Step.SUMMARY
    assert outcome.state.draft == replace(FULL, phone="0671234567")


def test_free_text_when_editing_the_category_is_not_a_new_description() -> None:
    state = replace(state_at(Step.CATEGORY, draft=FULL), editing=True)
    outcome = run(state, Input(text="A different description of the problem"))
    assert same_but_touched(outcome.state, state)
    assert paragraphs(outcome)[0] == t("en", "intake.use_buttons")


def test_cancel_from_the_summary_ends_the_conversation() -> None:
    chat = Chat()
    reach_summary(chat)
    outcome = chat.press(Step.SUMMARY, "cancel")

    assert outcome == Outcome(None, (Reply(t("en", "intake.cancelled")),), cancelled=True)
    assert outcome.submit is None


def test_submit_returns_the_draft_and_no_replies() -> None:
    outcome = run(state_at(Step.SUMMARY), press(Step.SUMMARY, "submit"))
    assert outcome == Outcome(None, (), submit=FULL, cancelled=False)


# --- persistence and expiry -------------------------------------------------------------------


def roundtrip(state: State) -> State:
    return State.from_json(json.loads(json.dumps(state.to_json())))


def test_state_json_roundtrip_at_every_point_of_a_conversation() -> None:
    chat = Chat(profile=PROFILE, description="The laptop does not charge any more", found=FOUND)
    chat.send(after=timedelta(seconds=1), text="and the fan is loud")
    chat.send(file=PHOTO)
    chat.press(Step.CATEGORY, "hardware")
    chat.press(Step.SOLUTIONS, NOT_SOLVED)
    chat.press(Step.PROFILE, "change")
    chat.press(Step.LOCATION, "remembered")
    chat.press(Step.NAME, "remembered")
    chat.send(phone="+380671234567", contact_name="Olena")
    chat.send(text="INV-0042")
    chat.send(file=DOC)
    chat.press(Step.FILES, "done")
    chat.press(Step.URGENCY, "high")
    chat.press(Step.SUMMARY, "edit")
    chat.press(Step.EDIT, "location")

    states = chat.states()
    assert {s.step for s in states} >= set(Step) - {Step.DESCRIPTION, Step.SUMMARY, Step.INCIDENT}
    for state in states:
        data = state.to_json()
        assert isinstance(data["updated_at"], str)
        restored = roundtrip(state)
        assert restored == state
        assert isinstance(restored.step, Step)
        assert restored.updated_at.tzinfo is not None

    last = states[-1]
    assert last.editing
    assert last.draft.attachments == (PHOTO, DOC)
    assert last.last_text_at is not None
    assert last.offered == ((11, "Paper jam"), (12, "Faded pages")) and last.draft.offer == 7


def test_restored_state_continues_exactly_like_the_original() -> None:
    chat = Chat()
    reach_summary(chat)
    chat.press(Step.SUMMARY, "edit")
    chat.press(Step.EDIT, "files")
    state = chat.state

    for given in (Input(file=DOC), press(Step.FILES, "done"), Input(text="x")):
        assert run(roundtrip(state), given) == run(state, given)


def test_state_json_shapes() -> None:
    state = state_at(Step.FILES, last_text_at=NOW, profile=PROFILE)
    state = replace(state, draft=replace(state.draft, attachments=(PHOTO, DOC)))
    data = json.loads(json.dumps(state.to_json()))

    assert data["step"] == "files"
    assert data["updated_at"] == NOW.isoformat()
    assert data["last_text_at"] == NOW.isoformat()
    assert data["draft"]["attachments"] == [
        {"kind": "photo", "file_id": "photo-1", "name": ""},
        {"kind": "document", "file_id": "doc-1", "name": "error.log"},
    ]
    assert data["profile"] == {
        "name": PROFILE.name,
        "phone": PROFILE.phone,
        "location": PROFILE.location,
    }
    assert State.from_json(data) == state


def test_state_from_json_tolerates_missing_optional_keys() -> None:
    data = {
        "step": "category",
        "draft": {"description": DESCRIPTION},
        "language": "uk",
        "updated_at": NOW.isoformat(),
    }
    state = State.from_json(data)
    assert state == State(Step.CATEGORY, Draft(description=DESCRIPTION), "uk", NOW)


@pytest.mark.parametrize(
    ("idle", "is_expired"),
    [
        (timedelta(0), False),
        (timedelta(minutes=29, seconds=59), False),
        (CONFIG.desk.intake_idle, False),
        (CONFIG.desk.intake_idle + timedelta(seconds=1), True),
        (timedelta(hours=5), True),
    ],
)
def test_expired_after_intake_idle(idle: timedelta, is_expired: bool) -> None:
    assert CONFIG.desk.intake_idle == timedelta(minutes=30)
    assert expired(state_at(Step.PHONE), NOW + idle, CONFIG) is is_expired


def test_expired_uses_the_configured_idle_time() -> None:
    config = DeskConfig(desk=DeskSettings(intake_idle="5m"))
    assert not expired(state_at(Step.NAME), NOW + timedelta(minutes=5), config)
    assert expired(state_at(Step.NAME), NOW + timedelta(minutes=6), config)


def test_each_answer_restarts_the_idle_clock() -> None:
    chat = Chat()
    chat.press(Step.CATEGORY, "software", after=timedelta(minutes=25))
    chat.send(text=DESCRIPTION, after=timedelta(minutes=25))
    assert chat.state.updated_at == NOW + timedelta(minutes=50)
    assert not expired(chat.state, chat.now + timedelta(minutes=25), CONFIG)


def test_an_invalid_answer_also_counts_as_activity() -> None:
    state = state_at(Step.PHONE)
    reasked = run(state, Input(text="not sure"), after=timedelta(minutes=29))
    assert reasked.state is not None
    assert not expired(reasked.state, NOW + timedelta(minutes=31), CONFIG)


# --- languages --------------------------------------------------------------------------------


def test_ukrainian_conversation_uses_ukrainian_texts() -> None:
    chat = Chat(language="uk")
    assert texts(chat.first) == one(t("uk", "intake.intro"), t("uk", "ask.category"))
    assert t("uk", "ask.category") != t("en", "ask.category")
    assert labels(chat.first.replies[-1])[0] == "Комп'ютер / обладнання"

    outcome = chat.send(text="Принтер")  # too short for a description
    assert texts(outcome) == one(
        t("uk", "invalid.description_short", min=DESCRIPTION_MIN),
        t("uk", "ask.description"),
    )

    asked = [texts(chat.send(text="Принтер не друкує, зажовує папір"))]
    asked.append(texts(chat.send(text="Мережа / інтернет")))  # a typed Ukrainian label
    assert chat.state.draft.category == "network"
    asked.append(texts(chat.send(text="Київ, офіс 5")))
    asked.append(texts(chat.press(Step.NAME, "remembered")))
    phone_question = chat.outcomes[-1].replies[0]
    assert phone_question.ask_contact == t("uk", "btn.share_phone")
    asked.append(texts(chat.send(text="067 123 45 67")))
    asked.append(texts(chat.press(Step.ASSET, "skip")))
    asked.append(texts(chat.press(Step.FILES, "done")))
    asked.append(texts(chat.press(Step.URGENCY, "low")))
    assert asked == [
        [t("uk", "ask.category")],
        [t("uk", "ask.location")],
        [t("uk", "ask.name")],
        [t("uk", "ask.phone")],
        [t("uk", "intake.phone_saved", phone="0671234567"), t("uk", "ask.asset")],
        [t("uk", "ask.files", max=MAX_ATTACHMENTS)],
        [t("uk", "ask.urgency")],
        [summary_text(chat.state.draft, "uk")],
    ]
    assert f"{t('uk', 'field.category')}: Мережа / інтернет" in asked[-1][0]
    assert f"{t('uk', 'field.urgency')}: {t('uk', 'urgency.low')}" in asked[-1][0]
    assert t("uk", "summary.title") != t("en", "summary.title")

    outcome = chat.press(Step.SUMMARY, "cancel")
    assert texts(outcome) == [t("uk", "intake.cancelled")]


def test_unknown_language_falls_back_to_english() -> None:
    outcome = start(NOW, CONFIG, "de", PLATFORM_NAME)
    assert texts(outcome) == one(t("en", "intake.intro"), t("en", "ask.category"))


def _catalog(language: str) -> dict[str, str]:
    return tomllib.loads((LOCALES / f"{language}.toml").read_text(encoding="utf-8"))


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_ukrainian_catalog_has_every_english_key_with_the_same_placeholders() -> None:
    english, ukrainian = _catalog("en"), _catalog("uk")
    assert english
    assert sorted(set(english) - set(ukrainian)) == []
    for key, text in english.items():
        assert _placeholders(ukrainian[key]) == _placeholders(text), key
        assert ukrainian[key].strip(), key


def test_every_text_intake_uses_exists_in_both_catalogs() -> None:
    keys = [
        "intake.intro",
        "intake.use_buttons",
        "intake.stale_button",
        "intake.cancelled",
        "intake.file_kept",
        "intake.file_added",
        *(f"ask.{s}" for s in (*EDITABLE, Step.PROFILE, Step.EDIT)),
        *(f"field.{s}" for s in EDITABLE),
        *(f"urgency.{level}" for level in Level),
        *(f"invalid.{name}" for name in ("location", "name", "phone", "asset", "files")),
        "invalid.description_short",
        "invalid.description_long",
        "invalid.too_long",
        "invalid.too_many_files",
        "summary.title",
        *(
            f"btn.{name}"
            for name in ("same", "change", "share_phone", "skip", "files_done", "submit")
        ),
        "btn.edit",
        "btn.cancel",
    ]
    for language in ("en", "uk"):
        catalog = _catalog(language)
        assert [key for key in keys if key not in catalog] == [], language


# --- known solutions offered before filing ----------------------------------------------------

JAM = KnownSolution(
    11,
    "jam",
    {"en": "Paper jam", "uk": "Зам'ятий папір"},
    {"en": "Open tray 2.", "uk": "Відкрийте лоток 2."},
    "https://wiki/jam",
)
FADED = KnownSolution(12, None, {"en": "Faded pages"}, {"en": "Shake the toner."})
FOUND = Found((JAM, FADED), offer=7)


def offered(language: str = "en", found: Found = FOUND) -> tuple[Chat, Outcome]:
    chat = Chat(language, found=found)
    chat.press(Step.CATEGORY, "printers")
    return chat, chat.send(text=DESCRIPTION)


def test_a_search_is_asked_for_once_category_and_description_are_known() -> None:
    chat = Chat(description=DESCRIPTION)
    assert chat.first.search is None  # no category yet
    outcome = chat.press(Step.CATEGORY, "printers")
    assert outcome.search == Search(DESCRIPTION, "printers")
    assert outcome.state is not None and outcome.state.step == Step.LOCATION  # not run: goes on
    assert texts(outcome) == [ask_text(Step.LOCATION)]


def test_matches_are_offered_before_the_next_question() -> None:
    _, outcome = offered()
    assert outcome.state is not None and outcome.state.step == Step.SOLUTIONS
    assert outcome.state.draft.offer == 7 and outcome.search is None
    (reply,) = outcome.replies
    assert reply.text == "\n\n".join([
        t("en", "solutions.offer"),
        "1. Paper jam\nOpen tray 2.\nhttps://wiki/jam",
        "2. Faded pages\nShake the toner.",
    ])  # fmt: skip
    assert labels(reply) == [
        t("en", "btn.solved_n", n=1), t("en", "btn.solved_n", n=2), t("en", "btn.not_solved")
    ]  # fmt: skip
    assert datas(reply) == [choice(Step.SOLUTIONS, v) for v in ("11", "12", NOT_SOLVED)]


def test_one_match_is_offered_in_the_users_language() -> None:
    _, outcome = offered("uk", Found((JAM,), offer=8))
    (reply,) = outcome.replies
    assert reply.text.startswith(t("uk", "solutions.offer") + "\n\n1. Зам'ятий папір\n")
    assert labels(reply) == [t("uk", "btn.solved"), t("uk", "btn.not_solved")]


def test_nothing_found_goes_on_and_is_not_searched_again() -> None:
    chat, outcome = offered(found=Found())
    assert outcome.state is not None and outcome.state.step == Step.LOCATION
    assert outcome.state.searched and outcome.state.draft.offer is None
    assert chat.send(text="Office 2, room 14").search is None


def test_this_solved_it_ends_the_conversation_with_nothing_filed() -> None:
    chat, _ = offered()
    outcome = chat.press(Step.SOLUTIONS, "12")
    assert outcome == Outcome(
        None, (Reply(t("en", "solutions.glad"), remove_keyboard=True),),
        answered=Answered(offer=7, solved_by=12),
    )  # fmt: skip


def test_no_goes_on_and_the_filed_draft_names_the_offer() -> None:
    chat, _ = offered()
    outcome = chat.press(Step.SOLUTIONS, NOT_SOLVED)
    assert outcome.answered == Answered(offer=7, solved_by=None)
    assert texts(outcome) == one(t("en", "solutions.registering"), ask_text(Step.LOCATION))
    chat.send(text="Office 2, room 14")
    chat.send(text="Olena Petrenko")
    chat.send(text="+380 (67) 123-45-67")
    chat.press(Step.ASSET, "skip")
    chat.press(Step.FILES, "done")
    chat.press(Step.URGENCY, "high")
    submitted = chat.press(Step.SUMMARY, "submit").submit
    assert submitted is not None and submitted.offer == 7


def test_typing_instead_of_answering_the_offer_shows_it_again() -> None:
    chat, _ = offered()
    outcome = chat.send(text="what now?")
    assert outcome.state is not None and outcome.state.step == Step.SOLUTIONS
    assert texts(outcome) == one(
        t("en", "intake.use_buttons"),
        "\n".join([t("en", "solutions.choose"), "1. Paper jam", "2. Faded pages"]),
    )
    assert datas(outcome.replies[-1])[-1] == choice(Step.SOLUTIONS, NOT_SOLVED)


def test_a_burst_right_after_the_description_still_joins_it_during_the_offer() -> None:
    chat, _ = offered()
    outcome = chat.send(after=timedelta(seconds=1), text="and it beeps")
    assert outcome.state is not None and outcome.state.step == Step.SOLUTIONS
    assert outcome.state.draft.description == f"{DESCRIPTION}\nand it beeps"


def test_a_solution_that_was_not_offered_is_not_accepted() -> None:
    chat, _ = offered()
    outcome = chat.press(Step.SOLUTIONS, "99")
    assert outcome.answered is None and outcome.state is not None
    assert paragraphs(outcome)[0] == t("en", "intake.use_buttons")
