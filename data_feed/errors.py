"""The feed's exception tree: ``FeedError`` → ``FeedUnavailable``, ``MalformedEvent``, ``ConfigError``."""

from __future__ import annotations


class FeedError(Exception):
    """Base class of every error raised by the data feed."""


class FeedUnavailable(FeedError):
    """Redis cannot be reached; the message names the address and the fix."""


class MalformedEvent(FeedError):
    """A stream entry breaks the contract; the message says which field and why."""


class ConfigError(FeedError):
    """A configuration value is invalid; the message names the variable and the fix."""
