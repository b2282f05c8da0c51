"""Read the first sheet of an .xlsx workbook as the text cells a CSV batch file would give."""

from __future__ import annotations

import csv
import datetime
import io
import math
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from policydsl.files import atomic_output

# Excel keeps a number cell as a binary float and shows it to 15 significant digits: that figure
# is what the drafter typed and sees, so that is what is read (0.1 is 0.1, 1000000 is 1000000)
_DIGITS = 15


class XlsxProblem(ValueError):
    """The file is not a workbook this reader can open."""


def cell_text(value: Any) -> str:
    """A cell's value as the text a CSV cell would hold: a number as Excel shows it, written plainly;
    a date cell as 2021-06-01 (a date and time as 2021-06-01T12:30:00, which no date fact accepts);
    yes/no as true/false; an error cell (#DIV/0!) as its text, which no figure, date or choice
    accepts; an empty cell as nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):  # an Excel number cell is a binary float: NaN and ±inf as written
            return str(value)
        shown = Decimal(f"{value:.{_DIGITS}g}")
        text = format(shown, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def to_csv(source: Path, target: Path) -> int:
    """Write the first sheet of `source` to `target` as UTF-8 CSV, its first row the header; rows
    with no value are left out, as blank lines of a CSV file are.  Returns the rows written."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise XlsxProblem(f"{source}: not an .xlsx workbook that can be read ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        written = 0
        # the temporary CSV is written whole or not at all, as every file the project writes
        with atomic_output(target) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            width = 0
            for row in sheet.iter_rows(values_only=True):
                cells = [cell_text(v) for v in row]
                while cells and not cells[-1]:
                    cells.pop()
                if not cells:
                    continue
                width = width or len(cells)  # the header's: a row as wide, its empty cells kept
                writer.writerow(cells + [""] * (width - len(cells)))
                written += 1
    finally:
        workbook.close()
    return written
