"""hma-mascon: point-mass mascon inversion of GRACE/GRACE-FO over High Mountain Asia.

A reproducible companion to Wang, Shen, Chen & Wang (2024), "High-Spatial Resolution Mascon
Solution Over High Mountain Asia Constrained by Multisource Prior Information", IEEE JSTARS.
The method is written out in ``METHODS.md`` (shipped with the project's shared material); see
the module list in ``CONTRIBUTING.md`` to find each step of it.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
