"""The project's exceptions: one base class, a few specific ones.

The CLI turns any :class:`AnalysisError` into one line on stderr and a non-zero exit;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

#: Characters of a user- or data-supplied value an error message quotes (then "…").
QUOTE_CHARS = 200
#: Characters an error message keeps at most (a message naming several quoted values).
MESSAGE_CHARS = 2000


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """``repr()`` of a value for an error message, at most ``limit`` characters (then ``…``).

    A huge header, cell or config value is never quoted whole: one bad file must not turn
    into megabytes of log, index page or cron mail.
    """
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "…"
        return repr(text)
    try:
        text = (
            repr(value)
            if not isinstance(value, (list, dict, tuple, set)) or len(value) <= 50
            else f"<{type(value).__name__} of {len(value)} items>"
        )
    except RecursionError:
        text = f"<nested {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "…"


def bound(message: str, limit: int = MESSAGE_CHARS) -> str:
    """One line of at most ``limit`` characters, scrubbed like every label (``privacy.scrub_label``).

    Control characters become spaces; e-mails, phone numbers and ids quoted from a file
    (a header name, a cell) do not reach the terminal, a log or the index page.
    """
    from analysis.privacy import scrub_label

    return scrub_label(str(message)[: limit + 1], limit) or ""


class AnalysisError(Exception):
    """Base class for every error caused by the user's data, configuration or parameters.

    Its message is bounded (:data:`MESSAGE_CHARS`) and kept to one printable line, whatever
    values it quotes.
    """

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            args = (bound(args[0]),)
        super().__init__(*args)


class ConfigError(AnalysisError):
    """An ``incident.toml`` is missing, malformed, or names something impossible."""


class IngestError(AnalysisError):
    """A source file cannot be read or lacks a required column."""


class GeoError(AnalysisError):
    """Reference geography or a user boundary/exposure file is unusable."""


class FitError(AnalysisError):
    """A recovery model cannot be fitted to the data given."""


class ParameterError(AnalysisError):
    """A notebook or CLI parameter has an unknown name, a wrong type or an impossible value."""


class RenderError(AnalysisError):
    """A notebook run or the HTML export failed."""
