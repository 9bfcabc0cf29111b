"""Recurring jobs: cadences, the schedules/ loader, the registry, the run ledger, APScheduler."""
