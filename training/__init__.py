"""DACL Monitor: training package."""
