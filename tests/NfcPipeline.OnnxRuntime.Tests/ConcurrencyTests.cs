namespace NfcPipeline.OnnxRuntime.Tests;

public sealed class ConcurrencyTests
{
    [Fact]
    public void Many_threads_running_one_session_each_get_their_own_results()
    {
        const int threads = 8, runsPerThread = 250;
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"),
            new SessionOptions { IntraOpNumThreads = 1 });
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        int completed = 0;

        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            for (int run = 0; run < runsPerThread; run++)
            {
                int batch = 1 + (t + run) % 4;
                var a = new float[batch * 3];
                var b = new float[batch * 3];
                for (int i = 0; i < a.Length; i++) { a[i] = t * 1000 + run + i; b[i] = i + 1; }
                using var va = Fixtures.Tensor(a, batch, 3);
                using var vb = Fixtures.Tensor(b, batch, 3);
                using var outputs = session.Run(null, ["a", "b"], [va, vb]);
                var sum = outputs[0].GetTensorDataAsSpan<float>();
                var product = outputs[1].GetTensorDataAsSpan<float>();
                for (int i = 0; i < a.Length; i++)
                {
                    if (sum[i] != a[i] + b[i] || product[i] != a[i] * b[i])
                    {
                        failures.Add($"thread {t} run {run} element {i}: {sum[i]}, {product[i]}");
                        break;
                    }
                }
                if (outputs[0].GetTensorTypeAndShape().Shape[0] != batch) failures.Add($"thread {t} run {run}: wrong batch");
                Interlocked.Increment(ref completed);
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        Assert.Empty(failures);
        Assert.Equal(threads * runsPerThread, completed);
    }
}
