"""Parsers of Go diagnostics and evidence formats: text or bytes in, typed records out (pure)."""
