"""newsalert: watch RSS/Atom feeds and push security-incident alerts."""

__version__ = "0.1.0"
