using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using System.Text;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// The content hash that names a model in results. An ONNX file may keep its weights in other files beside it (external
/// data, as exports over 2 GB must): the hash then covers those files too, so retrained weights under an unchanged
/// graph are another model. A file without external data hashes as its bytes alone.
/// </summary>
public static class ModelIdentity
{
    public static unsafe byte[] Hash(string modelPath)
    {
        using var file = File.OpenHandle(modelPath);
        long size = RandomAccess.GetLength(file);
        if (size == 0) return SHA256.HashData(ReadOnlySpan<byte>.Empty);
        if (size > int.MaxValue)   // over protobuf's limit: not a model ORT loads, whose error says so
        {
            using var stream = new FileStream(file, FileAccess.Read);
            return SHA256.HashData(stream);
        }
        // Mapped, not read into an array: a model without external data may be up to 2 GB.
        using var map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        using var view = map.CreateViewAccessor(0, size, MemoryMappedFileAccess.Read);
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        try
        {
            var model = new ReadOnlySpan<byte>(start + view.PointerOffset, (int)size);
            var locations = ExternalDataLocations(model);
            return locations.Count == 0 ? SHA256.HashData(model) : WithExternalData(model, locations, modelPath);
        }
        finally { view.SafeMemoryMappedViewHandle.ReleasePointer(); }
    }

    private static byte[] WithExternalData(ReadOnlySpan<byte> model, IReadOnlySet<string> locations, string modelPath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(model);
        foreach (var location in locations.Order(StringComparer.Ordinal))
        {
            // As the model names it, so checked before anything is read: an absolute path or one leading out of the
            // model's folder (ONNX Runtime reads external data beside the model only) would hash any file, and
            // /dev/zero, or a FIFO, for ever.
            var file = Path.GetFullPath(Path.Combine(directory, location));
            if (Path.IsPathRooted(location) || !file.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal))
                throw new InvalidDataException($"Model {Path.GetFileName(modelPath)} keeps weights in '{location}', outside its folder; refused.");
            if (!File.Exists(file))
                throw new FileNotFoundException($"Model {Path.GetFileName(modelPath)} keeps weights in '{location}', which is not beside it.", file);
            if (!NfcPipeline.Imaging.FileTypes.IsRegularFileOrUnknown(file))
                throw new InvalidDataException($"Model {Path.GetFileName(modelPath)} keeps weights in '{location}', which is not a regular file (a FIFO, socket or device); refused.");
            hash.AppendData(Encoding.UTF8.GetBytes($"\0external:{location}\0{new FileInfo(file).Length}\0"));
            using var stream = File.OpenRead(file);
            hash.AppendData(SHA256.HashData(stream));
        }
        return hash.GetHashAndReset();
    }

    // onnx.proto field numbers of the messages that can hold tensors, and of the tensor's external data.
    private enum Message { Model, Graph, Node, Attribute, Function, Training, Tensor, Sparse }

    private static Message? Child(Message parent, int field) => (parent, field) switch
    {
        (Message.Model, 7) => Message.Graph, (Message.Model, 20) => Message.Training, (Message.Model, 25) => Message.Function,
        (Message.Training, 1 or 2) => Message.Graph,
        (Message.Function, 7) => Message.Node,
        (Message.Graph, 1) => Message.Node, (Message.Graph, 5) => Message.Tensor, (Message.Graph, 15) => Message.Sparse,
        (Message.Node, 5) => Message.Attribute,
        (Message.Attribute, 5 or 10) => Message.Tensor, (Message.Attribute, 6 or 11) => Message.Graph,
        (Message.Attribute, 22 or 23) => Message.Sparse,
        (Message.Sparse, 1 or 2) => Message.Tensor,
        _ => null,
    };

    private const int TensorExternalData = 13, TensorDataLocation = 14, DataLocationExternal = 1, MaxDepth = 64;

    /// <summary>
    /// The files the model's tensors name as their external data (relative to the model's folder). Bytes that do not
    /// parse end the scan: the session's own load reports what is wrong with them.
    /// </summary>
    public static IReadOnlySet<string> ExternalDataLocations(ReadOnlySpan<byte> model)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        Walk(model, Message.Model, 0, found);
        return found;
    }

    private static bool Walk(ReadOnlySpan<byte> bytes, Message type, int depth, HashSet<string> found)
    {
        if (depth > MaxDepth) return false;
        string? location = null;
        bool external = false;
        int at = 0;
        while (at < bytes.Length)
        {
            if (!TryVarint(bytes, ref at, out var tag)) return false;
            int field = (int)(tag >> 3);
            switch ((int)(tag & 7))
            {
                case 0:
                    if (!TryVarint(bytes, ref at, out var value)) return false;
                    if (type == Message.Tensor && field == TensorDataLocation) external = value == DataLocationExternal;
                    break;
                case 1: at += 8; break;
                case 5: at += 4; break;
                case 2:
                    if (!TryVarint(bytes, ref at, out var length) || length > (ulong)(bytes.Length - at)) return false;
                    var body = bytes.Slice(at, (int)length);
                    at += (int)length;
                    if (type == Message.Tensor && field == TensorExternalData && Entry(body) is ("location", var name)) location = name;
                    else if (Child(type, field) is { } child && !Walk(body, child, depth + 1, found)) return false;
                    break;
                default: return false;   // groups are not used by onnx.proto
            }
        }
        if (at > bytes.Length) return false;
        if (external && location is not null) found.Add(location);
        return true;
    }

    /// <summary>A StringStringEntryProto's key and value (fields 1 and 2).</summary>
    private static (string? Key, string? Value) Entry(ReadOnlySpan<byte> bytes)
    {
        string? key = null, value = null;
        int at = 0;
        while (at < bytes.Length && TryVarint(bytes, ref at, out var tag) && (tag & 7) == 2
               && TryVarint(bytes, ref at, out var length) && length <= (ulong)(bytes.Length - at))
        {
            var text = Encoding.UTF8.GetString(bytes.Slice(at, (int)length));
            at += (int)length;
            if (tag >> 3 == 1) key = text;
            else if (tag >> 3 == 2) value = text;
        }
        return (key, value);
    }

    private static bool TryVarint(ReadOnlySpan<byte> bytes, ref int at, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && at < bytes.Length; shift += 7)
        {
            byte b = bytes[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
