namespace NfcPipeline.OnnxRuntime.Tests;

public sealed class OrtLibraryResolverTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("nfc-ort-resolver-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string MakeLibrary(string relativePath)
    {
        var path = Path.Combine(_root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [0x7f, (byte)'E', (byte)'L', (byte)'F']);
        return path;
    }

    [Fact]
    public void Explicit_path_wins_over_the_environment_variable_and_the_default()
    {
        var explicitPath = MakeLibrary("explicit/libonnxruntime.so.1");
        var fromEnvironment = MakeLibrary("env/libonnxruntime.so.1");
        MakeLibrary(OrtLibraryResolver.DefaultRelativePath);

        Assert.Equal(explicitPath, OrtLibraryResolver.Resolve(explicitPath, fromEnvironment, [_root]));
    }

    [Fact]
    public void Environment_variable_wins_over_the_default()
    {
        var fromEnvironment = MakeLibrary("env/libonnxruntime.so.1");
        MakeLibrary(OrtLibraryResolver.DefaultRelativePath);

        Assert.Equal(fromEnvironment, OrtLibraryResolver.Resolve(null, fromEnvironment, [_root]));
    }

    [Fact]
    public void Default_is_found_in_a_parent_of_the_start_directory()
    {
        var library = MakeLibrary(OrtLibraryResolver.DefaultRelativePath);
        var nested = Directory.CreateDirectory(Path.Combine(_root, "tests", "bin", "Debug", "net10.0")).FullName;

        Assert.Equal(library, OrtLibraryResolver.Resolve(null, null, [nested]));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // file modes
    public void A_library_under_a_folder_every_account_may_write_to_is_passed_over()
    {
        // As /tmp/.local/native/libonnxruntime.so.1 would be for a program started below /tmp: anyone's.
        var shared = Directory.CreateDirectory(Path.Combine(_root, "shared")).FullName;
        var planted = MakeLibrary("shared/" + OrtLibraryResolver.DefaultRelativePath);
        File.SetUnixFileMode(shared, (UnixFileMode)0b111_111_111 | UnixFileMode.StickyBit);
        var start = Directory.CreateDirectory(Path.Combine(shared, "work")).FullName;

        var ex = Assert.Throws<OrtLibraryNotFoundException>(() => OrtLibraryResolver.Resolve(null, null, [start]));
        Assert.Contains($"passed over, in a folder other accounts may write to: {planted}", ex.Message);

        // The walk goes on above it: the repository's own library is still found.
        var library = MakeLibrary(OrtLibraryResolver.DefaultRelativePath);
        Assert.Equal(library, OrtLibraryResolver.Resolve(null, null, [start]));

        // A folder of its own that only its owner may write to is taken.
        File.SetUnixFileMode(shared, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(planted, OrtLibraryResolver.Resolve(null, null, [start]));
    }

    [Fact]
    public void Missing_explicit_path_names_the_fix_and_does_not_fall_back()
    {
        MakeLibrary(OrtLibraryResolver.DefaultRelativePath);
        var missing = Path.Combine(_root, "nowhere", "libonnxruntime.so.1");

        var ex = Assert.Throws<OrtLibraryNotFoundException>(() => OrtLibraryResolver.Resolve(missing, null, [_root]));

        Assert.Contains(missing, ex.Message);
        Assert.Contains("run ops/native.sh or set NFC_ORT_LIBRARY", ex.Message);
    }

    [Fact]
    public void Missing_environment_path_names_the_variable_and_the_fix()
    {
        var missing = Path.Combine(_root, "gone.so");

        var ex = Assert.Throws<OrtLibraryNotFoundException>(() => OrtLibraryResolver.Resolve(null, missing, [_root]));

        Assert.Contains("NFC_ORT_LIBRARY", ex.Message);
        Assert.Contains("run ops/native.sh or set NFC_ORT_LIBRARY", ex.Message);
    }

    [Fact]
    public void Nothing_found_anywhere_names_the_fix()
    {
        var ex = Assert.Throws<OrtLibraryNotFoundException>(() => OrtLibraryResolver.Resolve(null, null, [_root]));

        Assert.Contains(OrtLibraryResolver.DefaultRelativePath, ex.Message);
        Assert.Contains("run ops/native.sh or set NFC_ORT_LIBRARY", ex.Message);
    }

    [Fact]
    public void The_environment_loads_the_library_the_resolver_picks_for_this_process()
    {
        // From the repository's .local/native (ops/native.sh), or from NFC_ORT_LIBRARY where that is set.
        var expected = OrtLibraryResolver.Resolve();

        Assert.Equal(expected, OrtEnv.Instance().LibraryPath);
        Assert.True(File.Exists(expected));
    }
}
