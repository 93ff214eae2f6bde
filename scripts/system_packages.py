#!/usr/bin/env python3
"""The system packages `make setup` needs (KenLM's build, the venv, the site's JavaScript): found, or installed.

Each requirement in ``scripts/debian-packages.txt`` (the list CI installs too) is probed the way the
build meets it, so a conda environment or another distribution that has it passes. What is missing
is installed with apt-get where that can be done without a password (as root, or through sudo -n);
otherwise the one command to run is printed. Exit status 0 when nothing is missing any more.

    python3 scripts/system_packages.py [--dry-run] [--list FILE]

``--dry-run`` prints the commands it would run instead of running them. Standard library only: it
runs before the project's virtual environment exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

LIST = Path(__file__).with_name("debian-packages.txt")
NOT_ON_CONDA_FORGE = {"chromium"}  # environment.yml cannot provide these
KINDS = {"compiler": (0,), "program": (1,), "module": (1,), "header": (1, 2)}  # probe: how many arguments


@dataclass(frozen=True)
class Requirement:
    """A Debian package and the probe that shows what it provides is there."""

    package: str
    kind: str
    args: tuple[str, ...]


def read(path: Path = LIST) -> list[Requirement]:
    """The requirements listed in ``path`` (comments and blank lines skipped)."""
    requirements = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) < 2 or len(words) - 2 not in KINDS.get(words[1], ()):
            raise ValueError(f"{path}:{number}: expected a package and one of the probes {', '.join(KINDS)}: {line!r}")
        package, kind, *args = words
        requirements.append(Requirement(package, kind, tuple(args)))
    return requirements


def compiler() -> str:
    return os.environ.get("CXX", "c++")


def compiles(header: str, library: str | None = None) -> bool:
    """Whether a C++ file including ``header`` compiles and links (with ``-l library``), as a build would."""
    flags = [os.environ.get(name, "") for name in ("CPPFLAGS", "CXXFLAGS", "LDFLAGS")]
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "probe.cc"
        source.write_text(f"#include <{header}>\nint main() {{ return 0; }}\n")
        command = [*shlex.split(compiler()), *shlex.split(" ".join(flags)), "-I", sysconfig.get_paths()["include"],
                   str(source), "-o", str(Path(scratch) / "probe"), *([f"-l{library}"] if library else [])]
        try:
            return subprocess.run(command, capture_output=True).returncode == 0
        except OSError:  # no compiler at all
            return False


def present(requirement: Requirement) -> bool:
    kind, args = requirement.kind, requirement.args
    if kind == "compiler":
        return shutil.which(shlex.split(compiler())[0]) is not None
    if kind == "program":
        return shutil.which(args[0]) is not None
    if kind == "module":
        return importlib.util.find_spec(args[0]) is not None
    return compiles(*args)


def missing(requirements: list[Requirement]) -> list[str]:
    """The packages whose probes fail, each once, in the list's order."""
    return list(dict.fromkeys(r.package for r in requirements if not present(r)))


def apt_commands(packages: list[str], prefix: tuple[str, ...] = ()) -> list[list[str]]:
    return [[*prefix, "apt-get", "update", "-q"],
            [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]]


@dataclass(frozen=True)
class Plan:
    """What to do about missing packages: commands to run, or a message saying what the user must run."""

    commands: list[list[str]]
    message: str = ""


def plan(packages: list[str], *, conda: bool, apt: bool, root: bool, sudo: bool) -> Plan:
    """How to get ``packages`` here: install them if that needs no password, else say how."""
    needs = f"make setup needs system packages that are missing here ({', '.join(packages)} in Debian's names)"
    if conda:
        elsewhere = [p for p in packages if p in NOT_ON_CONDA_FORGE]
        system = f" and install {', '.join(elsewhere)} with your system's package manager" if elsewhere else ""
        return Plan([], f"{needs}: in this conda environment, run `conda env update -f environment.yml`{system}, "
                        "then make setup again")
    if not apt:
        return Plan([], f"{needs}: install them with your system's package manager, then make setup again")
    if root or sudo:
        return Plan(apt_commands(packages, () if root else ("sudo", "-n")))
    command = " && ".join(shlex.join(c) for c in apt_commands(packages, ("sudo",)))
    return Plan([], f"{needs}: run `{command}`, then make setup again")


def situation() -> dict[str, bool]:
    """The facts :func:`plan` decides on, about this machine and user."""
    root = os.geteuid() == 0
    sudo = not root and shutil.which("sudo") is not None and \
        subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
    return {"conda": bool(os.environ.get("CONDA_PREFIX")), "apt": shutil.which("apt-get") is not None,
            "root": root, "sudo": sudo}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    parser.add_argument("--list", type=Path, default=LIST, help="the requirements (default: %(default)s)")
    args = parser.parse_args(argv)
    requirements = read(args.list)
    packages = missing(requirements)
    if not packages:
        return 0
    todo = plan(packages, **situation())
    if not todo.commands:
        print(todo.message, file=sys.stderr)
        return 1
    print(f"make setup needs system packages that are missing here: {', '.join(packages)}", flush=True)
    for command in todo.commands:
        print(("would run: " if args.dry_run else "+ ") + shlex.join(command), flush=True)
        if args.dry_run:
            continue
        if subprocess.run(command, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}).returncode:
            print(f"`{shlex.join(command)}` failed: make setup needs {', '.join(packages)}", file=sys.stderr)
            return 1
    if args.dry_run:
        return 0
    still = missing(requirements)
    if still:
        print(f"still missing after the install: {', '.join(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
