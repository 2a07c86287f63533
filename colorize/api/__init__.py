"""Coloria's REST API (v1): thin DRF views over colorize.services and colorize.selectors."""
