"""Monitoring: events, task logs, metrics over time, Prometheus text and the dashboard.

Everything here reads the state store and the task logs; only ``sampler`` runs inside a task process (the
engine starts it), and nothing here imports the engine.
"""
