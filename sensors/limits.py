"""Input limits applied by every decoder before parsing (documented in docs/FORMATS.md)."""

MAX_PAYLOAD_BYTES = 1_048_576  # one MQTT payload; a 10,000-plot radar scan is ~400 kB as JSON
MAX_FUTURE_S = 300.0  # a report time further ahead of its receive time is rejected
MAX_AGE_S = 6 * 3600.0  # a report time further behind its receive time is rejected (satellite AIS lags minutes)
