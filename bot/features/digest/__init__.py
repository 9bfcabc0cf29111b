"""The leadership digest: what customers said that nobody acted on, grouped into themes.

For now this package holds the offline theme engine (`themes.py`), a plain module with no
Slack and no database; the room itself (`room.py`, its service and renderers) comes later.
"""
