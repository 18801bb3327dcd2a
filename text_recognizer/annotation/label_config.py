"""The OCR labeling interface for Label Studio, and the instructions annotators read.

Label Studio's stock OCR template offers rectangles AND polygons, a label choice and one
transcription box. For training a line recognizer we want exactly one thing per text line:
a (possibly rotated) rectangle and what is written in it. So:

- one ``Rectangle`` tool (rotatable), no ``Polygon``: a line crop is a rectangle, and one
  shape per line keeps annotations comparable between annotators;
- a ``TextArea`` with ``perRegion="true"``: each rectangle gets its OWN transcription
  (stored in the export with the rectangle's region id, which is how we pair them);
- zoom and rotate controls on the image: small handwriting and skewed scans.

The instructions settle the ambiguities that otherwise make annotators disagree (and a
model learn noise): transcribe what is written, not what should have been written.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

# The names tie the config, the annotations we post and the converter together.
IMAGE_NAME, RECTANGLE_NAME, TEXT_NAME = "image", "bbox", "transcription"
DATA_KEY = "image"  # the task field with the image URL: the manifest's "image" column

LABEL_CONFIG = f"""\
<View>
  <Header value="Draw one rectangle per handwritten line, then type exactly what is written in it."/>
  <Image name="{IMAGE_NAME}" value="${DATA_KEY}" zoom="true" zoomControl="true" rotateControl="true"/>
  <Rectangle name="{RECTANGLE_NAME}" toName="{IMAGE_NAME}" strokeWidth="2" canRotate="true"/>
  <TextArea name="{TEXT_NAME}" toName="{IMAGE_NAME}" perRegion="true" editable="true"
            required="true" maxSubmissions="1" rows="2" displayMode="region-list"
            placeholder="Exactly what is written in this line"/>
</View>
"""

INSTRUCTIONS = """\
<h3>Transcribe handwritten lines</h3>
<ol>
  <li><b>One rectangle per handwritten line.</b> Cover all of the line's ink (ascenders,
      descenders, punctuation) with a little paper around it, and no ink of the lines above
      or below. If the line is tilted, rotate the rectangle to follow it.</li>
  <li><b>Do not box or copy the printed prompt</b> at the top of the form
      ("Please copy the sentence below:" and the printed sentence). Only handwriting.</li>
  <li><b>Type exactly what is written, not what should have been written.</b> Do not
      correct spelling, grammar, capitals or punctuation: if the writer wrote "teh",
      type "teh".</li>
  <li><b>Best effort on every character.</b> If a character is hard to read, type your
      best guess; never skip it or leave the line empty. Use one space between words.</li>
  <li>A line split over two rectangles, or two lines in one rectangle, is an error:
      fix it before submitting.</li>
</ol>
"""


def check_label_config(config: str = LABEL_CONFIG) -> None:
    """Raise ``ValueError`` unless ``config`` is the interface the converter expects: one
    rotatable rectangle tool, no polygons, a per-region transcription, zoom and rotate on.

    >>> check_label_config()
    >>> check_label_config(LABEL_CONFIG.replace("<View>", '<View><Polygon name="p" toName="image"/>'))
    Traceback (most recent call last):
    ...
    ValueError: the labeling config must not offer polygons (found 1)
    """
    root = ElementTree.fromstring(config)
    polygons = root.findall(".//Polygon") + root.findall(".//PolygonLabels")
    if polygons:
        raise ValueError(f"the labeling config must not offer polygons (found {len(polygons)})")
    rectangles = root.findall(".//Rectangle") + root.findall(".//RectangleLabels")
    if len(rectangles) != 1:
        raise ValueError(f"expected exactly one rectangle tool, found {len(rectangles)}")
    texts = [t for t in root.findall(".//TextArea") if t.get("perRegion") == "true"]
    if len(texts) != 1:
        raise ValueError("expected one TextArea with perRegion='true' (a text per rectangle)")
    images = root.findall(".//Image")
    if len(images) != 1:
        raise ValueError(f"expected one Image, found {len(images)}")
    image = images[0]
    for flag in ("zoom", "zoomControl", "rotateControl"):
        if image.get(flag) != "true":
            raise ValueError(f"the Image must have {flag}='true'")
