"""`mapguard lint`: the analyzer engine and its rules."""
