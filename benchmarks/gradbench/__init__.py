"""srcad as a GradBench tool (https://github.com/gradbench/gradbench): ``python -m benchmarks.gradbench``
reads the eval's messages from standard input and answers on standard output, as GradBench's
protocol says (CONTRIBUTING.md, "Protocol"). Each eval srcad implements is a module here, written
as a srcad user writes it (plain Python, NumPy, loops), srcad computing every derivative:

- ``hello``: ``square`` and ``double`` (its derivative);
- ``lse``: log-sum-exp and its gradient;
- ``llsq``: a linear least-squares objective and its gradient;
- ``ode``: an RK4 integration and the gradient of its last component;
- ``kmeans``: the k-means cost, and Newton's direction (the gradient over the Hessian's diagonal,
  forward mode over the gradient);
- ``gmm``: ADBench's Gaussian mixture objective (with its Wishart prior) and its gradient.

A module has ``FUNCTIONS`` (name -> (compute, output conversion)), ``prepare(input)`` (the JSON
input as the functions' arguments) and ``compile()`` (the derivatives generated and compiled for
the argument types the eval sends, timed as the ``define`` message's ``compile`` timing).
"""
