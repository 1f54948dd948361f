"""churnctl: the whole life of a customer-churn model from one command line.

The package is a library first: every command is a function in :mod:`churnctl.lifecycle` (one
module per command) that returns a plain result object; :mod:`churnctl.cli` only parses arguments
and renders. Below them: :mod:`churnctl.registry` (the versioned artifacts directory),
:mod:`churnctl.schema` and :mod:`churnctl.features` (the data contract), :mod:`churnctl.estimators`
(model pipelines and selection), :mod:`churnctl.drift` (monitoring statistics) and
:mod:`churnctl.synthetic` (the demo data generator).
"""

__version__ = "0.2.0"
