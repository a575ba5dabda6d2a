using Microsoft.Extensions.Logging;
using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Contract;
using NfcPipeline.Inference.Decoding;
using NfcPipeline.Inference.Preprocessing;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Engine;

/// <summary>An ONNX model opened in a session, with its verified contract and content hash (its identity in results).</summary>
public sealed class LoadedModel : IDisposable
{
    private readonly SemaphoreSlim _runGate;
    private readonly string[] _outputNames;

    private LoadedModel(InferenceSession session, ModelContract contract, string path, byte[] sha256, string inputName, bool acceptsBatches,
        int maxConcurrentRuns, int intraOpThreads, string device)
    {
        Device = device;
        Session = session; Contract = contract; Path = path; Sha256 = sha256; InputName = inputName; AcceptsBatches = acceptsBatches;
        OutputNames = _outputNames = session.OutputNames.ToArray();
        MaxConcurrentRuns = maxConcurrentRuns;
        IntraOpThreads = intraOpThreads;
        _runGate = new SemaphoreSlim(maxConcurrentRuns, maxConcurrentRuns);
    }

    public InferenceSession Session { get; }

    /// <summary>The device the session was asked for, "auto" resolved: "cpu", "cuda" or "cuda:N" (see <see cref="InferenceSession.ActiveProvider"/> for what runs).</summary>
    public string Device { get; }
    public ModelContract Contract { get; }
    public string Path { get; }
    public byte[] Sha256 { get; }
    public string Sha256Hex => Convert.ToHexStringLower(Sha256);
    public string InputName { get; }
    public IReadOnlyList<string> OutputNames { get; }
    public string ActiveProvider => Session.ActiveProvider;

    /// <summary>
    /// Whether one run may carry several images. False when the input's batch dimension is fixed to 1, for a dense/v1
    /// export with an output whose batch is fixed to 1, and for an instances/v1 export without a batch_index output
    /// (its detections could not be told apart by image).
    /// </summary>
    public bool AcceptsBatches { get; }

    /// <summary>How many Run calls may execute at once (see <see cref="InferenceOptions.MaxConcurrentRuns"/>).</summary>
    public int MaxConcurrentRuns { get; }

    /// <summary>The session's ORT intra-op pool size (shared by its runs) as configured or planned; 0 where ORT chose (a GPU session).</summary>
    public int IntraOpThreads { get; }

    /// <summary>
    /// Runs the session once the run gate admits it. Batches prepare their input and decode their outputs outside
    /// the gate, so that host work overlaps the next run instead of leaving the model idle.
    /// </summary>
    public ValueTask<IDisposableReadOnlyCollection<OrtValue>> RunAsync(OrtValue input, CancellationToken cancellationToken) =>
        RunAsync(input, _outputNames, cancellationToken);

