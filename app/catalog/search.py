"""Folding and ranking of procedure search, shared by the unit portal and the city-wide index.

Search without extensions: names are stored folded (diacritics removed, lower case,
``Procedure.name_search`` and ``ProcedureIndex.name_search``), the query is folded the
same way, and one SQL ``CASE`` ranks each row:

0. exact code; 1. code or name starting with the query; 2. every word present as a
whole word; 3. the whole query or every word as a substring. Ties go to the shorter name.
"""

from __future__ import annotations

import re

from sqlalchemy import and_, case, literal, or_

from tenants.naming import strip_diacritics

NO_MATCH = 4


def fold(text: str | None) -> str:
    """Diacritics removed, lower case, runs of spaces collapsed: "Đăng  Ký" -> "dang ky"."""
    return " ".join(strip_diacritics(text or "").lower().split())


def trigrams(text: str) -> list[str]:
    """Every 3-character piece of every word of folded ``text``, sorted (what a GIN index looks up).

    A query word that is a substring of a name has each of its trigrams among the name's
    (a word never spans a space), so "name's trigrams contain the query's" is a safe
    prefilter for the substring match below, without the pg_trgm extension.
    """
    return sorted({word[i : i + 3] for word in text.split() for i in range(len(word) - 2)})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _word_regex(word: str) -> str:
    # PostgreSQL ARE: \m and \M are word boundaries; escape every non-alphanumeric character.
    return r"\m" + re.sub(r"([^a-z0-9])", r"\\\1", word) + r"\M"


def match_and_rank(code_search, search_column, query_text: str, *, trigram_column=None):
    """``(matches, rank)`` SQL expressions for a folded, non-empty ``query_text``.

    ``code_search`` is the code in lower case (``func.lower(code)`` or a stored copy).
    ``matches`` is true exactly when ``rank`` < ``NO_MATCH``; it uses only cheap LIKEs, so
    filter with it and order by ``rank``. With ``trigram_column`` (an array of
    ``trigrams(search text)`` under a GIN index) the name part of ``matches`` is first
    narrowed by that index; the result is the same.
    """
    words = query_text.split()
    code = code_search
    prefix = f"{_escape_like(query_text)}%"
    code_prefix = code.like(prefix, escape="\\")
    every_word = and_(*(search_column.like(f"%{_escape_like(w)}%", escape="\\") for w in words))
    whole_words = and_(*(search_column.op("~")(_word_regex(w)) for w in words))
    rank = case(
        (code == query_text, 0),
        (or_(code_prefix, search_column.like(prefix, escape="\\")), 1),
        (whole_words, 2),
        (or_(search_column.like(f"%{_escape_like(query_text)}%", escape="\\"), every_word), 3),
        else_=literal(NO_MATCH),
    ).label("rank")
    grams = trigrams(query_text)
    if trigram_column is not None and grams:
        every_word = and_(trigram_column.contains(grams), every_word)
    # A name that starts with, or contains, the whole query contains every word too.
    return or_(code == query_text, code_prefix, every_word), rank
