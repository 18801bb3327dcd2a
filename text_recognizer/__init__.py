"""Text Recognizer: a handwritten-text recognizer built lab by lab.

Layers (see ../README.md): ``metadata`` -> ``data`` -> ``stems`` -> ``models`` ->
``lit_models`` -> ``training`` -> ``recognizer`` -> ``serving`` / ``monitoring``.
"""

__version__ = "0.1.0"
