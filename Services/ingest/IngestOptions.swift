import ArgumentParser
import ServiceKit

/// The command-line flags of `ingest`; each one overrides the environment variable named in its help.
struct IngestOptions: ParsableArguments {
    @Option(help: "Address to bind (env STOCKWIRE_INGEST_HOST; default 0.0.0.0).")
    var host: String?

    @Option(help: "HTTP port, 0 for any free port (env STOCKWIRE_INGEST_PORT; default 8080).")
    var port: Int?

    @Option(
        help: """
            Shops and their webhook secret files: 'domain=file[,file…];domain=file', several files per shop during a \
            secret rotation (env STOCKWIRE_SHOPS).
            """)
    var shops: String?

    @Option(
        help: """
            File with one 'domain=file[,file…]' per line, '#' starts a comment; combined with --shops \
            (env STOCKWIRE_SHOPS_FILE).
            """)
    var shopsFile: String?

    @Option(
        help: """
            File holding the warehouse's bearer token for POST /stock-movements; without it every movement is \
            refused with 401 (env STOCKWIRE_MOVEMENT_TOKEN_FILE).
            """)
    var movementTokenFile: String?

    @Option(help: "Largest request body in bytes; larger ones get 413 (env STOCKWIRE_INGEST_MAX_BODY_BYTES; default 8388608).")
    var maxBodyBytes: Int?

    @Option(
        help: """
            Bytes of request bodies held at once, all requests together; a body that would go over it gets 503 with \
            Retry-After, which Shopify retries (env STOCKWIRE_INGEST_MAX_BODY_BYTES_IN_FLIGHT; default 67108864, at \
            least the largest body).
            """)
    var maxBodyBytesInFlight: Int?

    @Option(
        name: .customLong("confirm-timeout-ms"),
        help: """
            Milliseconds to wait for the broker's publisher confirm before answering 503 \
            (env STOCKWIRE_INGEST_CONFIRM_TIMEOUT_MS; default 3000).
            """)
    var confirmTimeoutMs: Int?

    @Option(
        name: .customLong("idle-timeout-ms"),
        help: """
            Milliseconds a connection may stay silent: until a request head is complete, between body chunks, and \
            between keep-alive requests; then it is closed (env STOCKWIRE_INGEST_IDLE_TIMEOUT_MS; default 10000).
            """)
    var idleTimeoutMs: Int?

    @Option(
        name: .customLong("read-timeout-ms"),
        help: """
            Milliseconds to receive a whole body after its head; slower senders get 408 \
            (env STOCKWIRE_INGEST_READ_TIMEOUT_MS; default 10000).
            """)
    var readTimeoutMs: Int?

    @Option(
        help: """
            Open connections at most; more clients wait in the listen backlog \
            (env STOCKWIRE_INGEST_MAX_CONNECTIONS; default 4096).
            """)
    var maxConnections: Int?

    @Option(help: "Seconds in the Retry-After header of a 503 (env STOCKWIRE_INGEST_RETRY_AFTER_SECONDS; default 2).")
    var retryAfterSeconds: Int?

    @Option(
        help: """
            AMQP connections used round-robin for publishing, each with its own I/O thread \
            (env STOCKWIRE_INGEST_PUBLISHER_CONNECTIONS; default 2).
            """)
    var publisherConnections: Int?

    @Option(
        help: """
            Retention by age of the event log stream stockwire.events.log, as RabbitMQ writes it: a number and Y, M, D, h, m or s (env STOCKWIRE_EVENT_LOG_MAX_AGE; default 7D). Applies when the stream is first declared; change an existing one with a RabbitMQ policy (see the README).
            """)
    var eventLogMaxAge: String?

    @Option(
        help: """
            Retention by size of the event log stream, in bytes (env STOCKWIRE_EVENT_LOG_MAX_BYTES; default 20000000000). Applies when the stream is first declared.
            """)
    var eventLogMaxBytes: Int64?

    @Option(name: .customLong("amqp-url"), help: ArgumentHelp(stringLiteral: BrokerSettings.urlHelp))
    var amqpURL: String?

    @Option(name: .customLong("amqp-password-file"), help: ArgumentHelp(stringLiteral: BrokerSettings.passwordFileHelp))
    var amqpPasswordFile: String?
}
