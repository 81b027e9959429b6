"""Design-space search (optuna stays inside this package).

Not built yet: the design-space search issue adds it.
"""

__all__: list[str] = []
