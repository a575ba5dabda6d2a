using System.Globalization;
using NfcPipeline.Inference.Batching;
using System.Runtime.CompilerServices;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Imaging;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// One field's outcome: its analysis and measurements, or the reason it failed. A failure is the image's alone;
/// <see cref="MayPassLater"/> when its cause can pass (a read error of a network share, a remount, a run refused for
/// the device's memory), not a property of the file.
/// </summary>
public sealed record FieldOutcome(ImageAnalysis? Analysis, ImageMeasurement? Measurement, string? ErrorCode, string? Error)
{
    public bool Succeeded => ErrorCode is null;

    public bool MayPassLater { get; init; }

    /// <summary>The error code of a run ONNX Runtime refused or failed.</summary>
    public const string InferenceFailedCode = "InferenceFailed";

    public static FieldOutcome Failed(string code, string message, bool mayPassLater = false) =>
        new(null, null, code, message) { MayPassLater = mayPassLater };
}

/// <summary>Inference then measurement for one image file. Bad input becomes a recorded failure, never an exception.</summary>
public sealed class FieldAnalyzer(ImageAnalyzer analyzer, ImageMeasurer measurer)
{
    public ImageAnalyzer Analyzer => analyzer;

    /// <summary>
    /// Analyses many files with at most <paramref name="lookAhead"/> in flight (enough to fill batches and overlap
    /// decoding, without holding every decoded image), yielding outcomes in input order.
    /// </summary>
    public async IAsyncEnumerable<FieldOutcome> AnalyzeInOrderAsync(IEnumerable<(string Path, Calibration Calibration)> files, int lookAhead,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var inFlight = new Queue<Task<FieldOutcome>>();
        // A caller that stops reading (a break, a failure) cancels those still in flight and waits for their outcomes:
        // queued ones leave the batcher, and a batch already running is stopped once none of its requests is left.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            foreach (var (path, calibration) in files)
            {
                if (inFlight.Count >= Math.Max(1, lookAhead)) yield return await inFlight.Dequeue();
                inFlight.Enqueue(AnalyzeFileAsync(path, calibration, stop.Token));
            }
            while (inFlight.Count > 0) yield return await inFlight.Dequeue();
        }
        finally
        {
            if (inFlight.Count > 0)
            {
                stop.Cancel();
                try { await Task.WhenAll(inFlight); } catch (Exception) { /* each one's outcome goes unread with its reader */ }
            }
        }
    }

    public Task<FieldOutcome> AnalyzeFileAsync(string path, Calibration calibration, CancellationToken cancellationToken = default) =>
        OutcomeAsync(() => analyzer.AnalyzeFileAsync(path, cancellationToken), calibration);

    /// <summary>A file read once by <paramref name="load"/> (which the worker checks against its registered hash) and
    /// decoded from those bytes; see <see cref="ImageAnalyzer.AnalyzeContentAsync"/>.</summary>
    public Task<FieldOutcome> AnalyzeContentAsync(string path, Func<long, CancellationToken, Task<byte[]>> load, Calibration calibration,
        CancellationToken cancellationToken = default) =>
        OutcomeAsync(() => analyzer.AnalyzeContentAsync(path, load, cancellationToken), calibration);

    /// <summary>
    /// The analysis with a note when its calibration is far from the scale the model was trained at: the model sees
    /// pixels, so capillaries much larger or smaller in pixels than it learned from are outside what it was tested on.
    /// </summary>
    private ImageAnalysis WithCalibrationNote(ImageAnalysis analysis, Calibration calibration)
    {
        double factor = analyzer.CalibrationNoteFactor;
        if (factor == 0 || analyzer.Model.Contract.TrainedMicrometresPerPixel is not { } trained) return analysis;
        double um = calibration.MicrometresPerPixel, ratio = um / trained;
        if (ratio <= factor * (1 + 1e-9) && ratio * factor >= 1 - 1e-9) return analysis;   // the bounds themselves are in range
        string note = string.Create(CultureInfo.InvariantCulture,
            $"Calibration {um:0.###} µm/px is far from the {trained:0.###} µm/px the model was trained at: capillaries are " +
            $"{(ratio > 1 ? "smaller" : "larger")} in pixels than those it learned from, and its results less certain.");
        return analysis with { Notes = [.. analysis.Notes, note] };
    }

    /// <summary>ONNX Runtime's refusals that the same input and graph meet every time.</summary>
    private static bool Deterministic(OrtErrorCode code) => code is OrtErrorCode.InvalidArgument or OrtErrorCode.InvalidGraph
        or OrtErrorCode.NotImplemented or OrtErrorCode.NoModel or OrtErrorCode.InvalidProtobuf;

    private async Task<FieldOutcome> OutcomeAsync(Func<Task<ImageAnalysis>> analyse, Calibration calibration)
    {
        try
        {
            var analysis = WithCalibrationNote(await analyse(), calibration);
            var measurement = measurer.Measure(analysis.Instances, calibration, analysis.Width, analysis.Height);
            return new FieldOutcome(analysis, measurement, null, null);
        }
        catch (ImageDecodeException ex)
        {
            // An I/O error or a file gone for a moment may pass; a permission refused or bytes that do not decode will not.
            bool mayPass = ex.Reason == ImageDecodeError.Unreadable && ex.InnerException is IOException;
            return FieldOutcome.Failed(ex.Reason.ToString(), ex.Detail, mayPass);
        }
        catch (ContentChangedException ex)
        {
            return FieldOutcome.Failed("ChangedSinceRegistration", ex.Message);
        }
        catch (OnnxRuntimeException ex)
        {
            // An output too large was already run alone (a batch falls back to one image per run): it would be as large
            // again; so would an input or graph ONNX Runtime refuses. A failure in the run itself (memory, a device) may pass.
            return FieldOutcome.Failed(FieldOutcome.InferenceFailedCode, ex.Message, mayPassLater: ex is not TensorTooLargeException && !Deterministic(ex.ErrorCode));
        }
        catch (InvalidDataException ex)
        {
            // The model's outputs break its contract for this image (a wrong shape, NaN or infinite values).
            return FieldOutcome.Failed("ModelOutputInvalid", ex.Message);
        }
        catch (DeadlineExceededException ex)
        {
            // The queue or the run was slow this time (load, other batches ahead): tried again, it may finish in time.
            return FieldOutcome.Failed("TimedOut", ex.Message, mayPassLater: true);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            // An unexpected fault in one image must not stop the others; the type and message say what happened.
            return FieldOutcome.Failed("AnalysisFailed", $"{ex.GetType().Name}: {ex.Message}");
        }
    }
}

/// <summary>The file's content is not what was registered (replaced, or changing while read): analysing it would file
/// one content's results under another's hash.</summary>
public sealed class ContentChangedException(string message) : Exception(message);
