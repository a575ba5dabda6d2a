using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.IntegrationTests;

public class ServicesScriptTests
{
    [Fact]
    public void A_service_failure_names_where_it_looked_without_the_password()
    {
        // CI keeps the test logs: the generated passwords stay out of them.
        Assert.Equal("amqp://127.0.0.1:35672/", TestServices.WithoutPassword("amqp://nfc:Secret1@127.0.0.1:35672/"));
        var pg = TestServices.WithoutPassword("Host=127.0.0.1;Port=35432;Database=postgres;Username=postgres;Password=Secret1");
        Assert.DoesNotContain("Secret1", pg);
        Assert.Contains("Port=35432", pg);
        Assert.DoesNotContain("Secret1", TestServices.Unavailable("RabbitMQ", "amqp://nfc:Secret1@127.0.0.1:35672/", new Exception("refused")).Message);
    }

    [Fact]
    public async Task Services_up_when_already_up_is_a_no_op()
    {
        var before = PidFiles();
        var first = await RunScriptAsync("up");
        var second = await RunScriptAsync("up");

        Assert.True(first.ExitCode == 0, $"first 'up' exited {first.ExitCode}: {first.Output}");
        Assert.True(second.ExitCode == 0, $"second 'up' exited {second.ExitCode}: {second.Output}");
        Assert.Contains("PostgreSQL already running", second.Output);
        Assert.Contains("RabbitMQ already running", second.Output);
        Assert.DoesNotContain("starting", second.Output);
        var after = PidFiles();
        Assert.All(before.Keys, k => Assert.Equal(before[k], after[k]));
    }

    private static async Task<bool> LockIsFreeAsync(string lockFile)
    {
        using var probe = Process.Start(new ProcessStartInfo("flock", ["-n", lockFile, "true"]))!;
        await probe.WaitForExitAsync();
        return probe.ExitCode == 0;
    }

