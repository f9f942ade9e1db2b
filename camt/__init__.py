"""kvits camt."""
