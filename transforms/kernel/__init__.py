"""``@srcad.kernel``: how one thread uses its arrays, the CPU launchers that run a thread function for
every thread, and the CUDA kernels (with per-thread partial sums before atomic additions)."""
