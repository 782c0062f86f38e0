"""The office's API for imports (imports/api.py): the upload and what a job's page shows."""
from marshmallow import fields

from pointsapp.core.schemas import InputSchema, OutputSchema


class UploadSheetSchema(InputSchema):
    """multipart/form-data with the sheet as `file` (.xlsx or .csv), as the import page's form."""

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportSummarySchema(OutputSchema):
    rows = fields.Integer(required=True)
    errors = fields.Integer(required=True)
    grids = fields.Integer(required=True, metadata={"description": "New grids the import creates"})
    buildings = fields.Integer(required=True)
    households = fields.Integer(required=True)
    residents = fields.Integer(required=True)

    views = {"office": ("rows", "errors", "grids", "buildings", "households", "residents")}


class ImportProblemSchema(OutputSchema):
    row = fields.Integer(required=True, metadata={"description": "The spreadsheet's row (the header is row 1)"})
    column = fields.String(required=True)
    message = fields.String(required=True)

    views = {"office": ("row", "column", "message")}


class ImportJobSchema(OutputSchema):
    """An uploaded sheet: its check (the dry run) and, once run, its import."""

    id = fields.Integer(required=True)
    filename = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "description": "checked | imported | queued | running | failed"})
    task = fields.String(required=True, metadata={"description": "check | import: what a queued or running job does"})
    progress = fields.Integer(required=True, metadata={"description": "Rows read by the background run"})
    row_count = fields.Integer(required=True)
    error_count = fields.Integer(required=True)
    summary = fields.Nested(ImportSummarySchema("office"), required=True)
    problems = fields.List(fields.Nested(ImportProblemSchema("office")), required=True,
                           metadata={"description": "The bad rows (the first 1000), as the check page lists them"})
    message = fields.String(required=True, metadata={"description": "Why a background run failed"})
    created_at = fields.DateTime(required=True)
    imported_at = fields.DateTime(allow_none=True, required=True)
    purged = fields.Boolean(required=True, metadata={"description": "The sheet was deleted (kept 7 days)"})

    views = {"office": ("id", "filename", "status", "task", "progress", "row_count", "error_count", "summary",
                        "problems", "message", "created_at", "imported_at", "purged")}
