"""imagetrail: map container images to the CI runs, commits and owners behind them."""

__version__ = "0.1.0"
