"""scikit-learn's handwritten digits: 1,797 real 8x8 images by 43 writers (UCI), no download."""

DIMS = (1, 8, 8)
OUTPUT_DIMS = (1,)
MAPPING = list(range(10))
MAX_PIXEL_VALUE = 16.0  # the raw data counts "on" pixels in 4x4 blocks: values 0..16
