import CRabbitMQ
import Foundation

/// Owns the C memory handed to one rabbitmq-c call (strings, tables) and frees it when dropped.
///
/// rabbitmq-c only borrows the bytes it is given, so everything it reads must stay alive for the call; an arena
/// per call makes that lifetime explicit instead of nesting `withCString` closures. Small pieces are carved out of
/// 4 KiB blocks (a publish with its headers table fits in one), so a publish costs one `malloc`, not one per string.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []
    /// The block small pieces are carved from, and how much of it is used.
    private var block: UnsafeMutableRawPointer?
    private var used = 0
    private static let blockSize = 4096

    deinit { for p in allocations { free(p) } }

    /// A copy of `string`'s UTF-8 bytes, NUL-terminated so it can also serve as a C string.
    func bytes(_ string: String) -> amqp_bytes_t {
        let copied = string.utf8.withContiguousStorageIfAvailable { copy(UnsafeRawBufferPointer($0)) }
        return copied ?? bytes(Array(string.utf8))
    }

    /// A copy of `data` as `amqp_bytes_t`.
    func bytes(_ data: [UInt8]) -> amqp_bytes_t {
        data.withUnsafeBytes { copy($0) }
    }

    private func copy(_ source: UnsafeRawBufferPointer) -> amqp_bytes_t {
        let p = memory(count: source.count + 1, alignment: 1)
        if let base = source.baseAddress { memcpy(p, base, source.count) }
        p.storeBytes(of: 0, toByteOffset: source.count, as: UInt8.self)
        return amqp_bytes_t(len: source.count, bytes: p)
    }

    /// `count` bytes that live as long as the arena: from the current block when they fit, else from a new block,
    /// or on their own when they are large.
    private func memory(count: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let start = (used + alignment - 1) & ~(alignment - 1)
        if let block, start + count <= Self.blockSize {
            used = start + count
            return block + start
        }
        if count > Self.blockSize / 4 {
            let p = malloc(max(count, 1))!
            allocations.append(p)
            return p
        }
        let fresh = malloc(Self.blockSize)!
        allocations.append(fresh)
        block = fresh
        used = count
        return fresh
    }

    /// A NUL-terminated C string that lives as long as the arena.
    func cString(_ string: String) -> UnsafePointer<CChar> {
        UnsafePointer(bytes(string).bytes.assumingMemoryBound(to: CChar.self))
    }

    /// A field table with the entries sorted by key (deterministic on the wire).
    func table(_ dict: [String: AMQPValue]) -> amqp_table_t {
        guard !dict.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(amqp_table_entry_t.self, count: dict.count)
        for (i, (key, value)) in dict.sorted(by: { $0.key < $1.key }).enumerated() {
            entries[i] = amqp_table_entry_t(key: bytes(key), value: field(value))
        }
        return amqp_table_t(num_entries: Int32(dict.count), entries: entries)
    }

    private func field(_ value: AMQPValue) -> amqp_field_value_t {
        var f = amqp_field_value_t()
        switch value {
        case .string(let s):
            f.kind = UInt8(ascii: "S")
            f.value.bytes = bytes(s)
        case .bytes(let b):
            f.kind = UInt8(ascii: "x")
            f.value.bytes = bytes(b)
        case .bool(let b):
            f.kind = UInt8(ascii: "t")
            f.value.boolean = b ? 1 : 0
        case .int32(let v):
            f.kind = UInt8(ascii: "I")
            f.value.i32 = v
        case .int64(let v):
            f.kind = UInt8(ascii: "l")
            f.value.i64 = v
        case .double(let v):
            f.kind = UInt8(ascii: "d")
            f.value.f64 = v
        case .timestamp(let v):
            f.kind = UInt8(ascii: "T")
            f.value.u64 = v
        case .table(let t):
            f.kind = UInt8(ascii: "F")
            f.value.table = table(t)
        case .array(let items):
            f.kind = UInt8(ascii: "A")
            let entries = allocate(amqp_field_value_t.self, count: max(items.count, 1))
            for (i, item) in items.enumerated() { entries[i] = field(item) }
            f.value.array = amqp_array_t(num_entries: Int32(items.count), entries: entries)
        case .void:
            f.kind = UInt8(ascii: "V")
        }
        return f
    }

    /// Zeroed memory for `count` values of `T`.
    private func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let size = count * MemoryLayout<T>.stride
        let p = memory(count: size, alignment: max(MemoryLayout<T>.alignment, 16))
        memset(p, 0, size)
        return p.bindMemory(to: T.self, capacity: count)
    }
}

// MARK: - Reading C values into Swift

extension amqp_bytes_t {
    /// The bytes copied into a Swift array.
    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }

    /// The bytes as a (lossy) UTF-8 string.
    var string: String { String(decoding: array, as: UTF8.self) }
}

extension AMQPValue {
    /// Converts a decoded field-table value; unknown kinds become `.void`.
    init(_ f: amqp_field_value_t) {
        switch f.kind {
        case UInt8(ascii: "S"): self = .string(f.value.bytes.string)
        case UInt8(ascii: "x"): self = .bytes(f.value.bytes.array)
        case UInt8(ascii: "t"): self = .bool(f.value.boolean != 0)
        case UInt8(ascii: "b"): self = .int32(Int32(f.value.i8))
        case UInt8(ascii: "B"): self = .int32(Int32(f.value.u8))
        case UInt8(ascii: "s"): self = .int32(Int32(f.value.i16))
        case UInt8(ascii: "u"): self = .int32(Int32(f.value.u16))
        case UInt8(ascii: "I"): self = .int32(f.value.i32)
        case UInt8(ascii: "i"): self = .int64(Int64(f.value.u32))
        case UInt8(ascii: "l"): self = .int64(f.value.i64)
        case UInt8(ascii: "L"): self = .int64(Int64(clamping: f.value.u64))
        case UInt8(ascii: "f"): self = .double(Double(f.value.f32))
        case UInt8(ascii: "d"): self = .double(f.value.f64)
        case UInt8(ascii: "T"): self = .timestamp(f.value.u64)
        case UInt8(ascii: "F"): self = .table(Self.dictionary(f.value.table))
        case UInt8(ascii: "A"):
            let a = f.value.array
            var items: [AMQPValue] = []
            if let entries = a.entries {
                for i in 0..<Int(a.num_entries) { items.append(AMQPValue(entries[i])) }
            }
            self = .array(items)
        default: self = .void
        }
    }

    /// Converts a decoded field table.
    static func dictionary(_ t: amqp_table_t) -> [String: AMQPValue] {
        var out: [String: AMQPValue] = [:]
        guard let entries = t.entries else { return out }
        for i in 0..<Int(t.num_entries) { out[entries[i].key.string] = AMQPValue(entries[i].value) }
        return out
    }
}
