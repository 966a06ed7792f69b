import Foundation

/// Converts between `Date` and PostgreSQL's ISO timestamp text without `DateFormatter` (not `Sendable`, slow).
enum PostgresTimestamp {
    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`, UTC, microseconds (PostgreSQL's precision), ` BC` for years before 1.
    static func encode(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (days, microOfDay) = floorDivide(micros, 86_400_000_000)
        let (year, month, day) = civil(fromDays: days)
        let second = microOfDay / 1_000_000
        let fraction = microOfDay % 1_000_000
        let displayYear = year > 0 ? year : 1 - year
        var text =
            "\(pad(displayYear, 4))-\(pad(month, 2))-\(pad(day, 2)) "
            + "\(pad(second / 3600, 2)):\(pad(second / 60 % 60, 2)):\(pad(second % 60, 2))"
        if fraction != 0 { text += ".\(pad(fraction, 6))" }
        text += "+00"
        if year <= 0 { text += " BC" }
        return text
    }

    /// Parses `YYYY-MM-DD[ HH:MM:SS[.f…]][±HH[:MM[:SS]]][ BC]`, `infinity` and `-infinity`.
    static func decode(_ text: String) -> Date? {
        switch text {
        case "infinity": return .distantFuture
        case "-infinity": return .distantPast
        default: break
        }
        var scanner = DigitScanner(text)
        var bc = false
        if scanner.utf8.last == UInt8(ascii: "C"), text.hasSuffix(" BC") {
            bc = true
            scanner = DigitScanner(String(text.dropLast(3)))
        }
        guard var year = scanner.number(), scanner.take("-"),
            let month = scanner.number(digits: 2), scanner.take("-"),
            let day = scanner.number(digits: 2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        if bc { year = 1 - year }
        var micros: Int64 = 0
        var offsetSeconds: Int64 = 0
        if scanner.take(" ") || scanner.take("T") {
            guard let hour = scanner.number(digits: 2), scanner.take(":"),
                let minute = scanner.number(digits: 2), scanner.take(":"),
                let second = scanner.number(digits: 2), hour <= 24, minute < 60, second < 61
            else { return nil }
            micros = (hour * 3600 + minute * 60 + second) * 1_000_000
            if scanner.take(".") {
                guard let (fraction, digits) = scanner.fraction() else { return nil }
                var scaled = fraction
                var count = digits
                while count < 6 {
                    scaled *= 10
                    count += 1
                }
                while count > 6 {
                    scaled /= 10
                    count -= 1
                }
                micros += scaled
            }
            if let sign = scanner.sign() {
                guard let hours = scanner.number(digits: 2) else { return nil }
                var offset = hours * 3600
                if scanner.take(":") {
                    guard let minutes = scanner.number(digits: 2) else { return nil }
                    offset += minutes * 60
                    if scanner.take(":") {
                        guard let seconds = scanner.number(digits: 2) else { return nil }
                        offset += seconds
                    }
                }
                offsetSeconds = sign * offset
            }
        }
        guard scanner.isAtEnd else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let totalMicros = days * 86_400_000_000 + micros - offsetSeconds * 1_000_000
        return Date(timeIntervalSince1970: Double(totalMicros) / 1_000_000)
    }

    // MARK: Calendar arithmetic (proleptic Gregorian; Howard Hinnant's algorithms)

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value / divisor
        let remainder = value % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A tiny cursor over ASCII digits and punctuation.
private struct DigitScanner {
    let utf8: [UInt8]
    private var position = 0

    init(_ text: String) { utf8 = Array(text.utf8) }

    var isAtEnd: Bool { position == utf8.count }

    mutating func take(_ character: Character) -> Bool {
        guard position < utf8.count, utf8[position] == character.asciiValue else { return false }
        position += 1
        return true
    }

    mutating func sign() -> Int64? {
        if take("+") { return 1 }
        if take("-") { return -1 }
        return nil
    }

    /// Reads exactly `digits` digits, or at least one when `digits` is nil.
    mutating func number(digits: Int? = nil) -> Int64? {
        guard let (value, count) = fraction(), digits == nil || count == digits else { return nil }
        return value
    }

    /// Reads one or more digits, returning their value and count.
    mutating func fraction() -> (Int64, Int)? {
        var value: Int64 = 0
        let start = position
        while position < utf8.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(utf8[position]),
            position - start < 18
        {
            value = value * 10 + Int64(utf8[position] - UInt8(ascii: "0"))
            position += 1
        }
        return position > start ? (value, position - start) : nil
    }
}
