"""The template compiler: a :class:`rweb.html.Template`'s source cut into statics and holes, once.

A source is HTML with ``{name}`` placeholders (Python's format syntax: ``{{`` and ``}}``
are literal braces).  It is parsed here by the standard library's
:class:`html.parser.HTMLParser` and written out again, normalised and escaped, so what
a template sends is well-formed whatever its source's spelling:

* a placeholder stands for an attribute's whole value (``class={cls}`` or
  ``class="{cls}"``) or for content (``<span>{title}</span>``); anywhere else (a tag's
  name, an attribute's name, part of a value, a comment, ``<script>`` or ``<style>``
  text) is a :class:`TemplateError`;
* every element is closed explicitly, in order (``<li>`` without ``</li>`` is an
  error); void elements (``<input>``, ``<br>``...) take no end tag, and ``<div/>`` is
  ``<div></div>``;
* literal attributes are checked now, as an element's are at each render: ``on*``
  event handlers and unsafe URLs are refused, and the actions they bind
  (``data-action="toggle"``) are recorded for the page;
* comments are dropped; declarations and processing instructions are refused;
* text and attribute values are escaped again (character references decoded, then
  escaped), but inside ``<script>`` and ``<style>``, which browsers do not decode.

The outcome (:class:`Compiled`): the statics between the holes, each hole's value
name, the attribute it fills (None: content), its element's tag and how deep it sits,
and whether the template is one element (``rooted``: then a component's ``data-rc``
goes on it, after ``head``, the markup up to its tag's name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from string import Formatter
from sys import intern
from typing import Any

from .html import (
    _RAW_TEXT,
    _VOID,
    KIND_ACTION,
    KIND_ACTION_LIST,
    TemplateError,
    _check_attr,
    _check_tag,
    _html_attr_name,
    escape,
)

__all__ = ["Compiled", "compile_source"]

# A hole while the source is parsed: characters of Unicode's private use area, refused in sources.
_OPEN_MARK = "\ue000"
_CLOSE_MARK = "\ue001"
_HOLE = re.compile("\ue000(\\d+)\ue001")


@dataclass(frozen=True, slots=True)
class Compiled:
    """A source cut into statics and holes (see the module's docstring)."""

    head: str
    pieces: tuple[str, ...]
    names: tuple[str, ...]
    attrs: tuple[str | None, ...]
    tags: tuple[str, ...]
    rooms: tuple[int, ...]
    actions: frozenset[str]
    rooted: bool


def compile_source(source: str) -> Compiled:
    """Compile ``source`` (leading and trailing whitespace dropped); :class:`TemplateError` if it is refused."""
    if not isinstance(source, str):
        raise TypeError(f"a template's source is a str, not {type(source).__name__}")
    if _OPEN_MARK in source or _CLOSE_MARK in source:
        raise TemplateError("a template may not hold the characters U+E000 and U+E001 (rweb marks its holes with them)")
    names: list[str] = []
    marked: list[str] = []
    try:
        fields = list(Formatter().parse(source.strip()))
    except ValueError as exc:  # a lone { or }
        raise TemplateError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
    for literal, field, spec, conversion in fields:
        if literal.startswith("/>") and marked and marked[-2].endswith("="):
            literal = " " + literal  # <input value={v}/>: the slash closes the tag, not part of the value
        marked.append(literal)
        if field is None:
            continue
        if not field.isidentifier():
            raise TemplateError(f"a placeholder is a name, like {{title}}: not {{{field}}}")
        if spec or conversion:
            raise TemplateError(f"{{{field}}}: no format spec or conversion in a template (format the value in Python)")
        if literal.endswith(("<", "</")):
            raise TemplateError(f"{{{field}}}: a placeholder cannot name an element")
        marked.append(f"{_OPEN_MARK}{len(names)}{_CLOSE_MARK}")
        names.append(intern(field))  # the very key a call's keyword is: a dict hit without comparing
    builder = _Builder(names)
    builder.feed("".join(marked))
    return builder.finish()


class _Builder(HTMLParser):
    """Writes the parsed source out again as statics and holes."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.names = names
        self.out: list[Any] = []  # statics (str) and holes (int: the index in names)
        self.stack: list[str] = []
        self.attrs: list[str | None] = []
        self.tags: list[str] = []
        self.rooms: list[int] = []
        self.actions: set[str] = set()
        self.roots = 0  # elements at the top level
        self.loose = False  # text or a hole at the top level
        self.root_split = -1  # where the first top-level element's tag name ends, in out

    def error_at(self, message: str, kind: type[ValueError] = TemplateError) -> ValueError:
        """``kind(message)``, saying where in the source the parser stands."""
        line, col = self.getpos()
        return kind(f"{message} (line {line}, column {col + 1})")

    def hole(self, text: str, attr: str | None, tag: str) -> None:
        i = int(text)
        self.attrs.append(attr)
        self.tags.append(tag)
        self.rooms.append(1 + len(self.stack))
        self.out.append(len(self.attrs) - 1)
        if i != len(self.attrs) - 1:  # one before it went where HTMLParser keeps nothing (an end tag's attributes)
            raise self.error_at(f"{{{self.names[len(self.attrs) - 1]}}} stands where no value goes")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.element(tag, attrs, False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.element(tag, attrs, True)

    def element(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        if _OPEN_MARK in tag:
            raise self.error_at("a placeholder cannot name an element")
        _check_tag(tag)
        out = self.out
        out.append("<" + tag)
        if not self.stack:
            self.roots += 1
            if self.root_split < 0:
                self.root_split = len(out)
        seen: set[str] = set()
        for key, value in attrs:
            if _OPEN_MARK in key:
                raise self.error_at(
                    f"<{tag}>: a placeholder stands for an attribute's whole value or for content, not for attributes"
                )
            if key in seen:
                raise self.error_at(f"<{tag}>: the attribute {key!r} is given twice")
            seen.add(key)
            try:
                name = _html_attr_name(intern(key))  # as element functions' names: one object per name
            except ValueError as exc:  # UnsafeAttributeError too: the same error, saying where
                raise self.error_at(str(exc), type(exc)) from None
            if value is None:
                out.append(" " + name)
                continue
            hole = _HOLE.fullmatch(value)
            if hole is not None:
                self.hole(hole.group(1), name, tag)
                continue
            if _OPEN_MARK in value:
                raise self.error_at(
                    f"<{tag} {key}=...>: a placeholder is an attribute's whole value ({key}={{x}}); "
                    "build the value in Python"
                )
            kind = getattr(name, "kind", 0)
            if kind == KIND_ACTION:
                self.actions.add(value)
            elif kind == KIND_ACTION_LIST:
                self.actions.update(value.split())
            elif kind:
                try:
                    _check_attr(kind, name, value, value, tag)  # a literal unsafe URL is refused now
                except ValueError as exc:
                    raise self.error_at(str(exc), type(exc)) from None
            out.append(f' {name}="{escape(value)}"')
        out.append(">")
        if tag in _VOID:
            return
        if closed:
            out.append(f"</{tag}>")
        else:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            raise self.error_at(f"</{tag}>: <{tag}> is a void element, without an end tag")
        if not self.stack:
            raise self.error_at(f"</{tag}> closes no open element")
        if self.stack[-1] != tag:
            raise self.error_at(f"</{tag}> where </{self.stack[-1]}> was expected (close every element in order)")
        self.stack.pop()
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        stack = self.stack
        if stack and stack[-1] in _RAW_TEXT:
            if _OPEN_MARK in data:
                raise self.error_at(
                    f"<{stack[-1]}>: no placeholder in text browsers do not decode (pass data in an attribute)"
                )
            self.out.append(data)  # as written: browsers do not decode it
            return
        parts = _HOLE.split(data)
        tag = stack[-1] if stack else ""
        for i, part in enumerate(parts):
            if i % 2:
                self.hole(part, None, tag)
                if not stack:
                    self.loose = True
            elif part:
                self.out.append(escape(part))
                if not stack and part.strip():
                    self.loose = True

    def handle_comment(self, data: str) -> None:
        if _OPEN_MARK in data:
            raise self.error_at("no placeholder in a comment")

    def handle_decl(self, decl: str) -> None:
        raise self.error_at(f"<!{decl}>: no declarations in a template")

    def unknown_decl(self, data: str) -> None:
        raise self.error_at(f"<![{data}>: not in a template")

    def handle_pi(self, data: str) -> None:
        raise self.error_at(f"<?{data}>: no processing instructions in a template")

    def finish(self) -> Compiled:
        self.close()
        if self.stack:
            raise TemplateError(f"<{self.stack[-1]}> is never closed (close every element explicitly)")
        if len(self.attrs) != len(self.names):
            raise TemplateError(f"{{{self.names[len(self.attrs)]}}} stands where no value goes")
        rooted = self.roots == 1 and not self.loose
        head = ""
        pieces: list[str] = []
        cur: list[str] = []
        for k, seg in enumerate(self.out):
            if rooted and k == self.root_split:
                head = "".join(cur)
                cur = []
            if type(seg) is int:
                pieces.append("".join(cur))
                cur = []
            else:
                cur.append(seg)
        pieces.append("".join(cur))
        return Compiled(
            head=head,
            pieces=tuple(pieces),
            names=tuple(self.names),
            attrs=tuple(self.attrs),
            tags=tuple(self.tags),
            rooms=tuple(self.rooms),
            actions=frozenset(self.actions),
            rooted=rooted,
        )
