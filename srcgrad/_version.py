"""srcgrad's version: the face reports it, and generated modules name it."""

__version__ = "0.1.0"
