"""Parse the CIMI ``$filter`` language into a small syntax tree.

DSP0263 2.0.0 clause 4.1.6.1 gives the grammar; restated with the
extensions we accept::

    Filter   ::= AndExpr ( 'or' AndExpr )*
    AndExpr  ::= Comp ( 'and' Comp )*
    Comp     ::= Attribute Op Value | Value Op Attribute
               | 'property' '[' String ']' Op String
               | '(' Filter ')' | 'not' Comp
    Attribute::= Name ( '/' Name )*          (2.0 path notation)
    Op       ::= '<' | '<=' | '=' | '>=' | '>' | '!='
    Value    ::= [0-9]+ | xs:date | xs:dateTime | "..." | '...'
               | 'true' | 'false'

``and`` binds tighter than ``or``; ``not`` applies to the one comparison or
group right after it. The tree says nothing about SQL: ``cimi.store.sql``
translates it, and tests evaluate it in Python, which is why type checking
against attribute types happens there and not here.

Positions in errors are 0-based character offsets into the filter text.
"""

import dataclasses
import datetime
import re

from cimi.query.errors import FilterError

# APPSEC: the text comes straight from a URL. Length is checked before any
# lexing, so a 100 kB filter costs one len(); depth and size bound the
# recursion here and the expression depth of the generated SQL (SQLite
# refuses expressions deeper than 1000).
MAX_LENGTH = 4096
MAX_DEPTH = 32
MAX_COMPARISONS = 256

OPERATORS = ("<", "<=", "=", ">=", ">", "!=")
# The operator that keeps the meaning when the operands swap sides.
_MIRRORED = {"<": ">", "<=": ">=", "=": "=", "!=": "!=", ">": "<", ">=": "<="}

STRING, INTEGER, BOOLEAN, DATETIME = "string", "integer", "boolean", "dateTime"

_KEYWORDS = {"and": "AND", "or": "OR", "not": "NOT", "true": "BOOL", "false": "BOOL"}
_PUNCTUATION = {"(": "LPAREN", ")": "RPAREN", "[": "LBRACKET", "]": "RBRACKET"}
_WHITESPACE = re.compile(r"\s+")
_OPERATOR = re.compile(r"<=|>=|!=|<|>|=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
# A run of characters that can belong to a number or a date; it is cut
# out whole so that "3.2" or "2012-01-02ZZ" fail as one bad literal.
_NUMERIC_RUN = re.compile(r"[0-9][0-9A-Za-z_.:+\-]*")
_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
# xs:date and xs:dateTime (RFC 3339 profile): the time part is optional,
# fractional seconds take any number of digits, the zone is optional.
_DATE = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]+))?)?"
    r"(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?"
)


@dataclasses.dataclass(frozen=True)
class Literal:
    """A typed constant; ``type`` is one of the four filter types."""

    type: str
    value: object
    position: int


@dataclasses.dataclass(frozen=True)
class Comparison:
    """``path op literal``; reversed input is normalised to this order."""

    path: tuple
    op: str
    literal: Literal
    position: int


@dataclasses.dataclass(frozen=True)
class PropertyComparison:
    """``property['key'] op 'value'``: a lookup in the properties map."""

    key: str
    op: str
    literal: Literal
    position: int


@dataclasses.dataclass(frozen=True)
class Not:
    """The complement of one comparison or group."""

    operand: object
    position: int


@dataclasses.dataclass(frozen=True)
class And:
    """All operands hold; kept flat so long chains stay shallow."""

    operands: tuple


@dataclasses.dataclass(frozen=True)
class Or:
    """At least one operand holds."""

    operands: tuple


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    value: object
    position: int

    def describe(self):
        return "end of filter" if self.kind == "EOF" else repr(self.text)


def parse_datetime(text):
    """Parse an xs:date or xs:dateTime literal into an aware datetime.

    A value without a zone is taken as UTC: the store keeps UTC, and the
    spec leaves the zone of such values to the implementation.

    Raises:
        ValueError: if ``text`` is not a valid date or dateTime.
    """
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError(f"not an xs:dateTime: {text!r}")
    part = match.groupdict()
    zone = datetime.timezone.utc
    if part["tz"] and part["tz"] != "Z":
        sign = -1 if part["tz"][0] == "-" else 1
        hours, minutes = int(part["tz"][1:3]), int(part["tz"][4:6])
        if minutes > 59:
            raise ValueError(f"bad zone offset in {text!r}")
        zone = datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))
    fraction = (part["f"] or "0")[:6].ljust(6, "0")
    return datetime.datetime(
        int(part["y"]), int(part["mo"]), int(part["d"]),
        int(part["h"] or 0), int(part["mi"] or 0), int(part["s"] or 0),
        int(fraction), tzinfo=zone)


def _numeric_token(text, position):
    if _INTEGER.fullmatch(text):
        return _Token("VALUE", text, Literal(INTEGER, int(text), position), position)
    if _DECIMAL.fullmatch(text):
        raise FilterError(f"only whole numbers are allowed, not {text!r}", position)
    if "-" not in text:
        raise FilterError(f"invalid number {text!r}", position)
    try:
        value = parse_datetime(text)
    except ValueError:
        raise FilterError(f"invalid date {text!r}", position) from None
    return _Token("VALUE", text, Literal(DATETIME, value, position), position)


