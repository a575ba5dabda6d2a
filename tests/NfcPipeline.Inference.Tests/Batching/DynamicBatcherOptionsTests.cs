using Microsoft.Extensions.Options;
using NfcPipeline.Inference.Batching;

namespace NfcPipeline.Inference.Tests.Batching;

public class DynamicBatcherOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_match_the_documentation()
    {
        var options = new DynamicBatcherOptions();

        Assert.Empty(options.Validate());
        Assert.Equal("default", options.Name);
        Assert.Equal(8, options.MaxBatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(5), options.MaxQueueDelay);
        Assert.Empty(options.PreferredBatchSizes);
        Assert.Equal(32, options.QueueCapacity);
        Assert.Equal(2, options.MaxConcurrentBatches);
        Assert.Null(options.DefaultDeadline);
        Assert.Equal(TimeSpan.FromSeconds(10), options.StatisticsWindow);
        Assert.Equal("Inference:Batching", DynamicBatcherOptions.Section);
    }

    public static TheoryData<Action<DynamicBatcherOptions>, string> InvalidOptions => new()
    {
        { o => o.Name = " ", "Name must not be empty" },
        { o => o.MaxBatchSize = 0, "MaxBatchSize must be 1 to 1024 (was 0)" },
        { o => o.MaxBatchSize = int.MaxValue, "MaxBatchSize must be 1 to 1024" },
        { o => o.MaxQueueDelay = TimeSpan.FromMilliseconds(-1), "MaxQueueDelay must be between 0 and" },
        { o => o.MaxQueueDelay = TimeSpan.FromHours(1), "MaxQueueDelay must be between 0 and" },
        { o => o.PreferredBatchSizes = [4, 9], "PreferredBatchSizes entries must be between 1 and MaxBatchSize (8); 9 is not" },
        { o => o.PreferredBatchSizes = [4, 4], "PreferredBatchSizes lists 4 more than once" },
        { o => o.QueueCapacity = 0, "QueueCapacity must be 1 to 1048576 (was 0)" },
        { o => o.QueueCapacity = 4, "QueueCapacity (4) must be at least MaxBatchSize (8)" },
        { o => o.MaxConcurrentBatches = 0, "MaxConcurrentBatches must be 1 to 1024 (was 0)" },
        { o => o.MaxConcurrentBatches = int.MaxValue, "MaxConcurrentBatches must be 1 to 1024 (was 2147483647)" },
        { o => o.DefaultDeadline = TimeSpan.Zero, "DefaultDeadline must be positive" },
        { o => o.StatisticsWindow = TimeSpan.Zero, "StatisticsWindow must be positive" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_are_refused_with_an_error_naming_the_option(Action<DynamicBatcherOptions> change, string expected)
    {
        var options = new DynamicBatcherOptions();
        change(options);

        var error = Assert.Single(options.Validate());
        Assert.Contains(expected, error);
        var failure = new DynamicBatcherOptionsValidator().Validate(null, options);
        Assert.True(failure.Failed);
        Assert.Equal([error], failure.Failures);
    }

    [Fact]
    public void Constructor_refuses_invalid_options_listing_every_problem()
    {
        var options = new DynamicBatcherOptions { MaxBatchSize = 0, MaxConcurrentBatches = 0 };

        var exception = Assert.Throws<OptionsValidationException>(() =>
            new DynamicBatcher<int, int>(options, (b, _) => ValueTask.FromResult<IReadOnlyList<int>>([.. b.Requests]), _ => default));

        Assert.Contains("MaxBatchSize must be 1 to 1024", exception.Message);
        Assert.Contains("MaxConcurrentBatches must be 1 to 1024", exception.Message);
    }

    [Fact]
    public async Task Options_changed_after_construction_do_not_change_the_batcher()
    {
        var options = new DynamicBatcherOptions { Name = "before" };
        await using var batcher = new DynamicBatcher<int, int>(options, (b, _) => ValueTask.FromResult<IReadOnlyList<int>>([.. b.Requests]), _ => default);
        options.Name = "after";

        Assert.Equal("before", batcher.Name);
    }

    [Theory]
    [InlineData(500, 700, 32, 512, 704)]
    [InlineData(512, 512, 32, 512, 512)]
    [InlineData(1, 1, 8, 8, 8)]
    public void Shape_bucket_round_up_pads_both_sides_to_the_multiple(int height, int width, int multiple, int bucketHeight, int bucketWidth)
    {
        var bucket = ShapeBucket.RoundUp(height, width, multiple);

        Assert.Equal(new ShapeBucket(bucketHeight, bucketWidth), bucket);
        Assert.Equal($"{bucketHeight}x{bucketWidth}", bucket.ToString());
    }

    [Fact]
    public void Shape_bucket_round_up_refuses_non_positive_sizes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapeBucket.RoundUp(0, 10, 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapeBucket.RoundUp(10, 10, 0));
    }
}
