"""Annotation: from raw, unannotated page images to a training set, with Label Studio.

The round trip Lab 06 walks through, every step offline and on loopback:

1. :mod:`~text_recognizer.annotation.forms` generates raw "handwriting forms" (page images
   with a printed prompt and handwritten lines), keeps their hidden truth apart, writes a
   ``manifest.csv`` of image URLs and serves the images on 127.0.0.1.
2. :mod:`~text_recognizer.annotation.label_config` is the OCR labeling interface: one
   rectangle per text line, each with its own transcription, plus the instructions.
3. :mod:`~text_recognizer.annotation.label_studio` starts/stops Label Studio (in its own
   virtual environment, bound to 127.0.0.1) and talks to its REST API: project, import,
   annotations, export.
4. :mod:`~text_recognizer.annotation.convert` turns Label Studio's export JSON into line
   crops, texts and paragraph records, with a report of every annotation it could not use,
   using the rotated-rectangle maths of :mod:`~text_recognizer.annotation.geometry`.
   :class:`~text_recognizer.data.annotated_lines.AnnotatedLines` trains on the result.
5. :mod:`~text_recognizer.annotation.quality` scores annotations against the hidden truth.
"""
