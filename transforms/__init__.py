"""srcad's libcst passes. Each module is one pass and can be run on its own:

parse -> normalize -> single_exit -> activity -> reverse -> emit
"""

import warnings

# Some builds of libcst define their metadata types with mypy_extensions.TypedDict, which newer releases
# of mypy_extensions deprecate as libcst is imported: a warning for libcst's authors, never for srcad's users.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"libcst(\.|$)")
    import libcst  # noqa: F401
