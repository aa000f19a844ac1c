"""Evidence records and the analyses that join them to the source."""
