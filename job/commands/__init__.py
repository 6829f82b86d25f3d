"""Operator commands: search, report, status, reconcile, export and setup, run by a person or a script."""
