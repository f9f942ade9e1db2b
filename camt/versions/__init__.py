"""One module per camt version family; `camt.registry` collects their FORMATS."""
