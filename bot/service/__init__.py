"""`paperbot serve`: the scheduler, its jobs, the heartbeat, and the service's state."""
