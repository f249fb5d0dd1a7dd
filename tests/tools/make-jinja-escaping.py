#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Makes tests/data/jinja-escaping.json: how Python's jinja2 escapes strings.

Every case is a template, the messages it is rendered with, and what
jinja2 rendered (or the error it raised). The inputs hold backslashes, both
quote kinds, '/', HTML's special characters, every C0 control character,
DEL, C1 controls, U+2028 and U+2029, other characters Python's repr escapes
(format characters, odd spaces, private use, noncharacters), characters
beyond the BMP (emoji, U+1D11E, ZWJ sequences) and lone combining marks.
Each input, as a message's content (as tern_chat_template_render passes
it), is printed every way a template can: str, repr inside lists, tuples
and dicts, '%r', |string, |escape, |trim, and tojson with and without
ensure_ascii, with indent (a number or a string) and separators. It also
reaches the template as a string literal spelled with escapes (Python's
repr, which jinja2's lexer reads back) and as a literal holding the
characters themselves; those print as a list's repr and as ASCII JSON,
which show every character. Then: messages printed whole, the escapes
jinja2's lexer reads in literals, raw CR and U+2028 in the source,
markupsafe's Markup inside lists, and errors ("Kind: message").

The environment is the one Hugging Face transformers compiles chat
templates in (transformers.utils.chat_template_utils._compile_jinja_template):
an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, the
loopcontrols extension and a {% generation %} tag that renders its body;
tojson replaced by json.dumps (ensure_ascii=False by default, indent,
separators, sort_keys: the same keywords in the same order), which does not
escape < > & ' as jinja2's own tojson does; globals raise_exception and
strftime_now. This tojson is the one Tern implements (jinja2's own, which
sorts keys and writes < > & ' as \u003c..., it does not), so the cases
hold '<', '>', '&' and "'" and expect them as they are.

Messages are given as {"role", "content"} dicts, bos_token "<s>",
eos_token "</s>", add_generation_prompt true, the variables Tern's chat
templates see. A message cannot hold U+0000 (Tern takes C strings): that
character is tested through template literals only. Lone surrogates are
left out: they cannot be written in UTF-8, which is all Tern handles.

Rerun from the repository root with Debian's python3 (jinja2 3.1.2,
markupsafe 2.1.2), which the file records:
  /usr/bin/python3 tests/tools/make-jinja-escaping.py
"""
import datetime
import importlib.metadata
import json
import pathlib
import sys
import warnings

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "data" / "jinja-escaping.json"
VARIABLES = {"bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": True}


class Generation(jinja2.ext.Extension):
    """transformers' AssistantTracker when not tracking: the body as it is."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


# transformers' tojson. Defined here rather than in make_environment (as
# transformers does) only so that its errors name it plainly: "tojson() got
# an unexpected keyword argument", not "make_environment.<locals>.tojson()".
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def strftime_now(format):
        return datetime.datetime(2024, 7, 26, 12, 0).strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_environment()

# name -> the string. Names become test paths: letters, digits, '-'.
INPUTS = {
    "empty": "",
    "plain": "Hello, world",
    "backslash": "a\\b",
    "backslashes": "\\\\server\\share\\",
    "backslash-n": "not a newline: \\n, \\t, \\u2028",
    "single-quote": "it's",
    "double-quote": 'say "hi"',
    "both-quotes": "it's \"quoted\"",
    "quotes-backslash": "\\'\\\"'\"",
    "slash": "a/b </script>",
    "html": "<a href='x'>&amp; \"y\"</a>",
    "newlines": "line 1\nline 2\r\nline 3\rend\t.",
    "del-7f": "\x7f",
    "c1-80": "\x80",
    "c1-85": "\x85x\x85y\x85",
    "c1-9f": "\x9f",
    "nbsp-a0": "\xa0a\xa0b\xa0",
    "soft-hyphen-ad": "soft\xadhyphen",
    "latin": "caf\xe9 na\xefve \xdf",
    "cjk": "\u65e5\u672c\u8a9e",
    "combining-lone": "\u0301",
    "combining-after-quote": "'\u0301\"\u0308",
    "combining-sequence": "e\u0301\u0323",
    "ogham-space-1680": "\u1680a\u1680b\u1680",
    "zwsp-200b": "a\u200bb",
    "zwj-200d": "a\u200db",
    "rlo-202e": "a\u202eb",
    "u2028": "\u2028a\u2028b\u2028",
    "u2029": "\u2029a\u2029b\u2029",
    "ideographic-space-3000": "\u3000a\u3000b\u3000",
    "private-e000": "\ue000",
    "bom-feff": "\ufeffbom",
    "nonchar-fffe": "\ufffe",
    "replacement-fffd": "\ufffd",
    "gclef-1d11e": "\U0001d11e",
    "emoji-1f600": "\U0001f600",
    "emoji-skin-tone": "\U0001f44d\U0001f3fd",
    "emoji-zwj": "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "flag": "\U0001f1eb\U0001f1f7",
    "tag-e0001": "\U000e0001",
    "private-f0000": "\U000f0000",
    "nonchar-10ffff": "\U0010ffff",
    "mixed": "\\ ' \" / \x01 \x1f \x7f \u2028 \U0001d11e \u0301 <&>",
}
INPUTS["ctl-all"] = "".join(chr(c) for c in range(1, 0x20))
# Each C0 control character alone, through fewer ways.
CONTROLS = {"ctl-%02x" % c: chr(c) for c in range(0x20)}

# Ways of printing a value @v: Python's str and repr, and markupsafe.
REPR_LINES = [
    "str: {{ v }}",
    "list: {{ [v] }}",
    "tuple: {{ (v, 1) }}",
    "dict: {{ {v: v} }}",
    "percent-r: {{ '%r' % v }}",
    "string: {{ v|string }}",
    "list-string: {{ [v]|string }}",
    "escape: {{ v|escape }}",
    "e-list: {{ [v]|e }}",
    "list-escaped: {{ [v|e] }}",
    "trim: {{ [v|trim] }}",
]
# And as JSON.
JSON_LINES = [
    "tojson: {{ v|tojson }}",
    "ascii: {{ v|tojson(ensure_ascii=true) }}",
    "not-ascii: {{ v|tojson(ensure_ascii=false) }}",
    "positional: {{ [v]|tojson(true) }}",
    "indent: {{ [v, {'k': v}]|tojson(indent=2) }}",
    "indent-ascii-key: {{ {v: [v]}|tojson(true, 2) }}",
    "indent-tab: {{ [v]|tojson(indent='\\t') }}",
    "separators: {{ {v: v, 'a': 1}|tojson(separators=(',', ':'), sort_keys=true) }}",
    "escaped: {{ v|e|tojson }}",
]
CONTROL_LINES = [
    "list: {{ [v] }}",
    "e-list: {{ [v]|e }}",
    "trim: {{ [v|trim] }}",
    "tojson: {{ v|tojson }}",
    "ascii: {{ {v: v}|tojson(true, 1) }}",
]


def render(template, messages):
    """jinja2's output, or its error as "Kind: message"."""
    try:
        with warnings.catch_warnings():
            # "invalid escape sequence '\d'": jinja2 keeps it, as Tern does.
            warnings.simplefilter("ignore", DeprecationWarning)
            out = ENV.from_string(template).render(messages=messages, **VARIABLES)
    except Exception as e:
        return {"error": "%s: %s" % (type(e).__name__, e)}
    out.encode("utf-8")  # fails on a lone surrogate: such a case has no place here
    assert "\0" not in out, "a test reads it as a C string"
    return {"expected": out}


def literal(s):
    """A jinja2 string literal for @s spelled with escapes, as Python's repr."""
    return repr(s)


def raw_literal(s):
    """A jinja2 string literal holding the characters of @s themselves."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def case(name, template, messages=()):
    assert "\0" not in template + "".join(messages), "a test reads them as C strings"
    c = {"name": name, "template": template, "messages": [{"role": "user", "content": m} for m in messages]}
    c.update(render(template, c["messages"]))
    return c


def value_cases():
    """Each input through every way of printing, as a message's content (or,
    for U+0000, a literal); then read back from literals, spelled with
    escapes and raw, printed as repr and as ASCII JSON to show every
    character."""
    cases = []
    for name, s in list(INPUTS.items()) + list(CONTROLS.items()):
        if "\0" in s:
            way, prelude, messages = "literal", "{% set v = " + literal(s) + " %}", ()
        else:
            way, prelude, messages = "message", "{% set v = messages[0].content %}", (s,)
        if name in CONTROLS:
            cases.append(case("%s/%s" % (name, way), prelude + "\n".join(CONTROL_LINES), messages))
        else:
            cases.append(case("%s/%s/repr" % (name, way), prelude + "\n".join(REPR_LINES), messages))
            cases.append(case("%s/%s/json" % (name, way), prelude + "\n".join(JSON_LINES), messages))
        # jinja2 reads a raw "\r" or "\r\n" in the source as "\n", in literals too.
        for way, lit in ("literal", literal(s)), ("raw", raw_literal(s)):
            # A test reads the template as a C string: no raw U+0000 in it.
            if "\0" in s and (way == "raw" or name in CONTROLS):
                continue
            cases.append(case("%s/%s" % (name, way), "{% set v = " + lit + " %}{{ [v] }} {{ v|tojson(true) }}"))
    return cases


def message_cases():
    both = "it's \"x\" \\ \x01 \u2028 \U0001d11e"
    return [
        case("messages/repr", "{{ messages }}|{{ messages[0] }}|{{ messages|string }}", (both, "<&>'")),
        case("messages/tojson", "{{ messages|tojson }}\n{{ messages|tojson(indent=1, sort_keys=true) }}",
             (both, "<&>'")),
        case("messages/join", "{{ messages|map(attribute='content')|join('\\\\') }}", (both, "<&>'")),
        case("messages/loop", "{% for m in messages %}{{ m.content|tojson }}{{ [m.content]|e }}\n{% endfor %}",
             (both, "\x85\u2029")),
    ]


# String literals spelled in every way jinja2's lexer reads them.
SPELLINGS = {
    "simple-escapes": r"'\a\b\f\n\r\t\v\0'",
    "octal": r"'\1\12\101\0101\400\777'",
    "hex": r"'\x00\x1f\x7f\x85\xff'",
    "unicode": r"'\u2028\u2029\uFEFF\U0001D11E\U0001f600'",
    "quotes-in-single": r"'\'\"'",
    "quotes-in-double": r'"\'\""',
    "unknown-escapes": r"'\/\d\%\{\ \8'",
    "line-continuation": "'a\\\nb'",
    "double-backslash": r"'\\\\n'",
    "raw-tab": "'a\tb'",
    "raw-cr": "'a\rb'",
    "raw-crlf": "'a\r\nb'",
    "raw-u2028": "'a\u2028b'",
    "adjacent": r"""'a' "\"" '\''""",
}


def spelling_cases():
    return [case("spelling/" + name, "{{ [" + lit + "] }} {{ " + lit + "|tojson(true) }}")
            for name, lit in SPELLINGS.items()]


def source_cases():
    return [
        case("source/cr-in-text", "a\rb\r\nc\n\rd"),
        case("source/cr-in-message", "{{ messages[0].content|tojson }}|{{ messages[0].content }}", ("a\rb\r\nc",)),
        case("source/u2028-in-text", "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg"),
        case("source/u2028-between-tags", "{% if true %}\u2028{% endif %}\u2028{{ 'x' }}\x85"),
        case("source/control-in-text", "".join(chr(c) for c in range(1, 0x20) if c not in (0x0a, 0x0d))),
    ]


def markup_cases():
    """Strings that escape and |safe make are markupsafe's Markup: repr shows it."""
    return [
        case("markup/repr", "{{ ['<'|e, '\\\\'|safe] }} {{ '%r' % ('<'|e) }} {{ {'k': '\"'|e|string} }} "
             "{{ [messages[0].content|e] }}", ("it's",)),
        case("markup/concat", "{{ [('x'|safe) ~ '<'] }} {{ [('x'|safe) + '<'] }} {{ ['<' + ('&'|e)] }}"),
    ]


