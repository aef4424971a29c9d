"""DACL Monitor: core package."""
