"""Dataset constants: shapes, sizes and character mappings. No heavy imports here."""
