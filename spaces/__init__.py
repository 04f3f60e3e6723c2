"""Search spaces: NAS-Bench-201 and synthetic modular spaces."""
