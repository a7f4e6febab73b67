"""The simulated Query API actions: parameters, side effects and answers (protocol section 4).

One module per area holds its handlers and their Specs; `registry` gathers them.
"""

from simulator.actions.common import Context, LaunchFailed, Params, SimError, Spec
from simulator.actions.registry import SPECS, find_spec

__all__ = ["SPECS", "Context", "LaunchFailed", "Params", "SimError", "Spec", "find_spec"]
