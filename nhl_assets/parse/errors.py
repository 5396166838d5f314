"""The one exception the parsers raise for a payload they cannot turn into rows."""

from __future__ import annotations


class ParseError(ValueError):
    """A payload that cannot be parsed.

    Why a dedicated type: the batch builder must tell "this game's payload is malformed" (reject the game,
    keep the batch going, quarantine it with the reason) from programming errors (which must crash). The
    message is the reason and always names the offending field, so a quarantine row is actionable on its
    own.
    """

    def __init__(self, reason: str, *, game_id: int | None = None, endpoint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.game_id = game_id
        self.endpoint = endpoint

    def __reduce__(self):  # keep pickling (multiprocessing) working with the keyword-only arguments
        return (_rebuild, (self.reason, self.game_id, self.endpoint))


def _rebuild(reason: str, game_id: int | None, endpoint: str | None) -> ParseError:
    return ParseError(reason, game_id=game_id, endpoint=endpoint)
