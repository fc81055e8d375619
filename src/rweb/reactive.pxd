# Cython declarations for reactive.py (the compiled build; see setup.py).
# The module is compiled as it is: its hot functions are closures (the
# record field properties), which a .pxd cannot type.
