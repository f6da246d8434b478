"""The edit protocol: the tags in a model's answer that change a project's files, parsed and applied.

A model answers a chat message with prose and tags. The tags ask for file changes::

    <mm-write path="src/App.tsx" description="...">FULL FILE CONTENT</mm-write>
    <mm-edit path="src/App.tsx" description="...">
    <<<<<<< SEARCH
    exact old lines
    =======
    new lines
    >>>>>>> REPLACE
    </mm-edit>
    <mm-rename from="a.ts" to="b.ts"></mm-rename>         (or self-closing: <mm-rename ... />)
    <mm-delete path="a.ts"></mm-delete>                    (or self-closing)
    <mm-add-dependency packages="react-router-dom zod"></mm-add-dependency>
    <mm-chat-summary>Short title</mm-chat-summary>

dyad's names (``dyad-write``, ``dyad-search-replace``, ``dyad-rename``, ``dyad-delete``,
``dyad-add-dependency``, ``dyad-chat-summary``) mean the same, so imported chats replay.
Tag names are case-insensitive.

:func:`parse_answer` turns an answer into actions, the chat summary, the prose to display and the
problems (tags that were rejected, with a reason for the user). :func:`apply_actions` applies
actions to an in-memory working copy. Neither touches storage and neither raises on bad input.

Reading rules (each one fixes a way a model's answer goes wrong):

* CRLF line endings in the answer become LF before anything else (a lone CR is kept).
* ``<think>...</think>`` sections are reasoning, not instructions: tags inside are ignored and the
  section is not part of the prose. A ``<think>`` that is never closed runs to the end.
* The body of a tag is opaque: text that looks like a tag inside a file's content is content.
  A body ends at the first closing tag of the same name, so a file cannot contain its own
  closing tag (``</mm-write>`` inside an ``mm-write``); write such a file with ``dyad-write``.
* Attributes may come in any order, with double quotes, single quotes or none; unknown
  attributes are ignored; when an attribute is repeated the first one counts. Entity references
  are decoded in attribute values only (``&quot; &apos; &amp; &lt; &gt;`` and numeric ``&#..;``
  / ``&#x..;``, each with its semicolon; nothing else): bodies are never unescaped, so ``&amp;``
  in JSX stays ``&amp;``.
* Every path goes through :func:`mm_common.paths.normalize_path`; a path it refuses rejects
  that tag, with its message.
* A file's content is the body with: one leading line removed if it is blank (the newline right
  after the opening tag, with any spaces before it); a code fence removed when it wraps the whole
  body (see :func:`strip_wrapping_fence`); spaces and tabs after the last newline removed (an
  indented closing tag); and a final newline added when the body does not end with one. The
  newlines the model wrote before the closing tag are kept as they are. An empty body writes an
  empty file.
* A body tag (write, edit, summary) without its closing tag means the answer was cut off: the
  action is rejected rather than writing half a file, and the rest of the answer is dropped.
  A write or edit opening tag without a path, when its closing tag is missing or comes after
  another tag, is a mention (``the <mm-write> tag`` in prose) and stays text; so does a rename,
  delete or add-dependency tag with no attribute at all and no closing tag.
* A tag whose attributes cannot be read (a stray quote, an unclosed value) is rejected; for a
  body tag, everything up to its closing tag goes with it.
* A write whose content holds a placeholder for code the model left out (``// ... rest of the
  code``, ``{/* ... */}``, ...) is rejected; see :func:`find_placeholder`. So is an edit whose
  REPLACE text adds one.
* Rename, delete and add-dependency need only their attributes: the closing tag is optional and
  any text between the tags is ignored.
* Package names are split on spaces and commas and must look like npm names, optionally with a
  version (``zod@^3.23``); URLs, paths and options are refused.
* The summary is the text of the first non-empty chat-summary tag, with runs of whitespace made
  single spaces and cut to at most 100 characters (ending with "…" when cut).
* Other text is prose: what remains after removing the tags and thinking, with runs of blank
  lines reduced to one, stripped.

Applying (:func:`apply_actions`): deletes first, then renames, then edits, then writes (then
dependencies are listed); within a phase actions keep the answer's order. So an edit applies to
a file's new name after a rename, and a write after an edit of the same file wins (the edit is
applied, then overwritten). Two writes of one path: the later wins. An edit of a file that only
a write of the same answer creates fails (it does not exist yet when edits run). Deleting or
renaming a path that is a folder deletes or moves every file under it. A rename onto an existing
file, a write or rename that would make a file and a folder share a path, and any refused path
fail. A failed action changes nothing, and the others still apply.

Search/replace: blocks apply in order, each to the text the previous one produced. A SEARCH
section matches whole lines. It must match exactly one place: first the lines are compared
exactly; only when that finds nothing are they compared ignoring spaces and tabs at the end of
each line (on both sides; indentation and inner whitespace must still match). Zero matches,
several matches, an empty SEARCH section or a missing file fail the whole edit, and the file is
left as it was. The REPLACE lines are inserted as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from mm_common.paths import PathError, language_for, normalize_path

SUMMARY_MAX_LENGTH = 100
NPM_NAME_MAX_LENGTH = 214


# ---------------------------------------------------------------------------------------------
# Public data


@dataclass(frozen=True, slots=True)
class WriteFile:
    """Create or overwrite ``path`` with ``content`` (the whole file)."""

    path: str
    content: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class SearchReplace:
    """One block of an edit: whole lines ``search`` are replaced by the lines ``replace``.

    Both are newline-terminated lines as the model wrote them ("" is no lines; a last line without
    its newline is accepted too).
    """

    search: str
    replace: str


@dataclass(frozen=True, slots=True)
class EditFile:
    """Change parts of an existing file: ``blocks`` apply in order."""

    path: str
    blocks: list[SearchReplace]
    description: str = ""


@dataclass(frozen=True, slots=True)
class RenameFile:
    """Move a file (or a folder: every file under it) from ``source`` to ``target``."""

    source: str
    target: str


@dataclass(frozen=True, slots=True)
class DeleteFile:
    """Delete a file (or a folder: every file under it)."""

    path: str


@dataclass(frozen=True, slots=True)
class AddDependencies:
    """npm packages to add (``name`` or ``name@version``); package.json is the caller's job."""

    packages: list[str]


