"""Break one rule at a time and check that a test notices: the mutation sweep.

Each mutation in a list (`tools/mutations/*.toml`) replaces one exact piece of one source file,
runs the tests named for it (stopping at the first failure), and puts the file back. A mutation
that no test notices has *survived*: the rule it breaks is not pinned. A mutation whose text is
not found exactly once, or that leaves a name undefined or the file unparsable (ruff's F821 and
syntax check), is *invalid*: it would "kill" through a NameError, not through a test.

    make mutate                                                  # every list
    .venv/bin/python tools/mutate.py tools/mutations/links.toml -k used  # ids with "used"

The tests run as `make test` runs them: SQLite, and PostgreSQL too where
NEWSLETTER_TEST_DATABASE_URL is set. Exit status 1 when any mutation survived or is invalid.

A list entry:

    [[mutation]]
    id = "link-used-is-dead"
    file = "app/subscribers/tokens.py"
    find = "if token.used_at is not None:"
    replace = "if False:"
    tests = ["tests/subscribers/test_public_flow.py::TestLinks"]
    rule = "a used confirmation link is dead"

This lives outside `tests/` because it rewrites source files and runs pytest itself; the files
it touches must be committed first (it refuses otherwise), so a hard kill loses nothing that
`git checkout` cannot restore.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    find: str
    replace: str
    tests: list[str]
    rule: str


def load(paths: list[Path]) -> list[Mutation]:
    mutations: list[Mutation] = []
    for path in paths:
        with path.open("rb") as f:
            for entry in tomllib.load(f).get("mutation", []):
                mutations.append(Mutation(**entry))
    seen: set[str] = set()
    for m in mutations:
        if m.id in seen:
            sys.exit(f"mutate: the id {m.id!r} is used twice")
        seen.add(m.id)
    return mutations


def uncommitted(files: set[str]) -> list[str]:
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", *sorted(files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line[3:] for line in changed.splitlines()]


def defects(path: Path) -> str:
    """Undefined names and syntax errors in a file, as ruff reports them ("" when none); ruff
    reports syntax errors whatever is selected."""
    result = subprocess.run(
        [
            str(BIN / "ruff"),
            "check",
            "--no-cache",
            "--select",
            "F821",
            "--output-format",
            "concise",
            "--quiet",
            str(path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        sys.exit(f"mutate: ruff failed: {result.stderr.strip()}")
    return result.stdout.strip()


def run_one(m: Mutation, timeout: float) -> tuple[str, str]:
    path = ROOT / m.file
    original = path.read_text()
    if original.count(m.find) != 1:
        return "invalid", f"the text to replace occurs {original.count(m.find)} times"
    before = defects(path)
    try:
        path.write_text(original.replace(m.find, m.replace))
        after = defects(path)
        if after and after != before:
            return "invalid", after.splitlines()[0]
        try:
            result = subprocess.run(
                [str(BIN / "pytest"), "-x", "-q", "-p", "no:cacheprovider", *m.tests],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            # A rule broken so that a test hangs (a loop that never ends) is noticed too.
            return "killed", f"timed out after {timeout:.0f} s"
        if result.returncode == 0:
            return "SURVIVED", ""
        if result.returncode in (1, 3):
            lines = result.stdout.splitlines()
            failed = [ln for ln in lines if ln.startswith(("FAILED tests", "ERROR tests"))]
            return "killed", failed[0] if failed else f"pytest exit {result.returncode}"
        # 2: interrupted or a collection error, 4: bad usage, 5: no tests collected.
        return "invalid", f"pytest exit {result.returncode}: {result.stdout.strip()[-300:]}"
    finally:
        path.write_text(original)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lists", nargs="+", type=Path, help="TOML files of mutations")
    parser.add_argument("-k", default="", help="only mutations whose id contains this")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutation")
    args = parser.parse_args()

    mutations = [m for m in load(args.lists) if args.k in m.id]
    if not mutations:
        sys.exit("mutate: no mutation selected")
    dirty = uncommitted({m.file for m in mutations})
    if dirty:
        sys.exit(
            f"mutate: commit these first (a mutation is restored from git if cut off): {dirty}"
        )

    # SIGTERM becomes KeyboardInterrupt, so that the finally above restores the file.
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    results: list[tuple[Mutation, str]] = []
    for m in mutations:
        began = time.monotonic()
        outcome, detail = run_one(m, args.timeout)
        results.append((m, outcome))
        print(f"{outcome:8} {time.monotonic() - began:6.1f} s  {m.id}  {detail}", flush=True)

    survived = [m for m, outcome in results if outcome == "SURVIVED"]
    invalid = [m for m, outcome in results if outcome == "invalid"]
    print(
        f"\n{len(results)} mutations: {len(results) - len(survived) - len(invalid)} killed, "
        f"{len(survived)} survived, {len(invalid)} invalid"
    )
    for m in survived:
        print(f"  survived: {m.id} ({m.file}): {m.rule}")
    return 1 if survived or invalid else 0


if __name__ == "__main__":
    sys.exit(main())
