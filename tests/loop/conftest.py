"""The closed-loop tests drive a whole stack: web, worker, simulator."""

from tests.stack import make_stack

__all__ = ["make_stack"]
