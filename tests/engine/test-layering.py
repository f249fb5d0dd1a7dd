#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's layers call only downwards (docs/architecture.md): every
symbol a layer's static library uses from another engine library must be
defined in a layer below it. And one name per thing: every global symbol a
library defines starts with "tern_" and is declared either in a public
header (engine/include/tern/) or in a header of the library's own folder
(its private interface, "store/store-private.h"); anything else shared
between its files would be a name nothing declares. Reads the libraries
with nm.

Usage: test-layering.py ENGINE_DIR NAME=LIBRARY.a ... (one per layer)
Prints TAP: two tests per layer, naming each symbol that goes up or across
and each that is misnamed or undeclared."""
import os
import re
import subprocess
import sys

# Each layer and the layers it may call, directly or through another.
BELOW = {
    "core": [],
    "gguf": ["core"],
    "quant": ["core"],
    "text": ["gguf", "core"],
    "weights": ["gguf", "core"],
    "backend": ["weights", "quant", "gguf", "core"],
    "model": ["backend", "weights", "text", "quant", "gguf", "core"],
    "compress": ["model", "backend", "weights", "text", "quant", "gguf", "core"],
    "store": ["gguf", "core"],
    "session": ["model", "store", "backend", "weights", "text", "quant", "gguf", "core"],
    "service": ["session", "compress", "model", "store", "backend", "weights", "text", "quant", "gguf", "core"],
}


def symbols(library, flag):
    out = subprocess.run(["nm", "-g", flag, library], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        # "address type name" for defined symbols, "U name" for undefined ones.
        # Symbols the compiler makes (AddressSanitizer's __odr_asan.NAME)
        # are not the code's.
        if len(parts) >= 2 and not line.endswith(":") and not parts[-1].startswith("__"):
            names.add(parts[-1])
    return names


def header_words(folder):
    """Every identifier in the headers under @folder."""
    words = set()
    for root, _, files in os.walk(folder):
        for name in files:
            if name.endswith(".h"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    words.update(re.findall(r"\b[A-Za-z_]\w*\b", f.read()))
    return words


def main():
    engine = sys.argv[1]
    libraries = dict(arg.split("=", 1) for arg in sys.argv[2:])
    missing = sorted(set(BELOW) - set(libraries))
    if missing:
        sys.exit("no library given for %s" % ", ".join(missing))
    defined = {name: symbols(lib, "--defined-only") for name, lib in libraries.items()}
    owner = {}
    for name, syms in defined.items():
        for s in syms:
            owner.setdefault(s, name)
    public = header_words(os.path.join(engine, "include"))

    print("1..%d" % (2 * len(BELOW)))
    failed = False
    for i, name in enumerate(BELOW):
        wrong = sorted("%s (%s)" % (s, owner[s]) for s in symbols(libraries[name], "--undefined-only")
                       if s in owner and owner[s] != name and owner[s] not in BELOW[name])
        if wrong:
            failed = True
            print("not ok %d - %s calls up or across: %s" % (2 * i + 1, name, ", ".join(wrong)))
        else:
            print("ok %d - %s calls only %s" % (2 * i + 1, name, ", ".join(BELOW[name]) or "GLib"))

        own = header_words(os.path.join(engine, name))
        misnamed = sorted(s for s in defined[name] if not s.startswith("tern_"))
        undeclared = sorted(s for s in defined[name] if s.startswith("tern_") and s not in public and s not in own)
        if misnamed or undeclared:
            failed = True
            print("not ok %d - %s names: %s" % (2 * i + 2, name, "; ".join(
                part for part in ("without the tern_ prefix: " + ", ".join(misnamed) if misnamed else "",
                                  "declared in no public header nor one of engine/%s: %s" % (name, ", ".join(undeclared))
                                  if undeclared else "") if part)))
        else:
            print("ok %d - %s defines %d symbols, each tern_ and declared" % (2 * i + 2, name, len(defined[name])))
    return 1 if failed else 0


sys.exit(main())
