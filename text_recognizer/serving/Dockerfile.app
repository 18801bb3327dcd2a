# syntax=docker/dockerfile:1
# The Gradio frontend. It runs the model in-process, or with --model_url sends images to the
# Lambda function (or any backend speaking the same JSON). Build from the REPOSITORY ROOT:
#   docker build -f text_recognizer/serving/Dockerfile.app -t text-recognizer-app .
#   docker run --rm -p 7860:7860 text-recognizer-app                       # model in-process
#   docker run --rm -p 7860:7860 text-recognizer-app --model_url https://<id>.lambda-url.<region>.on.aws/
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_OFFLINE=1

WORKDIR /app
# Same recipe as Dockerfile.lambda: pinned production requirements, CPU-only torch.
COPY requirements/prod.txt /tmp/prod.txt
RUN grep -E '^(torch|torchvision)==' /tmp/prod.txt > /tmp/torch.txt \
 && grep -vE '^(torch|torchvision|triton|nvidia-[a-z0-9-]+|cuda-[a-z-]+)==' /tmp/prod.txt > /tmp/rest.txt \
 && pip install --no-cache-dir --no-deps --index-url https://download.pytorch.org/whl/cpu -r /tmp/torch.txt \
 && pip install --no-cache-dir -r /tmp/rest.txt \
 && rm /tmp/*.txt

COPY text_recognizer/ /app/text_recognizer/
# An unprivileged user (by uid, which every host resolves); flagged examples are written under /app/logs.
RUN useradd --create-home --uid 10001 app && mkdir -p /app/logs && chown app /app/logs
USER 10001

EXPOSE 7860
# Bind all interfaces INSIDE the container; `docker run -p 127.0.0.1:7860:7860` keeps it local.
ENTRYPOINT ["python", "-m", "text_recognizer.serving.app", "--host", "0.0.0.0", "--port", "7860"]
CMD []