    /// <inheritdoc cref="RunAsync(OrtValue, CancellationToken)"/>
    public async ValueTask<IDisposableReadOnlyCollection<OrtValue>> RunAsync(OrtValue input, string[] outputNames, CancellationToken cancellationToken)
    {
        await _runGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!cancellationToken.CanBeCanceled) return Session.Run(null, [InputName], [input], outputNames);
            // A run is stopped between operators when its token fires (a stop, or every caller of the batch gone),
            // rather than holding a run slot and the cores until it ends. The registration goes before the options.
            using var runOptions = new RunOptions();
            using var terminate = cancellationToken.Register(() => runOptions.Terminate = true);
            try
            {
                return Session.Run(runOptions, [InputName], [input], outputNames);
            }
            catch (OnnxRuntimeException stopped) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The model run was stopped: its work was cancelled.", stopped, cancellationToken);
            }
        }
        finally
        {
            _runGate.Release();
        }
    }

    public static LoadedModel Load(InferenceOptions options, ILoggerFactory? loggers = null)
    {
        var path = ResolveModelPath(options.ModelPath);
        // An explicit library path must reach ORT before the first session; otherwise the resolver's order applies.
        OrtEnv.CreateInstanceWithOptions(new EnvironmentCreationOptions { LibraryPath = options.OnnxRuntimePath is { Length: > 0 } p ? p : null });

        // The hash names every result, so it must be of the bytes the session read: a file replaced meanwhile loads again.
        return LoadUnchanged(() => ModelIdentity.Hash(path), sha => Open(path, sha, options, loggers), System.IO.Path.GetFileName(path));
    }

    /// <summary>Opens with the content's hash, and again while the hash after opening differs from the one before.</summary>
    internal static T LoadUnchanged<T>(Func<byte[]> hash, Func<byte[], T> open, string fileName, int attempts = 3) where T : IDisposable
    {
        var before = hash();
        for (int attempt = 1; ; attempt++)
        {
            var loaded = open(before);
            byte[] after;
            try { after = hash(); }
            catch { loaded.Dispose(); throw; }
            if (after.AsSpan().SequenceEqual(before)) return loaded;
            loaded.Dispose();
            if (attempt >= attempts)
                throw new IOException($"Model file {fileName} changed while it was loading ({attempts} tries); " +
                    "write a new model elsewhere and move it into place, then start again.");
            before = after;
        }
    }

    private static LoadedModel Open(string path, byte[] sha, InferenceOptions options, ILoggerFactory? loggers)
    {
        var sessionOptions = new SessionOptions();
        var device = ExecutionProviders.ResolveDevice(options.Device, () => OrtEnv.Instance().GetAvailableProviders());
        // On the CPU, runs and threads are planned together so that runs × threads fits the cores.
        CpuRunPlan? plan = ExecutionProviders.ParseDevice(device) is null
            ? CpuRunPlan.For(options.MaxConcurrentRuns, options.IntraOpThreads, Environment.ProcessorCount)
            : null;
        int threads = plan?.IntraOpThreads ?? options.IntraOpThreads;
        if (threads > 0) sessionOptions.IntraOpNumThreads = threads;
        sessionOptions.ProfileFilePrefix = options.OrtProfilePrefix;
        sessionOptions.UseDevice(device);
        var session = new InferenceSession(path, sessionOptions, loggers?.CreateLogger<InferenceSession>());
        try
        {
            var description = $"Model {System.IO.Path.GetFileName(path)}";
            var contract = ModelContractParser.Parse(session.ModelMetadata.CustomMetadataMap, description);
            var (input, acceptsBatches) = ValidateGraph(session, contract, description);
            // The CPU plan already honours a configured count. A GPU session that fell back to the CPU keeps ORT's
            // threads, so it runs one at a time.
            int runs = plan?.ConcurrentRuns
                ?? (options.MaxConcurrentRuns > 0 ? options.MaxConcurrentRuns
                    : session.ActiveProvider.StartsWith("CPU", StringComparison.OrdinalIgnoreCase) ? 1 : 2);
            return new LoadedModel(session, contract, path, sha, input, acceptsBatches, runs, threads, device);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public static string ResolveModelPath(string configured)
    {
        if (System.IO.Path.IsPathRooted(configured))
            return File.Exists(configured) ? configured : throw new FileNotFoundException($"Model file not found: {configured}", configured);
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, configured);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException(
            $"Model file not found: {configured} (looked in {Directory.GetCurrentDirectory()} and its parents). " +
            $"Pass --model PATH or set Inference:ModelPath.", configured);
    }

    /// <summary>A node's type as a message names it: the tensor's element type (Float16, not the CLR type it lacks), else its kind.</summary>
    private static string TypeName(NodeMetadata node) =>
        node.IsTensor ? node.ElementType?.Name ?? node.ElementDataType.ToString() : node.OnnxValueType.ToString();

    /// <summary>One float image input [N,3,H,W] and every output the contract requires, by name and element type.</summary>
    private static (string Input, bool AcceptsBatches) ValidateGraph(InferenceSession session, ModelContract contract, string description)
    {
        var problems = new List<string>();
        if (session.InputMetadata.Count != 1)
            problems.Add($"expected exactly one input, found {session.InputMetadata.Count} ({string.Join(", ", session.InputNames)})");
        if (session.InputMetadata.Count == 0) throw new ModelContractException(description, problems);
        var (name, input) = session.InputMetadata.First();
        if (input.Dimensions.Length == 4 && input.Dimensions[0] > 1)
            problems.Add($"input '{name}' has a fixed batch of {input.Dimensions[0]}; export it with a dynamic batch dimension, or a batch of 1");
        if (input.ElementType != typeof(float) || input.Dimensions.Length != 4 || input.Dimensions[1] is not (3 or -1))
            problems.Add($"input '{name}' must be float32 [N,3,H,W], got {TypeName(input)} [{string.Join(",", input.Dimensions)}]");
        // One fixed side is no better than two: the size policy gives images other sides (a portrait field against a
        // fixed height), and every such image would fail in ORT's run.
        if (input.Dimensions.Length == 4 && input.Dimensions[2] > 0 != input.Dimensions[3] > 0)
            problems.Add($"input '{name}' has one fixed spatial side [{string.Join(",", input.Dimensions)}]; export H and W both dynamic, or both " +
                $"fixed with '{ModelMetadataKeys.SizePolicy}' {{\"mode\":\"fixed\",...}} at that size");
        if (input.Dimensions.Length == 4 && input.Dimensions[2] > 0 && input.Dimensions[3] > 0
            && contract.SizePolicy != new FixedSizePolicy(input.Dimensions[3], input.Dimensions[2]))
            problems.Add($"input '{name}' is fixed at {input.Dimensions[3]}×{input.Dimensions[2]}, so '{ModelMetadataKeys.SizePolicy}' must be " +
                $"{{\"mode\":\"fixed\",\"width\":{input.Dimensions[3]},\"height\":{input.Dimensions[2]}}}");
        if (contract.Kind == ContractKind.DenseV1)
        {
            string[] required = [DenseOutputs.Capillary, DenseOutputs.Center, DenseOutputs.Offset, DenseOutputs.Keypoints, DenseOutputs.Radius, DenseOutputs.ClassLogits];
            foreach (var output in required.Where(o => !session.OutputMetadata.ContainsKey(o)))
                problems.Add($"dense/v1 output '{output}' is missing (outputs: {string.Join(", ", session.OutputNames)})");
            // Every output is read as float32 (the executor asks for all of them).
            foreach (var (output, meta) in session.OutputMetadata.Where(o => o.Value.ElementType != typeof(float)))
                problems.Add($"dense/v1 output '{output}' must be float32, got {TypeName(meta)}");
            ValidateDenseShapes(session.OutputMetadata, contract, problems);
        }
        else
        {
            ValidateInstancesOutputs(session.OutputMetadata, problems);
        }
        if (problems.Count > 0) throw new ModelContractException(description, problems);
        // A dense map whose graph fixes its batch at 1 (a head traced at batch 1 behind a dynamic input) holds one
        // image's answer whatever the batch: run together, every image but the first failed as an invalid output.
        bool batchable = input.Dimensions[0] != 1
            && (contract.Kind == ContractKind.DenseV1
                ? !DenseMaps(contract).Any(m => session.OutputMetadata.TryGetValue(m.Name, out var meta) && meta.Dimensions is [1, ..])
                : session.OutputMetadata.ContainsKey(InstancesOutputs.BatchIndex));
        return (name, batchable);
    }

    /// <summary>The dense/v1 maps the decoder reads (keypoint_offset optional), each [N,C,h,w] with these channels.</summary>
    private static (string Name, int Channels)[] DenseMaps(ModelContract contract) =>
    [
        (DenseOutputs.Capillary, 1), (DenseOutputs.Center, 1), (DenseOutputs.Offset, 2), (DenseOutputs.Keypoints, KeypointNames.Count),
        (DenseOutputs.Radius, 1), (DenseOutputs.ClassLogits, contract.ClassNames.Count), (DenseOutputs.KeypointOffset, 2 * KeypointNames.Count),
    ];

    /// <summary>
    /// Each dense map's rank and channels, as far as the graph states them (-1: decided at run time): an export whose
    /// class_logits disagree with nfc.classes is refused here, not image by image at run time.
    /// </summary>
    private static void ValidateDenseShapes(IReadOnlyDictionary<string, NodeMetadata> outputs, ModelContract contract, List<string> problems)
    {
        foreach (var (output, channels) in DenseMaps(contract))
        {
            if (!outputs.TryGetValue(output, out var meta) || meta.Dimensions.Length == 0) continue;   // missing: said above; no shape: unknown
            if (meta.Dimensions.Length != 4 || meta.Dimensions[1] is var c && c >= 0 && c != channels)
                problems.Add($"dense/v1 output '{output}' must be [N,{channels},h,w], got [{string.Join(",", meta.Dimensions)}]" +
                    (output == DenseOutputs.ClassLogits ? $" ({ModelMetadataKeys.Classes} names {channels} classes)" : ""));
        }
    }

    /// <summary>Required outputs with their element type and shape (-1: any size); batch_index is optional.</summary>
    private static void ValidateInstancesOutputs(IReadOnlyDictionary<string, NodeMetadata> outputs, List<string> problems)
    {
        (string Name, int[] Shape, bool Integer)[] expected =
        [
            (InstancesOutputs.Boxes, [-1, 4], false), (InstancesOutputs.Scores, [-1], false), (InstancesOutputs.Labels, [-1], true),
            (InstancesOutputs.Masks, [-1, 1, -1, -1], false), (InstancesOutputs.Keypoints, [-1, KeypointNames.Count, 3], false),
            (InstancesOutputs.BatchIndex, [-1], true),
        ];
        foreach (var (output, shape, integer) in expected)
        {
            if (!outputs.TryGetValue(output, out var meta))
            {
                if (output != InstancesOutputs.BatchIndex)
                    problems.Add($"instances/v1 output '{output}' is missing (outputs: {string.Join(", ", outputs.Keys)})");
                continue;
            }
            bool typeOk = integer ? meta.ElementType == typeof(long) || meta.ElementType == typeof(int) : meta.ElementType == typeof(float);
            bool shapeOk = meta.Dimensions.Length == shape.Length && shape.Zip(meta.Dimensions).All(p => p.First < 0 || p.Second < 0 || p.First == p.Second);
            if (!typeOk || !shapeOk)
                problems.Add($"instances/v1 output '{output}' must be {(integer ? "int64" : "float32")} [{string.Join(",", shape.Select(d => d < 0 ? "?" : d.ToString()))}], got {meta}");
        }
    }

    // The run gate is left to the GC (it holds no wait handle): disposed here, a run still finishing threw from its
    // Release, and runs waiting at the gate never completed.
    public void Dispose() => Session.Dispose();
}
