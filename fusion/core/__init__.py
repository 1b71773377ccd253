"""Pure numeric tracker core: arrays in, arrays out; no I/O, clock or asyncio."""
