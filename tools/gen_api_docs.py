#!/usr/bin/env python3
"""Generate docs/api.md, the API reference, from cio's public headers.

    python3 tools/gen_api_docs.py            write docs/api.md
    python3 tools/gen_api_docs.py --check    exit 1 if docs/api.md is stale
    python3 tools/gen_api_docs.py --stdout   print the Markdown instead
    python3 tools/gen_api_docs.py --strict   also list functions documented
                                             only through a shared comment

Reads include/cio.h, then the include/cio/*.h it includes (in #include
order, any others after them in name order), and renders, in header order:

  - the file comment at the top of each header, as its introduction;
  - section banners as headings: "/* ===== ... */" blocks (the first line
    is the heading, the rest its introduction) and "/* ---- Name ---- */"
    lines;
  - every CIO_EXTERN function, public typedef, struct, enum and #define,
    with the comment directly above it.  A comment documents the run of
    declarations that follows it without a blank line (the headers' way
    of documenting a family: cio_wait_readable / cio_wait_writable); a
    comment at the end of a declaration's line documents that line;
  - other comments, as text where they stand;
  - the CIO_ERRNO_MAP X-macro of cio/errno.h, as a table of codes.

Names starting with cio__ / CIO__ are internal and left out, as are the
include guards, CIO_EXTERN and the C++ wrappers.  The fields of structs
whose body starts with "/* private */" are not shown.

Every CIO_EXTERN function must be documented: one that is not is reported
on stderr, and the exit status is 1 (after writing the file), so an
undocumented public function fails the check like a stale file does.

Python 3 standard library only.  The output depends on the headers alone
(no dates, no paths outside the repository), so it can be checked in and
compared.
"""
import argparse
import difflib
import errno as errno_mod
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = os.path.join(ROOT, "include")
OUTPUT = os.path.join(ROOT, "docs", "api.md")

# ---------------------------------------------------------------------------
# Reading a header into elements
# ---------------------------------------------------------------------------


class Elem:
    """One element of a header, in order.

    kind: 'blank', 'comment', 'banner', 'subbanner', 'decl', 'define',
    'skip' (something rendered nowhere: #include, #if, guards...).
    """

    def __init__(self, kind, text="", line=0):
        self.kind = kind
        self.text = text  # comment text (stripped) or code (verbatim)
        self.line = line
        self.names = []  # declared names
        self.is_function = False  # a CIO_EXTERN function declaration
        self.trailing = ""  # comment at the end of the last line
        self.title = ""  # banner heading


