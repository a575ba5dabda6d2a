using System.Security.Cryptography;
using NfcPipeline.Inference;
using NfcPipeline.Inference.Engine;

namespace NfcPipeline.Inference.Tests.Engine;

/// <summary>A model's hash names its results, so it must be of the bytes its session was opened from.</summary>
public class LoadedModelHashTests
{
    private sealed class Opened(byte[] sha) : IDisposable
    {
        public byte[] Sha { get; } = sha;
        public bool Disposed { get; private set; }
        public void Dispose() => Disposed = true;
    }

    private static Func<byte[]> Hashes(params byte[] firstBytes)
    {
        int call = 0;
        return () => [firstBytes[Math.Min(call++, firstBytes.Length - 1)]];
    }

    [Fact]
    public void An_unchanged_file_opens_once_with_its_hash()
    {
        var opened = new List<Opened>();
        var model = LoadedModel.LoadUnchanged(Hashes(7), sha => { var o = new Opened(sha); opened.Add(o); return o; }, "m.onnx");

        Assert.Equal(new byte[] { 7 }, model.Sha);
        Assert.Single(opened);
        Assert.False(model.Disposed);
    }

    [Fact]
    public void A_file_replaced_while_opening_is_opened_again_and_named_by_the_new_hash()
    {
        var opened = new List<Opened>();
        var model = LoadedModel.LoadUnchanged(Hashes(1, 2, 2), sha => { var o = new Opened(sha); opened.Add(o); return o; }, "m.onnx");

        Assert.Equal(new byte[] { 2 }, model.Sha);
        Assert.Equal(2, opened.Count);
        Assert.True(opened[0].Disposed);
        Assert.False(opened[1].Disposed);
    }

    [Fact]
    public void A_file_that_keeps_changing_fails_by_name_and_leaves_no_session_open()
    {
        var opened = new List<Opened>();
        var error = Assert.Throws<IOException>(() => LoadedModel.LoadUnchanged(Hashes(1, 2, 3, 4, 5),
            sha => { var o = new Opened(sha); opened.Add(o); return o; }, "m.onnx"));

        Assert.Contains("m.onnx changed while it was loading (3 tries)", error.Message);
        Assert.Equal(3, opened.Count);
        Assert.All(opened, o => Assert.True(o.Disposed));
    }

    [Fact]
    public void A_file_gone_after_opening_fails_and_closes_the_session()
    {
        var opened = new List<Opened>();
        int call = 0;
        Assert.Throws<FileNotFoundException>(() => LoadedModel.LoadUnchanged(
            () => call++ == 0 ? [1] : throw new FileNotFoundException("gone"),
            sha => { var o = new Opened(sha); opened.Add(o); return o; }, "m.onnx"));

        Assert.True(Assert.Single(opened).Disposed);
    }

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", name);

    [Fact]
    public void A_model_without_external_data_is_named_by_its_bytes_alone()
    {
        using var model = LoadedModel.Load(new InferenceOptions { ModelPath = Fixture("dense_colour.onnx") });

        Assert.Equal(SHA256.HashData(File.ReadAllBytes(Fixture("dense_colour.onnx"))), model.Sha256);
        Assert.Empty(ModelIdentity.ExternalDataLocations(File.ReadAllBytes(Fixture("dense_colour.onnx"))));
    }

    [Fact]
    public void Weights_kept_in_an_external_file_are_part_of_the_model_identity()
    {
        var folder = Directory.CreateTempSubdirectory("nfc-external-");
        try
        {
            var onnx = Path.Combine(folder.FullName, "dense_colour_external.onnx");
            var data = onnx + ".data";
            File.Copy(Fixture("dense_colour_external.onnx"), onnx);
            File.Copy(Fixture("dense_colour_external.onnx.data"), data);
            Assert.Equal(["dense_colour_external.onnx.data"], ModelIdentity.ExternalDataLocations(File.ReadAllBytes(onnx)));

            byte[] before;
            using (var model = LoadedModel.Load(new InferenceOptions { ModelPath = onnx }))
            {
                before = model.Sha256;
                Assert.NotEqual(SHA256.HashData(File.ReadAllBytes(onnx)), before);
            }
            // Retrained weights under the same graph: another model, whose results are not the old one's.
            var weights = File.ReadAllBytes(data);
            weights[^1] ^= 0x40;
            File.WriteAllBytes(data, weights);
            using (var model = LoadedModel.Load(new InferenceOptions { ModelPath = onnx }))
                Assert.NotEqual(before, model.Sha256);
            Assert.NotEqual(before, ModelIdentity.Hash(onnx));

            File.Delete(data);
            var missing = Assert.Throws<FileNotFoundException>(() => ModelIdentity.Hash(onnx));
            Assert.Contains("keeps weights in 'dense_colour_external.onnx.data', which is not beside it", missing.Message);
        }
        finally { folder.Delete(recursive: true); }
    }

    [Theory]
    [InlineData("/dev/./././././././././././zero", "outside its folder")]   // absolute: hashed for ever
    [InlineData("../nfc-weights-outside-its.data", "outside its folder")]
    [InlineData("dense_colour_external.onnx.data", "not a regular file")]   // a link to /dev/zero beside the model
    public void External_data_outside_the_model_folder_or_not_a_regular_file_is_refused_unread(string location, string reason)
    {
        var folder = Directory.CreateTempSubdirectory("nfc-external-");
        try
        {
            // The fixture's location (each tensor's), rewritten in place at the same length, so the protobuf around it still parses.
            var bytes = File.ReadAllBytes(Fixture("dense_colour_external.onnx"));
            var from = System.Text.Encoding.ASCII.GetBytes("dense_colour_external.onnx.data");
            Assert.Equal(from.Length, location.Length);
            for (int at; location != "dense_colour_external.onnx.data" && (at = bytes.AsSpan().IndexOf(from)) >= 0;)
                System.Text.Encoding.ASCII.GetBytes(location).CopyTo(bytes, at);
            var onnx = Path.Combine(folder.FullName, "model.onnx");
            File.WriteAllBytes(onnx, bytes);
            Assert.Equal([location], ModelIdentity.ExternalDataLocations(bytes));
            if (reason == "not a regular file") File.CreateSymbolicLink(Path.Combine(folder.FullName, location), "/dev/zero");
            else File.Copy(Fixture("dense_colour_external.onnx.data"), Path.Combine(folder.Parent!.FullName, "nfc-weights-outside-its.data"), overwrite: true);

            var error = Assert.Throws<InvalidDataException>(() => ModelIdentity.Hash(onnx));
            Assert.Contains($"keeps weights in '{location}', {(reason == "outside its folder" ? "outside its folder" : "which is not a regular file")}", error.Message);
        }
        finally
        {
            folder.Delete(recursive: true);
            File.Delete(Path.Combine(folder.Parent!.FullName, "nfc-weights-outside-its.data"));
        }
    }
}
