"""churnctl: the whole life of a customer-churn model from one command line.

The package is a library first, in layers; a package imports only the ones below it (the table is
in ``tests/test_structure.py``, and each package's docstring says what it owns):

* entry points: :mod:`churnctl.cli` (parses and renders) and :mod:`churnctl.serve` (HTTP);
* :mod:`churnctl.lifecycle`: one module per command, each a function returning a result object;
* :mod:`churnctl.reports` (HTML pages, metrics files) over :mod:`churnctl.monitoring` (over time: late
  labels, the drift history as a timeline) over :mod:`churnctl.drift` (monitoring statistics and the
  decision) over :mod:`churnctl.value` (the money of a campaign);
* :mod:`churnctl.model`: estimators, the search, calibration, metrics, the one scorer;
* :mod:`churnctl.data` (files, parts, outputs, the prediction log) over :mod:`churnctl.contract` (the
  schema, inferring and enforcing it);
* :mod:`churnctl.registry`: verified bytes, manifests, the pointer, the lock, the event log;
* :mod:`churnctl.runtime`: engines, threads, progress, files written safely;
* at the bottom :mod:`churnctl.errors`, :mod:`churnctl.config` and :mod:`churnctl.logs`.

:mod:`churnctl.synthetic` generates the demo data.
"""

__version__ = "0.2.0"
