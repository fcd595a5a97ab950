"""The course roster: importing students from CSV, and their bearer tokens.

A roster file is CSV (RFC 4180, comma-separated, UTF-8 with or without a
byte-order mark) with one student per row: student id, name, section and an
optional e-mail address. A first row that names the columns (``student_id``,
``name``, ``section``, ``email``, or their Korean headings) may put them in
any order. Without such a row the columns are taken in that order. An import is all
or nothing: one invalid row rejects the file. Importing a student again
updates their name and section, and their e-mail where the row gives one (an
empty or missing cell keeps the stored address), and keeps their token.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Student
from server.security import hash_token, new_token

logger = logging.getLogger(__name__)

MAX_ROSTER_BYTES = 1024 * 1024
MAX_ROWS = 5000
MAX_REPORTED_ERRORS = 20
STUDENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NAME_LENGTH = 200
SECTION_LENGTH = 32

COLUMNS = ("student_id", "name", "section", "email")
_HEADINGS = {
    "student_id": "student_id",
    "studentid": "student_id",
    "student_number": "student_id",
    "id": "student_id",
    "학번": "student_id",
    "name": "name",
    "student_name": "name",
    "이름": "name",
    "성명": "name",
    "section": "section",
    "class": "section",
    "분반": "section",
    "email": "email",
    "e_mail": "email",
    "이메일": "email",
}


@dataclass(frozen=True)
class RosterRow:
    """One valid row of a roster file; ``line`` is 1-based, counting the heading."""

    line: int
    student_id: str
    name: str
    section: str
    email: str | None


@dataclass
class RosterError(ValueError):
    """Raised for a roster file that cannot be imported; ``problems`` contains one sentence per bad row."""

    problems: list[str]

    def __str__(self) -> str:
        shown = self.problems[:MAX_REPORTED_ERRORS]
        more = len(self.problems) - len(shown)
        suffix = f"; and {more} more" if more else ""
        return "the roster was not imported: " + "; ".join(shown) + suffix


@dataclass
class ImportReport:
    """The outcome of an import, or of a dry run that changes nothing.

    ``created`` pairs each new row with its token, None on a dry run.
    ``not_in_file`` lists students on the roster whom the file did not name.
    The import leaves them unchanged.
    """

    created: list[tuple[RosterRow, str | None]] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)


def parse(data: bytes) -> list[RosterRow]:
    """Parse a roster file into rows, or raise ``RosterError`` listing every invalid row."""
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError([f"the file is over {MAX_ROSTER_BYTES // 1024} KiB: split it by section"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RosterError(
            [
                f"the file is not valid UTF-8 (byte {data[error.start]:#04x} at offset {error.start}): save it as CSV UTF-8"
            ]
        ) from None

    records = [(number, record) for number, record in _records(text) if any(cell.strip() for cell in record)]
    if not records:
        raise RosterError(["the file has no rows: expected student_id,name,section[,email] per line"])
    columns, records = _columns(records)
    if len(records) > MAX_ROWS:
        raise RosterError(
            [f"the file has {len(records)} rows, over the limit of {MAX_ROWS}: split it by section"]
        )

    rows: list[RosterRow] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        try:
            row = _row(line, record, columns)
        except ValueError as error:
            problems.append(f"line {line}: {error}")
            continue
        if row.student_id in first_line:
            problems.append(
                f"line {line}: student_id {row.student_id!r} already appears on line {first_line[row.student_id]}"
            )
            continue
        first_line[row.student_id] = line
        rows.append(row)
    if problems:
        raise RosterError(problems)
    return rows


def import_rows(session: Session, rows: list[RosterRow], dry_run: bool = False) -> ImportReport:
    """Create new students and update known ones; the caller commits (or, on a dry run, rolls back)."""
    report = ImportReport()
    known = {student.student_id: student for student in _students(session, [row.student_id for row in rows])}
    for row in rows:
        student = known.get(row.student_id)
        if student is None:
            token = None if dry_run else new_token()
            if token is not None:
                session.add(
                    Student(
                        student_id=row.student_id,
                        name=row.name,
                        section=row.section,
                        email=row.email,
                        token_hash=hash_token(token),
                    )
                )
            report.created.append((row, token))
            continue
        changes = {"name": row.name, "section": row.section}
        if row.email is not None:
            changes["email"] = row.email
        if all(getattr(student, name) == value for name, value in changes.items()):
            report.unchanged.append(row.student_id)
            continue
        if not dry_run:
            for name, value in changes.items():
                setattr(student, name, value)
        report.updated.append(row.student_id)

    named = {row.student_id for row in rows}
    report.not_in_file = sorted(
        student_id for student_id in session.scalars(select(Student.student_id)) if student_id not in named
    )
    if not dry_run:
        session.flush()
    return report


def rotate_token(student: Student) -> str:
    """Give ``student`` a new token, which replaces any old or revoked one; return it."""
    token = new_token()
    student.token_hash = hash_token(token)
    return token


def revoke_token(student: Student) -> None:
    """Revoke ``student``'s token; the student can sign nothing until a TA rotates it."""
    student.token_hash = None


