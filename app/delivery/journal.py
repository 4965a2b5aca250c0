"""Append-only local journal: a durable mark just before a message goes out, without a
database commit per message.

One file per dispatcher run, named after its claim id and held under an exclusive flock
while the run lives, so another dispatcher can tell a dead run's file from a live one.
Lines are `delivery_id<TAB>phase[<TAB>queue id]`: `w` on the wire (DATA about to start),
`s` accepted by the relay, `d` done without delivery. Lines are flushed to the kernel (they
survive a killed process) but not fsynced (see docs/notes/delivery.md for a power loss).
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO

SUFFIX = ".journal"


class Phase(StrEnum):
    ON_WIRE = "w"
    SENT = "s"
    DONE = "d"


@dataclass
class Replay:
    """The last known phase of each delivery in a journal."""

    phases: dict[int, Phase] = field(default_factory=dict)
    queue_ids: dict[int, str] = field(default_factory=dict)


class Journal:
    def __init__(self, directory: Path, owner: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{owner}{SUFFIX}"
        self._file: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def mark(self, delivery_id: int, phase: Phase, queue_id: str | None = None) -> None:
        assert self._file is not None
        line = f"{delivery_id}\t{phase.value}"
        if queue_id:
            line += "\t" + queue_id.replace("\t", " ").replace("\n", " ")
        self._file.write(line + "\n")
        self._file.flush()

    def close(self, *, remove: bool) -> None:
        """Release the lock; remove the file once every result it holds is in the database."""
        if self._file is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        self._file.close()
        self._file = None


def journal_path(directory: Path, owner: str) -> Path:
    return directory / f"{owner}{SUFFIX}"


def is_abandoned(path: Path) -> bool:
    """True when no live process holds the file's lock (its dispatcher died or finished)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def replay(path: Path) -> Replay:
    """Read a journal; a torn last line (killed mid-write) is ignored."""
    result = Replay()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return result
    for line in text.split("\n"):
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        try:
            phase = Phase(parts[1])
        except ValueError:
            continue
        delivery_id = int(parts[0])
        result.phases[delivery_id] = phase
        if phase is Phase.SENT and len(parts) > 2 and parts[2]:
            result.queue_ids[delivery_id] = parts[2]
    return result
