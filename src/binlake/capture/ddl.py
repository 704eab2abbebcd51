"""DDL statements of the binlog (QUERY events) → the tables whose rows or layout they change.

A statement is read with a small tokenizer, not with regular expressions over its text: comments (``/* */``,
``-- ``, ``#``) are skipped wherever they are, executable comments (``/*!40101 ... */``, ``/*M!100100 ... */``)
are read as the server reads them, and identifiers may be backquoted (or double-quoted under ANSI_QUOTES) and
hold any character, including spaces, dots, quotes and keywords.

``parse_ddl`` returns one ``DdlAction`` per table the statement touches:

- ``create``: a table now exists with this name (CREATE TABLE, incl. LIKE, AS SELECT, OR REPLACE);
- ``alter``: the table's layout may change, its rows do not (ALTER TABLE, CREATE/DROP INDEX);
- ``truncate``: rows were deleted or replaced without row events (TRUNCATE, ALTER TABLE ... TRUNCATE/DROP/
  EXCHANGE/CONVERT PARTITION, IMPORT TABLESPACE, ENGINE=BLACKHOLE): the table must be loaded again;
- ``drop``: the table is gone;
- ``rename``: ``schema.table`` is now ``new_schema.new_table`` (RENAME TABLE, ALTER TABLE ... RENAME);
- ``drop_database``: every table of ``schema`` is gone (``table`` is None).

Temporary tables are never replicated, so their statements give no action, as do statements on other
objects (views, triggers, routines, users, sequences) and anything that is not DDL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from binlake.errors import BinlakeError

Kind = Literal["create", "alter", "truncate", "drop", "rename", "drop_database"]


@dataclass(frozen=True)
class DdlAction:
    kind: Kind
    schema: str
    table: str | None
    new_schema: str | None = None
    new_table: str | None = None


@dataclass(frozen=True)
class Token:
    """``word``: an unquoted word (keyword or name); ``name``: a quoted identifier, unquoted; ``string``: a
    string literal in single quotes, ``dstring`` in double quotes; ``symbol``: one punctuation character."""

    kind: Literal["word", "name", "string", "dstring", "symbol"]
    text: str

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


# An unquoted identifier: ASCII letters, digits, '$', '_' and any character from U+0080 (MariaDB's rule).
_WORD = re.compile(r"[0-9A-Za-z$_\u0080-\U0010ffff]+")
_SPACE = re.compile(r"\s+")
_EXECUTABLE = re.compile(r"/\*M?!\d{0,6}")


class DdlSyntaxError(BinlakeError):
    """The statement could not be tokenized (an unterminated quote or comment)."""


def tokenize(sql: str, ansi_quotes: bool = False, backslash_escapes: bool = True) -> Iterator[Token]:
    """The tokens of ``sql``, comments and whitespace skipped, lazily (a caller that has seen enough stops).

    ``ansi_quotes`` and ``backslash_escapes`` follow the session's sql_mode (ANSI_QUOTES,
    NO_BACKSLASH_ESCAPES); a double-quoted token is an identifier under ANSI_QUOTES, a string otherwise.
    """
    pos, end, executable = 0, len(sql), 0
    while pos < end:
        char = sql[pos]
        if char.isspace():
            pos = _SPACE.match(sql, pos).end()  # type: ignore[union-attr]
        elif sql.startswith("/*", pos):
            opener = _EXECUTABLE.match(sql, pos)
            if opener:  # executed by the server: its content is part of the statement
                executable += 1
                pos = opener.end()
                continue
            close = sql.find("*/", pos + 2)
            if close < 0:
                raise DdlSyntaxError(f"unterminated comment at offset {pos}")
            pos = close + 2
        elif executable and sql.startswith("*/", pos):
            executable -= 1
            pos += 2
        elif char == "#" or (sql.startswith("--", pos) and (pos + 2 == end or sql[pos + 2] <= " ")):
            newline = sql.find("\n", pos)
            pos = end if newline < 0 else newline + 1
        elif char == "`" or (char == '"' and ansi_quotes):
            text, pos = _quoted(sql, pos, escapes=False)
            yield Token("name", text)
        elif char in "'\"":
            text, pos = _quoted(sql, pos, escapes=backslash_escapes)
            yield Token("string" if char == "'" else "dstring", text)
        else:
            word = _WORD.match(sql, pos)
            if word:
                yield Token("word", word.group())
                pos = word.end()
            else:
                yield Token("symbol", char)
                pos += 1


def _quoted(sql: str, start: int, escapes: bool) -> tuple[str, int]:
    """The text of the quoted token at ``start`` (doubled quotes and, for strings, backslash escapes undone)
    and the offset after it."""
    quote = sql[start]
    parts: list[str] = []
    pos = start + 1
    while True:
        stop = sql.find(quote, pos)
        backslash = sql.find("\\", pos) if escapes else -1
        if 0 <= backslash < stop:
            parts.append(sql[pos:backslash] + sql[backslash + 1 : backslash + 2])
            pos = backslash + 2
            continue
        if stop < 0:
            raise DdlSyntaxError(f"unterminated {quote} quote at offset {start}")
        parts.append(sql[pos:stop])
        if sql.startswith(quote * 2, stop):
            parts.append(quote)
            pos = stop + 2
            continue
        return "".join(parts), stop + 1


class _Cursor:
    """Tokens with lookahead; ``accept`` and ``name`` consume, ``peek`` does not."""

    def __init__(self, tokens: Iterator[Token], default_schema: str) -> None:
        self.tokens = tokens
        self.ahead: list[Token] = []
        self.default_schema = default_schema

    def peek(self, offset: int = 0) -> Token | None:
        while len(self.ahead) <= offset:
            token = next(self.tokens, None)
            if token is None:
                return None
            self.ahead.append(token)
        return self.ahead[offset]

    def next(self) -> Token | None:
        token = self.peek()
        if token is not None:
            self.ahead.pop(0)
        return token

    def accept(self, *words: str) -> bool:
        """Consume the keywords ``words`` in sequence if they come next, else nothing."""
        for offset, word in enumerate(words):
            token = self.peek(offset)
            if token is None or not token.is_word(word):
                return False
        del self.ahead[: len(words)]
        return True

    def symbol(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "symbol" and token.text == char:
            self.next()
            return True
        return False

    def identifier(self) -> str | None:
        """One identifier, quoted or not (a double-quoted string counts: in a name's place the server only
        accepts it under ANSI_QUOTES)."""
        token = self.peek()
        if token is None or token.kind in ("symbol", "string"):
            return None
        self.next()
        return token.text

    def name(self) -> tuple[str, str] | None:
        """A table name, ``table`` or ``schema.table`` → (schema, table)."""
        first = self.identifier()
        if first is None:
            return None
        if self.symbol("."):
            second = self.identifier()
            if second is None:
                return None
            return first, second
        return self.default_schema, first

    def skip_wait(self) -> None:
        """MariaDB's lock-wait option: WAIT n | NOWAIT."""
        if self.accept("WAIT"):
            self.next()
        else:
            self.accept("NOWAIT")

    def rest(self) -> Iterator[Token]:
        while (token := self.next()) is not None:
            yield token


