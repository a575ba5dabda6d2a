# The analysis worker. Build from the repository root:
#   docker build -f ops/docker/worker.Dockerfile -t nfcpipeline/worker .
# ONNX Runtime: the CPU library from npm is fetched at build time; for the GPU, mount the official GPU build of
# ONNX Runtime and point NFC_ORT_LIBRARY at its libonnxruntime.so.1 (see docs/gpu.md).
# The .NET 10 images are Ubuntu 24.04 (noble), hence its package names (libturbojpeg, libpng16-16t64).
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY . .
# nuget.config's first source is a machine-local folder (see README); here every package comes from nuget.org.
# .git is not sent (.dockerignore): the commit the version names comes in as a build argument (docker-compose.yml
# passes NFC_SOURCE_REVISION, e.g. `NFC_SOURCE_REVISION=$(git rev-parse HEAD) docker compose build`).
ARG SOURCE_REVISION=
RUN mkdir -p /opt/nuget/packages && dotnet publish src/NfcPipeline.Worker/NfcPipeline.Worker.csproj -c Release -o /app -p:SourceRevisionId="$SOURCE_REVISION"

FROM node:20-bookworm-slim AS ort
ARG ORT_VERSION=1.23.2
# The library's sha256, as ops/native.sh checks it: set both when pinning another version.
ARG ORT_SHA256=733854c3d7ce45256cc1c22cd4a30373247e1f7b7de8f40beab24211ef8e2a76
RUN cd /tmp && npm pack onnxruntime-node@${ORT_VERSION} \
    && tar xzf onnxruntime-node-${ORT_VERSION}.tgz package/bin/napi-v6/linux/x64/libonnxruntime.so.1 \
    && mv package/bin/napi-v6/linux/x64/libonnxruntime.so.1 /libonnxruntime.so.1 \
    && echo "${ORT_SHA256}  /libonnxruntime.so.1" | sha256sum -c -

FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg libpng16-16t64 libtiff6 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
COPY --from=ort /libonnxruntime.so.1 /opt/onnxruntime/libonnxruntime.so.1
COPY models /app/models
ENV NFC_ORT_LIBRARY=/opt/onnxruntime/libonnxruntime.so.1
# Not root: the aspnet images define this account (APP_UID, 1654).
USER $APP_UID
ENTRYPOINT ["dotnet", "nfc-worker.dll"]
