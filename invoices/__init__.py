"""kvits invoices."""
