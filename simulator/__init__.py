"""A small Scalr installation in a box: the Query API 2.x, server life cycles, notifications."""

from simulator.app import create_sim_app
from simulator.config import build_state, demo_config, load_config
from simulator.faults import Fault
from simulator.model import FarmRole, Timings
from simulator.notify import NotifyConfig
from simulator.server import SimulatorServer
from simulator.state import SimState

__all__ = [
    "FarmRole",
    "Fault",
    "NotifyConfig",
    "SimState",
    "SimulatorServer",
    "Timings",
    "build_state",
    "create_sim_app",
    "demo_config",
    "load_config",
]
