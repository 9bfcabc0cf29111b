"""Feature rooms. Each is a package with handlers (Bolt), a service and views.

A feature exposes `register(app, runtime)` to attach its Slack listeners and may
expose `JOBS`, the recurring jobs it contributes to the scheduler.
"""

from bot.features import admin, feedback

FEATURES = (admin, feedback)
