using Xunit.Abstractions;

namespace NfcPipeline.OnnxRuntime.Tests;

[CollectionDefinition(nameof(LeakTests), DisableParallelization = true)]
public sealed class LeakTestsCollection;

/// <summary>Runs alone, so other tests' allocations do not move the resident set size it measures.</summary>
[Collection(nameof(LeakTests))]
public sealed class LeakTests(ITestOutputHelper output)
{
    [Fact]
    public void Ten_thousand_runs_keep_the_resident_set_within_five_percent()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"), new SessionOptions { IntraOpNumThreads = 1 });
        var a = new float[4 * 3];
        var b = new float[4 * 3];
        for (int i = 0; i < a.Length; i++) { a[i] = i; b[i] = 2; }

        void RunOnce()
        {
            // Every native object of a run: two input values, two outputs, type-and-shape info, statuses.
            using var va = OrtValue.CreateTensorValueFromMemory(a, [4, 3]);
            using var vb = OrtValue.CreateTensorValueFromMemory(b, [4, 3]);
            using var outputs = session.Run(null, ["a", "b"], [va, vb]);
            if (outputs[1].GetTensorDataAsSpan<float>()[5] != 10f) throw new InvalidOperationException("wrong product");
            _ = outputs[0].GetTensorTypeAndShape();
        }

        // Warm-up: within the first few thousand runs the JIT recompiles hot code and the GC grows its allocation
        // budget, which adds a few MB once; measured here, RSS then stays flat for tens of thousands of runs.
        for (int i = 0; i < 5_000; i++) RunOnce();
        long before = ResidentBytes();
        for (int i = 0; i < 10_000; i++) RunOnce();
        long after = ResidentBytes();

        double change = (after - before) / (double)before;
        output.WriteLine($"RSS after 5,000 warm-up runs: {before / 1024} KiB; after 10,000 more: {after / 1024} KiB ({change:+0.00%;-0.00%})");
        Assert.InRange(change, -0.05, 0.05);
    }

    private static long ResidentBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // Aggressive also hands back the memory the GC keeps for its allocation budget, which otherwise reads as growth.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        // /proc/self/statm: size resident shared text lib data dt, in pages.
        var fields = File.ReadAllText("/proc/self/statm").Split(' ');
        return long.Parse(fields[1]) * Environment.SystemPageSize;
    }
}