Action: TypeAlias = WriteFile | EditFile | RenameFile | DeleteFile | AddDependencies


@dataclass(frozen=True, slots=True)
class Problem:
    """A tag that was rejected. ``path`` is the file concerned (as written when the path itself
    was refused or the tag was cut off, normalised otherwise; None when the tag has none),
    ``tag`` the tag's name as written (lower case), ``reason`` a sentence for the user."""

    path: str | None
    tag: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """What an answer asks for: actions in the answer's order, the chat summary, the rejected tags
    and the prose (the answer without its tags and thinking, for display)."""

    actions: list[Action]
    summary: str | None
    problems: list[Problem]
    prose: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """How applying one action went; ``error`` says why it failed (None when ``ok``)."""

    action: Action
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The working copy after applying actions.

    ``outcomes`` has one entry per action, in the order of the actions given (not the apply
    order). ``changed_paths`` are the files created or whose content changed, ``deleted_paths``
    the files that no longer exist (both sorted, both relative to the files given).
    ``dependencies`` are the packages of the add-dependency actions, each once, in order.
    """

    files: dict[str, str]
    outcomes: list[Outcome]
    changed_paths: list[str]
    deleted_paths: list[str]
    dependencies: list[str]


# ---------------------------------------------------------------------------------------------
# Tags

_WRITE = "write"
_EDIT = "edit"
_RENAME = "rename"
_DELETE = "delete"
_ADD_DEPENDENCY = "add-dependency"
_SUMMARY = "chat-summary"

TAG_KINDS: Mapping[str, str] = {
    "mm-write": _WRITE,
    "dyad-write": _WRITE,
    "mm-edit": _EDIT,
    "dyad-search-replace": _EDIT,
    "mm-rename": _RENAME,
    "dyad-rename": _RENAME,
    "mm-delete": _DELETE,
    "dyad-delete": _DELETE,
    "mm-add-dependency": _ADD_DEPENDENCY,
    "dyad-add-dependency": _ADD_DEPENDENCY,
    "mm-chat-summary": _SUMMARY,
    "dyad-chat-summary": _SUMMARY,
}
_BODY_KINDS = frozenset({_WRITE, _EDIT, _SUMMARY})

_NEXT_TAG = re.compile(
    r"<(?:(?P<think>think)\s*>|(?P<name>"
    + "|".join(re.escape(name) for name in sorted(TAG_KINDS, key=len, reverse=True))
    + r")(?=[\s/>]|\Z))",
    re.IGNORECASE,
)
_THINK_END = re.compile(r"</think\s*>", re.IGNORECASE)
_closing_patterns: dict[str, re.Pattern[str]] = {}
_trailing_closing_patterns: dict[str, re.Pattern[str]] = {}


def _closing(name: str) -> re.Pattern[str]:
    """``</name>`` (any case, spaces allowed before the ``>``)."""
    pattern = _closing_patterns.get(name)
    if pattern is None:
        pattern = _closing_patterns[name] = re.compile(r"</" + re.escape(name) + r"\s*>", re.IGNORECASE)
    return pattern


def _trailing_closing(name: str) -> re.Pattern[str]:
    """Text without tags, then ``</name>``: the optional end of an attributes-only tag."""
    pattern = _trailing_closing_patterns.get(name)
    if pattern is None:
        pattern = re.compile(r"[^<]*</" + re.escape(name) + r"\s*>", re.IGNORECASE)
        _trailing_closing_patterns[name] = pattern
    return pattern


_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|quot|apos|amp|lt|gt);")
_NAMED_ENTITIES = {"quot": '"', "apos": "'", "amp": "&", "lt": "<", "gt": ">"}


def decode_attribute(value: str) -> str:
    """An attribute value with its entity references decoded (the five XML ones and numeric
    ones; a reference that is not one of those, or names no character, stays as written)."""

    def replace(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref[0] != "#":
            return _NAMED_ENTITIES[ref]
        code = int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code)
        return match.group(0)

    return _ENTITY.sub(replace, value)


@dataclass(frozen=True, slots=True)
class _OpenTag:
    attributes: dict[str, str]
    self_closing: bool
    end: int  # just after the tag, or where reading stopped
    error: str | None = None  # why the tag could not be read
    truncated: bool = False  # the text ended inside the tag


_NAME_STOP = frozenset("=>/\"'<")


def _read_open_tag(text: str, start: int, name_length: int) -> _OpenTag:
    """Read the attributes of the opening tag whose ``<name`` starts at ``start``."""
    attributes: dict[str, str] = {}
    i = start + 1 + name_length
    n = len(text)

    def cut_off(at: int) -> _OpenTag:
        return _OpenTag(attributes, False, at, "the answer ends inside the tag", truncated=True)

    def malformed(at: int, why: str) -> _OpenTag:
        end = text.find(">", at)
        return _OpenTag(attributes, False, n if end == -1 else end + 1, why)

    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return cut_off(i)
        if text[i] == ">":
            return _OpenTag(attributes, False, i + 1)
        if text.startswith("/>", i):
            return _OpenTag(attributes, True, i + 2)
        j = i
        while j < n and not text[j].isspace() and text[j] not in _NAME_STOP:
            j += 1
        if j == i:
            if i + 1 >= n:
                return cut_off(n)
            return malformed(i, f"unexpected “{text[i]}” among its attributes")
        name = text[i:j].lower()
        i = j
        while i < n and text[i].isspace():
            i += 1
        value = ""
        if i < n and text[i] == "=":
            i += 1
            while i < n and text[i].isspace():
                i += 1
            if i >= n:
                return cut_off(n)
            quote = text[i]
            if quote in "\"'":
                close = text.find(quote, i + 1)
                if close == -1:
                    if text.find(">", i) == -1:
                        return cut_off(n)
                    return malformed(i, f"the value of {name} has no closing quote")
                value = text[i + 1 : close]
                i = close + 1
            else:
                j = i
                while j < n and not text[j].isspace() and text[j] not in "<>\"'" and not text.startswith("/>", j):
                    j += 1
                if j == i:
                    return malformed(i, f"{name}= has no value")
                value = text[i:j]
                i = j
            value = decode_attribute(value)
        attributes.setdefault(name, value)


# ---------------------------------------------------------------------------------------------
# Bodies

_FENCE_OPEN = re.compile(r"[ \t]*(`{3,})([^`]*)")
_FENCE_CLOSE = re.compile(r"[ \t]*(`{3,})[ \t]*")


def strip_wrapping_fence(body: str) -> str:
    """``body`` without the code fence that wraps all of it, or ``body`` unchanged.

    The fence is removed only when the first non-blank line opens a fence (three or more
    backticks, optionally a language) and the last non-blank line is the fence that closes it.
    Fences inside are kept. To tell whether a bare fence line inside closes the wrapper early,
    fences are paired: a fence line with a language opens an inner block, a bare fence line
    closes the innermost open block, and at the outer level a bare fence shorter than the
    wrapper's opens an inner block (CommonMark: it cannot close a longer fence). When a bare fence
    at the outer level is as long as the wrapper's, the wrapper closes early: the first and last
    lines are not one fence, so nothing is removed (a Markdown file that starts and ends with
    code blocks keeps them). The lines before the opener and after the closer (blank) go with it.
    """
    lines = body.split("\n")
    filled = [index for index, line in enumerate(lines) if line.strip()]
    if len(filled) < 2:
        return body
    first, last = filled[0], filled[-1]
    opener = _FENCE_OPEN.fullmatch(lines[first])
    closer = _FENCE_CLOSE.fullmatch(lines[last])
    if opener is None or closer is None:
        return body
    ticks = len(opener.group(1))
    if len(closer.group(1)) < ticks:
        return body
    depth = 0
    for line in lines[first + 1 : last]:
        bare = _FENCE_CLOSE.fullmatch(line)
        if bare is not None:
            if depth > 0:
                depth -= 1
            elif len(bare.group(1)) >= ticks:
                return body  # the wrapper closes before the last line
            else:
                depth += 1
        elif _FENCE_OPEN.fullmatch(line) is not None:
            depth += 1
    if depth != 0:
        return body
    inner = lines[first + 1 : last]
    return "\n".join(inner) + "\n" if inner else ""


def _drop_opening_line(body: str) -> str:
    """Without the newline right after the opening tag (and spaces before it), if it is there."""
    newline = body.find("\n")
    if newline != -1 and not body[:newline].strip(" \t"):
        return body[newline + 1 :]
    return body


def _finish_file(body: str) -> str:
    """No spaces after the last newline; a final newline unless empty."""
    tail_start = body.rfind("\n") + 1
    if not body[tail_start:].strip(" \t"):
        body = body[:tail_start]
    if body and not body.endswith("\n"):
        body += "\n"
    return body


def file_content(body: str) -> str:
    """The file a write tag's body stands for (see the module docstring)."""
    return _finish_file(strip_wrapping_fence(_drop_opening_line(body)))


