"""The lint rules, one module per rule."""
