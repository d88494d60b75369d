#!/usr/bin/env python3
"""Set up ems on a fresh machine and run it: `python3 run.py demo` or `python3 run.py test`.

Needs only Python 3.11+. Creates `.venv` next to this file, installs the pinned dependencies
from `requirements.lock` (again only when the lock file changes) and runs the job inside it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("EMS_VENV", ROOT / ".venv"))
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".ems-lock-sha256"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_venv() -> None:
    """Create the virtual environment and install the locked dependencies if they changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs on whatever python3 is
        sys.exit(f"ems needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    wanted = hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    print("installing pinned dependencies from requirements.lock", flush=True)
    subprocess.run([*pip, "install", "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "install", "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(wanted)


def run(args: list[str]) -> int:
    """Run a step of the test job; SIGTERM to run.py is passed on to it."""
    child = subprocess.Popen(args, cwd=ROOT)
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: child.send_signal(signum))
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # Ctrl-C reached the child too; wait for it to stop
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def replace_process(args: list[str]) -> int:
    """Become ``args`` (POSIX exec): SIGTERM and SIGINT then reach ems itself, which stops
    cleanly, and its exit status is run.py's."""
    if os.name != "posix":  # pragma: no cover - Windows has no exec that keeps the pid
        return run(args)
    os.chdir(ROOT)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(args[0], args)


def main() -> int:
    job, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if job not in {"demo", "serve", "test", "ems", "shell"}:
        print(__doc__.strip())
        print(
            "\njobs: demo [ems demo options] | serve [ems serve options] | test [pytest options]"
            " | ems ARGS... | shell"
        )
        return 2
    ensure_venv()
    py = str(BIN / "python")
    if job == "demo":
        config = [] if "--config" in rest else ["--config", str(ROOT / "data" / "sample.toml")]
        return replace_process([py, "-m", "ems", "demo", *config, *rest])
    if job == "serve":
        config = [] if "--config" in rest else ["--config", str(ROOT / "data" / "sample.toml")]
        return replace_process([py, "-m", "ems", "serve", *config, *rest])
    if job == "ems":
        return replace_process([py, "-m", "ems", *rest])
    if job == "shell":
        return replace_process([os.environ.get("SHELL", "/bin/sh")])
    for check in ([py, "-m", "ruff", "check", "."], [py, "-m", "mypy"]):
        print("$", " ".join(check[2:]), flush=True)
        if code := run(check):
            return code
    return run([py, "-m", "pytest", *rest])


if __name__ == "__main__":
    sys.exit(main())
