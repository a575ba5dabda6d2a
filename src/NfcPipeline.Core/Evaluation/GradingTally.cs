using NfcPipeline.Core.Measurements;

namespace NfcPipeline.Core.Evaluation;

/// <summary>Counts where the pipeline's image grading agrees with the truth's.</summary>
internal sealed class GradingTally
{
    private int _images, _bothGradable, _bothUngradable;
    private readonly List<GradingDisagreement> _disagreements = [];

    public void Add(string image, bool truthGradable, ImageGrading pipeline)
    {
        _images++;
        if (truthGradable == pipeline.IsGradable)
        {
            if (truthGradable) _bothGradable++; else _bothUngradable++;
            return;
        }
        _disagreements.Add(new GradingDisagreement(image, truthGradable, pipeline.IsGradable, pipeline.IsGradable ? null : pipeline.Explanation));
    }

    /// <summary>Null when no image had both gradings.</summary>
    public GradingAgreement? Result() => _images == 0 ? null : new GradingAgreement(_images, _bothGradable, _bothUngradable, _disagreements.ToArray());
}
