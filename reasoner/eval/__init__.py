"""Evaluation: accuracy and cost estimators (`metrics`), compute sweeps (`sweep`) and their figures (`plots`).

Import the modules by path.
"""
