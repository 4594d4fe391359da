"""``ftp-csv``: one CSV file a day, uploaded the next morning to FTP or FTPS (seed 000)."""

from __future__ import annotations

import asyncio
import csv
import ftplib
import io
import json
import re
import ssl
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowengine import paths
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject

UPLOADS_TABLE = "ftp_csv_uploads"
"""Store table of the files uploaded: (node_id, day) -> remote path, size, time."""
_LOCAL_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})\.csv")
_FTP_ERRORS: tuple[type[BaseException], ...] = (*ftplib.all_errors, ssl.SSLError)


@dataclass(frozen=True)
class FtpTarget:
    """Where and how to upload (plain data, handed to the worker thread)."""

    host: str
    port: int
    user: str
    password: str
    tls: bool
    ca_file: str
    directory: str
    passive: bool
    timeout: float


def upload(target: FtpTarget, local: Path, remote_name: str) -> str:
    """Upload ``local`` as ``remote_name`` in the target directory (blocking; run it in a thread).

    The file is stored as ``<name>.part`` and then renamed, so the server never shows a partial
    file under the final name. When the final name already holds a file of the same size (an
    earlier upload finished but flowengine stopped before recording it), nothing is sent again.
    Returns ``"uploaded"`` or ``"already there"``; raises an ``ftplib`` / ``OSError`` error.
    """
    ftp: ftplib.FTP
    if target.tls:
        context = ssl.create_default_context(cafile=target.ca_file or None)
        ftp = ftplib.FTP_TLS(context=context, timeout=target.timeout)
    else:
        ftp = ftplib.FTP(timeout=target.timeout)
    try:
        ftp.connect(target.host, target.port)
        ftp.login(target.user, target.password)  # FTP_TLS sends AUTH TLS first (explicit TLS)
        if isinstance(ftp, ftplib.FTP_TLS):
            ftp.prot_p()
        ftp.set_pasv(target.passive)
        if target.directory:
            _enter(ftp, target.directory)
        size = local.stat().st_size
        if _remote_size(ftp, remote_name) == size:
            ftp.quit()
            return "already there"
        partial = remote_name + ".part"
        with local.open("rb") as source:
            ftp.storbinary(f"STOR {partial}", source)
        try:
            ftp.rename(partial, remote_name)
        except ftplib.error_perm:  # some servers refuse to rename over an existing file
            ftp.delete(remote_name)
            ftp.rename(partial, remote_name)
        ftp.quit()
        return "uploaded"
    finally:
        ftp.close()


def _enter(ftp: ftplib.FTP, directory: str) -> None:
    """Change to ``directory``, creating the parts that do not exist."""
    try:
        ftp.cwd(directory)
        return
    except ftplib.error_perm:
        pass  # missing: create it below, one part at a time
    if directory.startswith("/"):
        ftp.cwd("/")
    for part in [p for p in directory.split("/") if p]:
        try:
            ftp.cwd(part)
        except ftplib.error_perm:
            ftp.mkd(part)
            ftp.cwd(part)


def _remote_size(ftp: ftplib.FTP, name: str) -> int | None:
    ftp.voidcmd("TYPE I")
    try:
        size = ftp.size(name)
    except ftplib.error_perm:  # 550: no such file
        return None
    return size


def cell(value: Any) -> str:
    """A message value as CSV text: missing is empty, JSON for objects and lists."""
    if value is paths.MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


