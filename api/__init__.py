"""kvits api."""
