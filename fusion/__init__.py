"""Track fusion service: ingest, tracker core, rules, publishing."""
