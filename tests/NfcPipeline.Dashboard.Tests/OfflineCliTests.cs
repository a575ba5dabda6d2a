using System.Text.Json;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>`nfc analyze` and `evaluate` as processes: no broker, no database, the reference model (benches: BenchCliTests).</summary>
public sealed partial class OfflineCliTests : IDisposable
{
    private static readonly string Corpus = Path.Combine(TestServices.RepoRoot, "tests", "fixtures", "images");
    private static readonly string DemoStudy = Path.Combine(TestServices.RepoRoot, "samples", "demo-study");
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("nfc-cli-");

    public void Dispose() => _folder.Delete(recursive: true);

    /// <summary>The bad-input corpus beside two good fields and a folder named like an image.</summary>
    private string CorpusFolder()
    {
        foreach (var name in new[] { "empty.jpg", "truncated.jpg", "bad_crc.png", "text_named.jpg", "huge_header.jpg", "tiny_10x10.png", "gray.jpg", "palette.png", "rgb16.png", "cmyk.jpg" })
            File.Copy(Path.Combine(Corpus, name), Path.Combine(_folder.FullName, name));
        foreach (var field in new[] { "field1.jpg", "field2.jpg" })
            File.Copy(Path.Combine(DemoStudy, "P001", "L2", field), Path.Combine(_folder.FullName, field));
        Directory.CreateDirectory(Path.Combine(_folder.FullName, "x.jpg"));
        return _folder.FullName;
    }

