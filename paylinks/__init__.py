"""Pay links: the link on every invoice, the payer's pages, payments by bank (PSD2
payment initiation) and, to come, by card; the merchant's fee on each payment."""
