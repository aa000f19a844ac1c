"""The watch agent: scrape Go services' pprof and metrics endpoints, export per-site map metrics."""
