#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the accessible names of every window of a running program over
AT-SPI, as a screen reader reads them: controls have a name, and no name
repeats a word twice in a row ("Use Use"), shows a mnemonic underscore
("_Use") or a GTK type name ("GtkToggleButton", outside layout roles). Prints each offender and
exits 1 when there is one. Run by test-a11y-names while the program waits.

    a11y-names.py PID PAGE
"""

import re
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi, GLib  # noqa: E402

# What a user operates: these need a name to be told apart.
CONTROLS = {
    "push button",
    "toggle button",
    "check box",
    "radio button",
    "entry",
    "password text",
    "combo box",
    "spin button",
    "slider",
    "switch",
    "link",
    "menu item",
}
# GTK 4.8 names an accessible without a name by its type; for these layout
# roles, which screen readers pass over (a scroll bar is read by its
# value), that is GTK's placeholder, not a name anyone hears.
LAYOUT = {"filler", "panel", "scroll pane", "scroll bar"}
TYPE_NAME = re.compile(r"\b(Gtk|Adw|Tern)[A-Z][A-Za-z]+")
# A mnemonic marker starts a word; an underscore inside one (q4_k_m) is text.
MNEMONIC = re.compile(r"(?<![\w])_[^\W\d_]")
DOUBLED = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE)


def find_app(pid):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        desktop = Atspi.get_desktop(0)
        for i in range(desktop.get_child_count()):
            child = desktop.get_child_at_index(i)
            try:
                if child is not None and child.get_process_id() == pid:
                    return child
            except GLib.Error:
                pass
        time.sleep(0.2)
    sys.exit(f"the program {pid} is not on the accessibility bus")


def walk(node, path, offenders, seen):
    try:
        role = node.get_role_name()
        name = node.get_name() or ""
        n = node.get_child_count()
        # What is out of sight (other pages, closed popovers) is not read.
        if role != "application" and not node.get_state_set().contains(Atspi.StateType.VISIBLE):
            return
    except GLib.Error:
        return
    where = f"{path}/{role}"
    problems = []
    if role in CONTROLS and not name.strip():
        problems.append("no name")
    if TYPE_NAME.search(name) and role not in LAYOUT:
        problems.append("a type name")
    if MNEMONIC.search(name):
        problems.append("a mnemonic underscore")
    if DOUBLED.search(name):
        problems.append("a doubled word")
    for problem in problems:
        offenders.append(f"{problem}: {role} {name!r} at {where}")
    seen.append(role)
    for i in range(min(n, 500)):
        try:
            child = node.get_child_at_index(i)
        except GLib.Error:
            continue
        if child is not None:
            walk(child, f"{where}[{name[:20]}]" if name else where, offenders, seen)


def main():
    pid, page = int(sys.argv[1]), sys.argv[2]
    offenders, seen = [], []
    walk(find_app(pid), "", offenders, seen)
    print(f"{page}: {len(seen)} accessibles")
    for offender in offenders:
        print(f"{page}: {offender}")
    sys.exit(1 if offenders else 0)


main()
