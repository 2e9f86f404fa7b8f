"""Where and how tensors are computed: device and GPU choice, numerics, batching, feeding."""
