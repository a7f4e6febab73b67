"""Unit tests of app/jobs: policy, claim, outcome, the chain, people's controls."""
