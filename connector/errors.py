"""Every failure Vínculo names, in one tree.

The class a failure belongs to decides what the caller does with it, so the tree is sorted by
that decision (the ``kind``) rather than by platform:

    VinculoError                      reference, platform, obj, hint, kind
    ├── ConfigError          config   stop this store's jobs; a human must fix a file or a key
    │   ├── ConfigFileError           the YAML file itself is missing or malformed
    │   ├── ConfigValueError          one key is wrong (names file and key path)
    │   ├── SecretMissing             ${VAR} or secrets-file entry not set
    │   └── AuthRejected              the platform refused our credentials (names the key to check)
    │       └── UnsupportedApiVersion the platform does not serve the API version we speak
    ├── TransientError       transient retry later with backoff; nothing was decided
    │   ├── RateLimited               429 / THROTTLED, carries retry_after
    │   ├── PlatformUnavailable       5xx, HTML from a proxy, connection reset, timeout
    │   ├── ServerDown                the endpoint does not answer at all (names the URL key)
    │   └── StoreBusy                 another worker holds this store's lock
    ├── RejectedError        rejected the platform said no to this one object: quarantine it
    │   ├── NotFound                  the object vanished (404)
    │   ├── AlreadyExists             a uniqueness check failed (duplicate e-mail, code, SKU)
    │   └── WriteRejected             validation / userErrors, with the field path
    ├── DataError            data     the record we were given is bad: quarantine it, run on
    │   ├── MalformedPayload          not JSON, or JSON of the wrong shape
    │   ├── MissingField              a required field is absent (e-mail, SKU, a CSV column)
    │   ├── InvalidValue              a value of the wrong kind (negative quantity, naive date, currency)
    │   ├── BadFile                   a whole file cannot be read (encoding)
    │   └── TotalsMismatch            mirrored order totals differ; carries both figures
    └── LoyaltyError         rejected a loyalty request that must not write anything
        ├── ProgramError              the program configuration contradicts itself
        ├── UnknownReward
        ├── InsufficientPoints
        ├── NoRateForCurrency
        └── UnknownCustomer

Messages never carry secrets: adapters build them from redacted URLs and never include
credentials, signatures or tokens.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

Kind = Literal["config", "transient", "rejected", "data"]

__all__ = [
    "VinculoError",
    # config
    "ConfigError",
    "ConfigFileError",
    "ConfigValueError",
    "SecretMissing",
    "AuthRejected",
    "UnsupportedApiVersion",
    # transient
    "TransientError",
    "RateLimited",
    "PlatformUnavailable",
    "ServerDown",
    "StoreBusy",
    # rejected
    "RejectedError",
    "NotFound",
    "AlreadyExists",
    "WriteRejected",
    # data
    "DataError",
    "MalformedPayload",
    "MissingField",
    "InvalidValue",
    "BadFile",
    "TotalsMismatch",
    # loyalty
    "LoyaltyError",
    "ProgramError",
    "UnknownReward",
    "InsufficientPoints",
    "NoRateForCurrency",
    "UnknownCustomer",
]


class VinculoError(Exception):
    """Base of every error Vínculo raises on purpose.

    ``reference`` is a stable kebab-case name (for docs, `vinculo status`, scripts);
    ``hint`` says what a human should do next. ``str(err)`` is the full diagnosis.
    """

    kind: Kind = "data"
    default_reference = "vinculo-error"

    def __init__(
        self,
        message: str,
        *,
        reference: str | None = None,
        platform: str | None = None,
        obj: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reference = reference or self.default_reference
        self.platform = platform
        self.obj = obj
        self.hint = hint

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.platform, self.obj) if p)
        text = f"[{self.reference}] {self.message}"
        if where:
            text += f" ({where})"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Machine form used by dead letters and `--json` output."""
        return {
            "error": type(self).__name__,
            "kind": self.kind,
            "reference": self.reference,
            "message": self.message,
            "platform": self.platform,
            "object": self.obj,
            "hint": self.hint,
        }


