"""One error hierarchy for airan. Messages always show the bad value."""


class AiranError(Exception):
    """Root of every airan domain error."""


class ConfigError(AiranError, ValueError):
    """A configuration value is out of range or inconsistent."""


class UnknownScenarioError(ConfigError):
    """A scenario name is not in the registry."""


class SpecError(AiranError, ValueError):
    """A command-line spec such as ``kind:key=value,...`` is malformed or names an unknown kind/key."""


class FaultError(AiranError, ValueError):
    """A fault cannot be injected as asked (unknown kind, bad cell, bad window)."""


class ActionError(AiranError, ValueError):
    """An action is unknown, out of its bounds, or cannot be rolled back."""


class ShapeError(AiranError, ValueError):
    """An array crossing a layer boundary has the wrong shape or dtype."""


class StoreError(AiranError):
    """The telemetry store cannot be read or written."""
