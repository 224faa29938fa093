"""``@srcad.kernel``: a kernel's generated module (``modules.py``), built from how one thread uses its
arrays (``threads.py``), the CPU launchers that run a thread function for every thread
(``launchers.py``), and the CUDA kernels (``cuda.py``, with per-thread partial sums before atomic
additions: ``atomic_partials.py``)."""
