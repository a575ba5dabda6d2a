# The dashboard and HTTP API. Build from the repository root:
#   docker build -f ops/docker/dashboard.Dockerfile -t nfcpipeline/dashboard .
# Bound to all interfaces inside the container, so it refuses to start unless users or API keys are configured
# (docs/dashboard.md).
# The .NET 10 images are Ubuntu 24.04 (noble), hence its package names (libturbojpeg, libpng16-16t64).
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY . .
# nuget.config's first source is a machine-local folder (see README); here every package comes from nuget.org.
# .git is not sent (.dockerignore): the commit the version names comes in as a build argument (docker-compose.yml
# passes NFC_SOURCE_REVISION, e.g. `NFC_SOURCE_REVISION=$(git rev-parse HEAD) docker compose build`).
ARG SOURCE_REVISION=
RUN mkdir -p /opt/nuget/packages && dotnet publish src/NfcPipeline.Dashboard/NfcPipeline.Dashboard.csproj -c Release -o /app -p:SourceRevisionId="$SOURCE_REVISION"

FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg libpng16-16t64 libtiff6 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
# Not root: the aspnet images define this account (APP_UID, 1654).
USER $APP_UID
ENTRYPOINT ["dotnet", "nfc-dashboard.dll"]
