"""`mapguard load`: an open-loop HTTP load generator (engine in Go), latency per step."""
