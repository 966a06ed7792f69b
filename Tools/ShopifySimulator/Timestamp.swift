import Foundation

/// Shopify's timestamp formats, written by hand: the simulator stamps every order, level change and webhook,
/// and Foundation's Calendar and ISO8601DateFormatter (a new ICU formatter per call) stalled busy drops.
public enum Timestamp {
    /// REST format in the shop's time zone, whole seconds: `2026-05-15T10:20:30-04:00`.
    static func rest(_ date: Date, utcOffsetMinutes: Int) -> String {
        let local = Int64((date.timeIntervalSince1970).rounded(.down)) + Int64(utcOffsetMinutes) * 60
        let sign = utcOffsetMinutes < 0 ? "-" : "+"
        let offset = abs(utcOffsetMinutes)
        return civil(seconds: local) + sign + pad(offset / 60, 2) + ":" + pad(offset % 60, 2)
    }

    /// UTC with fractional seconds (milliseconds) and `Z`, as in `X-Shopify-Triggered-At` and the simulator's
    /// own logs: `2026-05-15T14:20:30.123Z`.
    public static func precise(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        return civil(seconds: seconds) + "." + pad(Int(millis - seconds * 1000), 3) + "Z"
    }

    /// The date of a ``precise(_:)`` stamp (`2026-05-15T14:20:30.123Z`), nil for any other text. Written by hand for
    /// the same reason: reports parse one per webhook, and ISO8601DateFormatter spent seconds of CPU on a run's.
    public static func parsePrecise(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58, b[19] == 46, b[23] == 90 else {
            return nil
        }
        func number(_ from: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for byte in b[from..<from + count] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard let y = number(0, 4), let m = number(5, 2), let d = number(8, 2), let hh = number(11, 2), let mm = number(14, 2),
            let ss = number(17, 2), let ms = number(20, 3), (1...12).contains(m), (1...31).contains(d), hh < 24, mm < 60, ss < 61
        else { return nil }
        // Howard Hinnant's days-from-civil, the inverse of `civil(seconds:)`.
        let year = m <= 2 ? y - 1 : y
        let era = (year >= 0 ? year : year - 399) / 400
        let yoe = year - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let millis = ((days * 86_400 + hh * 3_600 + mm * 60 + ss) * 1_000) + ms
        return Date(timeIntervalSince1970: Double(millis) / 1_000)
    }

    /// `YYYY-MM-DDTHH:MM:SS` of seconds since 1970 (proleptic Gregorian; Howard Hinnant's days-to-civil).
    static func civil(seconds: Int64) -> String {
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return pad(Int(year), 4) + "-" + pad(Int(month), 2) + "-" + pad(Int(day), 2) + "T" + pad(Int(rest / 3600), 2) + ":"
            + pad(Int(rest % 3600 / 60), 2) + ":" + pad(Int(rest % 60), 2)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
