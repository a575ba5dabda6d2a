# The nfc CLI (migrate, status, report, requeue, enqueue, delete-study; analyze and evaluate need ONNX Runtime:
# mount libonnxruntime.so.1 and set NFC_ORT_LIBRARY). Build from the repository root:
#   docker build -f ops/docker/cli.Dockerfile -t nfcpipeline/cli .
# The .NET 10 images are Ubuntu 24.04 (noble), hence its package names (libturbojpeg, libpng16-16t64).
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY . .
# nuget.config's first source is a machine-local folder (see README); here every package comes from nuget.org.
# .git is not sent (.dockerignore): the commit the version names comes in as a build argument (docker-compose.yml
# passes NFC_SOURCE_REVISION, e.g. `NFC_SOURCE_REVISION=$(git rev-parse HEAD) docker compose build`).
ARG SOURCE_REVISION=
RUN mkdir -p /opt/nuget/packages && dotnet publish src/NfcPipeline.Cli/NfcPipeline.Cli.csproj -c Release -o /app -p:SourceRevisionId="$SOURCE_REVISION"

# ASP.NET Core's runtime: nfc references Microsoft.AspNetCore.App (it hosts the dashboard bench), and the plain
# runtime image lacks it (`dotnet nfc.dll` would stop with "framework not found").
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg libpng16-16t64 libtiff6 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
# Not root: the aspnet images define this account (APP_UID, 1654).
USER $APP_UID
ENTRYPOINT ["dotnet", "nfc.dll"]
