"""HTML reports and metrics files."""
