"""srcad's back ends (numba on the CPU; CUDA later) and the runtime helpers generated code calls."""