class FtpCsvNode(Node):
    """Appends every message as one row to the current day's CSV file and uploads each finished
    day to an FTP or FTPS server the next day at ``uploadAt`` (default 05:00), as in seed 000:
    "one CSV file each day, copied to the customer's FTP site the next day at 5 am, always the same
    column header".

    Rows: ``columns`` lists ``{header, path}``; each row holds the value at each dotted ``path``
    (``payload.devEui``, ``payload.decoded.temperature``, ``topic``...): empty when missing, JSON
    for objects and lists. Every file starts with the same header line. The day of a row is the
    day, in ``timezone``, when the row is written. Files are ``<data folder>/ftp-csv/<node id>/
    YYYY-MM-DD.csv``, UTF-8, RFC 4180 quoting, CRLF line ends. Each row is flushed to the
    operating system as soon as it is written: a crash or kill of flowengine loses no row that
    reached the node (a power cut may lose the last seconds that the OS had not yet written).

    Upload: at ``uploadAt`` (in ``timezone``) every earlier day's file not yet uploaded is sent
    to ``directory`` (created when missing) as ``fileName`` (``{date}`` is the day, e.g.
    ``uplinks-{date}.csv`` or ``data_{date:%Y%m%d}.csv``), first as ``<name>.part`` then renamed.
    ``tls: explicit`` uses FTPS with AUTH TLS and a protected data channel, checking the
    server's certificate against the system CAs or ``caFile``. A failed upload is retried after
    ``retryMin`` seconds, doubling up to ``retryMax``, and shows in the status. Each upload is
    recorded in the store, so a file is uploaded once, also across restarts; a file found on the
    server already with the same size (uploaded just before a crash) is recorded, not sent
    again. Uploaded files are deleted locally after ``keepDays`` days; files not uploaded are
    kept.

    Reads: the fields named by ``columns``. Writes: nothing (a sink)."""

    type = "ftp-csv"
    category = "sink"
    outputs = 0
    color = "#d8bfd8"
    label = "ftp csv"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["columns", "host"],
        "properties": {
            "columns": {
                "title": "Columns",
                "type": "array",
                "minItems": 1,
                "description": "The CSV columns in order: a header and the dotted path of the value.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["header", "path"],
                    "properties": {
                        "header": {"title": "Header", "type": "string", "minLength": 1, "description": "Column name in the header line."},
                        "path": {"title": "Path", "type": "string", "minLength": 1, "description": "Dotted path of the value, e.g. payload.decoded.temperature."},
                    },
                },
            },
            "delimiter": {"title": "Delimiter", "enum": [",", ";", "\t"], "description": "Field separator.", "default": ","},
            "timezone": {"title": "Timezone", "type": "string", "description": "IANA timezone that decides where a day starts and when uploadAt is (e.g. Europe/Paris).", "default": "UTC"},
            "host": {"title": "FTP host", "type": "string", "minLength": 1, "description": "Host name or address of the FTP server."},
            "port": {"title": "Port", "type": "integer", "minimum": 1, "maximum": 65535, "description": "Control port of the FTP server.", "default": 21},
            "user": {"title": "User", "type": "string", "description": "FTP user name.", "default": "anonymous"},
            "password": {"title": "Password", "type": "string", "writeOnly": True, "format": "password", "description": "FTP password.", "default": ""},
            "tls": {"title": "TLS", "enum": ["none", "explicit"], "description": "none: plain FTP; explicit: FTPS (AUTH TLS, protected data channel).", "default": "none"},
            "caFile": {"title": "CA file", "type": "string", "description": "PEM file of the CA that signed the server's certificate (empty: the system's CAs).", "default": ""},
            "passive": {"title": "Passive mode", "type": "boolean", "description": "Use passive data connections (PASV), the usual choice behind NAT.", "default": True},
            "directory": {"title": "Remote directory", "type": "string", "description": "Directory on the server for the files (created when missing); empty: the login directory.", "default": ""},
            "fileName": {"title": "File name", "type": "string", "minLength": 1, "description": "Remote file name; {date} is the day (YYYY-MM-DD), {date:%Y%m%d} formats it.", "default": "uplinks-{date}.csv"},
            "uploadAt": {"title": "Upload at", "type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "description": "Local time (HH:MM, in timezone) when the previous day's file is uploaded.", "default": "05:00"},
            "retryMin": {"title": "First retry after (s)", "type": "number", "minimum": 1, "description": "Wait before retrying a failed upload; doubles after each failure.", "default": 60},
            "retryMax": {"title": "Longest retry wait (s)", "type": "number", "minimum": 1, "description": "Upper bound of the wait between upload attempts.", "default": 3600},
            "timeout": {"title": "Network timeout (s)", "type": "number", "minimum": 1, "maximum": 600, "description": "Timeout of each FTP network operation.", "default": 30},
            "keepDays": {"title": "Keep local files (days)", "type": "integer", "minimum": 0, "description": "Days to keep uploaded files in the data folder; 0 deletes them once uploaded.", "default": 7},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        try:
            ZoneInfo(config["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(("/timezone", f"unknown timezone {config['timezone']!r} (expected an IANA name such as 'Europe/Paris')"))
        try:
            name = config["fileName"].format(date=date(2026, 1, 2))
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            problems.append(("/fileName", f"not a valid pattern ({type(exc).__name__}: {exc}); use {{date}}"))
        else:
            if "/" in name or name in (".", ".."):
                problems.append(("/fileName", "must be a file name, not a path (put folders in directory)"))
            elif name == config["fileName"]:
                problems.append(("/fileName", "must contain {date}, or every day overwrites the same file"))
        seen: set[str] = set()
        for index, column in enumerate(config["columns"]):
            if column["header"] in seen:
                problems.append((f"/columns/{index}/header", f"duplicate header {column['header']!r}"))
            seen.add(column["header"])
        if config["retryMax"] < config["retryMin"]:
            problems.append(("/retryMax", f"{config['retryMax']} is less than retryMin ({config['retryMin']})"))
        return problems

    def __init__(self, config: JSONObject, context: Any) -> None:
        super().__init__(config, context)
        self.folder: Path = Path(context.data_dir) / "ftp-csv" / context.node_id
        self.tz = ZoneInfo(config["timezone"])
        hours, minutes = (int(part) for part in config["uploadAt"].split(":"))
        self.upload_at = time(hours, minutes)
        self.header = [column["header"] for column in config["columns"]]
        self._day: date | None = None
        self._file: IO[str] | None = None
        self._writer: Any = None
        self.rows_today = 0
        self.last_upload = ""
        self.failure = ""
        self.uploads = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.context.store.db[UPLOADS_TABLE].create(  # type: ignore[union-attr]
            {"node_id": str, "day": str, "remote": str, "size": int, "uploaded_at": str, "outcome": str},
            pk=("node_id", "day"), if_not_exists=True)
        self.spawn(self._schedule(), "upload")
        self._show()

    async def stop(self) -> None:
        self._close()

    # -- rows ---------------------------------------------------------------------------------

    async def on_message(self, msg: Message) -> None:
        day = self.clock.now().astimezone(self.tz).date()
        if day != self._day or self._file is None:
            self._open(day)
        assert self._file is not None
        self._writer.writerow([cell(paths.get(msg, column["path"])) for column in self.config["columns"]])
        self._file.flush()
        self.rows_today += 1
        if self.rows_today == 1 or self.rows_today % 100 == 0:
            self._show()

    def path_of(self, day: date) -> Path:
        return self.folder / f"{day.isoformat()}.csv"

    def _open(self, day: date) -> None:
        self._close()
        path = self.path_of(day)
        old_size = path.stat().st_size if path.exists() else 0
        if old_size:
            with path.open("rb") as existing:
                first = existing.readline().decode("utf-8", "replace").rstrip("\r\n")
                existing.seek(-1, 2)
                ends_cleanly = existing.read(1) == b"\n"
            expected = self._line(self.header)
            if first != expected:
                self.log.warning("%s has the header %r, not %r (the columns changed today); rows are appended anyway",
                                 path.name, first, expected)
                self.status(f"{path.name}: header differs from the columns (changed today?)", color="yellow")
        self._file = path.open("a", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file, delimiter=self.config["delimiter"], lineterminator="\r\n")
        if not old_size:
            self._writer.writerow(self.header)
        elif not ends_cleanly:  # the process died in the middle of a row: end that line
            self._file.write("\r\n")
        self._file.flush()
        self._day = day
        self.rows_today = _count_rows(path) if old_size else 0

    def _line(self, values: list[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.config["delimiter"], lineterminator="").writerow(values)
        return buffer.getvalue()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None

    # -- uploads ------------------------------------------------------------------------------

    def _target(self) -> FtpTarget:
        c = self.config
        return FtpTarget(c["host"], c["port"], c["user"], c["password"], c["tls"] == "explicit", c["caFile"],
                         c["directory"], c["passive"], c["timeout"])

    def remote_name(self, day: date) -> str:
        return str(self.config["fileName"].format(date=day))

    def due_at(self, day: date) -> datetime:
        """When the file of ``day`` is uploaded: ``uploadAt`` on the next day, in the timezone."""
        return datetime.combine(day + timedelta(days=1), self.upload_at, tzinfo=self.tz)

    def uploaded(self, day: date) -> bool:
        table = self.context.store.db[UPLOADS_TABLE]
        return bool(table.count_where("node_id = ? and day = ?", [self.id, day.isoformat()]))

    def _local_days(self) -> list[date]:
        days = []
        for path in self.folder.glob("*.csv"):
            match = _LOCAL_NAME.fullmatch(path.name)
            if match:
                days.append(date.fromisoformat(match.group(1)))
        return sorted(days)

    async def _schedule(self) -> None:
        while True:
            await self.upload_due()
            self._clean()
            now = self.clock.now().astimezone(self.tz)
            wake = datetime.combine(now.date(), self.upload_at, tzinfo=self.tz)
            if wake <= now:
                wake = datetime.combine(now.date() + timedelta(days=1), self.upload_at, tzinfo=self.tz)
            await self.clock.sleep_until(wake)

    async def upload_due(self) -> None:
        """Upload every file whose time has come and that is not uploaded yet, oldest first."""
        for day in self._local_days():
            if self.clock.now() < self.due_at(day) or self.uploaded(day):
                continue
            await self._upload_with_retries(day)

    async def _upload_with_retries(self, day: date) -> None:
        delay = self.config["retryMin"]
        attempt = 0
        name = self.remote_name(day)
        while True:
            attempt += 1
            path = self.path_of(day)
            size = path.stat().st_size
            try:
                outcome = await asyncio.to_thread(upload, self._target(), path, name)
            except _FTP_ERRORS as exc:
                self.failure = f"upload of {name} failed (attempt {attempt}): {_describe(exc)}; retrying in {delay:g} s"
                self.log.warning("%s", self.failure)
                self._show()
                await self.clock.sleep(delay)
                delay = min(delay * 2, self.config["retryMax"])
                continue
            remote = f"{self.config['directory'].rstrip('/')}/{name}" if self.config["directory"] else name
            self.context.store.db[UPLOADS_TABLE].insert(  # type: ignore[union-attr]
                {"node_id": self.id, "day": day.isoformat(), "remote": remote, "size": size,
                 "uploaded_at": self.clock.now().isoformat(), "outcome": outcome}, replace=True)
            self.uploads += 1
            self.failure = ""
            self.last_upload = f"{name} {outcome} at {self.clock.now().astimezone(self.tz):%Y-%m-%d %H:%M}"
            self.log.info("%s (%d bytes)", self.last_upload, size)
            self._show()
            return

    def _clean(self) -> None:
        """Delete uploaded files older than ``keepDays``; files not uploaded stay."""
        today = self.clock.now().astimezone(self.tz).date()
        if self._day is not None and self._day < today:  # no row came since midnight: that file is finished
            self._close()
            self._day = None
            self.rows_today = 0
        for day in self._local_days():
            if day < today and (today - day).days > self.config["keepDays"] and self.uploaded(day):
                self.path_of(day).unlink(missing_ok=True)
                self.log.info("deleted %s (uploaded, older than %d days)", self.path_of(day).name, self.config["keepDays"])

    def _show(self) -> None:
        if self._day is None:
            text = "no rows yet today"
        else:
            text = f"{self.rows_today} row{'s' if self.rows_today != 1 else ''} in {self._day.isoformat()}.csv"
        if self.failure:
            self.status(f"{text}; {self.failure}", color="red", rows=self.rows_today, uploads=self.uploads)
        elif self.last_upload:
            self.status(f"{text}; {self.last_upload}", color="green", rows=self.rows_today, uploads=self.uploads)
        else:
            self.status(text, color="grey", rows=self.rows_today, uploads=self.uploads)


def _count_rows(path: Path) -> int:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
