"""Action jobs: every change of a job's state, in the caller's transaction (no Flask imports).

- `create`: the jobs of a matched event (and the matching step that makes them),
  the waiting jobs a later `cancel_on` event calls off, a chain settled at birth.
- `claim`: the next due job (`FOR UPDATE SKIP LOCKED`), its guards' facts,
  expired leases given back, when the next job falls due.
- `policy`: the guards' decisions and their reason texts, pure (pause, rule
  gone, cancel_on, throttle, dry run, breaker, budget, the chain's stop).
- `outcome`: an attempt's record and the retry decision as a value.
- `chain`: `finish`, the one way a job ends, which settles the rule's next actions.
- `control`: what a person does (retry, cancel, run now, pause, dry run,
  close a breaker); the dashboard and the API call these, the worker never does.
- `periodic`, `locks`: once-per-deployment tasks and advisory locks.
- `notify`: the PostgreSQL channels that wake the worker, and its listener.

The worker (`app.worker`) only orchestrates: it calls these and performs actions.
"""