# ---------------------------------------------------------------------------------------------
# Placeholders: comments that stand for code the model left out

_ANY_ELLIPSIS = re.compile(r"\.{3,}|…")
_STANDALONE_ELLIPSIS = re.compile(r"(?<![\w.])(?:\.{3,}|…)")  # not the end of a word: "Loading..."
# A phrase that, next to a free-standing ellipsis, means "code left out here".
_ELISION_PHRASE = re.compile(
    r"\b(?:rest of|remainder of|existing|unchanged|remains? (?:the )?same|stays? (?:the )?same"
    r"|same as (?:before|above|original|previous)|previous|original (?:code|content|implementation)"
    r"|keep(?:ing)? (?:the )?existing|as before|omitted|for brevity|remaining"
    r"|(?:other|more) (?:code|imports?|components?|routes?|functions?|methods?|styles?|props|fields"
    r"|properties|handlers?|logic|content|cases|items|elements|sections?|tests?|types?|helpers?)"
    r")\b"
)
_CODE_NOUN = (
    r"(?:code|file|component|components|function|functions|class|classes|implementation|module|page"
    r"|jsx|tsx|markup|html|css|styles?|imports?|methods?|routes?|logic|content|props|hooks?|handlers?"
    r"|helpers?|types?|interfaces?|tests?|sections?|exports?)"
)
_NARROW_CODE_NOUN = (
    r"(?:code|file|component|components|function|functions|implementation|module|jsx|markup|styles"
    r"|imports|methods|routes|logic)"
)
_AS_IT_WAS = r"(?:unchanged|the same|as[- ]is|as before|untouched|intact)"
_LEFT_ALONE = rf"(?:(?:remains?|stays?|is|are|left|kept) {_AS_IT_WAS}|unchanged|as before|as is)"
_HERE = r"(?:goes here|go here|here)"
# Whole comments (lower case, ellipses removed) that mean "code left out" even without an ellipsis.
_ELISION_COMMENTS = tuple(
    re.compile(pattern)
    for pattern in (
        rf"(?:the )?(?:rest|remainder) of (?:the |this |your )?(?:\w+ ){{0,2}}?{_CODE_NOUN}"
        rf"(?: {_LEFT_ALONE}| {_HERE})?",
        rf"(?:the )?(?:rest|remainder) {_LEFT_ALONE}",
        rf"everything else {_LEFT_ALONE}",
        r"(?:keep(?:ing)? |leave |leaving )?(?:all )?(?:the |your )?(?:existing|previous|original|old|current)"
        rf" (?:code|implementation|logic|content|jsx|markup)(?: {_LEFT_ALONE}| {_HERE})?",
        r"(?:keep(?:ing)? |leave |leaving )(?:all )?(?:the |your )?(?:existing|previous|original|old|current"
        rf"|other|remaining) (?:\w+ ){{0,2}}?{_CODE_NOUN}(?: {_LEFT_ALONE}| {_HERE})?",
        r"(?:all )?(?:the )?(?:existing|previous|original|old|current|other|remaining)"
        rf" (?:\w+ ){{0,2}}?{_CODE_NOUN} (?:{_LEFT_ALONE}|{_HERE})",
        rf"(?:\w+ ){{0,3}}?{_NARROW_CODE_NOUN} (?:remains?|stays?|is|are|left|kept) {_AS_IT_WAS}",
        r"(?:\w+ )?same as (?:before|original|the original|previous|previously)",
        rf"(?:the )?(?:rest|remainder|details?|{_CODE_NOUN})(?: is| are| has been| have been)? (?:omitted|elided)"
        r"(?: for brevity| here)?",
        r"(?:.* )?for brevity(?: .*)?",
        r"(?:unchanged|no changes)(?: here| below| above)?",
    )
)
_COMMENT_START = re.compile(r"(?P<html><!--)|(?<![^\s{}()\[\];,=>])(?P<slash>//|/\*)|(?<!\S)(?P<hash>#)")
_MARKUP_COMMENT_START = re.compile(r"(?P<html><!--)")
_PROSE_LANGUAGES = frozenset({"markdown", "text"})


