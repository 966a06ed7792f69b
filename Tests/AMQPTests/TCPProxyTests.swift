import Foundation
import NetworkFaults
import StockwireTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The test proxy shares the process with every other test: it must never touch a descriptor it has closed, whose
/// number the system hands to the next socket anyone opens.
@Suite struct TCPProxyTests {
    /// Connections through the proxy end while `reset()` runs again and again; meanwhile other sockets come and go in
    /// this process, and none of them may be shut down or reset by the proxy. `reset()` once shut the descriptors of
    /// a connection whose pumps had just closed them, which cost other tests' connections their next answer.
    @Test func resetNeverTouchesASocketThatIsNoLongerItsOwn() async throws {
        let target = try Listener()
        defer { target.stop() }
        let proxy = try TCPProxy(targetHost: "127.0.0.1", targetPort: target.port)
        defer { proxy.stop() }
        let done = Shared(false)
        let resets = Thread {
            while !done.value { proxy.reset() }
        }
        resets.start()
        // Blocking sockets: on a thread of its own, not on the concurrency pool.
        let port = proxy.port
        let damaged = await withCheckedContinuation { (c: CheckedContinuation<[String], Never>) in
            Thread { c.resume(returning: Self.connectAndWatchBystanders(proxyPort: port, for: .seconds(3))) }.start()
        }
        done.update { $0 = true }
        #expect(damaged.isEmpty, "sockets the proxy does not own were shut: \(damaged.prefix(3))")
    }

    /// Opens and at once closes connections through the proxy, each followed by a few bystander socket pairs that
    /// must carry a byte; returns what was damaged.
    static func connectAndWatchBystanders(proxyPort: Int, for duration: Duration) -> [String] {
        var damaged: [String] = []
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline && damaged.isEmpty {
            // A connection through the proxy that ends at once: its pumps close both of their sockets.
            let through = connect(port: proxyPort)
            if through >= 0 { close(through) }
            // Bystanders open right after, likely on the numbers just freed: each must still carry a byte.
            for _ in 0..<4 {
                var pair: [Int32] = [-1, -1]
                guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { continue }
                usleep(50)
                var byte: UInt8 = 7
                let sent = send(pair[0], &byte, 1, Int32(MSG_NOSIGNAL))
                var got: UInt8 = 0
                let read = recv(pair[1], &got, 1, Int32(MSG_DONTWAIT))
                if sent != 1 || read != 1 || got != 7 {
                    damaged.append("socket pair \(pair): sent \(sent), read \(read) (errno \(errno))")
                }
                close(pair[0])
                close(pair[1])
            }
        }
        return damaged
    }

    static func connect(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            close(fd)
            return -1
        }
        return fd
    }

    /// A local TCP server that accepts and closes each connection once its client has.
    final class Listener: @unchecked Sendable {
        let fd: Int32
        let port: Int

        init() throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let fd = fd
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(fd, 512) == 0 else { throw POSIXError(.EADDRINUSE) }
            var actual = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &actual) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            port = Int(UInt16(bigEndian: actual.sin_port))
            Thread {
                while true {
                    let client = accept(fd, nil, nil)
                    if client < 0 {
                        close(fd)
                        return
                    }
                    Thread {
                        var scratch = [UInt8](repeating: 0, count: 256)
                        while recv(client, &scratch, scratch.count, 0) > 0 {}
                        close(client)
                    }.start()
                }
            }.start()
        }

        func stop() { shutdown(fd, Int32(SHUT_RDWR)) }
    }
}
