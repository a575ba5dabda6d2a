using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using NfcPipeline.Core.Concurrency;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Imaging;
using NfcPipeline.Intake;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Rendering;

/// <summary>Finds an image in the share (read only, never outside Dashboard:ShareRoot), decodes it and draws its overlay.</summary>
public sealed class OverlayService(ReportingQueries queries, IOptions<DashboardOptions> options)
{
    /// <summary>A decoder confined to the share's real path as last resolved (a re-pointed share link makes another).</summary>
    private sealed record Confined(string RealRoot, ImageDecoder Decoder);
    private Confined? _confined;
    private readonly SemaphoreSlim _renderGate = new(options.Value.MaxConcurrentOverlays, options.Value.MaxConcurrentOverlays);

    public enum Outcome { Rendered, NoImage, NoShare, SourceMissing, Undecodable, Unreadable, Changed, ShareNotAnswering, Busy }

    private ImageDecoder ConfinedTo(string realRoot)
    {
        if (_confined is { } known && known.RealRoot == realRoot) return known.Decoder;
        var decoder = new ImageDecoder(null, path => SharePaths.OpenInside(path, realRoot));
        _confined = new Confined(realRoot, decoder);
        return decoder;
    }

    public async Task<(Outcome Outcome, byte[]? Png)> RenderAsync(long imageId, long? modelId, int? maxWidth, CancellationToken ct)
    {
        var image = await queries.ImageSourceAsync(imageId, ct);
        if (image is null) return (Outcome.NoImage, null);
        var root = options.Value.ShareRoot;
        if (string.IsNullOrWhiteSpace(root)) return (Outcome.NoShare, null);
        // As the worker resolves it: under the study folder, or, for a study submitted as a list of images, the path
        // relative to the share itself.
        var relative = image.StudySourcePath is { Length: > 0 } folder ? folder.TrimEnd('/') + "/" + image.RelPath : image.RelPath;
        // Without ?model= the study's model, as the study page lists the image's results (it drew none at all).
        IReadOnlyList<CapillaryShape> shapes = [];
        double? keypointGate = null;
        if ((modelId ?? image.StudyModelId) is { } m && image.ResultUmPerPx is { } um)
        {
            shapes = await queries.CapillaryShapesAsync(image.Sha256, m, um, ct);
            // The keypoints drawn are those the measurements used, under the gate they were measured with.
            keypointGate = await queries.KeypointGateAsync(image.Sha256, m, um, ct);
        }
        // At most Dashboard:MaxConcurrentOverlays at once: a burst of requests for large fields waits here, for a while.
        var timeout = options.Value.ShareTimeout;
        if (!await _renderGate.WaitAsync(3 * timeout, ct)) return (Outcome.Busy, null);
        Task<(string Path, ImageDecoder Decoder, byte[] Content)?>? fetch = null;
        try
        {
            // The share's answers (finding the file, reading it) are waited for at most Dashboard:ShareTimeout: a hung
            // mount (a hard NFS mount whose server is gone) held request threads for as long as it hung.
            fetch = Task.Run(() => Fetch(root, relative), CancellationToken.None);
            (string Path, ImageDecoder Decoder, byte[] Content)? fetched;
            try { fetched = await fetch.WaitAsync(timeout, ct); }
            catch (TimeoutException) { return (Outcome.ShareNotAnswering, null); }
            if (fetched is not { } found) return (Outcome.SourceMissing, null);
            // The stored shapes belong to the content analysed: drawn on a file replaced since, they would mislead.
            if (!SHA256.HashData(found.Content).AsSpan().SequenceEqual(image.Sha256)) return (Outcome.Changed, null);
            return await Task.Run(() => (Outcome.Rendered,
                (byte[]?)OverlayRenderer.RenderPng(found.Decoder.Decode(found.Content), shapes, maxWidth, keypointGate)), ct);
        }
        catch (ImageDecodeException ex) { return (OutcomeOf(ex), null); }
        finally
        {
            // A fetch the share still holds keeps its slot until it returns, so hung mounts take no more threads than slots.
            SemaphoreTurn.ReleaseWhenDone(_renderGate, fetch);
        }
    }

    /// <summary>
    /// A file that could not be opened or read is not a corrupt image: gone since it was found (404, as one not there), or
    /// not readable by the dashboard (its user may not read the share's files), which an operator mends on the server.
    /// </summary>
    public static Outcome OutcomeOf(ImageDecodeException ex) => ex.Reason != ImageDecodeError.Unreadable ? Outcome.Undecodable
        : ex.InnerException is FileNotFoundException or DirectoryNotFoundException ? Outcome.SourceMissing
        // Refused as it was opened (a link swapped to lead out of the share, a FIFO swapped in): not a matter of access.
        : ex.InnerException is ShareFileRefusedException ? Outcome.Undecodable
        : Outcome.Unreadable;

    /// <summary>
    /// The image's path, a decoder confined to the share, and the file's bytes; null when it is not there (or cannot
    /// be reached). Read as the worker reads: a FIFO or device is refused before it is opened, the size is checked
    /// before reading, and a link swapped in after ResolveUnder leads nowhere outside the share.
    /// </summary>
    private (string Path, ImageDecoder Decoder, byte[] Content)? Fetch(string root, string relative)
    {
        if (Locate(root, relative) is not { } found) return null;
        var (path, realRoot) = found;
        var decoder = ConfinedTo(realRoot);
        return (path, decoder, decoder.ReadContent(path));
    }

    /// <summary>The image's path in the share and the share's real path; null when it is not there (or cannot be).</summary>
    private static (string Path, string RealRoot)? Locate(string root, string relative)
    {
        try
        {
            // Each time (a share whose link or mount was re-pointed is followed), and once for both: resolved apart, a
            // link re-pointed between them would confine the decoder to another tree than the path's.
            var realRoot = SharePaths.RealPath(root);
            var path = SharePaths.ResolveUnder(realRoot, relative);
            return File.Exists(path) ? (path, realRoot) : null;
        }
        catch (Exception ex) when (ex is StudyLayoutException or IOException or UnauthorizedAccessException) { return null; }
    }
}
