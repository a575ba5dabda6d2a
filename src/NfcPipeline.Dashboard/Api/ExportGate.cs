using Microsoft.Extensions.Options;
using NfcPipeline.Core.Concurrency;
using NfcPipeline.Dashboard.Hosting;

namespace NfcPipeline.Dashboard.Api;

/// <summary>
/// At most Dashboard:MaxConcurrentExports study exports at once: each streams from an open query, and a client reading
/// slowly (or a script throttling many downloads) would otherwise hold a pooled connection each, until every page
/// waited for one and answered "database cannot be reached".
/// </summary>
public sealed class ExportGate(IOptions<DashboardOptions> options)
{
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrentExports, options.Value.MaxConcurrentExports);

    /// <summary>A slot, released when disposed; null when none came free within Dashboard:ExportQueueWait.</summary>
    public async Task<IDisposable?> EnterAsync(CancellationToken ct) =>
        await _slots.WaitAsync(options.Value.ExportQueueWait, ct) ? new SemaphoreTurn(_slots) : null;
}
