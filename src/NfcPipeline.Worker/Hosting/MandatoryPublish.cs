using MassTransit;

namespace NfcPipeline.Worker.Hosting;

/// <summary>
/// Work messages (a share folder's SubmitStudy, a chunk's AnalyzeImages) go out mandatory: with no queue bound to their
/// exchange (a broker reset, a vhost no worker has declared its queues on yet) RabbitMQ returns them and the publish
/// fails, so the folder is submitted again and the chunk stays in the outbox, where they were confirmed and dropped.
/// </summary>
public static class MandatoryPublish
{
    public static void Apply(PublishContext context)
    {
        if (context.TryGetPayload<RabbitMqSendContext>(out var rabbit)) rabbit.Mandatory = true;
    }
}
