"""The WordPress REST error envelope ``{code, message, data: {status, ...}}`` as an exception.

Domain operations raise ``ApiError``; the server renders it, and batch handlers turn it into the
positional per-item ``{"id": N, "error": {...}}`` entries.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        data.update(self.data)
        return {"code": self.code, "message": self.message, "data": data}


def invalid_param(name: str, message: str, detail_code: str) -> ApiError:
    """One schema-invalid parameter, exactly as rest_invalid_param reports it."""
    return ApiError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        params={name: message},
        details={name: {"code": detail_code, "message": message, "data": None}},
    )


def missing_params(*names: str) -> ApiError:
    return ApiError(
        400,
        "rest_missing_callback_param",
        "Missing parameter(s): " + ", ".join(names),
        params=list(names),
    )


def invalid_id(post_type: str, status: int = 404) -> ApiError:
    return ApiError(status, f"woocommerce_rest_{post_type}_invalid_id", "Invalid ID.")
