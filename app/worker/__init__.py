"""The worker process: the loop (`loop`), the execution of actions (`execute`), `flask worker`.

The loop matches events, claims due jobs, performs them outside any
transaction and records their outcomes; every change of a job's state it
asks of `app.jobs`. Nothing here imports Flask except `cli`.
"""
