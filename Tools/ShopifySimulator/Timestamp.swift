import Foundation

/// Shopify's timestamp formats.
enum Timestamp {
    /// REST format in the shop's time zone, whole seconds: `2026-05-15T10:20:30-04:00`.
    static func rest(_ date: Date, utcOffsetMinutes: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: utcOffsetMinutes * 60) ?? TimeZone(secondsFromGMT: 0)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let sign = utcOffsetMinutes < 0 ? "-" : "+"
        let offset = abs(utcOffsetMinutes)
        let date = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
        return date + sign + String(format: "%02d:%02d", offset / 60, offset % 60)
    }

    /// UTC with fractional seconds and `Z`, as in `X-Shopify-Triggered-At` and the simulator's own logs.
    static func precise(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
