"""A separate process that keeps swapping a folder inside a LocalStore root for a symbolic link
pointing outside it (run as a script: ``symlink_attacker.py ROOT NAME OUTSIDE``).

Each round moves the folder ``ROOT/NAME`` aside (to a new name inside the root) and renames
a ready link to ``OUTSIDE`` into its place; every other round it then removes the link, so the
store's writers make the folder anew. A writer that resolved ``NAME`` by path while it was a
folder and opened it while it was the link would write into ``OUTSIDE``. The script prints
``ready`` after its first swap, and its number of swaps once its stdin is closed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading


def main(root: str, name: str, outside: str) -> None:
    folder = os.path.join(root, name)
    link = os.path.join(root, f"{name}.link")
    stop = threading.Event()
    # The test closes our stdin when its writes are done; a thread turns that into a flag.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    rounds = swaps = 0
    while not stop.is_set() or not swaps:
        rounds += 1
        with contextlib.suppress(FileExistsError):
            os.symlink(outside, link)
        with contextlib.suppress(OSError):
            os.rename(folder, os.path.join(root, f"{name}.aside{rounds}"))
        try:
            os.rename(link, folder)  # fails if a writer made the folder anew meanwhile
        except OSError:
            continue
        swaps += 1
        if swaps == 1:
            print("ready", flush=True)
        if rounds % 2:
            # Every other round the link stays until the next round moves it aside, so some
            # operations surely meet it; the other rounds give writers a gap to make the folder.
            with contextlib.suppress(OSError):
                os.unlink(folder)  # the link, unless a writer's folder is there again
    print(swaps, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
