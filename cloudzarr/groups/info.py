"""A group's summary, as ``Group.info`` and ``Group.info_complete()`` show it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GroupInfo:
    """Facts about a group; the counts are filled by ``info_complete`` only."""

    name: str
    zarr_format: int
    read_only: bool
    store_type: str
    consolidated: bool
    attributes: int
    count_members: int | None = None
    count_arrays: int | None = None
    count_groups: int | None = None

    def __str__(self) -> str:
        rows = [
            ("Name", self.name),
            ("Type", "Group"),
            ("Zarr format", str(self.zarr_format)),
            ("Read-only", str(self.read_only)),
            ("Store type", self.store_type),
            ("Consolidated", str(self.consolidated)),
            ("No. attributes", str(self.attributes)),
        ]
        if self.count_members is not None:
            rows += [
                ("No. members", str(self.count_members)),
                ("No. arrays", str(self.count_arrays)),
                ("No. groups", str(self.count_groups)),
            ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}} : {v}" for k, v in rows)

    def _repr_pretty_(self, p: object, cycle: bool) -> None:  # IPython
        p.text(str(self))  # type: ignore[attr-defined]
