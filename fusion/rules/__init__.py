"""Pure rule evaluation: zones and behaviours over track arrays."""
