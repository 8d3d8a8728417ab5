"""Switchyard's workflow engine: a pure-Python library.

Nothing in this package imports Django. It knows graphs, templates, conditions and node
executors, and talks to persistence through the small `Store` interface in `store.py` and
to the host application through `Services`.
"""
