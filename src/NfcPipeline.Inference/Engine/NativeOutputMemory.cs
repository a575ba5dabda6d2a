using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NfcPipeline.Inference.Decoding;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// Exposes ORT's output buffers as <see cref="Memory{T}"/> without copying them (tens of MB per image for dense
/// maps). Valid only while the run's result collection is alive: decode inside its using block.
/// </summary>
internal sealed unsafe class NativeOutputMemory(float* pointer, int length) : MemoryManager<float>
{
    public override Span<float> GetSpan() => new(pointer, length);
    public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);
    public override void Unpin() { }
    protected override void Dispose(bool disposing) { }

    public static List<NamedTensor> Wrap(IReadOnlyList<OrtValue> results, IReadOnlyList<string> names)
    {
        var tensors = new List<NamedTensor>(results.Count);
        for (int i = 0; i < results.Count; i++)
            tensors.Add(new NamedTensor(names[i], Of(results[i]), results[i].GetTensorTypeAndShape().Shape));
        return tensors;
    }

    /// <summary>One float output's buffer, valid while <paramref name="value"/> is alive.</summary>
    public static Memory<float> Of(OrtValue value)
    {
        var span = value.GetTensorDataAsSpan<float>();
        var pointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span));
        return new NativeOutputMemory(pointer, span.Length).Memory;
    }
}
