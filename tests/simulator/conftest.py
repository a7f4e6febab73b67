"""The simulator tests share the Scalr client's fixtures."""

from tests.scalr.conftest import receiver, scalr_client, scalr_env, sim, sim_state

__all__ = ["receiver", "scalr_client", "scalr_env", "sim", "sim_state"]
