"""kvits reconciliation."""
