using System.Diagnostics.Metrics;

namespace NfcPipeline.Worker.Hosting;

/// <summary>The worker's instruments (meter "NfcPipeline.Worker"); the batcher adds batch size, queue wait and inference time.</summary>
public sealed class WorkerMetrics : IDisposable
{
    public const string MeterName = "NfcPipeline.Worker";
    private readonly Meter _meter;
    private readonly Counter<long> _processed;
    private readonly Counter<long> _failed;
    private readonly Histogram<double> _chunkSeconds;
    private readonly Histogram<double> _writeMilliseconds;
    private long _totalProcessed;
    private double _writeSeconds, _chunkSecondsTotal;

    public WorkerMetrics(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        _processed = _meter.CreateCounter<long>("nfc.worker.images_processed", description: "Images analysed and stored");
        _failed = _meter.CreateCounter<long>("nfc.worker.images_failed", description: "Images that failed with a recorded reason");
        _chunkSeconds = _meter.CreateHistogram<double>("nfc.worker.chunk_duration", "s", "Wall time of one chunk, claim to commit");
        _writeMilliseconds = _meter.CreateHistogram<double>("nfc.worker.db_write_duration", "ms", "The chunk's one result transaction");
    }

    public long ImagesProcessed => Interlocked.Read(ref _totalProcessed);

    /// <summary>Share of chunk wall time spent writing results, since start.</summary>
    public double WriteShare => _chunkSecondsTotal > 0 ? _writeSeconds / _chunkSecondsTotal : 0;

    public void ChunkWritten(int analysed, int failed, TimeSpan write, TimeSpan total)
    {
        _processed.Add(analysed);
        _failed.Add(failed);
        _chunkSeconds.Record(total.TotalSeconds);
        _writeMilliseconds.Record(write.TotalMilliseconds);
        Interlocked.Add(ref _totalProcessed, analysed + failed);
        lock (_meter) { _writeSeconds += write.TotalSeconds; _chunkSecondsTotal += total.TotalSeconds; }
    }

    public void Dispose() => _meter.Dispose();
}
