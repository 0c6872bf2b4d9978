"""Dynamic rescoring engine (in progress: only private building blocks so far)."""
