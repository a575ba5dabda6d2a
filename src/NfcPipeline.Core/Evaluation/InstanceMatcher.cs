using NfcPipeline.Core.Domain;

namespace NfcPipeline.Core.Evaluation;

public sealed record InstanceMatch(int PredictionIndex, int TruthIndex, double Iou);

/// <summary>One-to-one greedy matching by mask IoU, predictions taken by descending score (ties: input order), as COCO does.</summary>
public static class InstanceMatcher
{
    public static IReadOnlyList<InstanceMatch> Match(IReadOnlyList<InstanceMask> truth, IReadOnlyList<InstanceMask> predictions,
        IReadOnlyList<double> scores, double minIou = 0.5)
    {
        if (scores.Count != predictions.Count) throw new ArgumentException("One score per prediction is needed.", nameof(scores));
        var order = Enumerable.Range(0, predictions.Count).OrderByDescending(i => scores[i]).ThenBy(i => i);
        var taken = new bool[truth.Count];
        var matches = new List<InstanceMatch>();
        foreach (int p in order)
        {
            int best = -1;
            double bestIou = minIou;
            for (int t = 0; t < truth.Count; t++)
            {
                if (taken[t] || !BoxesOverlap(truth[t], predictions[p])) continue;
                double iou = truth[t].IntersectionOverUnion(predictions[p]);
                // Masks sharing no pixel never match, whatever the threshold (at 0, boxes that overlapped did).
                if (iou > 0 && iou >= bestIou && (best < 0 || iou > bestIou)) { best = t; bestIou = iou; }
            }
            if (best < 0) continue;
            taken[best] = true;
            matches.Add(new InstanceMatch(p, best, bestIou));
        }
        return matches;
    }

    private static bool BoxesOverlap(InstanceMask a, InstanceMask b) =>
        a.Left < b.Left + b.Width && b.Left < a.Left + a.Width && a.Top < b.Top + b.Height && b.Top < a.Top + a.Height;
}