def parse_ddl(
    sql: str, default_schema: str, ansi_quotes: bool = False, backslash_escapes: bool | None = None
) -> list[DdlAction]:
    """The tables a statement creates, alters, empties, drops or renames; [] for anything else.

    ``default_schema`` is the statement's current database (the QUERY event's), used for unqualified names.
    ``backslash_escapes`` None means the session's sql_mode is unknown: the statement is read with backslash
    escapes (MariaDB's default) and, if that leaves a quote open, again without (NO_BACKSLASH_ESCAPES): the
    server executed the statement, so only one reading can be complete.
    """
    try:
        try:
            return _statement(_Cursor(tokenize(sql, ansi_quotes, backslash_escapes is not False), default_schema))
        except DdlSyntaxError:
            if backslash_escapes is not None:
                raise
            return _statement(_Cursor(tokenize(sql, ansi_quotes, False), default_schema))
    except DdlSyntaxError as exc:
        raise DdlSyntaxError(
            f"cannot read the DDL statement {sql[:120]!r}: {exc.message}",
            fix="report the statement; to go on, start the task with --start-replication-task-type reload-target",
        ) from None


def _statement(cursor: _Cursor) -> list[DdlAction]:
    if cursor.accept("CREATE"):
        return _create(cursor)
    if cursor.accept("ALTER"):
        return _alter(cursor)
    if cursor.accept("DROP"):
        return _drop(cursor)
    if cursor.accept("TRUNCATE"):
        return _truncate(cursor)
    if cursor.accept("RENAME"):
        return _rename(cursor)
    return []


def _create(cursor: _Cursor) -> list[DdlAction]:
    cursor.accept("OR", "REPLACE")
    if cursor.accept("TEMPORARY"):
        return []
    if cursor.accept("TABLE"):
        cursor.accept("IF", "NOT", "EXISTS")
        name = cursor.name()
        return [DdlAction("create", *name)] if name else []
    for word in ("ONLINE", "OFFLINE", "UNIQUE", "FULLTEXT", "SPATIAL"):
        cursor.accept(word)
    if cursor.accept("INDEX"):  # an index can be the primary key (DROP INDEX `PRIMARY`): a layout change
        return _index_target(cursor)
    return []


def _index_target(cursor: _Cursor) -> list[DdlAction]:
    """``[IF [NOT] EXISTS] index_name [USING type] ON table``, after CREATE/DROP ... INDEX."""
    cursor.accept("IF", "NOT", "EXISTS") or cursor.accept("IF", "EXISTS")
    cursor.identifier()
    for token in cursor.rest():
        if token.is_word("ON"):
            name = cursor.name()
            return [DdlAction("alter", *name)] if name else []
    return []


