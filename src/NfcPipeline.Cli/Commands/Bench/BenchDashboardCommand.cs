using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NfcPipeline.Cli.Output;
using NfcPipeline.Cli.Commands.Bench;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Imaging;
using NfcPipeline.Storage.Migrations;
using Npgsql;
using Spectre.Console;

namespace NfcPipeline.Cli.Commands.Bench;

/// <summary>
/// `nfc bench dashboard`: seeds a fresh database at production scale, hosts the dashboard in-process on loopback,
/// requests every page type several times and prints the server-side time (Server-Timing) of each.
/// </summary>
internal static class BenchDashboardCommand
{
    public const double TargetMs = 300;

    public static Command Create()
    {
        var studies = new Option<int>("--studies") { Description = "Studies to seed.", DefaultValueFactory = _ => 10_000 };
        var images = new Option<int>("--images") { Description = "Images to seed.", DefaultValueFactory = _ => 100_000 };
        var capillaries = new Option<int>("--capillaries") { Description = "Capillary rows to seed.", DefaultValueFactory = _ => 2_000_000 };
        var failedJobs = new Option<int>("--failed-jobs") { Description = "Failed jobs to seed.", DefaultValueFactory = _ => 10_000 };
        var rounds = new Option<int>("--rounds") { Description = "Timed requests per page (after one warm-up).", DefaultValueFactory = _ => 5 };
        var keep = new Option<bool>("--keep") { Description = "Keep the bench database (its name is printed)." };
        var connection = CommonOptions.Connection();
        var command = new Command("dashboard", "Seed 10⁴ studies, 10⁵ images, 2·10⁶ capillaries, 10⁴ failed jobs; time every dashboard page.")
        {
            studies, images, capillaries, failedJobs, rounds, keep, connection,
        };
        command.SetAction(async (parse, ct) =>
        {
            // Refused rather than raised: the run would not measure what was asked. The pages are timed on a completed
            // study from the middle of the seeded ones, and on a failed job, so a few of each must exist.
            var size = new DashboardBenchSize(parse.GetValue(studies), parse.GetValue(images), parse.GetValue(capillaries), parse.GetValue(failedJobs));
            if (size.Studies < 10 || size.Images < 1 || size.Capillaries < 1 || size.FailedJobs < 1 || parse.GetValue(rounds) < 1)
            {
                Console.Error.WriteLine("nfc bench dashboard: --studies must be 10 or more, and --images, --capillaries, --failed-jobs and --rounds 1 or more.");
                return NfcCommandLine.Usage;
            }
            // Each study gets as many images, and each image as many capillaries: other counts would seed fewer than asked.
            if (size.Images % size.Studies != 0 || size.Capillaries % size.Images != 0)
            {
                Console.Error.WriteLine("nfc bench dashboard: --images must be a multiple of --studies, and --capillaries of --images " +
                    $"(every study holds as many images, every image as many capillaries); got {size.Studies}, {size.Images}, {size.Capillaries}.");
                return NfcCommandLine.Usage;
            }
            var server = new NpgsqlConnectionStringBuilder(CommonOptions.ResolveConnection(parse.GetValue(connection)));
            var name = "nfc_bench_" + Guid.NewGuid().ToString("N")[..8];
            var admin = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = "postgres" }.ConnectionString;
            var bench = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = name }.ConnectionString;
            var share = Directory.CreateTempSubdirectory("nfc-bench-share-").FullName;
            bool created = false;   // an unreachable server made none: nothing to keep or drop, nor a second error about it
            try
            {
                await AdminAsync(admin, $"create database {name}", ct);
                created = true;
                Console.WriteLine($"Database {name}: migrating and seeding {size.Studies} studies, {size.Images} images, {size.Capillaries} capillaries, {size.FailedJobs} failed jobs");
                await new MigrationRunner(bench).ApplyAsync(MigrationSource.Embedded(), ct);
                var seedWatch = Stopwatch.StartNew();
                await DashboardBenchSeeder.SeedAsync(bench, size, m => Console.WriteLine("  " + m), ct);
                Console.WriteLine($"Seeded in {seedWatch.Elapsed.TotalSeconds:0.0} s");
                var ids = await BenchIds.FindAsync(bench, size, ct);
                await ids.WriteShareImagesAsync(bench, share, ct);
                var results = await TimePagesAsync(bench, share, ids, parse.GetValue(rounds), ct);
                return Print(results);
            }
            catch (NpgsqlException ex)
            {
                Console.Error.WriteLine($"nfc bench dashboard: database error: {ex.Message}");
                return NfcCommandLine.Fatal;
            }
            catch (HttpRequestException ex)   // the dashboard host it started stopped answering
            {
                Console.Error.WriteLine($"nfc bench dashboard: the dashboard did not answer: {ex.Message}");
                return NfcCommandLine.Fatal;
            }
            finally
            {
                try { Directory.Delete(share, recursive: true); } catch (IOException) { }
                if (created && parse.GetValue(keep)) Console.WriteLine($"Kept database {name}.");
                else if (created)
                {
                    try { await AdminAsync(admin, $"drop database if exists {name} with (force)", CancellationToken.None); }
                    catch (NpgsqlException ex) { Console.Error.WriteLine($"nfc bench dashboard: could not drop database {name}: {ex.Message}"); }
                }
            }
        });
        return command;
    }

    private sealed record PageTiming(string Page, string Path, int Status, double MedianMs, double MaxMs, double ClientMedianMs, long Bytes);

    private static async Task<List<PageTiming>> TimePagesAsync(string connectionString, string share, BenchIds ids, int rounds, CancellationToken ct)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = connectionString, ["Dashboard:Urls"] = "http://127.0.0.1:0", ["Dashboard:ShareRoot"] = share,
            ["Logging:LogLevel:Default"] = "Warning", ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The dashboard's warnings to standard error: standard output is the results table a script reads.
        builder.Logging.ClearProviders().AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.AddDashboardServices();
        await using var app = builder.Build();
        app.MapDashboard();
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(2) };
        var results = new List<PageTiming>();
        foreach (var (page, path) in ids.Pages())
        {
            var server = new List<double>();
            var client = new List<double>();
            int status = 0; long bytes = 0;
            for (var i = 0; i <= rounds; i++)
            {
                var watch = Stopwatch.StartNew();
                using var response = await http.GetAsync(path, ct);
                var body = await response.Content.ReadAsByteArrayAsync(ct);
                watch.Stop();
                (status, bytes) = ((int)response.StatusCode, body.Length);
                if (i == 0) continue; // warm-up: JIT and connection pool
                client.Add(watch.Elapsed.TotalMilliseconds);
                server.Add(response.Headers.TryGetValues("Server-Timing", out var values) ? ParseDuration(values.First()) : double.NaN);
            }
            results.Add(new PageTiming(page, path, status, Median(server), server.Max(), Median(client), bytes));
        }
        await app.StopAsync(ct);
        return results;
    }

    private static int Print(List<PageTiming> results)
    {
        Formatting.WideWhenRedirected();
        var table = new Table().AddColumns("page", "status", "server median ms", "server max ms", "client median ms", "bytes", "≤ 300 ms");
        foreach (var r in results)
            table.AddRow(StatusCommand.Cells(r.Page, r.Status, r.MedianMs.ToString("0.0"), r.MaxMs.ToString("0.0"), r.ClientMedianMs.ToString("0.0"), r.Bytes,
                r.MedianMs <= TargetMs ? "yes" : "NO"));
        AnsiConsole.Write(table);
        foreach (var r in results.Where(r => r.Page.StartsWith("jobs: failed", StringComparison.Ordinal)))
            Console.WriteLine($"Failed-jobs page ({r.Page}): server median {r.MedianMs:0.0} ms, max {r.MaxMs:0.0} ms");
        // A page whose answers carried no Server-Timing has no median (NaN): not within the target either.
        var over = results.Where(r => !(r.MedianMs <= TargetMs))
            .Select(r => double.IsNaN(r.MedianMs) ? $"{r.Page} (no Server-Timing)" : r.Page).ToList();
        Console.WriteLine(over.Count == 0 ? $"All {results.Count} pages within {TargetMs} ms (server median)." : $"Over {TargetMs} ms: {string.Join(", ", over)}");
        var errors = results.Where(r => r.Status != 200).ToList();
        foreach (var e in errors) Console.Error.WriteLine($"nfc bench dashboard: {e.Page} ({e.Path}) answered {e.Status}");
        return errors.Count == 0 ? NfcCommandLine.Success : NfcCommandLine.Fatal;
    }

    private static double ParseDuration(string header)
    {
        var at = header.IndexOf("dur=", StringComparison.Ordinal);
        return at >= 0 && double.TryParse(header[(at + 4)..].Split(',', ';')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) ? ms : double.NaN;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static async Task AdminAsync(string admin, string sql, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(admin);
        await c.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Realistic ids from the middle of the seeded data, and the pages to request with them.</summary>
    private sealed record BenchIds(long StudyId, string StudyExternalId, long PatientId, long ImageId, long FailedJobId, long FailedJobKey)
    {
        public static async Task<BenchIds> FindAsync(string connectionString, DashboardBenchSize size, CancellationToken ct)
        {
            await using var c = new NpgsqlConnection(connectionString);
            await c.OpenAsync(ct);
            async Task<T> One<T>(string sql, params (string, object)[] args)
            {
                await using var cmd = new NpgsqlCommand(sql, c);
                foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
                return await cmd.ExecuteScalarAsync(ct) is T value ? value
                    : throw new InvalidOperationException($"the seeded data lacks a row the pages need ({sql})");
            }
            // The completed study nearest the middle that has a succeeded image (the overlay's): at small sizes the middle
            // study's one image could be a failed one, and the bench stopped on its missing id.
            var study = await One<long>("""
                select s.id from studies s
                where s.state = 'completed' and exists (select 1 from images i where i.study_id = s.id and i.state = 'succeeded')
                order by abs(s.id - (select min(id) + (max(id) - min(id)) / 2 from studies)), s.id limit 1
                """);
            var external = await One<string>("select external_id from studies where id = @s", ("s", study));
            var patient = await One<long>("select min(patient_id) from images where study_id = @s and state = 'succeeded'", ("s", study));
            var image = await One<long>("select min(id) from images where patient_id = @p and state = 'succeeded'", ("p", patient));
            var job = await One<long>("select id from jobs where state = 'failed' order by id desc offset @o limit 1", ("o", size.FailedJobs / 2));
            return new BenchIds(study, external, patient, image, job, job);
        }

        public IEnumerable<(string Page, string Path)> Pages() =>
        [
            ("overview", "/"),
            ("jobs: failed, first page", "/jobs?state=failed"),
            ("jobs: failed, deep page", $"/jobs?state=failed&before={FailedJobKey}"),
            ("jobs: failed, kind+study filter", $"/jobs?state=failed&kind=analyze_chunk&study={Uri.EscapeDataString(StudyExternalId)}"),
            ("jobs: succeeded", "/jobs?state=succeeded"),
            ("job detail", $"/jobs/{FailedJobId}"),
            ("share", "/share"),
            ("workers", "/workers"),
            ("studies", "/studies"),
            ("studies, deep page", $"/studies?before={StudyId}"),
            ("study detail", $"/studies/{StudyId}"),
            ("patient report", $"/patients/{PatientId}"),
            ("patient printable", $"/patients/{PatientId}/print"),
            ("overlay png (480 px)", $"/images/{ImageId}/overlay.png?width=480&model={DashboardBenchSeeder.ModelId}"),
            ("api: study status", $"/api/studies/{Uri.EscapeDataString(StudyExternalId)}"),
            ("api: patient metrics", $"/api/patients/{PatientId}/metrics"),
            ("api: patient metrics csv", $"/api/patients/{PatientId}/metrics.csv"),
            ("api: study results csv", $"/api/studies/{Uri.EscapeDataString(StudyExternalId)}/results.csv"),
        ];

        /// <summary>Real 640×480 PNG files for the sampled study, so the overlay page decodes from the share.</summary>
        public async Task WriteShareImagesAsync(string connectionString, string share, CancellationToken ct)
        {
            await using var c = new NpgsqlConnection(connectionString);
            await c.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("select s.source_path, i.rel_path from images i join studies s on s.id = i.study_id where i.study_id = @s", c);
            cmd.Parameters.AddWithValue("s", StudyId);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var rgb = new byte[640 * 480 * 3];
            for (var i = 0; i < rgb.Length; i += 3) { rgb[i] = (byte)(120 + i % 90); rgb[i + 1] = 70; rgb[i + 2] = 60; }
            var png = PngEncoder.EncodeRgb(rgb, 640, 480);
            while (await reader.ReadAsync(ct))
            {
                var file = Path.Combine(share, reader.GetString(0), reader.GetString(1));
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                await File.WriteAllBytesAsync(file, png, ct);
            }
            await reader.CloseAsync();
            // The overlay draws only on the content analysed (a 409 otherwise): the overlay's image and its results take
            // the written file's hash in place of the seeded one.
            await using var rekey = new NpgsqlCommand(RekeySql, c);
            rekey.Parameters.AddWithValue("id", ImageId);
            rekey.Parameters.AddWithValue("content", System.Security.Cryptography.SHA256.HashData(png));
            await rekey.ExecuteNonQueryAsync(ct);
        }

        private const string RekeySql = """
            begin;
            create temp table rekeyed on commit drop as select sha256 as old from images where id = @id;
            insert into image_metrics
            select (jsonb_populate_record(null::image_metrics, to_jsonb(m) || jsonb_build_object('image_sha256', '\x' || encode(@content, 'hex')))).*
            from image_metrics m, rekeyed where m.image_sha256 = rekeyed.old;
            update capillaries set image_sha256 = @content from rekeyed where image_sha256 = rekeyed.old;
            delete from image_metrics using rekeyed where image_sha256 = rekeyed.old;
            update images set sha256 = @content from rekeyed where sha256 = rekeyed.old;
            commit;
            """;
    }
}