    [Fact]
    public async Task Analyze_lists_one_reason_per_bad_file_analyses_the_good_ones_and_exits_0()
    {
        var run = await NfcProcess.RunAsync("analyze", CorpusFolder(), "--json");

        Assert.True(run.Code == 0, run.Err + run.Out);
        var lines = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var images = lines.Where(l => l.GetProperty("type").GetString() == "image").ToDictionary(l => l.GetProperty("image").GetString()!);
        var expected = new Dictionary<string, string>
        {
            ["empty.jpg"] = "Empty", ["truncated.jpg"] = "Truncated", ["bad_crc.png"] = "Corrupt", ["text_named.jpg"] = "Unsupported",
            ["huge_header.jpg"] = "TooLarge", ["tiny_10x10.png"] = "TooSmall",
        };
        foreach (var (name, code) in expected)
        {
            var error = images[name].GetProperty("error");
            Assert.Equal(code, error.GetProperty("code").GetString());
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), name);
        }
        // Odd but valid images decode; the two demo fields give capillaries.
        foreach (var name in new[] { "gray.jpg", "palette.png", "rgb16.png", "cmyk.jpg", "field1.jpg", "field2.jpg" })
            Assert.False(images[name].TryGetProperty("error", out _), name);
        Assert.True(images["field2.jpg"].GetProperty("instances").GetArrayLength() > 10);
        var skipped = Assert.Single(lines, l => l.GetProperty("type").GetString() == "skipped");
        Assert.Equal("x.jpg", skipped.GetProperty("image").GetString());
        var summary = Assert.Single(lines, l => l.GetProperty("type").GetString() == "summary");
        Assert.Equal((12, 6, 6, 1), (summary.GetProperty("images").GetInt32(), summary.GetProperty("analysed").GetInt32(),
            summary.GetProperty("failed").GetInt32(), summary.GetProperty("skipped").GetInt32()));
    }

    [Fact]
    public async Task An_argument_starting_with_an_at_sign_is_a_value_not_a_response_file()
    {
        var run = await NfcProcess.RunAsync("analyze", "@nowhere");

        Assert.Equal(2, run.Code);
        Assert.Contains("Study folder '@nowhere' does not exist", run.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Response file", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Analyze_exits_1_when_not_one_image_could_be_analysed()
    {
        var bad = Path.Combine(_folder.FullName, "all-bad");
        Directory.CreateDirectory(bad);
        foreach (var name in new[] { "truncated.jpg", "bad_crc.png" })
            File.Copy(Path.Combine(Corpus, name), Path.Combine(bad, name));
        var run = await NfcProcess.RunAsync("analyze", bad);
        Assert.Equal(1, run.Code);
        Assert.Contains("nfc analyze: none of the 2 images could be analysed", run.Err);
        Assert.Contains("2 images: 0 analysed, 2 failed", run.Out);
    }

    [Fact]
    public async Task Analyze_of_a_folder_without_images_exits_1_before_loading_the_model()
    {
        // It loaded the model, printed "0 images" and exited 0: a script took nothing analysed for a result.
        var empty = Path.Combine(_folder.FullName, "empty");
        Directory.CreateDirectory(empty);
        File.WriteAllText(Path.Combine(empty, "notes.txt"), "no images here");
        var run = await NfcProcess.RunAsync("analyze", empty, "--model", "/nonexistent/model.onnx");
        Assert.Equal(1, run.Code);
        Assert.Contains("notes.txt  SKIPPED", run.Err);
        Assert.Contains($"nfc analyze: no images to analyse in {empty}", run.Err);
        Assert.DoesNotContain("model", run.Err);   // refused before the model was opened
    }

    [Fact]
    public async Task Analyze_shows_a_mapped_patient_folder_by_its_code()
    {
        // Patient folders often carry names; study.json's map gives the code, which listings show (as the database does).
        var study = Path.Combine(_folder.FullName, "named");
        Directory.CreateDirectory(Path.Combine(study, "Doe-Jane", "L2"));
        File.Copy(Path.Combine(DemoStudy, "P001", "L2", "field1.jpg"), Path.Combine(study, "Doe-Jane", "L2", "field1.jpg"));
        File.WriteAllText(Path.Combine(study, "Doe-Jane", "L2", "notes.txt"), "x");
        File.WriteAllText(Path.Combine(study, "study.json"), """{"study_id": "N1", "um_per_px": 2.0, "patients": {"Doe-Jane": "P01"}}""");

        foreach (var json in new[] { false, true })
        {
            var run = await NfcProcess.RunAsync(json ? ["analyze", study, "--json"] : ["analyze", study]);
            Assert.True(run.Code == 0, run.Err + run.Out);
            Assert.Contains("P01/L2/field1.jpg", run.Out);
            Assert.Contains("P01/L2/notes.txt", run.Out);
            Assert.DoesNotContain("Doe-Jane", run.Out + run.Err);
            // Piped, the summary table is not wrapped at 80 columns (each cell cut into lines).
            if (!json) Assert.Matches(@"│ P01 +│.*│ indeterminate \(too little gradable density to call\) +│", run.Out);
        }

        // A folder the map misses would be shown by its name: refused, as the worker refuses such a study, naming none.
        Directory.CreateDirectory(Path.Combine(study, "Roe-Rick", "L2"));
        File.Copy(Path.Combine(DemoStudy, "P001", "L2", "field1.jpg"), Path.Combine(study, "Roe-Rick", "L2", "field1.jpg"));
        var refused = await NfcProcess.RunAsync("analyze", study);
        Assert.Equal(2, refused.Code);
        Assert.Contains("nfc analyze: 1 patient folder(s) are not in study.json's patients map", refused.Err);
        Assert.Contains("nothing was analysed", refused.Err);
        Assert.DoesNotContain("Roe-Rick", refused.Out + refused.Err);
    }

    [Fact]
    public async Task Analyze_measures_and_grades_with_the_workers_analysis_settings_from_the_environment()
    {
        var field = Path.Combine(_folder.FullName, "one");
        Directory.CreateDirectory(field);
        File.Copy(Path.Combine(DemoStudy, "P001", "L2", "field1.jpg"), Path.Combine(field, "field1.jpg"));

        // As a worker with Analysis:Grading:MinConfidentInstances=1000 grades it: ungradable.
        var strict = await NfcProcess.RunWithEnvironmentAsync(new() { ["Analysis__Grading__MinConfidentInstances"] = "1000" }, "analyze", field, "--json");
        Assert.True(strict.Code == 0, strict.Err + strict.Out);
        var image = strict.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
            .Single(l => l.GetProperty("type").GetString() == "image");
        Assert.False(image.GetProperty("gradable").GetBoolean());

        // A setting the worker would refuse stops it, named; bench inference reads them too (it measured with the
        // defaults, so a model whose class names only the environment maps could not be timed).
        foreach (var (verb, args) in new[] { ("analyze", new[] { "analyze", field }), ("bench inference", ["bench", "inference", "--source", field, "--images", "2"]) })
        {
            var refused = await NfcProcess.RunWithEnvironmentAsync(new() { ["Analysis__Categories__hairpin"] = "pretty" }, args);
            Assert.Equal(2, refused.Code);
            Assert.Contains($"nfc {verb}: Analysis:Categories:hairpin must be one of", refused.Err);
        }

        // So does a decoder setting, out of range or no number, for every verb that loads the model (a stack trace, exit 1).
        // A misspelt key too, as the worker refuses it (it decoded at the default without a word).
        foreach (var (key, value, expected) in new[]
        {
            ("Inference__Decoder__CenterThreshold", "2", "Inference:Decoder:CenterThreshold"),
            ("Inference__Decoder__CenterThreshold", "abc", "Inference:Decoder:CenterThreshold"),
            ("Inference__Decoder__CentreThreshold", "0.2", "Inference:Decoder:CentreThreshold is not a setting"),
            ("Inference__InstancesDecoder__MaskTreshold", "0.2", "Inference:InstancesDecoder:MaskTreshold is not a setting"),
        })
        {
            var environment = new Dictionary<string, string> { [key] = value };
            foreach (var args in new[] { new[] { "analyze", field }, ["bench", "inference", "--source", field, "--images", "2"] })
            {
                var decoder = await NfcProcess.RunWithEnvironmentAsync(environment, args);
                Assert.True(decoder.Code == 2, $"{string.Join(' ', args)} with {value}: exit {decoder.Code}\n{decoder.Err}");
                Assert.Contains(expected, decoder.Err);
                Assert.DoesNotContain("Unhandled exception", decoder.Err);
                Assert.DoesNotContain("   at ", decoder.Err);
            }
        }
    }

    [Fact]
    public async Task Asking_for_a_gpu_this_host_lacks_warns_on_stderr_and_runs_on_the_cpu_also_with_json_output()
    {
        // This host's ONNX Runtime lacks the CUDA provider libraries: the session falls back, and JSON output says so too.
        var field = Path.Combine(_folder.FullName, "gpu");
        Directory.CreateDirectory(field);
        File.Copy(Path.Combine(DemoStudy, "P001", "L2", "field1.jpg"), Path.Combine(field, "field1.jpg"));

        var run = await NfcProcess.RunAsync("analyze", field, "--device", "cuda", "--json");

        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("warning: the CUDA execution provider could not be used; running on CPUExecutionProvider", run.Err);
        Assert.Contains("\"type\":\"image\"", run.Out);
    }

    [Fact]
    public async Task Analyze_prints_the_reason_of_a_failure_on_screen_too()
    {
        var run = await NfcProcess.RunAsync("analyze", CorpusFolder());

        Assert.Equal(0, run.Code);
        Assert.Contains("truncated.jpg  FAILED Truncated: JPEG: the file ends inside its scan", run.Out);
        Assert.Contains("x.jpg  SKIPPED: a folder named like an image file, not an image", run.Out);
        Assert.Contains("12 images: 6 analysed, 6 failed, 1 skipped", run.Out);
        Assert.Contains("Research use only: computed automatically by the model; the pattern is not a diagnosis", run.Out);
    }

    [Fact]
    public async Task Analyze_exits_1_for_a_missing_model_and_2_for_a_usage_error()
    {
        var missing = await NfcProcess.RunAsync("analyze", DemoStudy, "--model", Path.Combine(_folder.FullName, "none.onnx"));
        Assert.Equal(1, missing.Code);
        Assert.Contains("none.onnx", missing.Err);
        Assert.Equal(2, (await NfcProcess.RunAsync("analyze")).Code);
        // One check on every verb that takes --device, naming it (bench verbs reported "Inference:Device", or took any text).
        foreach (var verb in new[] { new[] { "analyze", DemoStudy }, ["bench", "inference"], ["bench", "pipeline"] })
        {
            var device = await NfcProcess.RunAsync([.. verb, "--device", "tpu"]);
            Assert.Equal(2, device.Code);
            Assert.Contains("--device takes auto, cpu, cuda or cuda:N, got 'tpu'.", device.Err);
        }
        // A batch of the largest input must fit one float array (a larger one wrapped to a negative length at run time).
        foreach (var batch in new[] { "0", "100" })
        {
            var refused = await NfcProcess.RunAsync("analyze", DemoStudy, "--batch", batch);
            Assert.Equal(2, refused.Code);
            Assert.Contains($"--batch must be 1 to 42 (one batch of the largest input, Inference:MaxInputPixels = 16777216, is one float array), got {batch}", refused.Err);
        }
        // Runs and threads are bounded: 1024 runs crashed with a stack trace once the model had loaded.
        foreach (var option in new[] { "--concurrent-runs", "--threads" })
        {
            var refused = await NfcProcess.RunAsync("analyze", DemoStudy, option, "1024");
            Assert.Equal(2, refused.Code);
            Assert.Contains($"{option} must be 0 (choose) to 256.", refused.Err);
            Assert.DoesNotContain("   at ", refused.Err);
        }
    }

    [Fact]
    public async Task Migrate_refuses_a_folder_that_is_missing_or_holds_no_migrations_before_connecting()
    {
        // "Nothing to apply: all 0 migrations are already applied", exit 0, for a folder without one.
        var empty = Directory.CreateDirectory(Path.Combine(_folder.FullName, "no-migrations")).FullName;
        File.WriteAllText(Path.Combine(empty, "README.txt"), "not a migration");
        var file = Path.Combine(empty, "README.txt");
        foreach (var (dir, expected) in new[] { (empty, "holds no migrations (NNNN_name.sql files)"), (Path.Combine(_folder.FullName, "absent"), "no such folder"), (file, "a file, not a folder") })
        {
            // Port 1 answers nobody: the folder is refused before any connection is tried.
            var run = await NfcProcess.RunAsync("migrate", "--dir", dir, "--connection", "Host=127.0.0.1;Port=1;Username=nfc;Database=nfc");
            Assert.True(run.Code == 2, $"{dir}: exited {run.Code}: {run.Err}");
            Assert.Contains($"nfc migrate: --dir {dir}", run.Err);
            Assert.Contains(expected, run.Err);
        }
    }

    [Fact]
    public async Task Evaluate_exits_1_when_not_one_image_could_be_analysed_and_an_unreadable_model_is_one_line()
    {
        // Metrics over no predictions (a wrong --images folder) were printed with exit 0.
        var wrong = await NfcProcess.RunAsync("evaluate", "--images", _folder.FullName, "--truth", DemoStudy + ".truth.json");
        Assert.Equal(1, wrong.Code);
        Assert.Contains("nfc evaluate: none of the 19 images could be analysed (the first: P001/", wrong.Err);

        // A model path that cannot be read (a folder; as root, file modes do not stop reads): a stack trace before.
        var unreadable = Path.Combine(_folder.FullName, "model.onnx");
        Directory.CreateDirectory(unreadable);
        var run = await NfcProcess.RunAsync("analyze", DemoStudy, "--model", unreadable);
        Assert.Equal(1, run.Code);
        Assert.DoesNotContain("   at ", run.Err);
        Assert.Contains("model.onnx", run.Err);
    }

    [Fact]
    public async Task Evaluate_exits_1_for_truth_that_lists_no_images()
    {
        // Annotations without their images, or a CSV of only its header: "Evaluation over 0 images", exit 0, before.
        var annotations = Path.Combine(_folder.FullName, "annotations.json");
        File.WriteAllText(annotations, """[{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]""");
        var headerOnly = Path.Combine(_folder.FullName, "density.csv");
        File.WriteAllText(headerOnly, "image,capillaries_per_mm\n");
        foreach (var (truth, expected) in new[] { (annotations, "annotations.json lists no images"), (headerOnly, "lists no images, only its header") })
        {
            var run = await NfcProcess.RunAsync("evaluate", "--images", DemoStudy, "--truth", truth);
            Assert.True(run.Code == 1, $"{truth} exited {run.Code}: {run.Err}");
            Assert.Contains(expected, run.Err, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("0.0022")]   // mm per pixel written for µm: every diameter 1000x off, exit 0, before
    [InlineData("-2")]
    public async Task Evaluate_refuses_a_truth_scale_outside_the_plausible_range_before_the_model_runs(string umPerPx)
    {
        var truth = Path.Combine(_folder.FullName, $"scale{umPerPx}.json");
        File.WriteAllText(truth, "{\"images\": [{\"id\": 1, \"file_name\": \"P001/L2/field1.jpg\", \"um_per_px\": " + umPerPx +
            "}], \"categories\": [{\"id\": 1, \"name\": \"hairpin\"}], \"annotations\": []}");
        var run = await NfcProcess.RunAsync("evaluate", "--images", DemoStudy, "--truth", truth, "--model", Path.Combine(_folder.FullName, "absent.onnx"));
        Assert.True(run.Code == 1, $"exited {run.Code}: {run.Err}");
        Assert.Contains($"image P001/L2/field1.jpg has um_per_px {umPerPx}; it must be 0.01 to 100 µm per pixel", run.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("absent.onnx", run.Err);
    }

    [Fact]
    public async Task Evaluate_refuses_masks_it_cannot_draw_before_the_model_runs()
    {
        // A polygon on an image without its size, runs that miss their RLE size: a stack trace once the model had run over every image.
        var polygon = Path.Combine(_folder.FullName, "polygon.json");
        File.WriteAllText(polygon, """{"images": [{"id": 1, "file_name": "P001/L2/field1.jpg"}], "categories": [{"id": 1, "name": "hairpin"}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0,0,40,0,40,40]]}]}""");
        var rle = Path.Combine(_folder.FullName, "rle.json");
        File.WriteAllText(rle, """{"images": [{"id": 1, "file_name": "P001/L2/field1.jpg", "width": 4, "height": 4}], "categories": [{"id": 1, "name": "hairpin"}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": {"size": [4, 4], "counts": [3, 2]}}]}""");
        foreach (var (truth, expected) in new[] { (polygon, "image 1 gives no width and height"), (rle, "runs cover 5 pixels, not its size 4×4") })
        {
            var run = await NfcProcess.RunAsync("evaluate", "--images", DemoStudy, "--truth", truth, "--model", Path.Combine(_folder.FullName, "absent.onnx"));
            // Exit 1 for the truth, not for the absent model: the file is read before any model is opened.
            Assert.True(run.Code == 1, $"{truth} exited {run.Code}: {run.Err}");
            Assert.Contains(expected, run.Err, StringComparison.Ordinal);
            Assert.DoesNotContain("absent.onnx", run.Err);
            Assert.DoesNotContain("   at ", run.Err);
        }
    }

    [Fact]
    public async Task A_decimal_comma_is_refused_rather_than_read_as_a_thousands_separator()
    {
        // "1,9" parsed as 19 µm/px: every diameter ten times too large, every density ten times too small.
        foreach (var args in new[]
        {
            new[] { "analyze", DemoStudy, "--um-per-px", "1,9" },
            ["enqueue", "demo-study", "--share", Path.GetDirectoryName(DemoStudy)!, "--um-per-px", "1,9"],
            ["evaluate", "--images", DemoStudy, "--truth", DemoStudy + ".truth.json", "--field-mm", "0,5"],
        })
        {
            var run = await NfcProcess.RunAsync(args);
            Assert.True(run.Code == 2, $"{string.Join(' ', args)} exited {run.Code}: {run.Err}");
            Assert.Contains("takes a decimal point, not a comma", run.Err);
        }
        var word = await NfcProcess.RunAsync("analyze", DemoStudy, "--um-per-px", "two");
        Assert.Equal(2, word.Code);
        Assert.Contains("--um-per-px takes a number like 1.9, got 'two'", word.Err);
        var infinite = await NfcProcess.RunAsync("evaluate", "--images", DemoStudy, "--truth", DemoStudy + ".truth.json", "--field-mm", "Infinity");
        Assert.Equal(2, infinite.Code);
        Assert.Contains("--field-mm takes a number like 1.9, got 'Infinity'", infinite.Err);
        var notANumber = await NfcProcess.RunAsync("analyze", DemoStudy, "--um-per-px", "NaN");
        Assert.Equal(2, notANumber.Code);
        Assert.Contains("--um-per-px takes a number like 1.9, got 'NaN'", notANumber.Err);
    }

    [Fact]
    public async Task Enqueue_refuses_a_study_linked_to_a_folder_analysis_would_refuse()
    {
        var share = Path.Combine(_folder.FullName, "share");
        var staged = Path.Combine(share, "~staging", "S1", "P001", "L2");
        Directory.CreateDirectory(staged);
        File.Copy(Directory.EnumerateFiles(DemoStudy, "*.jpg", SearchOption.AllDirectories).First(), Path.Combine(staged, "f1.jpg"));
        Directory.CreateSymbolicLink(Path.Combine(share, "S1"), Path.Combine(share, "~staging", "S1"));

        var run = await NfcProcess.RunAsync("enqueue", "S1", "--share", share);

        Assert.True(run.Code == 2, $"exited {run.Code}: {run.Err}");
        Assert.Contains("S1 cannot be submitted: The study folder is a link to '~staging/S1', a path analysis refuses", run.Err);
        Assert.DoesNotContain("   at ", run.Err);
    }

    [Fact]
    public async Task Bad_values_met_while_a_verb_runs_are_usage_errors_without_a_stack_trace()
    {
        var truth = Path.Combine(_folder.FullName, "truth.json");
        File.WriteAllText(truth, """{"images": [], "annotations": [], "categories": []}""");
        var densities = Path.Combine(_folder.FullName, "densities.csv");
        File.WriteAllText(densities, "image,capillaries_per_mm\nP001/R2/field1.png,8\n");
        var counts = Path.Combine(_folder.FullName, "counts.csv");
        File.WriteAllText(counts, "image,count\nP001/R2/field1.png,8\n");
        foreach (var args in new[]
        {
            new[] { "evaluate", "--images", DemoStudy, "--truth", truth, "--um-per-px", "0" },
            ["evaluate", "--images", DemoStudy, "--truth", truth, "--class-map", "blur="],
            ["status", "--connection", "this is not=a valid;;connection string=="],
            ["status", "--limit", "-5"],
            ["status", "demo-study", "--limit", "0"],
            ["evaluate", "--images", DemoStudy, "--truth", truth, "--field-mm", "0.5"],   // COCO needs none
            ["evaluate", "--images", DemoStudy, "--truth", densities, "--field-mm", "0.5"],   // densities need none
            ["evaluate", "--images", DemoStudy, "--truth", counts],   // counts need it
            ["report", "1", "--connection", "Host=127.0.0.1;Port=notanumber"],
            ["status", "--connection", "Host=127.0.0.1;Multiplexing=true;Pooling=false"],   // keywords the data source refuses together
            ["report", "1", "--connection", "Host=127.0.0.1;Target Session Attributes=primary"],
            ["status", "--connection", "Host=127.0.0.1,127.0.0.2;Target Session Attributes=primary;Multiplexing=true;Pooling=false"],
            ["enqueue", "demo-study", "--share", Path.GetDirectoryName(DemoStudy)!, "--rabbit", "not a uri"],
            ["enqueue", "demo-study", "--share", Path.GetDirectoryName(DemoStudy)!, "--rabbit", "http://127.0.0.1:5672/"],
            ["requeue", "5", "--stalled"],
            ["requeue", "--stalled", "--older-than", "00:00:10"],
            ["requeue", "--stalled", "--study", "demo-study"],
            ["requeue", "--stalled", "--kind", "chunk"],
            ["requeue", "--failed", "--older-than", "02:00:00"],
            ["requeue", "7", "--study", "demo-study"],
            ["enqueue", "demo-study", "--share", Path.GetDirectoryName(DemoStudy)!, "--register-timeout", "00:01:00"],   // no --wait
        })
        {
            var run = await NfcProcess.RunAsync(args);
            Assert.True(run.Code == 2, $"{string.Join(' ', args)} exited {run.Code}: {run.Err}");
            Assert.StartsWith($"nfc {args[0]}: ", run.Err);
            Assert.DoesNotContain("   at ", run.Err);
        }
        // A bare number was read as days: "--older-than 90" requeued nothing untouched for under 90 days.
        var days = await NfcProcess.RunAsync("requeue", "--stalled", "--older-than", "90");
        Assert.Equal(2, days.Code);
        Assert.Contains("--older-than takes a duration as hh:mm:ss (or d.hh:mm:ss), such as 01:30:00 for 90 minutes; got '90'.", days.Err);
        // A number that is none is said in words, with the verb's help to read.
        var words = await NfcProcess.RunAsync("status", "--limit", "ten");
        Assert.Equal(2, words.Code);
        Assert.Contains("Cannot parse argument 'ten' for option '--limit' as a whole number", words.Err);
        Assert.DoesNotContain("System.Int32", words.Err);
        Assert.Contains("Run 'nfc status --help' for usage.", words.Err);
        // And "5:00" as 5 hours, where 5 minutes was meant.
        var hours = await NfcProcess.RunAsync("requeue", "--stalled", "--older-than", "5:00");
        Assert.Equal(2, hours.Code);
        Assert.Contains("got '5:00'", hours.Err);
    }
}
