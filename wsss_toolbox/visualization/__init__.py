"""Visualisation helpers (figures of image / ground truth / map / pseudo label)."""
