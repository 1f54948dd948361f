"""Self-contained HTML reports: one file, plots drawn with matplotlib and embedded as inline SVG, no
external scripts, styles or fonts (it opens offline and prints). ``page`` builds the document,
``evaluation`` the report of ``churnctl evaluate --report``."""
