"""Shared constants for the file-drop tests (a module, so test files can import them)."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 11, 24, 10, 15, 0, tzinfo=UTC)
STAMP = "20261124T101500Z"  # NOW as archive and export file names spell it
