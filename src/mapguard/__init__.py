"""mapguard: find, measure, watch and explain the map updates that hurt Go services."""

__version__ = "0.1.0"
