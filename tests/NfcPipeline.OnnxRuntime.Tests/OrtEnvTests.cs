namespace NfcPipeline.OnnxRuntime.Tests;

public sealed class OrtEnvTests
{
    [Fact]
    public void Instance_is_one_per_process()
    {
        Assert.Same(OrtEnv.Instance(), OrtEnv.Instance());
        Assert.Same(OrtEnv.Instance(), OrtEnv.CreateInstanceWithOptions(new EnvironmentCreationOptions()));
    }

    [Fact]
    public void Reports_the_loaded_library_and_its_version()
    {
        var env = OrtEnv.Instance();

        Assert.True(File.Exists(env.LibraryPath));
        Assert.Matches(@"^1\.\d+\.\d+", env.GetVersionString());
    }

    [Fact]
    public void Available_providers_include_the_cpu()
    {
        var providers = OrtEnv.Instance().GetAvailableProviders();

        Assert.Contains(ExecutionProviders.Cpu, providers);
    }

    [Fact]
    public void Switching_to_another_library_after_loading_is_refused()
    {
        OrtEnv.Instance();
        var other = Path.Combine(Path.GetTempPath(), $"other-{Guid.NewGuid():N}.so");
        File.WriteAllBytes(other, [1, 2, 3]);
        try
        {
            Assert.Throws<InvalidOperationException>(() =>
                OrtEnv.CreateInstanceWithOptions(new EnvironmentCreationOptions { LibraryPath = other }));
        }
        finally
        {
            File.Delete(other);
        }
    }
}