# --- config: a human must fix something before this store can run ---------------------------


class ConfigError(VinculoError):
    kind: Kind = "config"
    default_reference = "config-invalid"


class ConfigFileError(ConfigError):
    default_reference = "config-file-unreadable"

    def __init__(self, message: str, *, file: str, hint: str | None = None) -> None:
        super().__init__(message, obj=file, hint=hint)
        self.file = file


class ConfigValueError(ConfigError):
    """One key is wrong; the message names the file and the dotted key path."""

    default_reference = "config-key-invalid"

    def __init__(self, message: str, *, file: str, key: str, hint: str | None = None) -> None:
        super().__init__(f"{file}: {key}: {message}", hint=hint)
        self.file = file
        self.key = key
        self.obj = None


class SecretMissing(ConfigValueError):
    default_reference = "config-secret-missing"


class AuthRejected(ConfigError):
    """The platform refused our credentials. ``key`` is the config key to check."""

    default_reference = "auth-rejected"

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        key: str,
        obj: str | None = None,
        hint: str | None = None,
        reference: str | None = None,
    ) -> None:
        super().__init__(
            message,
            platform=platform,
            obj=obj,
            reference=reference,
            hint=hint or f"check `{key}` in the store's configuration",
        )
        self.key = key


class UnsupportedApiVersion(ConfigError):
    default_reference = "api-version-unsupported"


# --- transient: retry with backoff ------------------------------------------------------------


class TransientError(VinculoError):
    kind: Kind = "transient"
    default_reference = "platform-transient"


class RateLimited(TransientError):
    default_reference = "rate-limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class PlatformUnavailable(TransientError):
    default_reference = "platform-unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerDown(TransientError):
    """Nothing answers at the configured address; ``key`` names the URL setting."""

    default_reference = "server-down"

    def __init__(self, message: str, *, key: str, **kw: Any) -> None:
        kw.setdefault("hint", f"the server at `{key}` is down or unreachable; start it or fix the URL")
        super().__init__(message, **kw)
        self.key = key


class StoreBusy(TransientError):
    default_reference = "store-busy"


# --- rejected: the platform refused this object --------------------------------------------------


class RejectedError(VinculoError):
    kind: Kind = "rejected"
    default_reference = "write-rejected"


class NotFound(RejectedError):
    default_reference = "not-found"


class AlreadyExists(RejectedError):
    default_reference = "already-exists"


class WriteRejected(RejectedError):
    """Validation failures; ``field`` is the platform's field path when it gives one."""

    default_reference = "write-rejected"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.field = field
        self.code = code


# --- data: the record itself is bad --------------------------------------------------------------


class DataError(VinculoError):
    kind: Kind = "data"
    default_reference = "bad-record"


class MalformedPayload(DataError):
    default_reference = "malformed-payload"


class MissingField(DataError):
    default_reference = "missing-field"


class InvalidValue(DataError):
    default_reference = "invalid-value"


class BadFile(DataError):
    default_reference = "bad-file"


class TotalsMismatch(DataError):
    default_reference = "totals-mismatch"

    def __init__(self, message: str, *, expected: Decimal, actual: Decimal, **kw: Any) -> None:
        kw.setdefault("hint", "compare taxes, rounding and discounts on both sides, then retry the record")
        super().__init__(f"{message}: store total {expected}, mirrored total {actual}", **kw)
        self.expected = expected
        self.actual = actual


# --- loyalty: a request that must write nothing ------------------------------------------------


class LoyaltyError(VinculoError):
    kind: Kind = "rejected"
    default_reference = "loyalty-rejected"


class ProgramError(LoyaltyError):
    kind: Kind = "config"
    default_reference = "program-invalid"


class UnknownReward(LoyaltyError):
    default_reference = "reward-unknown"


class InsufficientPoints(LoyaltyError):
    default_reference = "points-insufficient"


class NoRateForCurrency(LoyaltyError):
    default_reference = "currency-without-rate"


class UnknownCustomer(LoyaltyError):
    default_reference = "customer-unknown"
