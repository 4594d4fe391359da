"""``ftp-csv``: daily CSV files uploaded at 05:00 to a real pyftpdlib server (FTP and FTPS), with a
ManualClock driving midnight and the upload time."""

from __future__ import annotations

import asyncio
import csv
import threading
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from flowengine.clock import ManualClock
from flowengine.registry import Registry
from flowengine.testing import flow_document, free_port, running
from nodes.ftp_csv import UPLOADS_TABLE, FtpCsvNode

with warnings.catch_warnings():  # pyftpdlib still imports asyncore/asynchat, deprecated in 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
    from pyftpdlib.servers import FTPServer

USER, PASSWORD = "wiotys", "s3cret-pass"
PARIS = "Europe/Paris"
# 2026-01-01 23:00 in Paris (UTC+1)
LATE_EVENING = datetime(2026, 1, 1, 22, 0, tzinfo=UTC)
COLUMNS = [
    {"header": "time", "path": "payload.receivedAt"},
    {"header": "devEUI", "path": "payload.devEui"},
    {"header": "fCnt", "path": "payload.fCnt"},
    {"header": "temperature", "path": "payload.decoded.temperature"},
    {"header": "note", "path": "payload.note"},
]
HEADER = ["time", "devEUI", "fCnt", "temperature", "note"]


class FtpServer:
    """pyftpdlib on 127.0.0.1 in a thread, one user with a home folder; start/stop on the same port."""

    def __init__(self, home: Path, port: int | None = None, certificate: Path | None = None) -> None:
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.certificate = certificate
        self.received: list[str] = []  # every file stored (STOR), in order
        self._server: FTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> FtpServer:
        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(self.home), perm="elradfmwMT")
        received = self.received
        base: Any = TLS_FTPHandler if self.certificate else FTPHandler

        class Handler(base):  # type: ignore[misc, valid-type]
            def on_file_received(self, file: str) -> None:
                received.append(Path(file).name)

        Handler.authorizer = authorizer
        if self.certificate:
            Handler.certfile = str(self.certificate)
            Handler.tls_control_required = True
            Handler.tls_data_required = True
        self._stop.clear()
        self._server = FTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._serve, name="ftp-server", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            self._server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
        if self._server is not None:
            self._server.close_all()
            self._server = None


@pytest.fixture
def ftp(tmp_path: Path) -> Any:
    server = FtpServer(tmp_path / "ftp-home")
    yield server
    server.stop()


def document(port: int, **config: Any) -> dict[str, Any]:
    settings = {"columns": COLUMNS, "host": "127.0.0.1", "port": port, "user": USER, "password": PASSWORD,
                "timezone": PARIS, "directory": "incoming/daily", "retryMin": 60, "retryMax": 600, "timeout": 5, **config}
    return flow_document(
        {"id": "in", "type": "inject", "wires": [["csv"]]},
        {"id": "csv", "type": "ftp-csv", "config": settings},
    )


def uplink(count: int, clock: ManualClock, **extra: Any) -> dict[str, Any]:
    return {"type": "uplink", "devEui": "0732227a557d8679", "fCnt": count, "receivedAt": clock.now().isoformat(),
            "decoded": {"temperature": 20 + count / 10}, **extra}


async def write(runtime: Any, clock: ManualClock, *counts: int, **extra: Any) -> None:
    for count in counts:
        await runtime.inject("in", uplink(count, clock, **extra))
    assert await runtime.drained()


def rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


async def settle(seconds: float = 0.3) -> None:
    """Real time for work in threads to happen (or, for a negative check, not to)."""
    await asyncio.sleep(seconds)


async def uploaded(runtime: Any, debug: Any, name: str, timeout: float = 10.0) -> dict[str, Any]:
    event = await debug.wait_status("csv", name, timeout=timeout)
    return event["status"]  # type: ignore[no-any-return]


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def local_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "ftp-csv" / "csv"


