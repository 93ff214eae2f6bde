"""The one exception type for mistakes a user can fix: the CLI prints it as one line."""


class UserError(Exception):
    """Bad input or a missing prerequisite; the message says what was wrong and what to do."""


def one_line(error: BaseException) -> str:
    """An exception as a report's line: its type and its message's first line."""
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
