"""The lifecycle, one module per command: each holds that command's library function and result type.

Every function takes a :class:`~churnctl.registry.Registry` (where needed), plain arguments and the
:class:`~churnctl.config.Settings`, does the whole job and returns a result dataclass. Nothing here
prints: problems are raised as :class:`~churnctl.errors.ChurnctlError`, warnings are logged to the
``churnctl`` logger and returned in the result. Every function that changes the registry holds its
lock while it does. Modules here use the registry, schema, estimator and drift layers, not each other
(retrain alone calls train's function, to train its challenger).
"""
