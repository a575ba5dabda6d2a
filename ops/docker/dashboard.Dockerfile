# The dashboard and HTTP API. Build from the repository root:
#   docker build -f ops/docker/dashboard.Dockerfile -t nfcpipeline/dashboard .
# Bound to all interfaces inside the container, so it refuses to start unless users or API keys are configured
# (docs/dashboard.md).
# The .NET 10 images are Ubuntu 24.04 (noble), hence its package names (libturbojpeg, libpng16-16t64).
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/NfcPipeline.Dashboard/NfcPipeline.Dashboard.csproj -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg libpng16-16t64 libtiff6 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENTRYPOINT ["dotnet", "nfc-dashboard.dll"]