def is_placeholder_comment(comment: str) -> bool:
    """Whether the text of one comment (or one line of a block comment) stands for left-out code.

    True when it is only an ellipsis (``...`` or ``…``); when it has an ellipsis that does not end
    a word (unlike ``Loading...``) and an elision phrase (rest of, existing,
    unchanged, remain(s) the same, same as before, previous, keep existing, other imports, ...);
    or when the whole comment is such a phrase about code ("rest of the code", "existing code",
    "imports remain unchanged", "keep existing imports", "omitted for brevity").
    """
    text = " ".join(comment.split()).lower().strip(" */#!-")
    if not text:
        return False
    core = " ".join(_ANY_ELLIPSIS.sub(" ", text).split()).strip(" .,:;!?-–—()[]")
    if not core:
        return _ANY_ELLIPSIS.search(text) is not None
    if _STANDALONE_ELLIPSIS.search(text) and _ELISION_PHRASE.search(core):
        return True
    return any(pattern.fullmatch(core) for pattern in _ELISION_COMMENTS)


def _comments(text: str, *, markup_only: bool) -> list[tuple[int, str]]:
    """(line number, text) of each comment, one entry per line of a block comment.

    A line scanner, not a lexer: ``//`` and ``/*`` count only at the start of a line or after a
    space or one of ``{}()[];,=>`` (so ``https://`` and ``"src/*"`` are not comments), ``#``
    only at the start or after a space, ``<!--`` anywhere.
    """
    start_pattern = _MARKUP_COMMENT_START if markup_only else _COMMENT_START
    found: list[tuple[int, str]] = []
    closing: str | None = None  # "*/" or "-->" while inside a block comment
    for number, line in enumerate(text.split("\n"), start=1):
        i = 0
        while i <= len(line):
            if closing is not None:
                end = line.find(closing, i)
                if end == -1:
                    found.append((number, line[i:]))
                    break
                found.append((number, line[i:end]))
                i = end + len(closing)
                closing = None
                continue
            match = start_pattern.search(line, i)
            if match is None:
                break
            if match.lastgroup in ("slash", "hash") and match.group(match.lastgroup) != "/*":
                found.append((number, line[match.end() :]))
                break
            closing = "-->" if match.lastgroup == "html" else "*/"
            i = match.end()
    return found


