import Hummingbird

extension Request {
    /// The declared `Content-Length`, nil when absent (chunked), not a number, or sent more than once.
    var declaredContentLength: Int? {
        // One pass over the fields; `headers[.contentLength]` would join repeated fields with ", ", which never
        // reads as a number either.
        var found: String?
        for field in headers where field.name == .contentLength {
            guard found == nil else { return nil }
            found = field.value
        }
        return found.flatMap { Int($0.trimmingWhitespace) }
    }

    /// Reads the whole body, refusing it as soon as it is known to be too large or too slow.
    ///
    /// A declared `Content-Length` over `limit` is refused before a byte of the body is read; a chunked body is
    /// counted while it arrives and refused at the chunk that crosses the limit. Both answers close the connection,
    /// so the rest is never read. A body still incomplete after `readTimeout` gets 408; a sender that goes silent
    /// mid-body is cut off by the server's idle timeout. Every chunk takes its bytes from `lease` as it arrives: when
    /// the bodies held by all requests would go over their budget, the answer is 503 (retry later) and the
    /// connection is closed.
    func collectBody(limit: Int, readTimeout: Duration, lease: BodyLease) async throws(IngestRejection) -> [UInt8] {
        let declared = declaredContentLength
        if let declared, declared > limit { throw .tooLarge(limit: limit) }
        let deadline = ContinuousClock.now + readTimeout
        var bytes: [UInt8] = []
        // What arrives is paid for, not what is announced: a head declaring a 1 MB body and sending 10 bytes must not
        // hold 1 MB (of address space, until touched) for as long as the sender stays silent, times every connection.
        bytes.reserveCapacity(min(declared ?? 4096, 64 << 10))
        do {
            for try await chunk in body {
                guard bytes.count + chunk.readableBytes <= limit else { throw IngestRejection.tooLarge(limit: limit) }
                guard lease.grow(by: chunk.readableBytes) else { throw IngestRejection.overBudget }
                chunk.withUnsafeReadableBytes { bytes.append(contentsOf: $0) }
                if ContinuousClock.now > deadline {
                    throw IngestRejection(
                        status: .requestTimeout, reason: "read_timeout",
                        message: "the body did not arrive within \(readTimeout)", closeConnection: true)
                }
            }
        } catch let rejection as IngestRejection {
            throw rejection
        } catch {
            throw IngestRejection(
                status: .badRequest, reason: "read_failed", message: "the body could not be read", closeConnection: true)
        }
        return bytes
    }
}
