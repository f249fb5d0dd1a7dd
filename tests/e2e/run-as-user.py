#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Uses the installed Tern as a person would, through the accessibility tree
and synthesized input: starts it for the first time (the demo model is
there, and the chat welcomes), opens a model from the command line, chats,
quits, starts again and resumes the conversation; opens a file that is not
a model beside the working one; sends a long message to a slow model and
stops it while it is read; starts on a data folder it cannot write. Keeps
a screenshot of each step. Run by run-as-user.sh, which installs Tern and
provides the display, the session bus and a fresh home.

    run-as-user.py TERN MODEL.gguf VOCAB.gguf SCREENSHOT_DIR
"""

import os
import subprocess
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

TIMEOUT = 120
QUESTION = "Who created the heaven and the earth?"
XK_RETURN = 0xFF0D
XK_ESCAPE = 0xFF1B
# About 700 tokens: a 1.1 B model on two cores reads it for several seconds.
LONG_MESSAGE = "And God said, Let there be light: and there was light. " * 55


def nodes(root):
    """Every accessible under root, breadth first."""
    queue = [root]
    while queue:
        node = queue.pop(0)
        yield node
        try:
            queue.extend(node.get_child_at_index(i) for i in range(node.get_child_count()))
        except gi.repository.GLib.Error:
            pass


def app():
    desktop = Atspi.get_desktop(0)
    for i in range(desktop.get_child_count()):
        child = desktop.get_child_at_index(i)
        if child is not None and child.get_name() == "tern":
            return child
    return None


def wait_for(what, predicate):
    """The first accessible of the app that satisfies predicate, waiting for it."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        root = app()
        if root is not None:
            for node in nodes(root):
                try:
                    if predicate(node):
                        return node
                except gi.repository.GLib.Error:
                    pass
        time.sleep(0.3)
    sys.exit(f"timed out waiting for {what}")


def named(role, test):
    return lambda n: n.get_role_name() == role and test(n.get_name() or "")


def shot(outdir, name):
    subprocess.run(["import", "-window", "root", os.path.join(outdir, name)], check=True)
    print(f"screenshot {name}")


def press(keysym):
    Atspi.generate_keyboard_event(keysym, None, Atspi.KeySynthType.PRESSRELEASE | Atspi.KeySynthType.SYM)