def _records(text: str) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for record in reader:
            yield reader.line_num, record
    except csv.Error as error:
        raise RosterError(
            [f"line {reader.line_num}: not valid CSV ({error}): check the quotes on that line"]
        ) from None


def _columns(records: list[tuple[int, list[str]]]) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """Map each column name to its index, from the heading row if the file has one."""
    first = [_heading(cell) for cell in records[0][1]]
    if "name" not in first or "section" not in first:
        return {name: index for index, name in enumerate(COLUMNS)}, records

    columns: dict[str, int] = {}
    for index, heading in enumerate(first):
        if heading is None:
            raise RosterError(
                [
                    f"line {records[0][0]}: unknown column {records[0][1][index]!r}: expected {', '.join(COLUMNS)}"
                ]
            )
        if heading in columns:
            raise RosterError([f"line {records[0][0]}: column {heading!r} appears twice"])
        columns[heading] = index
    missing = [name for name in COLUMNS[:3] if name not in columns]
    if missing:
        raise RosterError([f"line {records[0][0]}: missing column {', '.join(missing)}"])
    return columns, records[1:]


def _heading(cell: str) -> str | None:
    return _HEADINGS.get(re.sub(r"[\s-]+", "_", cell.strip().lower()))


def _row(line: int, record: list[str], columns: dict[str, int]) -> RosterRow:
    width = max(columns.values()) + 1
    if len(record) < 3 or len(record) > width:
        raise ValueError(
            f"expected the columns {', '.join(list(columns)[:width])}, found {len(record)} fields"
        )
    cells = {name: record[index].strip() if index < len(record) else "" for name, index in columns.items()}

    student_id = cells["student_id"]
    if not STUDENT_ID_PATTERN.fullmatch(student_id):
        raise ValueError(f"invalid student_id {student_id!r}: use 1 to 64 letters, digits, '_', '.' or '-'")
    name = " ".join(cells["name"].split())
    if not 1 <= len(name) <= NAME_LENGTH:
        raise ValueError(
            f"the name of {student_id!r} must be 1 to {NAME_LENGTH} characters, found {len(name)}"
        )
    section = cells["section"]
    if not 1 <= len(section) <= SECTION_LENGTH:
        raise ValueError(
            f"the section of {student_id!r} must be 1 to {SECTION_LENGTH} characters, found {section!r}"
        )
    email = cells.get("email") or None
    if email is not None:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise ValueError(f"invalid email {email!r} for {student_id!r}: {error}") from None
    return RosterRow(line, student_id, name, section, email)


def _students(session: Session, student_ids: list[str]) -> list[Student]:
    found: list[Student] = []
    for start in range(0, len(student_ids), 500):
        chunk = student_ids[start : start + 500]
        found += session.scalars(select(Student).where(Student.student_id.in_(chunk))).all()
    return found
