"""Ingest: what Scalr posts, from the socket to a committed event row.

- `wire`: decode a delivery (form body, query string, JSON) into plain values;
- `auth`: the ingest token, the address allow-list, the flood limit and the
  5.x webhook signature;
- `parsing`: read Scalr's message texts (every era) into event fields;
- `store`: normalise, scrub and commit the event (and NOTIFY the worker);
- `routes`: the two endpoints as Flask views;
- `front`: the same two endpoints as a WSGI layer in front of Flask, which stores and
  answers the deliveries it can and hands every other request to Flask unchanged;
- `service`: the writer and spool of one app (kept in its `extensions`).

`routes` and `front` are the only places that answer in HTTP terms; everything else
raises typed errors, and all but `service` (which only names the Flask app it is kept
in) is free of Flask (tests/test_layout.py).
"""
