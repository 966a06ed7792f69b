import CLibPQ
import Foundation
import Logging

/// Owns one `PGconn` and is the only code that calls libpq for it.
///
/// Every method blocks and must run on the connection's ``ConnectionWorker`` thread.
///
/// `@unchecked Sendable` is sound because of thread confinement: instances are created by ``PostgresConnection`` and
/// only ever touched inside jobs submitted to that connection's single ``ConnectionWorker``. The worker runs its jobs
/// one at a time on one thread, and its mutex-protected queue orders each job after the previous one, so no two
/// threads ever access the mutable state (`connection`, `preparedStatements`) concurrently. The type is `Sendable`
/// only so that job closures may capture it.
final class LibPQSession: @unchecked Sendable {
    /// Where we connect, for messages: `user@host:port/dbname`, never the password.
    private(set) var target: String
    private let logger: Logger
    private var connection: OpaquePointer?
    /// Prepared statements known to exist on the server for this session: name → SQL.
    private var preparedStatements: [String: String] = [:]

    init(logger: Logger) {
        self.logger = logger
        self.target = "postgres"
    }

    deinit {
        finish()
    }

    // MARK: Connecting

    /// Connects with libpq's `PQconnectdbParams`, expanding `conninfo` (key=value or URI) as the `dbname` keyword.
    func connect(conninfo: String, connectTimeout: Duration) throws {
        let parsed = try ParsedConninfo(conninfo)
        target = parsed.target
        let seconds = max(
            1, Int(connectTimeout.components.seconds) + (connectTimeout.components.attoseconds > 0 ? 1 : 0))
        // Later keywords override the expanded conninfo; `fallback_application_name` yields to the caller's.
        let parameters: [(String, String)] = [
            // GSSAPI encryption is off unless the conninfo asks for it: probing it loads Kerberos, whose mutex
            // assertions abort a multi-threaded process (seen here: "k5_mutex_unlock: Received error 22").
            ("gssencmode", "disable"),
            // A dead server or a cut network must fail a query instead of hanging it: keepalives notice an idle
            // connection's silence within 25 s, tcp_user_timeout fails one whose data goes unacknowledged for 30 s
            // (PostgreSQL has no heartbeat of its own). Given before `dbname`, so the conninfo may override them.
            ("keepalives", "1"),
            ("keepalives_idle", "10"),
            ("keepalives_interval", "5"),
            ("keepalives_count", "3"),
            ("tcp_user_timeout", "30000"),
            ("dbname", conninfo),
            ("connect_timeout", String(seconds)),
            ("client_encoding", "UTF8"),
            ("fallback_application_name", "stockwire"),
        ]
        let conn = withCStringArrays(parameters.map(\.0), parameters.map(\.1)) { keywords, values in
            PQconnectdbParams(keywords, values, 1)
        }
        guard let conn else {
            throw PostgresError(code: .connectionFailed, message: "connect to \(target): out of memory")
        }
        connection = conn
        if let described = Self.describe(conn) { target = described }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = parsed.redact(Self.errorText(PQerrorMessage(conn)))
            finish()
            throw PostgresError(code: .connectionFailed, message: "connect to \(target) failed: \(message)")
        }
        installNoticeReceiver(conn)
        try configureSession()
        logger.debug("postgres connected", metadata: ["target": "\(target)", "pid": "\(PQbackendPID(conn))"])
    }

    /// Re-establishes a broken connection with the original parameters (`PQreset`); prepared statements are gone.
    func reset() throws {
        guard let conn = connection else {
            throw PostgresError(code: .connectionClosed, message: "\(target): connection is closed")
        }
        preparedStatements.removeAll()
        PQreset(conn)
        guard PQstatus(conn) == CONNECTION_OK else {
            throw PostgresError(
                code: .connectionFailed,
                message: "reconnect to \(target) failed: \(Self.errorText(PQerrorMessage(conn)))")
        }
        try configureSession()
        logger.notice("postgres reconnected", metadata: ["target": "\(target)", "pid": "\(PQbackendPID(conn))"])
    }

    /// Closes the connection; later calls throw ``PostgresError/Code/connectionClosed``.
    func finish() {
        if let conn = connection {
            PQfinish(conn)
            connection = nil
            preparedStatements.removeAll()
        }
    }

    /// Whether libpq considers the connection usable.
    var isConnected: Bool {
        guard let conn = connection else { return false }
        return PQstatus(conn) == CONNECTION_OK
    }

    /// Whether the session is inside a transaction block (open or failed).
    func isInTransaction() throws -> Bool {
        let conn = try liveConnection()
        let status = PQtransactionStatus(conn)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    // MARK: Statements

    /// Runs one statement with text-format parameters (`PQexecParams`).
    func query(_ sql: String, parameters: [String?]) throws -> PostgresQueryResult {
        let conn = try liveConnection()
        try Self.validate(parameters, statement: sql)
        let result = withCStrings(parameters) { values in
            PQexecParams(conn, sql, Int32(values.count), nil, values, nil, nil, 0)
        }
        return try consume(result, statement: sql)
    }

    /// Runs a script of one or more statements without parameters (`PQexec`); returns the last statement's result.
    func execute(_ sql: String) throws -> PostgresQueryResult {
        let conn = try liveConnection()
        return try consume(PQexec(conn, sql), statement: sql)
    }

    /// Runs a named prepared statement, preparing it on first use in this session.
    func query(prepared name: String, sql: String, parameters: [String?]) throws -> PostgresQueryResult {
        let conn = try liveConnection()
        try Self.validate(parameters, statement: sql)
        if let known = preparedStatements[name] {
            guard known == sql else {
                throw PostgresError(
                    code: .preparedStatementConflict,
                    message: "prepared statement \"\(name)\" already holds different SQL on this connection",
                    statement: sql)
            }
        } else {
            try prepare(conn, name: name, sql: sql)
        }
        do {
            return try executePrepared(conn, name: name, sql: sql, parameters: parameters)
        } catch let error as PostgresError where error.sqlState == "26000" && PQtransactionStatus(conn) == PQTRANS_IDLE {
            // Someone ran DEALLOCATE or DISCARD ALL behind our back: prepare again and retry once.
            preparedStatements[name] = nil
            try prepare(conn, name: name, sql: sql)
            return try executePrepared(conn, name: name, sql: sql, parameters: parameters)
        }
    }

    private func prepare(_ conn: OpaquePointer, name: String, sql: String) throws {
        _ = try consume(PQprepare(conn, name, sql, 0, nil), statement: sql)
        preparedStatements[name] = sql
    }

    private func executePrepared(
        _ conn: OpaquePointer, name: String, sql: String, parameters: [String?]
    ) throws -> PostgresQueryResult {
        let result = withCStrings(parameters) { values in
            PQexecPrepared(conn, name, Int32(values.count), values, nil, nil, 0)
        }
        return try consume(result, statement: sql)
    }

    /// Runs named prepared statements as one pipeline (libpq pipeline mode): every statement is sent, then one sync,
    /// then every result is read, so the batch costs one round trip instead of one per statement. The server runs
    /// them in order, as if sent one by one; after the first failure the rest are skipped (`PGRES_PIPELINE_ABORTED`)
    /// and that failure is thrown. Statements this session has not prepared yet are prepared in the same pipeline; a
    /// statement with an empty name is sent with its SQL and not prepared.
    ///
    /// Sends block, but libpq's send loop reads what the server answers meanwhile (fe-misc.c, `pqSendSome`), so a
    /// pipeline whose parameters and results both outgrow the socket's buffers does not deadlock.
    func pipeline(_ items: [(statement: PostgresStatement, parameters: [String?])]) throws -> [PostgresQueryResult] {
        let conn = try liveConnection()
        for item in items { try Self.validate(item.parameters, statement: item.statement.sql) }
        var preparing: [String: String] = [:]
        for item in items where !item.statement.name.isEmpty {
            if let known = preparedStatements[item.statement.name] ?? preparing[item.statement.name] {
                guard known == item.statement.sql else {
                    throw PostgresError(
                        code: .preparedStatementConflict,
                        message: "prepared statement \"\(item.statement.name)\" already holds different SQL on this connection",
                        statement: item.statement.sql)
                }
            } else {
                preparing[item.statement.name] = item.statement.sql
            }
        }
        guard PQenterPipelineMode(conn) == 1 else { throw makeError(result: nil, statement: "(enter pipeline mode)") }
        // What was sent, in order: a prepare (index nil) or an execute of items[index].
        var sent: [(index: Int?, name: String, sql: String)] = []
        var sendFailure: PostgresError?
        for (index, item) in items.enumerated() {
            let name = item.statement.name
            if name.isEmpty {
                // Unnamed: sent with its SQL (BEGIN, COMMIT), nothing prepared.
                let ok = withCStrings(item.parameters) { values in
                    PQsendQueryParams(conn, item.statement.sql, Int32(values.count), nil, values, nil, nil, 0)
                }
                guard ok == 1 else {
                    sendFailure = makeError(result: nil, statement: item.statement.sql)
                    break
                }
                sent.append((index, name, item.statement.sql))
                continue
            }
            // The first use of a name not prepared yet prepares it; later uses in this pipeline find it prepared.
            if preparing.removeValue(forKey: name) != nil {
                guard PQsendPrepare(conn, name, item.statement.sql, 0, nil) == 1 else {
                    sendFailure = makeError(result: nil, statement: item.statement.sql)
                    break
                }
                sent.append((nil, name, item.statement.sql))
            }
            let ok = withCStrings(item.parameters) { values in
                PQsendQueryPrepared(conn, name, Int32(values.count), values, nil, nil, 0)
            }
            guard ok == 1 else {
                sendFailure = makeError(result: nil, statement: item.statement.sql)
                break
            }
            sent.append((index, name, item.statement.sql))
        }
        // The sync goes out even after a failed send, so that the server answers what it got and the pipeline ends
        // at a known point.
        let synced = PQstatus(conn) != CONNECTION_BAD && PQpipelineSync(conn) == 1
        if sendFailure == nil, !synced { sendFailure = makeError(result: nil, statement: "(pipeline sync)") }
        PostgresMetrics.roundTrips.increment()
        PostgresMetrics.statements.increment(by: sent.count)
        var results = [PostgresQueryResult?](repeating: nil, count: items.count)
        var firstFailure: PostgresError? = sendFailure
        if synced {
            // Each statement's results end with a null (an aborted one's is PGRES_PIPELINE_ABORTED); then the sync's.
            // `next` counts the nulls read: the statement whose results come now.
            var next = 0
            reading: while PQstatus(conn) != CONNECTION_BAD {
                guard let result = PQgetResult(conn) else {
                    next += 1
                    if next > sent.count + 1 { break reading }  // no sync will come: the connection is of no use
                    continue
                }
                defer { PQclear(result) }
                let entry = next < sent.count ? sent[next] : nil
                switch PQresultStatus(result) {
                case PGRES_PIPELINE_SYNC:
                    break reading
                case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                    guard let entry else { continue }
                    if let index = entry.index {
                        results[index] = Self.materialize(result)
                    } else {
                        // Prepared statements outlive a failed transaction: remember it whatever follows.
                        preparedStatements[entry.name] = entry.sql
                    }
                case PGRES_PIPELINE_ABORTED:
                    continue
                default:
                    if firstFailure == nil {
                        firstFailure = makeError(result: result, statement: entry?.sql ?? "(pipeline)")
                    }
                }
            }
        }
        // Out of pipeline mode whatever happened: a session left in it refuses every later statement and reads as
        // "in a transaction" (PQtransactionStatus ACTIVE). When it cannot leave, the connection is treated as lost,
        // so the caller resets it (PQreset ends pipeline mode).
        if PQexitPipelineMode(conn) != 1 {
            var left = 2 * sent.count + 2
            while PQstatus(conn) != CONNECTION_BAD, left > 0, PQexitPipelineMode(conn) != 1 {
                if let result = PQgetResult(conn) { PQclear(result) }
                left -= 1
            }
        }
        if PQstatus(conn) == CONNECTION_BAD || PQpipelineStatus(conn) != PQ_PIPELINE_OFF {
            let cause = firstFailure?.message ?? Self.errorText(PQerrorMessage(conn))
            throw PostgresError(
                code: .connectionLost, sqlState: firstFailure?.sqlState,
                message: "\(target): connection lost during a pipeline: \(cause)",
                statement: firstFailure?.statement ?? items.first?.statement.sql)
        }
        if let firstFailure { throw firstFailure }
        return results.map {
            $0 ?? PostgresQueryResult(columns: PostgresColumns(names: []), rows: [], commandTag: "", affectedRows: nil)
        }
    }

    // MARK: Results and errors

    private func liveConnection() throws -> OpaquePointer {
        guard let conn = connection else {
            throw PostgresError(code: .connectionClosed, message: "\(target): connection is closed")
        }
        guard PQstatus(conn) == CONNECTION_OK, PQpipelineStatus(conn) == PQ_PIPELINE_OFF else {
            throw PostgresError(
                code: .connectionLost, message: "\(target): connection is broken; call reset() to reconnect")
        }
        return conn
    }

    /// Converts a `PGresult` into Swift values or an error, and always frees it.
    private func consume(_ result: OpaquePointer?, statement: String) throws -> PostgresQueryResult {
        PostgresMetrics.roundTrips.increment()
        PostgresMetrics.statements.increment()
        guard let result else {
            throw makeError(result: nil, statement: statement)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return Self.materialize(result)
        default:
            throw makeError(result: result, statement: statement)
        }
    }

    private static func materialize(_ result: OpaquePointer) -> PostgresQueryResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let names = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        let columns = PostgresColumns(names: names)
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, row, column)))
                }
            }
            rows.append(PostgresRow(columns: columns, values: values))
        }
        let commandTag = String(cString: PQcmdStatus(result))
        let affected = Int(String(cString: PQcmdTuples(result)))
        return PostgresQueryResult(columns: columns, rows: rows, commandTag: commandTag, affectedRows: affected)
    }

    private func makeError(result: OpaquePointer?, statement: String) -> PostgresError {
        let lost = connection.map { PQstatus($0) == CONNECTION_BAD } ?? true
        func field(_ code: Character) -> String? {
            guard let result, let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let primary =
            field("M")
            ?? result.map { Self.errorText(PQresultErrorMessage($0)) }
            ?? connection.map { Self.errorText(PQerrorMessage($0)) } ?? "unknown error"
        var message = primary.isEmpty ? "unknown error" : primary
        if lost {
            message = "\(target): connection lost: \(message)"
            logger.warning("postgres connection lost", metadata: ["target": "\(target)"])
        }
        return PostgresError(
            code: lost ? .connectionLost : .queryFailed,
            sqlState: field("C"),
            message: message,
            detail: field("D"),
            constraintName: field("n"),
            statement: statement)
    }

    /// libpq messages end in newlines and sometimes contain tab-indented continuation lines; make them one line.
    private static func errorText(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }

    private static func validate(_ parameters: [String?], statement: String) throws {
        for (index, value) in parameters.enumerated() where value?.utf8.contains(0) == true {
            throw PostgresError(
                code: .invalidArgument,
                message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold",
                statement: statement)
        }
    }

    private static func describe(_ conn: OpaquePointer) -> String? {
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
            pointer.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        guard let db = text(PQdb(conn)) else { return nil }
        let user = text(PQuser(conn)).map { "\($0)@" } ?? ""
        let host = text(PQhost(conn)) ?? "localhost"
        let port = text(PQport(conn)).map { ":\($0)" } ?? ""
        return "\(user)\(host)\(port)/\(db)"
    }

    // MARK: Session setup

    /// Session settings the decoders rely on: ISO timestamps.
    private func configureSession() throws {
        _ = try execute("SET DateStyle TO ISO")
    }

    private func installNoticeReceiver(_ conn: OpaquePointer) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        PQsetNoticeReceiver(
            conn,
            { context, result in
                guard let context, let result else { return }
                let session = Unmanaged<LibPQSession>.fromOpaque(context).takeUnretainedValue()
                session.logger.debug(
                    "postgres notice",
                    metadata: [
                        "target": "\(session.target)",
                        "notice": "\(LibPQSession.errorText(PQresultErrorMessage(result)))",
                    ])
            },
            context)
    }
}

