# The `mlcost serve` image. Its install is the project's own (scripts/install.sh, as `make setup`
# runs it, at constraints.txt's pinned versions), with the serve extra instead of dev.
#   docker build -t mlcost-serve:0.1.0 --build-arg MLCOST_HOME_DIR=.mlcost-demo .
# The workspace (the variants' artifacts and the store that names them) is baked in at
# /opt/mlcost-home; the Deployment's init container copies it to a writable emptyDir at
# /srv/mlcost, so the root filesystem stays read-only. To mount a model instead, point a volume
# at /srv/mlcost and drop the init container.
# The AWS Lambda Web Adapter: on Lambda it forwards each invocation to the server on :8000
# (mlcost deploy sam); elsewhere the extension folder is never read.
FROM public.ecr.aws/awsguru/aws-lambda-adapter:0.9.1 AS lambda-adapter
FROM python:3.11-slim
COPY --from=lambda-adapter /lambda-adapter /opt/extensions/lambda-adapter
# The CPU build of torch (an unpinned torch from PyPI pulls a CUDA build of several GB).
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY scripts/install.sh scripts/install.sh
COPY src src
RUN bash scripts/install.sh python3.11 /opt/venv '.[serve]' && rm -rf /root/.cache
ARG MLCOST_HOME_DIR=.mlcost-demo
COPY ${MLCOST_HOME_DIR}/artifacts /opt/mlcost-home/artifacts
COPY ${MLCOST_HOME_DIR}/mlcost.db /opt/mlcost-home/mlcost.db
RUN useradd --uid 10001 --user-group --no-create-home mlcost
USER 10001:10001
ENV PATH=/opt/venv/bin:$PATH MLCOST_HOME=/srv/mlcost
EXPOSE 8000
ENTRYPOINT ["mlcost"]
CMD ["--home", "/srv/mlcost", "serve", "/etc/mlcost/serve.yaml"]
