using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NfcPipeline.OnnxRuntime.Tests;

public sealed class TensorTests
{
    [Fact]
    public void Float_inputs_give_sum_and_product_with_their_shapes()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        using var a = Fixtures.Tensor(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var b = Fixtures.Tensor(new float[] { 10, 20, 30, 40, 50, 60 }, 2, 3);

        using var outputs = session.Run(null, ["a", "b"], [a, b]);

        Assert.Equal(2, outputs.Count);
        Assert.Equal([11f, 22, 33, 44, 55, 66], outputs[0].GetTensorDataAsSpan<float>().ToArray());
        Assert.Equal([10f, 40, 90, 160, 250, 360], outputs[1].GetTensorDataAsSpan<float>().ToArray());
        var info = outputs[1].GetTensorTypeAndShape();
        Assert.Equal(TensorElementType.Float, info.ElementDataType);
        Assert.Equal([2L, 3L], info.Shape);
        Assert.Equal(6, info.ElementCount);
        Assert.True(outputs[0].IsTensor);
        Assert.Equal(OnnxValueType.ONNX_TYPE_TENSOR, outputs[0].OnnxType);
    }

    [Fact]
    public void Editing_a_returned_shape_cannot_widen_the_span_over_the_tensor()
    {
        // The shape was the cached array the span's length came from: a caller's edit read past ORT's buffer.
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        using var a = Fixtures.Tensor(new float[] { 1, 2, 3 }, 1, 3);
        using var b = Fixtures.Tensor(new float[] { 4, 5, 6 }, 1, 3);
        using var outputs = session.Run(null, ["a", "b"], [a, b]);

        outputs[0].GetTensorTypeAndShape().Shape[0] = 4;

        Assert.Equal([1L, 3L], outputs[0].GetTensorTypeAndShape().Shape);
        Assert.Equal(3, outputs[0].GetTensorDataAsSpan<float>().Length);
        a.GetTensorTypeAndShape().Shape[1] = 1000;
        Assert.Equal(3, a.GetTensorMutableDataAsSpan<float>().Length);
    }

    [Fact]
    public void Requested_outputs_come_back_in_the_order_asked()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        using var a = Fixtures.Tensor(new float[] { 2, 3, 4 }, 1, 3);
        using var b = Fixtures.Tensor(new float[] { 5, 6, 7 }, 1, 3);

        using var outputs = session.Run(null, new Dictionary<string, OrtValue> { ["b"] = b, ["a"] = a }, ["product"]);

