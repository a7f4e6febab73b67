"""Ingest: what Scalr posts, from the socket to a committed event row.

- `wire`: decode a delivery (form body, query string, JSON) into plain values;
- `auth`: the ingest token, the address allow-list, the flood limit and the
  5.x webhook signature;
- `parsing`: read Scalr's message texts (every era) into event fields;
- `store`: normalise, scrub and commit the event (and NOTIFY the worker);
- `routes`: the two endpoints, the only place that answers in HTTP terms.

Everything but `routes` is free of Flask and raises typed errors.
"""
