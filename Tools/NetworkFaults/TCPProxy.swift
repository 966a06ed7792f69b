import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP proxy of the project's own between a client and a server, to cut the network without root or firewall
/// rules: the scenario runner's `broker-blackhole` fault, and tests that need a connection reset under load.
///
/// `blackhole()` stops forwarding in both directions but keeps every connection open: each side sees a half-open
/// connection — silence, no FIN, no RST — as when a cable is pulled or a NAT forgets the flow. New connections are
/// accepted and get nothing. The proxy records when each side gives up on a connection (closes it), which is how
/// long its dead-peer detection took. `heal()` forwards again. `reset()` aborts every open connection with a TCP
/// reset on both sides, as a broker node dying or a stateful firewall dropping the flow does.
///
/// One thread accepts; each connection has two pumping threads. Blocking calls stay off the Swift concurrency pool.
public final class TCPProxy: @unchecked Sendable {
    // @unchecked: the mutable state below is only touched under `lock`.
    /// One side giving up on a connection while it was blackholed.
    public struct GaveUp: Sendable, Codable {
        /// `client` (the service) or `server`.
        public var side: String
        /// Seconds from the start of the blackhole (or from the connection's opening, if later).
        public var afterSeconds: Double
        /// Whether the connection was open when the blackhole began (not a reconnection attempt during it).
        public var openAtCut: Bool
    }

    /// The proxy could not listen.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let port: Int
    private let targetHost: String
    private let targetPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var blackholedSince: Date?
    private var open = 0
    private var gaveUp: [GaveUp] = []
    private var stopped = false
    /// Every open connection, so that `reset()` can abort them.
    private var connections: [ObjectIdentifier: Connection] = [:]

    /// Listens on 127.0.0.1 (an ephemeral port) and forwards to `host:port`.
    public init(targetHost: String, targetPort: Int) throws {
        self.targetHost = targetHost
        self.targetPort = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "proxy: socket() failed: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.address("127.0.0.1", 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw Failure(description: "proxy: cannot listen on 127.0.0.1: errno \(errno)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: actual.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "proxy-accept"
        thread.start()
    }

    /// Stops forwarding, keeping every connection open.
    public func blackhole() { lock.withLock { blackholedSince = Date() } }

    /// Forwards again.
    public func heal() { lock.withLock { blackholedSince = nil } }

    /// Connections open now, and every side that gave up on one during a blackhole.
    public var figures: (open: Int, gaveUp: [GaveUp]) { lock.withLock { (open, gaveUp) } }

    /// Aborts every open connection: both sides get a TCP reset (`SO_LINGER` 0), not an orderly close. Returns how
    /// many connections were reset.
    @discardableResult
    public func reset() -> Int {
        let open = lock.withLock { Array(connections.values) }
        for connection in open { connection.abort() }
        return open.count
    }