        var product = Assert.Single(outputs);
        Assert.Equal([10f, 18, 28], product.GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void Input_tensors_wrap_the_callers_buffer_without_copying()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        var data = new float[] { 1, 1, 1 };
        using var a = Fixtures.Tensor(data, 1, 3);
        using var b = Fixtures.Tensor(new float[] { 0, 0, 0 }, 1, 3);

        data[0] = 7; data[1] = 8; data[2] = 9;
        using var outputs = session.Run(null, ["a", "b"], [a, b], ["sum"]);

        Assert.Equal([7f, 8, 9], outputs[0].GetTensorDataAsSpan<float>().ToArray());
        Assert.Equal([7f, 8, 9], a.GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void An_input_disposed_while_a_run_holds_it_stays_pinned_until_the_native_value_is_released()
    {
        // Dispose unpinned the caller's memory at once, while a Run's lease kept the native value pointing into it: the
        // GC could move it under ORT. The pin now goes with the native value.
        using var memory = new CountingMemory(3);
        var value = OrtValue.CreateTensorValueFromMemory(memory.Memory, [1, 3]);
        var lease = value.Handle.Acquire();   // as InferenceSession.Run holds each input
        value.Dispose();
        Assert.Equal(0, memory.Unpins);
        lease.Dispose();
        Assert.Equal(1, memory.Unpins);
    }

    /// <summary>Memory over a pinned array that counts its unpins.</summary>
    private sealed unsafe class CountingMemory(int length) : System.Buffers.MemoryManager<float>
    {
        private readonly float[] _data = GC.AllocateArray<float>(length, pinned: true);
        public int Unpins { get; private set; }
        public override Span<float> GetSpan() => _data;
        public override System.Buffers.MemoryHandle Pin(int elementIndex = 0) =>
            new(System.Runtime.CompilerServices.Unsafe.AsPointer(ref _data[elementIndex]), default, this);
        public override void Unpin() => Unpins++;
        protected override void Dispose(bool disposing) { }
    }

    [Fact]
    public void Memory_slices_are_usable_as_tensors()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        var backing = new float[] { -1, 1, 2, 3, -1 };
        using var a = OrtValue.CreateTensorValueFromMemory(new Memory<float>(backing, 1, 3), [1, 3]);
        using var b = Fixtures.Tensor(new float[] { 1, 1, 1 }, 1, 3);

        using var outputs = session.Run(null, ["a", "b"], [a, b], ["sum"]);

        Assert.Equal([2f, 3, 4], outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void Int64_uint8_int32_and_bool_tensors_round_trip()
    {
        using var session = new InferenceSession(Fixtures.Path("mixed_types.onnx"));
        using var ids = Fixtures.Tensor(new long[] { 1, -2, 5_000_000_000 }, 3);
        using var pixels = Fixtures.Tensor(new byte[] { 0, 128, 255 }, 3);
        using var counts = Fixtures.Tensor(new int[] { 7, -8, 9 }, 3);
        using var flags = Fixtures.Tensor(new bool[] { true, false, true }, 3);

        using var outputs = session.Run(null, ["ids", "pixels", "counts", "flags"], [ids, pixels, counts, flags]);

        Assert.Equal([2L, -4, 10_000_000_000], outputs[0].GetTensorDataAsSpan<long>().ToArray());
        Assert.Equal([0f, 128, 255], outputs[1].GetTensorDataAsSpan<float>().ToArray());
        Assert.Equal([(byte)0, 128, 255], outputs[2].GetTensorDataAsSpan<byte>().ToArray());
        Assert.Equal([14, -16, 18], outputs[3].GetTensorDataAsSpan<int>().ToArray());
        Assert.Equal([false, true, false], outputs[4].GetTensorDataAsSpan<bool>().ToArray());
        Assert.Equal(TensorElementType.Bool, outputs[4].GetTensorTypeAndShape().ElementDataType);
    }

    [Fact]
    public unsafe void An_output_passing_an_input_through_is_a_copy_readable_after_the_inputs_are_disposed()
    {
        // The binding's inputs may be disposed before the outputs are read because ORT copies a passed-through input
        // (docs/onnxruntime-binding.md): were a later ORT to hand back the caller's buffer, this fails first.
        var session = new InferenceSession(Fixtures.Path("mixed_types.onnx"));
        var pixels = new byte[] { 3, 128, 255 };
        var inputs = new[]
        {
            Fixtures.Tensor(new long[] { 1, 2, 3 }, 3), Fixtures.Tensor(pixels, 3),
            Fixtures.Tensor(new int[] { 1, 2, 3 }, 3), Fixtures.Tensor(new bool[] { true, false, true }, 3),
        };
        var outputs = session.Run(null, ["ids", "pixels", "counts", "flags"], inputs, ["pixels_copy"]);
        fixed (byte* input = pixels)
            Assert.NotEqual((nint)input, (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(outputs[0].GetTensorDataAsSpan<byte>())));
        foreach (var input in inputs) input.Dispose();
        session.Dispose();
        for (int i = 0; i < 3; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }

        Assert.Equal(pixels, outputs[0].GetTensorDataAsSpan<byte>().ToArray());
        outputs.Dispose();
    }

    [Fact]
    public unsafe void A_graph_input_listed_as_an_output_is_the_callers_buffer_and_a_nodes_output_is_not()
    {
        // Why the binding's docs ask to keep such an input alive while its output is read.
        using var session = new InferenceSession(Fixtures.Path("passthrough.onnx"));
        var x = new float[] { -1, 2, -3, 4 };
        using var input = OrtValue.CreateTensorValueFromMemory(x, [1, 4]);

        using var outputs = session.Run(null, ["x"], [input], ["x", "y"]);

        fixed (float* buffer = x)
        {
            Assert.Equal((nint)buffer, (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(outputs[0].GetTensorDataAsSpan<float>())));
            Assert.NotEqual((nint)buffer, (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(outputs[1].GetTensorDataAsSpan<float>())));
        }
        Assert.Equal([0f, 2, 0, 4], outputs[1].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public unsafe void An_output_that_is_a_graph_input_keeps_the_inputs_array_pinned_after_the_input_is_disposed()
    {
        // Only the input's handle pinned the array: disposed (or finalised), the next compacting GC could move it under
        // the output, which then read stale memory.
        using var session = new InferenceSession(Fixtures.Path("passthrough.onnx"));
        var x = new float[] { -1, 2, -3, 4 };
        var input = OrtValue.CreateTensorValueFromMemory(x, [1, 4]);
        using var outputs = session.Run(null, ["x"], [input], ["x"]);
        var before = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(outputs[0].GetTensorDataAsSpan<float>()));
        input.Dispose();

        for (int i = 0; i < 3; i++)
        {
            _ = new byte[1 << 16];
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        fixed (float* now = x) Assert.Equal(before, (nint)now);   // not moved: still pinned
        Assert.Equal([-1f, 2, -3, 4], outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Theory]
    [InlineData(1, 4, 5)]
    [InlineData(2, 7, 3)]
    [InlineData(3, 16, 24)]
    public void Conv_model_accepts_any_batch_height_and_width(int n, int h, int w)
    {
        using var session = new InferenceSession(Fixtures.Path("conv.onnx"));
        var image = new float[n * 3 * h * w];
        var random = new Random(n * 1000 + h * 10 + w);
        for (int i = 0; i < image.Length; i++) image[i] = (float)(random.NextDouble() * 2 - 0.5);
        using var input = Fixtures.Tensor(image, n, 3, h, w);

        using var outputs = session.Run(null, ["image"], [input]);

        var features = outputs[0];
        Assert.Equal([(long)n, 2, h, w], features.GetTensorTypeAndShape().Shape);
        var expected = ReferenceConv(image, n, h, w);
        var actual = features.GetTensorDataAsSpan<float>();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 4);
    }

    /// <summary>What conv.onnx computes: channel 0 = mean of the zero-padded 3x3x3 neighbourhood, channel 1 = input channel 0 + 0.5, then Relu.</summary>
    private static float[] ReferenceConv(float[] image, int n, int h, int w)
    {
        var result = new float[n * 2 * h * w];
        for (int b = 0; b < n; b++)
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            double sum = 0;
            for (int c = 0; c < 3; c++)
            for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
            {
                int yy = y + dy, xx = x + dx;
                if (yy >= 0 && yy < h && xx >= 0 && xx < w) sum += image[((b * 3 + c) * h + yy) * w + xx];
            }
            result[((b * 2 + 0) * h + y) * w + x] = (float)Math.Max(0, sum / 27);
            result[((b * 2 + 1) * h + y) * w + x] = Math.Max(0, image[((b * 3 + 0) * h + y) * w + x] + 0.5f);
        }
        return result;
    }

    [Fact]
    public void Shape_that_does_not_match_the_buffer_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => OrtValue.CreateTensorValueFromMemory(new float[5], [2, 3]));

        Assert.Contains("6 elements", ex.Message);
    }

    [Fact]
    public void A_shape_whose_product_overflows_is_rejected_not_wrapped_to_zero()
    {
        // 2^32 × 2^32 wrapped to 0 elements, which an empty memory matched.
        var ex = Assert.Throws<ArgumentException>(() => OrtValue.CreateTensorValueFromMemory(Memory<float>.Empty, [1L << 32, 1L << 32]));

        Assert.Contains("more elements than a tensor can", ex.Message);
        using var empty = OrtValue.CreateTensorValueFromMemory(Memory<float>.Empty, [0, 1L << 40]);   // zero of anything: empty
    }

    [Fact]
    public void Reading_a_tensor_as_the_wrong_type_is_rejected()
    {
        using var value = Fixtures.Tensor(new long[] { 1, 2 }, 2);

        var ex = Assert.Throws<InvalidOperationException>(() => value.GetTensorDataAsSpan<float>().Length);

        Assert.Contains("Int64", ex.Message);
    }
}
