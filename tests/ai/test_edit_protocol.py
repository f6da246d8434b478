"""The edit protocol: parsing a model's answer into file actions, and applying them in memory.

No database, no local stack: pure functions, a corpus of tricky answers (tests/fixtures/answers)
and property-based tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mm_common.ai.edit_protocol import (
    Action,
    AddDependencies,
    ApplyResult,
    DeleteFile,
    EditFile,
    Outcome,
    ParsedAnswer,
    Problem,
    RenameFile,
    SearchReplace,
    WriteFile,
    apply_actions,
    apply_blocks,
    decode_attribute,
    file_content,
    find_placeholder,
    is_placeholder_comment,
    parse_answer,
    parse_blocks,
    strip_wrapping_fence,
)
from mm_common.paths import PathError, normalize_path

ANSWERS = Path(__file__).parent.parent / "fixtures" / "answers"


def answer(name: str) -> str:
    return (ANSWERS / name).read_bytes().decode("utf-8")


def only_write(text: str) -> WriteFile:
    parsed = parse_answer(text)
    assert parsed.problems == []
    assert len(parsed.actions) == 1
    action = parsed.actions[0]
    assert isinstance(action, WriteFile)
    return action


def problem_reasons(parsed: ParsedAnswer) -> list[str]:
    return [problem.reason for problem in parsed.problems]


def outcome_for(result: ApplyResult, path: str) -> Outcome:
    """The outcome of the (single) edit or write of ``path``."""
    matches = [o for o in result.outcomes if isinstance(o.action, EditFile | WriteFile) and o.action.path == path]
    assert len(matches) == 1
    return matches[0]


# =============================================================================================
# The corpus: tests/fixtures/answers/*.txt, each with its expected result


def corpus(name: str) -> str:
    """A corpus answer; every file must be read by a test through this function (checked below)."""
    return answer(name)


def test_crlf_answer_is_read_as_lf() -> None:
    raw = corpus("01_crlf.txt")
    assert "\r\n" in raw  # the fixture really has CRLF line endings
    parsed = parse_answer(raw)
    assert parsed.problems == []
    assert parsed.actions == [
        WriteFile(
            "src/components/Header.tsx",
            'export function Header() {\n  return <h1 className="text-2xl">Hello</h1>;\n}\n',
            "Header",
        ),
        EditFile(
            "src/App.tsx",
            [SearchReplace("      <main>\n", "      <Header />\n      <main>\n")],
            "Use the header",
        ),
    ]
    assert parsed.summary == "Add header"
    assert parsed.prose == "I'll add a header component."
    result = apply_actions({"src/App.tsx": "    <>\n      <main>\n      </main>\n    </>\n"}, parsed.actions)
    assert all(o.ok for o in result.outcomes)
    assert result.files["src/App.tsx"] == "    <>\n      <Header />\n      <main>\n      </main>\n    </>\n"
    assert "\r" not in "".join(result.files.values())


def test_fence_wrapping_the_whole_body_is_removed_and_inner_fences_stay() -> None:
    parsed = parse_answer(corpus("02_fenced_body.txt"))
    assert parsed.problems == []
    assert parsed.actions == [
        WriteFile(
            "src/pages/Index.tsx",
            'export default function Index() {\n  return <main className="p-4">Home</main>;\n}\n',
            "Home page",
        ),
        # Starts and ends with a code block, but they are two blocks: nothing is removed.
        WriteFile(
            "docs/commands.md",
            "```bash\nnpm install\n```\n\nThen start the dev server:\n\n```bash\nnpm run dev\n```\n",
            "Commands",
        ),
        WriteFile(
            "src/lib/sample.ts",
            "export const sample = `\n```js\nconsole.log(1);\n```\n`;\n",
            "A sample with a fence inside a string",
        ),
        WriteFile("src/lib/one-line.ts", "export const one = 1;\n", ""),
    ]
    assert parsed.prose == "Here is the home page, and docs for the commands."


def test_nested_fences() -> None:
    parsed = parse_answer(corpus("03_nested_fences.txt"))
    assert parsed.problems == []
    assert parsed.actions == [
        # ```` wraps a file that contains ``` blocks.
        WriteFile("docs/guide.md", "# Guide\n\n```ts\nconst x = 1;\n```\n", "Guide"),
        # ``` wraps a file whose inner blocks open with a language: paired, so the wrapper goes.
        WriteFile("docs/setup.md", "# Setup\n\n```bash\nnpm i\n```\n\nDone.\n", "Setup"),
        # The blank lines the model wrote before the closing fence are kept.
        WriteFile("src/blank-lines.ts", "export const a = 1;\n\n\n", ""),
    ]


def test_entities_are_decoded_in_attributes_only() -> None:
    parsed = parse_answer(corpus("04_entities.txt"))
    assert parsed.problems == []
    assert parsed.actions == [
        WriteFile(
            "src/components/Legal.tsx",
            'export function Legal() {\n  return (\n    <p title="a &amp; b">\n'
            "      Tom &amp; Jerry &lt;3 &copy; 2024 &#169; &quot;quoted&quot; &amp;amp;\n"
            "    </p>\n  );\n}\n",
            'Terms & conditions "page" <Legal/> — ✓',
        ),
        # Unknown entities and a reference without its semicolon stay as written.
        WriteFile("public/fish&chips.html", "<p>Fish &amp; chips</p>\n", "It's &unknown; &amp"),
    ]
    assert parsed.prose == ""


def test_truncated_last_tag_is_rejected_not_half_written() -> None:
    raw = corpus("05_truncated.txt")
    assert not raw.endswith("\n")
    parsed = parse_answer(raw)
    assert parsed.actions == [
        WriteFile("src/utils/math.ts", "export const add = (a: number, b: number) => a + b;\n", "Math helpers")
    ]
    assert parsed.problems == [
        Problem("src/utils/strings.ts", "mm-write", "The answer was cut off before the end of src/utils/strings.ts.")
    ]
    assert parsed.prose == "Creating two helper files."


def test_placeholders_reject_writes_and_legitimate_code_passes() -> None:
    parsed = parse_answer(corpus("06_placeholders.txt"))
    rejected = {(p.path, p.tag) for p in parsed.problems}
    assert rejected == {
        ("src/App.tsx", "mm-write"),
        ("src/index.css", "mm-write"),
        ("src/pages/Home.tsx", "mm-write"),
        ("scripts/build.py", "mm-write"),
        ("index.html", "mm-write"),
        ("src/components/Card.tsx", "mm-write"),
        ("src/main.tsx", "mm-edit"),
    }
    by_path = {p.path: p.reason for p in parsed.problems}
    assert "line 4 (“// ... rest of the code”)" in by_path["src/App.tsx"]
    assert "“/* ... existing styles ... */”" in by_path["src/index.css"]
    assert "“{/* ... */}”" in by_path["src/pages/Home.tsx"]
    assert "“# ... rest unchanged”" in by_path["scripts/build.py"]
    assert "“<!-- ... -->”" in by_path["index.html"]
    assert "“// The rest of the file remains unchanged.”" in by_path["src/components/Card.tsx"]
    assert "“// ... existing code”" in by_path["src/main.tsx"]
    accepted = [(type(a).__name__, getattr(a, "path", None)) for a in parsed.actions]
    assert accepted == [
        ("WriteFile", "src/components/List.tsx"),  # spreads, Loading..., "..." in strings
        ("WriteFile", "docs/notes.md"),  # Markdown samples may elide
        ("EditFile", "src/util.ts"),  # the placeholder-like comment was already in the file
    ]


def test_dyad_tags_replay() -> None:
    parsed = parse_answer(corpus("07_dyad_tags.txt"))
    assert parsed.problems == []
    assert parsed.summary == "Add about page"
    assert parsed.prose == "I'll add an About page and link it."
    assert parsed.actions == [
        WriteFile(
            "src/pages/About.tsx", "export default function About() {\n  return <div>About</div>;\n}\n", "About page"
        ),
        EditFile(
            "src/App.tsx",
            [
                SearchReplace(
                    '        <Route path="/" element={<Index />} />\n',
                    '        <Route path="/" element={<Index />} />\n'
                    '        <Route path="/about" element={<About />} />\n',
                )
            ],
            "Add the route",
        ),
        RenameFile("src/old.ts", "src/new.ts"),
        DeleteFile("src/unused.ts"),
        AddDependencies(["react-router-dom", "zod"]),
    ]
    app = '      <Routes>\n        <Route path="/" element={<Index />} />\n      </Routes>\n'
    files = {"src/App.tsx": app, "src/old.ts": "export {};\n", "src/unused.ts": "// unused\n"}
    result = apply_actions(files, parsed.actions)
    assert all(o.ok for o in result.outcomes), result.outcomes
    assert result.files == {
        "src/App.tsx": app.replace(
            "<Index />} />\n", '<Index />} />\n        <Route path="/about" element={<About />} />\n'
        ),
        "src/new.ts": "export {};\n",
        "src/pages/About.tsx": "export default function About() {\n  return <div>About</div>;\n}\n",
    }
    assert result.changed_paths == ["src/App.tsx", "src/new.ts", "src/pages/About.tsx"]
    assert result.deleted_paths == ["src/old.ts", "src/unused.ts"]
    assert result.dependencies == ["react-router-dom", "zod"]


def test_attributes_in_any_order_quoting_and_shape() -> None:
    parsed = parse_answer(corpus("08_attribute_orders.txt"))
    assert parsed.problems == []
    assert parsed.actions == [
        WriteFile(
            "src/components/Button.tsx",
            "export const Button = () => <button>OK</button>;\n",
            'Shows <b>bold</b> & a "label"',  # raw < > inside a quoted value do not end the tag
        ),
        RenameFile("src/old-name.ts", "src/new-name.ts"),  # to before from, self-closing
        DeleteFile("src/legacy.ts"),
        DeleteFile("src/other.ts"),  # upper-case tag name, unquoted value
        DeleteFile("src/no-closing-tag.ts"),
        RenameFile("src/a.ts", "src/b.ts"),  # text between the tags is ignored
        EditFile(
            "src/main.tsx",
            [SearchReplace('import "./index.css";\n', 'import "./index.css";\nimport "./theme.css";\n')],
            "A tag over several lines",
        ),
        WriteFile("src/x.ts", "export const x = 1;\n", ""),  # a repeated attribute: the first counts
    ]
    assert parsed.prose == "Attributes in every shape."


def test_paths_that_escape_the_project_are_refused() -> None:
    parsed = parse_answer(corpus("09_traversal.txt"))
    assert parsed.actions == [WriteFile("src/ok.ts", "export const ok = true;\n", "")]
    assert [(p.path, p.tag) for p in parsed.problems] == [
        ("../../etc/passwd", "mm-write"),
        ("/etc/hosts", "mm-write"),
        (".git/config", "mm-write"),
        ("src\\win.ts", "mm-write"),
        ("../escape.ts", "mm-rename"),
        ("src/../../x", "mm-delete"),
        ("src/", "mm-write"),
        (None, "mm-write"),
    ]
    reasons = problem_reasons(parsed)
    for raw, reason in zip(
        ["../../etc/passwd", "/etc/hosts", ".git/config", "src\\win.ts", "../escape.ts", "src/../../x", "src/"],
        reasons,
        strict=False,
    ):
        with pytest.raises(PathError) as refused:
            normalize_path(raw)
        assert reason == f"The path “{raw}” was refused: {refused.value}"
    assert reasons[-1] == "The <mm-write> tag has no path attribute."


def test_search_replace_matching_rules() -> None:
    parsed = parse_answer(corpus("10_search_replace.txt"))
    assert parsed.problems == []
    assert len(parsed.actions) == 7
    files = {
        "src/counter.ts": (
            "let count = 0;\nexport function inc() {\n  count += 1;\n}\nexport function dec() {\n  count += 1;\n}\n"
        ),
        "src/config.ts": "export const debug = 1;\n",
        "src/app.ts": "const a = 1;\nconst b = a;\nconst c = 3;   \n",
        "src/empty-search.ts": "export const filled = false;\n",
        "src/partly.ts": "export const one = 1;\nexport const two = 2;\n",
        "README.md": "Title\n=====\n\nText\n",
    }
    result = apply_actions(files, parsed.actions)
    errors = {o.action.path: o.error for o in result.outcomes if isinstance(o.action, EditFile)}
    assert errors["src/counter.ts"] == (
        "The SEARCH section of the edit of src/counter.ts (starting “count += 1;”) matches 2 places in "
        "src/counter.ts; it must match exactly one."
    )
    assert errors["src/config.ts"] == (
        "The SEARCH section of the edit of src/config.ts (starting “export const debug = true;”) does not "
        "match src/config.ts."
    )
    assert errors["src/missing.ts"] == "The edit of src/missing.ts failed: the file does not exist."
    assert errors["src/empty-search.ts"] is not None
    assert "SEARCH section of the edit of src/empty-search.ts is empty" in errors["src/empty-search.ts"]
    assert errors["src/partly.ts"] == (
        "The SEARCH section of block 2 of the edit of src/partly.ts (starting “export const three = 3;”) "
        "does not match src/partly.ts."
    )
    assert errors["src/app.ts"] is None
    assert errors["README.md"] is None
    # Blocks apply in order to the edited text; "const c = 3;" matched despite trailing spaces.
    assert result.files["src/app.ts"] == "const a = 2;\nconst b = a * 10;\nconst c = 30;\n"
    # The divider is the exact "=======" line, not the setext underlines.
    assert result.files["README.md"] == "New title\n=========\n\nText\n"
    # Failed edits change nothing.
    for path in ("src/counter.ts", "src/config.ts", "src/empty-search.ts", "src/partly.ts"):
        assert result.files[path] == files[path]
    assert result.changed_paths == ["README.md", "src/app.ts"]
    assert result.deleted_paths == []


def test_tags_inside_thinking_are_ignored() -> None:
    parsed = parse_answer(corpus("11_think.txt"))
    assert parsed.problems == []
    assert parsed.actions == [
        WriteFile(
            "src/components/Footer.tsx",
            "// This file mentions <think> and </think> and that is fine.\n"
            "export const Footer = () => <footer>© 2024</footer>;\n",
            "Footer",
        )
    ]
    # Thinking is not prose, and an unclosed <think> runs to the end.
    assert parsed.prose == "Adding a footer.\n\nDone."


def test_unicode_paths_content_and_summary() -> None:
    parsed = parse_answer(corpus("12_unicode.txt"))
    assert parsed.problems == []
    assert parsed.actions == [
        WriteFile(
            "src/pages/ข่าว.tsx",
            "export default function News() {\n  return <h1>ข่าวล่าสุด 🗞️ — “quotes” ☕ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢</h1>;\n}\n",
            "หน้าข่าว 📰",
        ),
        WriteFile("src/locales/th.json", '{ "hello": "สวัสดี", "emoji": "👩\u200d💻", "rtl": "مرحبا" }\n', "คำแปล"),
    ]
    assert parsed.summary is not None
    assert len(parsed.summary) == 100
    assert parsed.summary.startswith("เพิ่มหน้าข่าว 📰 พร้อมคำแปลภาษาไทย")
    assert parsed.summary.endswith("…")
    assert parsed.prose == "สวัสดีครับ! เพิ่มหน้าข่าวให้แล้ว 🎉"


def test_apply_order_write_after_edit_wins_and_edit_follows_rename() -> None:
    parsed = parse_answer(corpus("13_write_after_edit.txt"))
    assert parsed.problems == []
    files = {
        "src/App.tsx": "export default function App() {\n  return null;\n}\n",
        "src/Old.tsx": 'export const name = "old";\n',
        "src/gone.ts": "export const gone = 1;\n",
    }
    result = apply_actions(files, parsed.actions)
    assert [o.ok for o in result.outcomes] == [True] * 6
    assert result.files == {
        "src/App.tsx": "export default function App() {\n  return <div>Rewritten</div>;\n}\n",
        "src/New.tsx": 'export const name = "new";\n',
        "src/gone.ts": "export const back = true;\n",
    }
    assert result.changed_paths == ["src/App.tsx", "src/New.tsx", "src/gone.ts"]
    assert result.deleted_paths == ["src/Old.tsx"]


def test_dependencies_spaces_commas_and_refusals() -> None:
    parsed = parse_answer(corpus("14_dependencies.txt"))
    assert parsed.actions == [
        AddDependencies(["react-router-dom", "zod", "@tanstack/react-query@^5.0.0"]),
        AddDependencies(["zod", "date-fns@3.6.0"]),
        AddDependencies(["framer-motion"]),
    ]
    assert [p.reason.split(" was not added")[0] for p in parsed.problems[:3]] == [
        "The package “git+https://evil.example/x.git”",
        "The package “--save”",
        "The package “../local”",
    ]
    assert parsed.problems[3] == Problem(None, "mm-add-dependency", "The <mm-add-dependency> tag names no package.")
    result = apply_actions({}, parsed.actions)
    assert result.dependencies == [
        "react-router-dom",
        "zod",
        "@tanstack/react-query@^5.0.0",
        "date-fns@3.6.0",
        "framer-motion",
    ]
    assert result.files == {}
    assert result.changed_paths == [] and result.deleted_paths == []


def test_malformed_tags_are_reported_and_mentions_stay_prose() -> None:
    parsed = parse_answer(corpus("15_malformed.txt"))
    assert parsed.actions == [WriteFile("src/c.ts", "export const c = 3;\n", "")]
    assert parsed.problems == [
        Problem("src/a.ts", "mm-write", 'Could not read a <mm-write> tag: unexpected “"” among its attributes.'),
        Problem("src/empty.ts", "mm-write", "The <mm-write> tag for src/empty.ts has no content."),
        Problem(
            "src/b.ts",
            "mm-edit",
            "The edit of src/b.ts was not applied: the last SEARCH block has no “>>>>>>> REPLACE” line.",
        ),
        Problem(None, "mm-delete", "The answer was cut off inside a <mm-delete> tag."),
    ]
    assert parsed.prose == "I use the <mm-write> tag to write files and <mm-delete> to delete them."


def test_every_fixture_is_in_the_corpus_tests() -> None:
    names = {path.name for path in ANSWERS.glob("*.txt")}
    assert len(names) >= 12
    referenced = set(re.findall(r'corpus\("([^"]+)"\)', Path(__file__).read_text(encoding="utf-8")))
    assert names <= referenced, f"fixtures without a test: {sorted(names - referenced)}"


# =============================================================================================
# Reading tags


@pytest.mark.parametrize(
    "tag",
    [
        '<mm-write path="src/a.ts" description="d">',
        "<mm-write description='d' path='src/a.ts'>",
        "<mm-write path=src/a.ts description=d>",
        '<mm-write\n  path = "src/a.ts"\n  description = "d"\n  data-x="1" checked>',
        '<dyad-write path="./src//a.ts" description="d">',
        '<Dyad-Write PATH="src/a.ts" Description="d">',
    ],
)
def test_opening_tag_shapes(tag: str) -> None:
    closing = "</dyad-write>" if "yad" in tag else "</mm-write>"
    action = only_write(f"{tag}\nx\n{closing}")
    assert action == WriteFile("src/a.ts", "x\n", "d")


def test_attribute_decoding_is_single_pass_and_limited() -> None:
    assert (
        decode_attribute("&amp;quot; &quot; &apos; &lt;&gt; &#65;&#x42; &nbsp; &amp") == "&quot; \" ' <> AB &nbsp; &amp"
    )
    assert decode_attribute("&#0; &#xD800; &#1114112;") == "&#0; &#xD800; &#1114112;"


def test_bodies_are_never_unescaped() -> None:
    body = "const s = '&amp; &lt;div&gt; &quot; &#169;';\n"
    assert only_write(f'<mm-write path="a.ts">\n{body}</mm-write>').content == body


@pytest.mark.parametrize(
    ("body", "content"),
    [
        ("\nx\n", "x\n"),  # the newline after the opening tag goes, the one before the closing tag stays
        ("x", "x\n"),  # a final newline is added
        ("\nx", "x\n"),
        ("\nx\n\n", "x\n\n"),  # the model's newlines before the closing tag are kept
        ("\n\nx\n", "\nx\n"),  # only one leading newline goes
        ("  \nx\n", "x\n"),  # spaces before that newline go with it
        ("\nx\n  ", "x\n"),  # an indented closing tag adds nothing
        ("\nx  ", "x  \n"),
        ("", ""),  # an empty body is an empty file
        ("\n", ""),
        ("\n  \n", "  \n"),
    ],
)
def test_newlines_around_the_body(body: str, content: str) -> None:
    assert file_content(body) == content
    assert only_write(f'<mm-write path="a.txt">{body}</mm-write>').content == content


@pytest.mark.parametrize(
    ("body", "stripped"),
    [
        ("```\nx\n```\n", "x\n"),
        ("```tsx\nx\n```", "x\n"),
        ('\n\n  ```ts title="a"\nx\n  ```  \n\n', "x\n"),
        ("````md\n```js\ny\n```\n````\n", "```js\ny\n```\n"),
        ("```md\n```js\ny\n```\n```\n", "```js\ny\n```\n"),  # inner fence with a language pairs up
        ("```\n```\n", ""),
    ],
)
def test_wrapping_fence_is_removed(body: str, stripped: str) -> None:
    assert strip_wrapping_fence(body) == stripped


@pytest.mark.parametrize(
    "body",
    [
        "x\n```\ny\n```\n",  # the fence does not start the body
        "```\nx\n```\nmore\n",  # the fence does not end the body
        "```js\na\n```\ntext\n```js\nb\n```\n",  # two blocks, not one wrapper
        "```\nonly an opener\n",
        "```js\na\n```js\nb\n```\n",  # unbalanced: the last line closes the inner block
        "````\nx\n```\n",  # a shorter fence cannot close a longer one
        "x\n",
    ],
)
def test_fence_not_wrapping_everything_stays(body: str) -> None:
    assert strip_wrapping_fence(body) == body


def test_crlf_is_normalised_but_lone_cr_kept() -> None:
    assert only_write('<mm-write path="a.ts">\r\nx\r\ny\r\n</mm-write>').content == "x\ny\n"
    assert only_write('<mm-write path="a.ts">\nx\ry\n</mm-write>').content == "x\ry\n"


def test_body_is_opaque_to_tags() -> None:
    body = '<mm-delete path="b.ts"></mm-delete>\n<think>\n<dyad-write path="c.ts">\n'
    parsed = parse_answer(f'<mm-write path="docs/protocol.md">\n{body}</mm-write>')
    assert parsed.actions == [WriteFile("docs/protocol.md", body, "")]


def test_closing_tag_of_the_other_family_does_not_close() -> None:
    action = only_write('<dyad-write path="docs/a.md">\nuse </mm-write> to close\n</dyad-write>')
    assert action.content == "use </mm-write> to close\n"


def test_summary_first_non_empty_trimmed_and_collapsed() -> None:
    parsed = parse_answer(
        "<mm-chat-summary>  </mm-chat-summary><mm-chat-summary>\n  Fix\n  login  </mm-chat-summary>"
        "<dyad-chat-summary>Other</dyad-chat-summary>"
    )
    assert parsed.summary == "Fix login"
    assert parsed.prose == ""
    long = parse_answer(f"<mm-chat-summary>{'word ' * 40}</mm-chat-summary>").summary
    assert long is not None and len(long) <= 100 and long.endswith("…")
    assert parse_answer("<mm-chat-summary>" + "a" * 100 + "</mm-chat-summary>").summary == "a" * 100


def test_cut_off_inside_summary_or_opening_tag() -> None:
    parsed = parse_answer("Done.\n<mm-chat-summary>Add log")
    assert parsed.summary is None
    assert parsed.problems == [Problem(None, "mm-chat-summary", "The answer was cut off inside the chat summary.")]
    assert parsed.prose == "Done."
    parsed = parse_answer('Ok\n<mm-write path="src/a.ts" descr')
    assert parsed.problems == [Problem("src/a.ts", "mm-write", "The answer was cut off before the end of src/a.ts.")]
    assert parse_answer("x <mm-write").problems[0].reason == "The answer was cut off inside a <mm-write> tag."


def test_unclosed_think_hides_everything_after_it() -> None:
    parsed = parse_answer('Hi\n<think>plan: <mm-write path="a.ts">\nx\n</mm-write>')
    assert parsed.actions == [] and parsed.problems == [] and parsed.prose == "Hi"


def test_rename_to_itself_and_missing_attributes() -> None:
    parsed = parse_answer('<mm-rename from="a.ts" to="./a.ts"/><mm-rename from="a.ts"/><mm-delete path=""/>')
    assert parsed.actions == []
    assert problem_reasons(parsed) == [
        "The rename of a.ts names the same path twice.",
        "The <mm-rename> tag has no to attribute.",
        "The <mm-delete> tag has no path attribute.",
    ]


def test_edit_without_blocks_or_with_stray_markers() -> None:
    for body, reason in [
        ("just text\n", "it has no <<<<<<< SEARCH / ======= / >>>>>>> REPLACE block"),
        (">>>>>>> REPLACE\n", "it has a “>>>>>>> REPLACE” line without “<<<<<<< SEARCH” before it"),
        (
            "<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n",
            "a SEARCH block has no “=======” line between the old and the new lines",
        ),
        ("<<<<<<< SEARCH\na\n=====\nb\n======\nc\n>>>>>>> REPLACE\n", "a SEARCH block has several “=======” lines"),
        ("<<<<<<< SEARCH\na\n<<<<<<< SEARCH\n", "a SEARCH block has no “>>>>>>> REPLACE” line"),
    ]:
        parsed = parse_answer(f'<mm-edit path="a.ts">\n{body}</mm-edit>')
        assert parsed.actions == []
        assert len(parsed.problems) == 1
        assert parsed.problems[0].reason.startswith(f"The edit of a.ts was not applied: {reason}")


def test_parse_blocks_tolerates_marker_lengths_and_text_between_blocks() -> None:
    body = (
        "Change a:\n<<<<<<<< SEARCH\na\n=========\nb\n>>>>>> REPLACE\n"
        "and c:\n```\n<<<<<<< SEARCH\nc\n=======\n>>>>>>> REPLACE\n```\n"
    )
    assert parse_blocks(body) == [SearchReplace("a\n", "b\n"), SearchReplace("c\n", "")]


# =============================================================================================
# Placeholders


@pytest.mark.parametrize(
    "line",
    [
        "// ... rest of the code",
        "  /* ... existing code ... */",
        "{/* ... */}",
        "      {/* ... existing JSX ... */}",
        "# ... rest unchanged",
        "<!-- ... -->",
        "<!-- ... rest of the page -->",
        "// ...",
        "// …",
        "x = 1  # ...",
        "/*\n * ...\n */",
        "/* ...previous styles... */",
        "// rest of the code remains the same",
        "// The rest of the file remains unchanged.",
        "// Rest of the component here",
        "// keep existing imports",
        "// existing code",
        "// ... same as before",
        "// same as before",
        "// previous code here",
        "// rest unchanged",
        "// … other routes",
        "// code omitted for brevity",
        "// imports remain unchanged",
        "// everything else stays the same",
        "// ... keep existing handlers",
    ],
)
def test_placeholder_is_found(line: str) -> None:
    content = f"export const a = 1;\n{line}\nexport const b = 2;\n"
    found = find_placeholder(content, "src/a.tsx")
    assert found is not None
    assert 2 <= found[0] <= 2 + line.count("\n")  # the line of the placeholder, in the file
    parsed = parse_answer(f'<mm-write path="src/a.tsx">\n{content}</mm-write>')
    assert parsed.actions == []
    assert "left out" in parsed.problems[0].reason


@pytest.mark.parametrize(
    "line",
    [
        "const f = (...args) => g(...args);",
        "<Comp {...props} />",
        'const s = "// ... rest of the code";',
        "const t = '/* ... existing code ... */';",
        "<p>Loading...</p>",
        "// Loading...",
        "// Fetch existing users...",
        "// Keep existing query params",
        "// Other imports",
        "// the state is unchanged",
        "// returns the input unchanged",
        "// Rest of the items are processed here",
        "// Spread the rest of the props",
        "// sensitive fields omitted",
        "/* same as above */",
        "const url = 'https://example.com/...';",
        "// see https://x.dev/... for details",
        "// TODO: handle errors ... later",
        "const [first, ...rest] = items;",
        "`${a}...${b}`",
        '"paths": {"@/*": ["./src/*"]},',
        "color: #fff; /* brand */",
        "#root { margin: 0; }",
        "function f(/* ...args */) {}",
        "  ...",
        "def f(): ...",
        "// ---",
        "//",
    ],
)
def test_legitimate_code_is_not_a_placeholder(line: str) -> None:
    content = f"export const a = 1;\n{line}\nexport const b = 2;\n"
    assert find_placeholder(content, "src/a.tsx") is None
    assert only_write(f'<mm-write path="src/a.tsx">\n{content}</mm-write>').content == content


def test_markdown_samples_may_elide_but_html_comments_may_not() -> None:
    sample = "# Usage\n\n```ts\nfunction f() {\n  // ... rest of the code\n}\n```\n"
    assert find_placeholder(sample, "README.md") is None
    assert find_placeholder(sample + "<!-- ... rest unchanged -->\n", "README.md") == (8, "<!-- ... rest unchanged -->")


def test_placeholder_comment_classifier() -> None:
    assert is_placeholder_comment(" ... ")
    assert is_placeholder_comment("... rest of the code")
    assert not is_placeholder_comment("")
    assert not is_placeholder_comment("Loading...")


def test_placeholder_in_a_replace_block_that_the_file_already_had_is_fine() -> None:
    edit = '<mm-edit path="src/a.ts">\n<<<<<<< SEARCH\n// ...\nx\n=======\n// ...\ny\n>>>>>>> REPLACE\n</mm-edit>'
    parsed = parse_answer(edit)
    assert parsed.problems == []
    assert parsed.actions == [EditFile("src/a.ts", [SearchReplace("// ...\nx\n", "// ...\ny\n")])]


# =============================================================================================
# Search/replace


def test_exact_match_wins_over_trailing_space_tolerance() -> None:
    text = "a\na  \n"
    assert apply_blocks("f", text, [SearchReplace("a\n", "b\n")]) == "b\na  \n"
    # Without an exact match, trailing spaces and tabs are ignored on both sides...
    assert apply_blocks("f", "x = 1;\t \ny\n", [SearchReplace("x = 1;  \n", "x = 2;\n")]) == "x = 2;\ny\n"
    # ... but two tolerant matches are still ambiguous, and indentation must match.
    with pytest.raises(ValueError, match="matches 2 places"):
        apply_blocks("f", "a \na\t\n", [SearchReplace("a  \n", "b\n")])
    with pytest.raises(ValueError, match="does not match"):
        apply_blocks("f", "  a\n", [SearchReplace("a\n", "b\n")])


def test_search_matches_whole_lines_only() -> None:
    with pytest.raises(ValueError, match="does not match"):
        apply_blocks("f", "const ab = 1;\n", [SearchReplace("ab\n", "cd\n")])


def test_blocks_apply_progressively_and_keep_the_final_newline_state() -> None:
    blocks = [SearchReplace("a\n", "b\n"), SearchReplace("b\nc\n", "")]
    assert apply_blocks("f", "a\nc\nd", blocks) == "d"
    assert apply_blocks("f", "a\nc\nd\n", blocks) == "d\n"
    assert apply_blocks("f", "a\nc\n", blocks) == ""
    # A block written without its final newline means the same lines.
    assert apply_blocks("f", "x\ny\n", [SearchReplace("x", "z")]) == "z\ny\n"


def test_first_line_quoted_in_errors_is_the_first_non_blank_one() -> None:
    with pytest.raises(ValueError, match="starting “function go\\(\\) \\{”"):
        apply_blocks("src/a.ts", "x\n", [SearchReplace("\n  function go() {\n", "")])


# =============================================================================================
# Applying


def test_apply_is_pure_and_isolates_failures() -> None:
    files = {"a.ts": "A\n", "b.ts": "B\n"}
    actions: list[Action] = [
        EditFile("a.ts", [SearchReplace("nope\n", "x\n")]),
        WriteFile("c.ts", "C\n"),
        DeleteFile("missing.ts"),
        RenameFile("b.ts", "a.ts"),
        WriteFile("../evil.ts", "x\n"),
    ]
    result = apply_actions(files, actions)
    assert files == {"a.ts": "A\n", "b.ts": "B\n"}
    assert [o.action for o in result.outcomes] == actions  # one per action, in the given order
    assert [o.ok for o in result.outcomes] == [False, True, False, False, False]
    errors = [o.error for o in result.outcomes]
    assert errors[2] == "missing.ts cannot be deleted: it does not exist."
    assert errors[3] == "b.ts cannot be renamed to a.ts: a.ts already exists."
    assert errors[4] == "The path was refused: The path may not go up a folder (..)."
    assert result.files == {"a.ts": "A\n", "b.ts": "B\n", "c.ts": "C\n"}
    assert result.changed_paths == ["c.ts"]


def test_folders_delete_and_rename_with_their_files() -> None:
    files = {"src/old/a.ts": "a\n", "src/old/deep/b.ts": "b\n", "src/oldish.ts": "o\n", "x/y.ts": "y\n"}
    result = apply_actions(files, [RenameFile("src/old", "src/new"), DeleteFile("x")])
    assert all(o.ok for o in result.outcomes)
    assert result.files == {"src/new/a.ts": "a\n", "src/new/deep/b.ts": "b\n", "src/oldish.ts": "o\n"}
    assert result.deleted_paths == ["src/old/a.ts", "src/old/deep/b.ts", "x/y.ts"]
    assert result.changed_paths == ["src/new/a.ts", "src/new/deep/b.ts"]
    into_itself = apply_actions(files, [RenameFile("src/old", "src/old/inner")])
    assert into_itself.outcomes[0].error == "The folder src/old cannot be moved into itself (src/old/inner)."


def test_files_and_folders_cannot_collide() -> None:
    files = {"src/a.ts": "a\n", "lib": "not a folder\n"}
    result = apply_actions(
        files, [WriteFile("src", "x\n"), WriteFile("lib/b.ts", "b\n"), RenameFile("src/a.ts", "lib/a.ts")]
    )
    assert [o.error for o in result.outcomes] == [
        "src cannot be written: src is a folder.",
        "lib/b.ts cannot be written: lib is a file, so it cannot hold lib/b.ts.",
        "src/a.ts cannot be renamed to lib/a.ts: lib is a file, so it cannot hold lib/a.ts.",
    ]
    assert result.files == files


def test_delete_then_write_same_path_is_a_change_not_a_deletion() -> None:
    result = apply_actions({"a.ts": "old\n"}, [WriteFile("a.ts", "new\n"), DeleteFile("a.ts")])
    assert result.files == {"a.ts": "new\n"}
    assert result.changed_paths == ["a.ts"] and result.deleted_paths == []
    same = apply_actions({"a.ts": "old\n"}, [WriteFile("a.ts", "old\n")])
    assert same.outcomes[0].ok and same.changed_paths == []


def test_actions_not_from_the_parser_are_checked_again() -> None:
    result = apply_actions(
        {"a.ts": "a\n"},
        [
            WriteFile("./src//b.ts", "b\n"),
            DeleteFile(".git/config"),
            AddDependencies(["zod", "zod", "https://x"]),
            AddDependencies([]),
            RenameFile("a.ts", "a.ts"),
        ],
    )
    assert result.files == {"a.ts": "a\n", "src/b.ts": "b\n"}
    assert [o.ok for o in result.outcomes] == [True, False, False, False, False]
    assert result.dependencies == []
    assert result.outcomes[4].error == "a.ts cannot be renamed to itself."
    good = apply_actions({}, [AddDependencies(["zod", "react"]), AddDependencies(["zod"])])
    assert good.dependencies == ["zod", "react"]


# =============================================================================================
# Properties

_SPECIAL = ["&amp;", "&lt;div&gt;", "<", ">", "&", '"', "'", "```", "```ts", "`", "<think>", "...", "/", "*", "#", "\t"]
_CHARS = st.characters(codec="utf-8", exclude_characters="\r\n")
_LINE = st.lists(st.one_of(st.text(_CHARS, max_size=12), st.sampled_from(_SPECIAL)), max_size=8).map("".join)
_SEGMENT = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_-"), min_size=1, max_size=8)
_PATH = st.tuples(
    st.lists(_SEGMENT, max_size=3), _SEGMENT, st.sampled_from([".ts", ".tsx", ".css", ".md", ".json", ""])
)
PATHS = _PATH.map(lambda parts: "/".join([*parts[0], parts[1] + parts[2]]))
# Prose that cannot open a tag.
PROSE = st.text(st.characters(codec="utf-8", exclude_characters="<\r"), max_size=40)


def _fence_first(content: str) -> bool:
    filled = [line for line in content.split("\n") if line.strip()]
    return bool(filled) and filled[0].lstrip(" \t").startswith("```")


def _encode(value: str, quote: str, data: st.DataObject) -> str:
    out = []
    for ch in value:
        if ch == "&":
            out.append("&amp;")
        elif ch == quote:
            out.append(
                data.draw(st.sampled_from(["&quot;", "&#34;", "&#x22;"] if quote == '"' else ["&apos;", "&#39;"]))
            )
        elif ch in "<>" and data.draw(st.booleans()):
            out.append("&lt;" if ch == "<" else "&gt;")
        else:
            out.append(ch)
    return quote + "".join(out) + quote


def write_tag(data: st.DataObject, path: str, description: str, content: str, name: str = "mm-write") -> str:
    """A write tag with its attributes in a random order, quoting and spacing."""
    attributes = [("path", path), ("description", description), ("data-extra", "x&amp;y"), ("model", "gpt")]
    attributes = attributes[: 2 + data.draw(st.integers(0, 2))]
    order = data.draw(st.permutations(attributes))
    parts = []
    for key, value in order:
        quote = data.draw(st.sampled_from(['"', "'"]))
        space = data.draw(st.sampled_from([" ", "\n  ", "\t", "  "]))
        written = quote + value + quote if key == "data-extra" else _encode(value, quote, data)
        parts.append(f"{space}{key}={written}")
    tag_name = data.draw(st.sampled_from([name, name.upper()]))
    return f"<{tag_name}{''.join(parts)}>\n{content}</{tag_name}>"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    path=PATHS,
    description=st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=30),
    lines=st.lists(_LINE, max_size=12),
    before=PROSE,
    after=PROSE,
    name=st.sampled_from(["mm-write", "dyad-write"]),
)
def test_property_written_content_parses_back_exactly(
    data: st.DataObject, path: str, description: str, lines: list[str], before: str, after: str, name: str
) -> None:
    content = "".join(line + "\n" for line in lines)
    closing = re.compile(rf"</{name}\s*>", re.IGNORECASE)
    assume(not closing.search(content))
    assume(not _fence_first(content))
    assume(find_placeholder(content, path) is None)
    text = f"{before}\n{write_tag(data, path, description, content, name)}\n{after}"
    for variant in (text, text.replace("\n", "\r\n")):
        parsed = parse_answer(variant)
        assert parsed.problems == []
        assert parsed.actions == [WriteFile(path, content, description.replace("\r\n", "\n").strip())]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), path=PATHS, line=_LINE)
def test_property_content_without_final_newline_gets_one(data: st.DataObject, path: str, line: str) -> None:
    content = "x" + line + "y"
    assume("</mm-write" not in content.lower() and find_placeholder(content, path) is None)
    action = only_write(write_tag(data, path, "d", content))
    assert action.content == content + "\n"


@settings(max_examples=200, deadline=None)
@given(path=PATHS, lines=st.lists(_LINE, max_size=8), lang=st.sampled_from(["", "ts", "tsx", "json"]))
def test_property_fenced_content_is_unwrapped(path: str, lines: list[str], lang: str) -> None:
    content = "".join(line + "\n" for line in lines)
    assume(not any(line.lstrip(" \t").startswith("```") for line in lines))
    assume("</mm-write" not in content.lower() and find_placeholder(content, path) is None)
    action = only_write(f'<mm-write path="{path}">\n```{lang}\n{content}```\n</mm-write>')
    assert action.content == content


_FRAGMENTS = [
    "<mm-write",
    "<dyad-write",
    "<mm-edit",
    "<mm-rename",
    "<mm-delete",
    "<mm-add-dependency",
    "<mm-chat-summary>",
    "</mm-write>",
    "</mm-edit>",
    "</mm-chat-summary>",
    "<think>",
    "</think>",
    ' path="src/a.ts"',
    " path='../x'",
    " path=",
    ' from="a.ts" to="b.ts"',
    ' packages="zod,react"',
    ' description="&quot;<>"',
    ">",
    "/>",
    '"',
    "'",
    "\n",
    "\r\n",
    "```",
    "<<<<<<< SEARCH\n",
    "=======\n",
    ">>>>>>> REPLACE\n",
    "// ... rest of the code\n",
    "x",
    " ",
]


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join), st.text(max_size=200)))
def test_property_parse_never_raises(text: str) -> None:
    parsed = parse_answer(text)
    for action in parsed.actions:
        for path in [getattr(action, name) for name in ("path", "source", "target") if hasattr(action, name)]:
            assert normalize_path(path) == path
    assert parsed.summary is None or 0 < len(parsed.summary) <= 100
    assert "\r\n" not in parsed.prose


_ANY_PATH = st.one_of(
    st.sampled_from(
        ["a.ts", "src/a.ts", "src/b.ts", "src", "src/deep/c.ts", "../x", "/abs", ".git/config", "a\\b", ""]
    ),
    PATHS,
)
_TEXT = st.text(st.sampled_from("ab\n \t"), max_size=12)
_ACTIONS = st.one_of(
    st.builds(WriteFile, _ANY_PATH, _TEXT, st.text(max_size=3)),
    st.builds(EditFile, _ANY_PATH, st.lists(st.builds(SearchReplace, _TEXT, _TEXT), max_size=3)),
    st.builds(RenameFile, _ANY_PATH, _ANY_PATH),
    st.builds(DeleteFile, _ANY_PATH),
    st.builds(AddDependencies, st.lists(st.sampled_from(["zod", "react@18", "../x", "", "a b"]), max_size=3)),
)
_FILES = st.dictionaries(
    st.sampled_from(["a.ts", "src/a.ts", "src/b.ts", "src/deep/c.ts", "lib/x.ts"]), _TEXT, max_size=5
)


@settings(max_examples=500, deadline=None)
@given(files=_FILES, actions=st.lists(_ACTIONS, max_size=8))
def test_property_apply_never_raises_and_keeps_its_promises(files: dict[str, str], actions: list[Action]) -> None:
    before = dict(files)
    result = apply_actions(files, actions)
    assert files == before  # pure
    assert [o.action for o in result.outcomes] == actions
    assert all(o.ok == (o.error is None) for o in result.outcomes)
    for path in result.files:
        assert normalize_path(path) == path
        assert not any(other.startswith(path + "/") for other in result.files)  # no file is also a folder
    assert result.changed_paths == sorted(p for p in result.files if before.get(p) != result.files[p])
    assert result.deleted_paths == sorted(p for p in before if p not in result.files)
    if not any(o.ok for o in result.outcomes if not isinstance(o.action, AddDependencies)):
        assert result.files == before  # failed actions change nothing
    # Each action alone: a failure leaves the files exactly as they were.
    for action in actions:
        alone = apply_actions(files, [action])
        if not alone.outcomes[0].ok:
            assert alone.files == before


def render_writes(files: dict[str, str]) -> str:
    return "Here you go.\n" + "".join(
        f'<mm-write path="{path}" description="write {path}">\n{content}</mm-write>\n'
        for path, content in sorted(files.items())
    )


_CONTENT = st.lists(_LINE, min_size=1, max_size=6).map(lambda lines: "".join(line + "\n" for line in lines))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(PATHS, _CONTENT, max_size=5))
def test_property_write_then_parse_is_idempotent(files: dict[str, str]) -> None:
    for path, content in files.items():
        assume("</mm-write" not in content.lower() and not _fence_first(content))
        assume(find_placeholder(content, path) is None)
    assume(not any(a.startswith(b + "/") for a in files for b in files))
    first = parse_answer(render_writes(files))
    assert first.problems == []
    written = apply_actions({}, first.actions)
    assert written.files == files
    # Rendering what was written and parsing it again gives the same actions...
    again = parse_answer(render_writes(written.files))
    assert again.actions == first.actions
    # ... and applying them to their own result changes nothing.
    twice = apply_actions(written.files, again.actions)
    assert twice.files == written.files
    assert twice.changed_paths == [] and twice.deleted_paths == []


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.text(st.sampled_from("abc "), max_size=4), min_size=1, max_size=12),
    data=st.data(),
    replacement=st.lists(st.text(st.sampled_from("xyz"), max_size=3), max_size=4),
)
def test_property_search_replace_is_a_unique_splice(
    lines: list[str], data: st.DataObject, replacement: list[str]
) -> None:
    start = data.draw(st.integers(0, len(lines) - 1))
    end = data.draw(st.integers(start + 1, len(lines)))
    search = lines[start:end]
    text = "".join(line + "\n" for line in lines)
    block = SearchReplace("".join(s + "\n" for s in search), "".join(r + "\n" for r in replacement))
    exact = [i for i in range(len(lines) - len(search) + 1) if lines[i : i + len(search)] == search]
    if len(exact) == 1:
        assert apply_blocks("f", text, [block]) == "".join(
            line + "\n" for line in lines[:start] + replacement + lines[end:]
        )
    else:
        with pytest.raises(ValueError, match=f"matches {len(exact)} places"):
            apply_blocks("f", text, [block])
