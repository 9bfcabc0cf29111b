"""Customer feedback: capture from four doors, acknowledgement, the ignored rule, and
telling the reporter when someone acted.

Its declaration is `room.py`; other rooms read it through `queries.py`.
"""