def find_placeholders(content: str, path: str) -> list[tuple[int, str]]:
    """Every (line number, line) of ``content`` whose comment stands for code the model left out.

    Comments are ``//``, ``/* */`` (and JSX's ``{/* */}``), ``#`` and ``<!-- -->``; in Markdown
    and text files only ``<!-- -->``, since their code samples may elide on purpose. Code is
    never looked at: spreads (``...props``), strings and JSX text (``Loading...``) are fine.
    """
    markup_only = language_for(path) in _PROSE_LANGUAGES
    lines = content.split("\n")
    flagged: list[tuple[int, str]] = []
    for number, comment in _comments(content, markup_only=markup_only):
        if is_placeholder_comment(comment) and (not flagged or flagged[-1][0] != number):
            flagged.append((number, lines[number - 1].strip()))
    return flagged


def find_placeholder(content: str, path: str) -> tuple[int, str] | None:
    """The first placeholder line of ``content`` (see :func:`find_placeholders`), or None."""
    flagged = find_placeholders(content, path)
    return flagged[0] if flagged else None


# ---------------------------------------------------------------------------------------------
# Search/replace blocks

_SEARCH_MARK = re.compile(r"[ \t]*<{5,}[ \t]*SEARCH[ \t]*")
_DIVIDER = re.compile(r"[ \t]*={5,}[ \t]*")
_REPLACE_MARK = re.compile(r"[ \t]*>{5,}[ \t]*REPLACE[ \t]*")


def _as_text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _split_lines(text: str) -> list[str]:
    """Lines without their newlines; "" has none, a trailing newline adds no empty line."""
    if not text:
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def parse_blocks(body: str) -> list[SearchReplace]:
    """The SEARCH/REPLACE blocks of an edit's body; ValueError says what is wrong with them.

    Marker lines: ``<<<<<<< SEARCH``, ``=======``, ``>>>>>>> REPLACE`` (5 or more characters,
    spaces around allowed). Text outside blocks (explanations, a fence around them) is ignored. Between the
    SEARCH and REPLACE markers, the divider is the line that is exactly ``=======`` if there is
    one such line, else the only divider-like line; two candidates are ambiguous.
    """
    lines = body.split("\n")
    blocks: list[SearchReplace] = []
    inside: list[str] | None = None
    for line in lines:
        if inside is None:
            if _SEARCH_MARK.fullmatch(line):
                inside = []
            elif _REPLACE_MARK.fullmatch(line):
                raise ValueError("it has a “>>>>>>> REPLACE” line without “<<<<<<< SEARCH” before it")
            continue
        if _SEARCH_MARK.fullmatch(line):
            raise ValueError("a SEARCH block has no “>>>>>>> REPLACE” line")
        if not _REPLACE_MARK.fullmatch(line):
            inside.append(line)
            continue
        exact = [k for k, candidate in enumerate(inside) if candidate == "======="]
        loose = [k for k, candidate in enumerate(inside) if _DIVIDER.fullmatch(candidate)]
        dividers = exact if len(exact) == 1 else loose
        if not dividers:
            raise ValueError("a SEARCH block has no “=======” line between the old and the new lines")
        if len(dividers) > 1:
            raise ValueError("a SEARCH block has several “=======” lines, so it is unclear where it ends")
        k = dividers[0]
        blocks.append(SearchReplace(_as_text(inside[:k]), _as_text(inside[k + 1 :])))
        inside = None
    if inside is not None:
        raise ValueError("the last SEARCH block has no “>>>>>>> REPLACE” line")
    if not blocks:
        raise ValueError("it has no <<<<<<< SEARCH / ======= / >>>>>>> REPLACE block")
    return blocks


