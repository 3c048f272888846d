"""Deciding: everything a call needs at decision time. Imports nothing from `policy.parse` or `policy.compile`."""
