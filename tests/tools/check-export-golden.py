#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the golden exports in tests/data/export against a description of
the conversations that tests/engine/store/test-export.c builds, written here
independently of Tern's export code.

conversations.md is rebuilt here from that description and compared byte
for byte. conversations.json is read with Python's json module, which
refuses what JSON does not allow (a raw control character in a string),
and compared value by value; floats are compared with the float32 values
the store keeps.

Run it as

    python3 tests/tools/check-export-golden.py tests/data/export

(meson test -C build export-golden does). After the goldens are written
again (TERN_UPDATE_GOLDEN=1, see test-export.c) this must still pass
unchanged, unless the conversations or the format changed on purpose: then
change the description below to match, by hand.
"""

import datetime
import json
import pathlib
import struct
import sys

# The test clock: each stamp the store records is the next tick.
START = 1709251137123456
STEP = 7654321


def tick(k):
    return START + k * STEP


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


DEFAULT_SAMPLING = {
    "temperature": f32(0.8), "top_k": 40, "top_p": f32(0.95), "min_p": f32(0.05),
    "repeat_penalty": 1.0, "repeat_last_n": 64, "frequency_penalty": 0.0,
    "presence_penalty": 0.0, "seed": str(2**64 - 1), "max_tokens": 0,
}


def message(role, content, time, n_tokens, parent, complete=True):
    return {"role": role, "content": content, "created_us": time, "n_tokens": n_tokens,
            "complete": complete, "parent": parent}


# The stamps, in the order test-export.c's calls take them: 0 the first
# conversation, 1-4 its messages, 5 the interrupted reply and 6 its
# checkpoint, 7 the edited message, 8-10 the second reply (begin,
# checkpoint, finish), 11 the reply limit; 12-14 the second conversation
# and its messages; 15 the empty one.
CONVERSATIONS = [
    {
        "title": "Branches, edits & \"quotes\" \u2014 \U0001F9EA",
        "model": None,
        "system_prompt": "Answer briefly.\nQuote code exactly, `backticks` and \\backslashes\\ too.",
        "sampling": {
            "temperature": 0.5, "top_k": 20, "top_p": f32(0.9), "min_p": 0.0,
            "repeat_penalty": f32(1.1), "repeat_last_n": 128, "frequency_penalty": 0.25,
            "presence_penalty": 0.5, "seed": "12345678901234567890", "max_tokens": 512,
        },
        "created_us": tick(0),
        "updated_us": tick(11),
        "messages": [
            message("user", "Hi! Show me a C string with escapes, please \U0001F44B", tick(1), 12, None),
            message("assistant", "A first answer, regenerated away.", tick(2), 7, 0),
            message("assistant",
                    "Here it is:\n\n```c\n"
                    "printf (\"tab\\tquote\\\" backslash\\\\ `tick`\\n\");\n"
                    "```\n\nInline: `a\\\\b` and ``two `ticks` ``.", tick(3), 30, 0),
            message("user",
                    "Now Unicode: \U00020000 (U+20000, CJK extension B), \U0001F9D1\u200D\U0001F4BB "
                    "(a ZWJ sequence), e\u0301 (e and a combining acute) and \u00E9 (precomposed), "
                    "'single' and \"double\" quotes.", tick(4), 41, 2),
            message("assistant",
                    "\U00020000 is U+20000; e\u0301 and \u00E9 look alike but are not the same str",
                    tick(5), 32, 3, complete=False),
            message("user",
                    "Edited: control characters \x01, \x1f and DEL \x7f, a tab\there, a CR\rand a "
                    "backslash \\", tick(7), 25, 2),
            message("assistant", "Kept as they are: \x01\x1f\x7f\t\r\\ \u2014 done.", tick(8), 40, 5),
        ],
        "head": 4,
    },
    {
        "title": "Second: no system prompt",
        "model": None,
        "system_prompt": "",
        "sampling": DEFAULT_SAMPLING,
        "created_us": tick(12),
        "updated_us": tick(14),
        "messages": [
            message("user", "Just one question?", tick(13), 3, None),
            message("assistant", "And one answer.", tick(14), 3, 0),
        ],
        "head": 1,
    },
    {
        "title": "Empty",
        "model": None,
        "system_prompt": "",
        "sampling": DEFAULT_SAMPLING,
        "created_us": tick(15),
        "updated_us": tick(15),
        "messages": [],
        "head": None,
    },
]


def markdown(conversations):
    """The Markdown export as the store documents it: each conversation's
    title, creation time (UTC, to the minute), system prompt and the
    messages of the branch shown, from the first to its head."""
    parts = []
    for c in conversations:
        created = datetime.datetime.fromtimestamp(c["created_us"] // 1000000, datetime.timezone.utc)
        text = f"# {c['title']}\n\n- Created: {created:%Y-%m-%d %H:%M} UTC\n\n"
        if c["system_prompt"]:
            text += f"## System\n\n{c['system_prompt']}\n\n"
        branch = []
        at = c["head"]
        while at is not None:
            branch.insert(0, c["messages"][at])
            at = c["messages"][at]["parent"]
        for m in branch:
            text += f"## {m['role'].capitalize()}\n\n{m['content']}\n\n"
            if not m["complete"]:
                text += "*(interrupted)*\n\n"
        parts.append(text)
    return "---\n\n".join(parts)


def main():
    folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/export")
    failed = False

    md = (folder / "conversations.md").read_bytes()
    want_md = markdown(CONVERSATIONS).encode()
    if md != want_md:
        at = next((i for i, (a, b) in enumerate(zip(md, want_md)) if a != b), min(len(md), len(want_md)))
        line = md[:at].count(b"\n") + 1
        print(f"conversations.md differs from the description at line {line} (byte {at}):\n"
              f"  golden: {md.splitlines()[line - 1:line]}\n  wanted: {want_md.splitlines()[line - 1:line]}")
        failed = True

    raw = (folder / "conversations.json").read_text(encoding="utf-8")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        print(f"conversations.json is not valid JSON: {e}")
        return 1
    want = {"format": "tern-conversations", "version": 1, "conversations": CONVERSATIONS}
    if not raw.endswith("}\n"):
        print("conversations.json does not end with a newline after the object")
        failed = True
    if data != want:
        for i, (got, exp) in enumerate(zip(data.get("conversations", []), CONVERSATIONS)):
            for key in exp:
                if key == "messages" and len(got.get(key, [])) == len(exp[key]):
                    for j, (gm, em) in enumerate(zip(got[key], exp[key])):
                        if gm != em:
                            print(f"conversations.json, conversation {i}, message {j}:\n  golden: {gm!r}\n"
                                  f"  wanted: {em!r}")
                elif got.get(key) != exp[key]:
                    print(f"conversations.json, conversation {i}, {key}:\n  golden: {got.get(key)!r}\n"
                          f"  wanted: {exp[key]!r}")
        if len(data.get("conversations", [])) != len(CONVERSATIONS):
            print(f"conversations.json has {len(data.get('conversations', []))} conversations, "
                  f"not {len(CONVERSATIONS)}")
        failed = True

    print("the golden exports match the description" if not failed else "FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