def _quote(line: str, limit: int = 80) -> str:
    line = line.strip()
    return f"“{line if len(line) <= limit else line[: limit - 1] + '…'}”"


def _first_line(lines: list[str]) -> str:
    return next((line for line in lines if line.strip()), lines[0] if lines else "")


def _matches(lines: list[str], search: list[str], *, loose: bool) -> list[int]:
    if loose:
        lines = [line.rstrip(" \t") for line in lines]
        search = [line.rstrip(" \t") for line in search]
    size = len(search)
    first = search[0]
    return [
        start
        for start in range(len(lines) - size + 1)
        if lines[start] == first and lines[start : start + size] == search
    ]


def apply_blocks(path: str, text: str, blocks: Sequence[SearchReplace]) -> str:
    """``text`` with ``blocks`` applied in order; ValueError (naming ``path``) when one fails."""
    ends_with_newline = text.endswith("\n")
    lines = _split_lines(text)
    for number, block in enumerate(blocks, start=1):
        search = _split_lines(block.search)
        label = f"block {number} of the edit of {path}" if len(blocks) > 1 else f"the edit of {path}"
        if not search:
            raise ValueError(
                f"The SEARCH section of {label} is empty; it must quote the lines to replace "
                "(to replace the whole file, write it)."
            )
        starts = _matches(lines, search, loose=False) or _matches(lines, search, loose=True)
        quoted = _quote(_first_line(search))
        if not starts:
            raise ValueError(f"The SEARCH section of {label} (starting {quoted}) does not match {path}.")
        if len(starts) > 1:
            raise ValueError(
                f"The SEARCH section of {label} (starting {quoted}) matches {len(starts)} places in "
                f"{path}; it must match exactly one."
            )
        start = starts[0]
        lines[start : start + len(search)] = _split_lines(block.replace)
    if not lines:
        return ""
    return "\n".join(lines) + ("\n" if ends_with_newline else "")


# ---------------------------------------------------------------------------------------------
# Packages

_PACKAGE = re.compile(
    r"(?P<name>(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*)(?:@(?P<version>[A-Za-z0-9.^~*<>=+_-]+))?",
    re.IGNORECASE,
)


def split_packages(value: str) -> list[str]:
    """The package specs of a ``packages`` attribute: separated by spaces and/or commas."""
    return [item for item in re.split(r"[\s,]+", value) if item]


def package_error(spec: str) -> str | None:
    """Why ``spec`` is not an npm package name with an optional version, or None.

    Accepted: ``name``, ``@scope/name``, either followed by ``@version`` (letters, digits and
    ``. ^ ~ * < > = + _ -``). URLs, paths, options and anything else are refused: the caller
    hands these to a package manager.
    """
    match = _PACKAGE.fullmatch(spec)
    if match is None:
        return "it is not an npm package name (URLs, paths and options are not accepted)"
    if len(match.group("name")) > NPM_NAME_MAX_LENGTH:
        return f"an npm package name has at most {NPM_NAME_MAX_LENGTH} characters"
    return None


