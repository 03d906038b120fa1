"""``clinic import-patients``: the importer behind a progress bar and a report."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.service import default_location
from services.core.settings import Settings
from services.core.types import time_zone_names
from services.patients.importer import (
    BATCH_SIZE,
    ImportFileError,
    ImportReport,
    ImportRow,
    import_batch,
    read_rows,
)

UnitOfWork = Callable[[Settings], AbstractAsyncContextManager[AsyncSession]]


async def _batches(
    path: Path, report: ImportReport, progress: Progress
) -> AsyncIterator[list[ImportRow]]:
    total = max(0, sum(1 for _ in path.open(encoding="utf-8-sig")) - 1)
    task = progress.add_task("Importing patients", total=total)
    batch: list[ImportRow] = []
    for _, row in read_rows(path, report):
        batch.append(row)
        if len(batch) == BATCH_SIZE:
            yield batch
            progress.advance(task, len(batch))
            batch = []
    if batch:
        yield batch
    progress.update(task, completed=total)


async def run_import(
    settings: Settings, path: Path, time_zone: str | None, unit_of_work: UnitOfWork
) -> ImportReport:
    console = Console(stderr=True)
    report = ImportReport()
    async with unit_of_work(settings) as session:
        location = await default_location(session)
    zone = time_zone or (location.time_zone if location else None)
    if zone is None:
        raise SystemExit("No clinic location to take a time zone from: pass --time-zone.")
    if zone not in time_zone_names():
        raise SystemExit(f"Nothing imported: {zone!r} is not an IANA time zone name.")
    seen: set[tuple[str, Any]] = set()
    try:
        with Progress(console=console) as progress:
            async for batch in _batches(path, report, progress):
                # One transaction per batch: an interrupted import keeps whole batches,
                # and re-running skips them.
                async with unit_of_work(settings) as session:
                    await import_batch(
                        session,
                        batch,
                        report,
                        default_time_zone=zone,
                        home_location_id=location.id if location else None,
                        seen=seen,
                    )
    except ImportFileError as error:
        raise SystemExit(f"Nothing imported: {error}") from None
    if report.rejected:
        table = Table("row", "field", "reason", title="Rejected rows (not imported)")
        for problem in report.rejected:
            table.add_row(str(problem.row), problem.field, problem.reason)
        console.print(table)
    return report
