"""One module per command: each parses its options, calls the lifecycle function and renders the result.

Lifecycle modules (which load pandas and scikit-learn) are imported inside the command functions,
so that ``churnctl --help`` and shell completion stay fast.
"""