# ---------------------------------------------------------------------------------------------
# Parsing


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.actions: list[Action] = []
        self.problems: list[Problem] = []
        self.summary: str | None = None
        self.prose: list[str] = []
        self._closings: dict[str, tuple[int, re.Match[str] | None]] = {}

    def _find_closing(self, name: str, pos: int) -> re.Match[str] | None:
        """The first ``</name>`` at or after ``pos`` (remembered, so an answer full of unclosed
        mentions of a tag is not searched again and again)."""
        known = self._closings.get(name)
        if known is not None and known[0] <= pos and (known[1] is None or known[1].start() >= pos):
            return known[1]
        found = _closing(name).search(self.text, pos)
        self._closings[name] = (pos, found)
        return found

    def run(self) -> ParsedAnswer:
        text = self.text
        pos = 0
        while True:
            found = _NEXT_TAG.search(text, pos)
            if found is None:
                self.prose.append(text[pos:])
                break
            self.prose.append(text[pos : found.start()])
            if found.group("think") is not None:
                end = _THINK_END.search(text, found.end())
                pos = len(text) if end is None else end.end()
                continue
            pos = self._tag(found.group("name"), found.start())
        prose = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", "".join(self.prose)).strip()
        return ParsedAnswer(self.actions, self.summary, self.problems, prose)

    def _reject(self, path: str | None, tag: str, reason: str) -> None:
        self.problems.append(Problem(path, tag, reason))

    def _tag(self, written_name: str, start: int) -> int:
        """Handle the tag starting at ``start``; return where reading goes on."""
        text = self.text
        name = written_name.lower()
        kind = TAG_KINDS[name]
        opening = _read_open_tag(text, start, len(name))
        attributes = opening.attributes
        shown = attributes.get("path") or attributes.get("from")
        if opening.truncated:
            what = f"before the end of {shown}" if shown else f"inside a <{name}> tag"
            self._reject(shown, name, f"The answer was cut off {what}.")
            return len(text)
        if opening.error is not None:
            self._reject(shown, name, f"Could not read a <{name}> tag: {opening.error}.")
            if kind in _BODY_KINDS:
                closing = self._find_closing(name, opening.end)
                return len(text) if closing is None else closing.end()
            return opening.end

        if kind not in _BODY_KINDS:
            rest = _trailing_closing(name).match(text, opening.end)
            if rest is None and not attributes and not opening.self_closing:
                self.prose.append(text[start : opening.end])  # a mention of the tag, not a tag
                return opening.end
            self._attributes_only(kind, name, attributes)
            return opening.end if rest is None else rest.end()

        if opening.self_closing:
            if kind != _SUMMARY:
                self._reject(shown, name, f"The <{name}> tag for {shown or 'a file'} has no content.")
            return opening.end
        closing = self._find_closing(name, opening.end)
        if kind != _SUMMARY and "path" not in attributes:
            following = _NEXT_TAG.search(text, opening.end)
            if closing is None or (following is not None and following.start() < closing.start()):
                self.prose.append(text[start : opening.end])  # a mention of the tag ("the <mm-write> tag")
                return opening.end
        if closing is None:
            if kind == _SUMMARY:
                self._reject(None, name, "The answer was cut off inside the chat summary.")
            else:
                self._reject(shown, name, f"The answer was cut off before the end of {shown}.")
            return len(text)
        body = text[opening.end : closing.start()]
        if kind == _SUMMARY:
            self._summary(body)
        else:
            self._file_tag(kind, name, attributes, body)
        return closing.end()

    def _path(self, name: str, attributes: Mapping[str, str], attribute: str) -> str | None:
        raw = attributes.get(attribute)
        if raw is None or not raw.strip():
            self._reject(raw, name, f"The <{name}> tag has no {attribute} attribute.")
            return None
        try:
            return normalize_path(raw)
        except PathError as error:
            self._reject(raw, name, f"The path “{raw}” was refused: {error}")
            return None

    def _file_tag(self, kind: str, name: str, attributes: Mapping[str, str], body: str) -> None:
        path = self._path(name, attributes, "path")
        if path is None:
            return
        description = attributes.get("description", "").strip()
        if kind == _WRITE:
            content = file_content(body)
            placeholder = find_placeholder(content, path)
            if placeholder is not None:
                number, line = placeholder
                self._reject(
                    path,
                    name,
                    f"The new {path} was not written: line {number} ({_quote(line)}) stands for code the model "
                    "left out instead of writing the whole file.",
                )
                return
            self.actions.append(WriteFile(path, content, description))
            return
        try:
            blocks = parse_blocks(body)
        except ValueError as error:
            self._reject(path, name, f"The edit of {path} was not applied: {error}.")
            return
        for block in blocks:
            kept = {line.strip() for line in _split_lines(block.search)}
            added = [(n, line) for n, line in find_placeholders(block.replace, path) if line not in kept]
            if added:
                self._reject(
                    path,
                    name,
                    f"The edit of {path} was not applied: its new lines include {_quote(added[0][1])}, which "
                    "stands for code the model left out.",
                )
                return
        self.actions.append(EditFile(path, blocks, description))

    def _attributes_only(self, kind: str, name: str, attributes: Mapping[str, str]) -> None:
        if kind == _DELETE:
            path = self._path(name, attributes, "path")
            if path is not None:
                self.actions.append(DeleteFile(path))
        elif kind == _RENAME:
            source = self._path(name, attributes, "from")
            target = self._path(name, attributes, "to")
            if source is None or target is None:
                return
            if source == target:
                self._reject(attributes.get("from"), name, f"The rename of {source} names the same path twice.")
                return
            self.actions.append(RenameFile(source, target))
        else:
            specs = split_packages(attributes.get("packages", ""))
            if not specs:
                self._reject(None, name, f"The <{name}> tag names no package.")
                return
            packages: list[str] = []
            for spec in specs:
                error = package_error(spec)
                if error is not None:
                    self._reject(None, name, f"The package {_quote(spec)} was not added: {error}.")
                elif spec not in packages:
                    packages.append(spec)
            if packages:
                self.actions.append(AddDependencies(packages))

    def _summary(self, body: str) -> None:
        if self.summary is not None:
            return
        title = " ".join(body.split())
        if not title:
            return
        if len(title) > SUMMARY_MAX_LENGTH:
            title = title[: SUMMARY_MAX_LENGTH - 1].rstrip() + "…"
        self.summary = title


