using System.Security.Cryptography;
using Microsoft.Extensions.Options;
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

    public enum Outcome { Rendered, NoImage, NoShare, SourceMissing, Undecodable, Changed }

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
        string path, realRoot;
        try
        {
            // Each time (a share whose link or mount was re-pointed is followed), and once for both: resolved apart, a
            // link re-pointed between them would confine the decoder to another tree than the path's.
            realRoot = SharePaths.RealPath(root);
            path = SharePaths.ResolveUnder(realRoot, relative);
        }
        catch (Exception ex) when (ex is StudyLayoutException or IOException or UnauthorizedAccessException) { return (Outcome.SourceMissing, null); }
        if (!File.Exists(path)) return (Outcome.SourceMissing, null);

        // Without ?model= the study's model, as the study page lists the image's results (it drew none at all).
        IReadOnlyList<CapillaryShape> shapes = [];
        double? keypointGate = null;
        if ((modelId ?? image.StudyModelId) is { } m && image.ResultUmPerPx is { } um)
        {
            shapes = await queries.CapillaryShapesAsync(image.Sha256, m, um, ct);
            // The keypoints drawn are those the measurements used, under the gate they were measured with.
            keypointGate = await queries.KeypointGateAsync(image.Sha256, m, um, ct);
        }
        // DecodeFile as the worker reads: a FIFO or device is refused before it is opened (opening a FIFO blocks),
        // the size is checked before reading, and an unreadable file is a decode failure, not a 500.
        // Confined to the share on the open file too: a link swapped in after ResolveUnder leads nowhere outside.
        var decoder = ConfinedTo(realRoot);
        // At most Dashboard:MaxConcurrentOverlays at once: a burst of requests for large fields waits here.
        await _renderGate.WaitAsync(ct);
        try
        {
            return await Task.Run(() =>
            {
                // The stored shapes belong to the content analysed: drawn on a file replaced since, they would mislead.
                var content = decoder.ReadContent(path);
                if (!SHA256.HashData(content).AsSpan().SequenceEqual(image.Sha256)) return (Outcome.Changed, null);
                return (Outcome.Rendered, (byte[]?)OverlayRenderer.RenderPng(decoder.Decode(content), shapes, maxWidth, keypointGate));
            }, ct);
        }
        catch (ImageDecodeException) { return (Outcome.Undecodable, null); }
        finally { _renderGate.Release(); }
    }
}
