"""DACL Monitor: engines package."""