def _string_token(text, position):
    quote, chars, index = text[position], [], position + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            literal = Literal(STRING, "".join(chars), position)
            return _Token("VALUE", text[position:index + 1], literal, position), index + 1
        if char == "\\" and index + 1 < len(text):
            index += 1
            char = text[index]
        chars.append(char)
        index += 1
    raise FilterError("unterminated string", position)


def _name_token(name, position):
    kind = _KEYWORDS.get(name, "NAME")
    if kind == "BOOL":
        return _Token("VALUE", name, Literal(BOOLEAN, name == "true", position), position)
    return _Token(kind, name, tuple(name.split("/")), position)


def tokenize(text):
    """Split ``text`` into tokens, ending with an EOF token.

    Raises:
        FilterError: at the first character that starts no token.
    """
    tokens, position = [], 0
    while position < len(text):
        char = text[position]
        if match := _WHITESPACE.match(text, position):
            position = match.end()
            continue
        if char in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[char], char, None, position))
            position += 1
        elif match := _OPERATOR.match(text, position):
            tokens.append(_Token("OP", match.group(), match.group(), position))
            position = match.end()
        elif char in "'\"":
            token, position = _string_token(text, position)
            tokens.append(token)
        elif match := _NUMERIC_RUN.match(text, position):
            tokens.append(_numeric_token(match.group(), position))
            position = match.end()
        elif match := _NAME.match(text, position):
            tokens.append(_name_token(match.group(), position))
            position = match.end()
        else:
            raise FilterError(f"unexpected character {char!r}", position)
    tokens.append(_Token("EOF", "", None, len(text)))
    return tokens


class _Parser:
    """Recursive descent over the token list; one method per rule."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.index = 0
        self.comparisons = 0

    def peek(self, offset=0):
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def take(self, kind, expected):
        token = self.peek()
        if token.kind != kind:
            raise FilterError(f"expected {expected}, got {token.describe()}", token.position)
        self.index += 1
        return token

    def filter(self, depth):
        return self.joined("OR", Or, lambda: self.and_expr(depth))

    def and_expr(self, depth):
        return self.joined("AND", And, lambda: self.comp(depth))

    def joined(self, keyword, node, operand):
        # A loop, not the spec's right recursion: same meaning, flat tree.
        operands = [operand()]
        while self.peek().kind == keyword:
            self.index += 1
            operands.append(operand())
        return operands[0] if len(operands) == 1 else node(tuple(operands))

    def comp(self, depth):
        token = self.peek()
        if depth >= MAX_DEPTH:
            raise FilterError(f"filter nested deeper than {MAX_DEPTH} levels", token.position)
        if token.kind == "NOT":
            self.index += 1
            return Not(self.comp(depth + 1), token.position)
        if token.kind == "LPAREN":
            self.index += 1
            inner = self.filter(depth + 1)
            self.take("RPAREN", "')'")
            return inner
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise FilterError(f"filter has more than {MAX_COMPARISONS} comparisons", token.position)
        if token.kind == "NAME" and token.text == "property" and self.peek(1).kind == "LBRACKET":
            return self.property_comp()
        if token.kind == "NAME":
            self.index += 1
            op = self.take("OP", "an operator").value
            return Comparison(token.value, op, self.value("a value"), token.position)
        if token.kind == "VALUE":
            self.index += 1
            op = self.take("OP", "an operator").value
            name = self.peek()
            if name.kind == "NAME" and name.text == "property" and self.peek(1).kind == "LBRACKET":
                raise FilterError("property[...] must be on the left", name.position)
            name = self.take("NAME", "an attribute")
            return Comparison(name.value, _MIRRORED[op], token.value, name.position)
        raise FilterError(
            f"unexpected {token.describe()}; expected an attribute, a value, 'not' or '('",
            token.position)

    def property_comp(self):
        start = self.take("NAME", "property").position
        self.take("LBRACKET", "'['")
        key = self.value("a quoted property key", STRING)
        self.take("RBRACKET", "']'")
        op = self.take("OP", "an operator").value
        return PropertyComparison(key.value, op, self.value("a quoted string", STRING), start)

    def value(self, expected, type_=None):
        token = self.peek()
        if token.kind != "VALUE" or (type_ and token.value.type != type_):
            raise FilterError(f"expected {expected}, got {token.describe()}", token.position)
        self.index += 1
        return token.value


def parse(text):
    """Parse one ``$filter`` value into a syntax tree.

    Args:
        text: The decoded parameter value.

    Returns:
        A Comparison, PropertyComparison, Not, And or Or node.

    Raises:
        FilterError: with the offset of the first problem.
    """
    if len(text) > MAX_LENGTH:
        raise FilterError(f"filter longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if "\0" in text:
        # NOTE: PostgreSQL text cannot hold NUL, so no resource could match,
        # and psycopg2 refuses to send it; refuse it here on every database.
        raise FilterError("NUL character in filter", text.index("\0"))
    parser = _Parser(tokenize(text))
    if parser.peek().kind == "EOF":
        raise FilterError("empty filter", 0)
    tree = parser.filter(0)
    token = parser.peek()
    if token.kind != "EOF":
        raise FilterError(f"unexpected {token.describe()}", token.position)
    return tree
