"""Production monitoring for the recognizer (Lab 08): an evaluation store, projections,
drift detection, a traffic simulator, reports and shadow mode.

Modules (import what you need; none of them import each other's heavy dependencies eagerly):

- :mod:`~text_recognizer.monitoring.store`: ``EvaluationStore`` (SQLite or PostgreSQL);
  :mod:`.store_schema` its tables, dialects and migrations; :mod:`.store_images` the
  content-addressed input images;
- :mod:`~text_recognizer.monitoring.logger`: ``PredictionLogger``, the never-failing wrapper
  serving code uses;
- :mod:`~text_recognizer.monitoring.flagging`: ``StoreFlaggingCallback`` for Gradio;
- :mod:`~text_recognizer.monitoring.projections`: cheap numbers computed from each logged
  image and output;
- :mod:`~text_recognizer.monitoring.drift`: reference distributions, KS / D1 over sliding
  windows, rule checks, alerts;
- :mod:`~text_recognizer.monitoring.simulator`: synthetic production traffic with shifts;
- :mod:`~text_recognizer.monitoring.report`: the HTML report; :mod:`.cli` is
  ``text-recognizer monitor simulate | drift | report``;
- :mod:`~text_recognizer.monitoring.shadow`: a candidate model running beside production,
  and the ``is_not_worse`` promotion gate;
- :mod:`~text_recognizer.monitoring.regression`: flagged examples -> a regression suite.
"""
