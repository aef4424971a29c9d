"""DACL Monitor: app package."""
