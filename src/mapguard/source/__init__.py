"""Go source: parsing with tree-sitter-go and the package model built on it."""