async def test_rows_across_midnight_same_header_and_upload_at_five_not_before(tmp_path, ftp) -> None:
    ftp.start()
    clock = ManualClock(LATE_EVENING)
    async with running(document(ftp.port), tmp_path / "data", clock=clock) as (runtime, debug):
        await write(runtime, clock, 1, 2, 3)
        await clock.advance(timedelta(minutes=30))
        await write(runtime, clock, 4, 5, note='a "quoted", multi\nline note')
        await clock.advance(timedelta(hours=1))  # 00:30 in Paris: a new day
        await write(runtime, clock, 6, 7)

        day1, day2 = local_dir(tmp_path) / "2026-01-01.csv", local_dir(tmp_path) / "2026-01-02.csv"
        first, second = rows(day1), rows(day2)
        assert first[0] == second[0] == HEADER
        assert [r[2] for r in first[1:]] == ["1", "2", "3", "4", "5"]
        assert [r[2] for r in second[1:]] == ["6", "7"]
        assert first[1] == ["2026-01-01T22:00:00+00:00", "0732227a557d8679", "1", "20.1", ""]
        assert first[5][4] == 'a "quoted", multi\nline note'
        assert day1.read_bytes().startswith(b"time,devEUI,fCnt,temperature,note\r\n")

        await clock.advance(timedelta(hours=4, minutes=29, seconds=59))  # 04:59:59 in Paris
        await settle()
        assert ftp.received == []
        await clock.advance(timedelta(seconds=1))  # 05:00
        status = await uploaded(runtime, debug, "uplinks-2026-01-01.csv uploaded")
        remote = ftp.home / "incoming" / "daily" / "uplinks-2026-01-01.csv"
        assert remote.read_bytes() == day1.read_bytes()
        assert ftp.received == ["uplinks-2026-01-01.csv.part"]
        assert status["color"] == "green" and status["uploads"] == 1
        assert not (ftp.home / "incoming" / "daily" / "uplinks-2026-01-02.csv").exists()

        # the next morning the second day goes, and the first is not sent again
        await write(runtime, clock, 8)
        await clock.advance(timedelta(days=1))
        await uploaded(runtime, debug, "uplinks-2026-01-02.csv uploaded")
        assert ftp.received == ["uplinks-2026-01-01.csv.part", "uplinks-2026-01-02.csv.part"]
        assert [r[2] for r in rows(ftp.home / "incoming" / "daily" / "uplinks-2026-01-02.csv")[1:]] == ["6", "7", "8"]
        records = list(runtime.store.db[UPLOADS_TABLE].rows)
        assert [(r["day"], r["remote"], r["outcome"]) for r in records] == [
            ("2026-01-01", "incoming/daily/uplinks-2026-01-01.csv", "uploaded"),
            ("2026-01-02", "incoming/daily/uplinks-2026-01-02.csv", "uploaded")]


async def test_server_down_at_five_and_up_later_uploads_once(tmp_path, ftp) -> None:
    clock = ManualClock(LATE_EVENING)
    config = {"keepDays": 0, "fileName": "data_{date:%Y%m%d}.csv", "directory": ""}
    async with running(document(ftp.port, **config), tmp_path / "data", clock=clock) as (runtime, debug):
        await write(runtime, clock, 1, 2)
        await clock.advance(timedelta(hours=7))  # 06:00 in Paris; the server is not running
        status = await uploaded(runtime, debug, "data_20260101.csv failed (attempt 1)")
        assert status["color"] == "red" and "retrying in 60 s" in status["text"]
        await clock.advance(timedelta(seconds=60))
        status = await uploaded(runtime, debug, "data_20260101.csv failed (attempt 2)")
        assert "retrying in 120 s" in status["text"]
        ftp.start()
        await clock.advance(timedelta(seconds=120))
        status = await uploaded(runtime, debug, "data_20260101.csv uploaded")
        assert status["color"] == "green"
        assert ftp.received == ["data_20260101.csv.part"]
        assert rows(ftp.home / "data_20260101.csv")[1:] == [
            ["2026-01-01T22:00:00+00:00", "0732227a557d8679", "1", "20.1", ""],
            ["2026-01-01T22:00:00+00:00", "0732227a557d8679", "2", "20.2", ""]]
        # keepDays 0: the uploaded file is gone locally; nothing is retried any more
        await wait_for(lambda: not (local_dir(tmp_path) / "2026-01-01.csv").exists())
        await clock.advance(timedelta(hours=1))
        await settle()
        assert ftp.received == ["data_20260101.csv.part"]


