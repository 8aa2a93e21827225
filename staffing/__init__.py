"""Workforce planning from the centre's own records: forecast offered calls per 30-minute interval,
Erlang-A (M/M/n+M) staffing per interval, a roster from the config's shift templates, and the proof by
simulation through the ACD engine. The arithmetic here is pure (no clock, no database); the CLI lives in
callcenter/staffing_cli.py."""
