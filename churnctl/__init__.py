"""churnctl: the whole life of a customer-churn model from one command line.

The package is a library first: every command is a function in :mod:`churnctl.workflows`
that returns a plain result object; :mod:`churnctl.cli` only parses arguments and renders.
"""

__version__ = "0.1.0"
