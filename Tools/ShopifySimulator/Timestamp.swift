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
