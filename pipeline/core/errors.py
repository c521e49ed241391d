"""One small error hierarchy: every user-facing failure carries a message, a hint
and the exit status the command line turns it into (the CLI is the only place that
does). Anything that is not a `PipelineError` is a bug."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.core.model import Finding


class PipelineError(Exception):
    """A problem the user can fix; never shown as a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(PipelineError):
    """Bad command-line usage."""

    exit_code = 2


class ConfigError(PipelineError):
    """newsletter.toml (or an override) is missing, unreadable or invalid."""

    exit_code = 2


class LockHeld(PipelineError):
    """Another build holds the lock (EX_TEMPFAIL: cron may simply try again)."""

    exit_code = 75


class OutputError(PipelineError):
    """Writing out/ or the ledger failed; nothing was recorded as done."""

    exit_code = 1


class PostError(PipelineError):
    """One post cannot be read; the build goes on without it.

    `source` is the post's path under content/ and `line` the line in that file
    when known, so the message can point at the exact place to change.
    """

    def __init__(self, source: str, message: str, hint: str = "", line: int | None = None):
        super().__init__(message, hint)
        self.source = source
        self.line = line

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    def finding(self) -> Finding:
        """The same problem as `check` reports it."""
        from pipeline.core.model import Finding  # not at the top: the quick exit skips model

        return Finding(
            "unreadable", self.source, self.message, self.hint, line=self.line, severity="error"
        )
