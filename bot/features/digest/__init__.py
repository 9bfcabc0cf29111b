"""The leadership digest room: what customers said that nobody acted on, grouped into
themes and connected to what departments decided, sent to leaders every week.

- `service.py` builds one `Digest` for a workspace and period from the other rooms'
  `queries` modules; `themes.py` is its offline theme engine.
- `views.py` (Block Kit, text) and `formats.py` (JSON, HTML) render it; `chart.py` draws
  the trend chart.
- `delivery.py` holds the rules of the weekly delivery and the digest's buttons;
  `jobs.py` runs it; `slack_calls.py` is the job's Slack reads and the chart's upload.
"""
