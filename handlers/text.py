"""What is done to every text a person supplies before the desk keeps it."""

from __future__ import annotations

# Bidirectional embeddings/overrides (U+202A-202E) and isolates (U+2066-2069) can make a text
# display differently from what it says ("Trojan Source"); NUL cannot be stored in a
# PostgreSQL text column. None of them is something a person means to write.
_UNWANTED = dict.fromkeys([0, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def clean(text: str) -> str:
    """``text`` without bidirectional controls and NUL bytes."""
    return text.translate(_UNWANTED)
