using NfcPipeline.Imaging;

namespace NfcPipeline.Inference.Preprocessing;

/// <summary>A CHW float32 tensor from <see cref="Scratch"/> (pooled when small); dispose it to give the memory back.</summary>
public sealed class TensorBuffer : IDisposable
{
    private float[]? _array;

    public TensorBuffer(int channels, int height, int width)
    {
        Channels = channels; Height = height; Width = width;
        _array = Scratch.Rent<float>(checked(channels * height * width));
    }

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Length => Channels * Height * Width;

    public Span<float> Span => (_array ?? throw new ObjectDisposedException(nameof(TensorBuffer))).AsSpan(0, Length);
    public Memory<float> Memory => (_array ?? throw new ObjectDisposedException(nameof(TensorBuffer))).AsMemory(0, Length);

    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, null);
        if (array is not null) Scratch.Return(array);
    }
}
