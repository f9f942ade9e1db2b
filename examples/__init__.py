"""kvits examples."""
