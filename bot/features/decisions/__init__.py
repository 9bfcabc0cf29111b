"""Decision logs: every department records what it decided and how it affected customers."""
