"""srcad's libcst passes. Each module is one pass and can be run on its own:

parse -> normalize -> single_exit -> activity -> reverse -> emit
"""
