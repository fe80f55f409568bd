"""File-drop ERP adapter: CSV and JSON-lines folders shared with the ERP."""

from adapters.files.adapter import FilesErp

__all__ = ["FilesErp"]
