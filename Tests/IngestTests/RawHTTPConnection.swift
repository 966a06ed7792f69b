import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking HTTP/1.1 client over a plain socket, for what a polite client cannot do: announce a huge body and
/// stop, drip bytes (slowloris), watch the server close. Use it from ``onThread(_:)`` only.
final class RawHTTPConnection {
    private let fd: Int32

    struct Response {
        let status: Int
        let headers: [String: String]
        let body: String
    }

    init?(port: Int, receiveTimeout: Duration = .seconds(10)) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            return nil
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        setReceiveTimeout(receiveTimeout)
        signal(SIGPIPE, SIG_IGN)
    }

    deinit { close(fd) }

    func setReceiveTimeout(_ timeout: Duration) {
        let ms = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        var tv = timeval(tv_sec: Int(ms / 1000), tv_usec: Int((ms % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends all bytes; false when the peer is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Ends the sending side (TCP FIN) and keeps reading: a client that stops mid-body and waits for the answer.
    func finishSending() { shutdown(fd, Int32(SHUT_WR)) }

    /// True while the server keeps the connection open: nothing to read yet, and no EOF or reset (does not block).
    var isOpen: Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    }

    private var buffer: [UInt8] = []

    /// Reads one response (head and a Content-Length body); nil on timeout or close before a full response.
    func readResponse() -> Response? {
        while true {
            if let end = headEnd() {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
                    lastFailure = "unreadable status line '\(statusLine.joined(separator: " "))'"
                    return nil
                }
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                while buffer.count < end + 4 + length {
                    guard fill() else { return nil }
                }
                let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                buffer.removeFirst(end + 4 + length)
                return Response(status: status, headers: headers, body: body)
            }
            guard fill() else { return nil }
        }
    }

    /// True when the server closed the connection (EOF or reset) within the receive timeout.
    func waitForClose() -> Bool {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &scratch, scratch.count, 0)
            if n == 0 { return true }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    /// Why the last ``readResponse()`` returned nil: "closed by the server", "timed out", or the socket error.
    private(set) var lastFailure: String?

    private func fill() -> Bool {
        var scratch = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &scratch, scratch.count, 0)
            if n > 0 {
                buffer.append(contentsOf: scratch[..<n])
                return true
            }
            if n == 0 {
                lastFailure = "closed by the server"
                return false
            }
            // A signal handler anywhere in the test process interrupts a recv with SO_RCVTIMEO (never restarted).
            if errno == EINTR { continue }
            lastFailure = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : String(cString: strerror(errno))
            return false
        }
    }

    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4)
        where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// A complete request with a Content-Length body.
    static func request(path: String, headers: [(String, String)], body: [UInt8]) -> [UInt8] {
        var head = "POST \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        return Array((head + "\r\n").utf8) + body
    }
}

/// Runs blocking work (raw sockets) on a thread of its own, never on the Swift concurrency pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in
        let thread = Thread { c.resume(returning: body()) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
