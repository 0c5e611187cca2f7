"""Artifact tests, one file per module, run by the grader in a separate pytest process.

They read what a notebook left in its artifacts folder and compare it with expectations
derived from the data generator's ledger for the graded variant, never with constants.
"""