async def test_restart_between_midnight_and_five_uploads_once(tmp_path, ftp) -> None:
    ftp.start()
    data = tmp_path / "data"
    clock = ManualClock(LATE_EVENING)
    async with running(document(ftp.port), data, clock=clock) as (runtime, debug):
        await write(runtime, clock, 1, 2, 3)
        await clock.advance(timedelta(hours=1, minutes=30))  # 00:30
    # flowengine restarts at 00:30; the file of the first day waits for 05:00
    clock = ManualClock(LATE_EVENING + timedelta(hours=1, minutes=30))
    async with running(document(ftp.port), data, clock=clock) as (runtime, debug):
        await write(runtime, clock, 4)
        await clock.advance(timedelta(hours=4, minutes=29))
        await settle()
        assert ftp.received == []
        await clock.advance(timedelta(minutes=1))
        await uploaded(runtime, debug, "uplinks-2026-01-01.csv uploaded")
    remote = ftp.home / "incoming" / "daily" / "uplinks-2026-01-01.csv"
    assert [r[2] for r in rows(remote)[1:]] == ["1", "2", "3"]
    # and again after the upload: nothing is sent twice
    clock = ManualClock(LATE_EVENING + timedelta(hours=8))
    async with running(document(ftp.port), data, clock=clock) as (runtime, debug):
        await settle()
        assert ftp.received == ["uplinks-2026-01-01.csv.part"]


async def test_upload_that_reached_the_server_but_was_not_recorded_is_not_sent_again(tmp_path, ftp) -> None:
    ftp.start()
    data = tmp_path / "data"
    clock = ManualClock(LATE_EVENING)
    async with running(document(ftp.port), data, clock=clock) as (runtime, debug):
        await write(runtime, clock, 1)
        await clock.advance(timedelta(hours=7))
        await uploaded(runtime, debug, "uplinks-2026-01-01.csv uploaded")
        runtime.store.db[UPLOADS_TABLE].delete_where()  # as if flowengine died before recording it
    clock = ManualClock(LATE_EVENING + timedelta(hours=8))
    async with running(document(ftp.port), data, clock=clock) as (runtime, debug):
        await uploaded(runtime, debug, "uplinks-2026-01-01.csv already there")
        assert ftp.received == ["uplinks-2026-01-01.csv.part"]
        [record] = runtime.store.db[UPLOADS_TABLE].rows
        assert record["outcome"] == "already there"


async def test_ftps_with_a_trusted_certificate_and_refused_without(tmp_path) -> None:
    authority = trustme.CA()
    certificate = tmp_path / "server.pem"
    authority.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(certificate))
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server = FtpServer(tmp_path / "ftps-home", certificate=certificate).start()
    try:
        clock = ManualClock(LATE_EVENING)
        async with running(document(server.port, tls="explicit", caFile=str(ca_file)), tmp_path / "data", clock=clock) as (runtime, debug):
            await write(runtime, clock, 1, 2)
            await clock.advance(timedelta(hours=7))
            await uploaded(runtime, debug, "uplinks-2026-01-01.csv uploaded")
            assert [r[2] for r in rows(server.home / "incoming" / "daily" / "uplinks-2026-01-01.csv")[1:]] == ["1", "2"]
        # without the CA the server's certificate is not trusted: the upload fails and says why
        clock = ManualClock(LATE_EVENING)
        async with running(document(server.port, tls="explicit"), tmp_path / "data2", clock=clock) as (runtime, debug):
            await write(runtime, clock, 1)
            await clock.advance(timedelta(hours=7))
            status = await uploaded(runtime, debug, "failed (attempt 1)")
            assert "CERTIFICATE_VERIFY_FAILED" in status["text"]
        assert server.received == ["uplinks-2026-01-01.csv.part"]
    finally:
        server.stop()


def test_config_checks() -> None:
    registry = Registry([FtpCsvNode])
    assert registry.get("ftp-csv") is FtpCsvNode
    base = {"columns": COLUMNS, "host": "ftp.example.com", "timezone": "UTC", "fileName": "uplinks-{date}.csv",
            "retryMin": 60, "retryMax": 3600}
    assert FtpCsvNode.check(base) == []
    assert FtpCsvNode.check({**base, "timezone": "Mars/Olympus"}) == [
        ("/timezone", "unknown timezone 'Mars/Olympus' (expected an IANA name such as 'Europe/Paris')")]
    assert FtpCsvNode.check({**base, "fileName": "uplinks.csv"}) == [
        ("/fileName", "must contain {date}, or every day overwrites the same file")]
    assert FtpCsvNode.check({**base, "fileName": "a/{date}.csv"}) == [
        ("/fileName", "must be a file name, not a path (put folders in directory)")]
    assert FtpCsvNode.check({**base, "fileName": "{day}.csv"})[0][0] == "/fileName"
    assert FtpCsvNode.check({**base, "columns": [COLUMNS[0], COLUMNS[0]]}) == [("/columns/1/header", "duplicate header 'time'")]
