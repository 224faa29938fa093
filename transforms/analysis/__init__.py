"""What the normal form's variables are, for one signature: numba's types, the rewrites that need
them, which variables carry derivatives, which arrays share memory or keep one shape, what the
reverse sweep saves or recomputes (or restores, for arrays), which loops add up independent terms,
and which accumulations a loop can carry in registers."""