    /// Stops accepting (open connections go on). The accept loop closes the listener as it ends: closed here, an
    /// accept still to come could take a connection from whatever socket got the number next.
    public func stop() {
        lock.withLock { stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    // MARK: - Threads

    private func acceptLoop() {
        defer { close(listener) }
        while !lock.withLock({ stopped }) {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            if lock.withLock({ stopped }) {
                close(client)
                return
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.address(targetHost, targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard server >= 0, connected == 0 else {
                close(client)
                if server >= 0 { close(server) }
                continue
            }
            let opened = Date()
            let connection = Connection(client: client, server: server)
            signal(SIGPIPE, SIG_IGN)
            lock.withLock {
                open += 1
                connections[ObjectIdentifier(connection)] = connection
            }
            for (from, to, side) in [(client, server, "client"), (server, client, "server")] {
                let thread = Thread { [self] in
                    pump(from: from, to: to, side: side, opened: opened, connection: connection)
                }
                thread.name = "proxy-pump"
                thread.start()
            }
        }
    }

    /// A connection's shared state: whether one side has ended it, and how many pumps still run (the last one
    /// closes both sockets, so neither pump ever touches a descriptor number the system has handed out again).
    ///
    /// Every call on the two descriptors from outside the pumps happens under `lock`, and so does their close: a
    /// descriptor number closed and handed out again belongs to someone else in this process. (`abort()` once set
    /// `SO_LINGER` and shut for reading after releasing the lock; when the pumps closed the sockets in between, it
    /// shut a socket of another test instead, whose next read saw the end of its stream.)
    private final class Connection: @unchecked Sendable {
        let lock = NSLock()
        var ended = false
        var aborted = false
        /// Set by the last pump when it closed both sockets.
        var closed = false
        var pumps = 2
        let client: Int32
        let server: Int32
        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }

        /// Resets both sides. With `SO_LINGER` {on, 0} the close (by the last pump) sends RST instead of FIN; shutting
        /// the sockets for reading only wakes the pumps without sending anything.
        func abort() {
            lock.withLock {
                guard !ended, !closed else { return }
                ended = true
                aborted = true
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                for fd in [client, server] {
                    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                    shutdown(fd, Int32(SHUT_RD))
                }
            }
        }

        /// Called by each pump as it ends; the last one closes both sockets.
        func pumpEnded() -> Bool {
            lock.withLock {
                pumps -= 1
                guard pumps == 0 else { return false }
                closed = true
                close(client)
                close(server)
                return true
            }
        }

        /// Ends forwarding in both directions: an orderly shutdown (FIN), or, once aborted, nothing that would send
        /// a FIN before the reset.
        func halt() {
            let how = lock.withLock { aborted } ? Int32(SHUT_RD) : Int32(SHUT_RDWR)
            shutdown(client, how)
            shutdown(server, how)
        }
    }

    /// Moves bytes from `from` to `to` while forwarding. While blackholed nothing moves: it only watches whether
    /// `from`'s side gives up (end of stream or reset), records when, and leaves the other side in silence, as a
    /// real cut would. Once forwarding again, a connection one side gave up on is closed on both.
    private func pump(from: Int32, to: Int32, side: String, opened: Date, connection: Connection) {
        defer {
            if connection.pumpEnded() {
                lock.withLock {
                    open -= 1
                    connections[ObjectIdentifier(connection)] = nil
                }
            }
        }
        /// This side gave up on the connection while it was blackholed (since `since`).
        func record(_ since: Date) {
            let after = Date().timeIntervalSince(max(since, opened))
            lock.withLock {
                gaveUp.append(GaveUp(side: side, afterSeconds: (after * 100).rounded() / 100, openAtCut: opened < since))
            }
            connection.lock.withLock { connection.ended = true }
        }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        // POLLRDHUP (Linux, 0x2000): the peer closed its side, even while unread bytes are held before that end.
        let peerClosed = Int16(0x2000) | Int16(POLLHUP) | Int16(POLLERR)
        var descriptor = pollfd(fd: from, events: Int16(POLLIN) | Int16(0x2000), revents: 0)
        while true {
            let since = lock.withLock { blackholedSince }
            let ended = connection.lock.withLock { connection.ended }
            if ended, since == nil {
                connection.halt()
                return
            }
            let ready = poll(&descriptor, 1, 100)
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { continue }
            if let since {
                // Held: nothing is read (bytes wait in the socket); only this side closing ends the connection.
                guard descriptor.revents & peerClosed != 0 else {
                    usleep(50_000)
                    continue
                }
                record(since)
                return
            }
            let n = read(from, &buffer, buffer.count)
            if n <= 0 {
                connection.lock.withLock { connection.ended = true }
                connection.halt()
                return
            }
            // Writes never block: a peer that stops reading (RabbitMQ's flow control, or the other side of a cut)
            // must not keep this pump from seeing its own side give up.
            var sent = 0
            while sent < n {
                var out = pollfd(fd: to, events: Int16(POLLOUT), revents: 0)
                let writable = poll(&out, 1, 100) > 0
                if let since = lock.withLock({ blackholedSince }) {
                    var own = pollfd(fd: from, events: Int16(0x2000), revents: 0)
                    if poll(&own, 1, 0) > 0, own.revents & peerClosed != 0 {
                        record(since)
                        return
                    }
                    continue  // held: the rest of this chunk waits for the network to come back
                }
                if connection.lock.withLock({ connection.ended }) { return }
                guard writable else { continue }
                let w = buffer[sent..<n].withUnsafeBytes { send(to, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
                if w < 0, errno == EAGAIN || errno == EINTR { continue }
                if w <= 0 {
                    connection.lock.withLock { connection.ended = true }
                    connection.halt()
                    return
                }
                sent += w
            }
        }
    }

    private static func address(_ host: String, _ port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &a.sin_addr)
        return a
    }
}
