"""Folding and ranking of procedure search, shared by the unit portal and the city-wide index.

Search without extensions: names are stored folded (diacritics removed, lower case,
``Procedure.name_search`` and ``ProcedureIndex.name_search``), the query is folded the
same way, and one SQL ``CASE`` ranks each row:

0. exact code; 1. code or name starting with the query; 2. every word present as a
whole word; 3. the whole query or every word as a substring. Ties go to the shorter name.
"""

from __future__ import annotations

import re

from sqlalchemy import and_, case, func, literal, or_

from tenants.naming import strip_diacritics

NO_MATCH = 4


def fold(text: str | None) -> str:
    """Diacritics removed, lower case, runs of spaces collapsed: "Đăng  Ký" -> "dang ky"."""
    return " ".join(strip_diacritics(text or "").lower().split())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _word_regex(word: str) -> str:
    # PostgreSQL ARE: \m and \M are word boundaries; escape every non-alphanumeric character.
    return r"\m" + re.sub(r"([^a-z0-9])", r"\\\1", word) + r"\M"


def match_and_rank(code_column, search_column, query_text: str):
    """``(matches, rank)`` SQL expressions for a folded, non-empty ``query_text``.

    ``matches`` is true exactly when ``rank`` < ``NO_MATCH``; it uses only cheap LIKEs, so
    filter with it and order by ``rank``.
    """
    words = query_text.split()
    code = func.lower(code_column)
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
    # A name that starts with, or contains, the whole query contains every word too.
    return or_(code == query_text, code_prefix, every_word), rank
