import CZlib
import Foundation

/// Errors from `gunzip(_:)`.
public struct GzipError: Error, Sendable, CustomStringConvertible {
    /// The zlib status code (`Z_DATA_ERROR`, `Z_MEM_ERROR`, ...).
    public let code: Int32
    public let message: String
    public var description: String { "gunzip failed (zlib \(code)): \(message)" }
}

/// Inflates gzip (or zlib) data with the system zlib. `windowBits` 15 + 32 makes zlib detect the header itself.
/// Concatenated gzip members are inflated one after the other, as `gzip -d` does.
public func gunzip(_ data: Data) throws -> Data {
    if data.isEmpty { return Data() }
    var stream = z_stream()
    var status = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else { throw GzipError(code: status, message: "inflateInit2 failed") }
    defer { inflateEnd(&stream) }

    var output = Data()
    // Compressed JSON inflates roughly 10x; start there to avoid most reallocations.
    output.reserveCapacity(data.count * 10)
    let chunkSize = 1 << 18
    var chunk = [UInt8](repeating: 0, count: chunkSize)

    try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
        guard let base = input.bindMemory(to: Bytef.self).baseAddress else { return }
        stream.next_in = UnsafeMutablePointer(mutating: base)
        stream.avail_in = uInt(input.count)
        repeat {
            let produced: Int = chunk.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(chunkSize)
                status = inflate(&stream, Z_NO_FLUSH)
                return chunkSize - Int(stream.avail_out)
            }
            output.append(contentsOf: chunk[0..<produced])
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                // Another gzip member may follow; reset and keep going while input remains.
                if stream.avail_in > 0 {
                    status = inflateReset(&stream)
                    if status != Z_OK { throw GzipError(code: status, message: "inflateReset failed") }
                }
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw GzipError(code: status, message: "truncated input")
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "corrupt input"
                throw GzipError(code: status, message: reason)
            }
        } while stream.avail_in > 0 || status == Z_OK
    }
    return output
}
