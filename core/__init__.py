"""Shared foundations: settings, database, money."""
