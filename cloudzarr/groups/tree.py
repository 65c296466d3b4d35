"""Rendering a hierarchy as text::

/
├── a
│   └── b
│       └── arr (3,) int32
└── top (4, 4) float64
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _label(name: str, node: Any) -> str:
    reason = getattr(node, "reason", None)
    if isinstance(reason, str):  # an unreadable member: say why, on its own line
        return f"{name} (unreadable: {reason})"
    if getattr(node, "metadata", None) is not None and node.metadata.node_type == "array":
        return f"{name} {tuple(node.shape)} {node.dtype}"
    return name


class TreeText(str):
    """The text of a tree: a ``str`` that shows as the tree itself at a prompt or in a
    notebook (``repr`` is the text, not a quoted string with ``\n`` escapes)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def render_tree(root_name: str, members: Iterable[tuple[str, Any]]) -> TreeText:
    """The text tree of ``members`` (``(path relative to the root, node)`` pairs)."""
    children: dict[str, list[tuple[str, Any]]] = {}
    for path, node in sorted(members, key=lambda m: m[0]):
        parent, _, name = path.rpartition("/")
        children.setdefault(parent, []).append((name, node))
    lines = [root_name]

    def add(parent: str, indent: str) -> None:
        kids = children.get(parent, [])
        for i, (name, node) in enumerate(kids):
            last = i == len(kids) - 1
            lines.append(f"{indent}{'└── ' if last else '├── '}{_label(name, node)}")
            path = f"{parent}/{name}" if parent else name
            add(path, indent + ("    " if last else "│   "))

    add("", "")
    return TreeText("\n".join(lines))
