"""Known solutions and saved replies as the core sees them, and how a description becomes a search.

Pure: ``storage/solutions.py`` keeps them and runs the full-text search (SQLite FTS5,
PostgreSQL ``tsvector`` with the ``simple`` configuration), both fed by :func:`search_terms`.

Why terms are cut to a prefix: the ``simple`` configuration (and FTS5's ``unicode61``) only fold
case, they do not stem, and Ukrainian inflects heavily ("принтер", "принтера", "принтером").
A word of five letters or more loses its last one or two letters and is searched as a prefix,
so "принтера" finds "принтер" and "papers" finds "paper", in either language, without a
dictionary. Short words and stop words are dropped: they would match nearly every solution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.config import localized

MAX_OFFERED = 3
MAX_TERMS = 12
_WORD = re.compile(r"[^\W_]+")

_ENGLISH_STOP_WORDS = (
    "the and for but not with this that from have has had was were are is it its our your my "
    "you they them when what which who how can cannot does doesn don did didn won "
    "please help hello thanks thank again still any all some there here about after before "
    "into onto out off very just also only then than too get got gets work works working"
)
_UKRAINIAN_STOP_WORDS = (
    "і й та але або не ні що як це той ця ці цей там тут вже ще так при для від до на по за "
    "під над про без біля через мене мені мій моя моє мої ваш ваша вам вас нас нам він вона "
    "воно вони його її їх був була було були є буде коли чому який яка яке які дуже теж також "
    "лише тільки знову будь ласка допоможіть привіт дякую працює працюють"
)
STOP_WORDS = frozenset(f"{_ENGLISH_STOP_WORDS} {_UKRAINIAN_STOP_WORDS}".split())


def search_terms(text: str) -> list[str]:
    """The prefixes a description is searched by: words folded to lower case, without stop words
    and words under three letters (a code such as "E5" stays), long words cut to a prefix."""
    terms: list[str] = []
    for word in _WORD.findall(text.casefold()):
        has_digit = any(ch.isdigit() for ch in word)
        if word in STOP_WORDS or len(word) < (2 if has_digit else 3):
            continue
        term = word if has_digit else _prefix(word)
        if term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def _prefix(word: str) -> str:
    if len(word) >= 6:
        return word[:-2]
    if len(word) == 5:
        return word[:-1]
    return word


@dataclass(frozen=True)
class KnownSolution:
    """A solution as offered or sent: texts per language, the link, where it came from."""

    id: int
    key: str | None  # the config id; None for a solution an operator saved
    title: dict[str, str]
    answer: dict[str, str]
    link: str = ""

    def title_in(self, language: str) -> str:
        return localized(self.title, language, f"#{self.id}")

    def answer_in(self, language: str) -> str:
        """The answer in ``language``, with the link on its own line when there is one."""
        answer = localized(self.answer, language)
        return f"{answer}\n{self.link}" if self.link else answer


@dataclass(frozen=True)
class SavedReplyText:
    """An everyday phrase an operator sends from a ticket's card."""

    id: int
    key: str | None
    title: dict[str, str]
    text: dict[str, str]

    def title_in(self, language: str) -> str:
        return localized(self.title, language, f"#{self.id}")

    def text_in(self, language: str) -> str:
        return localized(self.text, language)
