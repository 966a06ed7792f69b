import Hummingbird
import NIOCore

/// The request context of ingest: Hummingbird's basics plus a way to close the connection after the answer.
struct IngestRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    private let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Asks the connection to close once the response in progress is written, so that the rest of a refused body
    /// is never read (Hummingbird would otherwise drain it to keep the connection alive).
    func closeConnectionAfterResponse() {
        // The HTTP connection handler treats a quiesce request during a request as "close after this response".
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }
}
