"""Everything that knows Slack's wire format."""
