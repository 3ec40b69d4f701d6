#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The wall clock that stamps journal entries with their commit time (`ts`).
///
/// Injected so that tests can pin time; latencies never come from it (they come from a monotonic
/// clock in the run orchestrator).
public struct JournalClock: Sendable {
    /// Returns microseconds since the Unix epoch.
    public let microsecondsSinceEpoch: @Sendable () -> Int64

    /// A clock reading `microsecondsSinceEpoch`.
    public init(microsecondsSinceEpoch: @escaping @Sendable () -> Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    /// The system's real-time clock.
    public static let system = JournalClock {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
    }

    /// Formats `micros` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC (27 ASCII bytes).
    public static func timestamp(microseconds micros: Int64) -> [UInt8] {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = Int(micros - seconds * 1_000_000)
        var days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian calendar.
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        var out = [UInt8]()
        out.reserveCapacity(27)
        func put(_ value: Int, width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        put(year, width: 4); out.append(UInt8(ascii: "-"))
        put(month, width: 2); out.append(UInt8(ascii: "-"))
        put(day, width: 2); out.append(UInt8(ascii: "T"))
        put(secondOfDay / 3_600, width: 2); out.append(UInt8(ascii: ":"))
        put(secondOfDay / 60 % 60, width: 2); out.append(UInt8(ascii: ":"))
        put(secondOfDay % 60, width: 2); out.append(UInt8(ascii: "."))
        put(fraction, width: 6); out.append(UInt8(ascii: "Z"))
        return out
    }
}

/// Formats commit timestamps, reusing the date-and-seconds part while the second is unchanged
/// (the writer stamps thousands of entries per second).
struct TimestampFormatter {
    private var second: Int64 = .min
    private var buffer: [UInt8] = []

    mutating func format(microseconds micros: Int64) -> [UInt8] {
        let second = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        if second != self.second {
            buffer = JournalClock.timestamp(microseconds: micros)
            self.second = second
            return buffer
        }
        var fraction = Int(micros - second * 1_000_000)
        for index in stride(from: 25, through: 20, by: -1) {
            buffer[index] = UInt8(ascii: "0") + UInt8(fraction % 10)
            fraction /= 10
        }
        return buffer
    }
}