def strip_comment(raw):
    """The text of a /* ... */ comment, without the markers and the
    leading ' * ' of each line, common indentation kept."""
    body = raw.strip()
    assert body.startswith("/*") and body.endswith("*/"), raw
    body = body[2:-2]
    lines = body.split("\n")
    out = []
    for i, ln in enumerate(lines):
        if i == 0:
            out.append(ln.strip())
            continue
        s = ln.lstrip()
        if s.startswith("*"):
            s = s[1:]
            if s.startswith(" "):
                s = s[1:]
        out.append(s.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def code_depth(text):
    """Brace/paren depth change of a piece of code, ignoring comments and
    string/char literals."""
    text = strip_code_comments(text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(\\.|[^'\\])*'", "''", text)
    return text.count("{") - text.count("}"), text.count("(") - text.count(")")


def strip_code_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


TRAILING_COMMENT = re.compile(r"^(.*?\S)\s*(/\*(?:(?!\*/).)*\*/)\s*$")


def split_trailing(line):
    """(code, comment) for a line ending in a /* ... */ comment."""
    m = TRAILING_COMMENT.match(line)
    if not m or m.group(1).lstrip().startswith("/*"):
        return line, ""
    return m.group(1), m.group(2)


IDENT = r"[A-Za-z_]\w*"


def decl_names(code):
    """The names a declaration introduces, and whether it is a function."""
    flat = " ".join(strip_code_comments(code).split())
    if flat.startswith("CIO_EXTERN"):
        m = re.search(r"(" + IDENT + r")\s*\(", flat)
        return ([m.group(1)] if m else []), True
    if re.match(r"typedef\s+(struct|union|enum)\b[^;(]*\{", flat):
        m = re.search(r"\}\s*(" + IDENT + r")\s*;\s*$", flat)
        return ([m.group(1)] if m else []), False
    m = re.match(r"typedef\s+.*?\(\s*\*\s*(" + IDENT + r")\s*\)\s*\(", flat)
    if m:
        return [m.group(1)], False
    if flat.startswith("typedef"):
        m = re.search(r"(" + IDENT + r")\s*(\[[^\]]*\])?\s*;\s*$", flat)
        return ([m.group(1)] if m else []), False
    m = re.match(r"(enum|struct|union)\s+(" + IDENT + r")", flat)
    if m:
        return [m.group(1) + " " + m.group(2)], False
    m = re.search(r"(" + IDENT + r")\s*\(", flat)  # e.g. a static inline helper
    return ([m.group(1)] if m else []), False


def comment_closed(raw):
    """Whether the comment opened on raw[0] ends on the last line read."""
    if len(raw) == 1:
        return "*/" in raw[0][raw[0].index("/*") + 2 :]
    return "*/" in raw[-1]


def decl_done(raw, braces, parens):
    """A declaration ends with ';' at depth 0, or with the '}' closing the
    body of a function definition (static inline helpers)."""
    if braces or parens:
        return False
    last = strip_code_comments(raw[-1]).rstrip()
    if last.endswith(";"):
        return True
    first = strip_code_comments("\n".join(raw)).lstrip()
    return last.endswith("}") and not re.match(r"(typedef|struct|union|enum)\b", first)


def read_header(path):
    """Split a header into Elems."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    elems = []
    guard = None
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        s = line.strip()
        start = i + 1
        if not s:
            elems.append(Elem("blank", line=start))
            i += 1
            continue
        if s.startswith("/*"):
            raw = [line]
            while not comment_closed(raw):
                i += 1
                raw.append(lines[i])
            i += 1
            text = "\n".join(raw)
            first = raw[0].strip()
            if re.match(r"^/\*\s*clang-format (on|off)\s*\*/$", text.strip()):
                continue  # a formatter directive, not documentation
            if re.match(r"/\*\s*={5,}", first):
                body = strip_comment(text).split("\n")
                body = [b for b in body if not re.match(r"^\s*=+\s*$", b)]
                while body and not body[0].strip():
                    body.pop(0)
                # The heading is the first paragraph up to its first
                # sentence end; the rest introduces the section.
                para = []
                while body and body[0].strip():
                    para.append(body.pop(0).strip())
                title = " ".join(para)
                m = re.match(r"(.*?[^.])\.(?:\s+(.*))?$", title)
                rest = ""
                if m:
                    title, rest = m.group(1), m.group(2) or ""
                e = Elem("banner", (rest + "\n" + "\n".join(body)).strip("\n"), start)
                e.title = title
                elems.append(e)
            elif len(raw) == 1 and re.match(r"/\*\s*-{3,}\s*(.*?)\s*-{3,}\s*\*/\s*$", first):
                m = re.match(r"/\*\s*-{3,}\s*(.*?)\s*-{3,}\s*\*/\s*$", first)
                e = Elem("subbanner", "", start)
                e.title = m.group(1)
                elems.append(e)
            else:
                elems.append(Elem("comment", strip_comment(text), start))
            continue
        if s.startswith("#"):
            raw = [line]
            while raw[-1].rstrip().endswith("\\"):
                i += 1
                raw.append(lines[i])
            i += 1
            d = " ".join(x.rstrip("\\").strip() for x in raw)
            if re.match(r"#\s*ifdef\s+__cplusplus\b", d):
                # extern "C" { ... } wrappers: skip to the matching #endif.
                while i < n and not lines[i].strip().startswith("#endif"):
                    i += 1
                i += 1
                elems.append(Elem("skip", line=start))
                continue
            m = re.match(r"#\s*ifndef\s+(" + IDENT + r")", d)
            if m and guard is None:
                guard = m.group(1)
            m = re.match(r"#\s*define\s+(" + IDENT + r")", d)
            if not m:
                elems.append(Elem("skip", line=start))
                continue
            name = m.group(1)
            if name in (guard, "CIO_EXTERN") or name.startswith("CIO__"):
                elems.append(Elem("skip", line=start))
                continue
            e = Elem("define", "\n".join(raw), start)
            e.names = [name]
            e.trailing = split_trailing(raw[-1])[1]
            elems.append(e)
            continue
        # A declaration: up to the ';' that ends it at depth 0.
        raw = [line]
        braces, parens = code_depth(line)
        while not decl_done(raw, braces, parens):
            i += 1
            if i >= n:
                raise SystemExit("%s:%d: unterminated declaration" % (path, start))
            raw.append(lines[i])
            db, dp = code_depth(lines[i])
            braces += db
            parens += dp
        i += 1
        code = "\n".join(raw)
        names, is_function = decl_names(code)
        e = Elem("decl", code, start)
        e.names = names
        e.is_function = is_function
        _, e.trailing = split_trailing(raw[-1]) if len(raw) == 1 else ("", "")
        if any(nm.split()[-1].startswith("cio__") for nm in names):
            e.kind = "skip"
        elems.append(e)
    return elems


# ---------------------------------------------------------------------------
# Grouping: a comment and the declarations it documents
# ---------------------------------------------------------------------------


class Group:
    def __init__(self):
        self.comment = None  # Elem or None
        self.items = []  # decl/define Elems


def build_blocks(elems):
    """Turn the element list into render blocks: ('intro', text),
    ('banner', title, text), ('subbanner', title), ('text', text),
    ('group', Group)."""
    blocks = []
    k = 0
    # The file comment: the first comment, before anything but blanks.
    while k < len(elems) and elems[k].kind == "blank":
        k += 1
    if k < len(elems) and elems[k].kind == "comment":
        blocks.append(("intro", elems[k].text))
        k += 1
    pending = None  # a comment waiting to see what follows it
    group = None
    prev_kind = "blank"
    for e in elems[k:]:
        if e.kind in ("decl", "define"):
            if group is not None and prev_kind in ("decl", "define"):
                group.items.append(e)
            else:
                group = Group()
                if pending is not None and prev_kind == "comment":
                    group.comment = pending
                elif pending is not None:
                    blocks.append(("text", pending.text))
                pending = None
                group.items.append(e)
                blocks.append(("group", group))
            prev_kind = e.kind
            continue
        group = None
        if pending is not None:
            blocks.append(("text", pending.text))
            pending = None
        if e.kind == "comment":
            pending = e
        elif e.kind == "banner":
            blocks.append(("banner", e.title, e.text))
        elif e.kind == "subbanner":
            blocks.append(("subbanner", e.title))
        prev_kind = e.kind
    if pending is not None:
        blocks.append(("text", pending.text))
    return blocks


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

ERRNO_NAMES = set(errno_mod.errorcode.values())

TOKEN = re.compile(
    r"(?P<deref>(?<![\w)\]])\*\w+)"
    r"|(?P<ident>(?:\w+(?:\.|->))*[A-Za-z_]\w*(?:(?:\.|->)\w+)*\*?(?:\([^()\n]*\))?)"
)


def is_code_token(tok):
    base = tok.split("(")[0]
    if tok.startswith("*"):
        return True
    if "_" in base.strip("_") or "->" in base or tok.endswith(")"):
        return True
    return base.lstrip("-") in ERRNO_NAMES


def inline_md(text):
    """Markdown for one line of comment prose: identifiers, calls and
    errno names in backticks, the rest escaped."""
    out = []
    pos = 0
    for m in TOKEN.finditer(text):
        tok = m.group(0)
        if not is_code_token(tok):
            continue
        start = m.start()
        # "-ECONNRESET": keep the sign inside the code span.
        if start > 0 and text[start - 1] == "-" and tok.lstrip("-") in ERRNO_NAMES and (
            start == 1 or not text[start - 2].isalnum()
        ):
            start -= 1
            tok = "-" + tok
        out.append(escape_md(text[pos:start]))
        out.append("`" + tok + "`")
        pos = m.end()
    out.append(escape_md(text[pos:]))
    return "".join(out)


def escape_md(s):
    """Escape what Markdown would read as markup in comment prose.
    Underscores inside words are literal in CommonMark; the others are
    escaped."""
    s = s.replace("\\", "\\\\")
    s = s.replace("*", "\\*").replace("`", "\\`")
    s = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", s)
    s = s.replace("<", "&lt;").replace(">", "&gt;")
    return s


def prose_md(text):
    """Markdown for a comment: paragraphs and lists as they are (with
    inline code marked), indented blocks as C code."""
    lines = text.split("\n")
    out = []
    i = 0
    prev_blank = True
    item_indent = 0
    while i < len(lines):
        ln = lines[i]
        if prev_blank and len(ln) - len(ln.lstrip(" ")) >= 4 and ln.strip():
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out.append("```c")
            out.extend(block)
            out.append("```")
            out.append("")
            prev_blank = True
            continue
        if not ln.strip():
            out.append("")
            prev_blank = True
            item_indent = 0
        else:
            stripped = ln.lstrip(" ")
            lead = len(ln) - len(stripped)
            m = re.match(r"([-+]|\d+\.)\s+", stripped)
            if m:
                # A list item: keep the marker, at most 2 spaces in; its
                # continuation lines are indented to its text.
                marker = " " * min(lead, 2) + m.group(1) + " "
                out.append(marker + inline_md(stripped[m.end():]))
                item_indent = len(marker)
            elif item_indent and lead:
                out.append(" " * item_indent + inline_md(stripped))
            else:
                out.append(inline_md(stripped))
                item_indent = 0
            prev_blank = False
        i += 1
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def collapse_private(code):
    """Hide the fields of a struct whose body starts with /* private */."""
    m = re.search(r"\{\s*\n(\s*)/\*\s*private\s*\*/.*\n", code)
    if not m:
        return code
    open_at = code.index("{", m.start())
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return code[: open_at + 1] + "\n" + m.group(1) + "/* private fields */\n" + code[j:]
    return code


def render_code(item):
    code = item.text
    if item.kind == "decl":
        code = re.sub(r"^CIO_EXTERN\s+", "", code)
        # Continuation lines were aligned under the '(' after CIO_EXTERN.
        code = re.sub(r"\n {11}", "\n", code)
        code = collapse_private(code)
    return code.rstrip()


def anchor(name):
    return name.replace(" ", "-")


def errno_table(item):
    rows = re.findall(r'X\(\s*(\w+)\s*,\s*(-?\d+)\s*,\s*"((?:\\.|[^"\\])*)"\s*\)', item.text)
    if not rows:
        return None
    out = ["| code | value | message |", "|---|---|---|"]
    for name, value, msg in rows:
        out.append("| `CIO_%s` | %s | %s |" % (name, value, escape_md(msg).replace("|", "\\|")))
    return "\n".join(out)


class Doc:
    def __init__(self):
        self.out = []
        self.toc = []  # (level, title, slug)
        self.slugs = {}
        self.functions = []  # (name, anchor)
        self.undocumented = []  # (file, line, name)
        self.shared = []  # (file, line, name, first name of the group)

    def slug(self, title):
        s = title.strip().lower()
        s = re.sub(r"[^\w\- ]", "", s)
        s = s.replace(" ", "-")
        if s in self.slugs:
            self.slugs[s] += 1
            s = "%s-%d" % (s, self.slugs[s])
        else:
            self.slugs[s] = 0
        return s

    def heading(self, level, title):
        slug = self.slug(title)
        self.toc.append((level, title, slug))
        self.emit("#" * level + " " + title)
        self.emit("")

    def emit(self, s):
        self.out.append(s)

    def render_file(self, rel, elems):
        self.heading(2, rel)
        for block in build_blocks(elems):
            kind = block[0]
            if kind == "intro":
                self.emit(prose_md(block[1]))
                self.emit("")
            elif kind == "banner":
                self.heading(3, block[1])
                if block[2].strip():
                    self.emit(prose_md(block[2]))
                    self.emit("")
            elif kind == "subbanner":
                self.heading(4, block[1])
            elif kind == "text":
                self.emit(prose_md(block[1]))
                self.emit("")
            elif kind == "group":
                self.render_group(rel, block[1])

    def render_group(self, rel, g):
        table = None
        for it in g.items:
            for nm in it.names:
                self.emit('<a id="%s"></a>' % anchor(nm))
            if it.is_function:
                self.functions.append((it.names[0], anchor(it.names[0])))
                documented = g.comment is not None or bool(it.trailing)
                if not documented:
                    self.undocumented.append((rel, it.line, it.names[0]))
                elif g.comment is not None and it is not g.items[0] and not it.trailing:
                    if it.names[0] not in g.comment.text:
                        self.shared.append((rel, it.line, it.names[0], g.items[0].names))
            if it.kind == "define" and it.names == ["CIO_ERRNO_MAP"]:
                table = errno_table(it)
        codes = []
        for it in g.items:
            if table and it.names == ["CIO_ERRNO_MAP"]:
                # The table below lists the entries.
                codes.append("#define CIO_ERRNO_MAP(X) /* X(name, value, message) for each code */")
            else:
                codes.append(render_code(it))
        self.emit("```c")
        self.emit("\n".join(codes))
        self.emit("```")
        self.emit("")
        if g.comment is not None:
            text = g.comment.text
            if table and re.fullmatch(r"X\(name, value, message\)", text.strip()):
                text = ""
            if text:
                self.emit(prose_md(text))
                self.emit("")
        if table:
            self.emit(table)
            self.emit("")


def header_order():
    """include/cio.h, then the cio/*.h it includes in that order, then any
    others by name."""
    files = ["cio.h"]
    with open(os.path.join(INCLUDE, "cio.h"), encoding="utf-8") as f:
        for m in re.finditer(r'^\s*#\s*include\s+"(cio/[^"]+\.h)"', f.read(), re.M):
            if m.group(1) not in files:
                files.append(m.group(1))
    sub = os.path.join(INCLUDE, "cio")
    if os.path.isdir(sub):
        for name in sorted(os.listdir(sub)):
            rel = "cio/" + name
            if name.endswith(".h") and rel not in files:
                files.append(rel)
    return files


def generate():
    doc = Doc()
    for rel in header_order():
        path = os.path.join(INCLUDE, rel)
        if not os.path.exists(path):
            continue
        doc.render_file("include/" + rel, read_header(path))
    body = doc.out

    head = [
        "# cio API reference",
        "",
        "<!-- Generated by tools/gen_api_docs.py from include/cio.h and include/cio/*.h.",
        "     Do not edit: change the header comments and run `python3 tools/gen_api_docs.py`. -->",
        "",
        "Every public declaration of cio, in header order, with the comment that",
        "documents it in the header. A comment documents the declarations that follow",
        "it without a blank line (a family such as `cio_wait_readable` /",
        "`cio_wait_writable`). The conventions that hold for every function (negative",
        "error codes, `-ECANCELED` / `-ETIMEDOUT` from any blocking call, time in",
        "seconds) are at the top of [include/cio.h](#includecioh); the error codes are",
        "listed in [docs/errors.md](errors.md); how to use streams is in",
        "[docs/streams.md](streams.md).",
        "",
        "## Contents",
        "",
    ]
    for level, title, slug in doc.toc:
        indent = "  " * (level - 2)
        head.append("%s- [%s](#%s)" % (indent, title.replace("*", "\\*"), slug))
    head.append("- [Index of functions](#index-of-functions)")
    head.append("")

    tail = ["## Index of functions", ""]
    for name, anc in sorted(doc.functions, key=lambda x: x[0]):
        tail.append("- [`%s`](#%s)" % (name, anc))
    tail.append("")

    text = "\n".join(head + body + tail)
    text = re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
    return text, doc


def main():
    ap = argparse.ArgumentParser(description="Generate docs/api.md from the public headers.")
    ap.add_argument("--check", action="store_true", help="fail if docs/api.md is stale")
    ap.add_argument("--stdout", action="store_true", help="print instead of writing")
    ap.add_argument(
        "--strict",
        action="store_true",
        help="list functions documented only by a shared comment that does not name them",
    )
    args = ap.parse_args()

    text, doc = generate()
    status = 0
    for rel, line, name in doc.undocumented:
        print("%s:%d: %s has no doc comment" % (rel, line, name), file=sys.stderr)
    if doc.undocumented:
        print(
            "gen_api_docs: %d public function(s) without a doc comment: add a comment "
            "directly above each declaration" % len(doc.undocumented),
            file=sys.stderr,
        )
        status = 1
    if args.strict:
        for rel, line, name, first in doc.shared:
            print(
                "%s:%d: %s shares the comment of %s, which does not name it"
                % (rel, line, name, first[0]),
                file=sys.stderr,
            )

    if args.stdout:
        sys.stdout.write(text)
        return status
    if args.check:
        try:
            with open(OUTPUT, encoding="utf-8") as f:
                old = f.read()
        except FileNotFoundError:
            old = None
        if old is None:
            print("gen_api_docs: docs/api.md is missing", file=sys.stderr)
            old = ""
        if old != text:
            diff = list(
                difflib.unified_diff(
                    old.splitlines(), text.splitlines(), "docs/api.md", "generated", lineterm="", n=1
                )
            )
            for ln in diff[:40]:
                print(ln, file=sys.stderr)
            if len(diff) > 40:
                print("... (%d more diff lines)" % (len(diff) - 40), file=sys.stderr)
            print(
                "gen_api_docs: docs/api.md is stale: run `python3 tools/gen_api_docs.py` "
                "and commit docs/api.md",
                file=sys.stderr,
            )
            status = 1
        return status
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
