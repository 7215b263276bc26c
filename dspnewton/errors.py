"""The error every layer raises for bad user input (no heavy imports: the lowest layer)."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input (a file, a signal or an option); the message is for the user.

    A message may name options as ``{option}`` placeholders with ``options={"option": value}``
    (or ``{"name": ("option", value)}``):
    ``str(exc)`` spells them as the library's keywords (``resample=True``), and
    :meth:`cli_message` as the command line's flags (``--resample``), so library errors
    never name CLI flags and the CLI still says which flag to pass.
    """

    def __init__(self, message: str, options: dict | None = None):
        self.template, self.options = message, dict(options or {})
        super().__init__(self._render(lambda k, v: f"{k}={v!r}"))

    def _render(self, spell) -> str:
        if not self.options:
            return self.template
        # A value may be (keyword, value) when the placeholder's name is not the keyword.
        pairs = {k: (v if isinstance(v, tuple) else (k, v)) for k, v in self.options.items()}
        return self.template.format(**{k: spell(*kv) for k, kv in pairs.items()})

    def cli_message(self) -> str:
        """The message with each option spelled as its command-line flag."""
        return self._render(lambda k, v: "--" + k.replace("_", "-") + ("" if v is True else f" {v}"))
