using System.Text.Json;

namespace NfcPipeline.OnnxRuntime;

/// <summary>One operator type's share of a profiled session: its kernels' summed time over all runs.</summary>
public sealed record OperatorTime(string OpType, int Nodes, int Calls, TimeSpan Total);

/// <summary>
/// The per-operator summary of a trace written by ORT's profiler (<see cref="SessionOptions.ProfileFilePrefix"/>):
/// a Chrome trace whose "Session" events named model_run time whole runs and whose "Node" events named
/// NODE_kernel_time time each kernel, with the operator type in args.op_name.
/// </summary>
public sealed record OrtProfile(int Runs, TimeSpan RunTime, IReadOnlyList<OperatorTime> Operators)
{
    /// <summary>Kernel time over all runs, all operators.</summary>
    public TimeSpan KernelTime => TimeSpan.FromTicks(Operators.Sum(o => o.Total.Ticks));

    /// <summary>Reads a trace; operators are ordered by total time, largest first.</summary>
    /// <exception cref="InvalidDataException">The file is not an ORT profile trace.</exception>
    public static OrtProfile Read(string path)
    {
        using var stream = File.OpenRead(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(stream);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}' is not an ONNX Runtime profile: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"'{path}' is not an ONNX Runtime profile: expected a JSON array of trace events.");
            int runs = 0;
            long runMicroseconds = 0;
            var byType = new Dictionary<string, Tally>(StringComparer.Ordinal);
            foreach (var e in document.RootElement.EnumerateArray())
            {
                string? category = Text(e, "cat"), name = Text(e, "name");
                long duration = e.TryGetProperty("dur", out var d) && d.TryGetInt64(out var us) ? us : 0;
                if (category == "Session" && name == "model_run")
                {
                    runs++;
                    runMicroseconds += duration;
                }
                else if (category == "Node" && name is not null && name.EndsWith("_kernel_time", StringComparison.Ordinal)
                         && e.TryGetProperty("args", out var args) && Text(args, "op_name") is { } op)
                {
                    if (!byType.TryGetValue(op, out var tally)) byType[op] = tally = new Tally();
                    tally.Nodes.Add(name);
                    tally.Calls++;
                    tally.Microseconds += duration;
                }
            }

            var operators = byType
                .Select(kv => new OperatorTime(kv.Key, kv.Value.Nodes.Count, kv.Value.Calls, TimeSpan.FromMicroseconds(kv.Value.Microseconds)))
                .OrderByDescending(o => o.Total).ThenBy(o => o.OpType, StringComparer.Ordinal).ToList();
            return new OrtProfile(runs, TimeSpan.FromMicroseconds(runMicroseconds), operators);
        }
    }

    private sealed class Tally
    {
        public HashSet<string> Nodes { get; } = new(StringComparer.Ordinal);
        public int Calls { get; set; }
        public long Microseconds { get; set; }
    }

    private static string? Text(JsonElement e, string property) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
