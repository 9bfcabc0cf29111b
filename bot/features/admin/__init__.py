"""Administration: the workspace lifecycle, the settings admins change with `/heard` and the
App Home, the setup checklist, the audit log, `/heard forget` and `heard export`.

Its declaration is `room.py`; other rooms read it through `queries.py`.
"""
