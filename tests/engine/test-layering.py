#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's layers call only downwards (docs/architecture.md): every
symbol a layer's static library uses from another engine library must be
defined in a layer below it. Reads the libraries with nm.

Usage: test-layering.py NAME=LIBRARY.a ... (one per layer)
Prints TAP: one test per layer, naming each symbol that goes up or across."""
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
    "store": ["gguf", "core"],
    "session": ["model", "store", "backend", "weights", "text", "quant", "gguf", "core"],
    "service": ["session", "model", "store", "backend", "weights", "text", "quant", "gguf", "core"],
}


def symbols(library, flag):
    out = subprocess.run(["nm", "-g", flag, library], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        # "address type name" for defined symbols, "U name" for undefined ones.
        if len(parts) >= 2 and not line.endswith(":"):
            names.add(parts[-1])
    return names


def main():
    libraries = dict(arg.split("=", 1) for arg in sys.argv[1:])
    missing = sorted(set(BELOW) - set(libraries))
    if missing:
        sys.exit("no library given for %s" % ", ".join(missing))
    defined = {name: symbols(lib, "--defined-only") for name, lib in libraries.items()}
    owner = {}
    for name, syms in defined.items():
        for s in syms:
            owner.setdefault(s, name)

    print("1..%d" % len(BELOW))
    failed = False
    for i, name in enumerate(BELOW, 1):
        wrong = sorted("%s (%s)" % (s, owner[s]) for s in symbols(libraries[name], "--undefined-only")
                       if s in owner and owner[s] != name and owner[s] not in BELOW[name])
        if wrong:
            failed = True
            print("not ok %d - %s calls up or across: %s" % (i, name, ", ".join(wrong)))
        else:
            print("ok %d - %s calls only %s" % (i, name, ", ".join(BELOW[name]) or "GLib"))
    return 1 if failed else 0


sys.exit(main())