// MARK: - Conninfo parsing

/// The parts of a conninfo string we may show, plus the password so messages can be scrubbed of it.
private struct ParsedConninfo {
    var target: String
    var password: String?

    init(_ conninfo: String) throws {
        var errorPointer: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorPointer) else {
            var detail = ""
            if let errorPointer {
                // libpq quotes the offending token, which may be the password; only show it when there is none.
                if !conninfo.contains("password"), !conninfo.contains("@") {
                    detail = ": " + String(cString: errorPointer).trimmingCharacters(in: .whitespacesAndNewlines)
                }
                PQfreemem(errorPointer)
            }
            throw PostgresError(code: .connectionFailed, message: "malformed PostgreSQL connection string\(detail)")
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        let env = ProcessInfo.processInfo.environment
        let user = values["user"] ?? env["PGUSER"]
        let host = values["host"] ?? values["hostaddr"] ?? env["PGHOST"] ?? "localhost"
        let port = values["port"] ?? env["PGPORT"]
        let db = values["dbname"] ?? env["PGDATABASE"] ?? user ?? "?"
        target = "\(user.map { "\($0)@" } ?? "")\(host)\(port.map { ":\($0)" } ?? "")/\(db)"
        password = values["password"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func redact(_ message: String) -> String {
        guard let password else { return message }
        return message.replacingOccurrences(of: password, with: "********")
    }
}

// MARK: - C string helpers

/// Calls `body` with NUL-terminated copies of `strings` (nil stays nil), freed afterwards.
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let owned = strings.map { $0.map { strdup($0)! } }
    defer { owned.forEach { free($0) } }
    return body(owned.map { $0.map { UnsafePointer($0) } })
}

/// Calls `body` with two NULL-terminated arrays of C strings, as `PQconnectdbParams` wants.
private func withCStringArrays<R>(
    _ first: [String], _ second: [String], _ body: ([UnsafePointer<CChar>?], [UnsafePointer<CChar>?]) -> R
) -> R {
    withCStrings(first.map { $0 }) { keys in
        withCStrings(second.map { $0 }) { values in
            body(keys + [nil], values + [nil])
        }
    }
}