def error_cases():
    return [
        case("error/bad-hex-escape", "{{ '\\x4' }}"),
        case("error/bad-unicode-escape", "{{ '\\u12' }}"),
        case("error/bad-long-escape", "{{ '\\U00110000' }}"),
        case("error/tojson-undefined", "{{ messages[0].nope|tojson }}", ("x",)),
        case("error/tojson-tuple-key", "{{ {(1, 2): 'x'}|tojson }}"),
        case("error/tojson-unknown-keyword", "{{ 'x'|tojson(allow_nan=false) }}"),
        case("error/tojson-too-many-arguments", "{{ 'x'|tojson(false, none, none, false, 1) }}"),
    ]


def main():
    cases = (value_cases() + message_cases() + spelling_cases() + source_cases() + markup_cases()
             + error_cases())
    names = [c["name"] for c in cases]
    assert len(set(names)) == len(names)
    doc = {
        "generator": "tests/tools/make-jinja-escaping.py",
        "python": sys.version.split()[0],
        "jinja2": importlib.metadata.version("jinja2"),
        "markupsafe": importlib.metadata.version("markupsafe"),
        "variables": VARIABLES,
        "cases": cases,
    }
    OUTPUT.write_text(json.dumps(doc, ensure_ascii=True, indent=1) + "\n")
    print("%s: %d cases" % (OUTPUT, len(cases)))


if __name__ == "__main__":
    main()
