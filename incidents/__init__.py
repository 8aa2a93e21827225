"""Surges of calls about one thing in one place: live detection (sans-IO), the incident a supervisor
confirms, the IVR announcement it carries, and the tickets and callers it gathers."""
