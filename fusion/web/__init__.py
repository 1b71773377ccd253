"""``jisf web``: live map page and JSON API over the fusion service's MQTT output (see docs/WEB.md)."""
