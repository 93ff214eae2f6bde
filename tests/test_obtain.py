"""Obtaining the reference corpora on first use, against a local HTTP server (never the internet)."""

import dataclasses
import hashlib
import io
import socket
import tarfile
import threading
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pooch
import pytest

from lit_rnn import obtain
from lit_rnn.cli import main
from lit_rnn.data import resolve_corpus_path
from lit_rnn.errors import UserError
from lit_rnn.obtain import KNOWN_CORPORA, build_linux_corpus, char_rnn_war_and_peace


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        server: Server = self.server.owner
        name = self.path.lstrip("/")
        server.requests[name] += 1
        action = server.script[name].pop(0) if server.script[name] else "whole"
        body = server.files.get(name)
        if isinstance(action, int) or body is None:
            self.send_error(action if isinstance(action, int) else 404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if action == "whole" else body[: len(body) // 2])  # "cut": the connection drops

    def log_message(self, *args):
        pass


class Server:
    """Serves ``files`` by name; ``script[name]`` says what the next requests for it get: "cut" (half
    the body, then the connection closes) or an HTTP status; after the script, the whole file."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.script: defaultdict[str, list] = defaultdict(list)
        self.requests: Counter[str] = Counter()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.http.owner = self
        self.url = f"http://127.0.0.1:{self.http.server_port}"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _point_ways_at(monkeypatch, base_url: str, installed: Path) -> None:
    """Every download of every way served under ``base_url``, and the installed tarball at ``installed``."""
    for name, ways in obtain.WAYS.items():
        moved = []
        for way in ways:
            if isinstance(way.source, obtain.Download):
                source = dataclasses.replace(way.source, urls=(f"{base_url}/{way.source.filename}",))
            else:
                source = installed
            moved.append(dataclasses.replace(way, source=source))
        monkeypatch.setitem(obtain.WAYS, name, tuple(moved))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test here reaches the internet: every URL points at a closed local port until a test serves it.
    (pooch's log lines, which say what is downloaded where, are silenced: they would go to a stream
    that pytest has closed.)"""
    _point_ways_at(monkeypatch, f"http://127.0.0.1:{_closed_port()}", tmp_path / "not-installed.tar.xz")
    monkeypatch.setattr(obtain, "RETRIES", 0)
    monkeypatch.setattr(pooch.get_logger(), "disabled", True)


@pytest.fixture
def server(monkeypatch, tmp_path):
    served = Server()
    thread = threading.Thread(target=served.http.serve_forever, daemon=True)
    thread.start()
    _point_ways_at(monkeypatch, served.url, tmp_path / "not-installed.tar.xz")
    yield served
    served.http.shutdown()
    served.http.server_close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pin(monkeypatch, name: str, corpus: bytes, downloads: dict[str, bytes] | None = None) -> None:
    """Make ``corpus`` the reference of ``name``, and pin each named download to the sha256 of its bytes."""
    monkeypatch.setitem(KNOWN_CORPORA, name, dataclasses.replace(
        KNOWN_CORPORA[name], n_bytes=len(corpus), sha256=_sha(corpus)))
    ways = []
    for way in obtain.WAYS[name]:
        if isinstance(way.source, obtain.Download) and way.source.filename in (downloads or {}):
            pinned = dataclasses.replace(way.source, sha256=_sha(downloads[way.source.filename]))
            way = dataclasses.replace(way, source=pinned)
        ways.append(way)
    monkeypatch.setitem(obtain.WAYS, name, tuple(ways))


TEXT = b"\xef\xbb\xbf\"Well, Prince, so Genoa and Lucca are now just family estates.\r\n" * 50


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_missing_corpus_is_downloaded_verified_and_kept(server, monkeypatch, tmp_path, capsys):
    server.files["warpeace_input.txt"] = TEXT
    _pin(monkeypatch, "warpeace", TEXT, {"warpeace_input.txt": TEXT})
    data = tmp_path / "data"
    assert main(["data", "fetch", "warpeace", "--data-dir", str(data)]) == 0
    assert (data / "warpeace_input.txt").read_bytes() == TEXT
    assert "sha256 matches the reference" in capsys.readouterr().out
    assert _listing(data) == ["downloads/warpeace_input.txt", "warpeace_input.txt"]
    # Present now: resolving it again downloads nothing.
    assert resolve_corpus_path("warpeace", data) == data / "warpeace_input.txt"
    assert server.requests["warpeace_input.txt"] == 1


def test_an_interrupted_download_is_retried_from_the_start(server, monkeypatch, tmp_path):
    server.files["warpeace_input.txt"] = TEXT
    server.script["warpeace_input.txt"] = ["cut"]
    _pin(monkeypatch, "warpeace", TEXT, {"warpeace_input.txt": TEXT})
    monkeypatch.setattr(obtain, "RETRIES", 1)
    assert obtain.obtain("warpeace", tmp_path).read_bytes() == TEXT
    assert server.requests["warpeace_input.txt"] == 2


def test_an_interrupted_download_leaves_nothing_and_a_rerun_starts_afresh(server, monkeypatch, tmp_path):
    server.files["warpeace_input.txt"] = TEXT
    server.script["warpeace_input.txt"] = ["cut"]
    _pin(monkeypatch, "warpeace", TEXT, {"warpeace_input.txt": TEXT})
    with pytest.raises(UserError, match="could not be obtained"):
        resolve_corpus_path("warpeace", tmp_path)
    assert _listing(tmp_path) == []  # no partial file, under its name or any other
    assert resolve_corpus_path("warpeace", tmp_path).read_bytes() == TEXT


def test_a_wrong_checksum_is_refused_and_nothing_is_kept(server, monkeypatch, tmp_path):
    server.files["warpeace_input.txt"] = TEXT.replace(b"Genoa", b"Milan")
    _pin(monkeypatch, "warpeace", TEXT, {"warpeace_input.txt": TEXT})
    with pytest.raises(UserError, match="its sha256 is not the pinned one"):
        resolve_corpus_path("warpeace", tmp_path)
    assert _listing(tmp_path) == []


def test_a_server_error_is_one_line(server, monkeypatch, tmp_path, capsys):
    server.script["warpeace_input.txt"] = [503]
    server.script["pg2600.txt"] = [500]
    assert main(["data", "info", "warpeace", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("lit-rnn: error: corpus 'warpeace'")
    assert "HTTP 503 Service Unavailable" in err and "HTTP 500 Internal Server Error" in err


def test_offline_the_error_names_the_files_and_where_to_put_them(tmp_path, capsys):
    for name, known in KNOWN_CORPORA.items():
        assert main(["data", "info", name, "--data-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"put {known.filename} (sha256 {known.sha256}) in {tmp_path.resolve()}" in err
        assert "could not connect" in err
    assert f"as {tmp_path.resolve()}/downloads/linux-source-6.1_6.1.192-2_all.deb" in err
    assert "at " + str(tmp_path / "not-installed.tar.xz") in err
    assert _listing(tmp_path) == []


GUTENBERG = (
    "\ufeffThe Project Gutenberg eBook of War and Peace\r\n*** START OF THE PROJECT ***\r\n"
    '"Well, Prince, so Genoa and Lucca are now\r\njust family estates.\r\n...not\r\nconscious.\r\n'
    "*** END OF THE PROJECT ***\r\n"
).encode()


def test_gutenberg_is_used_only_if_it_reproduces_the_reference(server, monkeypatch, tmp_path):
    server.files["pg2600.txt"] = GUTENBERG  # the published copy is not served: 404
    _pin(monkeypatch, "warpeace", TEXT, {"warpeace_input.txt": TEXT})
    with pytest.raises(UserError, match="Project Gutenberg's eBook #2600: other bytes than the reference"):
        resolve_corpus_path("warpeace", tmp_path)
    assert not (tmp_path / "warpeace_input.txt").exists()

    _pin(monkeypatch, "warpeace", char_rnn_war_and_peace(GUTENBERG))
    path = resolve_corpus_path("warpeace", tmp_path)
    assert path.read_bytes() == char_rnn_war_and_peace(GUTENBERG)


def _kernel_tarball(folder: Path) -> Path:
    tree = folder / "linux-source-6.1"
    for i in range(30):
        path = tree / f"dir{i % 4}" / f"file{i}.{'ch'[i % 2]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"/* file {i} */\nint x{i};\n".encode() * (i + 3))
    (tree / "Makefile").write_bytes(b"not C\n")
    tarball = folder / "linux-source-6.1.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(tree, arcname="linux-source-6.1")
    return tarball


def _tar_xz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _debian_package(files: dict[str, bytes]) -> bytes:
    """A minimal .deb: an ar archive of debian-binary, control.tar.xz and data.tar.xz."""
    members = {"debian-binary": b"2.0\n", "control.tar.xz": _tar_xz({"./control": b"Package: x\n"}),
               "data.tar.xz": _tar_xz({f"./{name}": content for name, content in files.items()})}
    archive = b"!<arch>\n"
    for name, content in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(content):<10}`\n".encode()
        archive += header + content + b"\n" * (len(content) % 2)
    return archive


def test_linux_is_built_from_the_pinned_package(server, monkeypatch, tmp_path):
    tarball = _kernel_tarball(tmp_path / "kernel")
    expected = build_linux_corpus(tarball, n_bytes=700)
    package = _debian_package({"usr/share/doc/x": b"docs", "usr/src/linux-source-6.1.tar.xz": tarball.read_bytes()})
    server.files["linux-source-6.1_6.1.192-2_all.deb"] = package
    _pin(monkeypatch, "linux", expected, {"linux-source-6.1_6.1.192-2_all.deb": package})
    data = tmp_path / "data"
    assert resolve_corpus_path("linux", data).read_bytes() == expected
    assert _listing(data) == ["downloads/linux-source-6.1_6.1.192-2_all.deb", "linux_input.txt"]


def test_linux_is_built_from_an_installed_tarball_without_downloading(monkeypatch, tmp_path):
    tarball = _kernel_tarball(tmp_path / "kernel")
    expected = build_linux_corpus(tarball, n_bytes=700)
    _point_ways_at(monkeypatch, f"http://127.0.0.1:{_closed_port()}", tarball)
    _pin(monkeypatch, "linux", expected)
    assert resolve_corpus_path("linux", tmp_path / "data").read_bytes() == expected


def test_an_installed_tarball_of_another_version_is_passed_over(server, monkeypatch, tmp_path):
    other = _kernel_tarball(tmp_path / "other")
    _point_ways_at(monkeypatch, server.url, other)
    _pin(monkeypatch, "linux", b"the reference corpus is other bytes")
    with pytest.raises(UserError) as error:
        resolve_corpus_path("linux", tmp_path / "data")
    message = str(error.value)
    assert "kernel tarball of Debian's linux-source-6.1 6.1.192-2: other bytes than the reference" in message
    assert "package: " in message and "HTTP 404" in message


def test_only_a_debian_package_is_unpacked(tmp_path):
    not_a_package = tmp_path / "x.deb"
    not_a_package.write_bytes(b"hello")
    with pytest.raises(UserError, match="is not a Debian package"):
        obtain.extract_from_deb(not_a_package, "usr/src/x", tmp_path)
    package = tmp_path / "y.deb"
    package.write_bytes(_debian_package({"usr/bin/y": b"y"}))
    with pytest.raises(UserError, match="holds no usr/src/x"):
        obtain.extract_from_deb(package, "usr/src/x", tmp_path)
    assert obtain.extract_from_deb(package, "usr/bin/y", tmp_path).read_bytes() == b"y"


def test_a_data_directory_that_cannot_be_written_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"not a folder")
    with pytest.raises(UserError, match="cannot be written: .*point LIT_RNN_DATA or --data-dir at a folder you can"):
        resolve_corpus_path("warpeace", blocker / "data")
