"""Uploaded household/resident sheets, kept so the dry run and the import read the same bytes, and
only for a week: the sheet lists residents' phones and ID digits (services.imports.purge_sheets)."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime


class ImportJob(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)  # emptied when purged
    # checked | imported; a big sheet is queued, then running (its `task`), then checked, imported or failed
    status: Mapped[str] = mapped_column(String(20), default="checked")
    task: Mapped[str] = mapped_column(String(10), default="check", server_default=text("'check'"))  # check | import
    progress: Mapped[int] = mapped_column(default=0, server_default=text("0"))  # rows read by the background run
    row_count: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    summary: Mapped[str] = mapped_column(Text, default="")  # JSON: counts of what the import creates
    problems: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))  # JSON: [[row, column, message], …]
    message: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))  # why a background run failed
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when a runner claimed it
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the sheet's bytes were deleted

    __table_args__ = (Index("ix_import_job_community", "community_id", "created_at"),)
