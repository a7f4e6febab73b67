"""Action jobs: create, claim, decide, record and control them (no Flask imports).

Every change of a job's state happens in this package, in the caller's
transaction: creation from a matched event, the claim with its guards, the
outcome of an attempt, and the controls a person uses (retry, cancel, run now,
pause, dry run, close a breaker). `notify` owns the PostgreSQL channels that
wake the worker.
"""