def parse_answer(text: str) -> ParsedAnswer:
    """The actions, summary, rejected tags and prose of a model's answer (never raises)."""
    return _Parser(text).run()


# ---------------------------------------------------------------------------------------------
# Applying


def _conflict(files: Mapping[str, str], path: str, *, ignore: str | None = None) -> str | None:
    """Why ``path`` cannot be a file next to ``files`` (a folder there, or a file as its folder)."""
    folder = path + "/"
    for existing in files:
        if existing != ignore and existing.startswith(folder):
            return f"{path} is a folder"
    parts = path.split("/")
    for end in range(1, len(parts)):
        parent = "/".join(parts[:end])
        if parent in files and parent != ignore:
            return f"{parent} is a file, so it cannot hold {path}"
    return None


def _under(files: Mapping[str, str], folder: str) -> list[str]:
    prefix = folder + "/"
    return [path for path in files if path.startswith(prefix)]


def _delete(files: dict[str, str], action: DeleteFile) -> None:
    path = normalize_path(action.path)
    if path in files:
        del files[path]
        return
    inside = _under(files, path)
    if not inside:
        raise ValueError(f"{path} cannot be deleted: it does not exist.")
    for each in inside:
        del files[each]


def _rename(files: dict[str, str], action: RenameFile) -> None:
    source, target = normalize_path(action.source), normalize_path(action.target)
    if source == target:
        raise ValueError(f"{source} cannot be renamed to itself.")
    if source in files:
        moves = {source: target}
    else:
        inside = _under(files, source)
        if not inside:
            raise ValueError(f"{source} cannot be renamed: it does not exist.")
        if target.startswith(source + "/"):
            raise ValueError(f"The folder {source} cannot be moved into itself ({target}).")
        moves = {old: target + old[len(source) :] for old in inside}
    staying = {path: content for path, content in files.items() if path not in moves}
    for new in moves.values():
        if new in staying:
            raise ValueError(f"{source} cannot be renamed to {target}: {new} already exists.")
        conflict = _conflict(staying, new)
        if conflict is not None:
            raise ValueError(f"{source} cannot be renamed to {target}: {conflict}.")
    for old, new in moves.items():
        files[new] = files.pop(old)


def _edit(files: dict[str, str], action: EditFile) -> None:
    path = normalize_path(action.path)
    if path not in files:
        raise ValueError(f"The edit of {path} failed: the file does not exist.")
    files[path] = apply_blocks(path, files[path], action.blocks)


def _write(files: dict[str, str], action: WriteFile) -> None:
    path = normalize_path(action.path)
    conflict = _conflict(files, path)
    if conflict is not None:
        raise ValueError(f"{path} cannot be written: {conflict}.")
    files[path] = action.content


def _add(action: AddDependencies, dependencies: list[str]) -> None:
    if not action.packages:
        raise ValueError("No package was named.")
    for spec in action.packages:
        error = package_error(spec)
        if error is not None:
            raise ValueError(f"The packages were not added: {_quote(spec)}: {error}.")
    dependencies.extend(spec for spec in action.packages if spec not in dependencies)


def apply_actions(files: Mapping[str, str], actions: Sequence[Action]) -> ApplyResult:
    """Apply ``actions`` to a copy of ``files`` (path -> text); never raises, never mutates.

    Order: deletes, renames, edits, writes, then dependencies (each phase in the actions' order).
    Paths are normalised again (actions may not come from :func:`parse_answer`); a refused path
    fails its action. A failed action changes nothing; the others still apply.
    """
    state = dict(files)
    dependencies: list[str] = []
    errors: dict[int, str] = {}
    for phase in (DeleteFile, RenameFile, EditFile, WriteFile, AddDependencies):
        for index, action in enumerate(actions):
            if not isinstance(action, phase):
                continue
            try:
                if isinstance(action, DeleteFile):
                    _delete(state, action)
                elif isinstance(action, RenameFile):
                    _rename(state, action)
                elif isinstance(action, EditFile):
                    _edit(state, action)
                elif isinstance(action, WriteFile):
                    _write(state, action)
                else:
                    _add(action, dependencies)
            except PathError as error:
                errors[index] = f"The path was refused: {error}"
            except ValueError as error:
                errors[index] = str(error)
    known = (DeleteFile, RenameFile, EditFile, WriteFile, AddDependencies)
    outcomes = [
        Outcome(action, False, "This is not a file action.")
        if not isinstance(action, known)
        else Outcome(action, index not in errors, errors.get(index))
        for index, action in enumerate(actions)
    ]
    changed = sorted(path for path, content in state.items() if files.get(path) != content)
    deleted = sorted(path for path in files if path not in state)
    return ApplyResult(state, outcomes, changed, deleted, dependencies)
