"""`python -m simulator`: the same as `flask scalr-sim`."""

from simulator.cli import scalr_sim_command

if __name__ == "__main__":
    scalr_sim_command(prog_name="python -m simulator")
