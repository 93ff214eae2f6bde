"""The one exception type for mistakes a user can fix: the CLI prints it as one line."""


class UserError(Exception):
    """Bad input or a missing prerequisite; the message says what was wrong and what to do."""
