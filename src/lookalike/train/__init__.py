"""Training: the device and seed, optimizer and schedule, the step loop, checkpoints."""
