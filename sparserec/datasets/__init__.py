"""Small shipped datasets and generators; never downloads at run time."""