def click(node):
    box = node.get_extents(Atspi.CoordType.SCREEN)
    Atspi.generate_mouse_event(box.x + box.width // 2, box.y + box.height // 2, "b1c")


def quit_app(proc):
    """Closes the window with its close button, as most people do."""
    click(wait_for("the close button", named("push button", lambda s: s == "Close")))
    try:
        proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        sys.exit("Tern did not quit when its window closed")
    if proc.returncode != 0:
        sys.exit(f"Tern exited with status {proc.returncode}")


def status_says(text):
    return named("label", lambda s: text in s and "tokens" in s)


def data_folder():
    return os.path.join(os.environ["HOME"], ".local", "share", "tern")


def start_read_only(tern):
    """Starts Tern with its data folder read-only: as root (whom file modes
    do not stop) through a read-only bind mount in a mount namespace of its
    own, otherwise through the folder's mode. None where neither can be had."""
    data = data_folder()
    if os.geteuid() != 0:
        os.chmod(data, 0o555)
        return subprocess.Popen([tern])
    remount = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    probe = subprocess.run(["unshare", "-m", "sh", "-c", remount, "sh", data, "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    return subprocess.Popen(["unshare", "-m", "sh", "-c", remount, "sh", data, tern])


def type_text(text):
    click(wait_for("the message box", named("text", lambda s: s == "Message")))
    time.sleep(0.5)
    Atspi.generate_keyboard_event(0, text, Atspi.KeySynthType.STRING)
    time.sleep(0.5)


def main():
    tern, model, vocab, outdir = sys.argv[1:5]
    os.makedirs(outdir, exist_ok=True)

    # 0. First start: the installed demo model is in the library and loaded.
    proc = subprocess.Popen([tern])
    wait_for("the welcome", named("label", lambda s: s == "Welcome to Tern"))
    wait_for("the demo model to load", status_says("tokens"))
    shot(outdir, "0-first-start.png")
    quit_app(proc)

    # 1. `tern MODEL.gguf`: the model goes into the library and a new chat opens.
    proc = subprocess.Popen([tern, model])
    wait_for("the window", named("frame", lambda s: s == "Tern"))
    wait_for("the model to load", status_says("tokens"))
    shot(outdir, "1-model-opened.png")

    # 2. Chat: into the message box, type, Enter.
    type_text(QUESTION)
    shot(outdir, "2-typed.png")
    press(XK_RETURN)
    wait_for("the conversation in the sidebar", lambda n: n.get_name() == QUESTION and n.get_role_name() != "label")
    wait_for("the reply", status_says("tokens/s"))
    wait_for("the reply's text", named("label", lambda s: s == "Assistant"))
    shot(outdir, "3-replied.png")
    quit_app(proc)

    # 3. Start again: the conversation is there and resumes from its snapshot.
    proc = subprocess.Popen([tern])
    row = wait_for("the stored conversation", lambda n: n.get_name() == QUESTION and n.get_role_name() != "label")
    wait_for("the model to load", status_says("tokens"))
    shot(outdir, "4-restarted.png")
    click(row)
    wait_for("the resumed conversation", status_says("snapshot"))
    wait_for("the stored reply", named("label", lambda s: s == "Assistant"))
    shot(outdir, "5-resumed.png")

    # 4. `tern bad.gguf` beside the working model: the error says what is
    #    wrong, and the model stays loaded.
    bad = os.path.join(os.environ["HOME"], "bad.gguf")
    with open(bad, "w") as f:
        f.write("<!DOCTYPE html><html>404 Not Found</html>")
    subprocess.run([tern, bad], check=True, timeout=TIMEOUT)
    wait_for("the error", named("label", lambda s: s.startswith("Could not load bad.gguf: not a GGUF model file")
                                and s.endswith("stays loaded.")))
    wait_for("the model still loaded", status_says("tokens"))
    shot(outdir, "6-bad-file.png")
    quit_app(proc)

    # 5. A long message to a slow model: it shows at once, the reading is
    #    counted, and Escape stops it; the window is ready again.
    slow = os.path.join(os.environ["HOME"], "slow.gguf")
    tern_cli = os.path.join(os.path.dirname(tern), "tern-cli")
    subprocess.run([tern_cli, "make-model", "--preset", "bench-1b", "--type", "q8_0", "--vocab", vocab, slow],
                   check=True, timeout=600)
    proc = subprocess.Popen([tern, slow])
    wait_for("the slow model to load", status_says("tokens"))
    type_text(LONG_MESSAGE)
    press(XK_RETURN)
    wait_for("the reading", named("label", lambda s: s.startswith("Reading")))
    wait_for("the message shown", named("label", lambda s: s == "You"))
    shot(outdir, "7-reading.png")
    press(XK_ESCAPE)
    wait_for("the window ready again", named("push button", lambda s: s == "Send"))
    shot(outdir, "8-stopped.png")
    quit_app(proc)
    os.remove(slow)

    # 6. A data folder Tern cannot write: a page says why, and the
    #    conversations can still be read.
    proc = start_read_only(tern)
    if proc is None:
        print("skipped: the read-only folder (neither a read-only mount nor file modes are possible here)")
    else:
        wait_for("the storage page", named("label", lambda s: s == "Your Conversations Cannot Be Opened"))
        wait_for("the cause", named("label", lambda s: "cannot write to this folder" in s))
        for button in ("Choose Another Folder…", "Try Again", "Quit"):
            wait_for(button, named("push button", lambda s, b=button: s == b))
        shot(outdir, "9-read-only-page.png")
        click(wait_for("Open Read-Only", named("push button", lambda s: s == "Open Read-Only")))
        wait_for("the read-only banner", named("label", lambda s: s.startswith("Read-only:")))
        row = wait_for("the stored conversation", lambda n: n.get_name() == QUESTION and n.get_role_name() != "label")
        click(row)
        wait_for("the stored reply", named("label", lambda s: s == "Assistant"))
        shot(outdir, "10-read-only-open.png")
        quit_app(proc)
        os.chmod(data_folder(), 0o755)
    print("ok: welcomed, chatted, quit, resumed from the snapshot, kept the model past a bad file, stopped a long "
          "message while it was read, read a read-only folder")


if __name__ == "__main__":
    main()
