"""Shared contracts: what the worker, the submitter Lambda and the commands agree on (stdlib + boto3 only)."""