def _drop(cursor: _Cursor) -> list[DdlAction]:
    if cursor.accept("TEMPORARY"):
        return []
    if cursor.accept("DATABASE") or cursor.accept("SCHEMA"):
        cursor.accept("IF", "EXISTS")
        schema = cursor.identifier()
        return [DdlAction("drop_database", schema, None)] if schema is not None else []
    if cursor.accept("INDEX"):
        return _index_target(cursor)
    if not cursor.accept("TABLE"):
        return []
    cursor.accept("IF", "EXISTS")
    actions = []
    while (name := cursor.name()) is not None:
        actions.append(DdlAction("drop", *name))
        if not cursor.symbol(","):
            break
    return actions


def _truncate(cursor: _Cursor) -> list[DdlAction]:
    following = cursor.peek(1)
    if following is not None and following.kind != "symbol" and not following.is_word("WAIT", "NOWAIT"):
        cursor.accept("TABLE")  # TRUNCATE TABLE t; but TRUNCATE `table` or TRUNCATE table WAIT 1 name a table
    name = cursor.name()
    return [DdlAction("truncate", *name)] if name else []


def _rename(cursor: _Cursor) -> list[DdlAction]:
    if not (cursor.accept("TABLE") or cursor.accept("TABLES")):
        return []  # RENAME USER
    cursor.accept("IF", "EXISTS")
    actions = []
    while (old := cursor.name()) is not None:
        cursor.skip_wait()
        if not cursor.accept("TO") or (new := cursor.name()) is None:
            break
        actions.append(DdlAction("rename", *old, *new))
        if not cursor.symbol(","):
            break
    return actions


def _alter(cursor: _Cursor) -> list[DdlAction]:
    cursor.accept("ONLINE")
    cursor.accept("IGNORE")
    if not cursor.accept("TABLE"):
        return []  # ALTER DATABASE, VIEW, SEQUENCE, USER, ...
    cursor.accept("IF", "EXISTS")
    name = cursor.name()
    if name is None:
        return []
    cursor.skip_wait()
    own = "alter"
    renamed: tuple[str, str] | None = None
    others: list[DdlAction] = []
    for clause in _clauses(cursor):
        spec = _Cursor(iter(clause), cursor.default_schema)
        if spec.accept("RENAME"):
            following = spec.peek()
            if following is not None and not following.is_word("COLUMN", "INDEX", "KEY"):
                spec.accept("TO") or spec.accept("AS")
                renamed = spec.name() or renamed
        elif spec.accept("TRUNCATE", "PARTITION") or spec.accept("DROP", "PARTITION"):
            own = "truncate"
        elif spec.accept("EXCHANGE", "PARTITION"):
            # The partition's rows and the other table's rows swap places: both tables must be loaded again.
            own = "truncate"
            spec.identifier()
            if spec.accept("WITH", "TABLE") and (other := spec.name()):
                others.append(DdlAction("truncate", *other))
        elif spec.accept("CONVERT", "PARTITION"):  # MariaDB 10.7: the partition becomes a table of its own
            own = "truncate"
            spec.identifier()
            if spec.accept("TO", "TABLE") and (other := spec.name()):
                others.append(DdlAction("create", *other))
        elif spec.accept("CONVERT", "TABLE"):  # MariaDB 10.7: a table becomes a partition of this one
            own = "truncate"
            if other := spec.name():
                others.append(DdlAction("drop", *other))
        elif _replaces_rows(clause):
            own = "truncate"
    if renamed is not None:
        return [DdlAction("rename", *name, *renamed), *others]
    return [DdlAction(own, *name), *others]  # type: ignore[arg-type]


def _clauses(cursor: _Cursor) -> Iterator[list[Token]]:
    """The rest of an ALTER TABLE split at top-level commas (a partition list gives extra, harmless clauses)."""
    clause: list[Token] = []
    depth = 0
    for token in cursor.rest():
        if token.kind == "symbol" and token.text in "()":
            depth += 1 if token.text == "(" else -1
        elif token.kind == "symbol" and token.text == "," and depth == 0:
            yield clause
            clause = []
            continue
        clause.append(token)
    yield clause


def _replaces_rows(clause: list[Token]) -> bool:
    """IMPORT [PARTITION ...] TABLESPACE brings other rows in; ENGINE=BLACKHOLE throws them all away."""
    if clause and clause[0].is_word("IMPORT") and any(t.is_word("TABLESPACE") for t in clause):
        return True
    for index, token in enumerate(clause):
        if token.is_word("ENGINE"):
            following = clause[index + 1 : index + 3]
            if following and following[0].kind == "symbol" and following[0].text == "=":
                following = following[1:]
            if following and following[0].text.upper() == "BLACKHOLE":
                return True
    return False
