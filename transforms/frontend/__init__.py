"""The front end: a user function's source into the AD-normal form (``normal_form.NormalForm``)."""
