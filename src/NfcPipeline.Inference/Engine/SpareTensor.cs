using NfcPipeline.Imaging;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// A batch input tensor kept for the executor's next batch of the same size. Large ones come from <see cref="Scratch"/>
/// at their exact size, not pooled; without this, every batch of a steady run allocated tens of MB anew on the
/// large-object heap. At most one is kept, the latest returned.
/// </summary>
internal sealed class SpareTensor
{
    private float[]? _spare;

    public float[] Rent(int length)
    {
        var spare = Interlocked.Exchange(ref _spare, null);
        return spare is not null && spare.Length == length ? spare : Scratch.Rent<float>(length);
    }

    public void Return(float[] array)
    {
        if (Scratch.IsPooled<float>(array.Length)) Scratch.Return(array);
        else Volatile.Write(ref _spare, array);   // an older spare, of another size, goes to the collector
    }
}
