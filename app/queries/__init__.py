"""Read models shared by the dashboard and the JSON API (no Flask imports).

Searches over one keyset helper, timelines, rule summaries, the overview,
stats, the backtest and the explanation of an event. A view in
`app/dashboard/` or `app/api/` parses its request, calls one of these and
renders what comes back.
"""
