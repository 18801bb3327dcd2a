"""Serving the recognizer: a Gradio frontend (``app``), an AWS Lambda handler
(``lambda_handler``) and a local server that speaks the Lambda function-URL event format
(``local_server``), so the same handler code runs on a laptop and in the cloud.

Nothing is imported here on purpose: ``import text_recognizer.serving.lambda_handler`` should
not pull in Gradio, and the frontend should not pull in the backend's metrics.
"""
