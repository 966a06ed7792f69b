import CRabbitMQ
import Foundation

/// Owns the C memory handed to one rabbitmq-c call (strings, tables) and frees it when dropped.
///
/// rabbitmq-c only borrows the bytes it is given, so everything it reads must stay alive for the call; an arena
/// per call makes that lifetime explicit instead of nesting `withCString` closures.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit { for p in allocations { free(p) } }

    /// A copy of `string`'s UTF-8 bytes, NUL-terminated so it can also serve as a C string.
    func bytes(_ string: String) -> amqp_bytes_t {
        let utf8 = Array(string.utf8)
        return bytes(utf8)
    }

    /// A copy of `data` as `amqp_bytes_t`.
    func bytes(_ data: [UInt8]) -> amqp_bytes_t {
        let p = malloc(data.count + 1)!
        allocations.append(p)
        data.withUnsafeBytes { src in
            if let base = src.baseAddress { memcpy(p, base, data.count) }
        }
        p.storeBytes(of: 0, toByteOffset: data.count, as: UInt8.self)
        return amqp_bytes_t(len: data.count, bytes: p)
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

    private func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let p = calloc(count, MemoryLayout<T>.stride)!
        allocations.append(p)
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
