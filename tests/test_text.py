"""Cleaning what people type: the pure function every user-supplied text goes through."""

from __future__ import annotations

import pytest

from handlers.messages import UserRef
from handlers.text import clean

CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


@pytest.mark.parametrize("control", [*CONTROLS, "\x00"], ids=lambda c: f"U+{ord(c):04X}")
def test_each_unwanted_character_is_removed(control: str) -> None:
    assert clean(f"a{control}b{control}") == "ab"


@pytest.mark.parametrize(
    "kept",
    [
        "Принтер на 2-му поверсі\nне друкує\tзовсім",
        "שלום עולם مرحبا",  # right-to-left scripts are text, not controls
        "\u200e\u200f\u2060 ✅ 🔴",  # marks and joiners that display nothing harmful
        "<!channel> & *bold*",  # markup is escaped where it is shown, not here
    ],
)
def test_everything_else_is_kept(kept: str) -> None:
    assert clean(kept) == kept


def test_a_persons_name_is_cleaned_as_the_core_meets_it() -> None:
    assert UserRef("telegram", "1", "Eve\u202e lanimirc\u202c\x00").name == "Eve lanimirc"
