"""make setup's check of the system packages (scripts/system_packages.py), run without installing anything."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system_packages.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("system_packages", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


system_packages = _load_script()
Requirement = system_packages.Requirement


def test_the_list_names_what_kenlms_build_needs():
    packages = [r.package for r in system_packages.read()]
    for package in ("g++", "cmake", "libboost-program-options-dev", "libboost-system-dev", "libboost-thread-dev",
                    "libboost-test-dev", "zlib1g-dev", "libbz2-dev", "liblzma-dev", "python3-dev"):
        assert package in packages


def test_this_machine_which_has_run_make_setup_lacks_nothing():
    assert system_packages.missing(system_packages.read()) == []


def test_a_malformed_line_is_refused(tmp_path):
    listing = tmp_path / "packages.txt"
    listing.write_text("# fine\ncmake  program cmake\ng++ programme c++\n")
    with pytest.raises(ValueError, match=r"packages.txt:3: .*'g\+\+ programme c\+\+'"):
        system_packages.read(listing)


@pytest.mark.parametrize("requirement, expected", [
    (Requirement("x", "program", ("sh",)), True),
    (Requirement("x", "program", ("lit-rnn-no-such-program",)), False),
    (Requirement("x", "module", ("json",)), True),
    (Requirement("x", "module", ("lit_rnn_no_such_module",)), False),
    (Requirement("x", "header", ("stddef.h",)), True),
    (Requirement("x", "header", ("lit_rnn/no_such_header.h",)), False),
    (Requirement("x", "header", ("stddef.h", "lit_rnn_no_such_library")), False),
])
def test_probes_tell_present_from_missing(requirement, expected):
    assert system_packages.present(requirement) is expected


def test_a_missing_compiler_fails_every_compile_probe(monkeypatch):
    monkeypatch.setenv("CXX", "lit-rnn-no-such-compiler")
    assert not system_packages.present(Requirement("g++", "compiler", ()))
    assert not system_packages.present(Requirement("x", "header", ("stddef.h",)))


def test_packages_are_installed_where_no_password_is_needed_else_the_command_is_named():
    as_root = system_packages.plan(["cmake", "npm"], conda=False, apt=True, root=True, sudo=False)
    assert as_root.commands == [["apt-get", "update", "-q"],
                                ["apt-get", "install", "-y", "-q", "--no-install-recommends", "cmake", "npm"]]
    with_sudo = system_packages.plan(["cmake"], conda=False, apt=True, root=False, sudo=True)
    assert [c[:3] for c in with_sudo.commands] == [["sudo", "-n", "apt-get"]] * 2

    by_hand = system_packages.plan(["cmake", "npm"], conda=False, apt=True, root=False, sudo=False)
    assert by_hand.commands == [] and "\n" not in by_hand.message
    assert ("run `sudo apt-get update -q && sudo apt-get install -y -q --no-install-recommends cmake npm`"
            in by_hand.message)
    conda = system_packages.plan(["cmake"], conda=True, apt=True, root=True, sudo=False)
    assert conda.commands == [] and "conda env update -f environment.yml" in conda.message
    elsewhere = system_packages.plan(["cmake"], conda=False, apt=False, root=True, sudo=False)
    assert elsewhere.commands == [] and "package manager" in elsewhere.message


def _listing(tmp_path) -> Path:
    listing = tmp_path / "packages.txt"
    listing.write_text("coreutils  program sh\nlit-rnn-test-package  program lit-rnn-no-such-program\n")
    return listing


def test_dry_run_prints_the_install_and_runs_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(system_packages, "situation", lambda: {"conda": False, "apt": True, "root": True,
                                                               "sudo": False})
    monkeypatch.setattr(system_packages.subprocess, "run", None)  # anything run would fail loudly
    monkeypatch.setattr(system_packages, "compiles", None)
    assert system_packages.main(["--dry-run", "--list", str(_listing(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "missing here: lit-rnn-test-package" in out
    assert "would run: apt-get install -y -q --no-install-recommends lit-rnn-test-package" in out


def test_without_a_way_to_install_it_names_the_command_and_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(system_packages, "situation", lambda: {"conda": False, "apt": True, "root": False,
                                                               "sudo": False})
    assert system_packages.main(["--list", str(_listing(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sudo apt-get install -y -q --no-install-recommends lit-rnn-test-package" in err


def test_conda_users_are_told_where_chromium_comes_from():
    conda = system_packages.plan(["cmake", "chromium"], conda=True, apt=True, root=True, sudo=False)
    assert conda.commands == [] and "install chromium with your system's package manager" in conda.message


def test_chromium_is_on_the_list_so_under_ci_a_missing_browser_fails_the_browser_tests(monkeypatch):
    """make setup installs what the list names; where CI runs the tests, a browser test must run, not skip."""
    import browser

    assert Requirement("chromium", "program", ("chromium",)) in system_packages.read()
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI every browser test must run"):
        browser.require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="make setup"):
        browser.require_chromium()
    monkeypatch.undo()
    assert browser.require_chromium() == browser.chromium()  # this machine has run make setup
