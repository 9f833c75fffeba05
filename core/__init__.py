"""MiDaS depth explorer: the plain Python library behind the app and the CLI (no Streamlit)."""

#: The app's version, the one source for every file's ``app_version`` field and ``python -m core --version``.
__version__ = "0.14.0"
