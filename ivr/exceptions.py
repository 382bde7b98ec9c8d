"""Errors of the ivr package."""


class IvrError(Exception):
    """A webhook or flow problem; ``status_code`` tells the HTTP answer (400 bad input, 403 bad signature)."""

    status_code = 400

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code
