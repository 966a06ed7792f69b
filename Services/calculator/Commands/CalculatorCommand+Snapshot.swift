import ArgumentParser
import Contracts
import Foundation
import Logging
import Postgres
import ServiceKit

extension CalculatorCommand {
    // MARK: - snapshot

    struct SnapshotCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "snapshot",
            abstract: "Write a consistent export of the stock truth to a file (for `calculator rebuild`).",
            discussion: """
                Reads every table of the truth in one REPEATABLE READ transaction (one moment, while the calculator \
                keeps running): SKUs, warehouse levels, orders and their lines, refunds, variants, the ids of the \
                events applied (for dedupe) and the per-SKU history. The file is JSON and names the moment it shows \
                (taken_at) and the schema version. Rebuild from it with `calculator rebuild --snapshot <file>`.
                """)

        @OptionGroup var database: DatabaseOptions
        @Option(help: "Where to write the snapshot (it is replaced atomically; '-' writes to standard output).")
        var output: String

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            defer { Task { await db.close() } }
            let (document, summary) = try await Snapshot.take(db)
            if output == "-" {
                FileHandle.standardOutput.write(Data(document))
                FileHandle.standardError.write(Data((summary.text + "\n").utf8))
            } else {
                try Data(document).write(to: URL(fileURLWithPath: output), options: .atomic)
                print("\(summary.text)\nwritten to \(output) (\(document.count) bytes)")
            }
        }
    }

    // MARK: - rebuild

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild the truth into an empty database from a snapshot plus the event log after it.",
            discussion: """
                1. Migrates the database given with --postgres (it must hold no truth yet) and loads the snapshot in \
                one transaction (a failed load leaves it empty). 2. Replays stockwire.events.log from --replay-from \
                (default: the snapshot's taken_at minus --margin-minutes) through the normal transaction path, one \
                event per transaction. The snapshot carries the ids of the events it contains, so an event replayed \
                that the snapshot already holds is a duplicate and changes nothing: starting earlier is always safe, \
                starting too late is not. An event applied after the snapshot entered the log before it was applied; \
                the margin covers how far the calculator lagged behind the log (raise it after an outage, or use \
                --replay-from first while the log's retention still covers the snapshot). The replay publishes nothing: \
                the values it passes through are the past, and shops must not be moved back to them. 3. Then run \
                `calculator publish-all` so every shop gets the rebuilt truth.
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var broker: BrokerOptions
        @Option(help: "The snapshot file written by `calculator snapshot`.") var snapshot: String
        @Option(help: "Where to start replaying the log: first, an offset, an ISO 8601 time, or none (snapshot only).")
        var replayFrom: String?
        @Option(help: "Without --replay-from: start this many minutes before the snapshot's taken_at.")
        var marginMinutes = 60
        @Option(help: "The stream to read.") var stream = StockwireTopology.eventsLog
        @Option(help: "Stop replaying when nothing arrived for this many seconds.") var idleSeconds = 3

        func validate() throws {
            if let replayFrom, replayFrom != "none", StreamReplay.Start(replayFrom) == nil {
                throw ValidationError("--replay-from '\(replayFrom)' is not 'first', 'none', an offset or an ISO 8601 time")
            }
            guard marginMinutes >= 0 else { throw ValidationError("--margin-minutes must be 0 or more") }
        }

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            let document: [UInt8]
            do {
                document = Array(try Data(contentsOf: URL(fileURLWithPath: snapshot)))
            } catch {
                throw ValidationError("cannot read the snapshot \(snapshot): \(error.localizedDescription)")
            }
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            let summary: Snapshot.Summary
            do {
                try await Migrator.migrate(db, CalculatorSchema.migrations, logger: logger)
                summary = try await Snapshot.restore(document, into: db)
                await db.close()
            } catch {
                await db.close()
                throw error
            }
            print("restored: \(summary.text)")
            let start: StreamReplay.Start
            switch replayFrom {
            case "none"?:
                print("no replay (--replay-from none); run `calculator publish-all` so the shops get this truth")
                return
            case let from?: start = StreamReplay.Start(from)!
            case nil:
                guard let takenAt = StreamReplay.Start(summary.takenAt), case .time(let t) = takenAt else {
                    throw ValidationError("the snapshot's taken_at '\(summary.takenAt)' is not a time; pass --replay-from")
                }
                start = .time(t.addingTimeInterval(-Double(marginMinutes) * 60))
            }
            var configuration = try CalculatorConfiguration.fromEnvironment()
            configuration.postgres = database.conninfo
            configuration.broker = broker.settings
            let report = try await Replay.replay(
                configuration: configuration, stream: stream, from: start, until: nil, batchSize: 1,
                idle: .seconds(idleSeconds), publishing: .none, logger: logger)
            print(report.summary)
            print("next: `calculator publish-all` so every shop gets the rebuilt truth")
        }
    }
}