    [Fact]
    public async Task An_up_waits_for_another_holding_the_checkouts_lock_and_the_servers_do_not_hold_it()
    {
        // ops/run.sh and ops/test.sh started together each initialised, started and stopped the same servers.
        var lockFile = ServicesDir() + ".lock";
        using var holder = Process.Start(new ProcessStartInfo("flock", [lockFile, "sleep", "4"]))!;
        // Held before up starts (a fixed delay raced a slow start of flock on a loaded machine).
        for (var waited = Stopwatch.StartNew(); await LockIsFreeAsync(lockFile); await Task.Delay(50))
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "flock did not take the lock");
        var up = await RunScriptAsync("up");
        Assert.True(up.ExitCode == 0, up.Output);
        Assert.True(holder.HasExited, "up did not wait for the lock's holder");
        // Free once up has ended: the servers it started (or found) hold no descriptor of it.
        Assert.True(await LockIsFreeAsync(lockFile), "a server holds the checkout's lock");
    }

    [Fact]
    public async Task Status_shows_both_servers_listening_on_loopback_only()
    {
        var status = await RunScriptAsync("status");

        Assert.Equal(0, status.ExitCode);
        var sockets = status.Output.Split('\n').SkipWhile(l => !l.StartsWith("listening sockets")).Skip(1)
            .Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        Assert.NotEmpty(sockets);
        Assert.All(sockets, s => Assert.True(s.StartsWith("127.0.0.1:") || s.StartsWith("[::1]:"), $"not loopback: {s}"));
    }

    [Theory]
    [InlineData("postgres", "NFC_PG_PORT", "PostgreSQL")]
    [InlineData("rabbitmq", "NFC_RABBIT_PORT", "RabbitMQ")]
    public async Task Up_refuses_a_port_another_process_listens_on(string service, string portVariable, string name)
    {
        // Another checkout's server, say: starting anyway would wait on it, or talk to it with the wrong password.
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var local = Directory.CreateTempSubdirectory("nfc-services-");
        try
        {
            var up = await RunScriptAsync("up", service, ("NFC_LOCAL", local.FullName), (portVariable, port.ToString()));

            Assert.True(up.ExitCode == 1, $"'up {service}' exited {up.ExitCode}: {up.Output}");
            Assert.Contains($"127.0.0.1:{port}, {name}'s port, is taken by another process", up.Output);
            Assert.Contains($"set {portVariable}", up.Output);
            Assert.DoesNotContain("starting", up.Output);
            Assert.False(Directory.Exists(Path.Combine(local.FullName, "services", "pg", "data")));
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Status_does_not_take_another_process_on_the_port_for_this_checkouts_server()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var local = Directory.CreateTempSubdirectory("nfc-services-");
        try
        {
            var status = await RunScriptAsync("status", null, ("NFC_LOCAL", local.FullName), ("NFC_PG_PORT", port.ToString()));

            Assert.True(status.ExitCode == 1, status.Output);
            Assert.Contains($"postgresql: stopped; 127.0.0.1:{port} is held by another process", status.Output);
            Assert.DoesNotContain("postgresql: running", status.Output);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Env_quotes_its_values_for_the_shell_that_evaluates_them()
    {
        // A checkout (or NFC_LOCAL) path with a quote, a dollar and a backtick: pasted into double quotes, eval ran it.
        var local = Directory.CreateTempSubdirectory("nfc-services-");
        var odd = Path.Combine(local.FullName, "a\"b 'q $HOME `id` c");
        try
        {
            var psi = new ProcessStartInfo("bash", ["-c", "set -e; eval \"$(\"$0\" env)\"; printf '%s\\n' \"$NFC_SERVICES_DIR\" \"$NFC_PG_CONNECTION\"",
                Path.Combine(TestServices.RepoRoot, "ops", "services.sh")])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestServices.RepoRoot,
            };
            psi.Environment["NFC_LOCAL"] = odd;
            psi.Environment["NFC_PG_PORT"] = "";
            using var process = Process.Start(psi)!;
            var stdout = await process.StandardOutput.ReadToEndAsync();
            var stderr = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));

            Assert.True(process.ExitCode == 0, stdout + stderr);
            var lines = stdout.Split('\n');
            Assert.Equal(Path.Combine(odd, "services"), lines[0]);
            Assert.StartsWith("Host=127.0.0.1;Port=", lines[1]);
            Assert.Contains(";Database=nfc;Username=postgres;Password=", lines[1]);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_timeout_that_is_not_whole_seconds_is_refused_before_anything_starts()
    {
        var local = Directory.CreateTempSubdirectory("nfc-services-");
        try
        {
            var up = await RunScriptAsync("up", null, ("NFC_LOCAL", local.FullName), ("NFC_SERVICES_TIMEOUT", "a[$(touch x)]"));

            Assert.True(up.ExitCode == 1, up.Output);
            Assert.Contains("NFC_SERVICES_TIMEOUT must be a whole number of seconds (got 'a[$(touch x)]')", up.Output);
            Assert.False(Directory.Exists(Path.Combine(local.FullName, "services", "pg")));
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_server_started_on_another_port_is_found_there_later_and_not_started_again_on_another()
    {
        // The port variable was read afresh by every command: set for `up` only, a later plain `up` started the same data
        // again on the default port, and `env` pointed the programs there.
        var local = Directory.CreateTempSubdirectory("nfc-services-");
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        (string, string) Local = ("NFC_LOCAL", local.FullName);
        try
        {
            var up = await RunScriptAsync("up", "postgres", Local, ("NFC_PG_PORT", port.ToString()));
            Assert.True(up.ExitCode == 0, up.Output);

            var env = await RunScriptAsync("env", null, Local, ("NFC_PG_PORT", ""));   // empty: not set
            Assert.Contains($"Host=127.0.0.1;Port={port};", env.Output);
            var again = await RunScriptAsync("up", "postgres", Local, ("NFC_PG_PORT", ""));
            Assert.Contains($"PostgreSQL already running on 127.0.0.1:{port}", again.Output);
            var moved = await RunScriptAsync("up", "postgres", Local, ("NFC_PG_PORT", (port + 1).ToString()));
            Assert.Equal(1, moved.ExitCode);
            Assert.Contains($"PostgreSQL of this checkout runs on port {port}, not {port + 1} (NFC_PG_PORT): stop it first", moved.Output);
        }
        finally
        {
            var purge = await RunScriptAsync("purge", null, Local, ("NFC_PG_PORT", ""));
            Assert.True(purge.ExitCode == 0, purge.Output);
            Assert.False(local.Exists && Directory.Exists(Path.Combine(local.FullName, "services")));
            if (Directory.Exists(local.FullName)) local.Delete(recursive: true);
        }
    }

    // Where services.sh keeps its servers (NFC_LOCAL moves it; `services.sh env` exports it).
    private static string ServicesDir() =>
        Environment.GetEnvironmentVariable("NFC_SERVICES_DIR") is { Length: > 0 } dir ? dir : Path.Combine(TestServices.RepoRoot, ".local", "services");

    private static Dictionary<string, string> PidFiles()
    {
        var svc = ServicesDir();
        return new()
        {
            ["postgres"] = File.ReadLines(Path.Combine(svc, "pg", "data", "postmaster.pid")).First(),
            ["rabbitmq"] = File.ReadAllText(Path.Combine(svc, "rabbitmq", "rabbitmq.pid")).Trim(),
        };
    }

    private static async Task<(int ExitCode, string Output)> RunScriptAsync(string verb, string? service = null,
        params (string Name, string Value)[] environment)
    {
        string[] arguments = service is null ? [verb] : [verb, service];
        var psi = new ProcessStartInfo("bash", [Path.Combine(TestServices.RepoRoot, "ops", "services.sh"), .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestServices.RepoRoot,
        };
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        return (process.ExitCode, await stdout + await stderr);
    }
}
