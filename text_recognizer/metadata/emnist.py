"""EMNIST "byclass" characters plus the punctuation and special tokens the course uses.

The mapping is shared by every character-level model: real EMNIST, synthetic characters,
lines and paragraphs all encode text with the same indices.
"""

BLANK, START, END, PADDING = "<B>", "<S>", "<E>", "<P>"
SPECIAL_TOKENS = [BLANK, START, END, PADDING]
DIGITS = list("0123456789")
UPPER = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
LOWER = list("abcdefghijklmnopqrstuvwxyz")
PUNCTUATION = [" ", "!", '"', "#", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/", ":", ";", "?"]

MAPPING = [*SPECIAL_TOKENS, *DIGITS, *UPPER, *LOWER, *PUNCTUATION]
INVERSE_MAPPING = {char: index for index, char in enumerate(MAPPING)}
NUM_SPECIAL_TOKENS = len(SPECIAL_TOKENS)
# The characters a model can actually read (no special tokens).
CHARSET = "".join(MAPPING[NUM_SPECIAL_TOKENS:])

DIMS = (1, 28, 28)
OUTPUT_DIMS = (1,)
